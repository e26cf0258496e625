//! Is the peer still there? A connection that has been silent for one interval is pinged; one
//! that stays silent for a second interval (no answer, nothing else either) is gone: a laptop
//! that closed its lid, a phone that changed networks, a half-open TCP connection that would
//! otherwise hold its name forever. Both listeners use this: native connections with a `ping`
//! frame (answered by `pong`), IRC with `PING`.

use std::time::Duration;

use tokio::time::Instant;

/// What to do when [`Liveness::deadline`] passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Ask: send a ping.
    Ping,
    /// Already asked and nothing came back: close the connection.
    Silent,
}

#[derive(Debug)]
pub struct Liveness {
    interval: Duration,
    last_heard: Instant,
    ping_sent: bool,
}

impl Liveness {
    pub fn new(interval: Duration) -> Self {
        Liveness {
            interval,
            last_heard: Instant::now(),
            ping_sent: false,
        }
    }

    /// Something arrived from the peer.
    pub fn heard(&mut self) {
        self.last_heard = Instant::now();
        self.ping_sent = false;
    }

    /// When to act next.
    pub fn deadline(&self) -> Instant {
        self.last_heard + self.interval * if self.ping_sent { 2 } else { 1 }
    }

    /// The deadline passed: ping first, give up the second time.
    pub fn due(&mut self) -> Due {
        if self.ping_sent {
            Due::Silent
        } else {
            self.ping_sent = true;
            Due::Ping
        }
    }

    /// How long a connection may be silent before it is closed.
    pub fn limit(&self) -> Duration {
        self.interval * 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_after_one_interval_and_gives_up_after_two() {
        let minute = Duration::from_secs(60);
        let mut live = Liveness::new(minute);
        let first = live.deadline();
        assert!(first <= Instant::now() + minute);
        assert_eq!(live.due(), Due::Ping);
        assert_eq!(
            live.deadline(),
            first + minute,
            "a second interval to answer"
        );
        assert_eq!(live.due(), Due::Silent);
        // An answer starts over.
        live.heard();
        assert!(live.deadline() >= first);
        assert_eq!(live.due(), Due::Ping);
        assert_eq!(live.limit(), 2 * minute);
    }
}
