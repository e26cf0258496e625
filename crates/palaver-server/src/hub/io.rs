//! The hub's side effects, as a trait: everything the hub wants done to the outside world.
//!
//! The hub never touches a socket, a channel or a database. It calls [`HubIo`], and whoever
//! drives the hub decides what that means: the server's runtime turns `send` into a `try_send`
//! on a bounded per-connection queue and `persist` into a write for the store thread; the hub's
//! unit tests record the calls and answer them by hand. A cluster node (Redis) carries messages,
//! presence and changes to the other nodes at this seam.

use serde_json::Value;

use palaver_proto::{ErrorCode, Secret};

use super::Outgoing;
use crate::network::names::{ClaimAnswer, Holder, NameClaim};
use crate::store::{
    Conversation, PageQuery, ResumeScope, RoomRecord, SearchQuery, StoredMessage, TargetsQuery,
};

/// Identifies one connection for its whole life, joined or not.
pub type SessionId = u64;

/// How a session is to be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close {
    /// Send what is queued, then close.
    Graceful,
    /// Drop what is queued, send this error, close. For readers that fell too far behind.
    Abort(ErrorCode),
}

/// Why a session ended, as the connection saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Departure {
    /// The peer closed the connection or it failed.
    Disconnected,
    /// The client sent `quit`.
    Quit(Option<String>),
    /// The connection was closed for a protocol or limit violation with this code.
    Closed(ErrorCode),
}

/// A history read to do and send to `session` (the hub hears back through
/// [`super::Hub::history_done`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    pub session: SessionId,
    pub reference: Option<Value>,
    pub read: HistoryRead,
}

/// What a history read reads.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryRead {
    /// A page of one conversation, as a `history` frame.
    Page {
        conversation: Conversation,
        /// What the `history` frame names: the room, or the other user.
        room: Option<String>,
        with: Option<String>,
        page: PageQuery,
    },
    /// The conversations with news between two times, as a `conversations` frame.
    Conversations(TargetsQuery),
    /// A full-text search, as a `search_results` frame.
    Search {
        /// As the client asked, for the answer.
        text: String,
        query: SearchQuery,
    },
}

impl HistoryQuery {
    /// The page asked for, if this reads one.
    pub fn page(&self) -> Option<&PageQuery> {
        match &self.read {
            HistoryRead::Page { page, .. } => Some(page),
            HistoryRead::Conversations(_) | HistoryRead::Search { .. } => None,
        }
    }
}

/// Password work a session asked for, with where it came from (for the throttle).
#[derive(Debug)]
pub struct PasswordRequest {
    pub session: SessionId,
    pub peer: String,
    pub op: PasswordOp,
}

/// The password operations. Keys are folded account names.
#[derive(Debug)]
pub enum PasswordOp {
    /// Is this the account's password (`login`, `authenticate`)?
    Check { key: String, password: Secret },
    /// Register `name` with this password.
    Create {
        key: String,
        name: String,
        password: Secret,
    },
    /// Change the account's password, given the old one.
    Change {
        key: String,
        old: Secret,
        new: Secret,
    },
}

/// What a resume replay sent: how many messages, whether it could read everything, and the
/// newest seq it sent in each conversation (by store key), so that live frames held meanwhile
/// are not sent a second time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    pub replayed: usize,
    pub complete: bool,
    pub newest: std::collections::HashMap<String, u64>,
}

/// What happened, for the log and for dashboards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubEvent {
    Connected {
        session: SessionId,
        peer: String,
    },
    Joined {
        session: SessionId,
        username: String,
    },
    Left {
        username: String,
        reason: String,
    },
    RoomJoined {
        username: String,
        room: String,
    },
    RoomLeft {
        username: String,
        room: String,
    },
    Message {
        id: u64,
        room: String,
        username: String,
        content: String,
    },
    Private {
        id: u64,
        sender: String,
        target: String,
    },
    Announced {
        message: String,
    },
    Kicked {
        username: String,
        reason: String,
    },
    /// An operator removed someone from a room.
    KickedFromRoom {
        room: String,
        username: String,
        by: String,
        reason: String,
    },
    Renamed {
        old: String,
        new: String,
    },
    /// A name became a registered account.
    Registered {
        username: String,
    },
    /// An admin or moderator acted.
    Moderation {
        by: String,
        action: String,
        message: String,
    },
}

