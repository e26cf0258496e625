//! The name registry of a cluster, in Redis (`--redis`): who holds which name, across nodes.
//!
//! A name is a key `palaver:{names}:name:<folded>` whose value says who holds it (`node|session|
//! session key|name as shown`). Look-alike keys (`...:look:<folded>`) point at the name that
//! claimed them. Names carry no lease of their own: each *node* holds one,
//! `...:node:<number>`, set with `PX` (30 s) and renewed every 10 s, and a name counts as held
//! only while its node's lease stands. So the names of a node that dies come free within a lease,
//! and renewing costs one command per node, not one per name. Each node also lists its names
//! (`...:held:<number>`, name -> its look-alike keys) so that a dead node's leftovers can be
//! swept (`SWEEP`, every minute by every node; harmless when several do it).
//!
//! Claiming, releasing and sweeping are Lua scripts, so each is one atomic step in Redis
//! whatever the other nodes do: of any number of nodes racing for a name, one wins. Every key
//! shares the hash tag `{names}`, so on a Redis Cluster the scripts run on one shard. The answer
//! comes back to the hub later (`HubMsg::NameClaimed`); a Redis that cannot be reached answers
//! `Unavailable`, which the client sees as `server_busy`.
//!
//! When the node's lease was found missing at a renewal (Redis restarted empty, or this node
//! could not reach it for a whole lease), the node claims its names again; one that someone else
//! took meanwhile is logged (its holder here keeps the connection, under a name now held twice
//! until one of them leaves: the rare price of a partition longer than a lease).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Script;
use tokio::sync::mpsc;

use super::names::{ClaimAnswer, ClaimRefusal, Holder, NameClaim, NameRegistry, NodeId};
use super::redis_link::RedisConn;
use crate::runtime::HubMsg;

/// How soon a renewal that failed is tried again.
const RETRY_RENEWAL: Duration = Duration::from_millis(250);

const PREFIX: &str = "palaver:{names}:";

// KEYS: the name's key, then its look-alikes' keys.
// ARGV: value, folded name, holder (node|session), session key (hex), node, lease (ms),
//       look-alike keys joined by spaces.
const CLAIM: &str = r"
local prefix = 'palaver:{names}:'
local function alive(node) return redis.call('EXISTS', prefix .. 'node:' .. node) == 1 end
redis.call('SET', prefix .. 'node:' .. ARGV[5], '1', 'PX', ARGV[6])
local held = redis.call('GET', KEYS[1])
local replaces = ''
if held then
  local hnode, hsess, hkey = string.match(held, '^(%d+)|(%d+)|(%x*)|')
  if (hnode .. '|' .. hsess) == ARGV[3] then
  elseif hkey == ARGV[4] then
    replaces = hnode .. '|' .. hsess
  elseif alive(hnode) then
    return {'taken', ''}
  end
  if hnode ~= ARGV[5] then redis.call('HDEL', prefix .. 'held:' .. hnode, ARGV[2]) end
end
for i = 2, #KEYS do
  local owner = redis.call('GET', KEYS[i])
  if owner and owner ~= ARGV[2] then
    local other = redis.call('GET', prefix .. 'name:' .. owner)
    if other then
      local onode, osess, okey, oname = string.match(other, '^(%d+)|(%d+)|(%x*)|(.*)$')
      if (onode .. '|' .. osess) ~= ARGV[3] and alive(onode) then
        return {'looks_like', oname}
      end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1])
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[2])
end
redis.call('HSET', prefix .. 'held:' .. ARGV[5], ARGV[2], ARGV[7])
redis.call('SADD', prefix .. 'nodes', ARGV[5])
return {'granted', replaces}
";

// KEYS: the name's key, then its look-alikes' keys. ARGV: holder, folded name, node.
const RELEASE: &str = r"
local held = redis.call('GET', KEYS[1])
if not held then return 0 end
local hnode, hsess = string.match(held, '^(%d+)|(%d+)|')
if (hnode .. '|' .. hsess) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[2] then redis.call('DEL', KEYS[i]) end
end
redis.call('HDEL', 'palaver:{names}:held:' .. ARGV[3], ARGV[2])
return 1
";

