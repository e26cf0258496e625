//! Registration: `PASS`, `NICK`, `USER`, and `NICK` again later (a rename).
//!
//! Once NICK and USER have arrived (and CAP negotiation, if begun, has ended), the connection
//! joins the hub as a user with no rooms. The welcome burst follows: 001-005 (from the hub's
//! `welcome`), LUSERS (from an `info`), then the MOTD at the closing `pong`. The server password
//! (`--irc-password`), if set, must have come with PASS: else 464 and the link is closed.
//! A nick taken (or an account's, without SASL) is 433; an invalid one 432.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{validate, ClientFrame, ErrorCode, ServerFrame, Welcome};

use super::server_info::{isupport_lines, lusers_lines, motd_lines};
use super::{Refusal, Step, Waiting};
use crate::hub::{Profile, Protocol};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::numeric;

/// `PASS password`: the server password, before NICK and USER.
pub fn pass(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    if r.lock().registered {
        return r.reply_num(
            label,
            Numeric::ERR_ALREADYREGISTERED,
            ["You may not reregister"],
        );
    }
    r.password = Some(msg.params[0].clone());
    Vec::new()
}

/// `NICK nick`: the nick to register with, or a rename once registered.
pub fn nick(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let Some(wanted) = msg.params.first().filter(|w| !w.is_empty()) else {
        return r.reply_num(label, Numeric::ERR_NONICKNAMEGIVEN, ["No nickname given"]);
    };
    let Ok(nick) = validate::username(wanted) else {
        return r.reply_num(
            label,
            Numeric::ERR_ERRONEUSNICKNAME,
            [wanted.as_str(), "Erroneous nickname"],
        );
    };
    if r.lock().registered {
        let token = r.begin(Rename { new: nick.clone() }, label);
        return vec![
            Reader::request(token, ClientFrame::Rename { username: nick }),
            Reader::end(token),
        ];
    }
    r.nick = Some(nick);
    try_register(r, label)
}

/// `USER ident mode unused :realname`.
pub fn user(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let p = &msg.params;
    if r.lock().registered {
        return r.reply_num(
            label,
            Numeric::ERR_ALREADYREGISTERED,
            ["You may not reregister"],
        );
    }
    if p[0].is_empty() || p[3].is_empty() {
        return r.reply_num(
            label,
            Numeric::ERR_NEEDMOREPARAMS,
            ["USER", "Not enough parameters"],
        );
    }
    r.user = Some((p[0].clone(), p[3].clone()));
    r.lock().realname = p[3].clone();
    try_register(r, label)
}

/// Registers once NICK and USER have arrived and capability negotiation is over.
pub fn try_register(r: &mut Reader, label: Option<String>) -> Vec<Action> {
    let (Some(nick), Some((ident, realname))) = (r.nick.clone(), r.user.clone()) else {
        return Vec::new();
    };
    {
        let st = r.lock();
        if st.registered || st.registering || st.cap_negotiating {
            return Vec::new();
        }
    }
    if let Some(expected) = &r.server.password {
        if r.password.as_deref() != Some(expected.as_str()) {
            let line = numeric(
                &r.server.name,
                "*",
                Numeric::ERR_PASSWDMISMATCH,
                ["Password incorrect"],
            );
            let error = IrcMessage::new("ERROR", ["Closing link: Password incorrect"]);
            return vec![Action::Quit(
                vec![line, error],
                "Password incorrect".to_string(),
            )];
        }
    }
    // After SASL the account's name is the nick (one identity across protocols).
    let nick = r.lock().account.clone().unwrap_or(nick);
    r.lock().registering = true;
    let token = r.begin(Registration, label);
    vec![
        Action::Identify(Profile {
            protocol: Protocol::Irc,
            ident: Some(ident),
            realname: Some(realname),
        }),
        Reader::request(
            token,
            ClientFrame::Join {
                username: nick,
                since: None,
                rooms: Some(Vec::new()),
                resume_token: None,
            },
        ),
        Reader::request(token, ClientFrame::Info),
        Reader::end(token),
    ]
}

/// The registration on its way: the welcome (a frame of its own), LUSERS, then the MOTD.
#[derive(Debug)]
pub struct Registration;

