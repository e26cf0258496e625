//! `PRIVMSG`, `NOTICE` and `TAGMSG`, and how messages look to an IRC client.
//!
//! `PRIVMSG #room,nick :text` sends a public or private message to up to four targets (404 when
//! not a member, 403 when the room does not exist, 401 for no such nick, 411/412 for no target or
//! text); with echo-message your own message comes back with its msgid and time. A reply that
//! covers several targets, or is labeled, ends at the closing `pong` (after every target's ack);
//! else at the ack or echo. `NOTICE` is relayed live, never stored and never answered with an
//! error. `TAGMSG` carries only client-only tags (`+typing`, `+draft/react`).
//!
//! A message longer than an IRC line (or with newlines) reaches IRC clients as several lines,
//! cut at character boundaries, with its msgid on the first only.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ClientFrame, ErrorCode, PrivateMessage, PublicMessage, Request, ServerFrame};
use serde_json::Value;

use super::{Refusal, Step, Waiting};
use crate::listener::irc::caps;
use crate::listener::irc::lines::{palaver_text, Chat, Lines};
use crate::listener::irc::numeric::{Numeric, Reply};
use crate::listener::irc::reader::{client_tags, Action, Reader};
use crate::listener::irc::state::channel;
use crate::listener::irc::translate::apply;

/// At most this many targets per PRIVMSG or NOTICE (ISUPPORT `TARGMAX`).
pub const MAX_TARGETS: usize = 4;

pub fn privmsg(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    send(r, msg, label, false)
}

pub fn notice(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    send(r, msg, label, true)
}

fn send(r: &mut Reader, msg: &IrcMessage, label: Option<String>, notice: bool) -> Vec<Action> {
    let p = &msg.params;
    let command = if notice { "NOTICE" } else { "PRIVMSG" };
    let Some(targets) = p.first().filter(|t| !t.is_empty()) else {
        if notice {
            return Vec::new();
        }
        return r.reply_num(
            label,
            Numeric::ERR_NORECIPIENT,
            [format!("No recipient given ({command})")],
        );
    };
    let Some(text) = p.get(1).filter(|t| !t.is_empty()) else {
        if notice {
            return Vec::new();
        }
        return r.reply_num(label, Numeric::ERR_NOTEXTTOSEND, ["No text to send"]);
    };
    // IRC's formatting codes become the apps' rich text; what IRC users type stays as typed.
    let content = palaver_proto::rich_text::from_irc(&palaver_text(text));
    let tags = client_tags(msg);
    let editing = msg
        .tag("+draft/edit")
        .flatten()
        .and_then(|id| id.parse::<u64>().ok());
    // `+draft/reply=<msgid>`: an answer to that message (a msgid is a message's id).
    let reply_to = msg
        .tag("+draft/reply")
        .flatten()
        .and_then(|id| id.parse::<u64>().ok());
    let with_tags = |token: u64, frame: ClientFrame| {
        Action::Hub(Request {
            frame,
            reference: Some(Value::from(token)),
            client_tags: tags.clone(),
        })
    };
    let targets: Vec<&str> = targets
        .split(',')
        .filter(|t| !t.is_empty())
        .take(MAX_TARGETS)
        .collect();
    let mut actions = Vec::new();
    let mut label = label;
    if notice {
        for target in targets {
            let token = r.begin(Notice, label.take());
            let (room, target) = split_target(target);
            let frame = ClientFrame::Notice {
                content: content.clone(),
                room,
                target,
            };
            actions.push(with_tags(token, frame));
            actions.push(Reader::end(token));
        }
        return actions;
    }
    // One reply for all targets when it must be labeled or covers several targets.
    let shared = (label.is_some() || targets.len() > 1).then(|| {
        let waiting = Privmsg {
            target: targets.first().copied().unwrap_or_default().to_string(),
            closes_on_pong: true,
            editing: editing.is_some(),
        };
        r.begin(waiting, label.take())
    });
    for target in targets {
        let token = shared.unwrap_or_else(|| {
            let waiting = Privmsg {
                target: target.to_string(),
                closes_on_pong: false,
                editing: editing.is_some(),
            };
            r.begin(waiting, label.take())
        });
        let frame = match split_target(target) {
            // `+draft/edit=<msgid>`: the new text of that message (see `changes.rs`).
            _ if editing.is_some() => ClientFrame::Edit {
                id: editing.unwrap_or_default(),
                content: content.clone(),
            },
            (Some(room), _) => ClientFrame::Message {
                content: content.clone(),
                room: Some(room),
                reply_to,
                attachments: Vec::new(),
            },
            (None, _) => ClientFrame::PrivateMessage {
                target: target.to_string(),
                content: content.clone(),
                reply_to,
                attachments: Vec::new(),
            },
        };
        actions.push(with_tags(token, frame));
    }
    actions.extend(shared.map(Reader::end));
    actions
}

