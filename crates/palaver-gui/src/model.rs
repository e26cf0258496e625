//! The chat as the window shows it, independent of any widget: conversations (rooms and direct
//! conversations), their lines, unread counts, members, and the connection's state.
//!
//! [`ChatModel::apply`] takes the client library's events and updates the model; the views only
//! read it. Message ids make it idempotent: a message already shown is never shown twice, and
//! history pages slot in above what is there.

use std::collections::{BTreeSet, HashSet};

use palaver_client::Event;
use palaver_proto::message_changes::MessageState;
use palaver_proto::{
    timestamp, validate, ChatMessage, ClientFrame, ServerFrame, SystemEvent, TypingState,
};

/// What a line is, which decides how it looks (see `theme.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// Joins, leaves, topics: grey italic.
    System,
    /// Server announcements: red bold.
    Server,
    /// My own public messages: blue.
    Own,
    /// Other people's public messages: a stable colour per person.
    Other,
    /// Private messages I sent: purple.
    PrivateSent,
    /// Private messages I received: orange.
    PrivateReceived,
    /// Errors and local notices (help, failures): red.
    Error,
    /// Local help text.
    Help,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub id: Option<u64>,
    /// The message's place in its conversation: lines are kept in seq order.
    pub seq: Option<u64>,
    pub ts_ms: i64,
    pub kind: LineKind,
    pub author: Option<String>,
    pub text: String,
    /// `/me` actions render as "* alice waves".
    pub action: bool,
    /// Mentions my name.
    pub mention: bool,
    /// What became of the message: the message it replies to, edits, deletion, reactions.
    pub state: MessageState,
}

impl Line {
    /// The message's text as sent (`/me ` included).
    fn content(&self) -> String {
        match self.action {
            true => format!("/me {}", self.text),
            false => self.text.clone(),
        }
    }

    /// Applies a reaction, an edit or a deletion of this message.
    fn apply(&mut self, change: &ChatMessage) {
        let mut content = self.content();
        self.state.apply(&mut content, change);
        (self.action, self.text) = split_action(&content);
    }
}

/// `/me waves` is the action "waves".
fn split_action(content: &str) -> (bool, String) {
    match content.strip_prefix("/me ") {
        Some(rest) => (true, rest.to_string()),
        None => (false, content.to_string()),
    }
}

/// Which conversation, by folded key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConversationId {
    Room(String),
    Direct(String),
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: ConversationId,
    /// Room name or the other person's name, as shown.
    pub title: String,
    pub topic: String,
    /// The room's modes as IRC writes them (`+nt`); empty when it has none but `+n`.
    pub modes: String,
    pub lines: Vec<Line>,
    pub unread: usize,
    pub mentions: usize,
    /// Room members (rooms only).
    pub members: BTreeSet<String>,
    /// True when older history may exist on the server.
    pub has_more: bool,
    pub loading_history: bool,
    /// Showing messages around one jumped to, away from the newest (see [`ChatModel::jump`]).
    pub detached: bool,
    /// Who is typing here: name, state, and since when (milliseconds).
    pub typing: Vec<(String, TypingState, i64)>,
}

/// The bounds of a `history` request, set by [`Conversation::history_request`]'s caller.
#[derive(Debug, Default)]
pub struct HistoryBounds {
    pub before: Option<u64>,
    pub around_id: Option<u64>,
}

impl Conversation {
    /// A `history` request for this conversation, 100 messages, with the bounds `set` gives.
    pub fn history_request(&self, set: impl FnOnce(&mut HistoryBounds)) -> ClientFrame {
        let mut bounds = HistoryBounds::default();
        set(&mut bounds);
        let (room, with) = match &self.id {
            ConversationId::Room(_) => (Some(self.title.clone()), None),
            ConversationId::Direct(_) => (None, Some(self.title.clone())),
        };
        ClientFrame::History {
            room,
            with,
            before: bounds.before,
            before_id: None,
            after_id: None,
            around_id: bounds.around_id,
            oldest_first: false,
            limit: Some(100),
        }
    }

    fn new(id: ConversationId, title: String) -> Self {
        Conversation {
            id,
            title,
            topic: String::new(),
            modes: String::new(),
            lines: Vec::new(),
            unread: 0,
            mentions: 0,
            members: BTreeSet::new(),
            has_more: true,
            loading_history: false,
            detached: false,
            typing: Vec::new(),
        }
    }

    /// "bob is typing…" and the like, as of `now_ms` (IRCv3's expiry: `paused` is gone after 6
    /// seconds, `active` after 30 without another).
    pub fn typing_text(&self, now_ms: i64) -> Option<String> {
        let names: Vec<&str> = self
            .typing
            .iter()
            .filter(|(_, state, since)| match state {
                TypingState::Active => now_ms - since < 30_000,
                TypingState::Paused => now_ms - since < 6_000,
                TypingState::Done => false,
            })
            .map(|(name, ..)| name.as_str())
            .collect();
        match names.as_slice() {
            [] => None,
            [one] => Some(format!("{one} is typing…")),
            [a, b] => Some(format!("{a} and {b} are typing…")),
            _ => Some("Several people are typing…".into()),
        }
    }

