//! The name registry of a cluster, in Redis (`--redis`): who holds which name, across nodes.
//!
//! A name is a key `palaver:{names}:name:<folded>` whose value says who holds it (`node|session|session
//! key|name as shown`), set with a lease (`PX`, 30 s): the node renews the leases of its names
//! every 10 s, so the names of a node that dies come free within a lease. Look-alike keys point
//! at the name that claimed them. Claiming and releasing are Lua scripts, so each is one atomic
//! step in Redis whatever the other nodes do: of any number of nodes racing for a name, one
//! wins. The answer comes back to the hub later (`HubMsg::NameClaimed`); a Redis that cannot be
//! reached answers `Unavailable`, which the client sees as `server_busy`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::redis_link::RedisConn;
use redis::Script;
use tokio::sync::mpsc;

use super::names::{ClaimAnswer, ClaimRefusal, Holder, NameClaim, NameRegistry, NodeId};
use crate::runtime::HubMsg;

/// How long a name outlives its node's last renewal.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a node renews its names' leases.
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// How soon a renewal that failed is tried again.
const RETRY_RENEWAL: Duration = Duration::from_millis(250);

const CLAIM: &str = r"
local held = redis.call('GET', KEYS[1])
local replaces = ''
if held then
  local hnode, hsess, hkey = string.match(held, '^(%d+)|(%d+)|(%x*)|')
  if (hnode .. '|' .. hsess) == ARGV[4] then
  elseif hkey == ARGV[5] then
    replaces = hnode .. '|' .. hsess
  else
    return {'taken', ''}
  end
end
for i = 2, #KEYS do
  local owner = redis.call('GET', KEYS[i])
  if owner and owner ~= ARGV[3] then
    local other = redis.call('GET', 'palaver:{names}:name:' .. owner)
    if other then
      local onode, osess, okey, oname = string.match(other, '^(%d+)|(%d+)|(%x*)|(.*)$')
      if (onode .. '|' .. osess) ~= ARGV[4] then
        return {'looks_like', oname}
      end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[3], 'PX', ARGV[2])
end
return {'granted', replaces}
";

const RELEASE: &str = r"
local held = redis.call('GET', KEYS[1])
if not held then return 0 end
local hnode, hsess = string.match(held, '^(%d+)|(%d+)|')
if (hnode .. '|' .. hsess) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2] then redis.call('DEL', KEYS[i]) end
end
return 1
";

// Renews a name's lease; a name Redis lost (it restarted) is set again, since this node
// still holds it. Look-alike keys are renewed or set again only where no other name has them.
const RENEW: &str = r"
local held = redis.call('GET', KEYS[1])
if held then
  local hnode, hsess = string.match(held, '^(%d+)|(%d+)|')
  if (hnode .. '|' .. hsess) ~= ARGV[1] then return 0 end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
end
for i = 2, #KEYS do
  local owner = redis.call('GET', KEYS[i])
  if not owner then
    redis.call('SET', KEYS[i], ARGV[4], 'PX', ARGV[2])
  elseif owner == ARGV[4] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  end
end
return 1
";

/// A name this node holds: who, its keys (to renew and release), and the value it was set to.
#[derive(Clone)]
struct HeldName {
    holder: Holder,
    keys: Vec<String>,
    value: String,
}

/// What this node holds, by folded name.
type Held = Arc<Mutex<HashMap<String, HeldName>>>;

pub struct RedisNames {
    redis: RedisConn,
    hub: mpsc::WeakSender<HubMsg>,
    held: Held,
    renewal: tokio::task::JoinHandle<()>,
    /// Releases on their way.
    releases: Vec<tokio::task::JoinHandle<()>>,
}

fn holder_id(holder: Holder) -> String {
    format!("{}|{}", holder.node, holder.session)
}

/// Every name key shares the hash tag `{names}`: on a Redis Cluster they live on one shard, so
/// a claim's script (a name and its look-alikes) touches one shard.
fn name_key(key: &str) -> String {
    format!("palaver:{{names}}:name:{key}")
}

