//! One connection as the hub sees it: who it is (once joined), where it is, and whether it is
//! catching up on missed messages.

use std::sync::Arc;

use super::io::SessionId;
use super::outgoing::Outgoing;

/// The wire protocol a session speaks. The hub treats both alike; it only shows up in a user's
/// address (`host`) and in `whois`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Native,
    Irc,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Native => "native",
            Protocol::Irc => "irc",
        }
    }

    /// The host part of its users' addresses: a cloak, never the peer's IP address.
    pub fn host(self) -> &'static str {
        match self {
            Protocol::Native => "native.palaver",
            Protocol::Irc => "irc.palaver",
        }
    }
}

/// What a connection says about itself before joining (IRC's USER); natives get defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub protocol: Protocol,
    /// The user part of the address, as given (IRC's USER username); sanitised on join.
    pub ident: Option<String>,
    pub realname: Option<String>,
}

#[derive(Debug)]
pub struct Session {
    pub id: SessionId,
    pub peer: String,
    pub connected_ms: i64,
    pub profile: Profile,
    pub user: Option<User>,
    /// While missed messages are being replayed, live frames wait here so that the replay comes
    /// first. Bounded by `HubConfig::catch_up_buffer`.
    pub catch_up: Option<Vec<Outgoing>>,
    /// Messages of this session on their way through the store.
    pub in_flight: usize,
    /// Replies that must not overtake those messages (a `pong` is a barrier: everything the
    /// session sent before its `ping` has been answered when the `pong` arrives).
    pub after_in_flight: Vec<Outgoing>,
    /// A resume replay is running (`catch_up` holds live frames until it ends).
    pub resuming: bool,
    /// A history page is being read for this session (see `Hub::history_done`).
    pub paging: bool,
    /// History requests waiting for it, in order.
    pub pages_waiting: std::collections::VecDeque<super::HistoryQuery>,
    /// Folded names this session watches (`monitor`).
    pub monitoring: std::collections::BTreeSet<String>,
    /// Replies waiting for room windows being read (see `windows.rs`).
    pub gate: Option<Box<Gate>>,
    /// The account this connection proved it owns (folded name), once it has.
    pub account: Option<String>,
    /// The admin account this connection proved with `oper` (IRC's OPER), keeping its name.
    pub oper: Option<String>,
    /// A `login` whose password is being checked: the join to do if it is right.
    pub login: Option<PendingLogin>,
    /// A name being claimed (see `claims.rs`): what to do with it once granted.
    pub claim: Option<Box<PendingClaim>>,
    /// Requests that arrived while the name was being claimed (or a message was being read for
    /// a reaction, an edit, a deletion or a reply), in order.
    pub held: Vec<palaver_proto::Request>,
    /// A message this session's request names is being read (see `message_changes.rs`).
    pub looking_up: bool,
    /// When this session's last uploads were granted (milliseconds), for the upload rate.
    pub uploads: std::collections::VecDeque<i64>,
    /// Ids of the last private messages (or changes: with their seq) other nodes sent this
    /// connection (a post may come twice when it was tried again).
    pub remote_directs: std::collections::VecDeque<(u64, u64)>,
    /// This connection is another device of the user held by that session (`devices.rs`).
    pub device_of: Option<SessionId>,
    /// The user's other connections (on the session holding the user).
    pub devices: Vec<SessionId>,
    /// The user's own connection is gone; the user stays for its devices.
    pub detached: bool,
}

/// A `join` or rename waiting for the name registry's answer.
#[derive(Debug)]
pub enum PendingClaim {
    Join {
        ask: JoinAsk,
        /// The session's token: the client's own when it resumes, else a fresh one.
        resume_token: String,
        reference: Option<serde_json::Value>,
        /// The name was taken and is being asked for once more (see `claims.rs`).
        asked_again: bool,
    },
    Rename {
        reference: Option<serde_json::Value>,
        /// The connection that asked (a device of the user, maybe).
        asker: SessionId,
    },
}

impl PendingClaim {
    pub fn reference(self) -> Option<serde_json::Value> {
        match self {
            PendingClaim::Join { reference, .. } | PendingClaim::Rename { reference, .. } => {
                reference
            }
        }
    }

    /// The connection a rename answers.
    pub fn asker(&self) -> Option<SessionId> {
        match self {
            PendingClaim::Rename { asker, .. } => Some(*asker),
            PendingClaim::Join { .. } => None,
        }
    }
}

/// Password work under way for a session, and what to do once it is answered.
#[derive(Debug)]
pub struct PendingLogin {
    /// The join to make once the password is right (`login`); `None` only answers
    /// (`authenticate`, `register`, `change_password`).
    pub join: Option<JoinAsk>,
    pub username: String,
    pub reference: Option<serde_json::Value>,
    /// An `oper`: the account's password proves admin powers, not the session's name.
    pub oper: bool,
}

