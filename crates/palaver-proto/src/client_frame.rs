//! Frames a client sends, and the strict parser the server reads them with.
//!
//! Parsing goes through a `serde_json::Value` rather than a derived `Deserialize` so that every
//! mistake names its field: a missing `content` is `missing_field` "The field \"content\" is
//! missing.", a number where a string belongs is `invalid_field`. serde_json's own recursion limit
//! (128 levels) refuses deeply nested input before it can exhaust the stack, and the line codec
//! has already capped the size. Unknown fields are ignored, so newer clients work with this
//! server.
//!
//! Every frame may carry `ref`, a client correlation id (a string of at most 64 bytes, or a
//! non-negative integer). The server echoes it on the `ack`, `error` or reply it causes.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error_code::ErrorCode;

/// The longest accepted `ref` string, in bytes.
pub const MAX_REF_BYTES: usize = 64;

/// Where a client stands in each conversation: conversation -> the last seq it has seen. Rooms
/// by name (`"general"`), private conversations as `@` and the other user's name (`"@bob"`).
pub type Cursors = std::collections::BTreeMap<String, u64>;

/// The most conversations one `since` may name.
pub const MAX_CURSORS: usize = 1_000;

/// A password: never shown by `Debug`, so it cannot end up in a log by accident.
#[derive(Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Where someone is in writing a message (IRCv3's `+typing` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TypingState {
    Active,
    Paused,
    Done,
}

impl TypingState {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(TypingState::Active),
            "paused" => Some(TypingState::Paused),
            "done" => Some(TypingState::Done),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TypingState::Active => "active",
            TypingState::Paused => "paused",
            TypingState::Done => "done",
        }
    }
}

/// Which conversation a `history` request pages through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum HistoryScope {
    Room(String),
    Direct(String),
}

