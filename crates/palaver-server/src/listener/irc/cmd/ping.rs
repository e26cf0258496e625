//! `PING token` and `PONG`. A client's PING is answered after the replies to everything it sent
//! before (it goes through the hub as a `ping` and ends at the `pong`), so a client can use it to
//! wait for its earlier commands. `PING` with no token is 461; `PING :` is answered with an empty
//! token. A `PONG` only shows the client is alive (the connection's timer).

use palaver_proto::irc::IrcMessage;

use super::Waiting;
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};

pub fn ping(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let Some(token) = msg.params.first() else {
        return r.reply_num(
            label,
            Numeric::ERR_NEEDMOREPARAMS,
            ["PING", "Not enough parameters"],
        );
    };
    let token = r.begin(
        Ping {
            token: token.clone(),
        },
        label,
    );
    vec![Reader::end(token)]
}

pub fn pong(r: &mut Reader, _: &IrcMessage, label: Option<String>) -> Vec<Action> {
    r.reply(label, Vec::new())
}

#[derive(Debug)]
pub struct Ping {
    token: String,
}

impl Waiting for Ping {
    fn name(&self) -> &'static str {
        "PING"
    }

    fn end(&mut self, lines: &mut Lines) -> Vec<IrcMessage> {
        let server = lines.server.name.clone();
        vec![lines.from_server("PONG", [server, self.token.clone()])]
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;

    #[test]
    fn ping_is_answered_at_its_pong_with_its_token_even_empty_and_461_without_one() {
        let mut h = Harness::registered("me");
        let actions = h.line("PING :");
        assert_eq!(h.hub_frames(&actions), ["ping"]);
        let token = h.token_of(&actions[0]);
        assert_eq!(h.pong(token), [":srv PONG srv :"]);
        let actions = h.line("PING abc");
        let token = h.token_of(&actions[0]);
        assert_eq!(h.pong(token), [":srv PONG srv abc"]);
        let actions = h.line("PING");
        assert_eq!(
            h.replies(&actions),
            [":srv 461 me PING :Not enough parameters"]
        );
    }
}
