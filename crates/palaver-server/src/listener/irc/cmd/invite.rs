//! `INVITE nick #chan`: 341 to you, `INVITE` to the one invited (and, with invite-notify, to the
//! channel's operators); the invitation gets them past `+i`, `+k` and `+l` once. 442 when you
//! are not on the channel, 482 when it is invite-only and you are not an operator, 443 when they
//! are on it already, 401 for no such nick, 403 for no such channel.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ClientFrame, ErrorCode, ServerFrame};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::caps;
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::{Numeric, Reply};
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::channel;

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let nick = msg.params[0].clone();
    let chan = msg.params[1].clone();
    let ask = ClientFrame::Invite {
        room: chan.trim_start_matches('#').to_string(),
        username: nick.clone(),
    };
    r.ask(
        Invite {
            nick,
            channel: chan,
        },
        label,
        [ask],
    )
}

#[derive(Debug)]
pub struct Invite {
    nick: String,
    channel: String,
}

impl Waiting for Invite {
    fn name(&self) -> &'static str {
        "INVITE"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Invited { room, username, .. } = frame else {
            return None;
        };
        let line = lines.num(Numeric::RPL_INVITING, [username.clone(), channel(room)]);
        Some(Step::More(vec![line]))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let chan = self.channel.as_str();
        let nick = self.nick.as_str();
        let line = match refusal.code {
            ErrorCode::UnknownRoom | ErrorCode::InvalidRoomName => {
                lines.line(Reply::no_such_channel(chan))
            }
            ErrorCode::NotInRoom => lines.line(Reply::not_on_channel(chan)),
            ErrorCode::NotAuthorized => lines.line(Reply::chanop_needed(chan)),
            ErrorCode::AlreadyInRoom => lines.num(
                Numeric::ERR_USERONCHANNEL,
                [nick, chan, "is already on channel"],
            ),
            ErrorCode::UnknownUser | ErrorCode::InvalidUsername => {
                lines.line(Reply::no_such_nick(nick))
            }
            _ => lines.fail_code("INVITE", refusal),
        };
        Step::More(vec![line])
    }
}

/// An invitation seen: ours (`INVITE me #chan`), or, with invite-notify, one to a channel we
/// operate.
pub fn seen(lines: &mut Lines, room: &str, username: &str) -> Vec<IrcMessage> {
    if !lines.st.is_me(username) && !lines.has(caps::INVITE_NOTIFY) {
        return Vec::new();
    }
    vec![IrcMessage::new("INVITE", [username.to_string(), channel(room)]).with_source(lines.source)]
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use palaver_proto::ErrorCode;

    #[test]
    fn invite_asks_the_hub_and_answers_refusals_with_numerics() {
        let mut h = Harness::registered("me");
        let actions = h.line("INVITE bob #den");
        assert_eq!(h.hub_frames(&actions), ["invite den", "ping"]);
        let token = h.token_of(&actions[0]);
        assert_eq!(
            h.refusal(ErrorCode::AlreadyInRoom, Some("bob"), token),
            [":srv 443 me bob #den :is already on channel"]
        );
        assert_eq!(
            h.refusal(ErrorCode::NotAuthorized, Some("den"), token),
            [":srv 482 me #den :You're not channel operator"]
        );
    }
}