/// Every frame a client may send.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Pick a username. `since` resumes after the last message seen in each conversation;
    /// `rooms` are joined at once (default: `general`); `resume_token` (from an earlier
    /// `welcome`) continues that session, with its private history.
    Join {
        username: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        since: Option<Cursors>,
        #[serde(skip_serializing_if = "Option::is_none")]
        rooms: Option<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resume_token: Option<Secret>,
    },
    /// `join` for a registered name: the same, with the account's password.
    Login {
        username: String,
        password: Secret,
        #[serde(skip_serializing_if = "Option::is_none")]
        since: Option<Cursors>,
        #[serde(skip_serializing_if = "Option::is_none")]
        rooms: Option<Vec<String>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resume_token: Option<Secret>,
    },
    /// Proves you own an account without joining yet (IRC's SASL; `login` is this and `join`).
    Authenticate {
        username: String,
        password: Secret,
    },
    /// Registers the name you joined with as an account protected by this password.
    Register {
        password: Secret,
    },
    /// Changes your account's password.
    ChangePassword {
        old: Secret,
        new: Secret,
    },
    /// A public message; without `room` it goes to `general`.
    Message {
        content: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// The id of the message (of the same room) this one answers.
        #[serde(skip_serializing_if = "Option::is_none")]
        reply_to: Option<u64>,
        /// Files uploaded for it (their ids, from the upload's answer).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<String>,
    },
    PrivateMessage {
        target: String,
        content: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reply_to: Option<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        attachments: Vec<String>,
    },
    /// Asks to upload a file of `size` bytes: answered by `upload_ready` with where to send it.
    Upload {
        name: String,
        size: u64,
        content_type: String,
    },
    /// You are typing (`active`), stopped (`paused`) or done, in a room or to `target`:
    /// relayed live, never stored.
    Typing {
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        state: TypingState,
    },
    /// You have read a conversation (a `room`, or the one `with` someone) up to the message
    /// `seq`, or up to `timestamp` (IRC's `draft/read-marker`); neither: tell me my marker.
    MarkRead {
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        with: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        timestamp: Option<String>,
    },
    /// Adds your reaction `emoji` to message `id`, or takes it back if you had given it.
    React {
        id: u64,
        emoji: String,
        /// Only add it (true) or only take it back (false); absent: toggle.
        #[serde(skip_serializing_if = "Option::is_none")]
        on: Option<bool>,
    },
    /// Replaces the text of your message `id`.
    Edit {
        id: u64,
        content: String,
    },
    /// Deletes message `id` (yours; a room's moderators and the admins: any in a room).
    Delete {
        id: u64,
    },
    JoinRoom {
        room: String,
        /// The room's key, if it has one (`+k`).
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    LeaveRoom {
        room: String,
        /// Shown to the room's members (IRC's PART reason).
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// List rooms with topics and member counts.
    Rooms,
    /// List users online, or the members of `room`.
    Users {
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    Topic {
        room: String,
        topic: String,
    },
    /// Page backwards through a room's or a direct conversation's history: the newest `limit`
    /// messages before `before` (a seq) or before the message `before_id`, and (with `after_id`)
    /// only those after the message `after_id`.
    History {
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        with: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        before_id: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        after_id: Option<u64>,
        /// The messages around this one (it, and as many before as after it).
        #[serde(skip_serializing_if = "Option::is_none")]
        around_id: Option<u64>,
        /// The oldest messages within the bounds rather than the newest (reading forwards).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        oldest_first: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Full-text search over what you may read: the rooms you are in and your private
    /// conversations (or only `room`, or only the conversation `with` someone), newest first.
    Search {
        query: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        with: Option<String>,
        /// Only messages from this name.
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Only messages sent after / before these times (RFC 3339).
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<String>,
        /// The next page: results older than this message.
        #[serde(skip_serializing_if = "Option::is_none")]
        before_id: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Your conversations (rooms you are in, private conversations) whose newest message is
    /// between two times (both excluded; RFC 3339), oldest news first (IRC's CHATHISTORY
    /// TARGETS).
    Conversations {
        #[serde(skip_serializing_if = "Option::is_none")]
        after: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        before: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// A notice to a room (default `general`) or to one user (`target`): relayed live, never
    /// stored.
    Notice {
        content: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
    /// A message of client-only tags and no text (IRC's TAGMSG, e.g. typing notifications) to a
    /// room or a user: relayed live to IRC clients that asked for message-tags.
    TagMessage {
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
    /// Go away with a message, or come back (no message).
    Away {
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
    /// Change your username.
    Rename {
        username: String,
    },
    /// Details about the members of `room`, or about one user (`username`).
    Who {
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        username: Option<String>,
    },
    Whois {
        username: String,
    },
    /// Who recently left under a name.
    Whowas {
        username: String,
    },
    /// Change a room's modes (its operators, moderators and admins), written as IRC writes them:
    /// `modes: "+kv-m"`, `params: ["secret", "ann"]`. With no `modes`: the room's modes, and
    /// its ban list, in a `room_modes` answer.
    Mode {
        room: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        modes: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        params: Vec<String>,
    },
    /// Invite someone into a room (needed to enter an invite-only one).
    Invite {
        room: String,
        username: String,
    },
    /// Become an IRC operator: prove the password of an admin account (IRC's OPER). The
    /// session keeps its name; it gains the admin's powers.
    Oper {
        username: String,
        password: Secret,
    },
    /// Watch names: be told when they come online and go (IRC's MONITOR). `add` and `remove`
    /// change the list (`clear` empties it first); the answer is `monitor_status` for the names
    /// added, or for the whole list when nothing is added or removed.
    Monitor {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        add: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remove: Vec<String>,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        clear: bool,
    },
    /// Change your real name (IRC's SETNAME; shown by `whois`).
    SetRealname {
        realname: String,
    },
    /// Hide from `who` masks, but to those who share a room with you (IRC's user mode `+i`).
    Invisible {
        on: bool,
    },
    /// Admins: disconnect someone from the server (IRC's KILL).
    Kill {
        username: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Remove a member from a room (room operators only).
    Kick {
        room: String,
        username: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Server statistics.
    Info,
    /// Admins: an announcement to everyone.
    Announce {
        message: String,
    },
    /// Admins: ban an account (`username`) or an address (`address`), for `minutes` (absent:
    /// until lifted). A banned user online is disconnected.
    Ban {
        #[serde(skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        minutes: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Unban {
        #[serde(skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    /// Admins and the room's moderators: `username` may not speak in `room` (every room, for
    /// admins, without `room`) for `minutes`.
    Mute {
        username: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        minutes: Option<u64>,
    },
    Unmute {
        username: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    /// Admins and moderators: a locked room takes no new members but its moderators and admins.
    LockRoom {
        room: String,
        locked: bool,
    },
    /// Admins: removes a room (its members are taken out; its history stays in the store).
    DeleteRoom {
        room: String,
    },
    /// Admins: make `username` a moderator of `room` (`revoke` to undo).
    Grant {
        room: String,
        username: String,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        revoke: bool,
    },
    /// Answered with `pong` once everything sent before it has been answered (a barrier).
    Ping,
    /// The answer to the server's `ping`: I am still here.
    Pong,
    /// Leave the server politely.
    Quit {
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl ClientFrame {
    /// The wire name of this frame's type.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientFrame::Join { .. } => "join",
            ClientFrame::Login { .. } => "login",
            ClientFrame::Register { .. } => "register",
            ClientFrame::Authenticate { .. } => "authenticate",
            ClientFrame::ChangePassword { .. } => "change_password",
            ClientFrame::Message { .. } => "message",
            ClientFrame::PrivateMessage { .. } => "private_message",
            ClientFrame::React { .. } => "react",
            ClientFrame::Upload { .. } => "upload",
            ClientFrame::Typing { .. } => "typing",
            ClientFrame::MarkRead { .. } => "mark_read",
            ClientFrame::Edit { .. } => "edit",
            ClientFrame::Delete { .. } => "delete",
            ClientFrame::JoinRoom { .. } => "join_room",
            ClientFrame::Mode { .. } => "mode",
            ClientFrame::Invite { .. } => "invite",
            ClientFrame::Oper { .. } => "oper",
            ClientFrame::Kill { .. } => "kill",
            ClientFrame::Invisible { .. } => "invisible",
            ClientFrame::SetRealname { .. } => "set_realname",
            ClientFrame::Conversations { .. } => "conversations",
            ClientFrame::Monitor { .. } => "monitor",
            ClientFrame::Search { .. } => "search",
            ClientFrame::LeaveRoom { .. } => "leave_room",
            ClientFrame::Rooms => "rooms",
            ClientFrame::Users { .. } => "users",
            ClientFrame::Topic { .. } => "topic",
            ClientFrame::History { .. } => "history",
            ClientFrame::Notice { .. } => "notice",
            ClientFrame::TagMessage { .. } => "tag_message",
            ClientFrame::Away { .. } => "away",
            ClientFrame::Rename { .. } => "rename",
            ClientFrame::Who { .. } => "who",
            ClientFrame::Whois { .. } => "whois",
            ClientFrame::Whowas { .. } => "whowas",
            ClientFrame::Kick { .. } => "kick",
            ClientFrame::Info => "info",
            ClientFrame::Announce { .. } => "announce",
            ClientFrame::Ban { .. } => "ban",
            ClientFrame::Unban { .. } => "unban",
            ClientFrame::Mute { .. } => "mute",
            ClientFrame::Unmute { .. } => "unmute",
            ClientFrame::LockRoom { .. } => "lock_room",
            ClientFrame::DeleteRoom { .. } => "delete_room",
            ClientFrame::Grant { .. } => "grant",
            ClientFrame::Ping => "ping",
            ClientFrame::Pong => "pong",
            ClientFrame::Quit { .. } => "quit",
        }
    }
}

/// A parsed frame and its optional correlation id.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    #[serde(flatten)]
    pub frame: ClientFrame,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<Value>,
    /// IRCv3 client-only tags (`+draft/reply=...`) to relay with a message to those who
    /// understand them; set by the IRC listener, not part of the native protocol.
    #[serde(skip)]
    pub client_tags: Vec<(String, Option<String>)>,
}

impl Request {
    pub fn new(frame: ClientFrame) -> Self {
        Request {
            frame,
            reference: None,
            client_tags: Vec::new(),
        }
    }

    pub fn with_ref(frame: ClientFrame, reference: impl Into<Value>) -> Self {
        Request {
            frame,
            reference: Some(reference.into()),
            client_tags: Vec::new(),
        }
    }
}

/// Why a line is not a valid client frame: the code, a sentence, and the `ref` if one was read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct FrameError {
    pub code: ErrorCode,
    pub message: String,
    pub reference: Option<Value>,
}

impl FrameError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        FrameError {
            code,
            message: message.into(),
            reference: None,
        }
    }
}

/// Parses one line (already size-checked and valid UTF-8) into a request.
pub fn parse_request(line: &[u8]) -> Result<Request, FrameError> {
    let value: Value = serde_json::from_slice(line).map_err(|e| {
        FrameError::new(
            ErrorCode::InvalidJson,
            format!("That line is not valid JSON ({e})."),
        )
    })?;
    let Value::Object(mut object) = value else {
        return Err(FrameError::new(
            ErrorCode::InvalidJson,
            "A frame must be a JSON object like {\"type\":\"message\",\"content\":\"hi\"}.",
        ));
    };
    let reference = reference(&mut object)?;
    parse_object(object)
        .map_err(|mut e| {
            e.reference = reference.clone();
            e
        })
        .map(|frame| Request {
            frame,
            reference,
            client_tags: Vec::new(),
        })
}

fn reference(object: &mut Map<String, Value>) -> Result<Option<Value>, FrameError> {
    match object.remove("ref") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= MAX_REF_BYTES => Ok(Some(Value::String(s))),
        Some(Value::Number(n)) if n.is_u64() => Ok(Some(Value::Number(n))),
        Some(_) => Err(FrameError::new(
            ErrorCode::InvalidField,
            format!("The field \"ref\" must be a string of at most {MAX_REF_BYTES} bytes or a non-negative integer."),
        )),
    }
}

fn parse_object(mut o: Map<String, Value>) -> Result<ClientFrame, FrameError> {
    let kind = required_string(&mut o, "type")?;
    let frame = match kind.as_str() {
        "join" => ClientFrame::Join {
            username: required_string(&mut o, "username")?,
            since: optional_cursors(&mut o)?,
            rooms: optional_string_list(&mut o, "rooms")?,
            resume_token: optional_resume_token(&mut o)?,
        },
        "login" => ClientFrame::Login {
            username: required_string(&mut o, "username")?,
            password: Secret(required_string(&mut o, "password")?),
            since: optional_cursors(&mut o)?,
            rooms: optional_string_list(&mut o, "rooms")?,
            resume_token: optional_resume_token(&mut o)?,
        },
        "authenticate" => ClientFrame::Authenticate {
            username: required_string(&mut o, "username")?,
            password: Secret(required_string(&mut o, "password")?),
        },
        "register" => ClientFrame::Register {
            password: Secret(required_string(&mut o, "password")?),
        },
        "change_password" => ClientFrame::ChangePassword {
            old: Secret(required_string(&mut o, "old")?),
            new: Secret(required_string(&mut o, "new")?),
        },
        "message" => {
            let attachments = optional_string_list(&mut o, "attachments")?.unwrap_or_default();
            ClientFrame::Message {
                content: content_or_files(&mut o, &attachments)?,
                room: optional_string(&mut o, "room")?,
                reply_to: optional_u64(&mut o, "reply_to")?,
                attachments,
            }
        }
        "private_message" => {
            let attachments = optional_string_list(&mut o, "attachments")?.unwrap_or_default();
            ClientFrame::PrivateMessage {
                target: required_string(&mut o, "target")?,
                content: content_or_files(&mut o, &attachments)?,
                reply_to: optional_u64(&mut o, "reply_to")?,
                attachments,
            }
        }
        "upload" => ClientFrame::Upload {
            name: required_string(&mut o, "name")?,
            size: required_u64(&mut o, "size")?,
            content_type: optional_string(&mut o, "content_type")?.unwrap_or_default(),
        },
        "typing" => {
            let room = optional_string(&mut o, "room")?;
            let target = optional_string(&mut o, "target")?;
            if room.is_none() && target.is_none() {
                return Err(FrameError::new(
                    ErrorCode::MissingField,
                    "A typing frame names a \"room\" or a \"target\".",
                ));
            }
            let state = required_string(&mut o, "state")?;
            let state = TypingState::parse(&state).ok_or_else(|| {
                FrameError::new(
                    ErrorCode::InvalidField,
                    "The field \"state\" is \"active\", \"paused\" or \"done\".",
                )
            })?;
            ClientFrame::Typing {
                room,
                target,
                state,
            }
        }
        "mark_read" => {
            let room = optional_string(&mut o, "room")?;
            let with = optional_string(&mut o, "with")?;
            if room.is_none() == with.is_none() {
                return Err(FrameError::new(
                    ErrorCode::MissingField,
                    "A mark_read frame names a \"room\" or whom it is \"with\", not both.",
                ));
            }
            ClientFrame::MarkRead {
                room,
                with,
                seq: optional_u64(&mut o, "seq")?,
                timestamp: optional_string(&mut o, "timestamp")?,
            }
        }
        "react" => ClientFrame::React {
            id: required_u64(&mut o, "id")?,
            emoji: required_string(&mut o, "emoji")?,
            on: match o.remove("on") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(on)) => Some(on),
                Some(_) => return Err(wrong_type("on", "true or false")),
            },
        },
        "edit" => ClientFrame::Edit {
            id: required_u64(&mut o, "id")?,
            content: required_string(&mut o, "content")?,
        },
        "delete" => ClientFrame::Delete {
            id: required_u64(&mut o, "id")?,
        },
        "join_room" => ClientFrame::JoinRoom {
            room: required_string(&mut o, "room")?,
            key: optional_string(&mut o, "key")?,
        },
        "mode" => ClientFrame::Mode {
            room: required_string(&mut o, "room")?,
            modes: optional_string(&mut o, "modes")?,
            params: optional_string_list(&mut o, "params")?.unwrap_or_default(),
        },
        "invite" => ClientFrame::Invite {
            room: required_string(&mut o, "room")?,
            username: required_string(&mut o, "username")?,
        },
        "oper" => ClientFrame::Oper {
            username: required_string(&mut o, "username")?,
            password: Secret(required_string(&mut o, "password")?),
        },
        "search" => ClientFrame::Search {
            query: required_string(&mut o, "query")?,
            room: optional_string(&mut o, "room")?,
            with: optional_string(&mut o, "with")?,
            from: optional_string(&mut o, "from")?,
            after: optional_string(&mut o, "after")?,
            before: optional_string(&mut o, "before")?,
            before_id: optional_u64(&mut o, "before_id")?,
            limit: optional_u64(&mut o, "limit")?.map(|l| u32::try_from(l).unwrap_or(u32::MAX)),
        },
        "monitor" => ClientFrame::Monitor {
            add: optional_string_list(&mut o, "add")?.unwrap_or_default(),
            remove: optional_string_list(&mut o, "remove")?.unwrap_or_default(),
            clear: match o.remove("clear") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => b,
                Some(_) => return Err(wrong_type("clear", "true or false")),
            },
        },
        "conversations" => ClientFrame::Conversations {
            after: optional_string(&mut o, "after")?,
            before: optional_string(&mut o, "before")?,
            limit: optional_u64(&mut o, "limit")?.map(|l| u32::try_from(l).unwrap_or(u32::MAX)),
        },
        "set_realname" => ClientFrame::SetRealname {
            realname: required_string(&mut o, "realname")?,
        },
        "invisible" => ClientFrame::Invisible {
            on: match o.remove("on") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => b,
                Some(_) => return Err(wrong_type("on", "true or false")),
            },
        },
        "kill" => ClientFrame::Kill {
            username: required_string(&mut o, "username")?,
            reason: optional_string(&mut o, "reason")?,
        },
        "leave_room" => ClientFrame::LeaveRoom {
            room: required_string(&mut o, "room")?,
            reason: optional_string(&mut o, "reason")?,
        },
        "rooms" => ClientFrame::Rooms,
        "users" => ClientFrame::Users {
            room: optional_string(&mut o, "room")?,
        },
        "topic" => ClientFrame::Topic {
            room: required_string(&mut o, "room")?,
            topic: required_string(&mut o, "topic")?,
        },
        "history" => {
            let room = optional_string(&mut o, "room")?;
            let with = optional_string(&mut o, "with")?;
            if room.is_some() && with.is_some() {
                return Err(FrameError::new(
                    ErrorCode::InvalidField,
                    "A history request names either \"room\" or \"with\", not both.",
                ));
            }
            let limit =
                optional_u64(&mut o, "limit")?.map(|l| u32::try_from(l).unwrap_or(u32::MAX));
            ClientFrame::History {
                room,
                with,
                before: optional_u64(&mut o, "before")?,
                before_id: optional_u64(&mut o, "before_id")?,
                after_id: optional_u64(&mut o, "after_id")?,
                around_id: optional_u64(&mut o, "around_id")?,
                oldest_first: match o.remove("oldest_first") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => b,
                    Some(_) => return Err(wrong_type("oldest_first", "true or false")),
                },
                limit,
            }
        }
        "notice" => {
            let content = required_string(&mut o, "content")?;
            let room = optional_string(&mut o, "room")?;
            let target = optional_string(&mut o, "target")?;
            if room.is_some() && target.is_some() {
                return Err(FrameError::new(
                    ErrorCode::InvalidField,
                    "A notice goes to a \"room\" or to a \"target\" user, not both.",
                ));
            }
            ClientFrame::Notice {
                content,
                room,
                target,
            }
        }
        "tag_message" => ClientFrame::TagMessage {
            room: optional_string(&mut o, "room")?,
            target: optional_string(&mut o, "target")?,
        },
        "away" => ClientFrame::Away {
            message: optional_string(&mut o, "message")?,
        },
        "rename" => ClientFrame::Rename {
            username: required_string(&mut o, "username")?,
        },
        "who" => {
            let room = optional_string(&mut o, "room")?;
            let username = optional_string(&mut o, "username")?;
            if room.is_some() == username.is_some() {
                return Err(FrameError::new(
                    ErrorCode::InvalidField,
                    "A who request names either a \"room\" or a \"username\".",
                ));
            }
            ClientFrame::Who { room, username }
        }
        "whois" => ClientFrame::Whois {
            username: required_string(&mut o, "username")?,
        },
        "whowas" => ClientFrame::Whowas {
            username: required_string(&mut o, "username")?,
        },
        "kick" => ClientFrame::Kick {
            room: required_string(&mut o, "room")?,
            username: required_string(&mut o, "username")?,
            reason: optional_string(&mut o, "reason")?,
        },
        "info" => ClientFrame::Info,
        "announce" => ClientFrame::Announce {
            message: required_string(&mut o, "message")?,
        },
        "ban" | "unban" => {
            let username = optional_string(&mut o, "username")?;
            let address = optional_string(&mut o, "address")?;
            if username.is_some() == address.is_some() {
                return Err(FrameError::new(
                    ErrorCode::InvalidField,
                    "A ban names either a \"username\" or an \"address\".",
                ));
            }
            if kind == "ban" {
                ClientFrame::Ban {
                    username,
                    address,
                    minutes: optional_u64(&mut o, "minutes")?,
                    reason: optional_string(&mut o, "reason")?,
                }
            } else {
                ClientFrame::Unban { username, address }
            }
        }
        "mute" => ClientFrame::Mute {
            username: required_string(&mut o, "username")?,
            room: optional_string(&mut o, "room")?,
            minutes: optional_u64(&mut o, "minutes")?,
        },
        "unmute" => ClientFrame::Unmute {
            username: required_string(&mut o, "username")?,
            room: optional_string(&mut o, "room")?,
        },
        "lock_room" => ClientFrame::LockRoom {
            room: required_string(&mut o, "room")?,
            locked: match o.remove("locked") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => b,
                Some(_) => return Err(wrong_type("locked", "true or false")),
            },
        },
        "delete_room" => ClientFrame::DeleteRoom {
            room: required_string(&mut o, "room")?,
        },
        "grant" => ClientFrame::Grant {
            room: required_string(&mut o, "room")?,
            username: required_string(&mut o, "username")?,
            revoke: match o.remove("revoke") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => b,
                Some(_) => return Err(wrong_type("revoke", "true or false")),
            },
        },
        "ping" => ClientFrame::Ping,
        "pong" => ClientFrame::Pong,
        "quit" => ClientFrame::Quit {
            reason: optional_string(&mut o, "reason")?,
        },
        other => {
            let shown: String = other.chars().take(40).collect();
            return Err(FrameError::new(
                ErrorCode::UnknownType,
                format!("The server does not know the message type {shown:?}."),
            ));
        }
    };
    Ok(frame)
}