/// `#room` is a room, anything else a nick.
fn split_target(target: &str) -> (Option<String>, Option<String>) {
    match target.strip_prefix('#') {
        Some(room) => (Some(room.to_string()), None),
        None => (None, Some(target.to_string())),
    }
}

/// PRIVMSG waiting for its acks (and, with echo-message, its echoes).
#[derive(Debug)]
pub struct Privmsg {
    /// The target (the first, with several).
    target: String,
    /// Several targets or a label: the reply ends at the closing `pong` (after every target's
    /// ack), not at the first ack.
    closes_on_pong: bool,
    /// An edit (`+draft/edit`): its echo is the `edited` line (see `changes.rs`), which carries
    /// the label when the command has one.
    editing: bool,
}

impl Privmsg {
    fn step(&self, lines: Vec<IrcMessage>) -> Step {
        if self.closes_on_pong {
            Step::More(lines)
        } else {
            Step::Done(lines)
        }
    }
}

impl Waiting for Privmsg {
    fn name(&self) -> &'static str {
        "PRIVMSG"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        match frame {
            ServerFrame::PrivateConfirmation {
                id: Some(id),
                target,
                content,
                delivered: true,
                timestamp,
                ..
            } => {
                let echo = if lines.has(caps::ECHO_MESSAGE) {
                    lines.chat_lines(Chat {
                        reply_to: None,
                        source: lines.source,
                        command: "PRIVMSG",
                        target,
                        content,
                        timestamp,
                        id: Some(*id),
                    })
                } else {
                    Vec::new()
                };
                Some(self.step(echo))
            }
            ServerFrame::PrivateConfirmation { .. } => Some(Step::More(Vec::new())),
            ServerFrame::Ack { .. } if self.editing => {
                // The edit's echo arrives as `edited`, before the closing pong.
                if self.closes_on_pong && lines.has(caps::ECHO_MESSAGE) {
                    let token = lines.token?;
                    let echoes = &mut lines.st.edit_echoes;
                    echoes.push_back(token);
                    if echoes.len() > 64 {
                        echoes.pop_front();
                    }
                }
                Some(self.step(Vec::new()))
            }
            ServerFrame::Ack { id, .. } => {
                if !lines.has(caps::ECHO_MESSAGE) {
                    return Some(self.step(Vec::new()));
                }
                // The echo follows; it carries the label and ends the command.
                let token = lines.token?;
                let echoes = &mut lines.st.echo_labels;
                echoes.push_back((*id, token, self.closes_on_pong));
                if echoes.len() > 64 {
                    echoes.pop_front();
                }
                Some(Step::More(Vec::new()))
            }
            // Messaging someone away: 301, and the message still went.
            ServerFrame::Away {
                username,
                message: Some(text),
                ..
            } if !lines.st.is_me(username) => {
                let line = lines.num(Numeric::RPL_AWAY, [username.as_str(), text.as_str()]);
                Some(Step::More(vec![line]))
            }
            _ => None,
        }
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        // With several targets, the refusal's subject is the one at fault.
        let nick = refusal.nick_or(&self.target);
        let chan = refusal.channel_or(&self.target);
        let line = match refusal.code {
            ErrorCode::UnknownUser | ErrorCode::InvalidUsername => {
                lines.line(Reply::no_such_nick(nick.as_str()))
            }
            ErrorCode::UnknownRoom | ErrorCode::InvalidRoomName => {
                lines.line(Reply::no_such_channel(chan.as_str()))
            }
            ErrorCode::NotInRoom | ErrorCode::Moderated | ErrorCode::BannedFromRoom => {
                lines.line(Reply::cannot_send(chan.as_str()))
            }
            ErrorCode::EmptyContent => lines.num(Numeric::ERR_NOTEXTTOSEND, ["No text to send"]),
            _ => lines.fail_code("PRIVMSG", refusal),
        };
        self.step(vec![line])
    }
}

/// NOTICE waiting for its closing `pong` (a notice is never answered with an error).
#[derive(Debug)]
pub struct Notice;

impl Waiting for Notice {
    fn name(&self) -> &'static str {
        "NOTICE"
    }

    fn refused(&mut self, _: &mut Lines, _: Refusal) -> Step {
        Step::More(Vec::new())
    }
}