    /// The smallest message id shown, where paging back starts.
    /// The seq of the oldest message shown: the next history page ends before it.
    pub fn oldest_seq(&self) -> Option<u64> {
        self.lines.iter().filter_map(|l| l.seq).min()
    }

    pub fn is_room(&self) -> bool {
        matches!(self.id, ConversationId::Room(_))
    }
}

/// The connection as the status bar shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Connected,
    Reconnecting { attempt: u32 },
    Disconnected(String),
}

/// The whole chat state of one session.
#[derive(Debug, Clone)]
pub struct ChatModel {
    pub me: String,
    pub server: String,
    pub conversations: Vec<Conversation>,
    pub active: usize,
    pub status: Status,
    /// Ids already shown, so nothing appears twice.
    seen: HashSet<u64>,
    /// Set when a line that deserves a desktop notification arrived (drained by the app).
    pub notify: Vec<(String, String)>,
    /// The last search's results (the desktop shows them in a panel; the terminal lists them in
    /// the conversation shown, with `search_in_lines`).
    pub search: Option<SearchResults>,
    pub search_in_lines: bool,
    /// A message to scroll to once it is shown (a jump: a reply's original, a search result).
    pub jump_to: Option<u64>,
    /// The server's HTTP listener (files' links are relative to it) and its largest file;
    /// `None`/0 when it takes no files.
    pub http_base: Option<String>,
    pub max_upload_bytes: u64,
    /// How far the user has read each conversation (see `read_markers.rs`).
    pub read_markers: crate::read_markers::ReadMarkers,
    /// Rooms this client asked to join (folded): their `joined_room` opens them. A room the
    /// account's other device joined is listed, not opened.
    joining: BTreeSet<String>,
}

/// A search's results, newest first, as far as they were paged.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    pub query: String,
    pub messages: Vec<ChatMessage>,
    pub has_more: bool,
}

impl ChatModel {
    pub fn new(me: &str, server: &str) -> Self {
        ChatModel {
            me: me.to_string(),
            server: server.to_string(),
            conversations: Vec::new(),
            active: 0,
            status: Status::Connected,
            seen: HashSet::new(),
            notify: Vec::new(),
            search: None,
            search_in_lines: true,
            jump_to: None,
            http_base: None,
            max_upload_bytes: 0,
            read_markers: Default::default(),
            joining: BTreeSet::new(),
        }
    }

    /// Shows message `id` of conversation `index`: scrolls to it if it is loaded; otherwise
    /// the conversation shows the messages around it instead of the newest (it is *detached*
    /// until [`ChatModel::back_to_latest`]), and this is the `history` request to send.
    pub fn jump(&mut self, index: usize, id: u64) -> Option<ClientFrame> {
        self.select(index);
        self.jump_to = Some(id);
        let c = self.conversations.get_mut(index)?;
        if c.lines.iter().any(|l| l.id == Some(id)) {
            return None;
        }
        for line in c.lines.drain(..) {
            if let Some(id) = line.id {
                self.seen.remove(&id);
            }
        }
        c.detached = true;
        c.has_more = true;
        c.loading_history = true;
        Some(c.history_request(|q| q.around_id = Some(id)))
    }

    /// Leaves the messages jumped to for the newest: the request that reads them.
    pub fn back_to_latest(&mut self, index: usize) -> Option<ClientFrame> {
        let c = self.conversations.get_mut(index)?;
        for line in c.lines.drain(..) {
            if let Some(id) = line.id {
                self.seen.remove(&id);
            }
        }
        c.detached = false;
        c.has_more = true;
        c.loading_history = true;
        Some(c.history_request(|_| {}))
    }

    /// Where a message is shown: its conversation's index.
    pub fn conversation_of(&mut self, message: &ChatMessage) -> usize {
        match message {
            ChatMessage::Message(m) => self.room(&m.room),
            ChatMessage::PrivateMessage(m) => {
                let me = validate::fold(&self.me);
                let other = if validate::fold(&m.sender) == me {
                    &m.target
                } else {
                    &m.sender
                };
                self.open_direct_quietly(&other.clone())
            }
            _ => self.active,
        }
    }

    pub fn active(&self) -> Option<&Conversation> {
        self.conversations.get(self.active)
    }

    pub fn active_mut(&mut self) -> Option<&mut Conversation> {
        self.conversations.get_mut(self.active)
    }

    pub fn find(&self, id: &ConversationId) -> Option<usize> {
        self.conversations.iter().position(|c| &c.id == id)
    }

    /// Notes what this client asks of the server that changes what it shows later (a room
    /// joined here is opened when it arrives).
    pub fn asking(&mut self, frame: &ClientFrame) {
        if let ClientFrame::JoinRoom { room, .. } = frame {
            let room = room.trim_start_matches('#');
            self.joining.insert(validate::fold(room));
        }
    }

    /// Makes a conversation the one shown; its unread count resets.
    pub fn select(&mut self, index: usize) {
        if index < self.conversations.len() {
            self.active = index;
            let c = &mut self.conversations[index];
            c.unread = 0;
            c.mentions = 0;
        }
    }

