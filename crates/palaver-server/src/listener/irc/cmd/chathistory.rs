//! `CHATHISTORY` (draft/chathistory): `LATEST <target> *|msgid=<id> <limit>`,
//! `BEFORE|AFTER|AROUND <target> msgid=<id> <limit>` and `BETWEEN <target> msgid=<a> msgid=<b>
//! <limit>` (from the first reference towards the second) for channels you are in and your
//! private conversations, from the same store and per-conversation order as the native
//! `history`, in a `chathistory` batch. References are msgids (`MSGREFTYPES=msgid`).
//! `TARGETS timestamp=<a> timestamp=<b> <limit>` lists the conversations with news between two
//! times (the native `conversations`).
//!
//! Its reply closes the command: history pages are read off the hub's task, so a closing ping
//! could overtake them.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{timestamp, ChatMessage, ClientFrame, ErrorCode, ServerFrame};

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
    let sub = p
        .first()
        .map(|s| s.to_ascii_uppercase())
        .unwrap_or_default();
    if sub == "TARGETS" {
        return targets(r, msg, label);
    }
    let wanted = if sub == "BETWEEN" { 5 } else { 4 };
    if p.len() < wanted {
        return fail(r, "INVALID_PARAMS", "Not enough parameters");
    }
    let target = p[1].clone();
    let limit: u32 = match p[wanted - 1].parse() {
        Ok(l) if l > 0 => l,
        _ => return fail(r, "INVALID_PARAMS", "Invalid limit"),
    };
    let reference = |text: &str| -> Result<Option<u64>, &'static str> {
        if text == "*" {
            return Ok(None);
        }
        match text.strip_prefix("msgid=").map(str::parse::<u64>) {
            Some(Ok(id)) => Ok(Some(id)),
            _ => Err("Only msgid references are supported (MSGREFTYPES=msgid)"),
        }
    };
    let first = match reference(&p[2]) {
        Ok(id) => id,
        Err(text) => return fail(r, "INVALID_MSGREFTYPE", text),
    };
    let mut read = Read::default();
    match (sub.as_str(), first) {
        // The newest, after the reference if there is one.
        ("LATEST", after) => read.after_id = after,
        ("BEFORE", Some(id)) => read.before_id = Some(id),
        ("AFTER", Some(id)) => {
            read.after_id = Some(id);
            read.oldest_first = true;
        }
        ("AROUND", Some(id)) => read.around_id = Some(id),
        ("BETWEEN", Some(a)) => {
            let Ok(Some(b)) = reference(&p[3]) else {
                return fail(
                    r,
                    "INVALID_MSGREFTYPE",
                    "BETWEEN takes two msgid references",
                );
            };
            // From the first reference towards the second (ids grow with time).
            read.after_id = Some(a.min(b));
            read.before_id = Some(a.max(b));
            read.oldest_first = a < b;
        }
        ("BEFORE" | "AFTER" | "AROUND", None) => {
            return fail(
                r,
                "INVALID_PARAMS",
                "This subcommand needs a msgid reference",
            )
        }
        _ => {
            return fail(
                r,
                "INVALID_PARAMS",
                "Supported: LATEST, BEFORE, AFTER, AROUND and BETWEEN, with msgid references",
            )
        }
    }
    let (room, with) = match target.strip_prefix('#') {
        Some(room) => (Some(room.to_string()), None),
        None => (None, Some(target.clone())),
    };
    let waiting = ChatHistory {
        subcommand: sub,
        target,
    };
    let token = r.begin(waiting, label.clone());
    vec![Reader::request(
        token,
        ClientFrame::History {
            room,
            with,
            before: None,
            before_id: read.before_id,
            after_id: read.after_id,
            around_id: read.around_id,
            oldest_first: read.oldest_first,
            limit: Some(limit),
        },
    )]
}

/// `CHATHISTORY TARGETS timestamp=<a> timestamp=<b> <limit>`: the channels you are in and the
/// people you talked with privately whose newest message is between the two times (both
/// excluded), oldest first, in a `draft/chathistory-targets` batch.
fn targets(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let p = &msg.params;
    let fail = |r: &Reader, code: &str, text: &str| {
        let line = r.from_server("FAIL", ["CHATHISTORY", code, "TARGETS", text]);
        r.reply(label.clone(), vec![line])
    };
    if p.len() < 4 {
        return fail(r, "INVALID_PARAMS", "Not enough parameters");
    }
    let time = |text: &str| {
        let t = text.strip_prefix("timestamp=")?;
        timestamp::parse_millis(t).map(|ms| (ms, t.to_string()))
    };
    let (Some(a), Some(b)) = (time(&p[1]), time(&p[2])) else {
        return fail(
            r,
            "INVALID_PARAMS",
            "TARGETS takes two timestamp= references",
        );
    };
    let limit: u32 = match p[3].parse() {
        Ok(l) if l > 0 => l,
        _ => return fail(r, "INVALID_PARAMS", "Invalid limit"),
    };
    let (after, before) = if a.0 <= b.0 { (a.1, b.1) } else { (b.1, a.1) };
    let token = r.begin(Targets, label);
    vec![Reader::request(
        token,
        ClientFrame::Conversations {
            after: Some(after),
            before: Some(before),
            limit: Some(limit),
        },
    )]
}

