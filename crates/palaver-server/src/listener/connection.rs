//! One connection: a reader that turns lines into requests and a writer that drains the queue.
//!
//! The reader enforces what is per connection: the line codec's size limit, the token-bucket
//! rate limit (every line counts, valid or not), the join timeout, disconnection of a client
//! that keeps flooding after being refused, and keepalive: a silent connection is pinged and, if
//! it stays silent, closed (`ping_timeout`). Protocol errors it finds itself (bad JSON, a line too
//! long) are answered on the spot through the connection's own queue; everything else goes to
//! the hub.
//!
//! The writer sends what the queue holds, batching whatever is waiting into one write. The queue
//! is bounded: when it is full the hub disconnects the client as a slow consumer and tells the
//! writer to abort, which it does even in the middle of a write that the peer is not reading.
//!
//! Buffers are only held while there is data in them, so an idle connection costs two small
//! tasks and its queue, not kilobytes of empty buffer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use palaver_proto::{
    encode_frame, parse_request, timestamp, ClientFrame, CodecError, ErrorCode, ServerFrame,
};

use super::liveness::{Due, Liveness};
use super::transport::{FrameSink, Incoming};
use super::ListenerContext;
use crate::hub::{Departure, SessionId};
use crate::limits::TokenBucket;
use crate::metrics::{ConnectionLabels, OpenConnection};
use crate::queue::{OutboundQueue, Push};
use crate::runtime::{Control, HubMsg, SessionHandle, Wire};

/// Serves one native connection until it ends, over any transport.
pub async fn serve<I: Incoming, S: FrameSink>(
    incoming: I,
    sink: S,
    peer: SocketAddr,
    session: SessionId,
    ctx: Arc<ListenerContext>,
    transport: &'static str,
) {
    let span = tracing::info_span!("conn", %peer, session);
    let labels = ConnectionLabels {
        protocol: "native",
        transport,
    };
    let _open = OpenConnection::new(&ctx.metrics, labels);
    async move {
        let Some(opened) = open(&ctx, session, peer, Wire::Json, sink, json_abort_line).await
        else {
            return;
        };
        let departure = read_loop(
            incoming,
            session,
            &opened.queue,
            opened.control.clone(),
            &ctx,
        )
        .await;
        tracing::debug!(?departure, "reader finished");
        close(&ctx, session, departure, opened).await;
    }
    .instrument(span)
    .await
}

/// A connection registered with the hub, with its writer running: what every protocol shares.
pub struct Opened {
    pub queue: Arc<OutboundQueue>,
    pub control: watch::Receiver<Control>,
    writer: tokio::task::JoinHandle<()>,
}

/// Registers a connection with the hub (its frames to be written by `wire`) and starts the
/// writer. `None` when the hub is gone.
pub async fn open<S: FrameSink>(
    ctx: &ListenerContext,
    session: SessionId,
    peer: SocketAddr,
    wire: Wire,
    sink: S,
    abort_line: fn(ErrorCode) -> Vec<u8>,
) -> Option<Opened> {
    let queue = Arc::new(OutboundQueue::new(
        ctx.outbound_queue,
        ctx.outbound_queue_bytes,
    ));
    let (control_tx, control_rx) = watch::channel(Control::Open);
    let handle = SessionHandle {
        queue: Arc::clone(&queue),
        control: control_tx,
        wire,
    };
    let register = HubMsg::Register {
        session,
        peer: peer.to_string(),
        handle,
    };
    ctx.hub.send(register).await.ok()?;
    let writer = tokio::spawn(
        write_loop(sink, Arc::clone(&queue), control_rx.clone(), abort_line).in_current_span(),
    );
    Some(Opened {
        queue,
        control: control_rx,
        writer,
    })
}

