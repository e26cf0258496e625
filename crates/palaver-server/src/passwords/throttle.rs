//! How often anyone may try a password: per account, per address and per connection.
//!
//! Every `login`, `authenticate`, `register` and `change_password` takes one token from each
//! bucket that applies before any hashing is done. The address is checked first: an attempt the
//! address may not make never touches the account's bucket, so made-up names count against the
//! address that sent them and cannot be used to fill the table. IPv6 addresses count by their
//! /64 prefix (one host usually has the whole prefix).
//!
//! Memory stays bounded without ever forgetting a live throttle early. A bucket is forgotten only
//! once it has refilled completely (at most a minute after its last use), which is exactly when
//! forgetting it changes nothing. When the table holds `max_entries` buckets that are all still
//! live, a new attempt that would need a new entry is refused with `server_busy` instead of
//! evicting anyone: nothing an attacker sends can reset someone else's throttle.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use palaver_proto::ErrorCode;

use crate::hub::SessionId;
use crate::limits::TokenBucket;

/// The rates, each in attempts per minute (a burst of that many, refilled over the minute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleConfig {
    pub per_account: u32,
    pub per_address: u32,
    pub per_connection: u32,
    /// Buckets kept at most (each about a hundred bytes).
    pub max_entries: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            per_account: 3,
            per_address: 10,
            per_connection: 5,
            max_entries: 100_000,
        }
    }
}

/// Who is trying: the connection, where it comes from, and the account it names (if any).
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub session: SessionId,
    pub address: Option<IpAddr>,
    /// The folded account name tried (`login`, `change_password`); `None` for `register`.
    pub account: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    /// An IPv4 address, or the first 64 bits of an IPv6 one.
    Address(u128),
    Connection(SessionId),
}

fn address_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => u128::from(v6) & !u128::from(u64::MAX) | (1 << 32),
        },
    }
}

/// Sweeping a full table costs a pass over it: at most once a second.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct AttemptThrottle {
    config: ThrottleConfig,
    buckets: HashMap<Key, TokenBucket>,
    last_sweep: Option<Instant>,
}

impl AttemptThrottle {
    pub fn new(config: ThrottleConfig) -> Self {
        AttemptThrottle {
            config,
            buckets: HashMap::new(),
            last_sweep: None,
        }
    }

    /// Buckets held now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Takes one attempt, or says why not: `too_many_attempts` when a bucket is empty,
    /// `server_busy` when the table is full of live throttles.
    pub fn try_attempt(&mut self, attempt: Attempt<'_>, now: Instant) -> Result<(), ErrorCode> {
        let mut keys = Vec::with_capacity(3);
        if let Some(ip) = attempt.address {
            keys.push((Key::Address(address_key(ip)), self.config.per_address));
        }
        keys.push((Key::Connection(attempt.session), self.config.per_connection));
        if let Some(account) = attempt.account {
            keys.push((Key::Account(account.to_string()), self.config.per_account));
        }
        let new = keys
            .iter()
            .filter(|(k, _)| !self.buckets.contains_key(k))
            .count();
        if new > 0 && !self.make_room(new, now) {
            return Err(ErrorCode::ServerBusy);
        }
        // In order, stopping at the first refusal: an attempt refused for its address or its
        // connection costs the account nothing and creates no entry for it.
        for (key, per_minute) in keys {
            let bucket = self
                .buckets
                .entry(key)
                .or_insert_with(|| TokenBucket::new(f64::from(per_minute) / 60.0, per_minute));
            if !bucket.try_take(now) {
                return Err(ErrorCode::TooManyAttempts);
            }
        }
        Ok(())
    }