fn required_string(o: &mut Map<String, Value>, field: &str) -> Result<String, FrameError> {
    match o.remove(field) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(FrameError::new(
            ErrorCode::MissingField,
            format!("The field {field:?} is missing."),
        )),
        Some(_) => Err(wrong_type(field, "a string")),
    }
}

fn optional_string(o: &mut Map<String, Value>, field: &str) -> Result<Option<String>, FrameError> {
    match o.remove(field) {
        Some(Value::String(s)) => Ok(Some(s)),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(wrong_type(field, "a string")),
    }
}

/// `since`: an object from conversation to the last seq seen. Protocol 1's single number (a
/// message id) is refused: ids no longer say what came before what.
fn optional_cursors(o: &mut Map<String, Value>) -> Result<Option<Cursors>, FrameError> {
    match o.remove("since") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(_)) => Err(FrameError::new(
            ErrorCode::InvalidField,
            "\"since\" is an object of cursors since protocol 2, e.g. {\"general\": 120, \"@bob\": 3}: \
             the last seq seen in each room (by name) and private conversation (@ and the other name).",
        )),
        Some(Value::Object(map)) => {
            if map.len() > MAX_CURSORS {
                return Err(FrameError::new(
                    ErrorCode::InvalidField,
                    format!("\"since\" may name at most {MAX_CURSORS} conversations."),
                ));
            }
            map.into_iter()
                .map(|(conversation, seq)| match seq.as_u64() {
                    Some(seq) => Ok((conversation, seq)),
                    None => Err(wrong_type("since", "an object of non-negative integers")),
                })
                .collect::<Result<Cursors, _>>()
                .map(Some)
        }
        Some(_) => Err(wrong_type("since", "an object of cursors")),
    }
}