/// Tells the hub the connection is over, lets it answer what was sent before (a QUIT's last
/// words, say) and close the session, then lets the writer send what is queued. A peer that
/// stopped reading cannot keep the writer, and its socket, for more than 10 seconds.
pub async fn close(
    ctx: &ListenerContext,
    session: SessionId,
    departure: Departure,
    opened: Opened,
) {
    let Opened {
        queue,
        mut control,
        writer,
    } = opened;
    let _ = ctx.hub.send(HubMsg::Gone { session, departure }).await;
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        control.wait_for(|c| matches!(c, Control::Close | Control::Abort(_))),
    )
    .await;
    queue.close();
    // An aborted connection's writer may wait for its last words to fit (see `LAST_WORDS`).
    let grace = match *control.borrow() {
        Control::Abort(_) => LAST_WORDS + Duration::from_secs(2),
        _ => Duration::from_secs(10),
    };
    let abort = writer.abort_handle();
    if tokio::time::timeout(grace, writer).await.is_err() {
        abort.abort();
    }
}

/// Queues an error for this connection (and counts it). Returns false when the queue is full or
/// closed.
fn reply(ctx: &ListenerContext, queue: &OutboundQueue, frame: ServerFrame) -> bool {
    if let ServerFrame::Error { code, .. } = &frame {
        ctx.metrics.refused(*code);
    }
    queue.try_push(encode_frame(&frame)) == Push::Queued
}

async fn read_loop<I: Incoming>(
    mut incoming: I,
    session: SessionId,
    queue: &OutboundQueue,
    mut control: watch::Receiver<Control>,
    ctx: &ListenerContext,
) -> Departure {
    let mut bucket = TokenBucket::new(ctx.rate_per_second, ctx.rate_burst);
    let mut refused_in_a_row = 0u32;
    let join_deadline = Instant::now() + ctx.join_timeout;
    let mut joined = false;
    let mut control_open = true;
    let mut liveness = Liveness::new(ctx.ping_interval);
    loop {
        while let Some(line) = incoming.next_line() {
            if !bucket.try_take(std::time::Instant::now()) {
                refused_in_a_row += 1;
                if refused_in_a_row > ctx.flood_disconnect_after {
                    reply(ctx, queue, ServerFrame::error(ErrorCode::Flooding));
                    return Departure::Closed(ErrorCode::Flooding);
                }
                let message = format!(
                    "You are sending too fast (at most {} per second, bursts of {}); that message was not sent.",
                    ctx.rate_per_second, ctx.rate_burst
                );
                if !reply(
                    ctx,
                    queue,
                    ServerFrame::error_with(ErrorCode::RateLimited, message),
                ) {
                    return Departure::Closed(ErrorCode::SlowConsumer);
                }
                continue;
            }
            refused_in_a_row = 0;
            let answer = match line {
                Err(CodecError::FrameTooLarge { limit }) => ServerFrame::error_with(
                    ErrorCode::FrameTooLarge,
                    format!("That line is longer than {limit} bytes; it was discarded."),
                ),
                Err(CodecError::InvalidUtf8) => ServerFrame::error(ErrorCode::InvalidUtf8),
                Ok(line) => match parse_request(&line) {
                    // The answer to our ping: being read at all was the point.
                    Ok(request) if request.frame == ClientFrame::Pong => continue,
                    Ok(request) => {
                        if ctx
                            .hub
                            .send(HubMsg::Request { session, request })
                            .await
                            .is_err()
                        {
                            return Departure::Disconnected;
                        }
                        continue;
                    }
                    Err(e) => ServerFrame::Error {
                        code: e.code,
                        message: e.message,
                        subject: None,
                        reference: e.reference,
                    },
                },
            };
            if !reply(ctx, queue, answer) {
                return Departure::Closed(ErrorCode::SlowConsumer);
            }
        }
        incoming.shrink();
        tokio::select! {
            biased;
            changed = control.changed(), if control_open => {
                if changed.is_err() {
                    control_open = false;
                    continue;
                }
                match &*control.borrow_and_update() {
                    Control::Joined => joined = true,
                    Control::Open => {}
                    Control::Close | Control::Abort(_) => return Departure::Disconnected,
                }
            }
            // One timer: the join deadline until joined, then the keepalive (one timer, not two,
            // keeps an idle connection's task small).
            _ = tokio::time::sleep_until(if joined { liveness.deadline() } else { join_deadline }) => match (joined, liveness.due()) {
                (false, _) => {
                    reply(ctx, queue, ServerFrame::error_with(
                        ErrorCode::JoinTimeout,
                        format!("No join arrived within {} seconds, so the connection was closed.", ctx.join_timeout.as_secs()),
                    ));
                    return Departure::Closed(ErrorCode::JoinTimeout);
                }
                (true, Due::Ping) => {
                    let ping = ServerFrame::Ping {
                        timestamp: timestamp::format_millis(timestamp::now_millis()),
                    };
                    reply(ctx, queue, ping);
                }
                (true, Due::Silent) => {
                    reply(ctx, queue, ServerFrame::error_with(
                        ErrorCode::PingTimeout,
                        format!("Nothing arrived from you for {} seconds, so the connection was closed.", liveness.limit().as_secs()),
                    ));
                    return Departure::Closed(ErrorCode::PingTimeout);
                }
            },
            more = incoming.receive() => {
                if !more {
                    return Departure::Disconnected;
                }
                liveness.heard();
            }
        }
    }
}

