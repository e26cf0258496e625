//! Hub frames to IRC lines, for one connection.
//!
//! Runs on the hub's task (through [`Translator`]) each time the hub queues a frame for an IRC
//! session. Frames about chat become what an IRC client expects to see (`message` is PRIVMSG,
//! a `system` join is JOIN, a departure is one QUIT however many rooms it is announced in);
//! replies become numerics, chosen by the command that asked (the token in `ref`, see
//! [`super::state`]). Nothing here blocks or allocates beyond the lines it returns.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value;

use palaver_proto::irc::IrcMessage;
use palaver_proto::{
    validate, ChatMessage, ErrorCode, RoomInfo, ServerFrame, SystemEvent, UserInfo, Welcome,
};

use super::caps;
use super::numeric::Numeric;
use super::state::{channel, encode_lines, numeric, split_text, Command, IrcState, ServerIdentity};
use crate::hub::session::User;
use crate::hub::Outgoing;
use crate::runtime::Translator;

/// The IRC wire of one session.
#[derive(Debug)]
pub struct IrcWire {
    pub server: Arc<ServerIdentity>,
    pub state: Arc<Mutex<IrcState>>,
}

impl Translator for IrcWire {
    fn translate(&self, out: &Outgoing) -> Option<Bytes> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // Someone else's message reads the same for every client with the same line-changing
        // capabilities: format it once per fan-out and share the bytes. (Names in hub frames are
        // the canonical ones, so plain equality tells whether it is ours.)
        if let ServerFrame::Message(m) = out.frame() {
            if m.username != state.nick {
                let key = state.caps.bits_in(&[caps::SERVER_TIME, caps::MESSAGE_TAGS]);
                let state = &mut *state;
                return out.cached(key, || {
                    let lines = Translation {
                        server: &self.server,
                        st: state,
                        client_tags: out.client_tags(),
                    }
                    .frame(out);
                    encode_lines(&lines)
                });
            }
        }
        let lines = Translation {
            server: &self.server,
            st: &mut state,
            client_tags: out.client_tags(),
        }
        .frame(out);
        encode_lines(&lines)
    }
}

fn token_of(reference: &Option<Value>) -> Option<u64> {
    reference.as_ref().and_then(Value::as_u64)
}

/// The text of a Palaver message as IRC shows it: `/me waves` is a CTCP ACTION.
fn irc_text(content: &str) -> (bool, &str) {
    match content.strip_prefix("/me ") {
        Some(action) => (true, action),
        None => (false, content),
    }
}

struct Translation<'a> {
    server: &'a ServerIdentity,
    st: &'a mut IrcState,
    /// The client-only tags of the frame being translated.
    client_tags: &'a [(String, Option<String>)],
}