/// A `resume_token` as a `welcome` hands it out: 64 lowercase hexadecimal digits.
fn optional_resume_token(o: &mut Map<String, Value>) -> Result<Option<Secret>, FrameError> {
    match optional_string(o, "resume_token")? {
        None => Ok(None),
        Some(token) if crate::validate::resume_token(&token) => Ok(Some(Secret(token))),
        Some(_) => Err(FrameError::new(
            ErrorCode::InvalidField,
            "The field \"resume_token\" must be the token a welcome gave you (64 hexadecimal digits).",
        )),
    }
}

/// A message's `content`: required, unless it carries files.
fn content_or_files(
    o: &mut Map<String, Value>,
    attachments: &[String],
) -> Result<String, FrameError> {
    match attachments.is_empty() {
        true => required_string(o, "content"),
        false => Ok(optional_string(o, "content")?.unwrap_or_default()),
    }
}

fn required_u64(o: &mut Map<String, Value>, field: &str) -> Result<u64, FrameError> {
    optional_u64(o, field)?.ok_or_else(|| {
        FrameError::new(
            ErrorCode::MissingField,
            format!("The field {field:?} is missing."),
        )
    })
}

fn optional_u64(o: &mut Map<String, Value>, field: &str) -> Result<Option<u64>, FrameError> {
    match o.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| wrong_type(field, "a non-negative integer below 2^64")),
        Some(_) => Err(wrong_type(field, "a non-negative integer")),
    }
}

