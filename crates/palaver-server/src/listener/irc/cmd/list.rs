//! `LIST [#a,#b]`: 321, a 322 per channel (members, topic), 323. An IRC channel exists while it
//! has members, so empty rooms are not listed.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{validate, ClientFrame, ServerFrame};

use super::{Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::channel;

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let only = msg
        .params
        .first()
        .filter(|f| !f.is_empty())
        .map(|f| f.split(',').map(str::to_string).collect());
    r.ask(List { only }, label, [ClientFrame::Rooms])
}

#[derive(Debug)]
pub struct List {
    only: Option<Vec<String>>,
}

impl Waiting for List {
    fn name(&self) -> &'static str {
        "LIST"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Rooms { rooms, .. } = frame else {
            return None;
        };
        let mut out = vec![lines.num(Numeric::RPL_LISTSTART, ["Channel", "Users  Name"])];
        for r in rooms {
            let wanted = self.only.as_ref().is_none_or(|names| {
                names
                    .iter()
                    .any(|n| validate::fold(n.trim_start_matches('#')) == validate::fold(&r.name))
            });
            if wanted && r.members > 0 {
                out.push(lines.num(
                    Numeric::RPL_LIST,
                    [channel(&r.name), r.members.to_string(), r.topic.clone()],
                ));
            }
        }
        out.push(lines.num(Numeric::RPL_LISTEND, ["End of /LIST"]));
        Some(Step::More(out))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use palaver_proto::{RoomInfo, ServerFrame};
    use serde_json::Value;

    fn room(name: &str, members: usize) -> RoomInfo {
        RoomInfo {
            name: name.into(),
            topic: format!("{name} talk"),
            members,
            topic_by: None,
            topic_at: None,
            created: None,
            last_seq: 0,
            modes: None,
        }
    }

    #[test]
    fn list_shows_channels_with_members_and_filters_by_name() {
        let mut h = Harness::registered("me");
        let actions = h.line("LIST #Rust,#empty");
        let token = h.token_of(&actions[0]);
        let lines = h.frame(ServerFrame::Rooms {
            rooms: vec![room("rust", 2), room("empty", 0), room("go", 1)],
            reference: Some(Value::from(token)),
        });
        assert_eq!(
            lines,
            [
                ":srv 321 me Channel :Users  Name",
                ":srv 322 me #rust 2 :rust talk",
                ":srv 323 me :End of /LIST"
            ]
        );
    }
}
