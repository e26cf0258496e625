//! Frames the server sends. Each is one JSON object with a `type` field.
//!
//! The seed protocol's server frames (`message`, `private_message`, `private_confirmation`,
//! `system`, `server`, `error`) keep their names and fields; Palaver adds fields (ids, rooms,
//! codes) and new types (`welcome`, `ack`, `joined_room`, `history`, ...). Clients must ignore
//! fields and types they do not know: [`ServerFrame::Unknown`] is what an unknown type becomes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error_code::ErrorCode;
use crate::message_changes::{Deleted, Edited, MessageState, Reaction};

/// A public message in a room, as delivered live and as stored in history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicMessage {
    /// Unique on the server (for de-duplication, replies, IRC `msgid`); says nothing of order.
    pub id: u64,
    /// The message's place in its room: 1 for the first, one more for each after it. Within a
    /// room, seq order is the order messages were stored and are delivered in.
    #[serde(default)]
    pub seq: u64,
    pub room: String,
    pub username: String,
    pub content: String,
    pub timestamp: String,
    /// Its reply, edits, deletion and reactions, as it is now.
    #[serde(flatten)]
    pub state: MessageState,
}

/// A private message between two users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateMessage {
    pub id: u64,
    /// The message's place in the conversation of its two users (see [`PublicMessage::seq`]).
    #[serde(default)]
    pub seq: u64,
    pub sender: String,
    pub target: String,
    pub content: String,
    pub timestamp: String,
    #[serde(flatten)]
    pub state: MessageState,
}

/// A stored chat message of either kind, or a change to one (in a resume's replay), tagged by
/// `type` like the live frame it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChatMessage {
    Message(PublicMessage),
    PrivateMessage(PrivateMessage),
    Reaction(Reaction),
    Edited(Edited),
    Deleted(Deleted),
}

impl ChatMessage {
    /// The message's id; for a change, the id of the message it changed.
    pub fn id(&self) -> u64 {
        match self {
            ChatMessage::Message(m) => m.id,
            ChatMessage::PrivateMessage(m) => m.id,
            ChatMessage::Reaction(c) => c.place.id,
            ChatMessage::Edited(c) => c.place.id,
            ChatMessage::Deleted(c) => c.place.id,
        }
    }

    /// Its place in its conversation.
    pub fn seq(&self) -> u64 {
        match self {
            ChatMessage::Message(m) => m.seq,
            ChatMessage::PrivateMessage(m) => m.seq,
            ChatMessage::Reaction(c) => c.place.seq,
            ChatMessage::Edited(c) => c.place.seq,
            ChatMessage::Deleted(c) => c.place.seq,
        }
    }

    /// True for a message, false for a change to one.
    pub fn is_message(&self) -> bool {
        matches!(
            self,
            ChatMessage::Message(_) | ChatMessage::PrivateMessage(_)
        )
    }

    /// The live frame this is delivered as.
    pub fn into_frame(self) -> ServerFrame {
        match self {
            ChatMessage::Message(m) => ServerFrame::Message(m),
            ChatMessage::PrivateMessage(m) => ServerFrame::PrivateMessage(m),
            ChatMessage::Reaction(c) => ServerFrame::Reaction(c),
            ChatMessage::Edited(c) => ServerFrame::Edited(c),
            ChatMessage::Deleted(c) => ServerFrame::Deleted(c),
        }
    }
}

/// A room as listed: name, topic, members online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub name: String,
    pub topic: String,
    pub members: usize,
    /// Who set the topic, and when (absent for a topic set before the server started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_at: Option<String>,
    /// When the room was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The seq of the room's newest message (0 before the first): a client that has seen up to
    /// here resumes with it as the room's cursor.
    #[serde(default)]
    pub last_seq: u64,
    /// The room's modes as IRC shows them (`+nt`; see `room_modes`); absent: `+n` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modes: Option<String>,
}

/// A conversation with news: a room, or the other person of a private conversation, and when
/// its newest message was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationNews {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    pub last: String,
}

/// Who someone is: the answer to `whois`, one entry of `who` and `whowas`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: String,
    /// The user part of the IRC-style address `username!ident@host`.
    pub ident: String,
    /// A cloak naming how the user is connected (`native.palaver`, `irc.palaver`), never an
    /// address.
    pub host: String,
    pub realname: String,
    /// `native` or `irc`.
    pub protocol: String,
    /// The away message, if the user is away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away: Option<String>,
    /// Operator of the room asked about (`who` with a room).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub operator: bool,
    /// Has voice in that room (`+v`: may speak when it is moderated).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub voice: bool,
    /// An admin of the server (IRC's operators).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
    /// The account they are logged in to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The rooms the user is in (`whois` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// The rooms among `rooms` the user is an operator of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operator_of: Vec<String>,
    /// When the user joined the server.
    pub connected: String,
    /// Seconds since the user last sent a message (`whois` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_seconds: Option<u64>,
    /// When the user left (`whowas` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<String>,
}

