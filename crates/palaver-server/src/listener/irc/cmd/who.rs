//! `WHO #chan` and `WHO nick` (or a mask): a 352 per user (`H`/`G` for here or away, `@` for
//! operators, hopcount 0), then 315. A mask that names no one we can look up gets the end of an
//! empty list.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{validate, ClientFrame, ServerFrame};

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
    r.ask(Who { mask }, label, [ask])
}

#[derive(Debug)]
pub struct Who {
    mask: String,
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