fn optional_string_list(
    o: &mut Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<String>>, FrameError> {
    match o.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                _ => Err(wrong_type(field, "a list of strings")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong_type(field, "a list of strings")),
    }
}

fn wrong_type(field: &str, expected: &str) -> FrameError {
    FrameError::new(
        ErrorCode::InvalidField,
        format!("The field {field:?} must be {expected}."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Request, FrameError> {
        parse_request(text.as_bytes())
    }

    fn code(text: &str) -> ErrorCode {
        parse(text).unwrap_err().code
    }

    #[test]
    fn seed_client_frames_parse_unchanged() {
        assert_eq!(
            parse(r#"{"type": "join", "username": "user123"}"#)
                .unwrap()
                .frame,
            ClientFrame::Join {
                username: "user123".into(),
                since: None,
                rooms: None,
                resume_token: None,
            }
        );
        assert_eq!(
            parse(r#"{"type":"message","content":"Hello everyone!"}"#)
                .unwrap()
                .frame,
            ClientFrame::Message {
                attachments: Vec::new(),
                content: "Hello everyone!".into(),
                room: None,
                reply_to: None,
            }
        );
        assert_eq!(
            parse(r#"{"type":"private_message","target":"bob","content":"psst"}"#)
                .unwrap()
                .frame,
            ClientFrame::PrivateMessage {
                attachments: Vec::new(),
                target: "bob".into(),
                content: "psst".into(),
                reply_to: None,
            }
        );
        assert_eq!(
            parse(r#"{"type":"react","id":7,"emoji":"👍"}"#)
                .unwrap()
                .frame,
            ClientFrame::React {
                id: 7,
                emoji: "👍".into(),
                on: None,
            }
        );
        let missing = parse(r#"{"type":"delete"}"#).unwrap_err();
        assert_eq!(missing.code, ErrorCode::MissingField);
        assert!(missing.message.contains("\"id\""), "{}", missing.message);
        let wrong = parse(r#"{"type":"edit","id":"seven","content":"x"}"#).unwrap_err();
        assert_eq!(wrong.code, ErrorCode::InvalidField);
    }

    #[test]
    fn serialised_requests_parse_back() {
        let frames = [
            ClientFrame::Join {
                username: "a".into(),
                since: Some(Cursors::from([("general".into(), 120), ("@bob".into(), 3)])),
                rooms: Some(vec!["general".into(), "rust".into()]),
                resume_token: Some(Secret("0123456789abcdef".repeat(4))),
            },
            ClientFrame::History {
                room: Some("rust".into()),
                with: None,
                before: Some(100),
                before_id: None,
                after_id: Some(7),
                around_id: None,
                oldest_first: true,
                limit: Some(20),
            },
            ClientFrame::Rooms,
            ClientFrame::Notice {
                content: "n".into(),
                room: None,
                target: Some("bob".into()),
            },
            ClientFrame::Away {
                message: Some("lunch".into()),
            },
            ClientFrame::Rename {
                username: "b2".into(),
            },
            ClientFrame::Who {
                room: Some("general".into()),
                username: None,
            },
            ClientFrame::Whois {
                username: "b".into(),
            },
            ClientFrame::Whowas {
                username: "b".into(),
            },
            ClientFrame::Kick {
                room: "r".into(),
                username: "b".into(),
                reason: None,
            },
            ClientFrame::Info,
            ClientFrame::Ping,
            ClientFrame::Pong,
            ClientFrame::Quit { reason: None },
        ];
        for frame in frames {
            let request = Request::with_ref(frame, "r1");
            let line = serde_json::to_vec(&request).unwrap();
            assert_eq!(parse_request(&line).unwrap(), request);
        }
    }

    #[test]
    fn each_mistake_has_its_code() {
        assert_eq!(code("{nope"), ErrorCode::InvalidJson);
        assert_eq!(code("[1,2]"), ErrorCode::InvalidJson);
        assert_eq!(code("\"join\""), ErrorCode::InvalidJson);
        assert_eq!(code(r#"{"username":"a"}"#), ErrorCode::MissingField);
        assert_eq!(code(r#"{"type":"join"}"#), ErrorCode::MissingField);
        assert_eq!(code(r#"{"type":"teleport"}"#), ErrorCode::UnknownType);
        assert_eq!(code(r#"{"type":5}"#), ErrorCode::InvalidField);
        assert_eq!(
            code(r#"{"type":"join","username":42}"#),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code(r#"{"type":"history","before":-1}"#),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code(r#"{"type":"history","before":1e300}"#),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code(r#"{"type":"history","before":184467440737095516160}"#),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code(r#"{"type":"history","room":"a","with":"b"}"#),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code(r#"{"type":"ping","ref":{"a":1}}"#),
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn missing_field_names_the_field_and_keeps_the_ref() {
        let err = parse(r#"{"type":"message","ref":"c7"}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::MissingField);
        assert!(err.message.contains("\"content\""), "{}", err.message);
        assert_eq!(err.reference, Some(json!("c7")));
    }

    #[test]
    fn since_is_an_object_of_cursors_and_the_old_number_is_refused_clearly() {
        let r =
            parse(r#"{"type":"join","username":"a","since":{"general":120,"@bob":3}}"#).unwrap();
        let ClientFrame::Join { since, .. } = r.frame else {
            panic!("{:?}", r.frame)
        };
        let since = since.unwrap();
        assert_eq!(since.get("general"), Some(&120));
        assert_eq!(since.get("@bob"), Some(&3));
        let old = parse(r#"{"type":"join","username":"a","since":41}"#).unwrap_err();
        assert_eq!(old.code, ErrorCode::InvalidField);
        assert!(old.message.contains("protocol 2"), "{}", old.message);
        for bad in [r#"{"general":-1}"#, r#"{"general":"1"}"#, r#"[1]"#] {
            let e = parse(&format!(
                r#"{{"type":"join","username":"a","since":{bad}}}"#
            ))
            .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidField, "{bad}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = format!(
            "{{\"type\":\"message\",\"content\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(code(&deep), ErrorCode::InvalidJson);
    }

    #[test]
    fn passwords_never_show_in_debug_output() {
        let r = parse(r#"{"type":"login","username":"a","password":"hunter2"}"#).unwrap();
        assert!(!format!("{r:?}").contains("hunter2"));
        let r =
            parse(r#"{"type":"change_password","old":"hunter2","new":"correct horse"}"#).unwrap();
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("horse"),
            "{shown}"
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let r = parse(r#"{"type":"ping","future":{"x":[1,2,3]},"ref":5}"#).unwrap();
        assert_eq!(r.frame, ClientFrame::Ping);
        assert_eq!(r.reference, Some(json!(5)));
    }
}
