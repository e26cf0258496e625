//! `OPER name password` and the operator commands. IRC operators are Palaver's admins: OPER
//! with an admin account's name and password gives the connection the admin's powers (381 and
//! `MODE nick +o`; 464 for a wrong password, 491 for an account that is not an admin), as does
//! logging in to an admin account with SASL. Operators may `KILL nick [:reason]` (481 for
//! others, 401 for no such nick); the admins' other powers (ban, mute, lock, announce) are the
//! native requests. Operator commands Palaver has no use for (`REHASH`, `DIE`, ...) are 481 for
//! others and a standard reply (`FAIL <command> UNSUPPORTED`) for operators.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ClientFrame, ErrorCode, Secret, ServerFrame};

use super::admin::Admin;
use super::{Refusal, Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};

pub fn oper(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let ask = ClientFrame::Oper {
        username: msg.params[0].clone(),
        password: Secret(msg.params[1].clone()),
    };
    let token = r.begin(Oper, label);
    // Ended by the `done` or `error` frame: the password is checked off the hub's task.
    vec![Reader::request(token, ask)]
}

#[derive(Debug)]
pub struct Oper;

impl Waiting for Oper {
    fn name(&self) -> &'static str {
        "OPER"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Done { action, .. } = frame else {
            return None;
        };
        if action != "oper" {
            return None;
        }
        lines.st.oper = true;
        let nick = lines.st.nick.clone();
        Some(Step::Done(vec![
            lines.num(Numeric::RPL_YOUREOPER, ["You are now an IRC operator"]),
            IrcMessage::new("MODE", [nick.clone(), "+o".to_string()]).with_source(nick.as_str()),
        ]))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let line = match refusal.code {
            ErrorCode::NotAuthorized => {
                lines.num(Numeric::ERR_NOOPERHOST, ["No O-lines for your host"])
            }
            _ => lines.num(Numeric::ERR_PASSWDMISMATCH, ["Password incorrect"]),
        };
        Step::Done(vec![line])
    }
}

/// `KILL nick [:reason]`: an admin command like the others (`cmd/admin.rs`); the one killed
/// leaves with a QUIT the channels it shared show.
pub fn kill(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let ask = ClientFrame::Kill {
        username: msg.params[0].clone(),
        reason: msg.params.get(1).cloned(),
    };
    r.ask(Admin::new("KILL"), label, [ask])
}

/// Operator commands Palaver does not have.
pub fn operators_only(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    if r.lock().oper {
        let line = r.from_server(
            "FAIL",
            [
                msg.command.as_str(),
                "UNSUPPORTED",
                "Palaver does not have this command; see docs/irc.md",
            ],
        );
        return r.reply(label, vec![line]);
    }
    r.reply_num(
        label,
        Numeric::ERR_NOPRIVILEGES,
        ["Permission Denied- You're not an IRC operator"],
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use palaver_proto::{ErrorCode, ServerFrame};
    use serde_json::Value;

    #[test]
    fn oper_answers_381_and_mode_or_the_numerics_for_its_refusals() {
        let mut h = Harness::registered("baz");
        let actions = h.line("OPER operuser operpassword");
        assert_eq!(h.hub_frames(&actions), ["oper operuser"]);
        let token = h.token_of(&actions[0]);
        let lines = h.frame(ServerFrame::Done {
            action: "oper".into(),
            message: "anything".into(),
            reference: Some(Value::from(token)),
        });
        assert_eq!(
            lines,
            [
                ":srv 381 baz :You are now an IRC operator",
                ":baz MODE baz +o"
            ]
        );
        let actions = h.line("OPER operuser wrong");
        let token = h.token_of(&actions[0]);
        assert_eq!(
            h.refusal(ErrorCode::InvalidCredentials, None, token),
            [":srv 464 baz :Password incorrect"]
        );
        let actions = h.line("OPER nobody pw");
        let token = h.token_of(&actions[0]);
        assert_eq!(
            h.refusal(ErrorCode::NotAuthorized, None, token),
            [":srv 491 baz :No O-lines for your host"]
        );
        let actions = h.line("OPER operuser");
        assert_eq!(
            h.replies(&actions),
            [":srv 461 baz OPER :Not enough parameters"]
        );
    }

    #[test]
    fn kill_is_an_admin_command_refused_with_481_or_401() {
        let mut h = Harness::registered("baz");
        let token = h.ask("KILL ghost :bye");
        assert_eq!(
            h.refusal(ErrorCode::UnknownUser, Some("ghost"), token),
            [":srv 401 baz ghost :No such nick/channel"]
        );
        let token = h.ask("KILL bob");
        assert_eq!(
            h.refusal(ErrorCode::NotAuthorized, None, token),
            [":srv 481 baz :Permission Denied- You're not an IRC operator"]
        );
    }
}
