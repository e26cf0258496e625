//! [`Lines`]: what builds the lines one IRC connection is sent, while the translator handles one
//! hub frame: the server's identity, the connection's state, the frame's source and client-only
//! tags, and the helpers every command's replies use (numerics, chat lines with their tags,
//! standard replies).

use palaver_proto::irc::IrcMessage;

use super::caps;
use super::cmd::Refusal;
use super::numeric::{Numeric, Reply};
use super::state::{numeric, split_text, IrcState, ServerIdentity};

/// The reply context for one hub frame.
pub struct Lines<'a> {
    pub server: &'a ServerIdentity,
    pub st: &'a mut IrcState,
    /// The client-only tags of the frame being translated.
    pub client_tags: &'a [(String, Option<String>)],
    /// Who the frame is from, as IRC writes it (`nick!ident@host`); `*` if no one.
    pub source: &'a str,
    /// The per-user event the frame announces (one QUIT however many rooms it reaches).
    pub event: Option<u64>,
    /// The token of the command the frame answers, while a command handles it.
    pub token: Option<u64>,
    /// What the frame's user is known by besides the address (its account, real name, and
    /// whether it sent a message as one IRC line).
    pub sender: &'a crate::hub::outgoing::Sender,
}

impl Lines<'_> {
    /// A numeric to this connection.
    pub fn num(
        &self,
        code: Numeric,
        params: impl IntoIterator<Item = impl Into<String>>,
    ) -> IrcMessage {
        numeric(&self.server.name, &self.st.nick, code, params)
    }

    /// A numeric shared by many commands, to this connection.
    pub fn line(&self, reply: Reply) -> IrcMessage {
        self.num(reply.code, reply.params)
    }

    /// A line from the server itself.
    pub fn from_server(
        &self,
        command: &str,
        params: impl IntoIterator<Item = impl Into<String>>,
    ) -> IrcMessage {
        IrcMessage::new(command, params).with_source(self.server.name.as_str())
    }

    /// An IRCv3 standard reply: `FAIL <command> <CODE> [context...] :<description>`.
    pub fn fail(&self, command: &str, code: &str, context: &[&str], text: &str) -> IrcMessage {
        let mut params = vec![command.to_string(), code.to_string()];
        params.extend(context.iter().map(|c| c.to_string()));
        params.push(text.to_string());
        self.from_server("FAIL", params)
    }

    /// The standard reply for a refusal with no numeric of its own: its code in capitals.
    pub fn fail_code(&self, command: &str, refusal: Refusal) -> IrcMessage {
        let code = refusal.code.as_str().to_ascii_uppercase();
        self.fail(command, &code, &[], refusal.message)
    }

    pub fn has(&self, cap: caps::Cap) -> bool {
        self.st.caps.has(cap)
    }

    /// Tags for a chat line: `time` with server-time, `msgid` and the sender's client-only tags
    /// with message-tags.
    pub fn chat_tags(&self, timestamp: &str, id: Option<u64>) -> Vec<(String, Option<String>)> {
        let mut tags = Vec::new();
        let message_tags = self.has(caps::MESSAGE_TAGS);
        if message_tags {
            tags.extend(self.client_tags.iter().cloned());
        }
        if self.has(caps::SERVER_TIME) || message_tags {
            tags.push(("time".into(), Some(timestamp.to_string())));
        }
        if let (true, Some(id)) = (message_tags, id) {
            tags.push(("msgid".into(), Some(id.to_string())));
        }
        self.push_account_tag(&mut tags);
        tags
    }

    /// `account=` (IRCv3 account-tag) for a logged-in sender.
    pub fn push_account_tag(&self, tags: &mut Vec<(String, Option<String>)>) {
        if let (true, Some(account)) = (self.has(caps::ACCOUNT_TAG), &self.sender.account) {
            tags.push(("account".into(), Some(account.clone())));
        }
    }

    /// PRIVMSG or NOTICE lines for a message, split to fit a line, each with the tags.
    pub fn chat_lines(&self, chat: Chat) -> Vec<IrcMessage> {
        // The apps' rich text as IRC's formatting codes.
        let formatted = palaver_proto::rich_text::to_irc(chat.content);
        let (action, text) = irc_text(&formatted);
        let overhead = 1 + chat.source.len() + 1 + chat.command.len() + 1 + chat.target.len() + 2;
        let room = 510usize.saturating_sub(overhead + if action { 9 } else { 0 });
        let mut tags = self.chat_tags(chat.timestamp, chat.id);
        if let (true, Some(id)) = (self.has(caps::MESSAGE_TAGS), chat.reply_to) {
            if !tags.iter().any(|(k, _)| k == "+draft/reply") {
                tags.insert(0, ("+draft/reply".into(), Some(id.to_string())));
            }
        }
        // No two lines share a msgid (message-ids): only the first piece of a long message
        // carries it, as ergo does.
        let rest: Vec<(String, Option<String>)> =
            tags.iter().filter(|(k, _)| k != "msgid").cloned().collect();
        let pieces = if self.sender.one_line && !text.contains(['\n', '\r']) {
            // Sent as one IRC line, relayed as one, cut at a character boundary as IRC
            // servers do (the sender's address makes the line longer than the one it sent).
            vec![cut(text, room)]
        } else {
            split_text(text, room)
        };
        pieces
            .into_iter()
            .enumerate()
            .map(|(i, piece)| {
                let body = if action {
                    format!("\u{1}ACTION {piece}\u{1}")
                } else {
                    piece.to_string()
                };
                IrcMessage {
                    tags: if i == 0 { tags.clone() } else { rest.clone() },
                    source: Some(chat.source.to_string()),
                    command: chat.command.to_string(),
                    params: vec![chat.target.to_string(), body],
                }
            })
            .collect()
    }
}

/// One chat message to turn into PRIVMSG or NOTICE lines.
#[derive(Debug, Clone, Copy)]
pub struct Chat<'a> {
    pub source: &'a str,
    /// `PRIVMSG` or `NOTICE`.
    pub command: &'a str,
    pub target: &'a str,
    pub content: &'a str,
    pub timestamp: &'a str,
    pub id: Option<u64>,
    /// The message it answers (`+draft/reply`, for clients with message-tags).
    pub reply_to: Option<u64>,
}

/// The text of a Palaver message as IRC shows it: `/me waves` is a CTCP ACTION.
fn irc_text(content: &str) -> (bool, &str) {
    match content.strip_prefix("/me ") {
        Some(action) => (true, action),
        None => (false, content),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The text of an IRC message as Palaver stores it: a CTCP ACTION becomes `/me ...`.
pub fn palaver_text(text: &str) -> String {
    match text
        .strip_prefix("\u{1}ACTION ")
        .map(|t| t.strip_suffix('\u{1}').unwrap_or(t))
    {
        Some(action) => format!("/me {action}"),
        None => text.to_string(),
    }
}
