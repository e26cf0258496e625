//! The accept loop: take connections until shutdown, refuse those over the limits with an error
//! frame, and give each accepted one its own task.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use palaver_proto::{encode_frame, ErrorCode, ServerFrame};

use super::{connection, irc, ListenerContext, ListenerKind};

/// Accepts connections until `stop` turns true. Each connection task holds a clone of
/// `alive`; when all are gone, the receiver side sees the channel close. Both listeners share
/// one context, so the connection limits count native and IRC connections together.
pub async fn accept_loop(
    listener: TcpListener,
    kind: ListenerKind,
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
                        // One task type per protocol: a task holding either future would be as large
                        // as the larger of the two for every connection.
                        match kind {
                            ListenerKind::Native => tokio::spawn(async move {
                                connection::serve(stream, peer, session, ctx).await;
                                drop(permit);
                                drop(alive);
                            }),
                            ListenerKind::Irc => tokio::spawn(async move {
                                irc::connection::serve(stream, peer, session, ctx).await;
                                drop(permit);
                                drop(alive);
                            }),
                        };
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

async fn refuse(mut stream: TcpStream, kind: ListenerKind, sentence: String) {
    let frame = match kind {
        ListenerKind::Native => encode_frame(&ServerFrame::error_with(
            ErrorCode::TooManyConnections,
            sentence,
        ))
        .to_vec(),
        ListenerKind::Irc => format!("ERROR :Closing link: {sentence}\r\n").into_bytes(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = stream.write_all(&frame).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
