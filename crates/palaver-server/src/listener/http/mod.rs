//! The HTTP listener (axum on hyper, on the server's tokio runtime): the web client, the
//! protocols over WebSocket, and the operator's endpoints.
//!
//! - `/` and the client's files: the web client, embedded in the binary (`web.rs`).
//! - `/ws`: the native protocol over WebSocket, or IRC when the client asks for the IRCv3
//!   subprotocol (`ws.rs`). A WebSocket whose `Origin` is not allowed is refused; connection
//!   limits count it like any other connection.
//! - `/healthz` (the process answers), `/readyz` (the store answers), `/metrics` (Prometheus).
//! - `/uploads/...` and `/files/...`: files sent with messages, by signed link (`files.rs`).
//!
//! Every response carries the security headers (`web.rs`).

pub mod files;
pub mod tls;
pub mod web;
pub mod ws;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::connect_info::Connected;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::IncomingStream;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::{connection, irc, ListenerContext};
use crate::store::ReadPool;
use ws::WsProtocol;

/// What the HTTP handlers share.
pub struct HttpState {
    pub ctx: Arc<ListenerContext>,
    /// Origins allowed to open a WebSocket besides the page's own (`*`: any).
    pub allowed_origins: Vec<String>,
    /// Read connections, for `/readyz`.
    pub reads: ReadPool,
    /// Held by every WebSocket connection, so that shutdown can wait for them.
    pub alive: mpsc::Sender<()>,
    /// The store writer's queue, for its depth in `/metrics` (weak: it must not keep the
    /// writer from finishing at shutdown).
    pub store: mpsc::WeakSender<crate::store::WriteOp>,
    /// Files: uploads and downloads (`files.rs`), when the server takes them.
    pub files: Option<Arc<crate::files::Files>>,
}

/// The routes.
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/ws", get(upgrade))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route(
            "/uploads/{token}",
            axum::routing::put(files::upload).post(files::upload),
        )
        .route("/files/{id}/{name}", get(files::download))
        .merge(web::routes())
        .layer(axum::middleware::from_fn(web::security_headers))
        .with_state(state)
}

/// The peer's address, for handlers (connection limits, logs).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, tls::TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, tls::TlsListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// Serves HTTP (or, with a [`tls::TlsListener`], HTTPS) on `listener` until `stop` turns true.
pub async fn serve<L>(listener: L, state: Arc<HttpState>, mut stop: watch::Receiver<bool>)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    Peer: for<'a> Connected<IncomingStream<'a, L>>,
{
    let app = router(state).into_make_service_with_connect_info::<Peer>();
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::error!(error = %e, "the HTTP listener failed");
    }
}

/// `/metrics`: Prometheus' text format (OpenMetrics), with the queue depths read now.
async fn metrics(State(state): State<Arc<HttpState>>) -> Response {
    let m = &state.ctx.metrics;
    let hub = &state.ctx.hub;
    m.hub_queue
        .set((hub.max_capacity() - hub.capacity()) as i64);
    if let Some(store) = state.store.upgrade() {
        m.store_queue
            .set((store.max_capacity() - store.capacity()) as i64);
    }
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], m.encode()).into_response()
}

async fn ready(State(state): State<Arc<HttpState>>) -> Response {
    let reads = state.reads.clone();
    let answer = tokio::task::spawn_blocking(move || reads.read(|db| db.check())).await;
    match answer {
        Ok(Ok(())) => "ready\n".into_response(),
        other => {
            tracing::warn!(?other, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the store does not answer\n",
            )
                .into_response()
        }
    }
}

/// `/ws`: checks the origin and the connection limits, then hands the upgraded socket to the
/// protocol's connection loop.
async fn upgrade(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if let Err(origin) = origin_allowed(&headers, &state.allowed_origins) {
        tracing::warn!(%peer, %origin, "WebSocket from an origin that is not allowed");
        let sentence = format!("WebSocket connections from {origin} are not allowed here.\n");
        return (StatusCode::FORBIDDEN, sentence).into_response();
    }
    let permit = match state.ctx.limiter.try_acquire(peer.ip()) {
        Ok(permit) => permit,
        Err(refusal) => {
            tracing::warn!(%peer, ?refusal, "connection refused");
            return (StatusCode::SERVICE_UNAVAILABLE, refusal.sentence()).into_response();
        }
    };
    let ctx = Arc::clone(&state.ctx);
    // IRC lines are at most 8191 + 512 bytes; native lines at most the frame limit. Messages a
    // little over are refused by the loop as on TCP; far over, the socket is dropped.
    let upgrade = upgrade
        .protocols([WsProtocol::IRC_TEXT, WsProtocol::IRC_BINARY])
        .read_buffer_size(1024)
        .write_buffer_size(16 * 1024)
        .max_message_size(ctx.max_frame_bytes.max(16 * 1024) * 4)
        .max_frame_size(ctx.max_frame_bytes.max(16 * 1024) * 4);
    let protocol = WsProtocol::selected(upgrade.selected_protocol().and_then(|p| p.to_str().ok()));
    let alive = state.alive.clone();
    upgrade.on_upgrade(move |socket| async move {
        let session = ctx.next_session.fetch_add(1, Ordering::Relaxed);
        match protocol {
            WsProtocol::Native => {
                let (lines, sink) = ws::split(socket, protocol, ctx.max_frame_bytes);
                connection::serve(lines, sink, peer, session, ctx, "websocket").await;
            }
            WsProtocol::IrcText | WsProtocol::IrcBinary => {
                let limit = irc::connection::line_decoder().max_line_bytes();
                let (lines, sink) = ws::split(socket, protocol, limit);
                irc::connection::serve(lines, sink, peer, session, ctx, "websocket").await;
            }
        }
        drop(permit);
        drop(alive);
    })
}

/// Whether a WebSocket from this `Origin` may connect: no `Origin` (not a browser), the page's
/// own origin (the same host as the request's `Host`), or one of `allowed` (`*`: any). Else the
/// origin, for the refusal.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> Result<(), String> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/') == origin)
    {
        return Ok(());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    if !host.is_empty() && origin_host == Some(host) {
        return Ok(());
    }
    Err(origin.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn only_the_pages_own_origin_or_listed_ones_may_open_a_websocket() {
        let none: Vec<String> = Vec::new();
        assert!(origin_allowed(&headers(None, "chat.example.org"), &none).is_ok());
        let own = headers(Some("https://chat.example.org"), "chat.example.org");
        assert!(origin_allowed(&own, &none).is_ok());
        let other = headers(Some("https://evil.example"), "chat.example.org");
        assert_eq!(
            origin_allowed(&other, &none),
            Err("https://evil.example".into())
        );
        let listed = vec!["https://evil.example".to_string()];
        assert!(origin_allowed(&other, &listed).is_ok());
        assert!(origin_allowed(&other, &["*".to_string()]).is_ok());
        let other_port = headers(
            Some("http://chat.example.org:9999"),
            "chat.example.org:8080",
        );
        assert!(origin_allowed(&other_port, &none).is_err());
    }
}
