//! One IRC connection: the socket side of [`super::reader`] and [`super::translate`].
//!
//! The reader splits lines with the same bounded decoder as the native listener, set to IRC's
//! limit (8191 bytes of tags plus 512), so a line without an end never grows a buffer past it;
//! a longer line, or a body over 512 bytes, is answered with 417 ERR_INPUTTOOLONG. Input may
//! arrive a byte at a time. Flood control is IRC-style fakelag: a client over its rate is read
//! more slowly, not refused (IRC clients do not retry refused lines); one that sends more than
//! [`RECVQ_BYTES`] ahead of what it may is disconnected ("Excess Flood"). A registered connection
//! that is silent for the ping interval gets a PING and is closed if the interval passes again
//! without a word; one that has not registered within the join timeout is closed.
//!
//! The writer is the native listener's: the hub's frames reach the queue already translated.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use palaver_proto::irc::{IrcError, IrcMessage, MAX_LINE_BYTES};
use palaver_proto::{CodecError, ErrorCode, LineDecoder};

use super::numeric::Numeric;
use super::reader::{Action, Reader};
use super::state::{encode_lines, numeric, IrcState};
use super::translate::IrcWire;
use crate::hub::{Departure, SessionId};
use crate::limits::TokenBucket;
use crate::listener::connection::{close, open};
use crate::listener::liveness::{Due, Liveness};
use crate::listener::transport::{FrameSink, Incoming};
use crate::listener::ListenerContext;
use crate::metrics::{ConnectionLabels, OpenConnection};
use crate::queue::OutboundQueue;
use crate::runtime::{Control, HubMsg, Wire};

/// The most a client may have sent that is not handled yet (its lines wait while it is over
/// its rate). A pasted screenful fits; thousands of lines in one go do not: that client is
/// disconnected with "Excess Flood", as ergo and InspIRCd do, instead of being drained at the
/// fakelag rate for half an hour.
pub const RECVQ_BYTES: usize = 32 * 1024;

/// IRC's last words when the server aborts a connection.
fn irc_abort_line(code: ErrorCode) -> Vec<u8> {
    let why = match code {
        ErrorCode::SlowConsumer => "SendQ exceeded".to_string(),
        other => other.sentence().to_string(),
    };
    format!("ERROR :Closing link: {why}\r\n").into_bytes()
}

/// Serves one IRC connection until it ends, over any transport. Its lines arrive through an
/// [`Incoming`] made with [`line_decoder`].
pub async fn serve<I: Incoming, S: FrameSink>(
    incoming: I,
    sink: S,
    peer: SocketAddr,
    session: SessionId,
    ctx: Arc<ListenerContext>,
    transport: &'static str,
) {
    let span = tracing::info_span!("irc", %peer, session);
    let labels = ConnectionLabels {
        protocol: "irc",
        transport,
    };
    let _open = OpenConnection::new(&ctx.metrics, labels);
    async move {
        let server = Arc::clone(&ctx.irc.identity);
        let state = Arc::new(Mutex::new(IrcState::default()));
        let wire = Wire::Translated(Arc::new(IrcWire {
            server: Arc::clone(&server),
            state: Arc::clone(&state),
        }));
        let Some(opened) = open(&ctx, session, peer, wire, sink, irc_abort_line).await else {
            return;
        };
        let commands = Reader::new(server, Arc::clone(&state));
        let control = opened.control.clone();
        let departure = read_loop(incoming, session, commands, &opened.queue, control, &ctx).await;
        tracing::debug!(?departure, "irc reader finished");
        close(&ctx, session, departure, opened).await;
    }
    .instrument(span)
    .await
}

/// How a connection that closed with lines still waiting leaves: as its QUIT says, if one of
/// them is a QUIT.
fn quit_among(lines: impl Iterator<Item = Result<bytes::Bytes, CodecError>>) -> Departure {
    for line in lines.flatten() {
        let Ok(text) = std::str::from_utf8(&line) else {
            continue;
        };
        if let Ok(msg) = IrcMessage::parse(text) {
            if msg.command == "QUIT" {
                return Departure::Quit(Some(super::cmd::quit::reason(&msg)));
            }
        }
    }
    Departure::Disconnected
}

/// IRC's line decoder: the longest line IRC allows (8191 bytes of tags plus 512), with two
/// bytes of slack for the CRLF it strips; lines that are not UTF-8 are the commands' to refuse.
pub fn line_decoder() -> LineDecoder {
    LineDecoder::new(MAX_LINE_BYTES + 2).without_utf8_check()
}

