//! A connection without a socket, for the commands' unit tests: lines in through the reader,
//! hub frames in through the wire, both sharing one connection state.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ErrorCode, PublicMessage, ServerFrame, UserInfo};

use crate::hub::Outgoing;
use crate::listener::irc::caps::Cap;
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::{IrcState, ServerIdentity};
use crate::listener::irc::translate::IrcWire;
use crate::runtime::Translator;

pub struct Harness {
    pub reader: Reader,
    pub wire: IrcWire,
}

pub fn server() -> ServerIdentity {
    ServerIdentity {
        http_base: None,
        name: "srv".into(),
        network: "Palaver".into(),
        version: "0".into(),
        created: "today".into(),
        motd: Vec::new(),
        max_message_bytes: 4096,
        max_topic_bytes: 390,
        max_rooms_per_user: 50,
        history_page_max: 200,
        password: None,
    }
}

impl Harness {
    /// A connection registered as `nick`.
    pub fn registered(nick: &str) -> Harness {
        let state = IrcState {
            nick: nick.into(),
            registered: true,
            ..IrcState::default()
        };
        Self::with(server(), state)
    }

    /// A connection that has not registered.
    pub fn fresh(server: ServerIdentity) -> Harness {
        Self::with(server, IrcState::default())
    }

    fn with(server: ServerIdentity, state: IrcState) -> Harness {
        let server = Arc::new(server);
        let state = Arc::new(Mutex::new(state));
        Harness {
            reader: Reader::new(Arc::clone(&server), Arc::clone(&state)),
            wire: IrcWire { server, state },
        }
    }

    pub fn enable(&mut self, cap: Cap) {
        self.reader.lock().caps.set(cap, true);
    }

    /// One line from the client.
    pub fn line(&mut self, text: &str) -> Vec<Action> {
        self.reader
            .handle(IrcMessage::parse(text).expect("a valid line"))
    }

    /// The hub requests among `actions`: their type and what they are about (`who general`).
    pub fn hub_frames(&self, actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Hub(request) => Some(describe(&request.frame)),
                _ => None,
            })
            .collect()
    }

    /// The lines the listener answers by itself among `actions`.
    pub fn replies(&self, actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .flat_map(|a| match a {
                Action::Reply(lines) | Action::Quit(lines, _) => lines.clone(),
                _ => Vec::new(),
            })
            .map(|l| l.to_line())
            .collect()
    }

    /// Sends a line that asks the hub, and returns its command's token.
    pub fn ask(&mut self, text: &str) -> u64 {
        let actions = self.line(text);
        self.token_of(&actions[0])
    }

    /// The command token a hub request carries.
    pub fn token_of(&self, action: &Action) -> u64 {
        match action {
            Action::Hub(request) => request
                .reference
                .as_ref()
                .and_then(Value::as_u64)
                .expect("a token"),
            other => panic!("not a hub request: {other:?}"),
        }
    }

    /// The lines a hub frame becomes.
    pub fn frame(&self, frame: ServerFrame) -> Vec<String> {
        self.outgoing(&Outgoing::new(frame))
    }

    pub fn outgoing(&self, out: &Outgoing) -> Vec<String> {
        match self.wire.translate(out) {
            Some(bytes) => String::from_utf8(bytes.to_vec())
                .expect("UTF-8")
                .lines()
                .map(str::to_string)
                .collect(),
            None => Vec::new(),
        }
    }

    /// A refusal of the command `token`, worded with no quotes at all: numerics must not
    /// depend on the sentence.
    pub fn refusal(&self, code: ErrorCode, subject: Option<&str>, token: u64) -> Vec<String> {
        self.frame(ServerFrame::Error {
            code,
            message: "refused for a reason worded any way at all".into(),
            subject: subject.map(str::to_string),
            reference: Some(Value::from(token)),
        })
    }

    /// The hub's `who` answer for a room.
    pub fn who(&self, room: &str, users: &[&str], token: u64) -> Vec<String> {
        let users: Vec<(&str, bool)> = users.iter().map(|u| (*u, false)).collect();
        self.who_with_ops(room, &users, token)
    }

    /// The same, with operators marked.
    pub fn who_with_ops(&self, room: &str, users: &[(&str, bool)], token: u64) -> Vec<String> {
        self.frame(ServerFrame::Who {
            room: Some(room.into()),
            users: users.iter().map(|(u, op)| user(u, *op)).collect(),
            secret: false,
            reference: Some(Value::from(token)),
        })
    }

    /// The closing `pong` of the command `token`.
    pub fn pong(&self, token: u64) -> Vec<String> {
        self.frame(ServerFrame::Pong {
            timestamp: "t".into(),
            reference: Some(Value::from(token)),
        })
    }

    /// Someone's public message, as this connection is sent it.
    pub fn public_message(&self, from: &str, room: &str, content: &str, id: u64) -> Vec<String> {
        let frame = ServerFrame::Message(PublicMessage {
            state: Default::default(),
            id,
            seq: id,
            room: room.into(),
            username: from.into(),
            content: content.into(),
            timestamp: "2026-11-29T12:00:00.000Z".into(),
        });
        let source = format!("{from}!~{from}@native.palaver");
        self.outgoing(&Outgoing::message(frame, Arc::from(source), None))
    }
}

/// A user as the hub describes one.
pub fn user(name: &str, operator: bool) -> UserInfo {
    UserInfo {
        username: name.into(),
        ident: format!("~{name}"),
        host: "irc.palaver".into(),
        realname: name.into(),
        protocol: "irc".into(),
        away: None,
        operator,
        rooms: None,
        voice: false,
        admin: false,
        account: None,
        operator_of: Vec::new(),
        connected: "2026-11-29T12:00:00.000Z".into(),
        idle_seconds: None,
        left: None,
    }
}

/// `type` and the room, user or target a request is about.
fn describe(frame: &palaver_proto::ClientFrame) -> String {
    let value = serde_json::to_value(frame).expect("serializable");
    let kind = value["type"].as_str().unwrap_or("?").to_string();
    let about = ["room", "username", "target"]
        .iter()
        .find_map(|k| value[k].as_str())
        .map(str::to_string);
    match about {
        Some(about) => format!("{kind} {about}"),
        None => kind,
    }
}
