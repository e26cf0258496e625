//! `NAMES #chan`: 353 lines (`=`, `@` for operators, `nick!ident@host` with userhost-in-names),
//! then 366. A channel that does not exist, or no channel at all, is just the 366.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ClientFrame, ServerFrame, UserInfo};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::caps;
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::channel;

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let Some(chan) = msg
        .params
        .first()
        .and_then(|c| c.split(',').next())
        .filter(|c| !c.is_empty())
    else {
        return r.reply_num(label, Numeric::RPL_ENDOFNAMES, ["*", "End of /NAMES list"]);
    };
    let ask = ClientFrame::Who {
        room: Some(chan.trim_start_matches('#').to_string()),
        username: None,
    };
    let names = Names {
        channel: chan.to_string(),
    };
    r.ask(names, label, [ask])
}

#[derive(Debug)]
pub struct Names {
    channel: String,
}

impl Waiting for Names {
    fn name(&self) -> &'static str {
        "NAMES"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Who {
            room,
            users,
            secret,
            ..
        } = frame
        else {
            return None;
        };
        let chan = room
            .as_deref()
            .map_or_else(|| self.channel.clone(), channel);
        Some(Step::More(names_lines(lines, &chan, users, *secret)))
    }

    fn refused(&mut self, lines: &mut Lines, _: Refusal) -> Step {
        let line = lines.num(
            Numeric::RPL_ENDOFNAMES,
            [self.channel.as_str(), "End of /NAMES list"],
        );
        Step::More(vec![line])
    }
}

/// `@` for a room operator, `+` for voice (both with multi-prefix, else the higher).
pub fn prefixes(lines: &Lines, u: &UserInfo) -> String {
    let mut prefix = String::new();
    if u.operator {
        prefix.push('@');
    }
    if u.voice && (prefix.is_empty() || lines.has(caps::MULTI_PREFIX)) {
        prefix.push('+');
    }
    prefix
}

fn names_entry(lines: &Lines, u: &UserInfo) -> String {
    let prefix = prefixes(lines, u);
    if lines.has(caps::USERHOST_IN_NAMES) {
        format!("{prefix}{}!{}@{}", u.username, u.ident, u.host)
    } else {
        format!("{prefix}{}", u.username)
    }
}

/// 353 lines for a channel's members (`=`, or `@` for a secret one), then 366.
pub fn names_lines(lines: &Lines, chan: &str, users: &[UserInfo], secret: bool) -> Vec<IrcMessage> {
    let symbol = if secret { "@" } else { "=" };
    let mut out = Vec::new();
    // 353 lines stay well under 512 bytes: the fixed part plus entries up to ~400 bytes.
    let mut entries: Vec<String> = Vec::new();
    let mut size = 0;
    for u in users {
        let entry = names_entry(lines, u);
        if size + entry.len() + 1 > 400 && !entries.is_empty() {
            out.push(lines.num(Numeric::RPL_NAMREPLY, [symbol, chan, &entries.join(" ")]));
            entries.clear();
            size = 0;
        }
        size += entry.len() + 1;
        entries.push(entry);
    }
    if !entries.is_empty() {
        out.push(lines.num(Numeric::RPL_NAMREPLY, [symbol, chan, &entries.join(" ")]));
    }
    out.push(lines.num(Numeric::RPL_ENDOFNAMES, [chan, "End of /NAMES list"]));
    out
}

/// A channel's names from a `joined_room`'s member list (no command asked for them).
pub fn member_lines(
    lines: &Lines,
    room: &str,
    members: &[String],
    operators: &[String],
) -> Vec<IrcMessage> {
    let users: Vec<UserInfo> = members
        .iter()
        .map(|name| UserInfo {
            username: name.clone(),
            ident: crate::hub::session::sanitize_ident(None, name),
            host: crate::hub::Protocol::Native.host().to_string(),
            realname: name.clone(),
            protocol: String::new(),
            away: None,
            operator: operators.contains(name),
            voice: false,
            admin: false,
            account: None,
            rooms: None,
            operator_of: Vec::new(),
            connected: String::new(),
            idle_seconds: None,
            left: None,
        })
        .collect();
    names_lines(lines, &channel(room), &users, false)
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;

    #[test]
    fn names_lists_operators_with_at_and_ends_with_366() {
        let mut h = Harness::registered("me");
        let actions = h.line("NAMES #Rust");
        let token = h.token_of(&actions[0]);
        let lines = h.who_with_ops("Rust", &[("me", false), ("ann", true)], token);
        assert_eq!(
            lines,
            [
                ":srv 353 me = #Rust :me @ann",
                ":srv 366 me #Rust :End of /NAMES list"
            ]
        );
        let actions = h.line("NAMES");
        assert_eq!(h.replies(&actions), [":srv 366 me * :End of /NAMES list"]);
    }
}
