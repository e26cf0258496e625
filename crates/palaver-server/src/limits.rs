//! Limits that keep one client from hurting the others: a token bucket per connection for
//! rate limiting, a counter of connections in total and per IP address, and a token bucket per
//! IP address for new connections (a connection flood from one address is refused at accept,
//! before it costs a task).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A token bucket: `burst` frames at once, refilled at `rate` frames per second.
/// A rate of zero or less means no limit.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64, burst: u32) -> Self {
        let capacity = f64::from(burst.max(1));
        TokenBucket {
            rate,
            capacity,
            tokens: capacity,
            last: Instant::now(),
        }
    }

    /// True when the bucket has refilled completely (it can be forgotten).
    pub fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + elapsed * self.rate >= self.capacity
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if self.rate <= 0.0 || !self.rate.is_finite() {
            return true;
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total(usize),
    PerIp(usize),
    /// Too many new connections from one address in the last minute.
    TooFast(u32),
}

impl Refusal {
    pub fn sentence(self) -> String {
        match self {
            Refusal::Total(n) => format!("The server is full ({n} connections); try again later."),
            Refusal::PerIp(n) => {
                format!("Too many connections from your address (at most {n}); close one first.")
            }
            Refusal::TooFast(n) => format!(
                "Too many new connections from your address (at most {n} a minute); wait a little."
            ),
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    /// New connections per address, for the per-minute limit.
    arrivals: HashMap<IpAddr, TokenBucket>,
}

/// Forget addresses whose arrival bucket is full once this many are tracked.
const ARRIVALS_SWEEP_AT: usize = 4096;

/// Counts open connections; a [`ConnectionPermit`] gives its slot back when dropped.
#[derive(Debug)]
pub struct ConnectionLimiter {
    max_total: usize,
    max_per_ip: usize,
    /// New connections per minute per address; 0 = no limit.
    new_per_minute: u32,
    counts: Mutex<Counts>,
}

impl ConnectionLimiter {
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Self::with_arrival_limit(max_total, max_per_ip, 0)
    }

    /// Also refuses an address's new connections beyond `new_per_minute` a minute (as a
    /// burst of that many, refilled evenly over the minute).
    pub fn with_arrival_limit(
        max_total: usize,
        max_per_ip: usize,
        new_per_minute: u32,
    ) -> Arc<Self> {
        Arc::new(ConnectionLimiter {
            max_total,
            max_per_ip,
            new_per_minute,
            counts: Mutex::new(Counts::default()),
        })
    }

    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionPermit, Refusal> {
        let mut counts = self.counts.lock().expect("limiter lock");
        if counts.total >= self.max_total {
            return Err(Refusal::Total(self.max_total));
        }
        if self.new_per_minute > 0 {
            let now = Instant::now();
            if counts.arrivals.len() >= ARRIVALS_SWEEP_AT {
                counts.arrivals.retain(|_, bucket| !bucket.is_full(now));
            }
            let rate = f64::from(self.new_per_minute) / 60.0;
            let bucket = counts
                .arrivals
                .entry(ip)
                .or_insert_with(|| TokenBucket::new(rate, self.new_per_minute));
            if !bucket.try_take(now) {
                return Err(Refusal::TooFast(self.new_per_minute));
            }
        }
        let from_ip = counts.per_ip.entry(ip).or_insert(0);
        if *from_ip >= self.max_per_ip {
            return Err(Refusal::PerIp(self.max_per_ip));
        }
        *from_ip += 1;
        counts.total += 1;
        Ok(ConnectionPermit {
            limiter: Arc::clone(self),
            ip,
        })
    }

    pub fn open_connections(&self) -> usize {
        self.counts.lock().expect("limiter lock").total
    }
}

/// One open connection's slot.
#[derive(Debug)]
pub struct ConnectionPermit {
    limiter: Arc<ConnectionLimiter>,
    ip: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut counts = self.limiter.counts.lock().expect("limiter lock");
        counts.total -= 1;
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(5.0, 10);
        assert_eq!((0..20).filter(|_| bucket.try_take(start)).count(), 10);
        assert!(!bucket.try_take(start));
        assert!(bucket.try_take(start + Duration::from_millis(200)));
        assert!(!bucket.try_take(start + Duration::from_millis(200)));
        let later = start + Duration::from_secs(100);
        assert_eq!((0..20).filter(|_| bucket.try_take(later)).count(), 10);
    }

    #[test]
    fn zero_rate_means_unlimited() {
        let mut bucket = TokenBucket::new(0.0, 1);
        assert!((0..10_000).all(|_| bucket.try_take(Instant::now())));
    }

    #[test]
    fn limiter_counts_per_ip_and_in_total_and_releases() {
        let limiter = ConnectionLimiter::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let p1 = limiter.try_acquire(a).unwrap();
        let _p2 = limiter.try_acquire(a).unwrap();
        assert_eq!(limiter.try_acquire(a).unwrap_err(), Refusal::PerIp(2));
        let _p3 = limiter.try_acquire(b).unwrap();
        assert_eq!(limiter.try_acquire(b).unwrap_err(), Refusal::Total(3));
        drop(p1);
        let _p4 = limiter.try_acquire(a).unwrap();
        assert_eq!(limiter.open_connections(), 3);
    }

    #[test]
    fn arrivals_per_address_are_limited_per_minute() {
        let limiter = ConnectionLimiter::with_arrival_limit(100, 100, 5);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        // Five new connections (closed at once) are fine; the sixth within the minute is not.
        for _ in 0..5 {
            drop(limiter.try_acquire(a).unwrap());
        }
        assert_eq!(limiter.try_acquire(a).unwrap_err(), Refusal::TooFast(5));
        assert!(
            limiter.try_acquire(b).is_ok(),
            "other addresses are not affected"
        );
    }
}
