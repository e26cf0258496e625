//! `MODE #chan` (324 `+n`, 329 creation time; the ban, exception and invite lists are empty)
//! and `MODE nick [+i/-i]` (221; only your own modes, 502 for someone else's).

use palaver_proto::irc::IrcMessage;
use palaver_proto::{timestamp, validate, ClientFrame, ServerFrame};

use super::topic::find_room;
use super::{Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
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
        return r.reply_num(
            label,
            Numeric::ERR_NOSUCHNICK,
            [target.as_str(), "No such nick/channel"],
        );
    };
    let Some(modes) = msg.params.get(1) else {
        let invisible = r.lock().invisible;
        return r.reply_num(
            label,
            Numeric::RPL_UMODEIS,
            [if invisible { "+i" } else { "+" }],
        );
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
    if !changed.is_empty() {
        lines.push(IrcMessage::new("MODE", [me.clone(), changed]).with_source(me.as_str()));
    }
    r.reply(label, lines)
}

fn channel_mode(
    r: &mut Reader,
    msg: &IrcMessage,
    target: String,
    label: Option<String>,
) -> Vec<Action> {
    let Some(modes) = msg.params.get(1) else {
        return r.ask(ModeQuery { channel: target }, label, [ClientFrame::Rooms]);
    };
    let letters: String = modes.chars().filter(|c| !matches!(c, '+' | '-')).collect();
    let line = match letters.as_str() {
        "b" => r.num(
            Numeric::RPL_ENDOFBANLIST,
            [target.as_str(), "End of channel ban list"],
        ),
        "e" => r.num(
            Numeric::RPL_ENDOFEXCEPTLIST,
            [target.as_str(), "End of channel exception list"],
        ),
        "I" => r.num(
            Numeric::RPL_ENDOFINVITELIST,
            [target.as_str(), "End of channel invite list"],
        ),
        _ => {
            let first = letters.chars().next().unwrap_or('?').to_string();
            r.num(
                Numeric::ERR_UNKNOWNMODE,
                [first.as_str(), "is not a channel mode you can change here"],
            )
        }
    };
    r.reply(label, vec![line])
}

#[derive(Debug)]
pub struct ModeQuery {
    channel: String,
}

impl Waiting for ModeQuery {
    fn name(&self) -> &'static str {
        "MODE"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Rooms { rooms, .. } = frame else {
            return None;
        };
        let out = match find_room(rooms, &self.channel) {
            None => vec![lines.num(
                Numeric::ERR_NOSUCHCHANNEL,
                [self.channel.as_str(), "No such channel"],
            )],
            Some(r) => {
                let created = r
                    .created
                    .as_deref()
                    .and_then(timestamp::parse_millis)
                    .unwrap_or(0)
                    / 1000;
                vec![
                    lines.num(Numeric::RPL_CHANNELMODEIS, [channel(&r.name), "+n".into()]),
                    lines.num(
                        Numeric::RPL_CREATIONTIME,
                        [channel(&r.name), created.to_string()],
                    ),
                ]
            }
        };
        Some(Step::More(out))
    }
}