/// How long a busy connection's writer waits to gather frames into one write.
const COALESCE: Duration = Duration::from_millis(2);
/// A connection that wrote less than this long ago counts as busy.
const BUSY: Duration = Duration::from_millis(20);

/// How long an aborted connection's last words (why it was closed: `slow_consumer`, IRC's
/// `ERROR :SendQ exceeded`) may wait for room. A reader that fell behind still has the kernel's
/// socket buffers full of older frames; the words go out behind them, and a client that reads
/// again within this time learns why it was dropped. Nothing else is sent meanwhile, and the
/// session is already gone from the hub.
pub const LAST_WORDS: Duration = Duration::from_secs(30);

/// The native protocol's last words when a connection is aborted.
fn json_abort_line(code: ErrorCode) -> Vec<u8> {
    encode_frame(&ServerFrame::error(code)).to_vec()
}

/// Sends what the queue holds until it closes; on an abort, `abort_line` gives the protocol's
/// last words for the error.
pub async fn write_loop<S: FrameSink>(
    mut sink: S,
    queue: Arc<OutboundQueue>,
    mut control: watch::Receiver<Control>,
    abort_line: fn(ErrorCode) -> Vec<u8>,
) {
    let mut frames: VecDeque<Bytes> = VecDeque::new();
    let mut control_open = true;
    let mut last_write = std::time::Instant::now() - BUSY;
    let abort = 'outer: loop {
        let more = tokio::select! {
            biased;
            changed = control.changed(), if control_open => {
                if changed.is_err() {
                    control_open = false;
                    continue;
                }
                if let Control::Abort(code) = &*control.borrow_and_update() {
                    break Some(*code);
                }
                continue;
            }
            more = queue.pop_all(&mut frames) => more,
        };
        if !more {
            break None;
        }
        // Under sustained traffic (a write less than BUSY ago), wait a moment for more frames
        // so that one write carries several: far fewer system calls for a millisecond of delay.
        // A quiet connection writes at once.
        if frames.len() < 16 && last_write.elapsed() < BUSY {
            tokio::select! {
                biased;
                code = wait_for_abort(&mut control), if control_open => break 'outer Some(code),
                _ = tokio::time::sleep(COALESCE) => {}
            }
            queue.take_more(&mut frames);
        }
        last_write = std::time::Instant::now();
        // Everything taken goes out in vectored writes straight from the shared buffers: no
        // copy, and no write buffer kept between bursts.
        let written = tokio::select! {
            biased;
            code = wait_for_abort(&mut control), if control_open => break 'outer Some(code),
            result = sink.send_frames(&mut frames) => result,
        };
        if written.is_err() {
            break None;
        }
        if frames.capacity() > 256 {
            frames = VecDeque::new();
        }
    };
    queue.close();
    if let Some(code) = abort {
        let _ = tokio::time::timeout(LAST_WORDS, sink.send_last_words(abort_line(code))).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.finish()).await;
}

/// Resolves when the hub orders an abort; never, if it cannot any more.
async fn wait_for_abort(control: &mut watch::Receiver<Control>) -> ErrorCode {
    loop {
        if control.changed().await.is_err() {
            return std::future::pending().await;
        }
        if let Control::Abort(code) = &*control.borrow_and_update() {
            return *code;
        }
    }
}
