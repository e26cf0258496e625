//! Accounts from IRC: `AUTHENTICATE` (SASL PLAIN, before registration) and `REGISTER`
//! (`draft/account-registration`: the nick becomes an account).
//!
//! Both answers come after the password is hashed, off the hub's task: the `authenticated`,
//! `registered` or `error` frame ends the command (no closing ping, which would overtake it).

use base64::Engine;

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ClientFrame, ErrorCode, Secret, ServerFrame};

use super::{Refusal, Step, Waiting};
use crate::listener::irc::caps;
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};

/// SASL PLAIN: `AUTHENTICATE PLAIN`, `+`, then the base64 of `authzid\0authcid\0password`
/// in 400-byte chunks.
pub fn authenticate(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let (registered, negotiated, account) = {
        let st = r.lock();
        (st.registered, st.caps.has(caps::SASL), st.account.clone())
    };
    if registered {
        // An account is its name here: log in before registering (or REGISTER your nick).
        return r.reply_num(
            label,
            Numeric::ERR_ALREADYREGISTERED,
            ["You may not reregister: log in with SASL before registering"],
        );
    }
    if account.is_some() {
        return r.reply_num(
            label,
            Numeric::ERR_SASLALREADY,
            ["You have already authenticated using SASL"],
        );
    }
    if !negotiated {
        return r.reply_num(
            label,
            Numeric::ERR_SASLFAIL,
            ["SASL authentication failed: request the sasl capability first"],
        );
    }
    let arg = msg.params[0].as_str();
    if r.sasl_discarding {
        // The rest of a refused message: its last chunk (shorter than 400) ends it.
        r.sasl_discarding = arg.len() == 400;
        return Vec::new();
    }
    if arg == "*" {
        r.sasl = None;
        return r.reply_num(
            label,
            Numeric::ERR_SASLABORTED,
            ["SASL authentication aborted"],
        );
    }
    let Some(buffer) = r.sasl.as_mut() else {
        if arg.eq_ignore_ascii_case("PLAIN") {
            r.sasl = Some(String::new());
            return r.reply(label, vec![IrcMessage::new("AUTHENTICATE", ["+"])]);
        }
        let lines = vec![
            r.num(
                Numeric::RPL_SASLMECHS,
                ["PLAIN", "are available SASL mechanisms"],
            ),
            r.num(Numeric::ERR_SASLFAIL, ["SASL authentication failed"]),
        ];
        return r.reply(label, lines);
    };
    if arg != "+" {
        buffer.push_str(arg);
    }
    if buffer.len() > MAX_SASL_BYTES {
        // Nobody's name and password are this long: refuse, and drop the chunks still coming.
        r.sasl = None;
        r.sasl_discarding = arg.len() == 400;
        return r.reply_num(
            label,
            Numeric::ERR_SASLFAIL,
            ["SASL authentication failed: the message is too long"],
        );
    }
    if arg.len() == 400 {
        return Vec::new(); // more chunks follow
    }
    let encoded = r.sasl.take().unwrap_or_default();
    let Some((username, password)) = plain_credentials(&encoded) else {
        return r.reply_num(
            label,
            Numeric::ERR_SASLFAIL,
            ["SASL authentication failed: malformed PLAIN message"],
        );
    };
    let token = r.begin(Sasl, label);
    vec![Reader::request(
        token,
        ClientFrame::Authenticate {
            username,
            password: Secret(password),
        },
    )]
}

/// The longest SASL message taken (base64): a name and a password fit many times over.
const MAX_SASL_BYTES: usize = 4096;

/// The account name and password in a PLAIN message (`authzid\0authcid\0password`, base64).
fn plain_credentials(encoded: &str) -> Option<(String, String)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut fields = text.split('\0');
    let _authzid = fields.next()?;
    let authcid = fields.next()?.to_string();
    let password = fields.next()?.to_string();
    Some((authcid, password))
}

/// AUTHENTICATE waiting for the password check.
#[derive(Debug)]
pub struct Sasl;

impl Waiting for Sasl {
    fn name(&self) -> &'static str {
        "AUTHENTICATE"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Authenticated { username, .. } = frame else {
            return None;
        };
        lines.st.account = Some(username.clone());
        Some(Step::Done(vec![
            lines.num(
                Numeric::RPL_LOGGEDIN,
                [
                    format!("{username}!~{username}@irc.palaver"),
                    username.clone(),
                    format!("You are now logged in as {username}"),
                ],
            ),
            lines.num(Numeric::RPL_SASLSUCCESS, ["SASL authentication successful"]),
        ]))
    }

    fn refused(&mut self, lines: &mut Lines, _: Refusal) -> Step {
        Step::Done(vec![
            lines.num(Numeric::ERR_SASLFAIL, ["SASL authentication failed"])
        ])
    }
}