/// The effects the hub asks for.
pub trait HubIo {
    /// Queues a frame for a session, in the session's wire format. Returns false when the
    /// session's queue is full: the hub then disconnects it as a slow consumer. A session that is
    /// already gone counts as delivered (its departure is on the way).
    fn send(&mut self, session: SessionId, frame: &Outgoing) -> bool;
    /// Ends a session's connection.
    fn close(&mut self, session: SessionId, how: Close);
    /// Tells the connection that its session has joined (it stops the join timer).
    fn joined(&mut self, session: SessionId, username: &str);
    /// Stores a message; the hub hears back through [`super::Hub::stored`].
    fn persist(&mut self, message: StoredMessage);
    /// Reads the message a request names (a reaction, an edit, a deletion, a reply), for
    /// [`super::Hub::message_found`].
    fn find_message(&mut self, lookup: super::message_changes::MessageLookup);
    /// Moves or reads read markers, for [`super::Hub::read_markers_read`].
    fn read_markers(&mut self, work: super::read_markers::MarkerWork) {
        let _ = work;
    }
    /// Stores a new room (one already stored, made by another node, stays as it is).
    fn save_room(&mut self, room: RoomRecord);
    fn save_topic(&mut self, room_key: &str, topic: &str) {
        let _ = (room_key, topic);
    }
    /// Reads the newest `limit` messages of a room with seqs below `before` (its window, when it
    /// gets a first member again); the answer comes back through [`super::Hub::window_loaded`].
    fn load_window(&mut self, room_key: String, before: u64, limit: usize);
    /// Fetches a history page and sends it to the session, then reports back through
    /// [`super::Hub::history_done`].
    fn fetch_history(&mut self, query: HistoryQuery);
    /// Fetches and sends, in order, the messages a resuming session missed, then reports back
    /// through [`super::Hub::resume_done`].
    fn replay_missed(&mut self, session: SessionId, scope: ResumeScope);
    fn event(&mut self, event: HubEvent);
    /// Does slow password work off the hub's task (throttled, on bounded hashing threads); the
    /// answer comes back through [`super::Hub::password_checked`],
    /// [`super::Hub::account_created`] or [`super::Hub::password_changed`].
    fn password_work(&mut self, request: PasswordRequest) {
        let _ = request;
    }
    /// Gives the private messages stored for owner `from` to owner `to` (a guest who
    /// registered: the account keeps what the session had), after the messages already on
    /// their way to the store.
    fn reassign_private_history(&mut self, from: String, to: String) {
        let _ = (from, to);
    }
    /// Claims a name in the network's registry (`network/names.rs`): the answer now, or `None`
    /// when it comes later, through [`super::Hub::name_claimed`].
    fn claim_name(&mut self, claim: &NameClaim) -> Option<ClaimAnswer>;
    /// Claims a name again after a moment, through [`super::Hub::claim_again`]: a join whose
    /// name was taken, in case its holder's departure is on its way. False: it will not be
    /// (the refusal stands now).
    fn claim_name_later(&mut self, claim: &NameClaim) -> bool {
        let _ = claim;
        false
    }
    /// Gives back a name this node's connection held.
    fn release_name(&mut self, key: &str, holder: Holder);
    /// Stores a ban, a lifted ban, a moderator, a mute, a lock or a deleted room.
    fn save_moderation(&mut self, record: super::moderation::ModerationRecord) {
        let _ = record;
    }
    /// Tells the other nodes of the network about a change made here (a server alone has none
    /// to tell; a cluster's nodes apply it through [`super::Hub::network_event`]).
    fn publish(&mut self, event: &crate::network::events::NetworkEvent) {
        let _ = event;
    }
    /// Sends a committed message or a presence change to the other nodes of a cluster.
    fn post(&mut self, post: crate::network::fanout::Post) {
        let _ = post;
    }
    /// Starts hearing a room's messages from the other nodes; the hub hears back through
    /// [`super::Hub::room_followed`] with the same `generation`.
    fn follow_room(&mut self, room_key: &str, generation: u64) {
        let _ = (room_key, generation);
    }
    fn unfollow_room(&mut self, room_key: &str) {
        let _ = room_key;
    }
    /// A room has a gap after seq `after` (below `before`, the message that showed it):
    /// reads it for [`super::Hub::gap_filled`], trying again until the store answers. A gap
    /// that a message still on its way may close is given a moment first: the hub hears
    /// [`super::Hub::gap_due`] and asks for the read ([`HubIo::read_gap`]) only if it is
    /// still open.
    fn fill_gap(&mut self, room_key: &str, after: u64, before: Option<u64>) {
        let _ = (room_key, after, before);
    }
    /// Reads a room's messages after seq `after` (below `before`) for
    /// [`super::Hub::gap_filled`] at once.
    fn read_gap(&mut self, room_key: &str, after: u64, before: Option<u64>) {
        self.fill_gap(room_key, after, before);
    }
}
