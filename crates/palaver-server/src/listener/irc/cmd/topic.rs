//! `TOPIC #chan [:topic]`: a query is 332 + 333 (who set it, when), or 331 when there is none;
//! setting it sends `TOPIC` to the channel. 442 when you are not on it, 403 when it does not
//! exist, 482 when it is `+t` and you are not an operator.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{timestamp, validate, ClientFrame, ErrorCode, RoomInfo, ServerFrame};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::{Numeric, Reply};
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::channel;

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let chan = msg.params[0].clone();
    let room = chan.trim_start_matches('#').to_string();
    match msg.params.get(1) {
        Some(topic) => {
            let set = ClientFrame::Topic {
                room,
                topic: topic.clone(),
            };
            r.ask(TopicSet, label, [set])
        }
        None => r.ask(TopicQuery { channel: chan }, label, [ClientFrame::Rooms]),
    }
}

/// A topic query, answered from the room list.
#[derive(Debug)]
pub struct TopicQuery {
    channel: String,
}

impl Waiting for TopicQuery {
    fn name(&self) -> &'static str {
        "TOPIC"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Rooms { rooms, .. } = frame else {
            return None;
        };
        let chan = self.channel.as_str();
        // An IRC channel exists while it has members (as LIST shows them).
        let out = match find_room(rooms, chan).filter(|r| r.members > 0) {
            None => vec![lines.line(Reply::no_such_channel(chan))],
            Some(r) if r.topic.is_empty() => {
                vec![lines.num(Numeric::RPL_NOTOPIC, [chan, "No topic is set"])]
            }
            Some(r) => topic_lines(lines, r),
        };
        Some(Step::More(out))
    }
}

/// Setting a topic: the `TOPIC` line comes to the channel, and so to us.
#[derive(Debug)]
pub struct TopicSet;

impl Waiting for TopicSet {
    fn name(&self) -> &'static str {
        "TOPIC"
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let chan = refusal.channel_or("*");
        let line = match refusal.code {
            ErrorCode::NotInRoom => lines.line(Reply::not_on_channel(chan.as_str())),
            ErrorCode::UnknownRoom | ErrorCode::InvalidRoomName => {
                lines.line(Reply::no_such_channel(chan.as_str()))
            }
            ErrorCode::NotAuthorized => lines.line(Reply::chanop_needed(chan.as_str())),
            _ => lines.fail_code("TOPIC", refusal),
        };
        Step::More(vec![line])
    }
}

/// The room `#name` stands for, in a room list.
pub fn find_room<'a>(rooms: &'a [RoomInfo], chan: &str) -> Option<&'a RoomInfo> {
    let key = validate::room_name(chan.trim_start_matches('#'))
        .ok()
        .map(|n| validate::fold(&n))?;
    rooms.iter().find(|r| validate::fold(&r.name) == key)
}

/// 332 and 333 for a room's topic.
pub fn topic_lines(lines: &Lines, room: &RoomInfo) -> Vec<IrcMessage> {
    let chan = channel(&room.name);
    let mut out = vec![lines.num(Numeric::RPL_TOPIC, [chan.clone(), room.topic.clone()])];
    if let (Some(by), Some(at)) = (&room.topic_by, &room.topic_at) {
        let secs = timestamp::parse_millis(at).unwrap_or(0) / 1000;
        out.push(lines.num(
            Numeric::RPL_TOPICWHOTIME,
            [chan, by.clone(), secs.to_string()],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use palaver_proto::{ErrorCode, RoomInfo, ServerFrame};
    use serde_json::Value;

    fn rooms(token: u64, members: usize, topic: &str) -> ServerFrame {
        ServerFrame::Rooms {
            rooms: vec![RoomInfo {
                name: "news".into(),
                topic: topic.into(),
                members,
                topic_by: Some("ann".into()),
                topic_at: Some("2026-11-29T00:00:10.000Z".into()),
                created: None,
                last_seq: 0,
                modes: None,
            }],
            reference: Some(Value::from(token)),
        }
    }

    #[test]
    fn a_query_is_332_333_331_or_403_for_an_empty_channel_and_a_locked_topic_is_482() {
        let mut h = Harness::registered("me");
        let token = h.ask("TOPIC #news");
        assert_eq!(
            h.frame(rooms(token, 2, "hello")),
            [
                ":srv 332 me #news hello",
                ":srv 333 me #news ann 1795910410"
            ]
        );
        let token = h.ask("TOPIC #news");
        assert_eq!(
            h.frame(rooms(token, 2, "")),
            [":srv 331 me #news :No topic is set"]
        );
        let token = h.ask("TOPIC #news");
        assert_eq!(
            h.frame(rooms(token, 0, "hello")),
            [":srv 403 me #news :No such channel"]
        );
        let set = h.line("TOPIC #news :new");
        assert_eq!(h.hub_frames(&set), ["topic news", "ping"]);
        let token = h.token_of(&set[0]);
        assert_eq!(
            h.refusal(ErrorCode::NotAuthorized, Some("news"), token),
            [":srv 482 me #news :You're not channel operator"]
        );
    }
}