/// `REGISTER <account> <email> <password>`: the account is your nick (`*` says so).
pub fn register(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let p = &msg.params;
    let account = if p[0] == "*" {
        r.nick_now()
    } else {
        p[0].clone()
    };
    if !r.lock().is_me(&account) {
        let line = r.from_server(
            "FAIL",
            [
                "REGISTER",
                "ACCOUNT_NAME_MUST_BE_NICK",
                account.as_str(),
                "Register the nick you are using",
            ],
        );
        return r.reply(label, vec![line]);
    }
    let token = r.begin(RegisterAccount { account }, label);
    vec![Reader::request(
        token,
        ClientFrame::Register {
            password: Secret(p[2].clone()),
        },
    )]
}

/// REGISTER waiting for the account to be made.
#[derive(Debug)]
pub struct RegisterAccount {
    account: String,
}

impl Waiting for RegisterAccount {
    fn name(&self) -> &'static str {
        "REGISTER"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Registered { username, .. } = frame else {
            return None;
        };
        lines.st.account = Some(username.clone());
        let line = lines.from_server(
            "REGISTER",
            [
                "SUCCESS".to_string(),
                username.clone(),
                format!("{username} is now a registered account"),
            ],
        );
        Some(Step::Done(vec![line]))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let kind = match refusal.code {
            ErrorCode::AlreadyRegistered => "ACCOUNT_EXISTS",
            ErrorCode::WeakPassword => "WEAK_PASSWORD",
            _ => "TEMPORARILY_UNAVAILABLE",
        };
        let line = lines.fail("REGISTER", kind, &[&self.account], refusal.message);
        Step::Done(vec![line])
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{server, Harness};
    use palaver_proto::{ErrorCode, ServerFrame};
    use serde_json::Value;

    fn sasl_ready() -> Harness {
        let mut h = Harness::fresh(server());
        h.line("CAP REQ :sasl");
        h
    }

    #[test]
    fn plain_credentials_go_to_the_hub_and_its_answer_is_900_903_or_904() {
        let mut h = sasl_ready();
        let go = h.line("AUTHENTICATE PLAIN");
        assert_eq!(h.replies(&go), ["AUTHENTICATE +"]);
        // "\0jilles\0sesame"
        let actions = h.line("AUTHENTICATE AGppbGxlcwBzZXNhbWU=");
        assert_eq!(h.hub_frames(&actions), ["authenticate jilles"]);
        let token = h.token_of(&actions[0]);
        let ok = h.frame(ServerFrame::Authenticated {
            username: "jilles".into(),
            reference: Some(Value::from(token)),
        });
        assert!(ok[0].contains(" 900 ") && ok[1].contains(" 903 "), "{ok:?}");
        let mut h = sasl_ready();
        h.line("AUTHENTICATE PLAIN");
        let actions = h.line("AUTHENTICATE AGppbGxlcwB3cm9uZw==");
        let token = h.token_of(&actions[0]);
        let refused = h.refusal(ErrorCode::InvalidCredentials, None, token);
        assert_eq!(refused, [":srv 904 * :SASL authentication failed"]);
    }

    #[test]
    fn an_oversized_message_is_refused_and_its_remaining_chunks_dropped() {
        let mut h = sasl_ready();
        h.line("AUTHENTICATE PLAIN");
        let chunk = "A".repeat(400);
        let mut refused = Vec::new();
        for _ in 0..20 {
            let actions = h.line(&format!("AUTHENTICATE {chunk}"));
            refused.extend(h.replies(&actions));
        }
        assert_eq!(
            refused,
            [":srv 904 * :SASL authentication failed: the message is too long"]
        );
        assert!(
            h.line("AUTHENTICATE AAAA").is_empty(),
            "the last chunk ends it quietly"
        );
        let again = h.line("AUTHENTICATE PLAIN");
        assert_eq!(
            h.replies(&again),
            ["AUTHENTICATE +"],
            "and a new attempt may start"
        );
    }

    #[test]
    fn after_registration_authenticate_is_462_and_register_needs_the_nick() {
        let mut h = Harness::registered("ann");
        h.enable(crate::listener::irc::caps::SASL);
        let late = h.line("AUTHENTICATE PLAIN");
        assert!(h.replies(&late)[0].starts_with(":srv 462 ann "));
        let other = h.line("REGISTER bob x@y secret123");
        assert!(h.replies(&other)[0].contains("ACCOUNT_NAME_MUST_BE_NICK"));
        let mine = h.line("REGISTER * x@y secret123");
        assert_eq!(h.hub_frames(&mine), ["register"]);
    }
}
