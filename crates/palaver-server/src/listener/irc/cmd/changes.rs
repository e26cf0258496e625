//! Reactions, edits, deletions and typing, as IRCv3 carries them.
//!
//! - A reaction is a `TAGMSG` with `+draft/react=<emoji>` (or `+draft/unreact`) and
//!   `+draft/reply=<msgid>`: sent, the hub takes it for a reaction (adding, or taking back:
//!   never a toggle, which IRC clients do not expect), or relays it as it came when no message
//!   here has that msgid; received, to clients with message-tags.
//! - A deletion is `REDACT <target> <msgid> [:reason]` (`draft/message-redaction`): sent, a
//!   `delete`; received, to clients with the capability (others see nothing).
//! - An edit has no IRCv3 specification. Palaver's convention: it reaches every IRC client as a
//!   new `PRIVMSG` with the new text after `* ` (as bridges write corrections), tagged
//!   `+draft/edit=<msgid>` for clients with message-tags; a `PRIVMSG` carrying
//!   `+draft/edit=<msgid>` is an `edit` of that message.
//! - `+typing` arrives as the `TAGMSG` it was for IRC senders; a native client's `typing` reaches
//!   IRC clients with message-tags as a `TAGMSG` with `+typing`.
//!
//! Like a PRIVMSG, one's own change comes back only with echo-message.

use palaver_proto::irc::IrcMessage;
use palaver_proto::message_changes::{ChangePlace, Deleted, Edited, Reaction};
use palaver_proto::{ClientFrame, ErrorCode, Request, ServerFrame, TypingState};
use serde_json::Value;

use super::{Refusal, Step, Waiting};
use crate::listener::irc::caps;
use crate::listener::irc::lines::{Chat, Lines};
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::channel;

/// `REDACT <target> <msgid> [:reason]`.
pub fn redact(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let target = msg.params[0].clone();
    let id_text = msg.params[1].clone();
    let token = r.begin(
        Redact {
            target,
            id_text: id_text.clone(),
        },
        label,
    );
    let Ok(id) = id_text.parse::<u64>() else {
        // No message has that msgid: answered like any unknown one.
        return vec![Reader::end(token)];
    };
    vec![
        Action::Hub(Request {
            frame: ClientFrame::Delete { id },
            reference: Some(Value::from(token)),
            client_tags: Vec::new(),
        }),
        Reader::end(token),
    ]
}

/// A REDACT waiting for its answer.
#[derive(Debug)]
pub struct Redact {
    target: String,
    id_text: String,
}

impl Waiting for Redact {
    fn name(&self) -> &'static str {
        "REDACT"
    }

    fn frame(&mut self, _lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        // The deletion itself arrives live (with echo-message); the ack ends nothing yet: the
        // closing pong does.
        matches!(frame, ServerFrame::Ack { .. }).then(|| Step::More(Vec::new()))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let context = [self.target.as_str(), self.id_text.as_str()];
        let line = match refusal.code {
            ErrorCode::NotAuthorized => lines.fail(
                "REDACT",
                "REDACT_FORBIDDEN",
                &context,
                "You may not delete that message",
            ),
            ErrorCode::UnknownMessage | ErrorCode::MessageDeleted => {
                lines.fail("REDACT", "UNKNOWN_MSGID", &context, "No such message")
            }
            _ => lines.fail_code("REDACT", refusal),
        };
        Step::More(vec![line])
    }

    fn end(&mut self, lines: &mut Lines) -> Vec<IrcMessage> {
        if self.id_text.parse::<u64>().is_err() {
            let context = [self.target.as_str(), self.id_text.as_str()];
            return vec![lines.fail("REDACT", "UNKNOWN_MSGID", &context, "No such message")];
        }
        Vec::new()
    }
}

/// Where a change is shown: the channel, or (private) the other side as this client sees it.
fn target_of(lines: &Lines, place: &ChangePlace) -> String {
    match (&place.room, &place.target) {
        (Some(room), _) => channel(room),
        (None, Some(other)) if lines.st.is_me(&place.username) => other.clone(),
        _ => lines.st.nick.clone(),
    }
}

/// Whether this client sees a change by `username`: someone else's, or its own with echo-message.
fn sees(lines: &Lines, username: &str) -> bool {
    !lines.st.is_me(username) || lines.has(caps::ECHO_MESSAGE)
}

/// A reaction: `TAGMSG` with `+draft/react` (or `+draft/unreact`) and `+draft/reply`.
pub fn reaction(lines: &mut Lines, r: &Reaction) -> Vec<IrcMessage> {
    if !lines.has(caps::MESSAGE_TAGS) || !sees(lines, &r.place.username) {
        return Vec::new();
    }
    let key = if r.added {
        "+draft/react"
    } else {
        "+draft/unreact"
    };
    let mut tags = vec![
        (key.to_string(), Some(r.emoji.clone())),
        ("+draft/reply".to_string(), Some(r.place.id.to_string())),
    ];
    tags.extend(lines.chat_tags(&r.place.timestamp, None));
    let line = IrcMessage {
        tags,
        source: Some(lines.source.to_string()),
        command: "TAGMSG".into(),
        params: vec![target_of(lines, &r.place)],
    };
    if !lines.st.is_me(&r.place.username) {
        return vec![line];
    }
    // One's own reaction is the echo of the TAGMSG that made it, as a plain TAGMSG's is.
    let to_me =
        r.place.room.is_none() && r.place.target.as_deref().is_some_and(|t| lines.st.is_me(t));
    super::message::own_tagmsg(lines, line, to_me)
}

