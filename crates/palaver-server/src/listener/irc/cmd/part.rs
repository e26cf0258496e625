//! `PART #a,#b [reason]`: `PART` for each channel left; 442 for a channel you are not on, 403
//! for one that does not exist (or has no `#`). Also what a room left shows when no PART asked
//! (a kick, or leaving from another of your sessions).

use palaver_proto::irc::IrcMessage;
use palaver_proto::{validate, ClientFrame, ErrorCode, ServerFrame};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Reply;
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::channel;

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let p = &msg.params;
    let reason = p.get(1).filter(|r| !r.is_empty()).cloned();
    let token = r.begin(Part, label);
    let mut actions = Vec::new();
    let mut local = Vec::new();
    for chan in p[0].split(',').filter(|c| !c.is_empty()) {
        match chan.strip_prefix('#') {
            Some(room) => actions.push(Reader::request(
                token,
                ClientFrame::LeaveRoom {
                    room: room.to_string(),
                    reason: reason.clone(),
                },
            )),
            None => local.push(r.line(Reply::no_such_channel(chan))),
        }
    }
    if !local.is_empty() {
        actions.splice(0..0, r.hold(token, local));
    }
    actions.push(Reader::end(token));
    actions
}

/// PART (or JOIN 0) waiting for the rooms to be left.
#[derive(Debug)]
pub struct Part;

impl Waiting for Part {
    fn name(&self) -> &'static str {
        "PART"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::LeftRoom {
            room, by, reason, ..
        } = frame
        else {
            return None;
        };
        Some(Step::More(left(
            lines,
            room,
            by.as_deref(),
            reason.as_deref(),
        )))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let chan = refusal.channel_or("*");
        let line = match refusal.code {
            ErrorCode::NotInRoom => lines.line(Reply::not_on_channel(chan.as_str())),
            _ => lines.line(Reply::no_such_channel(chan.as_str())),
        };
        Step::More(vec![line])
    }
}

/// A room this connection left: PART, or KICK when someone removed it.
pub fn left(
    lines: &mut Lines,
    room: &str,
    by: Option<&str>,
    reason: Option<&str>,
) -> Vec<IrcMessage> {
    lines.st.channels.remove(&validate::fold(room));
    let me = lines.st.nick.clone();
    let line = match by {
        Some(by) => IrcMessage::new(
            "KICK",
            [channel(room), me, reason.unwrap_or(by).to_string()],
        ),
        None => {
            let mut params = vec![channel(room)];
            params.extend(reason.map(str::to_string));
            IrcMessage::new("PART", params)
        }
    };
    vec![line.with_source(lines.source)]
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use palaver_proto::ErrorCode;

    #[test]
    fn refusals_name_the_channel_whatever_the_sentence_says() {
        let mut h = Harness::registered("me");
        let actions = h.line("PART #Lobby,#gone");
        let token = h.token_of(&actions[0]);
        assert_eq!(
            h.refusal(ErrorCode::NotInRoom, Some("Lobby"), token),
            [":srv 442 me #Lobby :You're not on that channel"]
        );
        assert_eq!(
            h.refusal(ErrorCode::UnknownRoom, Some("gone"), token),
            [":srv 403 me #gone :No such channel"]
        );
    }
}
