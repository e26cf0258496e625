//! `MODE #chan` (324 with the modes, 329 creation time), `MODE #chan b` (the ban list: 367s and
//! 368; the exception and invite lists are empty), `MODE #chan +tnsimkl-v... params` (a change:
//! the `MODE` line every member sees; 482 for a non-operator, 472 for an unknown letter, 441
//! and 401 for `+o`/`+v` of someone not there) and `MODE nick [+i/-i]` (221; only your own
//! modes, 502 for someone else's).

use palaver_proto::irc::IrcMessage;
use palaver_proto::{timestamp, validate, ClientFrame, ErrorCode, ServerFrame};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::{Numeric, Reply};
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::channel;

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let target = msg.params[0].clone();
    if target.starts_with('#') {
        return channel_mode(r, msg, target, label);
    }
    let me = {
        let st = r.lock();
        st.is_me(&target).then(|| st.nick.clone())
    };
    let Some(me) = me else {
        if validate::username(&target).is_ok() {
            return r.reply_num(
                label,
                Numeric::ERR_USERSDONTMATCH,
                ["Can't change mode for other users"],
            );
        }
        let line = r.line(Reply::no_such_nick(&target));
        return r.reply(label, vec![line]);
    };
    let Some(modes) = msg.params.get(1) else {
        let modes = {
            let st = r.lock();
            let mut modes = String::from("+");
            if st.invisible {
                modes.push('i');
            }
            if st.oper {
                modes.push('o');
            }
            modes
        };
        return r.reply_num(label, Numeric::RPL_UMODEIS, [modes]);
    };
    let mut adding = true;
    let mut changed = String::new();
    let mut unknown = false;
    for c in modes.chars() {
        match c {
            '+' => adding = true,
            '-' => adding = false,
            'i' => {
                let mut st = r.lock();
                if st.invisible != adding {
                    st.invisible = adding;
                    changed.push(if adding { '+' } else { '-' });
                    changed.push('i');
                }
            }
            _ => unknown = true,
        }
    }
    let mut lines = Vec::new();
    if unknown {
        lines.push(r.num(Numeric::ERR_UMODEUNKNOWNFLAG, ["Unknown MODE flag"]));
    }
    let mut actions = Vec::new();
    if !changed.is_empty() {
        lines.push(IrcMessage::new("MODE", [me.clone(), changed]).with_source(me.as_str()));
        let on = r.lock().invisible;
        actions.push(Action::Hub(palaver_proto::Request {
            frame: ClientFrame::Invisible { on },
            reference: None,
            client_tags: Vec::new(),
        }));
    }
    actions.extend(r.reply(label, lines));
    actions
}

fn channel_mode(
    r: &mut Reader,
    msg: &IrcMessage,
    target: String,
    label: Option<String>,
) -> Vec<Action> {
    let room = target.trim_start_matches('#').to_string();
    let Some(modes) = msg.params.get(1) else {
        let ask = ClientFrame::Mode {
            room,
            modes: None,
            params: Vec::new(),
        };
        let waiting = ChannelMode {
            channel: target,
            ban_list: false,
        };
        return r.ask(waiting, label, [ask]);
    };
    let letters: String = modes.chars().filter(|c| !matches!(c, '+' | '-')).collect();
    // The lists Palaver does not keep are empty.
    let empty_list = match letters.as_str() {
        "e" => Some(r.num(
            Numeric::RPL_ENDOFEXCEPTLIST,
            [target.as_str(), "End of channel exception list"],
        )),
        "I" => Some(r.num(
            Numeric::RPL_ENDOFINVITELIST,
            [target.as_str(), "End of channel invite list"],
        )),
        _ => None,
    };
    if let Some(line) = empty_list {
        return r.reply(label, vec![line]);
    }
    let ask = ClientFrame::Mode {
        room,
        modes: Some(modes.clone()),
        params: msg.params[2..].to_vec(),
    };
    let waiting = ChannelMode {
        channel: target,
        ban_list: letters == "b" && msg.params.len() == 2,
    };
    r.ask(waiting, label, [ask])
}

/// A channel's modes asked for (324, 329), its ban list (367, 368), or a change (the MODE line
/// every member sees).
#[derive(Debug)]
pub struct ChannelMode {
    channel: String,
    /// `MODE #chan b`: the ban list was asked for.
    ban_list: bool,
}

