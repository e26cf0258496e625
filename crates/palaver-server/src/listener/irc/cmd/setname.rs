//! `SETNAME :realname` (IRCv3 `setname`): a new real name; you and those sharing a channel with
//! you who enabled `setname` see `SETNAME`; WHOIS shows it. `FAIL SETNAME INVALID_REALNAME` for
//! an empty one.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ClientFrame, ServerFrame};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::caps;
use crate::listener::irc::lines::Lines;
use crate::listener::irc::reader::{Action, Reader};

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let realname = msg.params[0].clone();
    r.ask(SetName, label, [ClientFrame::SetRealname { realname }])
}

#[derive(Debug)]
pub struct SetName;

impl Waiting for SetName {
    fn name(&self) -> &'static str {
        "SETNAME"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::RealnameChanged { realname, .. } = frame else {
            return None;
        };
        lines.st.realname = realname.clone();
        Some(Step::More(seen(lines, realname)))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let line = lines.fail("SETNAME", "INVALID_REALNAME", &[], refusal.message);
        Step::More(vec![line])
    }
}

/// A real name changed, for clients that enabled `setname`.
pub fn seen(lines: &Lines, realname: &str) -> Vec<IrcMessage> {
    if !lines.has(caps::SETNAME) {
        return Vec::new();
    }
    vec![IrcMessage::new("SETNAME", [realname.to_string()]).with_source(lines.source)]
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use crate::hub::Outgoing;
    use palaver_proto::ServerFrame;
    use serde_json::Value;
    use std::sync::Arc;

    #[test]
    fn setname_is_shown_to_those_with_the_capability() {
        let mut h = Harness::registered("me");
        h.enable(crate::listener::irc::caps::SETNAME);
        let token = h.ask("SETNAME :Me Myself");
        let own = Outgoing::from_user(
            ServerFrame::RealnameChanged {
                username: "me".into(),
                realname: "Me Myself".into(),
                reference: Some(Value::from(token)),
            },
            Arc::from("me!~me@irc.palaver"),
        );
        assert_eq!(h.outgoing(&own), [":me!~me@irc.palaver SETNAME :Me Myself"]);
        let mut plain = Harness::registered("other");
        let theirs = Outgoing::from_user(
            ServerFrame::RealnameChanged {
                username: "bob".into(),
                realname: "Bob".into(),
                reference: None,
            },
            Arc::from("bob!~bob@irc.palaver"),
        );
        assert!(plain.outgoing(&theirs).is_empty());
        plain.enable(crate::listener::irc::caps::SETNAME);
        assert_eq!(
            plain.outgoing(&theirs),
            [":bob!~bob@irc.palaver SETNAME Bob"]
        );
    }
}