impl Translation<'_> {
    fn num(
        &self,
        code: Numeric,
        params: impl IntoIterator<Item = impl Into<String>>,
    ) -> IrcMessage {
        numeric(&self.server.name, &self.st.nick, code, params)
    }

    /// Tags for a chat line: `time` with server-time, `msgid` and the sender's client-only tags
    /// with message-tags.
    fn chat_tags(&self, timestamp: &str, id: Option<u64>) -> Vec<(String, Option<String>)> {
        let mut tags = Vec::new();
        if self.st.caps.has(caps::MESSAGE_TAGS) {
            tags.extend(self.client_tags.iter().cloned());
        }
        if self.st.caps.has(caps::SERVER_TIME) || self.st.caps.has(caps::MESSAGE_TAGS) {
            tags.push(("time".into(), Some(timestamp.to_string())));
        }
        if let (true, Some(id)) = (self.st.caps.has(caps::MESSAGE_TAGS), id) {
            tags.push(("msgid".into(), Some(id.to_string())));
        }
        tags
    }

    /// PRIVMSG or NOTICE lines for a message, split to fit, each with the tags.
    #[allow(clippy::too_many_arguments)]
    fn chat_lines(
        &self,
        source: &str,
        command: &str,
        target: &str,
        content: &str,
        timestamp: &str,
        id: Option<u64>,
    ) -> Vec<IrcMessage> {
        let (action, text) = irc_text(content);
        let overhead = 1 + source.len() + 1 + command.len() + 1 + target.len() + 2;
        let room = 510usize.saturating_sub(overhead + if action { 9 } else { 0 });
        let tags = self.chat_tags(timestamp, id);
        // No two lines share a msgid (message-ids): only the first piece of a long message
        // carries it, as ergo does.
        let rest: Vec<(String, Option<String>)> =
            tags.iter().filter(|(k, _)| k != "msgid").cloned().collect();
        split_text(text, room)
            .into_iter()
            .enumerate()
            .map(|(i, piece)| {
                let body = if action {
                    format!("\u{1}ACTION {piece}\u{1}")
                } else {
                    piece.to_string()
                };
                IrcMessage {
                    tags: if i == 0 { tags.clone() } else { rest.clone() },
                    source: Some(source.to_string()),
                    command: command.to_string(),
                    params: vec![target.to_string(), body],
                }
            })
            .collect()
    }

    fn frame(&mut self, out: &Outgoing) -> Vec<IrcMessage> {
        let source = out.source().unwrap_or("*").to_string();
        match out.frame() {
            ServerFrame::Welcome(welcome) => self.welcome(welcome),
            ServerFrame::Message(m) => {
                let lines = self.chat_lines(
                    &source,
                    "PRIVMSG",
                    &channel(&m.room),
                    &m.content,
                    &m.timestamp,
                    Some(m.id),
                );
                if !self.st.is_me(&m.username) {
                    return lines;
                }
                if !self.st.caps.has(caps::ECHO_MESSAGE) {
                    return Vec::new();
                }
                self.echo(m.id, lines)
            }
            ServerFrame::PrivateMessage(m) => {
                let me = self.st.nick.clone();
                self.chat_lines(
                    &source,
                    "PRIVMSG",
                    &me,
                    &m.content,
                    &m.timestamp,
                    Some(m.id),
                )
            }
            ServerFrame::PrivateConfirmation {
                id: Some(id),
                target,
                content,
                delivered: true,
                timestamp,
                reference,
                ..
            } => {
                let token = token_of(reference);
                let lines = if self.st.caps.has(caps::ECHO_MESSAGE) {
                    self.chat_lines(&source, "PRIVMSG", target, content, timestamp, Some(*id))
                } else {
                    Vec::new()
                };
                let mut now = self.st.reply(token, lines);
                now.extend(self.finish_message(token));
                now
            }
            ServerFrame::PrivateConfirmation { .. } => Vec::new(),
            ServerFrame::Notice {
                room,
                target,
                username,
                content,
                timestamp,
            } => {
                let mine = self.st.is_me(username);
                let to = match (room, target) {
                    (Some(room), _) => channel(room),
                    (None, Some(target)) => target.clone(),
                    (None, None) => return Vec::new(),
                };
                let to_me = target.as_deref().is_some_and(|t| self.st.is_me(t));
                if mine && !to_me && !self.st.caps.has(caps::ECHO_MESSAGE) {
                    return Vec::new();
                }
                let lines = self.chat_lines(&source, "NOTICE", &to, content, timestamp, None);
                if !mine {
                    return lines;
                }
                // A notice to yourself arrives as a notice, and then as its echo.
                let mut now = if to_me && self.st.caps.has(caps::ECHO_MESSAGE) {
                    lines.clone()
                } else {
                    Vec::new()
                };
                // Our own notice back: the reply to the oldest NOTICE still open.
                let token = self
                    .st
                    .pending
                    .iter()
                    .filter(|(_, p)| p.command == Command::Notice || p.command == Command::TagMsg)
                    .map(|(t, _)| *t)
                    .min();
                now.extend(self.st.reply(token, lines));
                now
            }
            ServerFrame::System {
                room: Some(room),
                event: Some(event),
                username: Some(username),
                new_username,
                by,
                reason,
                ..
            } => self.system(
                &source,
                out.event(),
                room,
                *event,
                username,
                new_username,
                by,
                reason,
            ),
            ServerFrame::System { .. } => Vec::new(),
            ServerFrame::Server { message, .. } => {
                let nick = self.st.nick.clone();
                vec![
                    IrcMessage::new("NOTICE", [nick, format!("[Announcement] {message}")])
                        .with_source(self.server.name.as_str()),
                ]
            }
            ServerFrame::Topic {
                room,
                topic,
                timestamp,
                ..
            } => {
                let mut line = IrcMessage::new("TOPIC", [channel(room), topic.clone()])
                    .with_source(source.as_str());
                line.tags = self.chat_tags(timestamp, None);
                vec![line]
            }
            ServerFrame::TagMessage {
                room,
                target,
                username,
                timestamp,
            } => {
                if !self.st.caps.has(caps::MESSAGE_TAGS) {
                    return Vec::new();
                }
                let mine = self.st.is_me(username);
                if mine && !self.st.caps.has(caps::ECHO_MESSAGE) {
                    return Vec::new();
                }
                let to = match (room, target) {
                    (Some(room), _) => channel(room),
                    (None, Some(target)) => target.clone(),
                    (None, None) => return Vec::new(),
                };
                let mut tags: Vec<(String, Option<String>)> = self.client_tags.to_vec();
                tags.push(("time".into(), Some(timestamp.clone())));
                if let Some(seq) = out.event() {
                    tags.push(("msgid".into(), Some(format!("t{seq}"))));
                }
                let line = IrcMessage {
                    tags,
                    source: Some(source.clone()),
                    command: "TAGMSG".into(),
                    params: vec![to],
                };
                if !mine {
                    return vec![line];
                }
                let token = self
                    .st
                    .pending
                    .iter()
                    .filter(|(_, p)| p.command == Command::TagMsg)
                    .map(|(t, _)| *t)
                    .min();
                self.st.reply(token, vec![line])
            }
            ServerFrame::Away {
                username,
                message,
                reference,
            } => {
                if let (false, Some(token), Some(text)) =
                    (self.st.is_me(username), token_of(reference), message)
                {
                    // The answer to messaging someone away: 301, and the message still went.
                    let line = self.num(Numeric::RPL_AWAY, [username.as_str(), text.as_str()]);
                    return self.st.reply(Some(token), vec![line]);
                }
                if self.st.is_me(username) {
                    let Some(token) = token_of(reference) else {
                        return Vec::new();
                    };
                    let line = match message {
                        Some(_) => {
                            self.num(Numeric::RPL_NOWAWAY, ["You have been marked as being away"])
                        }
                        None => self.num(
                            Numeric::RPL_UNAWAY,
                            ["You are no longer marked as being away"],
                        ),
                    };
                    return self.st.reply(Some(token), vec![line]);
                }
                if !self.st.caps.has(caps::AWAY_NOTIFY) {
                    return Vec::new();
                }
                let params: Vec<String> = message.iter().cloned().collect();
                vec![IrcMessage::new("AWAY", params).with_source(source.as_str())]
            }
            ServerFrame::Renamed { new, reference, .. } => {
                let line = IrcMessage::new("NICK", [new.clone()]).with_source(source.as_str());
                self.st.nick = new.clone();
                self.st.reply(token_of(reference), vec![line])
            }
            ServerFrame::JoinedRoom {
                room, reference, ..
            } => self.joined_room(&source, room, token_of(reference)),
            ServerFrame::LeftRoom {
                room,
                by,
                reason,
                reference,
            } => {
                self.st.channels.remove(&validate::fold(room));
                let me = self.st.nick.clone();
                let line = match by {
                    Some(by) => IrcMessage::new(
                        "KICK",
                        [
                            channel(room),
                            me,
                            reason.clone().unwrap_or_else(|| by.clone()),
                        ],
                    )
                    .with_source(source.as_str()),
                    None => {
                        let mut params = vec![channel(room)];
                        params.extend(reason.clone());
                        IrcMessage::new("PART", params).with_source(source.as_str())
                    }
                };
                self.st.reply(token_of(reference), vec![line])
            }
            ServerFrame::Info {
                users_online,
                max_users_online,
                connections,
                rooms,
                reference,
                ..
            } => {
                let lines = self.lusers(*users_online, *max_users_online, *connections, *rooms);
                self.st.reply(token_of(reference), lines)
            }
            ServerFrame::Rooms { rooms, reference } => self.rooms(rooms, token_of(reference)),
            ServerFrame::Users {
                users, reference, ..
            } => {
                let token = token_of(reference);
                let Some(Command::Ison { nicks }) = self.command(token) else {
                    return Vec::new();
                };
                let online: Vec<String> = nicks
                    .iter()
                    .filter_map(|n| {
                        let key = validate::fold(n);
                        users.iter().find(|u| validate::fold(u) == key).cloned()
                    })
                    .collect();
                let line = self.num(Numeric::RPL_ISON, [online.join(" ")]);
                self.st.reply(token, vec![line])
            }
            ServerFrame::Who {
                room,
                users,
                reference,
            } => self.who(room.as_deref(), users, token_of(reference)),
            ServerFrame::Whois { user, reference } => {
                let lines = self.whois(user);
                self.st.reply(token_of(reference), lines)
            }
            ServerFrame::Whowas {
                username,
                entries,
                reference,
            } => {
                let count = match self.command(token_of(reference)) {
                    Some(Command::Whowas { count, .. }) => count.unwrap_or(usize::MAX),
                    _ => usize::MAX,
                };
                let entries = &entries[..entries.len().min(count)];
                let mut lines = Vec::new();
                if entries.is_empty() {
                    lines.push(self.num(
                        Numeric::ERR_WASNOSUCHNICK,
                        [username.as_str(), "There was no such nickname"],
                    ));
                }
                for e in entries {
                    lines.push(self.num(
                        Numeric::RPL_WHOWASUSER,
                        [&e.username, &e.ident, &e.host, "*", &e.realname],
                    ));
                    let left = e.left.clone().unwrap_or_default();
                    lines.push(self.num(
                        Numeric::RPL_WHOISSERVER,
                        [&e.username, &self.server.name, &left],
                    ));
                }
                lines.push(self.num(
                    Numeric::RPL_ENDOFWHOWAS,
                    [username.as_str(), "End of WHOWAS"],
                ));
                self.st.reply(token_of(reference), lines)
            }
            ServerFrame::History {
                room,
                with,
                messages,
                reference,
                ..
            } => self.history(
                room.as_deref(),
                with.as_deref(),
                messages,
                token_of(reference),
            ),
            ServerFrame::Ack { reference, id, .. } => {
                let Some(token) = reference.as_u64() else {
                    return Vec::new();
                };
                if self.st.caps.has(caps::ECHO_MESSAGE) {
                    // The echo follows; it carries the label and ends the command.
                    self.st.echo_labels.push_back((*id, token));
                    if self.st.echo_labels.len() > 64 {
                        self.st.echo_labels.pop_front();
                    }
                    Vec::new()
                } else {
                    self.finish_message(Some(token))
                }
            }
            // The native keepalive; IRC has PING of its own (connection.rs).
            ServerFrame::Ping { .. } => Vec::new(),
            ServerFrame::Pong { reference, .. } => {
                let Some(token) = token_of(reference) else {
                    return Vec::new();
                };
                self.end_of(token)
            }
            ServerFrame::Error {
                code,
                message,
                subject,
                reference,
            } => self.error(*code, message, subject.as_deref(), token_of(reference)),
            ServerFrame::Authenticated {
                username,
                reference,
            } => {
                self.st.account = Some(username.clone());
                let lines = vec![
                    self.num(
                        Numeric::RPL_LOGGEDIN,
                        [
                            format!("{username}!~{username}@irc.palaver"),
                            username.clone(),
                            format!("You are now logged in as {username}"),
                        ],
                    ),
                    self.num(Numeric::RPL_SASLSUCCESS, ["SASL authentication successful"]),
                ];
                self.reply_and_finish(token_of(reference), lines)
            }
            ServerFrame::Registered {
                username,
                reference,
            } => {
                self.st.account = Some(username.clone());
                let line = IrcMessage::new(
                    "REGISTER",
                    [
                        "SUCCESS".to_string(),
                        username.clone(),
                        format!("{username} is now a registered account"),
                    ],
                )
                .with_source(self.server.name.as_str());
                self.reply_and_finish(token_of(reference), vec![line])
            }
            ServerFrame::PasswordChanged { .. } => {
                let nick = self.st.nick.clone();
                vec![
                    IrcMessage::new("NOTICE", [nick, "Your password was changed.".to_string()])
                        .with_source(self.server.name.as_str()),
                ]
            }
            ServerFrame::Done { message, .. } => {
                let nick = self.st.nick.clone();
                vec![IrcMessage::new("NOTICE", [nick, message.clone()])
                    .with_source(self.server.name.as_str())]
            }
            ServerFrame::Resumed { .. } | ServerFrame::Unknown => Vec::new(),
        }
    }

    fn command(&self, token: Option<u64>) -> Option<Command> {
        token
            .and_then(|t| self.st.pending.get(&t))
            .map(|p| p.command.clone())
    }

    /// The echo of our own message: with the label of the command that sent it, if any.
    fn echo(&mut self, id: u64, lines: Vec<IrcMessage>) -> Vec<IrcMessage> {
        let found = self.st.echo_labels.iter().position(|(m, _)| *m == id);
        let Some(index) = found else {
            return lines;
        };
        let (_, token) = self.st.echo_labels.remove(index).expect("found");
        let mut now = self.st.reply(Some(token), lines);
        now.extend(self.finish_message(Some(token)));
        now
    }

    /// Ends a PRIVMSG's reply at its ack, echo or error, unless it waits for its `pong`.
    fn finish_message(&mut self, token: Option<u64>) -> Vec<IrcMessage> {
        match (token, self.command(token)) {
            (
                Some(_),
                Some(Command::Privmsg {
                    closes_on_pong: true,
                    ..
                }),
            )
            | (None, _) => Vec::new(),
            (Some(token), _) => self.st.finish(token, &self.server.name),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn system(
        &mut self,
        source: &str,
        event_seq: Option<u64>,
        room: &str,
        event: SystemEvent,
        username: &str,
        new_username: &Option<String>,
        by: &Option<String>,
        reason: &Option<String>,
    ) -> Vec<IrcMessage> {
        let chan = channel(room);
        // One QUIT or NICK per user, however many shared rooms announce it.
        let once = |st: &mut IrcState| {
            if event_seq.is_some() && st.last_event == event_seq {
                return false;
            }
            st.last_event = event_seq;
            true
        };
        match event {
            SystemEvent::Joined => vec![IrcMessage::new("JOIN", [chan]).with_source(source)],
            SystemEvent::Left => {
                let mut params = vec![chan];
                params.extend(reason.clone());
                vec![IrcMessage::new("PART", params).with_source(source)]
            }
            SystemEvent::Kicked if by.is_some() => {
                let why = reason.clone().or_else(|| by.clone()).unwrap_or_default();
                vec![IrcMessage::new("KICK", [chan, username.to_string(), why]).with_source(source)]
            }
            SystemEvent::Disconnected | SystemEvent::Kicked => {
                if !once(self.st) {
                    return Vec::new();
                }
                let why = match reason {
                    Some(r) if event == SystemEvent::Kicked => format!("Killed ({r})"),
                    Some(r) => r.clone(),
                    None => "Connection closed".into(),
                };
                vec![IrcMessage::new("QUIT", [why]).with_source(source)]
            }
            SystemEvent::Renamed => {
                let Some(new) = new_username else {
                    return Vec::new();
                };
                if !once(self.st) {
                    return Vec::new();
                }
                vec![IrcMessage::new("NICK", [new.clone()]).with_source(source)]
            }
            SystemEvent::Topic | SystemEvent::Other => Vec::new(),
        }
    }

    fn welcome(&mut self, welcome: &Welcome) -> Vec<IrcMessage> {
        self.st.nick = welcome.username.clone();
        self.st.registered = true;
        self.st.registering = false;
        let s = self.server;
        let nick = welcome.username.clone();
        let mut lines = vec![
            self.num(
                Numeric::RPL_WELCOME,
                [format!("Welcome to the {} IRC Network, {nick}", s.network)],
            ),
            self.num(
                Numeric::RPL_YOURHOST,
                [format!(
                    "Your host is {}, running version palaver-{}",
                    s.name, s.version
                )],
            ),
            self.num(
                Numeric::RPL_CREATED,
                [format!("This server was created {}", s.created)],
            ),
            self.num(
                Numeric::RPL_MYINFO,
                [
                    s.name.clone(),
                    format!("palaver-{}", s.version),
                    "i".into(),
                    "no".into(),
                    "o".into(),
                ],
            ),
        ];
        let tokens = isupport(s);
        for chunk in tokens.chunks(12) {
            let mut params: Vec<String> = chunk.to_vec();
            params.push("are supported by this server".into());
            lines.push(self.num(Numeric::RPL_ISUPPORT, params));
        }
        lines
    }

    fn lusers(
        &self,
        users: usize,
        max_users: usize,
        connections: usize,
        rooms: usize,
    ) -> Vec<IrcMessage> {
        let mut lines = vec![
            self.num(
                Numeric::RPL_LUSERCLIENT,
                [format!(
                    "There are {users} users and 0 invisible on 1 servers"
                )],
            ),
            self.num(Numeric::RPL_LUSEROP, ["0", "IRC Operators online"]),
        ];
        let unknown = connections.saturating_sub(users);
        if unknown > 0 {
            lines.push(self.num(
                Numeric::RPL_LUSERUNKNOWN,
                [unknown.to_string(), "unknown connection(s)".into()],
            ));
        }
        lines.push(self.num(
            Numeric::RPL_LUSERCHANNELS,
            [rooms.to_string(), "channels formed".into()],
        ));
        lines.push(self.num(
            Numeric::RPL_LUSERME,
            [format!("I have {users} clients and 0 servers")],
        ));
        lines.push(self.num(
            Numeric::RPL_LOCALUSERS,
            [
                users.to_string(),
                max_users.to_string(),
                format!("Current local users {users}, max {max_users}"),
            ],
        ));
        lines.push(self.num(
            Numeric::RPL_GLOBALUSERS,
            [
                users.to_string(),
                max_users.to_string(),
                format!("Current global users {users}, max {max_users}"),
            ],
        ));
        lines
    }

    fn joined_room(
        &mut self,
        source: &str,
        room: &RoomInfo,
        token: Option<u64>,
    ) -> Vec<IrcMessage> {
        let key = validate::fold(&room.name);
        let fresh = self.st.channels.insert(key);
        if let Some(Command::Join { skip_names, .. }) = token
            .and_then(|t| self.st.pending.get_mut(&t))
            .map(|p| &mut p.command)
        {
            *skip_names = !fresh;
        }
        if !fresh {
            return Vec::new();
        }
        let chan = channel(&room.name);
        let mut lines = vec![IrcMessage::new("JOIN", [chan.clone()]).with_source(source)];
        if !room.topic.is_empty() {
            lines.extend(self.topic_lines(room));
        }
        self.st.reply(token, lines)
    }

    fn topic_lines(&self, room: &RoomInfo) -> Vec<IrcMessage> {
        let chan = channel(&room.name);
        let mut lines = vec![self.num(Numeric::RPL_TOPIC, [chan.clone(), room.topic.clone()])];
        if let (Some(by), Some(at)) = (&room.topic_by, &room.topic_at) {
            let secs = palaver_proto::timestamp::parse_millis(at).unwrap_or(0) / 1000;
            lines.push(self.num(
                Numeric::RPL_TOPICWHOTIME,
                [chan, by.clone(), secs.to_string()],
            ));
        }
        lines
    }

    fn rooms(&mut self, rooms: &[RoomInfo], token: Option<u64>) -> Vec<IrcMessage> {
        let find = |name: &str| {
            let key = validate::room_name(name).ok().map(|n| validate::fold(&n));
            rooms
                .iter()
                .find(|r| Some(validate::fold(&r.name)) == key)
                .cloned()
        };
        let lines = match self.command(token) {
            Some(Command::List { only }) => {
                let mut lines = vec![self.num(Numeric::RPL_LISTSTART, ["Channel", "Users  Name"])];
                for r in rooms {
                    let wanted = only.as_ref().is_none_or(|names| {
                        names.iter().any(|n| {
                            validate::fold(n.trim_start_matches('#')) == validate::fold(&r.name)
                        })
                    });
                    // An IRC channel exists while it has members; empty rooms are not listed.
                    if wanted && r.members > 0 {
                        lines.push(self.num(
                            Numeric::RPL_LIST,
                            [channel(&r.name), r.members.to_string(), r.topic.clone()],
                        ));
                    }
                }
                lines.push(self.num(Numeric::RPL_LISTEND, ["End of /LIST"]));
                lines
            }
            Some(Command::TopicQuery { channel: chan }) => match find(&chan) {
                None => vec![self.num(
                    Numeric::ERR_NOSUCHCHANNEL,
                    [chan.as_str(), "No such channel"],
                )],
                Some(r) if r.topic.is_empty() => {
                    vec![self.num(Numeric::RPL_NOTOPIC, [chan.as_str(), "No topic is set"])]
                }
                Some(r) => self.topic_lines(&r),
            },
            Some(Command::ModeQuery { channel: chan }) => match find(&chan) {
                None => vec![self.num(
                    Numeric::ERR_NOSUCHCHANNEL,
                    [chan.as_str(), "No such channel"],
                )],
                Some(r) => {
                    let created = r
                        .created
                        .as_deref()
                        .and_then(palaver_proto::timestamp::parse_millis)
                        .unwrap_or(0)
                        / 1000;
                    vec![
                        self.num(Numeric::RPL_CHANNELMODEIS, [channel(&r.name), "+n".into()]),
                        self.num(
                            Numeric::RPL_CREATIONTIME,
                            [channel(&r.name), created.to_string()],
                        ),
                    ]
                }
            },
            _ => Vec::new(),
        };
        self.st.reply(token, lines)
    }

    /// `@` for a room operator (the only membership prefix here, so multi-prefix changes nothing).
    fn names_entry(&self, u: &UserInfo) -> String {
        let prefix = if u.operator { "@" } else { "" };
        if self.st.caps.has(caps::USERHOST_IN_NAMES) {
            format!("{prefix}{}!{}@{}", u.username, u.ident, u.host)
        } else {
            format!("{prefix}{}", u.username)
        }
    }

    fn names_lines(&self, chan: &str, users: &[UserInfo]) -> Vec<IrcMessage> {
        let mut lines = Vec::new();
        // 353 lines stay well under 512 bytes: the fixed part plus entries up to ~400 bytes.
        let mut entries: Vec<String> = Vec::new();
        let mut size = 0;
        for u in users {
            let entry = self.names_entry(u);
            if size + entry.len() + 1 > 400 && !entries.is_empty() {
                lines.push(self.num(Numeric::RPL_NAMREPLY, ["=", chan, &entries.join(" ")]));
                entries.clear();
                size = 0;
            }
            size += entry.len() + 1;
            entries.push(entry);
        }
        if !entries.is_empty() {
            lines.push(self.num(Numeric::RPL_NAMREPLY, ["=", chan, &entries.join(" ")]));
        }
        lines.push(self.num(Numeric::RPL_ENDOFNAMES, [chan, "End of /NAMES list"]));
        lines
    }

    fn who(
        &mut self,
        room: Option<&str>,
        users: &[UserInfo],
        token: Option<u64>,
    ) -> Vec<IrcMessage> {
        let lines = match self.command(token) {
            Some(Command::Join { skip_names, .. }) => {
                if skip_names {
                    Vec::new()
                } else {
                    self.names_lines(&channel(room.unwrap_or("")), users)
                }
            }
            Some(Command::Names { channel: chan }) => {
                let chan = room.map(channel).unwrap_or(chan);
                self.names_lines(&chan, users)
            }
            Some(Command::Who { mask }) => {
                let mut lines = Vec::new();
                for u in users {
                    let mut flags = String::from(if u.away.is_some() { "G" } else { "H" });
                    if u.operator {
                        flags.push('@');
                    }
                    let chan = room.map(channel).unwrap_or_else(|| "*".into());
                    lines.push(self.num(
                        Numeric::RPL_WHOREPLY,
                        [
                            chan,
                            u.ident.clone(),
                            u.host.clone(),
                            self.server.name.clone(),
                            u.username.clone(),
                            flags,
                            format!("0 {}", u.realname),
                        ],
                    ));
                }
                lines.push(self.num(Numeric::RPL_ENDOFWHO, [mask.as_str(), "End of WHO list"]));
                lines
            }
            Some(Command::Userhost) => {
                if let Some(u) = users.first() {
                    let away = if u.away.is_some() { '-' } else { '+' };
                    let entry = format!("{}={away}{}@{}", u.username, u.ident, u.host);
                    if let Some(p) = token.and_then(|t| self.st.pending.get_mut(&t)) {
                        p.collected.push(entry);
                    }
                }
                Vec::new()
            }
            _ => Vec::new(),
        };
        self.st.reply(token, lines)
    }

    fn whois(&self, u: &UserInfo) -> Vec<IrcMessage> {
        let nick = u.username.as_str();
        let mut lines = vec![self.num(
            Numeric::RPL_WHOISUSER,
            [nick, &u.ident, &u.host, "*", &u.realname],
        )];
        if let Some(rooms) = &u.rooms {
            if !rooms.is_empty() {
                let list: Vec<String> = rooms
                    .iter()
                    .map(|r| {
                        let op = if u.operator_of.contains(r) { "@" } else { "" };
                        format!("{op}#{r}")
                    })
                    .collect();
                lines.push(self.num(Numeric::RPL_WHOISCHANNELS, [nick, &list.join(" ")]));
            }
        }
        lines.push(self.num(
            Numeric::RPL_WHOISSERVER,
            [
                nick,
                &self.server.name,
                &format!("{} chat server", self.server.network),
            ],
        ));
        if let Some(away) = &u.away {
            lines.push(self.num(Numeric::RPL_AWAY, [nick, away]));
        }
        if u.protocol == "native" {
            lines.push(self.num(
                Numeric::RPL_WHOISSPECIAL,
                [nick, "is using the Palaver app"],
            ));
        }
        let signon = palaver_proto::timestamp::parse_millis(&u.connected).unwrap_or(0) / 1000;
        lines.push(self.num(
            Numeric::RPL_WHOISIDLE,
            [
                nick,
                &u.idle_seconds.unwrap_or(0).to_string(),
                &signon.to_string(),
                "seconds idle, signon time",
            ],
        ));
        lines.push(self.num(Numeric::RPL_ENDOFWHOIS, [nick, "End of /WHOIS list"]));
        lines
    }

    fn history(
        &mut self,
        room: Option<&str>,
        with: Option<&str>,
        messages: &[ChatMessage],
        token: Option<u64>,
    ) -> Vec<IrcMessage> {
        let target = match (room, with, self.command(token)) {
            (_, _, Some(Command::ChatHistory { target, .. })) => target,
            (Some(room), _, _) => channel(room),
            (None, Some(with), _) => with.to_string(),
            _ => return Vec::new(),
        };
        let batch = self.st.caps.has(caps::BATCH).then(|| self.st.next_batch());
        let mut lines = Vec::new();
        if let Some(id) = &batch {
            lines.push(
                IrcMessage::new(
                    "BATCH",
                    [format!("+{id}"), "chathistory".into(), target.clone()],
                )
                .with_source(self.server.name.as_str()),
            );
        }
        for m in messages {
            let (source, to, content, ts, id) = match m {
                ChatMessage::Message(m) => (
                    User::address_of_name(&m.username).to_string(),
                    channel(&m.room),
                    &m.content,
                    &m.timestamp,
                    m.id,
                ),
                ChatMessage::PrivateMessage(m) => (
                    User::address_of_name(&m.sender).to_string(),
                    m.target.clone(),
                    &m.content,
                    &m.timestamp,
                    m.id,
                ),
            };
            for mut line in self.chat_lines(&source, "PRIVMSG", &to, content, ts, Some(id)) {
                if let Some(b) = &batch {
                    line.tags.insert(0, ("batch".into(), Some(b.clone())));
                }
                lines.push(line);
            }
        }
        if let Some(id) = &batch {
            lines.push(
                IrcMessage::new("BATCH", [format!("-{id}")]).with_source(self.server.name.as_str()),
            );
        }
        self.reply_and_finish(token, lines)
    }

    /// The last reply of a command that has no closing `pong`.
    fn reply_and_finish(&mut self, token: Option<u64>, lines: Vec<IrcMessage>) -> Vec<IrcMessage> {
        let mut now = self.st.reply(token, lines);
        if let Some(token) = token {
            now.extend(self.st.finish(token, &self.server.name));
        }
        now
    }

    /// The `pong` that closes a command: the replies that only make sense at its end, then the
    /// labeled reply.
    fn end_of(&mut self, token: u64) -> Vec<IrcMessage> {
        let tail = match self.command(Some(token)) {
            Some(Command::Register) if self.st.registered => {
                super::commands::motd(self.server, &self.st.nick)
            }
            Some(Command::Ping { token: text }) => {
                vec![IrcMessage::new("PONG", [self.server.name.clone(), text])
                    .with_source(self.server.name.as_str())]
            }
            Some(Command::Userhost) => {
                let collected = self
                    .st
                    .pending
                    .get(&token)
                    .map(|p| p.collected.join(" "))
                    .unwrap_or_default();
                vec![self.num(Numeric::RPL_USERHOST, [collected])]
            }
            _ => Vec::new(),
        };
        let mut now = self.st.reply(Some(token), tail);
        now.extend(self.st.finish(token, &self.server.name));
        now
    }

    /// The IRC reply to a refusal, built from its code and subject (never from the sentence,
    /// which only travels as the human-readable last parameter).
    fn error(
        &mut self,
        code: ErrorCode,
        message: &str,
        subject: Option<&str>,
        token: Option<u64>,
    ) -> Vec<IrcMessage> {
        let command = self.command(token);
        // The nick or the channel the refusal is about.
        let nick_or = |fallback: &str| subject.unwrap_or(fallback).to_string();
        let channel_or = |fallback: &str| {
            subject.map_or_else(
                || fallback.to_string(),
                |room| channel(room.trim_start_matches('#')),
            )
        };
        let fatal = matches!(
            code,
            ErrorCode::Kicked
                | ErrorCode::Flooding
                | ErrorCode::SlowConsumer
                | ErrorCode::JoinTimeout
                | ErrorCode::ServerShuttingDown
        );
        if fatal {
            return vec![IrcMessage::new(
                "ERROR",
                [format!("Closing link: {message}")],
            )];
        }
        let lines = match (&command, code) {
            (Some(Command::Notice), _) => Vec::new(),
            (Some(Command::Sasl), _) => {
                let line = self.num(Numeric::ERR_SASLFAIL, ["SASL authentication failed"]);
                return self.reply_and_finish(token, vec![line]);
            }
            (Some(Command::RegisterAccount { account }), code) => {
                let kind = match code {
                    ErrorCode::AlreadyRegistered => "ACCOUNT_EXISTS",
                    ErrorCode::WeakPassword => "WEAK_PASSWORD",
                    _ => "TEMPORARILY_UNAVAILABLE",
                };
                let line = IrcMessage::new("FAIL", ["REGISTER", kind, account.as_str(), message])
                    .with_source(self.server.name.as_str());
                return self.reply_and_finish(token, vec![line]);
            }
            (Some(Command::TagMsg), ErrorCode::UnknownUser) => {
                vec![self.num(
                    Numeric::ERR_NOSUCHNICK,
                    [nick_or("*").as_str(), "No such nick/channel"],
                )]
            }
            (Some(Command::TagMsg), ErrorCode::NotInRoom) => {
                vec![self.num(
                    Numeric::ERR_CANNOTSENDTOCHAN,
                    [channel_or("*").as_str(), "Cannot send to channel"],
                )]
            }
            // A command that followed a registration the hub refused.
            (Some(c), ErrorCode::NotJoined) if *c != Command::Register => {
                let line = self.num(Numeric::ERR_NOTREGISTERED, ["You have not registered"]);
                let mut now = self.st.reply(token, vec![line]);
                // A PRIVMSG has no closing pong to end it.
                now.extend(self.finish_message(token));
                return now;
            }
            (Some(Command::Register), ErrorCode::AccountRequired | ErrorCode::UsernameTaken) => {
                self.st.registering = false;
                let nick = nick_or("*");
                // A registered nick says so (log in with SASL); a taken one says it is in use.
                let why = if code == ErrorCode::AccountRequired {
                    message
                } else {
                    "Nickname is already in use"
                };
                vec![numeric(
                    &self.server.name,
                    "*",
                    Numeric::ERR_NICKNAMEINUSE,
                    [nick.as_str(), why],
                )]
            }
            (Some(Command::Register), ErrorCode::InvalidUsername) => {
                self.st.registering = false;
                vec![numeric(
                    &self.server.name,
                    "*",
                    Numeric::ERR_ERRONEUSNICKNAME,
                    ["*", "Erroneous nickname"],
                )]
            }
            // Later steps of a registration that failed say nothing more.
            (Some(Command::Register), _) => Vec::new(),
            (Some(Command::Nick { new }), ErrorCode::UsernameTaken) => {
                vec![self.num(
                    Numeric::ERR_NICKNAMEINUSE,
                    [new.as_str(), "Nickname is already in use"],
                )]
            }
            (Some(Command::Nick { new }), _) => {
                vec![self.num(
                    Numeric::ERR_ERRONEUSNICKNAME,
                    [new.as_str(), "Erroneous nickname"],
                )]
            }
            (
                Some(Command::Join {
                    channels, current, ..
                }),
                _,
            ) => {
                let chan = channels.get(*current).cloned().unwrap_or_default();
                if let Some(p) = token.and_then(|t| self.st.pending.get_mut(&t)) {
                    if let Command::Join { skip_names, .. } = &mut p.command {
                        *skip_names = true;
                    }
                }
                match code {
                    ErrorCode::TooManyRooms => {
                        vec![self.num(
                            Numeric::ERR_TOOMANYCHANNELS,
                            [chan.as_str(), "You have joined too many channels"],
                        )]
                    }
                    ErrorCode::RoomFull => {
                        vec![self.num(
                            Numeric::ERR_CHANNELISFULL,
                            [chan.as_str(), "Cannot join channel (+l)"],
                        )]
                    }
                    ErrorCode::InvalidRoomName => {
                        vec![self.num(
                            Numeric::ERR_NOSUCHCHANNEL,
                            [chan.as_str(), "No such channel"],
                        )]
                    }
                    // The names request after a refused join.
                    ErrorCode::UnknownRoom => Vec::new(),
                    _ => vec![self.fail("JOIN", code, message)],
                }
            }
            (Some(Command::Privmsg { target, .. }), _) => {
                // With several targets, the refusal's subject is the one at fault.
                let nick = nick_or(target);
                let chan = channel_or(target);
                let lines = match code {
                    ErrorCode::UnknownUser | ErrorCode::InvalidUsername => {
                        vec![self.num(
                            Numeric::ERR_NOSUCHNICK,
                            [nick.as_str(), "No such nick/channel"],
                        )]
                    }
                    ErrorCode::UnknownRoom | ErrorCode::InvalidRoomName => {
                        vec![self.num(
                            Numeric::ERR_NOSUCHCHANNEL,
                            [chan.as_str(), "No such channel"],
                        )]
                    }
                    ErrorCode::NotInRoom => {
                        vec![self.num(
                            Numeric::ERR_CANNOTSENDTOCHAN,
                            [chan.as_str(), "Cannot send to channel"],
                        )]
                    }
                    ErrorCode::EmptyContent => {
                        vec![self.num(Numeric::ERR_NOTEXTTOSEND, ["No text to send"])]
                    }
                    _ => vec![self.fail("PRIVMSG", code, message)],
                };
                let mut now = self.st.reply(token, lines);
                now.extend(self.finish_message(token));
                return now;
            }
            (Some(Command::Part), ErrorCode::NotInRoom) => {
                vec![self.num(
                    Numeric::ERR_NOTONCHANNEL,
                    [channel_or("*").as_str(), "You're not on that channel"],
                )]
            }
            (Some(Command::Part), _) => {
                vec![self.num(
                    Numeric::ERR_NOSUCHCHANNEL,
                    [channel_or("*").as_str(), "No such channel"],
                )]
            }
            (Some(Command::Names { channel }), _) => {
                vec![self.num(
                    Numeric::RPL_ENDOFNAMES,
                    [channel.as_str(), "End of /NAMES list"],
                )]
            }
            (Some(Command::Who { mask }), _) => {
                vec![self.num(Numeric::RPL_ENDOFWHO, [mask.as_str(), "End of WHO list"])]
            }
            (Some(Command::Whois { nick }), _) => vec![
                self.num(
                    Numeric::ERR_NOSUCHNICK,
                    [nick.as_str(), "No such nick/channel"],
                ),
                self.num(
                    Numeric::RPL_ENDOFWHOIS,
                    [nick.as_str(), "End of /WHOIS list"],
                ),
            ],
            (Some(Command::Userhost), _) => Vec::new(),
            (Some(Command::Kick { channel }), code) => match code {
                ErrorCode::NotAuthorized => {
                    vec![self.num(
                        Numeric::ERR_CHANOPRIVSNEEDED,
                        [channel.as_str(), "You're not channel operator"],
                    )]
                }
                ErrorCode::TargetNotInRoom => {
                    let nick = nick_or("*");
                    vec![self.num(
                        Numeric::ERR_USERNOTINCHANNEL,
                        [
                            nick.as_str(),
                            channel.as_str(),
                            "They aren't on that channel",
                        ],
                    )]
                }
                ErrorCode::NotInRoom => {
                    vec![self.num(
                        Numeric::ERR_NOTONCHANNEL,
                        [channel.as_str(), "You're not on that channel"],
                    )]
                }
                ErrorCode::UnknownUser => {
                    let nick = nick_or("*");
                    vec![self.num(
                        Numeric::ERR_NOSUCHNICK,
                        [nick.as_str(), "No such nick/channel"],
                    )]
                }
                _ => vec![self.num(
                    Numeric::ERR_NOSUCHCHANNEL,
                    [channel.as_str(), "No such channel"],
                )],
            },
            (Some(Command::TopicSet), ErrorCode::NotInRoom) => {
                vec![self.num(
                    Numeric::ERR_NOTONCHANNEL,
                    [channel_or("*").as_str(), "You're not on that channel"],
                )]
            }
            (Some(Command::TopicSet), ErrorCode::UnknownRoom | ErrorCode::InvalidRoomName) => {
                vec![self.num(
                    Numeric::ERR_NOSUCHCHANNEL,
                    [channel_or("*").as_str(), "No such channel"],
                )]
            }
            (Some(Command::ChatHistory { target, .. }), _) => {
                let line = match code {
                    ErrorCode::NotInRoom | ErrorCode::UnknownRoom | ErrorCode::InvalidUsername => {
                        IrcMessage::new(
                            "FAIL",
                            [
                                "CHATHISTORY",
                                "INVALID_TARGET",
                                "*",
                                target.as_str(),
                                message,
                            ],
                        )
                        .with_source(self.server.name.as_str())
                    }
                    _ => self.fail("CHATHISTORY", code, message),
                };
                return self.reply_and_finish(token, vec![line]);
            }
            (Some(c), _) => vec![self.fail(command_name(c), code, message)],
            (None, _) => {
                vec![
                    IrcMessage::new("NOTICE", [self.st.nick.clone(), message.to_string()])
                        .with_source(self.server.name.as_str()),
                ]
            }
        };
        self.st.reply(token, lines)
    }

    /// An IRCv3 standard reply for errors with no numeric of their own.
    fn fail(&self, command: &str, code: ErrorCode, message: &str) -> IrcMessage {
        IrcMessage::new(
            "FAIL",
            [
                command.to_string(),
                code.as_str().to_ascii_uppercase(),
                message.to_string(),
            ],
        )
        .with_source(self.server.name.as_str())
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Register => "NICK",
        Command::Join { .. } => "JOIN",
        Command::Part => "PART",
        Command::Names { .. } => "NAMES",
        Command::Who { .. } => "WHO",
        Command::Whois { .. } => "WHOIS",
        Command::Whowas { .. } => "WHOWAS",
        Command::List { .. } => "LIST",
        Command::TopicQuery { .. } | Command::TopicSet => "TOPIC",
        Command::Privmsg { .. } => "PRIVMSG",
        Command::Notice => "NOTICE",
        Command::TagMsg => "TAGMSG",
        Command::Kick { .. } => "KICK",
        Command::Away => "AWAY",
        Command::Nick { .. } => "NICK",
        Command::Lusers => "LUSERS",
        Command::ModeQuery { .. } => "MODE",
        Command::Userhost => "USERHOST",
        Command::Ison { .. } => "ISON",
        Command::ChatHistory { .. } => "CHATHISTORY",
        Command::Ping { .. } => "PING",
        Command::Sasl => "AUTHENTICATE",
        Command::RegisterAccount { .. } => "REGISTER",
    }
}

/// The RPL_ISUPPORT tokens.
pub fn isupport(s: &ServerIdentity) -> Vec<String> {
    vec![
        "AWAYLEN=200".into(),
        "CASEMAPPING=rfc8265".into(),
        format!("CHANLIMIT=#:{}", s.max_rooms_per_user),
        "CHANMODES=,,,n".into(),
        format!("CHANNELLEN={}", validate::MAX_ROOM_CHARS + 1),
        "CHANTYPES=#".into(),
        format!("CHATHISTORY={}", s.history_page_max),
        "KICKLEN=300".into(),
        "LINELEN=512".into(),
        "MODES=1".into(),
        "MSGREFTYPES=msgid".into(),
        format!("NETWORK={}", s.network),
        format!("NICKLEN={}", validate::MAX_USERNAME_CHARS),
        "PREFIX=(o)@".into(),
        "SAFELIST".into(),
        "TARGMAX=JOIN:,KICK:1,LIST:,NAMES:1,NOTICE:4,PART:,PRIVMSG:4,WHOIS:1".into(),
        format!("TOPICLEN={}", s.max_topic_bytes),
        "USERLEN=11".into(),
        "UTF8ONLY".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(nick: &str) -> IrcWire {
        let state = IrcState {
            nick: nick.into(),
            registered: true,
            ..IrcState::default()
        };
        IrcWire {
            server: Arc::new(ServerIdentity {
                name: "palaver".into(),
                network: "Palaver".into(),
                version: "0".into(),
                created: "today".into(),
                motd: Vec::new(),
                max_message_bytes: 4096,
                max_topic_bytes: 390,
                max_rooms_per_user: 50,
                history_page_max: 200,
            }),
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn refusal(code: ErrorCode, subject: &str, token: u64) -> Outgoing {
        Outgoing::new(ServerFrame::Error {
            code,
            // Worded with no quotes at all: the numerics must not depend on the sentence.
            message: "refused for a reason worded any way at all".into(),
            subject: Some(subject.into()),
            reference: Some(Value::from(token)),
        })
    }

    fn lines(wire: &IrcWire, out: &Outgoing) -> String {
        String::from_utf8(wire.translate(out).unwrap().to_vec()).unwrap()
    }

    #[test]
    fn a_long_message_split_over_lines_has_its_msgid_on_the_first_line_only() {
        let wire = wire("me");
        wire.state
            .lock()
            .unwrap()
            .caps
            .set(caps::MESSAGE_TAGS, true);
        let content = "word ".repeat(300);
        let frame = ServerFrame::Message(palaver_proto::PublicMessage {
            id: 42,
            seq: 1,
            room: "general".into(),
            username: "bob".into(),
            content: content.trim_end().into(),
            timestamp: "2026-11-29T12:00:00.000Z".into(),
        });
        let out = Outgoing::message(frame, Arc::from("bob!~bob@native.palaver"), None);
        let text = lines(&wire, &out);
        let sent: Vec<&str> = text.lines().collect();
        assert!(sent.len() > 1, "split: {text}");
        assert!(sent[0].contains("msgid=42"), "{}", sent[0]);
        assert!(
            sent[1..].iter().all(|l| !l.contains("msgid")),
            "the other lines have none: {text}"
        );
        assert!(sent.iter().all(|l| l.len() <= 512 + 200), "{text}");
    }

    #[test]
    fn numerics_name_the_refusals_subject_whatever_the_sentence_says() {
        let wire = wire("me");
        let command = Command::Privmsg {
            target: "bob,#rust".into(),
            closes_on_pong: true,
        };
        let token = wire.state.lock().unwrap().begin(command, None);
        let text = lines(&wire, &refusal(ErrorCode::UnknownUser, "bob", token));
        assert!(
            text.starts_with(":palaver 401 me bob :No such nick/channel"),
            "{text}"
        );
        let text = lines(&wire, &refusal(ErrorCode::NotInRoom, "rust", token));
        assert!(
            text.starts_with(":palaver 404 me #rust :Cannot send to channel"),
            "{text}"
        );
        let token = wire.state.lock().unwrap().begin(Command::Part, None);
        let text = lines(&wire, &refusal(ErrorCode::NotInRoom, "Lobby", token));
        assert!(
            text.starts_with(":palaver 442 me #Lobby :You're not on that channel"),
            "{text}"
        );
    }
}