/// The keys of a name: its own, then its look-alikes'.
fn keys_of(claim: &NameClaim) -> Vec<String> {
    std::iter::once(name_key(&claim.key))
        .chain(
            claim
                .lookalikes
                .iter()
                .map(|k| format!("palaver:{{names}}:look:{k}")),
        )
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl RedisNames {
    /// A registry on `redis`, answering the hub through `hub`; renews its names' leases until
    /// dropped.
    /// `renew_now` asks for every lease to be renewed at once (Redis came back: it may have
    /// lost them).
    pub fn new(
        redis: RedisConn,
        hub: mpsc::WeakSender<HubMsg>,
        renew_now: Arc<tokio::sync::Notify>,
    ) -> Self {
        let held: Held = Arc::default();
        let renewal = tokio::spawn(renew(redis.clone(), Arc::clone(&held), renew_now));
        RedisNames {
            redis,
            hub,
            held,
            renewal,
            releases: Vec::new(),
        }
    }
}

impl Drop for RedisNames {
    fn drop(&mut self) {
        self.renewal.abort();
    }
}

/// Renews the leases of every name this node holds, every [`RENEW_EVERY`] and when asked.
async fn renew(mut redis: RedisConn, held: Held, now: Arc<tokio::sync::Notify>) {
    let script = Script::new(RENEW);
    let lease = LEASE.as_millis() as u64;
    let mut wait = RENEW_EVERY;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = now.notified() => {}
        }
        let names: Vec<(String, HeldName)> = held
            .lock()
            .expect("held")
            .iter()
            .map(|(k, h)| (k.clone(), h.clone()))
            .collect();
        let mut failed = false;
        for (key, name) in names {
            let mut call = script.prepare_invoke();
            for k in &name.keys {
                call.key(k);
            }
            call.arg(holder_id(name.holder))
                .arg(lease)
                .arg(&name.value)
                .arg(&key);
            if let Err(e) = call.invoke_async::<i64>(&mut redis).await {
                tracing::warn!(error = %e, "could not renew a name's lease in Redis");
                failed = true;
            }
        }
        // Redis away (or reconnecting): try again soon, well within the lease.
        wait = if failed { RETRY_RENEWAL } else { RENEW_EVERY };
    }
}

impl NameRegistry for RedisNames {
    fn claim(&mut self, claim: &NameClaim) -> Option<ClaimAnswer> {
        let (mut redis, hub, held) = (self.redis.clone(), self.hub.clone(), Arc::clone(&self.held));
        let claim = claim.clone();
        tokio::spawn(async move {
            let keys = keys_of(&claim);
            let value = format!(
                "{}|{}|{}|{}",
                claim.holder.node,
                claim.holder.session,
                hex(&claim.session_key),
                claim.name
            );
            let script = Script::new(CLAIM);
            let mut call = script.prepare_invoke();
            for k in &keys {
                call.key(k);
            }
            call.arg(&value)
                .arg(LEASE.as_millis() as u64)
                .arg(&claim.key)
                .arg(holder_id(claim.holder))
                .arg(hex(&claim.session_key));
            let answer = match call.invoke_async::<(String, String)>(&mut redis).await {
                Ok((outcome, detail)) => match outcome.as_str() {
                    "granted" => {
                        let name = HeldName {
                            holder: claim.holder,
                            keys,
                            value,
                        };
                        held.lock().expect("held").insert(claim.key.clone(), name);
                        let replaces = detail.split_once('|').and_then(|(node, session)| {
                            Some(Holder {
                                node: node.parse::<NodeId>().ok()?,
                                session: session.parse().ok()?,
                            })
                        });
                        ClaimAnswer::Granted { replaces }
                    }
                    "looks_like" => ClaimAnswer::Refused(ClaimRefusal::LooksLike { other: detail }),
                    _ => ClaimAnswer::Refused(ClaimRefusal::Taken),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "Redis could not answer a name claim");
                    ClaimAnswer::Refused(ClaimRefusal::Unavailable)
                }
            };
            if let Some(hub) = hub.upgrade() {
                let _ = hub.send(HubMsg::NameClaimed { claim, answer }).await;
            }
        });
        None
    }

    fn release(&mut self, key: &str, holder: Holder) {
        let keys = {
            let mut held = self.held.lock().expect("held");
            match held.get(key) {
                Some(name) if name.holder == holder => held.remove(key).map(|name| name.keys),
                _ => None,
            }
        };
        let Some(keys) = keys else {
            return;
        };
        let (mut redis, key) = (self.redis.clone(), key.to_string());
        self.releases.retain(|r| !r.is_finished());
        let release = tokio::spawn(async move {
            let script = Script::new(RELEASE);
            let mut call = script.prepare_invoke();
            for k in &keys {
                call.key(k);
            }
            call.arg(holder_id(holder)).arg(&key);
            if let Err(e) = call.invoke_async::<i64>(&mut redis).await {
                tracing::warn!(error = %e, "could not release a name in Redis (its lease ends it)");
            }
        });
        self.releases.push(release);
    }

    fn releasing(&mut self) -> Vec<tokio::task::JoinHandle<()>> {
        std::mem::take(&mut self.releases)
    }
}