/// The limits a client should respect, announced in `welcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub max_frame_bytes: usize,
    pub max_message_bytes: usize,
    pub rate_per_second: f64,
    pub rate_burst: u32,
    pub history_page_max: u32,
    /// The largest file accepted, in bytes (0: no files).
    #[serde(default)]
    pub max_upload_bytes: u64,
}

/// The reply to a successful `join`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// Your name as the server stored it (NFC-normalised).
    pub username: String,
    pub server: String,
    pub version: String,
    pub protocol: u32,
    pub limits: Limits,
    /// The rooms you are in now.
    pub rooms: Vec<RoomInfo>,
    /// Users online (at most a few hundred; `users_online` is the full count).
    pub users: Vec<String>,
    pub users_online: usize,
    /// Recent messages of `general` (empty when resuming with `since`).
    pub history: Vec<ChatMessage>,
    pub timestamp: String,
    /// The server's HTTP listener as clients outside a browser reach it
    /// (`http://host:8080`): files' and uploads' paths are relative to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_base: Option<String>,
    /// This session's secret: give it back in `join` (or `login`) when reconnecting to continue
    /// the session, private history included. Keep it like a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_token: Option<crate::Secret>,
}

/// What a `system` notice is about, for clients that keep member lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemEvent {
    Joined,
    Left,
    Disconnected,
    Kicked,
    Topic,
    /// `username` is now known as `new_username`.
    Renamed,
    #[serde(other)]
    Other,
}

