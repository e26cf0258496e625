//! What one IRC connection knows about itself, shared by its reader (which turns commands into
//! hub requests) and its translator (which turns hub frames into lines), plus the server's
//! identity and the helpers both use to build replies.
//!
//! Each IRC command that needs the hub gets a token, sent as the requests' `ref`. The hub echoes
//! it on its replies, so the translator knows which command (a [`Waiting`] kept in
//! [`IrcState::pending`]) a `who` or an `error` answers and which label (IRCv3 labeled-response)
//! to put on the reply. Commands end with a `ping` carrying
//! the same token: the hub answers it after everything before it, including the acks of
//! messages still being stored, so its `pong` closes the command's reply.

use std::collections::{HashMap, HashSet, VecDeque};

use bytes::Bytes;

use palaver_proto::irc::IrcMessage;
use palaver_proto::validate;

use super::caps::{self, CapSet};
use super::cmd::Waiting;
use super::numeric::Numeric;

/// The server's identity and the facts its welcome burst announces.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    /// The server's name, the source of numerics.
    pub name: String,
    pub network: String,
    pub version: String,
    /// When the server started, as the 003 numeric shows it.
    pub created: String,
    pub motd: Vec<String>,
    pub max_message_bytes: usize,
    pub max_topic_bytes: usize,
    pub max_rooms_per_user: usize,
    pub history_page_max: usize,
    /// The server password IRC clients must give with PASS (`--irc-password`), if any.
    pub password: Option<String>,
    /// Where files' links lead (`welcome`'s `http_base`), when the server takes files.
    pub http_base: Option<String>,
}

/// A command waiting for its replies.
#[derive(Debug)]
pub struct OpenCommand {
    pub waiting: Box<dyn Waiting>,
    pub label: Option<String>,
    /// Lines held back to be sent together under the label.
    pub lines: Vec<IrcMessage>,
}

#[derive(Debug)]
pub struct IrcState {
    /// `*` until registered.
    pub nick: String,
    pub registered: bool,
    /// A registration is on its way to the hub.
    pub registering: bool,
    pub caps: CapSet,
    /// CAP LS or REQ arrived before registration: wait for CAP END.
    pub cap_negotiating: bool,
    pub invisible: bool,
    /// An IRC operator (an admin, through OPER or SASL).
    pub oper: bool,
    /// Folded names of the channels this connection is in.
    pub channels: HashSet<String>,
    pub pending: HashMap<u64, OpenCommand>,
    pub next_token: u64,
    /// The last per-user event announced (QUIT, NICK arrive once per shared room).
    pub last_event: Option<u64>,
    /// Message ids whose echo should carry a command's label: (id, token, whether the command
    /// goes on after it).
    pub echo_labels: VecDeque<(u64, u64, bool)>,
    /// Labeled edits (`+draft/edit`) acknowledged, oldest first: the next own `edited` line
    /// is the echo of the first (its token).
    pub edit_echoes: VecDeque<u64>,
    pub batch_seq: u64,
    /// The account proved with SASL (its name joins at registration).
    pub account: Option<String>,
    /// The real name given with USER.
    pub realname: String,
}

impl Default for IrcState {
    fn default() -> Self {
        IrcState {
            nick: "*".into(),
            registered: false,
            registering: false,
            caps: CapSet::default(),
            cap_negotiating: false,
            invisible: false,
            oper: false,
            channels: HashSet::new(),
            pending: HashMap::new(),
            next_token: 1,
            last_event: None,
            echo_labels: VecDeque::new(),
            edit_echoes: VecDeque::new(),
            batch_seq: 0,
            account: None,
            realname: String::new(),
        }
    }
}

impl IrcState {
    /// Starts a command; its token goes in the `ref` of its hub requests.
    pub fn begin(&mut self, waiting: Box<dyn Waiting>, label: Option<String>) -> u64 {
        let token = self.next_token;
        self.next_token += 1;
        let label = label.filter(|_| self.caps.has(caps::LABELED_RESPONSE));
        self.pending.insert(
            token,
            OpenCommand {
                waiting,
                label,
                lines: Vec::new(),
            },
        );
        token
    }

    /// The oldest command still waiting whose name is one of `names` (our own NOTICE or
    /// TAGMSG coming back answers the oldest one sent).
    pub fn oldest_waiting(&self, names: &[&str]) -> Option<u64> {
        self.pending
            .iter()
            .filter(|(_, p)| names.contains(&p.waiting.name()))
            .map(|(token, _)| *token)
            .min()
    }

    pub fn is_me(&self, name: &str) -> bool {
        validate::fold(name) == validate::fold(&self.nick)
    }

    pub fn next_batch(&mut self) -> String {
        self.batch_seq += 1;
        format!("b{}", self.batch_seq)
    }

    /// Lines for a command's reply: held back if it is labeled, else returned to send now.
    pub fn reply(&mut self, token: Option<u64>, lines: Vec<IrcMessage>) -> Vec<IrcMessage> {
        match token.and_then(|t| self.pending.get_mut(&t)) {
            Some(p) if p.label.is_some() => {
                p.lines.extend(lines);
                Vec::new()
            }
            _ => lines,
        }
    }

