//! Ways in. Each listener is a thin adapter: it turns bytes into hub requests and queued hub
//! frames into bytes, and nothing else. Today: newline-delimited JSON over TCP. IRC and
//! WebSocket listeners will sit beside it and talk to the same hub.
//!
//! - [`accept`]: the accept loop, connection limits, refusal of connections over the limit.
//! - [`connection`]: one connection's reader (codec, rate limit, join timeout) and writer (drains
//!   the bounded queue; aborts on a slow consumer).

pub mod accept;
pub mod connection;

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
}