/// Every frame the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Welcome(Box<Welcome>),
    Message(PublicMessage),
    PrivateMessage(PrivateMessage),
    /// A reaction added or taken back (see `message_changes.rs`).
    Reaction(Reaction),
    /// A message's new text.
    Edited(Edited),
    /// The answer to `upload`: send the file's bytes to `url` (HTTP PUT or POST, within the
    /// `expires` time); the answer is the file's id, to name in a message's `attachments`.
    UploadReady {
        url: String,
        expires: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// A message deleted.
    Deleted(Deleted),
    /// How far you have read a conversation (on any of your devices).
    ReadMarker(crate::read_marker::ReadMarker),
    PrivateConfirmation {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        target: String,
        content: String,
        delivered: bool,
        timestamp: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
        /// The message it replies to, as on `private_message`.
        #[serde(flatten)]
        state: MessageState,
    },
    System {
        message: String,
        timestamp: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<SystemEvent>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// For `renamed`: the new name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_username: Option<String>,
        /// For `kicked` from a room: who removed them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        /// For departures and kicks: the reason given, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Server {
        message: String,
        timestamp: String,
    },
    /// A refusal: `code` for programs, `message` for people, and `subject` (the user or room
    /// it is about, when there is one) so that programs need not read the sentence.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// A message with a client `ref` was stored under `id`.
    Ack {
        #[serde(rename = "ref")]
        reference: Value,
        id: u64,
        /// The message's place in its conversation.
        #[serde(default)]
        seq: u64,
        timestamp: String,
    },
    JoinedRoom {
        room: RoomInfo,
        members: Vec<String>,
        /// The members who are operators of the room.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        operators: Vec<String>,
        history: Vec<ChatMessage>,
        /// How far you have read the room, when you have a marker there (see `read_marker`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        read_marker: Option<crate::read_marker::ReadMarker>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    LeftRoom {
        room: String,
        /// Set when an operator removed you: who, and why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    Rooms {
        rooms: Vec<RoomInfo>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    Users {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        users: Vec<String>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    Topic {
        room: String,
        topic: String,
        username: String,
        timestamp: String,
    },
    History {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        with: Option<String>,
        /// Oldest first.
        messages: Vec<ChatMessage>,
        /// True when older messages exist before the first one here.
        has_more: bool,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// The server asks whether the client is still there: answer with `pong` (any frame will
    /// do). A connection silent for two ping intervals is closed (`ping_timeout`).
    Ping {
        timestamp: String,
    },
    Pong {
        timestamp: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// Ends the replay of missed messages after a `join` with `since`.
    Resumed {
        replayed: usize,
        /// False when more was missed than the server replays; page the rest with `history`.
        complete: bool,
    },
    /// A notice: relayed live to a room's members or one user, never stored or answered
    /// automatically (IRC's NOTICE).
    Notice {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        username: String,
        content: String,
        timestamp: String,
    },
    /// Someone is typing in a room, or to `target` (you): relayed live, never stored.
    Typing {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        username: String,
        state: crate::client_frame::TypingState,
        timestamp: String,
    },
    /// Client-only tags without text (IRC's TAGMSG); sent to IRC sessions only.
    TagMessage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        username: String,
        timestamp: String,
    },
    /// Someone you share a room with (or you) went away (`message`) or came back (no message).
    Away {
        username: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// Your own name changed (others see a `system` notice with event `renamed`).
    Renamed {
        old: String,
        new: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// The answer to `who`: the members of a room, or one user.
    Who {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        users: Vec<UserInfo>,
        /// The room is secret (`+s`): IRC's NAMES marks it `@`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        secret: bool,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    Whois {
        user: Box<UserInfo>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// Who recently used a name, newest first.
    Whowas {
        username: String,
        entries: Vec<UserInfo>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// You proved you own this account (the answer to `authenticate`).
    Authenticated {
        username: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// Your name is now a registered account (the answer to `register`).
    Registered {
        username: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// The answer to `change_password`.
    PasswordChanged {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// An admin or moderator action was carried out (the answer to `ban`, `mute`, ...).
    Done {
        /// The request's type (`ban`, `mute`, `lock_room` ...).
        action: String,
        /// A sentence saying what happened.
        message: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// The answer to `search`: matching messages, newest first; `has_more` when older ones
    /// match too (ask again with `before_id`: the last one's id).
    SearchResults {
        query: String,
        messages: Vec<ChatMessage>,
        has_more: bool,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// Watched names online and offline: the answer to `monitor`, and (without `ref`) news of
    /// one coming or going.
    MonitorStatus {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        online: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        offline: Vec<String>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// The answer to `conversations`: each conversation and the time of its newest message,
    /// oldest first.
    Conversations {
        conversations: Vec<ConversationNews>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// `username` logged in to `account` (or out, with none): to those sharing a room with them
    /// (IRC's `account-notify`). Today: when a guest registers their name.
    AccountChanged {
        username: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    /// `username` changed their real name: to them (with the `ref`) and to those sharing a
    /// room with them (IRC's `setname`).
    RealnameChanged {
        username: String,
        realname: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// A room's modes (the answer to a `mode` with no `modes`): the mode string with its
    /// parameters (the key only for members), and the ban masks.
    RoomModes {
        room: String,
        modes: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        params: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        bans: Vec<crate::room_modes::BanMask>,
        /// When the room was created.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        created: Option<String>,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// A room's modes changed: `username` (a member, an operator, or the server) set `modes`
    /// with `params` (as IRC writes a MODE line). To the room's members.
    ModeChanged {
        room: String,
        username: String,
        modes: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        params: Vec<String>,
        timestamp: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// `username` was invited into `room` by `by`: to the invitee, and (with its `ref`) to the
    /// one who invited.
    Invited {
        room: String,
        username: String,
        by: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// Server statistics.
    Info {
        users_online: usize,
        max_users_online: usize,
        connections: usize,
        rooms: usize,
        started: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<Value>,
    },
    /// A frame type this client version does not know.
    #[serde(other)]
    Unknown,
}

/// The frames that carry an optional `ref`, as one pattern binding it to `$r` (one list for
/// [`ServerFrame::reference`] and [`ServerFrame::without_reference`]).
macro_rules! optional_ref {
    ($r:ident) => {
        ServerFrame::PrivateConfirmation { reference: $r, .. }
            | ServerFrame::Error { reference: $r, .. }
            | ServerFrame::JoinedRoom { reference: $r, .. }
            | ServerFrame::LeftRoom { reference: $r, .. }
            | ServerFrame::Rooms { reference: $r, .. }
            | ServerFrame::Users { reference: $r, .. }
            | ServerFrame::History { reference: $r, .. }
            | ServerFrame::Pong { reference: $r, .. }
            | ServerFrame::Away { reference: $r, .. }
            | ServerFrame::Renamed { reference: $r, .. }
            | ServerFrame::Who { reference: $r, .. }
            | ServerFrame::Whois { reference: $r, .. }
            | ServerFrame::Whowas { reference: $r, .. }
            | ServerFrame::Authenticated { reference: $r, .. }
            | ServerFrame::Registered { reference: $r, .. }
            | ServerFrame::PasswordChanged { reference: $r, .. }
            | ServerFrame::Done { reference: $r, .. }
            | ServerFrame::RoomModes { reference: $r, .. }
            | ServerFrame::RealnameChanged { reference: $r, .. }
            | ServerFrame::Conversations { reference: $r, .. }
            | ServerFrame::MonitorStatus { reference: $r, .. }
            | ServerFrame::SearchResults { reference: $r, .. }
            | ServerFrame::UploadReady { reference: $r, .. }
            | ServerFrame::ModeChanged { reference: $r, .. }
            | ServerFrame::Invited { reference: $r, .. }
            | ServerFrame::Info { reference: $r, .. }
    };
}

impl ServerFrame {
    /// The `ref` of the request this frame answers, if it answers one.
    pub fn reference(&self) -> Option<&Value> {
        match self {
            ServerFrame::Ack { reference, .. } => Some(reference),
            optional_ref!(reference) => reference.as_ref(),
            ServerFrame::ReadMarker(m) => m.reference.as_ref(),
            ServerFrame::Welcome(_)
            | ServerFrame::Message(_)
            | ServerFrame::PrivateMessage(_)
            | ServerFrame::Reaction(_)
            | ServerFrame::Edited(_)
            | ServerFrame::Deleted(_)
            | ServerFrame::System { .. }
            | ServerFrame::Server { .. }
            | ServerFrame::Topic { .. }
            | ServerFrame::Ping { .. }
            | ServerFrame::Resumed { .. }
            | ServerFrame::Notice { .. }
            | ServerFrame::TagMessage { .. }
            | ServerFrame::Typing { .. }
            | ServerFrame::AccountChanged { .. }
            | ServerFrame::Unknown => None,
        }
    }

    /// The same frame without its `ref`, if it has one (a copy for the other devices of the
    /// user whose request it answers).
    pub fn without_reference(&self) -> Option<ServerFrame> {
        self.reference()?;
        let mut frame = self.clone();
        match &mut frame {
            ServerFrame::Ack { .. } => return None,
            optional_ref!(reference) => *reference = None,
            ServerFrame::ReadMarker(m) => m.reference = None,
            _ => return None,
        }
        Some(frame)
    }

    /// An error frame with the code's generic sentence.
    pub fn error(code: ErrorCode) -> Self {
        Self::error_with(code, code.sentence())
    }

    pub fn error_with(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerFrame::Error {
            code,
            message: message.into(),
            subject: None,
            reference: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_copy_without_its_ref_is_the_same_frame_and_frames_without_one_have_no_copy() {
        let renamed = ServerFrame::Renamed {
            old: "a".into(),
            new: "b".into(),
            reference: Some(json!(7)),
        };
        assert_eq!(renamed.reference(), Some(&json!(7)));
        let copy = renamed.without_reference().expect("it had a ref");
        assert_eq!(copy.reference(), None);
        assert_eq!(
            copy,
            ServerFrame::Renamed {
                old: "a".into(),
                new: "b".into(),
                reference: None,
            }
        );
        assert_eq!(copy.without_reference(), None, "nothing to take off");
        let ack = ServerFrame::Ack {
            reference: json!(1),
            id: 1,
            seq: 1,
            timestamp: "t".into(),
        };
        assert_eq!(
            ack.without_reference(),
            None,
            "an ack is only for its asker"
        );
    }

    #[test]
    fn seed_fields_are_present_on_the_wire() {
        let frame = ServerFrame::Message(PublicMessage {
            id: 7,
            seq: 0,
            room: "general".into(),
            username: "alice".into(),
            content: "hi".into(),
            timestamp: "2026-11-21T14:30:25.123Z".into(),
            state: Default::default(),
        });
        let v = serde_json::to_value(&frame).unwrap();
        assert_eq!(v["type"], "message");
        assert_eq!(v["username"], "alice");
        assert_eq!(v["content"], "hi");
        assert_eq!(v["timestamp"], "2026-11-21T14:30:25.123Z");
        assert_eq!(v["id"], 7);

        let err = serde_json::to_value(ServerFrame::error(ErrorCode::UsernameTaken)).unwrap();
        assert_eq!(err["type"], "error");
        assert_eq!(err["code"], "username_taken");
        assert!(err["message"].as_str().unwrap().contains("taken"));
    }

    #[test]
    fn frames_round_trip_and_unknown_types_are_tolerated() {
        let frame = ServerFrame::PrivateConfirmation {
            state: Default::default(),
            id: Some(3),
            seq: Some(1),
            target: "bob".into(),
            content: "psst".into(),
            delivered: true,
            timestamp: "t".into(),
            reference: Some(json!("c1")),
        };
        let text = serde_json::to_string(&frame).unwrap();
        assert_eq!(serde_json::from_str::<ServerFrame>(&text).unwrap(), frame);
        let unknown: ServerFrame = serde_json::from_str(r#"{"type":"hologram","x":1}"#).unwrap();
        assert_eq!(unknown, ServerFrame::Unknown);
    }

    #[test]
    fn history_entries_carry_their_type() {
        let m = ChatMessage::PrivateMessage(PrivateMessage {
            id: 1,
            seq: 0,
            sender: "a".into(),
            target: "b".into(),
            content: "c".into(),
            timestamp: "t".into(),
            state: Default::default(),
        });
        assert_eq!(serde_json::to_value(&m).unwrap()["type"], "private_message");
    }
}