/// An edit: the new text after `* `, with `+draft/edit` for clients with message-tags.
pub fn edited(lines: &mut Lines, e: &Edited) -> Vec<IrcMessage> {
    if e.content.is_empty() || !sees(lines, &e.place.username) {
        return Vec::new();
    }
    let target = target_of(lines, &e.place);
    let text = format!("* {}", e.content);
    let mut out = lines.chat_lines(Chat {
        source: lines.source,
        command: "PRIVMSG",
        target: &target,
        content: &text,
        timestamp: &e.place.timestamp,
        id: None,
        reply_to: None,
    });
    if lines.has(caps::MESSAGE_TAGS) {
        if let Some(first) = out.first_mut() {
            first
                .tags
                .insert(0, ("+draft/edit".into(), Some(e.place.id.to_string())));
        }
    }
    if !lines.st.is_me(&e.place.username) {
        return out;
    }
    // One's own edit with echo-message: the echo of the labeled PRIVMSG that made it.
    match lines.st.edit_echoes.pop_front() {
        Some(token) => lines.st.reply(Some(token), out),
        None => out,
    }
}

/// A deletion: `REDACT <target> <msgid>` to clients with `draft/message-redaction`.
pub fn deleted(lines: &mut Lines, d: &Deleted) -> Vec<IrcMessage> {
    if !lines.has(caps::MESSAGE_REDACTION) || !sees(lines, &d.place.username) {
        return Vec::new();
    }
    let mut line = IrcMessage::new(
        "REDACT",
        [target_of(lines, &d.place), d.place.id.to_string()],
    )
    .with_source(lines.source);
    line.tags = lines.chat_tags(&d.place.timestamp, None);
    vec![line]
}

