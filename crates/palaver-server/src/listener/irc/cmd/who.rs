//! `WHO #chan` and `WHO nick` (or a mask): a 352 per user (`H`/`G` for here or away, `*` for IRC
//! operators, `@`/`+` for channel operators and voice, hopcount 0), then 315. A mask that names
//! no one we can look up gets the end of an empty list. WHOX (`WHO <mask> %tcuihsnfdlaor[,token]`)
//! answers 354 with the fields asked for, in that order (the address is never shown: `i` is
//! `255.255.255.255`).

use palaver_proto::irc::IrcMessage;
use palaver_proto::{validate, ClientFrame, ServerFrame, UserInfo};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::channel;

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let mask = msg
        .params
        .first()
        .filter(|m| !m.is_empty() && *m != "0")
        .cloned()
        .unwrap_or_else(|| "*".into());
    let whox = msg.params.get(1).and_then(|f| Whox::parse(f));
    let ask = if let Some(room) = mask.strip_prefix('#') {
        Some(ClientFrame::Who {
            room: Some(room.to_string()),
            username: None,
        })
    } else if validate::username(&mask).is_ok() || mask.contains(['*', '?']) {
        Some(ClientFrame::Who {
            room: None,
            username: Some(mask.clone()),
        })
    } else {
        None
    };
    let Some(ask) = ask else {
        // A mask matching nobody we can name: the end of an empty list.
        return r.reply_num(
            label,
            Numeric::RPL_ENDOFWHO,
            [mask.as_str(), "End of WHO list"],
        );
    };
    r.ask(Who { mask, whox }, label, [ask])
}

/// The fields a WHOX request asks for (`%tcuihsnfdlaor`) and its token.
#[derive(Debug, Clone, PartialEq)]
pub struct Whox {
    fields: String,
    token: Option<String>,
}

impl Whox {
    /// `%fields[,token]`; anything else is a plain WHO.
    fn parse(text: &str) -> Option<Whox> {
        let rest = text.strip_prefix('%')?;
        let (fields, token) = match rest.split_once(',') {
            Some((f, t)) => (f, Some(t.chars().take(3).collect::<String>())),
            None => (rest, None),
        };
        Some(Whox {
            fields: fields.to_string(),
            token,
        })
    }

    fn wants(&self, field: char) -> bool {
        self.fields.contains(field)
    }
}

#[derive(Debug)]
pub struct Who {
    mask: String,
    whox: Option<Whox>,
}

impl Who {
    /// One 354 line: the fields asked for, in WHOX's order.
    fn whox_line(
        &self,
        whox: &Whox,
        lines: &Lines,
        chan: &str,
        u: &UserInfo,
        flags: &str,
    ) -> IrcMessage {
        let mut params = Vec::new();
        for field in "tcuihsnfdlaor".chars().filter(|f| whox.wants(*f)) {
            params.push(match field {
                't' => whox.token.clone().unwrap_or_else(|| "0".into()),
                'c' => chan.to_string(),
                'u' => u.ident.clone(),
                'i' => "255.255.255.255".into(),
                'h' => u.host.clone(),
                's' => lines.server.name.clone(),
                'n' => u.username.clone(),
                'f' => flags.to_string(),
                'd' => "0".into(),
                'l' => u.idle_seconds.unwrap_or(0).to_string(),
                'a' => u.account.clone().unwrap_or_else(|| "0".into()),
                'o' => "n/a".into(),
                _ => u.realname.clone(),
            });
        }
        lines.num(Numeric::RPL_WHOSPCRPL, params)
    }
}

impl Waiting for Who {
    fn name(&self) -> &'static str {
        "WHO"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Who { room, users, .. } = frame else {
            return None;
        };
        let mut out = Vec::new();
        for u in users {
            let mut flags = String::from(if u.away.is_some() { "G" } else { "H" });
            if u.admin {
                flags.push('*');
            }
            flags.push_str(&super::names::prefixes(lines, u));
            let chan = room.as_deref().map_or_else(|| "*".into(), channel);
            if let Some(whox) = &self.whox {
                out.push(self.whox_line(whox, lines, &chan, u, &flags));
                continue;
            }
            out.push(lines.num(
                Numeric::RPL_WHOREPLY,
                [
                    chan,
                    u.ident.clone(),
                    u.host.clone(),
                    lines.server.name.clone(),
                    u.username.clone(),
                    flags,
                    format!("0 {}", u.realname),
                ],
            ));
        }
        out.push(lines.num(
            Numeric::RPL_ENDOFWHO,
            [self.mask.as_str(), "End of WHO list"],
        ));
        Some(Step::More(out))
    }

    fn refused(&mut self, lines: &mut Lines, _: Refusal) -> Step {
        let line = lines.num(
            Numeric::RPL_ENDOFWHO,
            [self.mask.as_str(), "End of WHO list"],
        );
        Step::More(vec![line])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{user, Harness};
    use palaver_proto::ServerFrame;
    use serde_json::Value;

    #[test]
    fn whox_answers_the_fields_asked_for_in_order_with_the_token() {
        let mut h = Harness::registered("me");
        let actions = h.line("WHO ann %nat,42");
        let token = h.token_of(&actions[0]);
        let mut ann = user("ann", false);
        ann.account = Some("ann".into());
        let lines = h.frame(ServerFrame::Who {
            room: None,
            users: vec![ann],
            secret: false,
            reference: Some(Value::from(token)),
        });
        assert_eq!(
            lines,
            [":srv 354 me 42 ann ann", ":srv 315 me ann :End of WHO list"]
        );
    }
}
