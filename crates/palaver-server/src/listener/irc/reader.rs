//! The reading half of one IRC connection: a parsed line in, what to do out.
//!
//! [`Reader::handle`] looks the command up in the table ([`super::cmd::COMMANDS`]), answers
//! what the table answers for every command alike (451 before registration, 461 for missing
//! parameters, 421 for an unknown command), and runs the command. What comes back is a list of
//! [`Action`]s: hub requests (tagged with the command's token, see [`super::state`]), lines the
//! listener sends on its own (CAP, MOTD, numerics that need no hub), or the end of the
//! connection. It does no I/O, so registration and every command are tested without a socket.

use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ClientFrame, Request};

use super::caps;
use super::cmd::{self, Waiting};
use super::numeric::{Numeric, Reply};
use super::state::{numeric, IrcState, ServerIdentity};
use crate::hub::Profile;

/// What a command asks the connection to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// What this connection says about itself, before it joins.
    Identify(Profile),
    Hub(Request),
    /// Lines to send, in order with the hub's replies.
    Reply(Vec<IrcMessage>),
    /// QUIT: send the lines, then leave with this reason.
    Quit(Vec<IrcMessage>, String),
}

/// The reading half of one IRC connection.
pub struct Reader {
    pub server: Arc<ServerIdentity>,
    state: Arc<Mutex<IrcState>>,
    /// NICK and USER as given before registration.
    pub nick: Option<String>,
    pub user: Option<(String, String)>,
    /// The server password as given with PASS before registration.
    pub password: Option<String>,
    /// SASL PLAIN in progress: the base64 received so far (None: not started).
    pub sasl: Option<String>,
    /// The chunks of a refused SASL message still arriving are dropped.
    pub sasl_discarding: bool,
}

impl Reader {
    pub fn new(server: Arc<ServerIdentity>, state: Arc<Mutex<IrcState>>) -> Self {
        Reader {
            server,
            state,
            nick: None,
            user: None,
            password: None,
            sasl: None,
            sasl_discarding: false,
        }
    }

    /// The connection's nick (`*` before registration).
    pub fn nick_now(&self) -> String {
        self.lock().nick.clone()
    }

    pub fn lock(&self) -> MutexGuard<'_, IrcState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A numeric to this connection.
    pub fn num(
        &self,
        code: Numeric,
        params: impl IntoIterator<Item = impl Into<String>>,
    ) -> IrcMessage {
        let nick = self.lock().nick.clone();
        numeric(&self.server.name, &nick, code, params)
    }

    /// A numeric shared by many commands, to this connection.
    pub fn line(&self, reply: Reply) -> IrcMessage {
        self.num(reply.code, reply.params)
    }

    /// A line from the server itself.
    pub fn from_server(
        &self,
        command: &str,
        params: impl IntoIterator<Item = impl Into<String>>,
    ) -> IrcMessage {
        IrcMessage::new(command, params).with_source(self.server.name.as_str())
    }

    /// Local reply lines, labeled if the command was.
    pub fn reply(&self, label: Option<String>, lines: Vec<IrcMessage>) -> Vec<Action> {
        let mut st = self.lock();
        let lines = match label.filter(|_| st.caps.has(caps::LABELED_RESPONSE)) {
            Some(label) => st.labeled(label, lines, &self.server.name),
            None => lines,
        };
        if lines.is_empty() {
            Vec::new()
        } else {
            vec![Action::Reply(lines)]
        }
    }

    /// One numeric as the whole reply.
    pub fn reply_num(
        &self,
        label: Option<String>,
        code: Numeric,
        params: impl IntoIterator<Item = impl Into<String>>,
    ) -> Vec<Action> {
        let line = self.num(code, params);
        self.reply(label, vec![line])
    }

    /// Starts a command that waits for the hub; returns its token.
    pub fn begin(&self, waiting: impl Waiting + 'static, label: Option<String>) -> u64 {
        self.lock().begin(Box::new(waiting), label)
    }

    /// A hub request with the command's token as `ref`.
    pub fn request(token: u64, frame: ClientFrame) -> Action {
        Action::Hub(Request {
            frame,
            reference: Some(Value::from(token)),
            client_tags: Vec::new(),
        })
    }

    /// The request that closes a command (see [`super::state`]).
    pub fn end(token: u64) -> Action {
        Self::request(token, ClientFrame::Ping)
    }

    /// Starts `waiting` and asks the hub `frames` for it, closed by a `ping`.
    pub fn ask(
        &self,
        waiting: impl Waiting + 'static,
        label: Option<String>,
        frames: impl IntoIterator<Item = ClientFrame>,
    ) -> Vec<Action> {
        let token = self.begin(waiting, label);
        let mut actions: Vec<Action> = frames
            .into_iter()
            .map(|f| Self::request(token, f))
            .collect();
        actions.push(Self::end(token));
        actions
    }

    /// Lines the command's reply holds before the hub answers (held with it when labeled).
    pub fn hold(&self, token: u64, lines: Vec<IrcMessage>) -> Option<Action> {
        let now = self.lock().reply(Some(token), lines);
        (!now.is_empty()).then_some(Action::Reply(now))
    }

    /// One line from the client.
    pub fn handle(&mut self, msg: IrcMessage) -> Vec<Action> {
        let label = msg
            .tag("label")
            .flatten()
            .map(str::to_string)
            .filter(|l| !l.is_empty() && l.len() <= 64);
        let Some(spec) = cmd::find(&msg.command) else {
            let command = msg.command.clone();
            return self.reply_num(
                label,
                Numeric::ERR_UNKNOWNCOMMAND,
                [command.as_str(), "Unknown command"],
            );
        };
        let (registered, registering) = {
            let st = self.lock();
            (st.registered, st.registering)
        };
        // Once the registration is on its way, later commands follow it to the hub in order
        // (clients send JOIN right after USER without waiting for the welcome).
        if !registered && !registering && !spec.before_registration {
            let line = numeric(
                &self.server.name,
                "*",
                Numeric::ERR_NOTREGISTERED,
                ["You have not registered"],
            );
            return self.reply(label, vec![line]);
        }
        if msg.params.len() < spec.min_params {
            return self.reply_num(
                label,
                Numeric::ERR_NEEDMOREPARAMS,
                [spec.name, "Not enough parameters"],
            );
        }
        (spec.run)(self, &msg, label)
    }

    /// The answer to a line that is not UTF-8 (UTF8ONLY): `FAIL <command> INVALID_UTF8`,
    /// labeled if it was; `lossy` is the line with the bad bytes replaced.
    pub fn refuse_non_utf8(&self, lossy: &str) -> Vec<Action> {
        let parsed = IrcMessage::parse(lossy).ok();
        let command = parsed
            .as_ref()
            .map(|m| m.command.clone())
            .unwrap_or_else(|| "*".into());
        let label = parsed
            .as_ref()
            .and_then(|m| m.tag("label").flatten().map(str::to_string));
        let fail = self.from_server(
            "FAIL",
            [
                command.as_str(),
                "INVALID_UTF8",
                "Your line was not UTF-8 and was dropped; this network is UTF-8 only",
            ],
        );
        self.reply(label, vec![fail])
    }
}

/// The client-only tags (`+name`) of a line, which PRIVMSG, NOTICE and TAGMSG relay.
pub fn client_tags(msg: &IrcMessage) -> Vec<(String, Option<String>)> {
    msg.tags
        .iter()
        .filter(|(k, _)| k.starts_with('+'))
        .cloned()
        .collect()
}
