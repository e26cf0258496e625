//! `CHATHISTORY` (draft/chathistory): `LATEST <target> *|msgid=<id> <limit>` and
//! `BEFORE <target> msgid=<id> <limit>` for channels you are in and your private conversations,
//! from the same store as the native `history`, in a `chathistory` batch.
//!
//! Its reply closes the command: history pages are read off the hub's task, so a closing ping
//! could overtake them.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ChatMessage, ClientFrame, ErrorCode, ServerFrame};

use super::{Refusal, Step, Waiting};
use crate::hub::session::User;
use crate::listener::irc::caps;
use crate::listener::irc::lines::{Chat, Lines};
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::channel;

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let p = &msg.params;
    let fail = |r: &Reader, code: &str, text: &str| {
        let mut params: Vec<String> = vec!["CHATHISTORY".into(), code.into()];
        params.extend(p.iter().take(2).cloned());
        params.push(text.into());
        let line = r.from_server("FAIL", params);
        r.reply(label.clone(), vec![line])
    };
    if p.len() < 4 {
        return fail(r, "INVALID_PARAMS", "Not enough parameters");
    }
    let sub = p[0].to_ascii_uppercase();
    let target = p[1].clone();
    let limit: u32 = match p[3].parse() {
        Ok(l) if l > 0 => l,
        _ => return fail(r, "INVALID_PARAMS", "Invalid limit"),
    };
    let msgid = p[2]
        .strip_prefix("msgid=")
        .and_then(|id| id.parse::<u64>().ok());
    let before = match (sub.as_str(), p[2].as_str(), msgid) {
        ("LATEST", "*", _) | ("LATEST", _, Some(_)) => None,
        ("BEFORE", _, Some(id)) => Some(id),
        ("BEFORE", _, None) => {
            return fail(
                r,
                "INVALID_MSGREFTYPE",
                "Only msgid references are supported",
            )
        }
        _ => {
            return fail(
                r,
                "INVALID_PARAMS",
                "Supported: LATEST <target> *|msgid=<id> <limit> and BEFORE <target> msgid=<id> <limit>",
            )
        }
    };
    let (room, with) = match target.strip_prefix('#') {
        Some(room) => (Some(room.to_string()), None),
        None => (None, Some(target.clone())),
    };
    // LATEST msgid=X: the newest messages, but only those after X.
    let after_id = msgid.filter(|_| sub == "LATEST");
    let token = r.begin(ChatHistory { target }, label.clone());
    vec![Reader::request(
        token,
        ClientFrame::History {
            room,
            with,
            before: None,
            before_id: before,
            after_id,
            limit: Some(limit),
        },
    )]
}

#[derive(Debug)]
pub struct ChatHistory {
    target: String,
}

impl Waiting for ChatHistory {
    fn name(&self) -> &'static str {
        "CHATHISTORY"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::History { messages, .. } = frame else {
            return None;
        };
        Some(Step::Done(batch(lines, &self.target, messages)))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let line = match refusal.code {
            ErrorCode::NotInRoom | ErrorCode::UnknownRoom | ErrorCode::InvalidUsername => lines
                .fail(
                    "CHATHISTORY",
                    "INVALID_TARGET",
                    &["*", &self.target],
                    refusal.message,
                ),
            _ => lines.fail_code("CHATHISTORY", refusal),
        };
        Step::Done(vec![line])
    }
}

/// Stored messages as PRIVMSG lines in a `chathistory` batch (with batch), each with its
/// sender's address, time and msgid.
pub fn batch(lines: &mut Lines, target: &str, messages: &[ChatMessage]) -> Vec<IrcMessage> {
    let batch = lines.has(caps::BATCH).then(|| lines.st.next_batch());
    let mut out = Vec::new();
    if let Some(id) = &batch {
        out.push(lines.from_server(
            "BATCH",
            [format!("+{id}"), "chathistory".into(), target.to_string()],
        ));
    }
    for m in messages {
        let (sender, to, content, timestamp, id) = match m {
            ChatMessage::Message(m) => (
                &m.username,
                channel(&m.room),
                &m.content,
                &m.timestamp,
                m.id,
            ),
            ChatMessage::PrivateMessage(m) => {
                (&m.sender, m.target.clone(), &m.content, &m.timestamp, m.id)
            }
        };
        let source = User::address_of_name(sender);
        let chat = Chat {
            source: &source,
            command: "PRIVMSG",
            target: &to,
            content,
            timestamp,
            id: Some(id),
        };
        for mut line in lines.chat_lines(chat) {
            if let Some(b) = &batch {
                line.tags.insert(0, ("batch".into(), Some(b.clone())));
            }
            out.push(line);
        }
    }
    if let Some(id) = &batch {
        out.push(lines.from_server("BATCH", [format!("-{id}")]));
    }
    out
}
