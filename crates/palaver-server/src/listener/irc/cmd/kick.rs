//! `KICK #chan nick[,nick] [:reason]`: `KICK` to the channel; 482 for a non-operator, 441 when
//! the nick is not on the channel, 442 when you are not, 401 for no such nick.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ClientFrame, ErrorCode};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Reply;
use crate::listener::irc::reader::{Action, Reader};

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let p = &msg.params;
    let chan = p[0].clone();
    let room = chan.trim_start_matches('#').to_string();
    let reason = p.get(2).cloned();
    let kicks = p[1]
        .split(',')
        .filter(|n| !n.is_empty())
        .map(|nick| ClientFrame::Kick {
            room: room.clone(),
            username: nick.to_string(),
            reason: reason.clone(),
        });
    r.ask(Kick { channel: chan }, label, kicks)
}

#[derive(Debug)]
pub struct Kick {
    channel: String,
}

impl Waiting for Kick {
    fn name(&self) -> &'static str {
        "KICK"
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let chan = self.channel.as_str();
        let line = match refusal.code {
            ErrorCode::NotAuthorized => lines.line(Reply::chanop_needed(chan)),
            ErrorCode::TargetNotInRoom => lines.line(Reply::user_not_in_channel(
                refusal.nick_or("*").as_str(),
                chan,
            )),
            ErrorCode::NotInRoom => lines.line(Reply::not_on_channel(chan)),
            ErrorCode::UnknownUser => {
                lines.line(Reply::no_such_nick(refusal.nick_or("*").as_str()))
            }
            _ => lines.line(Reply::no_such_channel(chan)),
        };
        Step::More(vec![line])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use palaver_proto::ErrorCode;

    #[test]
    fn kick_refusals_are_the_numerics_for_their_codes() {
        let mut h = Harness::registered("me");
        let actions = h.line("KICK #r bob,eve :bye");
        assert_eq!(h.hub_frames(&actions), ["kick r", "kick r", "ping"]);
        let token = h.token_of(&actions[0]);
        assert_eq!(
            h.refusal(ErrorCode::NotAuthorized, Some("r"), token),
            [":srv 482 me #r :You're not channel operator"]
        );
        assert_eq!(
            h.refusal(ErrorCode::TargetNotInRoom, Some("eve"), token),
            [":srv 441 me eve #r :They aren't on that channel"]
        );
    }
}