    /// Opens (creating if needed) the direct conversation with `name` and shows it.
    pub fn open_direct(&mut self, name: &str) -> usize {
        let index = self.ensure(ConversationId::Direct(validate::fold(name)), name);
        self.select(index);
        index
    }

    fn ensure(&mut self, id: ConversationId, title: &str) -> usize {
        if let Some(i) = self.find(&id) {
            return i;
        }
        let active_id = self.active().map(|c| c.id.clone());
        self.conversations
            .push(Conversation::new(id.clone(), title.to_string()));
        // Rooms first, then direct conversations, each alphabetical.
        self.conversations.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(active_id) = active_id {
            self.active = self.find(&active_id).unwrap_or(0);
        }
        self.find(&id).unwrap_or(0)
    }

    fn room(&mut self, name: &str) -> usize {
        self.ensure(ConversationId::Room(validate::fold(name)), name)
    }

    /// Adds a local line (help, a refused command) to the active conversation.
    pub fn local(&mut self, kind: LineKind, text: impl Into<String>) {
        let line = Line {
            state: MessageState::default(),
            id: None,
            seq: None,
            ts_ms: timestamp::now_millis(),
            kind,
            author: None,
            text: text.into(),
            action: false,
            mention: false,
        };
        if let Some(c) = self.active_mut() {
            c.lines.push(line);
        }
    }

    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Connected(welcome) => {
                self.read_markers.reconnected();
                self.me = welcome.username.clone();
                self.http_base = welcome.http_base.clone();
                self.max_upload_bytes = welcome.limits.max_upload_bytes;
                let was_reconnecting =
                    self.status != Status::Connected || !self.conversations.is_empty();
                self.status = Status::Connected;
                for room in &welcome.rooms {
                    let i = self.room(&room.name);
                    self.conversations[i].topic = room.topic.clone();
                }
                if let Some(i) =
                    self.find(&ConversationId::Room(palaver_proto::DEFAULT_ROOM.into()))
                {
                    let members: BTreeSet<String> = welcome.users.iter().cloned().collect();
                    self.conversations[i].members = members;
                }
                let history: Vec<ChatMessage> = welcome.history.clone();
                self.insert_history(history, None);
                if was_reconnecting {
                    self.local_everywhere(LineKind::System, "Reconnected.");
                }
            }
            Event::Frame(frame) => self.apply_frame(frame),
            Event::Disconnected {
                reason,
                reconnecting,
            } => {
                self.status = if reconnecting {
                    Status::Reconnecting { attempt: 0 }
                } else {
                    Status::Disconnected(reason.clone())
                };
                self.local_everywhere(LineKind::System, format!("Disconnected: {reason}"));
            }
            Event::Reconnecting { attempt, .. } => self.status = Status::Reconnecting { attempt },
            Event::Closed { reason } => {
                self.status = Status::Disconnected(reason.clone());
                self.local_everywhere(LineKind::Error, format!("Session ended: {reason}"));
            }
            Event::Secured(trust) => {
                if let Some(text) = trust_notice(&trust) {
                    self.local_everywhere(LineKind::System, text);
                }
            }
        }
    }

    fn local_everywhere(&mut self, kind: LineKind, text: impl Into<String>) {
        let text = text.into();
        let now = timestamp::now_millis();
        for c in self.conversations.iter_mut().filter(|c| c.is_room()) {
            c.lines.push(Line {
                state: MessageState::default(),
                id: None,
                seq: None,
                ts_ms: now,
                kind,
                author: None,
                text: text.clone(),
                action: false,
                mention: false,
            });
        }
    }

    fn apply_frame(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Message(_) | ServerFrame::PrivateMessage(_) => {
                let message = match frame {
                    ServerFrame::Message(m) => ChatMessage::Message(m),
                    ServerFrame::PrivateMessage(m) => ChatMessage::PrivateMessage(m),
                    _ => unreachable!(),
                };
                self.insert_live(message);
            }
            ServerFrame::Typing {
                room,
                username,
                state,
                ..
            } => {
                if validate::fold(&username) == validate::fold(&self.me) {
                    return;
                }
                // Only where a conversation is shown already (typing opens none), timed by
                // this clock (the server's may differ).
                let place = match room {
                    Some(room) => ConversationId::Room(validate::fold(&room)),
                    None => ConversationId::Direct(validate::fold(&username)),
                };
                let Some(index) = self.find(&place) else {
                    return;
                };
                let since = timestamp::now_millis();
                let typing = &mut self.conversations[index].typing;
                typing.retain(|(name, ..)| *name != username);
                if state != TypingState::Done {
                    typing.push((username, state, since));
                }
            }
            ServerFrame::ReadMarker(marker) => self.apply_read_marker(&marker),
            ServerFrame::Reaction(c) => self.apply_change(&ChatMessage::Reaction(c)),
            ServerFrame::Edited(c) => self.apply_change(&ChatMessage::Edited(c)),
            ServerFrame::Deleted(c) => self.apply_change(&ChatMessage::Deleted(c)),
            ServerFrame::PrivateConfirmation {
                id: Some(id),
                seq,
                target,
                content,
                timestamp,
                state,
                ..
            } => {
                let message = ChatMessage::PrivateMessage(palaver_proto::PrivateMessage {
                    state,
                    id,
                    seq: seq.unwrap_or(0),
                    sender: self.me.clone(),
                    target,
                    content,
                    timestamp,
                });
                self.insert_live(message);
            }
            ServerFrame::PrivateConfirmation {
                id: None, target, ..
            } => {
                let i = self.open_direct_quietly(&target);
                self.push_line(
                    i,
                    local_line(
                        LineKind::Error,
                        format!("{target} is not online; the message was not delivered."),
                    ),
                );
            }
            ServerFrame::System {
                message,
                timestamp: ts,
                room,
                event,
                username,
                new_username,
                ..
            } => {
                let index = match &room {
                    Some(room) => self.room(room),
                    None => self.active,
                };
                if let (Some(event), Some(name), Some(c)) =
                    (event, &username, self.conversations.get_mut(index))
                {
                    match event {
                        SystemEvent::Joined => {
                            c.members.insert(name.clone());
                        }
                        SystemEvent::Left | SystemEvent::Disconnected | SystemEvent::Kicked => {
                            c.members.remove(name);
                        }
                        SystemEvent::Renamed => {
                            c.members.remove(name);
                            if let Some(new) = new_username {
                                c.members.insert(new);
                            }
                        }
                        _ => {}
                    }
                }
                let line = Line {
                    state: MessageState::default(),
                    id: None,
                    seq: None,
                    ts_ms: timestamp::parse_millis(&ts).unwrap_or_else(timestamp::now_millis),
                    kind: LineKind::System,
                    author: None,
                    text: message,
                    action: false,
                    mention: false,
                };
                self.push_line(index, line);
            }
            ServerFrame::Server {
                message,
                timestamp: ts,
            } => {
                let ts_ms = timestamp::parse_millis(&ts).unwrap_or_else(timestamp::now_millis);
                for i in 0..self.conversations.len() {
                    if self.conversations[i].is_room() {
                        let line = Line {
                            state: MessageState::default(),
                            id: None,
                            seq: None,
                            ts_ms,
                            kind: LineKind::Server,
                            author: None,
                            text: message.clone(),
                            action: false,
                            mention: false,
                        };
                        self.push_line(i, line);
                    }
                }
                self.notify.push(("Server announcement".into(), message));
            }
            ServerFrame::Error { code, message, .. } => {
                let i = self.active;
                self.push_line(
                    i,
                    local_line(LineKind::Error, format!("{message} ({code})")),
                );
            }
            ServerFrame::JoinedRoom {
                room,
                members,
                history,
                read_marker,
                ..
            } => {
                let i = self.room(&room.name);
                let c = &mut self.conversations[i];
                c.topic = room.topic;
                c.modes = room.modes.unwrap_or_default();
                c.members = members.into_iter().collect();
                self.insert_history(history, None);
                if self.joining.remove(&validate::fold(&room.name)) {
                    self.select(i);
                }
                if let Some(marker) = read_marker {
                    self.apply_read_marker(&marker);
                }
            }
            ServerFrame::LeftRoom {
                room, by, reason, ..
            } => {
                if let Some(i) = self.find(&ConversationId::Room(validate::fold(&room))) {
                    self.conversations.remove(i);
                    self.active = self.active.min(self.conversations.len().saturating_sub(1));
                }
                if let Some(by) = by {
                    let why = reason.map(|r| format!(" ({r})")).unwrap_or_default();
                    let text = format!("You were removed from #{room} by {by}{why}.");
                    let i = self.active;
                    self.push_line(i, local_line(LineKind::Error, text));
                }
            }
            ServerFrame::Done { message, .. } => {
                let i = self.active;
                self.push_line(i, local_line(LineKind::System, message));
            }
            ServerFrame::Registered { username, .. } => {
                let i = self.active;
                let text =
                    format!("{username} is now your account: log in with its password next time.");
                self.push_line(i, local_line(LineKind::System, text));
            }
            ServerFrame::Notice {
                room,
                target,
                username,
                content,
                timestamp: ts,
            } => {
                let (index, kind) = match (room, target) {
                    (Some(room), _) => {
                        let kind = if username == self.me {
                            LineKind::Own
                        } else {
                            LineKind::Other
                        };
                        (self.room(&room), kind)
                    }
                    (None, Some(target)) if username == self.me => {
                        (self.open_direct_quietly(&target), LineKind::PrivateSent)
                    }
                    (None, Some(_)) => (
                        self.open_direct_quietly(&username),
                        LineKind::PrivateReceived,
                    ),
                    (None, None) => return,
                };
                let line = Line {
                    state: MessageState::default(),
                    id: None,
                    seq: None,
                    ts_ms: timestamp::parse_millis(&ts).unwrap_or_else(timestamp::now_millis),
                    kind,
                    author: Some(username),
                    text: content,
                    action: false,
                    mention: false,
                };
                self.push_line(index, line);
            }
            ServerFrame::Away {
                username,
                message: Some(message),
                reference: Some(_),
            } if username != self.me => {
                // The answer to our private message: they may not reply soon.
                let i = self.open_direct_quietly(&username);
                let text = format!("{username} is away: {message}");
                self.push_line(i, local_line(LineKind::System, text));
            }
            ServerFrame::Topic { room, topic, .. } => {
                let i = self.room(&room);
                self.conversations[i].topic = topic;
            }
            ServerFrame::ModeChanged {
                room,
                username,
                modes,
                params,
                ..
            } => {
                let i = self.room(&room);
                let c = &mut self.conversations[i];
                c.modes = palaver_proto::room_modes::letters_after(&c.modes, &modes);
                let text = format!("{username} sets mode {}", mode_text(&modes, &params));
                self.push_line(i, local_line(LineKind::System, text));
            }
            ServerFrame::SearchResults {
                query,
                messages,
                has_more,
                ..
            } => {
                // A further page of the same search adds to it.
                match &mut self.search {
                    Some(last) if last.query == query && !last.messages.is_empty() => {
                        let known: HashSet<u64> = last.messages.iter().map(|m| m.id()).collect();
                        last.messages.extend(
                            messages
                                .iter()
                                .filter(|m| !known.contains(&m.id()))
                                .cloned(),
                        );
                        last.has_more = has_more;
                    }
                    _ => {
                        self.search = Some(SearchResults {
                            query: query.clone(),
                            messages: messages.clone(),
                            has_more,
                        })
                    }
                }
                if !self.search_in_lines {
                    return;
                }
                let i = self.active;
                let more = if has_more { ", the newest shown" } else { "" };
                let head = format!("Search for \"{query}\": {} found{more}", messages.len());
                self.push_line(i, local_line(LineKind::System, head));
                for m in &messages {
                    self.push_line(i, local_line(LineKind::System, search_hit(m)));
                }
            }
            ServerFrame::RoomModes {
                room,
                modes,
                params,
                bans,
                ..
            } => {
                let i = self.room(&room);
                self.conversations[i].modes = modes.clone();
                let mut text = format!("#{room} has modes {}", mode_text(&modes, &params));
                if !bans.is_empty() {
                    let masks: Vec<&str> = bans.iter().map(|b| b.mask.as_str()).collect();
                    text.push_str(&format!("; bans: {}", masks.join(", ")));
                }
                self.push_line(i, local_line(LineKind::System, text));
            }
            ServerFrame::Invited {
                room,
                username,
                by,
                reference,
            } => {
                let text = if username == self.me {
                    format!("{by} invites you to #{room}: /join #{room}")
                } else if reference.is_some() {
                    format!("You invited {username} to #{room}.")
                } else {
                    format!("{by} invited {username} to #{room}.")
                };
                let i = if username == self.me {
                    self.active
                } else {
                    self.room(&room)
                };
                self.push_line(i, local_line(LineKind::System, text));
            }
            ServerFrame::History {
                room,
                with,
                messages,
                has_more,
                ..
            } => {
                let target = match (&room, &with) {
                    (Some(room), _) => Some(self.room(room)),
                    (None, Some(with)) => Some(self.open_direct_quietly(with)),
                    _ => None,
                };
                if let Some(i) = target {
                    self.conversations[i].has_more = has_more;
                    self.conversations[i].loading_history = false;
                }
                self.insert_history(messages, target);
            }
            ServerFrame::Users {
                room: Some(room),
                users,
                ..
            } => {
                let i = self.room(&room);
                self.conversations[i].members = users.into_iter().collect();
            }
            _ => {}
        }
    }

    fn open_direct_quietly(&mut self, name: &str) -> usize {
        self.ensure(ConversationId::Direct(validate::fold(name)), name)
    }

    /// A reaction, an edit or a deletion: applied to the message it changed, wherever it is
    /// shown, and to the previews of replies to it. A change to a message not shown is dropped.
    pub fn apply_change(&mut self, change: &ChatMessage) {
        let id = change.id();
        for c in &mut self.conversations {
            for line in &mut c.lines {
                if line.id == Some(id) {
                    line.apply(change);
                } else if line.state.reply_to == Some(id) {
                    line.state.apply_to_reply(change);
                }
            }
        }
    }

    /// The frame `/react`, `/reply`, `/edit` or `/delete` sends for conversation `index`: about
    /// its `back`-th newest message (only mine if `mine`), or why there is none.
    pub fn on_message(
        &self,
        index: usize,
        back: usize,
        mine: bool,
        act: crate::commands::MessageAct,
    ) -> Result<ClientFrame, String> {
        use crate::commands::MessageAct;
        let me = validate::fold(&self.me);
        let c = self
            .conversations
            .get(index)
            .ok_or_else(|| "No conversation is shown.".to_string())?;
        let line = c
            .lines
            .iter()
            .rev()
            .filter(|l| l.id.is_some() && !l.state.deleted)
            .filter(|l| !mine || l.author.as_deref().map(validate::fold) == Some(me.clone()))
            .nth(back.saturating_sub(1))
            .ok_or_else(|| match mine {
                true => "You have no message here to change.".to_string(),
                false => "There is no such message here.".to_string(),
            })?;
        let id = line.id.unwrap_or_default();
        Ok(match act {
            MessageAct::React(emoji) => ClientFrame::React {
                id,
                emoji,
                on: None,
            },
            MessageAct::Edit(content) => ClientFrame::Edit { id, content },
            MessageAct::Delete => ClientFrame::Delete { id },
            MessageAct::Reply(content) => match &c.id {
                ConversationId::Room(_) => ClientFrame::Message {
                    attachments: Vec::new(),
                    content,
                    room: Some(c.title.clone()),
                    reply_to: Some(id),
                },
                ConversationId::Direct(_) => ClientFrame::PrivateMessage {
                    attachments: Vec::new(),
                    target: c.title.clone(),
                    content,
                    reply_to: Some(id),
                },
            },
        })
    }

    /// The line of message `id`, if it is shown.
    pub fn line_of(&self, id: u64) -> Option<(usize, &Line)> {
        self.conversations
            .iter()
            .enumerate()
            .find_map(|(i, c)| c.lines.iter().find(|l| l.id == Some(id)).map(|l| (i, l)))
    }

    /// Where a message belongs, and how it looks.
    fn classify(&mut self, message: &ChatMessage) -> (usize, Line) {
        let me = validate::fold(&self.me);
        let seq = message.seq();
        let state = match message {
            ChatMessage::Message(m) => m.state.clone(),
            ChatMessage::PrivateMessage(m) => m.state.clone(),
            _ => MessageState::default(),
        };
        let (index, kind, author, content, id, ts) = match message {
            ChatMessage::Message(m) => {
                let kind = if validate::fold(&m.username) == me {
                    LineKind::Own
                } else {
                    LineKind::Other
                };
                (
                    self.room(&m.room),
                    kind,
                    m.username.clone(),
                    &m.content,
                    m.id,
                    &m.timestamp,
                )
            }
            ChatMessage::PrivateMessage(m) => {
                let sent = validate::fold(&m.sender) == me;
                let other = if sent { &m.target } else { &m.sender };
                let kind = if sent {
                    LineKind::PrivateSent
                } else {
                    LineKind::PrivateReceived
                };
                (
                    self.open_direct_quietly(other),
                    kind,
                    m.sender.clone(),
                    &m.content,
                    m.id,
                    &m.timestamp,
                )
            }
            ChatMessage::Reaction(_) | ChatMessage::Edited(_) | ChatMessage::Deleted(_) => {
                unreachable!("changes are applied, not shown")
            }
        };
        let (action, text) = split_action(content);
        let mention = kind == LineKind::Other && mentions(&text, &self.me);
        let line = Line {
            id: Some(id),
            seq: Some(seq),
            ts_ms: timestamp::parse_millis(ts).unwrap_or_else(timestamp::now_millis),
            kind,
            author: Some(author),
            text,
            action,
            mention,
            state,
        };
        (index, line)
    }

    /// Whether `line` answers a message of mine.
    fn replies_to_me(&self, line: &Line) -> bool {
        let me = validate::fold(&self.me);
        let mine = |author: &str| validate::fold(author) == me;
        line.state.reply_to.is_some_and(|id| {
            self.line_of(id)
                .and_then(|(_, l)| l.author.as_deref())
                .or(line
                    .state
                    .reply_preview
                    .as_ref()
                    .map(|p| p.username.as_str()))
                .is_some_and(mine)
        }) && line.author.as_deref().is_some_and(|a| !mine(a))
    }

    fn insert_live(&mut self, message: ChatMessage) {
        if !message.is_message() {
            return self.apply_change(&message);
        }
        if !self.seen.insert(message.id()) {
            return;
        }
        let (index, mut line) = self.classify(&message);
        if let (Some(author), Some(c)) = (&line.author, self.conversations.get_mut(index)) {
            c.typing.retain(|(name, ..)| name != author);
        }
        let reply = self.replies_to_me(&line);
        line.mention |= reply;
        if line.mention || line.kind == LineKind::PrivateReceived {
            let author = line.author.clone().unwrap_or_default();
            let title = match line.kind {
                LineKind::PrivateReceived => format!("{author} (private)"),
                _ if reply => format!("{author} replied to you"),
                _ => format!("{author} mentioned you"),
            };
            self.notify.push((title, line.text.clone()));
        }
        self.push_line(index, line);
    }

    /// Inserts older messages in id order, skipping any already shown.
    fn insert_history(&mut self, messages: Vec<ChatMessage>, _target: Option<usize>) {
        for message in messages {
            if !message.is_message() {
                self.apply_change(&message);
                continue;
            }
            if !self.seen.insert(message.id()) {
                continue;
            }
            let (index, line) = self.classify(&message);
            let lines = &mut self.conversations[index].lines;
            let seq = line.seq.unwrap_or(0);
            let newest = lines.iter().rev().find_map(|l| l.seq);
            if newest.is_none_or(|newest| newest < seq) {
                lines.push(line);
                continue;
            }
            // Insert before the first line with a larger seq (lines without seqs stay put).
            let at = lines
                .iter()
                .position(|l| l.seq.is_some_and(|other| other > seq))
                .unwrap_or(lines.len());
            lines.insert(at, line);
        }
    }

    fn push_line(&mut self, index: usize, line: Line) {
        let unread = index != self.active
            && crate::read_markers::counts_as_unread(&line)
            && self
                .conversations
                .get(index)
                .is_some_and(|c| self.is_after_marker(&c.id, line.seq));
        let Some(c) = self.conversations.get_mut(index) else {
            return;
        };
        if unread {
            c.unread += 1;
            if line.mention {
                c.mentions += 1;
            }
        }
        c.lines.push(line);
    }

    /// Every name worth completing: members of my rooms and my direct conversations.
    pub fn known_names(&self) -> Vec<String> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for c in &self.conversations {
            names.extend(c.members.iter().cloned());
            if !c.is_room() {
                names.insert(c.title.clone());
            }
        }
        names.into_iter().collect()
    }
}