/// `TAGMSG target`: the line's client-only tags to the target, nothing stored.
pub fn tagmsg(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let Some(target) = msg.params.first().filter(|t| !t.is_empty()) else {
        return r.reply_num(
            label,
            Numeric::ERR_NORECIPIENT,
            ["No recipient given (TAGMSG)"],
        );
    };
    let (room, target) = split_target(target);
    let token = r.begin(TagMsg, label);
    // A reaction (`+draft/react`) is recognised by the hub: stored and shown to everyone.
    let frame = ClientFrame::TagMessage { room, target };
    let mut request = Request {
        frame,
        reference: Some(Value::from(token)),
        client_tags: client_tags(msg),
    };
    if request.client_tags.is_empty() {
        // Nothing to relay: just the (labeled) acknowledgement.
        request.frame = ClientFrame::Ping;
    }
    vec![Action::Hub(request), Reader::end(token)]
}

#[derive(Debug)]
pub struct TagMsg;

impl Waiting for TagMsg {
    fn name(&self) -> &'static str {
        "TAGMSG"
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let line = match refusal.code {
            ErrorCode::UnknownUser => {
                lines.line(Reply::no_such_nick(refusal.nick_or("*").as_str()))
            }
            ErrorCode::NotInRoom | ErrorCode::Moderated | ErrorCode::BannedFromRoom => {
                lines.line(Reply::cannot_send(refusal.channel_or("*").as_str()))
            }
            _ => lines.fail_code("TAGMSG", refusal),
        };
        Step::More(vec![line])
    }
}

/// A message's text as IRC users get it: the files sent with it follow as links,
/// `[cat.png, 12 KiB: http://.../files/...]`.
pub fn with_files<'a>(
    lines: &Lines,
    content: &'a str,
    state: &palaver_proto::message_changes::MessageState,
) -> std::borrow::Cow<'a, str> {
    if state.attachments.is_empty() {
        return std::borrow::Cow::Borrowed(content);
    }
    let base = lines.server.http_base.as_deref().unwrap_or_default();
    let files: Vec<String> = state
        .attachments
        .iter()
        .map(|a| {
            let name = palaver_proto::rich_text::escape(&a.name);
            format!("\\[{name}, {}: {base}{}]", human_size(a.size), a.url)
        })
        .collect();
    let text = match content.is_empty() {
        true => files.join(" "),
        false => format!("{content} {}", files.join(" ")),
    };
    std::borrow::Cow::Owned(text)
}

/// `12 KiB`, `3.4 MiB`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{} KiB", b / 1024),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// A public message: PRIVMSG to the channel; our own only as an echo (with echo-message), which
/// carries the label of the PRIVMSG that sent it and ends it.
pub fn public(lines: &mut Lines, m: &PublicMessage) -> Vec<IrcMessage> {
    let content = with_files(lines, &m.content, &m.state);
    let out = lines.chat_lines(Chat {
        source: lines.source,
        command: "PRIVMSG",
        target: &channel(&m.room),
        content: &content,
        timestamp: &m.timestamp,
        id: Some(m.id),
        reply_to: m.state.reply_to,
    });
    if !lines.st.is_me(&m.username) {
        return out;
    }
    if !lines.has(caps::ECHO_MESSAGE) {
        return Vec::new();
    }
    let found = lines.st.echo_labels.iter().position(|(id, ..)| *id == m.id);
    let Some(index) = found else {
        return out;
    };
    let (_, token, closes_on_pong) = lines.st.echo_labels.remove(index).expect("found");
    let step = if closes_on_pong {
        Step::More(out)
    } else {
        Step::Done(out)
    };
    apply(lines, token, step)
}

/// A private message to us.
pub fn private(lines: &mut Lines, m: &PrivateMessage) -> Vec<IrcMessage> {
    let me = lines.st.nick.clone();
    let content = with_files(lines, &m.content, &m.state);
    lines.chat_lines(Chat {
        source: lines.source,
        command: "PRIVMSG",
        target: &me,
        content: &content,
        timestamp: &m.timestamp,
        id: Some(m.id),
        reply_to: m.state.reply_to,
    })
}

/// A private message this user sent from another of its connections, shown as its echo.
pub fn sent_elsewhere(
    lines: &mut Lines,
    target: &str,
    content: &str,
    timestamp: &str,
    id: u64,
    state: &palaver_proto::message_changes::MessageState,
) -> Vec<IrcMessage> {
    let content = with_files(lines, content, state);
    lines.chat_lines(Chat {
        source: lines.source,
        command: "PRIVMSG",
        target,
        content: &content,
        timestamp,
        id: Some(id),
        reply_to: state.reply_to,
    })
}

