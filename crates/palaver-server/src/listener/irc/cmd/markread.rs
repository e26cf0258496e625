//! `MARKREAD <target> [timestamp=<time>]` (IRCv3 `draft/read-marker`): how far this user has
//! read a channel or a private conversation, shared by all of the user's connections.
//!
//! With a timestamp it is a `mark_read` by time (the marker never goes back; the answer is the
//! marker as it is then); without, it asks for the marker. The answer is
//! `MARKREAD <target> timestamp=<time>`, or `*` when there is none. The user's other
//! connections hear the same line, and a client that enabled the capability gets a MARKREAD
//! for each channel it joins (before the names) and for each conversation with a marker after
//! registration.

use palaver_proto::irc::IrcMessage;
use palaver_proto::read_marker::ReadMarker;
use palaver_proto::{ClientFrame, ErrorCode, ServerFrame};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::caps;
use crate::listener::irc::lines::Lines;
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::channel;

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let fail = |r: &Reader, code: &str, context: &[&str], text: &str| {
        let mut params = vec!["MARKREAD", code];
        params.extend(context);
        params.push(text);
        let line = r.from_server("FAIL", params);
        r.reply(label.clone(), vec![line])
    };
    let Some(target) = msg.params.first().filter(|t| !t.is_empty()) else {
        return fail(r, "NEED_MORE_PARAMS", &[], "MARKREAD needs a target");
    };
    let timestamp = match msg.params.get(1) {
        None => None,
        Some(p) => match p.strip_prefix("timestamp=") {
            Some(t) if palaver_proto::timestamp::parse_millis(t).is_some() => Some(t.to_string()),
            _ => {
                let context = [target.as_str(), p.as_str()];
                return fail(
                    r,
                    "INVALID_PARAMS",
                    &context,
                    "Not a timestamp=YYYY-MM-DDThh:mm:ss.sssZ",
                );
            }
        },
    };
    let (room, with) = match target.strip_prefix('#') {
        Some(room) => (Some(room.to_string()), None),
        None => (None, Some(target.clone())),
    };
    let ask = ClientFrame::MarkRead {
        room,
        with,
        seq: None,
        timestamp,
    };
    let waiting = MarkRead {
        target: target.clone(),
    };
    r.ask(waiting, label, [ask])
}

#[derive(Debug)]
pub struct MarkRead {
    target: String,
}

impl Waiting for MarkRead {
    fn name(&self) -> &'static str {
        "MARKREAD"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::ReadMarker(marker) = frame else {
            return None;
        };
        // Named as the client named it.
        let line = marker_line(lines, &self.target, marker);
        Some(Step::More(vec![line]))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let target = self.target.as_str();
        let line = match refusal.code {
            ErrorCode::InvalidField | ErrorCode::InvalidRoomName | ErrorCode::InvalidUsername => {
                lines.fail("MARKREAD", "INVALID_PARAMS", &[target], refusal.message)
            }
            ErrorCode::NotInRoom | ErrorCode::UnknownRoom => {
                lines.fail("MARKREAD", "INVALID_TARGET", &[target], refusal.message)
            }
            _ => lines.fail_code("MARKREAD", refusal),
        };
        Step::More(vec![line])
    }
}

/// `MARKREAD <target> timestamp=<time>`, or `*` without a marker.
fn marker_line(lines: &Lines, target: &str, marker: &ReadMarker) -> IrcMessage {
    let time = match &marker.timestamp {
        Some(t) => format!("timestamp={t}"),
        None => "*".to_string(),
    };
    lines.from_server("MARKREAD", [target.to_string(), time])
}

/// A marker that answers no command here (set by another connection of the user, or read
/// after registration), to a client with the capability.
pub fn seen(lines: &mut Lines, marker: &ReadMarker) -> Vec<IrcMessage> {
    if !lines.has(caps::READ_MARKER) {
        return Vec::new();
    }
    let target = match (&marker.room, &marker.with) {
        (Some(room), _) => channel(room),
        (None, Some(with)) => with.clone(),
        _ => return Vec::new(),
    };
    vec![marker_line(lines, &target, marker)]
}

/// The MARKREAD a joined channel gets (before its names): the marker, or `*`.
pub fn on_join(lines: &mut Lines, room: &str, marker: Option<&ReadMarker>) -> Vec<IrcMessage> {
    if !lines.has(caps::READ_MARKER) {
        return Vec::new();
    }
    let none = ReadMarker {
        room: Some(room.to_string()),
        with: None,
        seq: 0,
        timestamp: None,
        reference: None,
    };
    vec![marker_line(lines, &channel(room), marker.unwrap_or(&none))]
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;

    #[test]
    fn markread_asks_the_hub_by_time_and_checks_its_parameters_first() {
        let mut h = Harness::registered("me");
        let actions = h.line("MARKREAD #test timestamp=2019-01-04T14:33:26.123Z");
        assert_eq!(h.hub_frames(&actions), ["mark_read test", "ping"]);
        let actions = h.line("MARKREAD");
        assert_eq!(
            h.replies(&actions),
            [":srv FAIL MARKREAD NEED_MORE_PARAMS :MARKREAD needs a target"]
        );
        let actions = h.line("MARKREAD #test *");
        assert_eq!(
            h.replies(&actions),
            [":srv FAIL MARKREAD INVALID_PARAMS #test * :Not a timestamp=YYYY-MM-DDThh:mm:ss.sssZ"]
        );
    }
}