impl Waiting for Registration {
    fn name(&self) -> &'static str {
        "NICK"
    }

    fn registers(&self) -> bool {
        true
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        match frame {
            ServerFrame::Info {
                users_online,
                max_users_online,
                connections,
                rooms,
                ..
            } => Some(Step::More(lusers_lines(
                lines,
                *users_online,
                *max_users_online,
                *connections,
                *rooms,
            ))),
            _ => None,
        }
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let server = &lines.server.name;
        let line = match refusal.code {
            ErrorCode::AccountRequired | ErrorCode::UsernameTaken => {
                // A registered nick says so (log in with SASL); a taken one says it is in use.
                let why = if refusal.code == ErrorCode::AccountRequired {
                    refusal.message
                } else {
                    "Nickname is already in use"
                };
                let nick = refusal.nick_or("*");
                numeric(
                    server,
                    "*",
                    Numeric::ERR_NICKNAMEINUSE,
                    [nick.as_str(), why],
                )
            }
            ErrorCode::InvalidUsername => numeric(
                server,
                "*",
                Numeric::ERR_ERRONEUSNICKNAME,
                ["*", "Erroneous nickname"],
            ),
            // Later steps of a registration that failed say nothing more.
            _ => return Step::More(Vec::new()),
        };
        lines.st.registering = false;
        Step::More(vec![line])
    }

    fn end(&mut self, lines: &mut Lines) -> Vec<IrcMessage> {
        if !lines.st.registered {
            return Vec::new();
        }
        motd_lines(lines.server, &lines.st.nick)
    }
}

/// 001-005: the welcome, once the hub has let the connection in.
pub fn welcome(lines: &mut Lines, welcome: &Welcome) -> Vec<IrcMessage> {
    lines.st.nick = welcome.username.clone();
    lines.st.registered = true;
    lines.st.registering = false;
    let s = lines.server;
    let nick = welcome.username.clone();
    let mut out = vec![
        lines.num(
            Numeric::RPL_WELCOME,
            [format!("Welcome to the {} IRC Network, {nick}", s.network)],
        ),
        lines.num(
            Numeric::RPL_YOURHOST,
            [format!(
                "Your host is {}, running version palaver-{}",
                s.name, s.version
            )],
        ),
        lines.num(
            Numeric::RPL_CREATED,
            [format!("This server was created {}", s.created)],
        ),
        lines.num(
            Numeric::RPL_MYINFO,
            [
                s.name.clone(),
                format!("palaver-{}", s.version),
                "i".into(),
                "biklmnostv".into(),
                "bkl".into(),
            ],
        ),
    ];
    out.extend(isupport_lines(s, &nick));
    out
}

/// NICK after registration: a rename.
#[derive(Debug)]
pub struct Rename {
    pub new: String,
}

impl Waiting for Rename {
    fn name(&self) -> &'static str {
        "NICK"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Renamed { new, .. } = frame else {
            return None;
        };
        let line = IrcMessage::new("NICK", [new.clone()]).with_source(lines.source);
        lines.st.nick = new.clone();
        Some(Step::More(vec![line]))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let line = match refusal.code {
            ErrorCode::UsernameTaken => lines.num(
                Numeric::ERR_NICKNAMEINUSE,
                [self.new.as_str(), "Nickname is already in use"],
            ),
            _ => lines.num(
                Numeric::ERR_ERRONEUSNICKNAME,
                [self.new.as_str(), "Erroneous nickname"],
            ),
        };
        Step::More(vec![line])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{server, Harness};
    use crate::listener::irc::reader::Action;

    #[test]
    fn registration_joins_the_hub_once_nick_and_user_are_in() {
        let mut h = Harness::fresh(server());
        assert!(h.line("NICK ann").is_empty());
        let actions = h.line("USER ann 0 * :Ann");
        assert!(matches!(actions[0], Action::Identify(_)));
        assert_eq!(h.hub_frames(&actions), ["join ann", "info", "ping"]);
        let actions = h.line("JOIN #a");
        assert_eq!(
            h.hub_frames(&actions)[0],
            "join_room a",
            "follows the registration"
        );
    }

    #[test]
    fn a_server_password_is_checked_before_joining() {
        let mut with_password = server();
        with_password.password = Some("sesame".into());
        let mut h = Harness::fresh(with_password.clone());
        h.line("PASS wrong");
        h.line("NICK ann");
        let actions = h.line("USER ann 0 * :Ann");
        assert!(matches!(actions[0], Action::Quit(..)), "{actions:?}");
        assert_eq!(
            h.replies(&actions),
            [
                ":srv 464 * :Password incorrect",
                "ERROR :Closing link: Password incorrect"
            ]
        );
        let mut h = Harness::fresh(with_password);
        h.line("PASS sesame");
        h.line("NICK ann");
        let actions = h.line("USER ann 0 * :Ann");
        assert_eq!(h.hub_frames(&actions), ["join ann", "info", "ping"]);
    }

    #[test]
    fn commands_before_registration_are_451_and_unknown_ones_421() {
        let mut h = Harness::fresh(server());
        let actions = h.line("JOIN #a");
        assert_eq!(h.replies(&actions), [":srv 451 * :You have not registered"]);
        let actions = h.line("FROB");
        assert_eq!(h.replies(&actions), [":srv 421 * FROB :Unknown command"]);
    }
}
