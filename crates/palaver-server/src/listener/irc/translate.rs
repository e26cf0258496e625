//! Hub frames to IRC lines, for one connection: the half of the IRC listener that writes.
//!
//! Runs on the hub's task (through [`Translator`]) each time the hub queues a frame for an IRC
//! session. A frame that answers a command (its `ref` is the command's token, see
//! [`super::state`]) goes to that command's [`Waiting`](super::cmd::Waiting), in its module under
//! [`super::cmd`]; so do refusals and the closing `pong`. Everything else is what an IRC client
//! expects to see of the chat ([`super::live`]). Nothing here blocks or allocates beyond the
//! lines it returns.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value;

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ErrorCode, ServerFrame};

use super::caps;
use super::cmd::{Refusal, Step};
use super::lines::Lines;
use super::live;
use super::state::IrcState;
use super::state::{encode_lines, ServerIdentity};
use crate::hub::Outgoing;
use crate::runtime::Translator;

/// The IRC wire of one session.
#[derive(Debug)]
pub struct IrcWire {
    pub server: Arc<ServerIdentity>,
    pub state: Arc<Mutex<IrcState>>,
}

impl Translator for IrcWire {
    fn translate(&self, out: &Outgoing) -> Option<Bytes> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // Someone else's message reads the same for every client with the same line-changing
        // capabilities: format it once per fan-out and share the bytes. (Names in hub frames are
        // the canonical ones, so plain equality tells whether it is ours.)
        if let ServerFrame::Message(m) = out.frame() {
            if m.username != state.nick {
                let key =
                    state
                        .caps
                        .bits_in(&[caps::SERVER_TIME, caps::MESSAGE_TAGS, caps::ACCOUNT_TAG]);
                let state = &mut *state;
                return out.cached(key, || encode_lines(&self.lines(state, out)));
            }
        }
        encode_lines(&self.lines(&mut state, out))
    }
}

impl IrcWire {
    fn lines(&self, st: &mut IrcState, out: &Outgoing) -> Vec<IrcMessage> {
        let mut lines = Lines {
            server: &self.server,
            st,
            client_tags: out.client_tags(),
            source: out.source().unwrap_or("*"),
            event: out.event(),
            token: None,
            sender: out.sender(),
        };
        translate(&mut lines, out.frame())
    }
}

/// The lines for one hub frame.
fn translate(lines: &mut Lines, frame: &ServerFrame) -> Vec<IrcMessage> {
    let token = frame.reference().and_then(Value::as_u64);
    match (frame, token) {
        (ServerFrame::Error { code, .. }, _) if is_fatal(*code) => {
            vec![IrcMessage::new(
                "ERROR",
                [format!("Closing link: {}", error_message(frame))],
            )]
        }
        (
            ServerFrame::Error {
                code,
                message,
                subject,
                ..
            },
            token,
        ) => {
            let refusal = Refusal {
                code: *code,
                subject: subject.as_deref(),
                message,
            };
            refused(lines, token, refusal)
        }
        (ServerFrame::Pong { .. }, Some(token)) => end(lines, token),
        (_, Some(token)) => {
            answer(lines, token, frame).unwrap_or_else(|| live::frame(lines, frame))
        }
        (_, None) => live::frame(lines, frame),
    }
}

/// Errors that end the connection: IRC's `ERROR` line.
fn is_fatal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Kicked
            | ErrorCode::Flooding
            | ErrorCode::SlowConsumer
            | ErrorCode::JoinTimeout
            | ErrorCode::ServerShuttingDown
    )
}

fn error_message(frame: &ServerFrame) -> &str {
    match frame {
        ServerFrame::Error { message, .. } => message,
        _ => "",
    }
}

/// Runs `f` on the command waiting under `token` (taken out of the table meanwhile, so it may
/// use the connection's state); `None` if no command waits under it.
fn with_waiting<T>(
    lines: &mut Lines,
    token: u64,
    f: impl FnOnce(&mut dyn super::cmd::Waiting, &mut Lines) -> T,
) -> Option<T> {
    let mut pending = lines.st.pending.remove(&token)?;
    let outer = lines.token.replace(token);
    let result = f(pending.waiting.as_mut(), lines);
    lines.token = outer;
    lines.st.pending.insert(token, pending);
    Some(result)
}

/// Sends or holds a command's lines, and ends it if the step says so.
pub fn apply(lines: &mut Lines, token: u64, step: Step) -> Vec<IrcMessage> {
    let server = &lines.server.name;
    match step {
        Step::More(more) => lines.st.reply(Some(token), more),
        Step::Done(last) => {
            let mut now = lines.st.reply(Some(token), last);
            now.extend(lines.st.finish(token, server));
            now
        }
    }
}

/// A frame carrying a command's token: the command's, unless it leaves it to [`live`].
fn answer(lines: &mut Lines, token: u64, frame: &ServerFrame) -> Option<Vec<IrcMessage>> {
    let step = with_waiting(lines, token, |w, lines| w.frame(lines, frame))??;
    Some(apply(lines, token, step))
}

/// A refusal: the command's to answer; one with no command is a NOTICE.
fn refused(lines: &mut Lines, token: Option<u64>, refusal: Refusal) -> Vec<IrcMessage> {
    let Some(token) = token else {
        let nick = lines.st.nick.clone();
        return vec![lines.from_server("NOTICE", [nick, refusal.message.to_string()])];
    };
    let step = with_waiting(lines, token, |w, lines| {
        // A command that followed a registration the hub refused.
        if refusal.code == ErrorCode::NotJoined && !w.registers() {
            let line = lines.num(
                super::numeric::Numeric::ERR_NOTREGISTERED,
                ["You have not registered"],
            );
            return Step::Done(vec![line]);
        }
        w.refused(lines, refusal)
    });
    match step {
        Some(step) => apply(lines, token, step),
        None => Vec::new(),
    }
}

/// The `pong` that closes a command: its last lines, then the labeled reply.
fn end(lines: &mut Lines, token: u64) -> Vec<IrcMessage> {
    match with_waiting(lines, token, |w, lines| w.end(lines)) {
        Some(last) => apply(lines, token, Step::Done(last)),
        None => Vec::new(),
    }
}
