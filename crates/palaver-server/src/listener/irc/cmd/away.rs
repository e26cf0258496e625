//! `AWAY [:message]`: 306 when marked away, 305 when back; others sharing a channel who enabled
//! away-notify see `AWAY`.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ClientFrame, ServerFrame};

use super::{Step, Waiting};
use crate::listener::irc::caps;
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let message = msg.params.first().filter(|m| !m.is_empty()).cloned();
    r.ask(Away, label, [ClientFrame::Away { message }])
}

#[derive(Debug)]
pub struct Away;

impl Waiting for Away {
    fn name(&self) -> &'static str {
        "AWAY"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Away {
            username, message, ..
        } = frame
        else {
            return None;
        };
        if !lines.st.is_me(username) {
            return None;
        }
        let line = match message {
            Some(_) => lines.num(Numeric::RPL_NOWAWAY, ["You have been marked as being away"]),
            None => lines.num(
                Numeric::RPL_UNAWAY,
                ["You are no longer marked as being away"],
            ),
        };
        Some(Step::More(vec![line]))
    }
}

/// Someone else going away or coming back, for away-notify.
pub fn seen(lines: &mut Lines, username: &str, message: Option<&str>) -> Vec<IrcMessage> {
    if lines.st.is_me(username) || !lines.has(caps::AWAY_NOTIFY) {
        return Vec::new();
    }
    let params: Vec<String> = message.map(str::to_string).into_iter().collect();
    vec![IrcMessage::new("AWAY", params).with_source(lines.source)]
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use crate::hub::Outgoing;
    use palaver_proto::ServerFrame;
    use serde_json::Value;
    use std::sync::Arc;

    #[test]
    fn away_answers_306_or_305_and_others_show_only_with_away_notify() {
        let mut h = Harness::registered("me");
        let actions = h.line("AWAY :lunch");
        let token = h.token_of(&actions[0]);
        let mine = h.frame(ServerFrame::Away {
            username: "me".into(),
            message: Some("lunch".into()),
            reference: Some(Value::from(token)),
        });
        assert_eq!(mine, [":srv 306 me :You have been marked as being away"]);
        let theirs = Outgoing::from_user(
            ServerFrame::Away {
                username: "bob".into(),
                message: Some("gone".into()),
                reference: None,
            },
            Arc::from("bob!~bob@irc.palaver"),
        );
        assert!(h.outgoing(&theirs).is_empty());
        h.enable(crate::listener::irc::caps::AWAY_NOTIFY);
        assert_eq!(h.outgoing(&theirs), [":bob!~bob@irc.palaver AWAY gone"]);
    }
}
