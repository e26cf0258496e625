//! The admins' powers from IRC, for IRC operators (an admin's session, through OPER or SASL):
//!
//! | command | does |
//! | --- | --- |
//! | `KLINE [minutes] nick [:reason]` / `UNKLINE nick` | bans a name from the server (or lifts it); the banned are disconnected |
//! | `DLINE [minutes] address [:reason]` / `UNDLINE address` | bans an IP address |
//! | `MUTE nick [#chan] [minutes]` / `UNMUTE nick [#chan]` | silences someone in a channel (its moderators too), or everywhere |
//! | `LOCK #chan` / `UNLOCK #chan` | only the channel's moderators may enter |
//! | `DELROOM #chan` | deletes the room (its members are taken out; its history stays) |
//! | `GRANT #chan nick` / `REVOKE #chan nick` | makes an account a moderator of the room (or not) |
//! | `ANNOUNCE :text` | a server announcement to everyone |
//!
//! Each is the native request of the same power, so the rules and the log are the same; the
//! answer is a server NOTICE saying what was done. 481 for those who may not, 401 for no such
//! nick, 403 for no such channel.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ClientFrame, ErrorCode, ServerFrame};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::{Numeric, Reply};
use crate::listener::irc::reader::{Action, Reader};

/// `[minutes] target [:reason]`: the minutes, if the first parameter is a number.
fn duration_target_reason(p: &[String]) -> Option<(Option<u64>, String, Option<String>)> {
    let (minutes, rest) = match p.first()?.parse::<u64>() {
        Ok(m) if p.len() > 1 => (Some(m), &p[1..]),
        _ => (None, p),
    };
    let target = rest.first()?.clone();
    let reason = rest.get(1).filter(|r| !r.is_empty()).cloned();
    Some((minutes, target, reason))
}

fn room(chan: &str) -> String {
    chan.trim_start_matches('#').to_string()
}

fn ask(
    r: &mut Reader,
    command: &'static str,
    label: Option<String>,
    frame: ClientFrame,
) -> Vec<Action> {
    r.ask(Admin::new(command), label, [frame])
}

pub fn kline(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let Some((minutes, nick, reason)) = duration_target_reason(&msg.params) else {
        return r.reply_num(
            label,
            Numeric::ERR_NEEDMOREPARAMS,
            ["KLINE", "Not enough parameters"],
        );
    };
    let ban = ClientFrame::Ban {
        username: Some(nick),
        address: None,
        minutes,
        reason,
    };
    ask(r, "KLINE", label, ban)
}

pub fn dline(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let Some((minutes, address, reason)) = duration_target_reason(&msg.params) else {
        return r.reply_num(
            label,
            Numeric::ERR_NEEDMOREPARAMS,
            ["DLINE", "Not enough parameters"],
        );
    };
    let ban = ClientFrame::Ban {
        username: None,
        address: Some(address),
        minutes,
        reason,
    };
    ask(r, "DLINE", label, ban)
}

pub fn unkline(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let frame = ClientFrame::Unban {
        username: Some(msg.params[0].clone()),
        address: None,
    };
    ask(r, "UNKLINE", label, frame)
}

pub fn undline(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let frame = ClientFrame::Unban {
        username: None,
        address: Some(msg.params[0].clone()),
    };
    ask(r, "UNDLINE", label, frame)
}

/// `MUTE nick [#chan] [minutes]`.
pub fn mute(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let p = &msg.params;
    let chan = p
        .iter()
        .skip(1)
        .find(|a| a.starts_with('#'))
        .map(|c| room(c));
    let minutes = p.iter().skip(1).find_map(|a| a.parse::<u64>().ok());
    let frame = ClientFrame::Mute {
        username: p[0].clone(),
        room: chan,
        minutes,
    };
    ask(r, "MUTE", label, frame)
}

pub fn unmute(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let frame = ClientFrame::Unmute {
        username: msg.params[0].clone(),
        room: msg.params.get(1).map(|c| room(c)),
    };
    ask(r, "UNMUTE", label, frame)
}

pub fn lock(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let locked = msg.command == "LOCK";
    let frame = ClientFrame::LockRoom {
        room: room(&msg.params[0]),
        locked,
    };
    ask(r, if locked { "LOCK" } else { "UNLOCK" }, label, frame)
}

pub fn delroom(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let frame = ClientFrame::DeleteRoom {
        room: room(&msg.params[0]),
    };
    ask(r, "DELROOM", label, frame)
}

pub fn grant(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let revoke = msg.command == "REVOKE";
    let frame = ClientFrame::Grant {
        room: room(&msg.params[0]),
        username: msg.params[1].clone(),
        revoke,
    };
    ask(r, if revoke { "REVOKE" } else { "GRANT" }, label, frame)
}

pub fn announce(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let frame = ClientFrame::Announce {
        message: msg.params[0].clone(),
    };
    ask(r, "ANNOUNCE", label, frame)
}

/// An admin command (these, and KILL) waiting for its `done` or refusal.
#[derive(Debug)]
pub struct Admin {
    command: &'static str,
}

impl Admin {
    pub fn new(command: &'static str) -> Self {
        Admin { command }
    }
}

impl Waiting for Admin {
    fn name(&self) -> &'static str {
        self.command
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Done { message, .. } = frame else {
            return None;
        };
        let nick = lines.st.nick.clone();
        Some(Step::More(vec![
            lines.from_server("NOTICE", [nick, message.clone()])
        ]))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let line = match refusal.code {
            ErrorCode::NotAuthorized => lines.num(
                Numeric::ERR_NOPRIVILEGES,
                ["Permission Denied- You're not an IRC operator"],
            ),
            ErrorCode::UnknownUser | ErrorCode::InvalidUsername => {
                lines.line(Reply::no_such_nick(refusal.nick_or("*").as_str()))
            }
            ErrorCode::UnknownRoom | ErrorCode::InvalidRoomName => {
                lines.line(Reply::no_such_channel(refusal.channel_or("*").as_str()))
            }
            _ => lines.fail_code(self.command, refusal),
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
    fn admin_commands_become_the_native_requests_and_answer_with_a_notice_or_481() {
        let mut h = Harness::registered("op");
        let actions = h.line("KLINE 60 spammer :spam");
        assert_eq!(h.hub_frames(&actions), ["ban spammer", "ping"]);
        let token = h.token_of(&actions[0]);
        let done = h.frame(ServerFrame::Done {
            action: "ban".into(),
            message: "Banned the name \"spammer\" for 60 minutes.".into(),
            reference: Some(Value::from(token)),
        });
        assert_eq!(
            done,
            [":srv NOTICE op :Banned the name \"spammer\" for 60 minutes."]
        );
        let actions = h.line("MUTE bob #den 5");
        assert_eq!(h.hub_frames(&actions), ["mute den", "ping"]);
        let token = h.token_of(&actions[0]);
        assert_eq!(
            h.refusal(ErrorCode::NotAuthorized, None, token),
            [":srv 481 op :Permission Denied- You're not an IRC operator"]
        );
        let actions = h.line("LOCK #den");
        assert_eq!(h.hub_frames(&actions), ["lock_room den", "ping"]);
        let actions = h.line("GRANT #den ann");
        assert_eq!(h.hub_frames(&actions), ["grant den", "ping"]);
    }
}
