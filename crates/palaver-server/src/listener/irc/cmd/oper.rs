//! `OPER` and the operator-only commands. There are no IRC operators yet: OPER is 491 and the
//! operator commands (`KILL`, `REHASH`, `DIE`, ...) are 481.

use palaver_proto::irc::IrcMessage;

use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};

pub fn oper(r: &mut Reader, _: &IrcMessage, label: Option<String>) -> Vec<Action> {
    r.reply_num(label, Numeric::ERR_NOOPERHOST, ["No O-lines for your host"])
}

pub fn operators_only(r: &mut Reader, _: &IrcMessage, label: Option<String>) -> Vec<Action> {
    r.reply_num(
        label,
        Numeric::ERR_NOPRIVILEGES,
        ["Permission Denied- You're not an IRC operator"],
    )
}
