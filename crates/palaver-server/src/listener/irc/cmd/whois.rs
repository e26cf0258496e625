//! `WHOIS [server] nick` (311, 319, 312, 301 when away, 320 for app users, 317, 318; 401 + 318
//! for no such nick) and `WHOWAS nick [count]` (314 + 312 per entry, newest first, 369; 406 +
//! 369).

use palaver_proto::irc::IrcMessage;
use palaver_proto::{timestamp, ClientFrame, ServerFrame, UserInfo};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::{Numeric, Reply};
use crate::listener::irc::reader::{Action, Reader};

pub fn whois(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    // WHOIS [server] nick
    let nick = msg.params.last().cloned().unwrap_or_default();
    let nick = nick.split(',').next().unwrap_or_default().to_string();
    let ask = ClientFrame::Whois {
        username: nick.clone(),
    };
    r.ask(Whois { nick }, label, [ask])
}

#[derive(Debug)]
pub struct Whois {
    nick: String,
}

impl Waiting for Whois {
    fn name(&self) -> &'static str {
        "WHOIS"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Whois { user, .. } = frame else {
            return None;
        };
        Some(Step::More(whois_lines(lines, user)))
    }

    fn refused(&mut self, lines: &mut Lines, _: Refusal) -> Step {
        let nick = self.nick.as_str();
        Step::More(vec![
            lines.line(Reply::no_such_nick(nick)),
            lines.num(Numeric::RPL_ENDOFWHOIS, [nick, "End of /WHOIS list"]),
        ])
    }
}

fn whois_lines(lines: &Lines, u: &UserInfo) -> Vec<IrcMessage> {
    let nick = u.username.as_str();
    let mut out = vec![lines.num(
        Numeric::RPL_WHOISUSER,
        [nick, &u.ident, &u.host, "*", &u.realname],
    )];
    if let Some(rooms) = u.rooms.as_ref().filter(|r| !r.is_empty()) {
        let list: Vec<String> = rooms
            .iter()
            .map(|r| {
                let op = if u.operator_of.contains(r) { "@" } else { "" };
                format!("{op}#{r}")
            })
            .collect();
        out.push(lines.num(Numeric::RPL_WHOISCHANNELS, [nick, &list.join(" ")]));
    }
    let server = lines.server;
    out.push(lines.num(
        Numeric::RPL_WHOISSERVER,
        [
            nick,
            &server.name,
            &format!("{} chat server", server.network),
        ],
    ));
    if u.admin {
        out.push(lines.num(Numeric::RPL_WHOISOPERATOR, [nick, "is an IRC operator"]));
    }
    if let Some(away) = &u.away {
        out.push(lines.num(Numeric::RPL_AWAY, [nick, away]));
    }
    if u.protocol == "native" {
        out.push(lines.num(
            Numeric::RPL_WHOISSPECIAL,
            [nick, "is using the Palaver app"],
        ));
    }
    let signon = timestamp::parse_millis(&u.connected).unwrap_or(0) / 1000;
    out.push(lines.num(
        Numeric::RPL_WHOISIDLE,
        [
            nick,
            &u.idle_seconds.unwrap_or(0).to_string(),
            &signon.to_string(),
            "seconds idle, signon time",
        ],
    ));
    out.push(lines.num(Numeric::RPL_ENDOFWHOIS, [nick, "End of /WHOIS list"]));
    out
}

pub fn whowas(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let nick = msg.params[0].clone();
    let count = msg
        .params
        .get(1)
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|c| *c > 0);
    let ask = ClientFrame::Whowas {
        username: nick.clone(),
    };
    r.ask(Whowas { count }, label, [ask])
}

#[derive(Debug)]
pub struct Whowas {
    /// At most this many entries (WHOWAS's count).
    count: Option<usize>,
}

impl Waiting for Whowas {
    fn name(&self) -> &'static str {
        "WHOWAS"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Whowas {
            username, entries, ..
        } = frame
        else {
            return None;
        };
        let count = self.count.unwrap_or(usize::MAX);
        let entries = &entries[..entries.len().min(count)];
        let mut out = Vec::new();
        if entries.is_empty() {
            out.push(lines.num(
                Numeric::ERR_WASNOSUCHNICK,
                [username.as_str(), "There was no such nickname"],
            ));
        }
        for e in entries {
            out.push(lines.num(
                Numeric::RPL_WHOWASUSER,
                [&e.username, &e.ident, &e.host, "*", &e.realname],
            ));
            let left = e.left.clone().unwrap_or_default();
            out.push(lines.num(
                Numeric::RPL_WHOISSERVER,
                [&e.username, &lines.server.name, &left],
            ));
        }
        out.push(lines.num(
            Numeric::RPL_ENDOFWHOWAS,
            [username.as_str(), "End of WHOWAS"],
        ));
        Some(Step::More(out))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{user, Harness};
    use palaver_proto::{ErrorCode, ServerFrame};
    use serde_json::Value;

    #[test]
    fn whois_shows_channels_operators_and_away_and_401_for_nobody() {
        let mut h = Harness::registered("me");
        let actions = h.line("WHOIS ann");
        let token = h.token_of(&actions[0]);
        let mut ann = user("ann", false);
        ann.rooms = Some(vec!["rust".into(), "go".into()]);
        ann.operator_of = vec!["rust".into()];
        ann.admin = true;
        ann.away = Some("out".into());
        let lines = h.frame(ServerFrame::Whois {
            user: Box::new(ann),
            reference: Some(Value::from(token)),
        });
        let codes: Vec<&str> = lines.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
        assert_eq!(codes, ["311", "319", "312", "313", "301", "317", "318"]);
        assert_eq!(lines[1], ":srv 319 me ann :@#rust #go");
        let actions = h.line("WHOIS nobody");
        let token = h.token_of(&actions[0]);
        assert_eq!(
            h.refusal(ErrorCode::UnknownUser, Some("nobody"), token),
            [
                ":srv 401 me nobody :No such nick/channel",
                ":srv 318 me nobody :End of /WHOIS list"
            ]
        );
    }
}
