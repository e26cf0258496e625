//! `JOIN #a,#b [key,key]` and `JOIN 0`.
//!
//! Each channel is its own `join_room` followed by a `who` for its names, so a refusal of one
//! does not hold up the others: `JOIN`, the topic (332/333) if there is one, then 353/366. A
//! channel joined already shows nothing; `JOIN 0` parts every channel. Refusals: 403 without
//! `#`, 479 for an invalid name, 405 over the room limit, 471 for a full room (`+l`), 473
//! invite only (`+i`), 474 banned (`+b`), 475 a missing or wrong key (`+k`).

use palaver_proto::irc::IrcMessage;
use palaver_proto::{validate, ClientFrame, ErrorCode, RoomInfo, ServerFrame};

use super::names::names_lines;
use super::part::Part;
use super::topic::topic_lines;
use super::{Refusal, Step, Waiting};
use crate::listener::irc::caps;
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::{Numeric, Reply};
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::channel;

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let list = &msg.params[0];
    if list == "0" {
        let channels: Vec<String> = r.lock().channels.iter().cloned().collect();
        let leaves = channels
            .into_iter()
            .map(|room| ClientFrame::LeaveRoom { room, reason: None });
        return r.ask(Part, label, leaves);
    }
    let mut keys = msg
        .params
        .get(1)
        .map(|k| k.split(',').map(str::to_string).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter();
    let mut actions = Vec::new();
    let mut label = label;
    for chan in list.split(',').filter(|c| !c.is_empty()) {
        let key = keys.next().filter(|k| !k.is_empty());
        let Some(room) = chan.strip_prefix('#') else {
            let line = r.line(Reply::no_such_channel(chan));
            actions.extend(r.reply(label.take(), vec![line]));
            continue;
        };
        if validate::room_name(room).is_err() {
            let line = r.num(Numeric::ERR_BADCHANNAME, [chan, "Illegal channel name"]);
            actions.extend(r.reply(label.take(), vec![line]));
            continue;
        }
        let join = Join {
            channel: chan.to_string(),
            skip_names: false,
        };
        let asks = [
            ClientFrame::JoinRoom {
                room: room.to_string(),
                key,
            },
            ClientFrame::Who {
                room: Some(room.to_string()),
                username: None,
            },
        ];
        actions.extend(r.ask(join, label.take(), asks));
    }
    actions
}

/// One channel being joined.
#[derive(Debug)]
pub struct Join {
    channel: String,
    /// The join was refused or was a re-join: its names reply is not shown.
    skip_names: bool,
}

impl Waiting for Join {
    fn name(&self) -> &'static str {
        "JOIN"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        match frame {
            ServerFrame::JoinedRoom {
                room, read_marker, ..
            } => {
                let (fresh, mut out) = joined(lines, room);
                if fresh {
                    let marker = read_marker.as_ref();
                    out.extend(super::markread::on_join(lines, &room.name, marker));
                }
                self.skip_names = !fresh;
                Some(Step::More(out))
            }
            ServerFrame::Who {
                room,
                users,
                secret,
                ..
            } => {
                if self.skip_names {
                    return Some(Step::More(Vec::new()));
                }
                let chan = channel(room.as_deref().unwrap_or(""));
                Some(Step::More(names_lines(lines, &chan, users, *secret)))
            }
            _ => None,
        }
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        self.skip_names = true;
        let chan = self.channel.as_str();
        let line = match refusal.code {
            ErrorCode::TooManyRooms => lines.num(
                Numeric::ERR_TOOMANYCHANNELS,
                [chan, "You have joined too many channels"],
            ),
            ErrorCode::RoomFull => lines.num(
                Numeric::ERR_CHANNELISFULL,
                [chan, "Cannot join channel (+l)"],
            ),
            ErrorCode::InviteOnly => lines.num(
                Numeric::ERR_INVITEONLYCHAN,
                [chan, "Cannot join channel (+i)"],
            ),
            ErrorCode::BannedFromRoom => lines.num(
                Numeric::ERR_BANNEDFROMCHAN,
                [chan, "Cannot join channel (+b)"],
            ),
            ErrorCode::WrongRoomKey => lines.num(
                Numeric::ERR_BADCHANNELKEY,
                [chan, "Cannot join channel (+k)"],
            ),
            ErrorCode::InvalidRoomName => lines.line(Reply::no_such_channel(chan)),
            // The names request after a refused join.
            ErrorCode::UnknownRoom => return Step::More(Vec::new()),
            _ => lines.fail_code("JOIN", refusal),
        };
        Step::More(vec![line])
    }
}

/// A room this connection joined: `JOIN` and the topic, unless it was in it already (the bool
/// says whether it is new).
pub fn joined(lines: &mut Lines, room: &RoomInfo) -> (bool, Vec<IrcMessage>) {
    let fresh = lines.st.channels.insert(validate::fold(&room.name));
    if !fresh {
        return (false, Vec::new());
    }
    let mut params = vec![channel(&room.name)];
    if lines.has(caps::EXTENDED_JOIN) {
        params.push(lines.st.account.clone().unwrap_or_else(|| "*".into()));
        params.push(lines.st.realname.clone());
    }
    let mut out = vec![IrcMessage::new("JOIN", params).with_source(lines.source)];
    if !room.topic.is_empty() {
        out.extend(topic_lines(lines, room));
    }
    (true, out)
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use palaver_proto::ErrorCode;

    #[test]
    fn each_channel_is_asked_for_on_its_own_and_bad_names_are_answered_at_once() {
        let mut h = Harness::registered("me");
        let actions = h.line("JOIN #a,b,#bad!name,#c");
        assert_eq!(
            h.hub_frames(&actions),
            [
                "join_room a",
                "who a",
                "ping",
                "join_room c",
                "who c",
                "ping"
            ]
        );
        assert_eq!(
            h.replies(&actions),
            [
                ":srv 403 me b :No such channel",
                ":srv 479 me #bad!name :Illegal channel name"
            ]
        );
    }

    #[test]
    fn a_full_room_is_471_and_its_names_are_not_shown() {
        let mut h = Harness::registered("me");
        let actions = h.line("JOIN #full");
        let token = h.token_of(&actions[0]);
        let lines = h.refusal(ErrorCode::RoomFull, Some("full"), token);
        assert_eq!(lines, [":srv 471 me #full :Cannot join channel (+l)"]);
        assert!(
            h.who("full", &["a"], token).is_empty(),
            "no names after a refusal"
        );
    }
}