    /// Makes room for `new` entries by forgetting buckets that have refilled; false when the
    /// table stays too full (it never forgets a live one).
    fn make_room(&mut self, new: usize, now: Instant) -> bool {
        let max = self.config.max_entries.max(3);
        if self.buckets.len() + new <= max {
            return true;
        }
        let due = self
            .last_sweep
            .is_none_or(|last| now.saturating_duration_since(last) >= SWEEP_EVERY);
        if due {
            self.last_sweep = Some(now);
            self.buckets.retain(|_, bucket| !bucket.is_full(now));
            if self.buckets.capacity() > 4 * self.buckets.len().max(1024) {
                self.buckets.shrink_to_fit();
            }
        }
        self.buckets.len() + new <= max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn login<'a>(session: SessionId, address: Option<IpAddr>, account: &'a str) -> Attempt<'a> {
        Attempt {
            session,
            address,
            account: Some(account),
        }
    }

    #[test]
    fn three_a_minute_per_account_from_anywhere() {
        let mut t = AttemptThrottle::new(ThrottleConfig::default());
        let now = Instant::now();
        for i in 0..3 {
            assert_eq!(t.try_attempt(login(i, ip("10.0.0.1"), "zeta"), now), Ok(()));
        }
        assert_eq!(
            t.try_attempt(login(9, ip("10.0.0.2"), "zeta"), now),
            Err(ErrorCode::TooManyAttempts)
        );
        let later = now + Duration::from_secs(20);
        assert_eq!(
            t.try_attempt(login(10, ip("10.0.0.3"), "zeta"), later),
            Ok(()),
            "one more after a third of a minute"
        );
    }

    #[test]
    fn made_up_names_count_against_their_address_and_do_not_fill_the_table() {
        let mut t = AttemptThrottle::new(ThrottleConfig::default());
        let now = Instant::now();
        let attacker = ip("10.6.6.6");
        let refused = (0..10_000)
            .filter(|i| {
                t.try_attempt(login(*i, attacker, &format!("made-up-{i}")), now)
                    .is_err()
            })
            .count();
        assert_eq!(refused, 10_000 - 10, "ten a minute from one address");
        // One address, and a connection and an account for each attempt it was allowed.
        assert_eq!(t.len(), 1 + 10 + 10, "refused attempts made no entries");
        let accounts = t
            .buckets
            .keys()
            .filter(|k| matches!(k, Key::Account(_)))
            .count();
        assert_eq!(accounts, 10);
    }

    #[test]
    fn a_full_table_refuses_new_keys_instead_of_forgetting_live_ones() {
        let config = ThrottleConfig {
            max_entries: 50,
            ..ThrottleConfig::default()
        };
        let mut t = AttemptThrottle::new(config);
        let now = Instant::now();
        for i in 0..3 {
            t.try_attempt(login(i, ip("10.0.0.1"), "zeta"), now)
                .unwrap();
        }
        // Fill the table from many addresses.
        let mut busy = 0;
        for i in 0..1_000u32 {
            let address = Some(IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000 + i)));
            if t.try_attempt(login(100 + u64::from(i), address, &format!("x{i}")), now)
                == Err(ErrorCode::ServerBusy)
            {
                busy += 1;
            }
        }
        assert!(busy > 900, "{busy}");
        assert!(t.len() <= 50);
        assert_eq!(
            t.try_attempt(
                login(2, ip("10.0.0.1"), "zeta"),
                now + Duration::from_secs(2)
            ),
            Err(ErrorCode::TooManyAttempts),
            "zeta is still throttled"
        );
        // A minute on, everything has refilled and is forgotten on demand.
        let later = now + Duration::from_secs(61);
        assert_eq!(
            t.try_attempt(login(5_001, ip("10.0.0.9"), "zeta"), later),
            Ok(())
        );
        assert!(t.len() <= 3);
    }

    #[test]
    fn ipv6_counts_by_prefix_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            address_key("2001:db8::1".parse().unwrap()),
            address_key("2001:db8::ffff:2".parse().unwrap())
        );
        assert_ne!(
            address_key("2001:db8::1".parse().unwrap()),
            address_key("2001:db8:0:1::1".parse().unwrap())
        );
        assert_eq!(
            address_key("::ffff:10.0.0.1".parse().unwrap()),
            address_key("10.0.0.1".parse().unwrap())
        );
        assert_ne!(
            address_key("::a00:1".parse().unwrap()),
            address_key("10.0.0.1".parse().unwrap()),
            "an IPv6 prefix never equals an IPv4 address"
        );
    }

    #[test]
    fn each_connection_has_its_own_budget() {
        let config = ThrottleConfig {
            per_address: 1_000,
            ..ThrottleConfig::default()
        };
        let mut t = AttemptThrottle::new(config);
        let now = Instant::now();
        let register = |session| Attempt {
            session,
            address: ip("10.0.0.1"),
            account: None,
        };
        assert_eq!(
            (0..10)
                .filter(|_| t.try_attempt(register(1), now).is_ok())
                .count(),
            5
        );
        assert!(t.try_attempt(register(2), now).is_ok());
    }
}
