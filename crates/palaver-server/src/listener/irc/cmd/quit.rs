//! `QUIT [:reason]`: `ERROR :Closing link: (Quit: reason)` to the client, then the connection
//! ends; the others see one `QUIT :Quit: reason`.

use palaver_proto::irc::IrcMessage;

use crate::listener::irc::reader::{Action, Reader};

pub fn run(_: &mut Reader, msg: &IrcMessage, _: Option<String>) -> Vec<Action> {
    let reason = msg
        .params
        .first()
        .map(|r| format!("Quit: {r}"))
        .unwrap_or_else(|| "Quit".into());
    let error = IrcMessage::new("ERROR", [format!("Closing link: ({reason})")]);
    vec![Action::Quit(vec![error], reason)]
}