/// CHATHISTORY TARGETS waiting for the conversations.
#[derive(Debug)]
pub struct Targets;

impl Waiting for Targets {
    fn name(&self) -> &'static str {
        "CHATHISTORY"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Conversations { conversations, .. } = frame else {
            return None;
        };
        let batch = lines.has(caps::BATCH).then(|| lines.st.next_batch());
        let mut out = Vec::new();
        if let Some(id) = &batch {
            out.push(lines.from_server(
                "BATCH",
                [format!("+{id}"), "draft/chathistory-targets".into()],
            ));
        }
        for c in conversations {
            let target = match (&c.room, &c.with) {
                (Some(room), _) => channel(room),
                (None, Some(with)) => with.clone(),
                (None, None) => continue,
            };
            let mut line = lines.from_server(
                "CHATHISTORY",
                ["TARGETS".to_string(), target, c.last.clone()],
            );
            if let Some(b) = &batch {
                line.tags.insert(0, ("batch".into(), Some(b.clone())));
            }
            out.push(line);
        }
        if let Some(id) = &batch {
            out.push(lines.from_server("BATCH", [format!("-{id}")]));
        }
        Some(Step::Done(out))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        Step::Done(vec![lines.fail_code("CHATHISTORY", refusal)])
    }
}

/// What a CHATHISTORY subcommand reads, as the history request's bounds.
#[derive(Debug, Default)]
struct Read {
    before_id: Option<u64>,
    after_id: Option<u64>,
    around_id: Option<u64>,
    oldest_first: bool,
}

#[derive(Debug)]
pub struct ChatHistory {
    subcommand: String,
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
                    &[&self.subcommand, &self.target],
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
        let (sender, to, content, timestamp, id, state) = match m {
            ChatMessage::Message(m) => (
                &m.username,
                channel(&m.room),
                &m.content,
                &m.timestamp,
                m.id,
                &m.state,
            ),
            ChatMessage::PrivateMessage(m) => (
                &m.sender,
                m.target.clone(),
                &m.content,
                &m.timestamp,
                m.id,
                &m.state,
            ),
            // History holds messages only, as they are now.
            ChatMessage::Reaction(_) | ChatMessage::Edited(_) | ChatMessage::Deleted(_) => continue,
        };
        if state.deleted {
            // A deleted message is not replayed to IRC clients (as ergo does with redactions).
            continue;
        }
        let source = User::address_of_name(sender);
        let content = super::message::with_files(lines, content, state);
        let chat = Chat {
            reply_to: state.reply_to,
            source: &source,
            command: "PRIVMSG",
            target: &to,
            content: &content,
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

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use crate::listener::irc::reader::Action;
    use palaver_proto::ClientFrame;

    fn read(h: &mut Harness, line: &str) -> (Option<u64>, Option<u64>, Option<u64>, bool) {
        let actions = h.line(line);
        match &actions[..] {
            [Action::Hub(request)] => match &request.frame {
                ClientFrame::History {
                    before_id,
                    after_id,
                    around_id,
                    oldest_first,
                    ..
                } => (*before_id, *after_id, *around_id, *oldest_first),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_subcommand_reads_its_bounds_in_its_direction() {
        let mut h = Harness::registered("me");
        assert_eq!(
            read(&mut h, "CHATHISTORY LATEST #a * 10"),
            (None, None, None, false)
        );
        assert_eq!(
            read(&mut h, "CHATHISTORY AFTER #a msgid=7 10"),
            (None, Some(7), None, true)
        );
        assert_eq!(
            read(&mut h, "CHATHISTORY AROUND bob msgid=7 3"),
            (None, None, Some(7), false)
        );
        assert_eq!(
            read(&mut h, "CHATHISTORY BETWEEN #a msgid=3 msgid=9 10"),
            (Some(9), Some(3), None, true)
        );
        assert_eq!(
            read(&mut h, "CHATHISTORY BETWEEN #a msgid=9 msgid=3 10"),
            (Some(9), Some(3), None, false),
            "backwards from the first reference"
        );
        let actions = h.line("CHATHISTORY AFTER #a timestamp=2026-01-01T00:00:00Z 10");
        assert!(h.replies(&actions)[0].contains("INVALID_MSGREFTYPE"));
    }
}