/// What to tell the user about how a TLS connection is trusted (nothing when a certificate
/// authority vouches for it or the pin matched).
pub fn trust_notice(trust: &palaver_client::Trust) -> Option<String> {
    match trust {
        palaver_client::Trust::PinnedNow { fingerprint, file } => Some(format!(
            "First TLS connection to this server: its certificate is not signed by an authority this \
             system trusts, so its fingerprint was pinned in {}. Compare it with the one the server \
             printed: {fingerprint}",
            file.display()
        )),
        _ => None,
    }
}

fn local_line(kind: LineKind, text: String) -> Line {
    Line {
        state: MessageState::default(),
        id: None,
        seq: None,
        ts_ms: timestamp::now_millis(),
        kind,
        author: None,
        text,
        action: false,
        mention: false,
    }
}

/// Whether `text` mentions `name` as a word (case-insensitive).
pub fn mentions(text: &str, name: &str) -> bool {
    let name = validate::fold(name);
    if name.is_empty() {
        return false;
    }
    let text = validate::fold(text);
    let is_name_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    text.match_indices(&name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(|c| is_name_char(c) && c != '.')
    })
}

/// A mode change as people read it: `+kv secret ann`.
fn mode_text(modes: &str, params: &[String]) -> String {
    if params.is_empty() {
        modes.to_string()
    } else {
        format!("{modes} {}", params.join(" "))
    }
}

