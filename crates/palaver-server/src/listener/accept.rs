//! The accept loop: take connections until shutdown, refuse those over the limits with an error
//! frame, and give each accepted one its own task.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use palaver_proto::{encode_frame, ErrorCode, LineDecoder, ServerFrame};

use tokio_rustls::TlsAcceptor;

use super::stream::{self, ReadSide, WriteSide};
use super::transport::StreamLines;
use super::{connection, irc, tls, ListenerContext, ListenerKind};
use crate::limits::ConnectionPermit;

/// Accepts connections until `stop` turns true. Each connection task holds a clone of
/// `alive`; when all are gone, the receiver side sees the channel close. Both listeners share
/// one context, so the connection limits count native and IRC connections together.
pub async fn accept_loop(
    listener: TcpListener,
    kind: ListenerKind,
    tls: Option<TlsAcceptor>,
    ctx: Arc<ListenerContext>,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    loop {
        tokio::select! {
            _ = async { let _ = stop.wait_for(|s| *s).await; } => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match ctx.limiter.try_acquire(peer.ip()) {
                    Ok(permit) => {
                        let session = ctx.next_session.fetch_add(1, Ordering::Relaxed);
                        let ctx = Arc::clone(&ctx);
                        let alive = alive.clone();
                        let _ = stream.set_nodelay(true);
                        let slot = Slot { permit, alive, session, peer, kind };
                        match &tls {
                            None => spawn_serve(stream::plain(stream), slot, ctx),
                            Some(acceptor) => {
                                // The handshake runs in a task of its own, which hands the
                                // connection on: the long-lived task stays small.
                                let acceptor = acceptor.clone();
                                tokio::spawn(async move {
                                    if let Some(sides) = handshake(stream, kind, &acceptor, ctx.join_timeout).await {
                                        spawn_serve(sides, slot, ctx);
                                    }
                                });
                            }
                        }
                    }
                    Err(refusal) => {
                        tracing::warn!(%peer, ?refusal, "connection refused");
                        tokio::spawn(refuse(stream, kind, refusal.sentence()));
                    }
                },
                Err(e) => {
                    // Typically out of file descriptors: wait a little instead of spinning.
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// What a connection holds for its whole life.
struct Slot {
    permit: ConnectionPermit,
    alive: mpsc::Sender<()>,
    session: u64,
    peer: std::net::SocketAddr,
    kind: ListenerKind,
}

/// One task type per protocol: a task that could hold either future would be as large as the
/// larger of the two for every connection.
fn spawn_serve(sides: (ReadSide, WriteSide), slot: Slot, ctx: Arc<ListenerContext>) {
    let Slot {
        permit,
        alive,
        session,
        peer,
        kind,
    } = slot;
    let (reader, writer) = sides;
    let transport = match reader {
        ReadSide::Plain(_) => "tcp",
        ReadSide::Tls(_) => "tls",
    };
    match kind {
        ListenerKind::Native => tokio::spawn(async move {
            let lines = StreamLines::new(reader, LineDecoder::new(ctx.max_frame_bytes));
            connection::serve(lines, writer, peer, session, ctx, transport).await;
            drop(permit);
            drop(alive);
        }),
        ListenerKind::Irc => tokio::spawn(async move {
            let lines = StreamLines::new(reader, irc::connection::line_decoder());
            irc::connection::serve(lines, writer, peer, session, ctx, transport).await;
            drop(permit);
            drop(alive);
        }),
    };
}

/// The TLS handshake, or a plain-text refusal for a client that is not speaking TLS.
async fn handshake(
    stream: TcpStream,
    kind: ListenerKind,
    acceptor: &TlsAcceptor,
    timeout: Duration,
) -> Option<(ReadSide, WriteSide)> {
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(timeout, stream.peek(&mut first)).await;
    match peeked {
        Ok(Ok(1)) if first[0] == tls::TLS_HANDSHAKE_BYTE => {}
        Ok(Ok(1)) => {
            tracing::info!("plain-text client on a TLS port");
            let sentence = match kind {
                ListenerKind::Native => "This port speaks TLS: connect with TLS (palaver --tls), or to the plain port.",
                ListenerKind::Irc => "This port speaks TLS: turn on TLS/SSL in your IRC client, or use the plain port.",
            };
            refuse_with(stream, kind, ErrorCode::TlsRequired, sentence.to_string()).await;
            return None;
        }
        _ => return None,
    }
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls_stream)) => Some(stream::tls(tls_stream)),
        Ok(Err(e)) => {
            tracing::info!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => None,
    }
}

async fn refuse(stream: TcpStream, kind: ListenerKind, sentence: String) {
    refuse_with(stream, kind, ErrorCode::TooManyConnections, sentence).await;
}

async fn refuse_with(mut stream: TcpStream, kind: ListenerKind, code: ErrorCode, sentence: String) {
    let frame = match kind {
        ListenerKind::Native => encode_frame(&ServerFrame::error_with(code, sentence)).to_vec(),
        ListenerKind::Irc => format!("ERROR :Closing link: {sentence}\r\n").into_bytes(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(&frame).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
