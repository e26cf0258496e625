//! Who is online on the other nodes of a cluster, and in which rooms: each node tells the
//! others about its own users as they come, move and go ([`PresenceChange`]), and every node
//! keeps the whole picture (`hub/remote.rs`), so that member lists, `users`, private messages
//! and join and leave notices work across nodes.
//!
//! Each change is published once by the user's own node, in the order it happened there (one
//! ordered publisher per node). Each node shows the notice that goes with it to its own members
//! only, so everyone sees each join and leave once. A node that starts says
//! [`Presence::Hello`]; every node answers it alone with a [`Presence::Snapshot`] of its users,
//! which replaces what the asker knew of that node. A node whose Redis connection came back
//! sends its snapshot to every node. A node
//! is alive while it is heard from ([`Presence::Alive`] every few seconds): one silent for
//! [`NODE_SILENCE`] is taken for dead, and its users leave.

use std::time::Duration;

use palaver_proto::SystemEvent;

use super::names::{Holder, NodeId};

/// How often a node says it is alive.
pub const ALIVE_EVERY: Duration = Duration::from_secs(3);
/// A node not heard from for this long is dead: its users leave the other nodes' lists.
pub const NODE_SILENCE: Duration = Duration::from_secs(15);
/// Users per snapshot message.
pub const SNAPSHOT_CHUNK: usize = 500;

/// A user online on some node, as the other nodes know it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OnlineUser {
    pub holder: Holder,
    /// As shown, and folded.
    pub name: String,
    pub key: String,
    /// Who owns the private history of this connection (`account:...` or `guest:...`).
    pub owner: String,
    /// `nick!ident@host`, for IRC.
    pub address: String,
    /// The folded names of its rooms, with each room's name as shown.
    pub rooms: Vec<(String, String)>,
    /// When it joined (milliseconds since the epoch).
    pub joined_ms: i64,
    /// Its away message, while it is away.
    #[serde(default)]
    pub away: Option<String>,
    /// The account it is logged in to, and its real name (IRC's `extended-join`).
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub realname: Option<String>,
}

/// One user's change, published by its node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PresenceChange {
    /// Joined the chat, in these rooms.
    Entered(OnlineUser),
    JoinedRoom {
        holder: Holder,
        room_key: String,
        room_name: String,
    },
    /// Left a room (`by`: removed by an operator).
    LeftRoom {
        holder: Holder,
        room_key: String,
        reason: Option<String>,
        by: Option<String>,
        /// The remover's `nick!ident@host`.
        source: Option<String>,
    },
    /// Went away (with a message) or came back (`None`).
    Away {
        holder: Holder,
        message: Option<String>,
    },
    /// Changed name.
    Renamed {
        holder: Holder,
        name: String,
        key: String,
        address: String,
    },
    /// Left the chat.
    Departed {
        holder: Holder,
        reason: Option<String>,
        event: SystemEvent,
    },
}

/// What travels on the presence channel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Presence {
    Change(PresenceChange),
    /// A node asks every other for a snapshot (it started, or its subscription came back).
    Hello {
        node: NodeId,
    },
    /// Part `part` of a node's users (part 0 replaces what was known of that node).
    Snapshot {
        node: NodeId,
        part: usize,
        users: Vec<OnlineUser>,
    },
    /// The node is alive.
    Alive {
        node: NodeId,
    },
    /// The node is shutting down: its users have left.
    Leaving {
        node: NodeId,
    },
}

impl Presence {
    /// The node this comes from.
    pub fn node(&self) -> NodeId {
        match self {
            Presence::Change(change) => change.holder().node,
            Presence::Hello { node }
            | Presence::Snapshot { node, .. }
            | Presence::Alive { node }
            | Presence::Leaving { node } => *node,
        }
    }
}

impl PresenceChange {
    pub fn holder(&self) -> Holder {
        match self {
            PresenceChange::Entered(user) => user.holder,
            PresenceChange::JoinedRoom { holder, .. }
            | PresenceChange::LeftRoom { holder, .. }
            | PresenceChange::Renamed { holder, .. }
            | PresenceChange::Away { holder, .. }
            | PresenceChange::Departed { holder, .. } => *holder,
        }
    }
}