// Deletes the names (and look-alikes) of nodes whose lease is gone. KEYS: the list of nodes.
const SWEEP: &str = r"
local prefix = 'palaver:{names}:'
local swept = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', prefix .. 'node:' .. node) == 0 then
    local held = redis.call('HGETALL', prefix .. 'held:' .. node)
    for i = 1, #held, 2 do
      local name, looks = held[i], held[i + 1]
      local value = redis.call('GET', prefix .. 'name:' .. name)
      if value and string.match(value, '^(%d+)|') == node then
        redis.call('DEL', prefix .. 'name:' .. name)
        for look in string.gmatch(looks, '%S+') do
          if redis.call('GET', look) == name then redis.call('DEL', look) end
        end
        swept = swept + 1
      end
    end
    redis.call('DEL', prefix .. 'held:' .. node)
    redis.call('SREM', KEYS[1], node)
  end
end
return swept
";

/// A name this node holds: the claim it was granted by (to claim it again) and its keys.
#[derive(Clone)]
struct HeldName {
    claim: NameClaim,
    keys: Vec<String>,
}

/// What this node holds, by folded name.
type Held = Arc<Mutex<HashMap<String, HeldName>>>;

pub struct RedisNames {
    redis: RedisConn,
    hub: mpsc::WeakSender<HubMsg>,
    node: NodeId,
    /// How long this node's names outlive its last renewal (`--redis-lease-secs`).
    lease: Duration,
    held: Held,
    renewal: tokio::task::JoinHandle<()>,
    /// Releases on their way.
    releases: Vec<tokio::task::JoinHandle<()>>,
}

fn holder_id(holder: Holder) -> String {
    format!("{}|{}", holder.node, holder.session)
}

fn name_key(key: &str) -> String {
    format!("{PREFIX}name:{key}")
}