impl Waiting for ChannelMode {
    fn name(&self) -> &'static str {
        "MODE"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::RoomModes {
            room,
            modes,
            params,
            bans,
            created,
            ..
        } = frame
        else {
            return None;
        };
        let chan = channel(room);
        if self.ban_list {
            let mut out: Vec<IrcMessage> = bans
                .iter()
                .map(|b| {
                    lines.num(
                        Numeric::RPL_BANLIST,
                        [
                            chan.clone(),
                            b.mask.clone(),
                            b.by.clone(),
                            (b.at_ms / 1000).to_string(),
                        ],
                    )
                })
                .collect();
            out.push(lines.num(
                Numeric::RPL_ENDOFBANLIST,
                [chan.as_str(), "End of channel ban list"],
            ));
            return Some(Step::More(out));
        }
        let created = created
            .as_deref()
            .and_then(timestamp::parse_millis)
            .unwrap_or(0)
            / 1000;
        let mut mode_params = vec![chan.clone(), modes.clone()];
        mode_params.extend(params.iter().cloned());
        Some(Step::More(vec![
            lines.num(Numeric::RPL_CHANNELMODEIS, mode_params),
            lines.num(Numeric::RPL_CREATIONTIME, [chan, created.to_string()]),
        ]))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let chan = self.channel.as_str();
        let line = match refusal.code {
            ErrorCode::NotAuthorized => lines.line(Reply::chanop_needed(chan)),
            ErrorCode::UnknownRoom | ErrorCode::InvalidRoomName => {
                lines.line(Reply::no_such_channel(chan))
            }
            ErrorCode::NotInRoom => lines.line(Reply::not_on_channel(chan)),
            ErrorCode::UnknownMode => lines.num(
                Numeric::ERR_UNKNOWNMODE,
                [
                    refusal.nick_or("?").as_str(),
                    "is an unknown mode char to me",
                ],
            ),
            ErrorCode::MissingField => lines.num(
                Numeric::ERR_NEEDMOREPARAMS,
                ["MODE", "Not enough parameters"],
            ),
            ErrorCode::TargetNotInRoom => lines.line(Reply::user_not_in_channel(
                refusal.nick_or("*").as_str(),
                chan,
            )),
            ErrorCode::UnknownUser => {
                lines.line(Reply::no_such_nick(refusal.nick_or("*").as_str()))
            }
            _ => lines.fail_code("MODE", refusal),
        };
        Step::More(vec![line])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use palaver_proto::{ErrorCode, ServerFrame};
    use serde_json::Value;

    #[test]
    fn channel_modes_are_asked_of_the_hub_and_answered_with_324_329_or_the_ban_list() {
        let mut h = Harness::registered("me");
        let query = h.line("MODE #den");
        assert_eq!(h.hub_frames(&query), ["mode den", "ping"]);
        let token = h.token_of(&query[0]);
        let lines = h.frame(ServerFrame::RoomModes {
            room: "den".into(),
            modes: "+ntk".into(),
            params: vec!["pw".into()],
            bans: Vec::new(),
            created: Some("2026-11-29T00:00:10.000Z".into()),
            reference: Some(Value::from(token)),
        });
        assert_eq!(lines[0], ":srv 324 me #den +ntk pw");
        assert!(lines[1].starts_with(":srv 329 me #den "));
        let bans = h.line("MODE #den b");
        let token = h.token_of(&bans[0]);
        let lines = h.frame(ServerFrame::RoomModes {
            room: "den".into(),
            modes: "+n".into(),
            params: Vec::new(),
            bans: Vec::new(),
            created: None,
            reference: Some(Value::from(token)),
        });
        assert_eq!(lines, [":srv 368 me #den :End of channel ban list"]);
        let change = h.line("MODE #den +v ann");
        let token = h.token_of(&change[0]);
        assert_eq!(
            h.refusal(ErrorCode::UnknownMode, Some("X"), token),
            [":srv 472 me X :is an unknown mode char to me"]
        );
    }

    #[test]
    fn user_mode_i_is_kept_here_and_told_to_the_hub() {
        let mut h = Harness::registered("me");
        let actions = h.line("MODE me +i");
        assert_eq!(h.hub_frames(&actions), ["invisible"]);
        assert_eq!(h.replies(&actions), [":me MODE me +i"]);
        let query = h.line("MODE me");
        assert_eq!(h.replies(&query), [":srv 221 me +i"]);
        let other = h.line("MODE bob +i");
        assert_eq!(
            h.replies(&other),
            [":srv 502 me :Can't change mode for other users"]
        );
    }
}
