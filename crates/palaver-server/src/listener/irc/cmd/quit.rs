//! `QUIT [:reason]`: `ERROR :Closing link: (Quit: reason)` to the client, then the connection
//! ends; the others see one `QUIT :Quit: reason`.

use palaver_proto::irc::IrcMessage;

use crate::listener::irc::reader::{Action, Reader};

pub fn run(_: &mut Reader, msg: &IrcMessage, _: Option<String>) -> Vec<Action> {
    let reason = reason(msg);
    let error = IrcMessage::new("ERROR", [format!("Closing link: ({reason})")]);
    vec![Action::Quit(vec![error], reason)]
}

/// What the others are told: `Quit: reason`, or `Quit`.
pub fn reason(msg: &IrcMessage) -> String {
    msg.params
        .first()
        .map(|r| format!("Quit: {r}"))
        .unwrap_or_else(|| "Quit".into())
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use crate::listener::irc::reader::Action;

    #[test]
    fn quit_says_error_with_the_reason_and_ends_the_connection() {
        let mut h = Harness::registered("me");
        let actions = h.line("QUIT :bye now");
        assert!(matches!(&actions[..], [Action::Quit(_, reason)] if reason == "Quit: bye now"));
        assert_eq!(
            h.replies(&actions),
            ["ERROR :Closing link: (Quit: bye now)"]
        );
    }
}