/// A native client typing: `TAGMSG` with `+typing` to clients with message-tags.
pub fn typing(
    lines: &mut Lines,
    (room, target): (Option<&str>, Option<&str>),
    state: TypingState,
    timestamp: &str,
) -> Vec<IrcMessage> {
    if !lines.has(caps::MESSAGE_TAGS) {
        return Vec::new();
    }
    let to = match (room, target) {
        (Some(room), _) => channel(room),
        (None, Some(_)) => lines.st.nick.clone(),
        (None, None) => return Vec::new(),
    };
    let mut tags = vec![("+typing".to_string(), Some(state.as_str().to_string()))];
    tags.extend(lines.chat_tags(timestamp, None));
    vec![IrcMessage {
        tags,
        source: Some(lines.source.to_string()),
        command: "TAGMSG".into(),
        params: vec![to],
    }]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::testing::Harness;
    use super::*;
    use crate::hub::Outgoing;

    fn hub_request(actions: &[Action]) -> &ClientFrame {
        actions
            .iter()
            .find_map(|a| match a {
                Action::Hub(request) => Some(&request.frame),
                _ => None,
            })
            .expect("a hub request")
    }

    #[test]
    fn a_react_tagmsg_goes_to_the_hub_with_its_tags_which_reads_the_reaction() {
        use crate::hub::message_changes::tagged_reaction;
        let mut h = Harness::registered("alice");
        let sent = h.line("@+draft/react=👍;+draft/reply=42 TAGMSG #general");
        assert!(matches!(hub_request(&sent), ClientFrame::TagMessage { .. }));
        let mut tags = |line: &str| {
            let actions = h.line(line);
            actions
                .iter()
                .find_map(|a| match a {
                    Action::Hub(request) => Some(request.client_tags.clone()),
                    _ => None,
                })
                .expect("a hub request")
        };
        let react = tags("@+draft/react=👍;+draft/reply=42 TAGMSG #general");
        assert_eq!(tagged_reaction(&react), Some((42, "👍".into(), true)));
        let unreact = tags("@+draft/unreact=👍;+draft/reply=42 TAGMSG #general");
        assert_eq!(tagged_reaction(&unreact), Some((42, "👍".into(), false)));
        let typing = tags("@+typing=active TAGMSG #general");
        assert_eq!(tagged_reaction(&typing), None);
        let not_a_msgid = tags("@+draft/react=👍;+draft/reply=abc TAGMSG #general");
        assert_eq!(tagged_reaction(&not_a_msgid), None);
    }

    #[test]
    fn a_labeled_edit_ends_with_its_echo_and_an_unlabeled_one_ends_at_its_ack() {
        use crate::listener::irc::caps;
        let mut h = Harness::registered("me");
        for cap in [
            caps::ECHO_MESSAGE,
            caps::LABELED_RESPONSE,
            caps::MESSAGE_TAGS,
        ] {
            h.enable(cap);
        }
        let edited = |token: Option<u64>| {
            let place = ChangePlace {
                id: 5,
                seq: 9,
                room: Some("general".into()),
                target: None,
                username: "me".into(),
                timestamp: "2026-11-29T12:00:00.000Z".into(),
            };
            let _ = token;
            ServerFrame::Edited(Edited {
                place,
                content: "fixed".into(),
            })
        };
        let ack = |token: u64| ServerFrame::Ack {
            reference: serde_json::Value::from(token),
            id: 77,
            seq: 9,
            timestamp: "t".into(),
        };
        let token = h.ask("@label=L1;+draft/edit=5 PRIVMSG #general :fixed");
        assert!(h.frame(ack(token)).is_empty(), "held for the label");
        assert!(
            h.frame(edited(Some(token))).is_empty(),
            "the echo joins the reply"
        );
        let reply = h.pong(token);
        assert_eq!(reply.len(), 1, "{reply:?}");
        assert!(reply[0].starts_with("@label=L1;+draft/edit=5"), "{reply:?}");
        assert!(reply[0].ends_with("PRIVMSG #general :* fixed"), "{reply:?}");
        // Without a label: done at the ack; the echo is a plain line.
        let token = h.ask("@+draft/edit=5 PRIVMSG #general :fixed");
        assert!(h.frame(ack(token)).is_empty());
        let echo = h.frame(edited(None));
        assert_eq!(echo.len(), 1);
        assert!(!echo[0].contains("label"), "{echo:?}");
    }

    #[test]
    fn redact_asks_for_a_deletion_and_maps_refusals() {
        let mut h = Harness::registered("alice");
        let sent = h.line("REDACT #general 42 :oops");
        assert_eq!(hub_request(&sent), &ClientFrame::Delete { id: 42 });
        let token = h.token_of(&sent[0]);
        let out = h.refusal(ErrorCode::NotAuthorized, None, token);
        assert!(
            out.iter()
                .any(|l| l.contains("FAIL REDACT REDACT_FORBIDDEN #general 42")),
            "{out:?}"
        );
        let sent = h.line("REDACT #general nonsense");
        assert!(sent.iter().all(|a| !matches!(
            a,
            Action::Hub(Request {
                frame: ClientFrame::Delete { .. },
                ..
            })
        )));
    }

    fn place(username: &str) -> ChangePlace {
        ChangePlace {
            id: 42,
            seq: 7,
            room: Some("general".into()),
            target: None,
            username: username.into(),
            timestamp: "2026-11-29T12:00:00.000Z".into(),
        }
    }

    fn from(h: &Harness, who: &str, frame: ServerFrame) -> Vec<String> {
        let source = format!("{who}!~{who}@native.palaver");
        h.outgoing(&Outgoing::message(frame, Arc::from(source), None))
    }

    #[test]
    fn changes_reach_irc_clients_as_ircv3_has_them() {
        let mut h = Harness::registered("alice");
        let reaction = ServerFrame::Reaction(Reaction {
            place: place("bob"),
            emoji: "🎉".into(),
            added: true,
        });
        assert!(
            from(&h, "bob", reaction.clone()).is_empty(),
            "not without message-tags"
        );
        let edit = ServerFrame::Edited(Edited {
            place: place("bob"),
            content: "fixed typo".into(),
        });
        let plain = from(&h, "bob", edit.clone());
        assert_eq!(
            plain,
            [":bob!~bob@native.palaver PRIVMSG #general :* fixed typo"]
        );
        let deletion = ServerFrame::Deleted(Deleted {
            place: place("bob"),
        });
        assert!(from(&h, "bob", deletion.clone()).is_empty());

        h.enable(caps::MESSAGE_TAGS);
        h.enable(caps::MESSAGE_REDACTION);
        let lines = from(&h, "bob", reaction);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("@+draft/react=🎉;+draft/reply=42;"),
            "{lines:?}"
        );
        assert!(
            lines[0].ends_with(" :bob!~bob@native.palaver TAGMSG #general"),
            "{lines:?}"
        );
        let lines = from(&h, "bob", edit);
        assert!(lines[0].starts_with("@+draft/edit=42;"), "{lines:?}");
        let lines = from(&h, "bob", deletion);
        assert!(
            lines[0].ends_with(":bob!~bob@native.palaver REDACT #general 42"),
            "{lines:?}"
        );
        let own = ServerFrame::Reaction(Reaction {
            place: place("alice"),
            emoji: "🎉".into(),
            added: false,
        });
        assert!(
            from(&h, "alice", own.clone()).is_empty(),
            "one's own only with echo-message"
        );
        h.enable(caps::ECHO_MESSAGE);
        assert!(from(&h, "alice", own)[0].starts_with("@+draft/unreact=🎉"));
    }
}