/// What a `join` (or `login`) asks for besides the name.
#[derive(Debug, Default)]
pub struct JoinAsk {
    /// Resume each of these conversations after its last seq seen.
    pub since: Option<palaver_proto::Cursors>,
    /// Rooms to enter (default: general).
    pub rooms: Option<Vec<String>>,
    /// Continue the session this token was handed out to.
    pub resume_token: Option<palaver_proto::Secret>,
}

/// Replies that wait until the windows of some rooms have been read.
#[derive(Debug, Default)]
pub struct Gate {
    /// Rooms whose windows are still on their way.
    pub rooms: Vec<String>,
    /// What to do then, in order.
    pub then: Vec<AfterWindows>,
}

/// A step deferred until windows are in.
#[derive(Debug)]
pub enum AfterWindows {
    /// Send the welcome.
    Welcome {
        welcome: Box<palaver_proto::Welcome>,
        /// Show general's window up to this seq as the `history`.
        history_upto: Option<u64>,
    },
    /// Send the room's `joined_room`, its window up to `upto`.
    JoinedRoom {
        room_key: String,
        reference: Option<serde_json::Value>,
        upto: u64,
    },
    Refuse(super::Refusal, Option<serde_json::Value>),
    /// Replay what a returning client missed.
    Resume {
        cursors: JoinCursors,
        room_keys: Vec<String>,
    },
}

/// A joining client's cursors, keyed as the hub keys conversations.
#[derive(Debug, Default)]
pub struct JoinCursors {
    /// Folded room name -> last seq seen.
    pub rooms: std::collections::HashMap<String, u64>,
    /// The other user's folded name -> last seq seen.
    pub directs: std::collections::HashMap<String, u64>,
}

/// A joined session's identity and rooms.
#[derive(Debug)]
pub struct User {
    /// As shown (NFC-normalised, case kept).
    pub name: String,
    /// Folded, for uniqueness and lookups.
    pub key: String,
    /// Keys of the rooms this user is in, in the order joined.
    pub rooms: Vec<String>,
    pub ident: String,
    pub realname: String,
    /// `name!ident@host`, shared by the frames about this user.
    pub address: Arc<str>,
    /// The session's key (digest of its resume token): a join with the same token takes over,
    /// and a guest's private messages belong to it (see `identity.rs`).
    pub session_key: super::identity::SessionKey,
    pub away: Option<String>,
    /// Hidden from `who` masks but to those who share a room (IRC's user mode +i).
    pub invisible: bool,
    /// When the user last sent a message (for idle time).
    pub active_ms: i64,
    pub joined_ms: i64,
    /// The user's read markers as last read from the store (conversation key -> seq, time in
    /// milliseconds): for the `joined_room` of a room entered later (`read_markers.rs`).
    pub read_markers: std::collections::HashMap<String, (u64, i64)>,
}

impl User {
    pub fn address_of(name: &str, ident: &str, protocol: Protocol) -> Arc<str> {
        Arc::from(format!("{name}!{ident}@{}", protocol.host()))
    }

    /// The address of someone known only by name (a stored message whose sender is not online
    /// here): as an app user's, the address most messages are sent from.
    pub fn address_of_name(name: &str) -> Arc<str> {
        Self::address_of(name, &sanitize_ident(None, name), Protocol::Native)
    }
}

/// An ident as IRC shows it: `~` (no identd) and up to ten ASCII letters, digits, `_` or `-`
/// taken from what was given (or from the username).
pub fn sanitize_ident(given: Option<&str>, username: &str) -> String {
    let pick = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            .take(10)
            .collect()
    };
    let mut ident = given.map(pick).unwrap_or_default();
    if ident.is_empty() {
        ident = pick(username);
    }
    if ident.is_empty() {
        ident = "user".into();
    }
    format!("~{ident}")
}

impl Session {
    pub fn new(id: SessionId, peer: String, connected_ms: i64) -> Self {
        Session {
            id,
            peer,
            connected_ms,
            profile: Profile::default(),
            user: None,
            catch_up: None,
            resuming: false,
            paging: false,
            pages_waiting: std::collections::VecDeque::new(),
            monitoring: std::collections::BTreeSet::new(),
            gate: None,
            in_flight: 0,
            after_in_flight: Vec::new(),
            account: None,
            oper: None,
            login: None,
            claim: None,
            held: Vec::new(),
            looking_up: false,
            uploads: std::collections::VecDeque::new(),
            remote_directs: std::collections::VecDeque::new(),
            device_of: None,
            devices: Vec::new(),
            detached: false,
        }
    }

    pub fn name(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.name.as_str())
    }

    /// Who this session's private messages belong to: its account once logged in, else its
    /// guest session (see `identity.rs`). Empty before joining.
    pub fn owner(&self) -> String {
        match (&self.account, &self.user) {
            (Some(account), _) => super::identity::account_owner(account),
            (None, Some(user)) => super::identity::guest_owner(&user.session_key),
            (None, None) => String::new(),
        }
    }
}