async fn read_loop<I: Incoming>(
    mut incoming: I,
    session: SessionId,
    mut commands: Reader,
    queue: &OutboundQueue,
    mut control: watch::Receiver<Control>,
    ctx: &ListenerContext,
) -> Departure {
    let server_name = ctx.irc.identity.name.clone();
    // Boxed: the reader's state machine holds a pointer instead of the whole send future, and an
    // idle connection is that much smaller.
    let relay = |lines: Vec<IrcMessage>| {
        Box::pin(async move {
            match encode_lines(&lines) {
                Some(bytes) => ctx.hub.send(HubMsg::Relay { session, bytes }).await.is_ok(),
                None => true,
            }
        })
    };
    let mut bucket = TokenBucket::new(ctx.rate_per_second, ctx.rate_burst);
    let register_deadline = Instant::now() + ctx.join_timeout;
    let mut joined = false;
    let mut control_open = true;
    let mut liveness = Liveness::new(ctx.irc.ping_interval);
    loop {
        while let Some(line) = incoming.next_line() {
            // Fakelag: over the rate, wait for a token instead of refusing the line. Meanwhile
            // whatever else arrives is read into the receive queue; a client that keeps sending
            // until the queue holds more than RECVQ_BYTES is flooding and is let go.
            while !bucket.try_take(std::time::Instant::now()) {
                let wait = Duration::from_secs_f64(1.0 / ctx.rate_per_second.max(0.001));
                tokio::select! {
                    biased;
                    changed = control.changed(), if control_open => {
                        if changed.is_err() { control_open = false; continue; }
                        if matches!(&*control.borrow_and_update(), Control::Close | Control::Abort(_)) {
                            return Departure::Disconnected;
                        }
                    }
                    more = incoming.receive() => {
                        if !more {
                            // Gone while its lines waited (a client that writes QUIT and closes
                            // right after a burst): its QUIT still says why.
                            return quit_among(std::iter::once(line).chain(std::iter::from_fn(|| incoming.next_line())));
                        }
                        liveness.heard();
                        if incoming.backlog() > RECVQ_BYTES {
                            let error = IrcMessage::new("ERROR", ["Closing link: Excess Flood"]);
                            relay(vec![error]).await;
                            return Departure::Closed(ErrorCode::Flooding);
                        }
                    }
                    _ = tokio::time::sleep(wait.min(Duration::from_millis(250))) => {}
                }
            }
            let nick = commands.nick_now();
            let parsed = match line {
                Err(CodecError::FrameTooLarge { .. }) => Err(IrcError::InputTooLong),
                Err(CodecError::InvalidUtf8) => Ok(String::new()),
                Ok(bytes) => match std::str::from_utf8(&bytes) {
                    Ok(text) => Ok(text.to_string()),
                    Err(_) => {
                        // UTF8ONLY: refused, naming the command (read from a lossy copy).
                        let lossy = String::from_utf8_lossy(&bytes);
                        for action in commands.refuse_non_utf8(&lossy) {
                            if let Action::Reply(lines) = action {
                                if !relay(lines).await {
                                    return Departure::Disconnected;
                                }
                            }
                        }
                        continue;
                    }
                },
            };
            let parsed = parsed.and_then(|text| IrcMessage::parse(&text));
            let message = match parsed {
                Ok(message) => message,
                Err(IrcError::Empty | IrcError::NoCommand) => continue,
                Err(IrcError::InputTooLong | IrcError::TagsTooLong) => {
                    let line = numeric(
                        &server_name,
                        &nick,
                        Numeric::ERR_INPUTTOOLONG,
                        ["Input line was too long"],
                    );
                    if !relay(vec![line]).await {
                        return Departure::Disconnected;
                    }
                    continue;
                }
                Err(IrcError::InvalidCommand(command)) => {
                    let line = numeric(
                        &server_name,
                        &nick,
                        Numeric::ERR_UNKNOWNCOMMAND,
                        [command.as_str(), "Unknown command"],
                    );
                    if !relay(vec![line]).await {
                        return Departure::Disconnected;
                    }
                    continue;
                }
                Err(IrcError::InvalidCharacter) => {
                    let fail = IrcMessage::new(
                        "FAIL",
                        [
                            "*",
                            "INVALID_PARAMS",
                            "NUL, CR or LF inside a line; it was dropped",
                        ],
                    )
                    .with_source(server_name.as_str());
                    if !relay(vec![fail]).await {
                        return Departure::Disconnected;
                    }
                    continue;
                }
                Err(IrcError::TooManyParams) => {
                    let line = numeric(
                        &server_name,
                        &nick,
                        Numeric::ERR_NEEDMOREPARAMS,
                        ["*", "Too many parameters"],
                    );
                    if !relay(vec![line]).await {
                        return Departure::Disconnected;
                    }
                    continue;
                }
            };
            for action in commands.handle(message) {
                let delivered = match action {
                    Action::Identify(profile) => ctx
                        .hub
                        .send(HubMsg::Identify { session, profile })
                        .await
                        .is_ok(),
                    Action::Hub(request) => ctx
                        .hub
                        .send(HubMsg::Request { session, request })
                        .await
                        .is_ok(),
                    Action::Reply(lines) => relay(lines).await,
                    Action::Quit(lines, reason) => {
                        relay(lines).await;
                        return Departure::Quit(Some(reason));
                    }
                };
                if !delivered {
                    return Departure::Disconnected;
                }
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
            // One timer: registration's deadline, then the keepalive.
            _ = tokio::time::sleep_until(if joined { liveness.deadline() } else { register_deadline }) => match (joined, liveness.due()) {
                (false, _) => {
                    let error = IrcMessage::new("ERROR", ["Closing link: registration timed out"]);
                    relay(vec![error]).await;
                    return Departure::Closed(ErrorCode::JoinTimeout);
                }
                (true, Due::Ping) => {
                    let ping = IrcMessage::new("PING", [server_name.clone()]);
                    if let Some(bytes) = encode_lines(&[ping]) {
                        let _ = queue.try_push(bytes);
                    }
                }
                (true, Due::Silent) => {
                    let secs = liveness.limit().as_secs();
                    let error = IrcMessage::new("ERROR", [format!("Closing link: Ping timeout: {secs} seconds")]);
                    relay(vec![error]).await;
                    return Departure::Quit(Some(format!("Ping timeout: {secs} seconds")));
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
