//! `USERHOST nick...` (302, up to five nicks: `nick=+ident@host`, `-` when away) and
//! `ISON nick...` (303: those online).

use palaver_proto::irc::IrcMessage;
use palaver_proto::{validate, ClientFrame, ServerFrame};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};

pub fn userhost(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let asks = msg.params.iter().take(5).map(|nick| ClientFrame::Who {
        room: None,
        username: Some(nick.clone()),
    });
    r.ask(Userhost::default(), label, asks)
}

/// USERHOST gathering one `who` answer per nick, answered at the closing `pong`.
#[derive(Debug, Default)]
pub struct Userhost {
    found: Vec<String>,
}

impl Waiting for Userhost {
    fn name(&self) -> &'static str {
        "USERHOST"
    }

    fn frame(&mut self, _: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Who { users, .. } = frame else {
            return None;
        };
        if let Some(u) = users.first() {
            let away = if u.away.is_some() { '-' } else { '+' };
            self.found
                .push(format!("{}={away}{}@{}", u.username, u.ident, u.host));
        }
        Some(Step::More(Vec::new()))
    }

    fn refused(&mut self, _: &mut Lines, _: Refusal) -> Step {
        Step::More(Vec::new())
    }

    fn end(&mut self, lines: &mut Lines) -> Vec<IrcMessage> {
        vec![lines.num(Numeric::RPL_USERHOST, [self.found.join(" ")])]
    }
}

pub fn ison(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let nicks: Vec<String> = msg
        .params
        .iter()
        .flat_map(|n| n.split(' '))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    r.ask(Ison { nicks }, label, [ClientFrame::Users { room: None }])
}

#[derive(Debug)]
pub struct Ison {
    nicks: Vec<String>,
}

impl Waiting for Ison {
    fn name(&self) -> &'static str {
        "ISON"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Users { users, .. } = frame else {
            return None;
        };
        let online: Vec<String> = self
            .nicks
            .iter()
            .filter_map(|n| {
                let key = validate::fold(n);
                users.iter().find(|u| validate::fold(u) == key).cloned()
            })
            .collect();
        Some(Step::More(vec![
            lines.num(Numeric::RPL_ISON, [online.join(" ")])
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{user, Harness};
    use palaver_proto::ServerFrame;
    use serde_json::Value;

    #[test]
    fn userhost_gathers_one_answer_per_nick_and_ison_lists_those_online() {
        let mut h = Harness::registered("me");
        let actions = h.line("USERHOST ann nobody");
        assert_eq!(h.hub_frames(&actions), ["who ann", "who nobody", "ping"]);
        let token = h.token_of(&actions[0]);
        let mut ann = user("ann", false);
        ann.away = Some("out".into());
        let who = |users| ServerFrame::Who {
            room: None,
            users,
            secret: false,
            reference: Some(Value::from(token)),
        };
        assert!(h.frame(who(vec![ann])).is_empty());
        assert!(h.frame(who(vec![])).is_empty());
        assert_eq!(h.pong(token), [":srv 302 me ann=-~ann@irc.palaver"]);
        let actions = h.line("ISON Ann bob");
        let token = h.token_of(&actions[0]);
        let lines = h.frame(ServerFrame::Users {
            room: None,
            users: vec!["ann".into(), "carl".into()],
            reference: Some(Value::from(token)),
        });
        assert_eq!(lines, [":srv 303 me ann"]);
    }
}
