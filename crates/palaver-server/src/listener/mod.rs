//! Ways in. Each listener is a thin adapter: it turns bytes into hub requests and queued hub
//! frames into bytes, and nothing else: newline-delimited JSON over TCP, IRC, and both over
//! WebSocket on the HTTP listener, all through the same connection loops (`transport.rs`).
//!
//! - [`accept`]: the accept loop, connection limits, refusal of connections over the limit.
//! - [`connection`]: one connection's reader (codec, rate limit, join timeout) and writer (drains
//!   the bounded queue; aborts on a slow consumer).
//! - [`irc`]: the IRC listener (its own reader and translation; the same writer).
//! - [`http`]: the web client, `/ws` (native or IRC over WebSocket), health and readiness.
//! - [`transport`]: a connection's lines in and frames out, over a stream or a WebSocket.
//! - [`liveness`]: when to ping a silent peer, and when to give up on it (both listeners).

pub mod accept;
pub mod connection;
pub mod http;
pub mod irc;
pub mod liveness;
pub mod stream;
pub mod tls;
pub mod transport;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::limits::ConnectionLimiter;
use crate::runtime::HubMsg;

/// What every connection of a listener shares.
pub struct ListenerContext {
    pub hub: mpsc::Sender<HubMsg>,
    pub limiter: Arc<ConnectionLimiter>,
    pub next_session: AtomicU64,
    pub max_frame_bytes: usize,
    pub rate_per_second: f64,
    pub rate_burst: u32,
    pub flood_disconnect_after: u32,
    pub outbound_queue: usize,
    pub outbound_queue_bytes: usize,
    pub join_timeout: Duration,
    /// Native connections silent this long get a `ping`; as long again without a word closes
    /// them (`ping_timeout`).
    pub ping_interval: Duration,
    pub irc: IrcSettings,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// What the IRC listener's connections share.
pub struct IrcSettings {
    pub identity: Arc<irc::ServerIdentity>,
    /// Silence after which a PING is sent; as long again without an answer closes the link.
    pub ping_interval: Duration,
}

/// Which protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    Native,
    Irc,
}