/// A notice, ours (as an echo, the reply to the oldest NOTICE still open) or someone's.
pub fn notice_seen(
    lines: &mut Lines,
    room: Option<&str>,
    target: Option<&str>,
    username: &str,
    content: &str,
    timestamp: &str,
) -> Vec<IrcMessage> {
    let mine = lines.st.is_me(username);
    let to = match (room, target) {
        (Some(room), _) => channel(room),
        (None, Some(target)) => target.to_string(),
        (None, None) => return Vec::new(),
    };
    let to_me = target.is_some_and(|t| lines.st.is_me(t));
    let echo = lines.has(caps::ECHO_MESSAGE);
    if mine && !to_me && !echo {
        return Vec::new();
    }
    let out = lines.chat_lines(Chat {
        reply_to: None,
        source: lines.source,
        command: "NOTICE",
        target: &to,
        content,
        timestamp,
        id: None,
    });
    if !mine {
        return out;
    }
    // A notice to yourself arrives as a notice, and then as its echo.
    let mut now = if to_me && echo {
        out.clone()
    } else {
        Vec::new()
    };
    let token = lines.st.oldest_waiting(&["NOTICE", "TAGMSG"]);
    now.extend(lines.st.reply(token, out));
    now
}

/// A TAGMSG, to clients with message-tags; ours only as an echo.
pub fn tagmsg_seen(
    lines: &mut Lines,
    room: Option<&str>,
    target: Option<&str>,
    username: &str,
    timestamp: &str,
) -> Vec<IrcMessage> {
    if !lines.has(caps::MESSAGE_TAGS) {
        return Vec::new();
    }
    let mine = lines.st.is_me(username);
    if mine && !lines.has(caps::ECHO_MESSAGE) {
        return Vec::new();
    }
    let to = match (room, target) {
        (Some(room), _) => channel(room),
        (None, Some(target)) => target.to_string(),
        (None, None) => return Vec::new(),
    };
    let mut tags: Vec<(String, Option<String>)> = lines.client_tags.to_vec();
    tags.push(("time".into(), Some(timestamp.to_string())));
    if let Some(seq) = lines.event {
        tags.push(("msgid".into(), Some(format!("t{seq}"))));
    }
    lines.push_account_tag(&mut tags);
    let line = IrcMessage {
        tags,
        source: Some(lines.source.to_string()),
        command: "TAGMSG".into(),
        params: vec![to],
    };
    if !mine {
        return vec![line];
    }
    let to_me = target.is_some_and(|t| lines.st.is_me(t));
    own_tagmsg(lines, line, to_me)
}

/// One's own TAGMSG (a reaction too) coming back: the echo of the oldest TAGMSG still open,
/// with its label; sent to oneself, it arrives first as a TAGMSG too.
pub fn own_tagmsg(lines: &mut Lines, line: IrcMessage, to_me: bool) -> Vec<IrcMessage> {
    let mut now = if to_me {
        vec![line.clone()]
    } else {
        Vec::new()
    };
    let token = lines.st.oldest_waiting(&["TAGMSG"]);
    now.extend(lines.st.reply(token, vec![line]));
    now
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use palaver_proto::ErrorCode;

    #[test]
    fn refusals_name_the_target_at_fault_whatever_the_sentence_says() {
        let mut h = Harness::registered("me");
        let actions = h.line("PRIVMSG bob,#rust :hi");
        assert_eq!(
            h.hub_frames(&actions),
            ["private_message bob", "message rust", "ping"]
        );
        let token = h.token_of(&actions[0]);
        assert_eq!(
            h.refusal(ErrorCode::UnknownUser, Some("bob"), token),
            [":srv 401 me bob :No such nick/channel"]
        );
        assert_eq!(
            h.refusal(ErrorCode::NotInRoom, Some("rust"), token),
            [":srv 404 me #rust :Cannot send to channel"]
        );
    }

    #[test]
    fn a_long_message_split_over_lines_has_its_msgid_on_the_first_line_only() {
        let mut h = Harness::registered("me");
        h.enable(crate::listener::irc::caps::MESSAGE_TAGS);
        let content = "word ".repeat(300);
        let sent = h.public_message("bob", "general", content.trim_end(), 42);
        assert!(sent.len() > 1, "split: {sent:?}");
        assert!(sent[0].contains("msgid=42"), "{}", sent[0]);
        assert!(sent[1..].iter().all(|l| !l.contains("msgid")), "{sent:?}");
        assert!(sent.iter().all(|l| l.len() <= 512 + 200), "{sent:?}");
    }

    #[test]
    fn missing_target_or_text_is_411_or_412_and_a_notice_is_never_answered() {
        let mut h = Harness::registered("me");
        let actions = h.line("PRIVMSG #a");
        assert_eq!(h.replies(&actions), [":srv 412 me :No text to send"]);
        let actions = h.line("PRIVMSG");
        assert_eq!(
            h.replies(&actions),
            [":srv 411 me :No recipient given (PRIVMSG)"]
        );
        assert!(h.line("NOTICE").is_empty());
        let actions = h.line("NOTICE nobody :hi");
        let token = h.token_of(&actions[0]);
        assert!(h
            .refusal(ErrorCode::UnknownUser, Some("nobody"), token)
            .is_empty());
    }
}