/// The keys of a name: its own, then its look-alikes'.
fn keys_of(claim: &NameClaim) -> Vec<String> {
    std::iter::once(name_key(&claim.key))
        .chain(claim.lookalikes.iter().map(|k| format!("{PREFIX}look:{k}")))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the claim script for `claim` (this node's `node`).
async fn run_claim(
    redis: &mut RedisConn,
    claim: &NameClaim,
    node: NodeId,
    lease: Duration,
    keys: &[String],
) -> redis::RedisResult<ClaimAnswer> {
    let value = format!(
        "{}|{}|{}|{}",
        claim.holder.node,
        claim.holder.session,
        hex(&claim.session_key),
        claim.name
    );
    let script = Script::new(CLAIM);
    let mut call = script.prepare_invoke();
    for k in keys {
        call.key(k);
    }
    call.arg(value)
        .arg(&claim.key)
        .arg(holder_id(claim.holder))
        .arg(hex(&claim.session_key))
        .arg(node)
        .arg(lease.as_millis() as u64)
        .arg(keys[1..].join(" "));
    let (outcome, detail) = call.invoke_async::<(String, String)>(redis).await?;
    Ok(match outcome.as_str() {
        "granted" => {
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
    })
}

impl RedisNames {
    /// A registry on `redis` for node `node`, whose names outlive it by `lease`, answering the
    /// hub through `hub`; renews the node's lease (every third of it) until dropped.
    /// `renew_now` asks for a renewal at once (Redis came back: it may have lost everything).
    pub fn new(
        redis: RedisConn,
        node: NodeId,
        lease: Duration,
        hub: mpsc::WeakSender<HubMsg>,
        renew_now: Arc<tokio::sync::Notify>,
    ) -> Self {
        let held: Held = Arc::default();
        let renewal = tokio::spawn(renew(
            redis.clone(),
            node,
            lease,
            Arc::clone(&held),
            renew_now,
        ));
        RedisNames {
            redis,
            hub,
            node,
            lease,
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

/// Renews this node's lease every third of it and when asked; claims its names again when the
/// lease was gone; sweeps dead nodes' leftovers every two leases.
async fn renew(
    mut redis: RedisConn,
    node: NodeId,
    lease: Duration,
    held: Held,
    now: Arc<tokio::sync::Notify>,
) {
    let (renew_every, sweep_every) = (lease / 3, lease * 2);
    let node_key = format!("{PREFIX}node:{node}");
    let mut wait = Duration::ZERO;
    let mut last_sweep = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = now.notified() => {}
        }
        // `GET` gives the old value: none means the lease was gone, and with it (perhaps) the
        // names.
        let renewed: redis::RedisResult<Option<String>> = redis::cmd("SET")
            .arg(&node_key)
            .arg("1")
            .arg("PX")
            .arg(lease.as_millis() as u64)
            .arg("GET")
            .query_async(&mut redis)
            .await;
        let failed = match renewed {
            Ok(Some(_)) => false,
            Ok(None) => !claim_again(&mut redis, node, lease, &held).await,
            Err(e) => {
                tracing::warn!(error = %e, "could not renew this node's lease in Redis");
                true
            }
        };
        if !failed && last_sweep.elapsed() >= sweep_every {
            last_sweep = tokio::time::Instant::now();
            let swept = Script::new(SWEEP)
                .key(format!("{PREFIX}nodes"))
                .invoke_async::<i64>(&mut redis)
                .await;
            match swept {
                Ok(0) => {}
                Ok(n) => tracing::info!(names = n, "swept the names of nodes gone"),
                Err(e) => tracing::warn!(error = %e, "could not sweep the names of nodes gone"),
            }
        }
        // Redis away (or reconnecting): try again soon, well within the lease.
        wait = if failed { RETRY_RENEWAL } else { renew_every };
    }
}

/// Claims every name this node holds again (its lease was gone); false if Redis did not answer.
async fn claim_again(redis: &mut RedisConn, node: NodeId, lease: Duration, held: &Held) -> bool {
    let names: Vec<HeldName> = held.lock().expect("held").values().cloned().collect();
    for name in names {
        match run_claim(redis, &name.claim, node, lease, &name.keys).await {
            Ok(ClaimAnswer::Granted { .. }) => {}
            Ok(ClaimAnswer::Refused(refusal)) => {
                tracing::warn!(name = %name.claim.name, ?refusal, "a name this node holds was taken while its lease was gone");
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not claim this node's names again");
                return false;
            }
        }
    }
    true
}

impl NameRegistry for RedisNames {
    fn claim(&mut self, claim: &NameClaim) -> Option<ClaimAnswer> {
        let (mut redis, hub, held) = (self.redis.clone(), self.hub.clone(), Arc::clone(&self.held));
        let (claim, node, lease) = (claim.clone(), self.node, self.lease);
        tokio::spawn(async move {
            let keys = keys_of(&claim);
            let answer = match run_claim(&mut redis, &claim, node, lease, &keys).await {
                Ok(answer) => answer,
                Err(e) => {
                    tracing::warn!(error = %e, "Redis could not answer a name claim");
                    ClaimAnswer::Refused(ClaimRefusal::Unavailable)
                }
            };
            if matches!(answer, ClaimAnswer::Granted { .. }) {
                let name = HeldName {
                    claim: claim.clone(),
                    keys,
                };
                held.lock().expect("held").insert(claim.key.clone(), name);
            }
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
                Some(name) if name.claim.holder == holder => held.remove(key).map(|name| name.keys),
                _ => None,
            }
        };
        let Some(keys) = keys else {
            return;
        };
        let (mut redis, key, node) = (self.redis.clone(), key.to_string(), self.node);
        self.releases.retain(|r| !r.is_finished());
        let release = tokio::spawn(async move {
            let script = Script::new(RELEASE);
            let mut call = script.prepare_invoke();
            for k in &keys {
                call.key(k);
            }
            call.arg(holder_id(holder)).arg(&key).arg(node);
            // A name is held while its node lives: a release Redis did not take is tried
            // again (for two minutes), or the name would stay taken.
            let mut wait = RETRY_RENEWAL;
            let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
            while let Err(e) = call.invoke_async::<i64>(&mut redis).await {
                if tokio::time::Instant::now() >= give_up {
                    tracing::error!(error = %e, name = %key, "could not release a name in Redis");
                    return;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        });
        self.releases.push(release);
    }

    fn releasing(&mut self) -> Vec<tokio::task::JoinHandle<()>> {
        std::mem::take(&mut self.releases)
    }
}