    /// Ends a command: its held-back lines, labeled as labeled-response says (one line gets
    /// the tag, several go in a batch, none becomes `ACK`).
    pub fn finish(&mut self, token: u64, server: &str) -> Vec<IrcMessage> {
        let Some(p) = self.pending.remove(&token) else {
            return Vec::new();
        };
        if self.pending.is_empty() && self.pending.capacity() > 0 {
            // An idle connection keeps no table (it matters at tens of thousands of them).
            self.pending = HashMap::new();
        }
        let Some(label) = p.label else {
            return p.lines;
        };
        self.labeled(label, p.lines, server)
    }

    /// Puts `label` on a reply of `lines`.
    pub fn labeled(
        &mut self,
        label: String,
        mut lines: Vec<IrcMessage>,
        server: &str,
    ) -> Vec<IrcMessage> {
        match lines.len() {
            0 => vec![IrcMessage::new("ACK", Vec::<String>::new())
                .with_source(server)
                .with_tag("label", Some(label))],
            1 => {
                lines[0].tags.insert(0, ("label".into(), Some(label)));
                lines
            }
            _ if self.caps.has(caps::BATCH) => {
                let id = self.next_batch();
                let mut out = Vec::with_capacity(lines.len() + 2);
                out.push(
                    IrcMessage::new("BATCH", [format!("+{id}"), "labeled-response".into()])
                        .with_source(server)
                        .with_tag("label", Some(label)),
                );
                for mut line in lines {
                    // A line already inside a batch of its own (chathistory) keeps it: only the
                    // batch's opening line joins the labeled batch.
                    if line.tag("batch").is_none() {
                        line.tags.insert(0, ("batch".into(), Some(id.clone())));
                    }
                    out.push(line);
                }
                out.push(IrcMessage::new("BATCH", [format!("-{id}")]).with_source(server));
                out
            }
            _ => {
                lines[0].tags.insert(0, ("label".into(), Some(label)));
                lines
            }
        }
    }
}

/// A numeric reply: `:server CODE nick params...`.
///
/// The code is a named [`Numeric`].
pub fn numeric(
    server: &str,
    nick: &str,
    code: Numeric,
    params: impl IntoIterator<Item = impl Into<String>>,
) -> IrcMessage {
    let mut all = vec![nick.to_string()];
    all.extend(params.into_iter().map(Into::into));
    IrcMessage::new(code.code(), all).with_source(server)
}

/// Lines as bytes on the wire, CRLF after each.
pub fn encode_lines(lines: &[IrcMessage]) -> Option<Bytes> {
    if lines.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(lines.len() * 80);
    for line in lines {
        out.push_str(&line.to_line());
        out.push_str("\r\n");
    }
    Some(Bytes::from(out))
}

/// `#room` for a room name.
pub fn channel(room: &str) -> String {
    format!("#{room}")
}

/// Splits message text into pieces that fit an IRC line: one per line of text, each at most
/// `max` bytes (cut at character boundaries). Blank lines are dropped.
pub fn split_text(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(4);
    let mut out = Vec::new();
    for line in text.split(['\n', '\r']) {
        let mut rest = line;
        if rest.trim().is_empty() {
            continue;
        }
        while rest.len() > max {
            let mut cut = max;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            // Prefer to break after a space in the second half of the piece.
            if let Some(space) = rest[..cut].rfind(" ").filter(|s| *s > cut / 2) {
                cut = space + 1;
            }
            out.push(&rest[..cut]);
            rest = &rest[cut..];
        }
        if !rest.is_empty() {
            out.push(rest);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_split_by_line_and_length_at_character_boundaries() {
        assert_eq!(split_text("a\nb\r\n\n c", 100), vec!["a", "b", " c"]);
        let long = "é".repeat(10); // 20 bytes
        let parts = split_text(&long, 7);
        assert!(parts.iter().all(|p| p.len() <= 7));
        assert_eq!(parts.concat(), long);
        assert_eq!(split_text("aaaa bbbb", 6), vec!["aaaa ", "bbbb"]);
    }

    #[test]
    fn labels_follow_labeled_response() {
        let mut state = IrcState::default();
        state.caps.set(caps::LABELED_RESPONSE, true);
        state.caps.set(caps::BATCH, true);
        let none = state.labeled("x".into(), vec![], "s");
        assert_eq!(none[0].to_line(), "@label=x :s ACK");
        let one = state.labeled("x".into(), vec![IrcMessage::new("PONG", ["s"])], "s");
        assert_eq!(one[0].to_line(), "@label=x PONG s");
        let two = state.labeled(
            "x".into(),
            vec![IrcMessage::new("A", ["1"]), IrcMessage::new("B", ["2"])],
            "s",
        );
        let lines: Vec<String> = two.iter().map(IrcMessage::to_line).collect();
        assert_eq!(
            lines,
            vec![
                "@label=x :s BATCH +b1 labeled-response",
                "@batch=b1 A 1",
                "@batch=b1 B 2",
                ":s BATCH -b1"
            ]
        );
    }
}