/// One search result as a line: when, where, who, what.
fn search_hit(m: &ChatMessage) -> String {
    use chrono::TimeZone;
    let (place, text, ts) = match m {
        ChatMessage::Message(m) => (
            format!("#{} <{}>", m.room, m.username),
            &m.content,
            &m.timestamp,
        ),
        ChatMessage::PrivateMessage(m) => (
            format!("<{} → {}>", m.sender, m.target),
            &m.content,
            &m.timestamp,
        ),
        ChatMessage::Reaction(_) | ChatMessage::Edited(_) | ChatMessage::Deleted(_) => {
            return String::new()
        }
    };
    let when = timestamp::parse_millis(ts)
        .and_then(|ms| chrono::Local.timestamp_millis_opt(ms).single())
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    format!("  {when} {place} {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use palaver_proto::{PrivateMessage, PublicMessage, RoomInfo, Welcome};

    fn welcome(me: &str, history: Vec<ChatMessage>) -> Event {
        Event::Connected(Box::new(Welcome {
            http_base: None,
            username: me.into(),
            server: "palaver".into(),
            version: "0".into(),
            protocol: 1,
            limits: palaver_proto::Limits {
                max_upload_bytes: 0,
                max_frame_bytes: 1,
                max_message_bytes: 1,
                rate_per_second: 1.0,
                rate_burst: 1,
                history_page_max: 1,
            },
            rooms: vec![RoomInfo {
                name: "general".into(),
                topic: "hi".into(),
                members: 2,
                topic_by: None,
                topic_at: None,
                created: None,
                last_seq: 0,
                modes: None,
            }],
            users: vec!["alice".into(), "bob".into()],
            users_online: 2,
            history,
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            resume_token: None,
        }))
    }

    fn public(id: u64, user: &str, text: &str) -> ChatMessage {
        ChatMessage::Message(PublicMessage {
            state: Default::default(),
            id,
            seq: id,
            room: "general".into(),
            username: user.into(),
            content: text.into(),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
        })
    }

    fn private(id: u64, from: &str, to: &str, text: &str) -> ServerFrame {
        ServerFrame::PrivateMessage(PrivateMessage {
            state: Default::default(),
            id,
            seq: id,
            sender: from.into(),
            target: to.into(),
            content: text.into(),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
        })
    }

    #[test]
    fn messages_are_classified_and_never_shown_twice() {
        let mut m = ChatModel::new("alice", "x");
        m.apply(welcome("alice", vec![public(1, "bob", "old")]));
        m.apply(Event::Frame(public(2, "alice", "mine").into_frame()));
        m.apply(Event::Frame(public(2, "alice", "mine").into_frame()));
        m.apply(Event::Frame(public(3, "bob", "hey @Alice!").into_frame()));
        let kinds: Vec<_> = m.conversations[0]
            .lines
            .iter()
            .map(|l| (l.kind, l.mention))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (LineKind::Other, false),
                (LineKind::Own, false),
                (LineKind::Other, true)
            ]
        );
        assert_eq!(m.notify.len(), 1);
    }

    #[test]
    fn private_messages_open_a_direct_conversation_with_unread_count() {
        let mut m = ChatModel::new("alice", "x");
        m.apply(welcome("alice", vec![]));
        m.apply(Event::Frame(private(5, "bob", "alice", "psst")));
        let i = m.find(&ConversationId::Direct("bob".into())).unwrap();
        assert_eq!(m.conversations[i].lines[0].kind, LineKind::PrivateReceived);
        assert_eq!(m.conversations[i].unread, 1);
        m.select(i);
        assert_eq!(m.conversations[i].unread, 0);
        m.apply(Event::Frame(ServerFrame::PrivateConfirmation {
            state: Default::default(),
            id: Some(6),
            seq: Some(2),
            target: "bob".into(),
            content: "hi".into(),
            delivered: true,
            timestamp: "2026-01-01T00:00:01.000Z".into(),
            reference: None,
        }));
        assert_eq!(m.conversations[i].lines[1].kind, LineKind::PrivateSent);
    }

    #[test]
    fn history_pages_slot_in_above() {
        let mut m = ChatModel::new("alice", "x");
        m.apply(welcome("alice", vec![public(10, "bob", "ten")]));
        m.apply(Event::Frame(ServerFrame::History {
            room: Some("general".into()),
            with: None,
            messages: vec![
                public(8, "bob", "eight"),
                public(9, "bob", "nine"),
                public(10, "bob", "ten"),
            ],
            has_more: false,
            reference: None,
        }));
        let texts: Vec<_> = m.conversations[0]
            .lines
            .iter()
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(texts, vec!["eight", "nine", "ten"]);
        assert!(!m.conversations[0].has_more);
    }

    #[test]
    fn members_follow_system_notices() {
        let mut m = ChatModel::new("alice", "x");
        m.apply(welcome("alice", vec![]));
        m.apply(Event::Frame(ServerFrame::System {
            message: "carol joined the chat".into(),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            room: Some("general".into()),
            event: Some(SystemEvent::Joined),
            username: Some("carol".into()),
            new_username: None,
            by: None,
            reason: None,
        }));
        assert!(m.conversations[0].members.contains("carol"));
        m.apply(Event::Frame(ServerFrame::System {
            message: "bob left the chat".into(),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
            room: Some("general".into()),
            event: Some(SystemEvent::Disconnected),
            username: Some("bob".into()),
            new_username: None,
            by: None,
            reason: None,
        }));
        assert_eq!(
            m.conversations[0].members.iter().collect::<Vec<_>>(),
            ["alice", "carol"]
        );
    }

    #[test]
    fn mention_detection_respects_word_boundaries() {
        assert!(mentions("hi alice", "Alice"));
        assert!(mentions("alice: look", "alice"));
        assert!(mentions("thanks alice.", "alice"));
        assert!(!mentions("malice aforethought", "alice"));
        assert!(!mentions("alice_2 is here", "alice"));
    }

    #[test]
    fn me_actions_are_marked() {
        let mut m = ChatModel::new("alice", "x");
        m.apply(welcome("alice", vec![public(1, "bob", "/me waves")]));
        let line = &m.conversations[0].lines[0];
        assert!(line.action);
        assert_eq!(line.text, "waves");
    }

    #[test]
    fn notices_from_irc_and_removals_are_shown() {
        let mut m = ChatModel::new("alice", "x");
        m.apply(welcome("alice", vec![]));
        m.apply(Event::Frame(ServerFrame::Notice {
            room: Some("general".into()),
            target: None,
            username: "ircbot".into(),
            content: "build passed".into(),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
        }));
        let line = m.conversations[0].lines.last().unwrap();
        assert_eq!(
            (line.kind, line.author.as_deref(), line.text.as_str()),
            (LineKind::Other, Some("ircbot"), "build passed")
        );
        m.apply(Event::Frame(ServerFrame::LeftRoom {
            room: "general".into(),
            by: Some("op".into()),
            reason: Some("spam".into()),
            reference: None,
        }));
        assert!(m.find(&ConversationId::Room("general".into())).is_none());
    }

    #[test]
    fn search_results_are_listed_in_the_conversation_shown() {
        let mut m = ChatModel::new("alice", "x");
        m.apply(welcome("alice", vec![]));
        m.apply(Event::Frame(ServerFrame::SearchResults {
            query: "deploy".into(),
            messages: vec![public(7, "bob", "deploy tonight")],
            has_more: false,
            reference: None,
        }));
        let lines: Vec<&str> = m.conversations[m.active]
            .lines
            .iter()
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(lines[lines.len() - 2], "Search for \"deploy\": 1 found");
        assert!(
            lines[lines.len() - 1].ends_with("#general <bob> deploy tonight"),
            "{lines:?}"
        );
    }
}
