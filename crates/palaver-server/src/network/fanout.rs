//! Messages crossing between the nodes of a cluster, after their commit: a room's message goes
//! to the nodes following that room ([`RoomPost`]), a private message to the node of its target
//! ([`DirectPost`]). The database already holds each of them: a post that does not arrive costs
//! only its immediacy, because the receiving node notices the gap in the room's seqs (or the
//! lost Redis connection) and reads what it missed from the database (`hub/sequence.rs`).

use std::sync::Arc;

use palaver_proto::{ChatMessage, ServerFrame};

use super::names::{Holder, NodeId};
use crate::hub::outgoing::{ClientTags, Sender};
use crate::hub::Outgoing;

/// Client-only tags as they travel (IRCv3 `+draft/reply=...`).
pub type WireTags = Option<Vec<(String, Option<String>)>>;

fn tags_out(tags: &Option<ClientTags>) -> WireTags {
    tags.as_ref().map(|t| t.to_vec())
}

fn tags_in(tags: &WireTags) -> Option<ClientTags> {
    tags.as_ref().map(|t| Arc::from(t.as_slice()))
}

/// A room's message (or a change to one), committed by node `node`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoomPost {
    pub node: NodeId,
    pub room_key: String,
    pub message: ChatMessage,
    /// The sender's `nick!ident@host`.
    pub source: String,
    pub tags: WireTags,
    /// What IRC clients are told about the sender (see `Outgoing::sender`).
    #[serde(default)]
    pub sender: Sender,
}

impl RoomPost {
    pub fn new(
        node: NodeId,
        room_key: &str,
        message: &ChatMessage,
        source: &Arc<str>,
        tags: &Option<ClientTags>,
        sender: Sender,
    ) -> Self {
        RoomPost {
            node,
            room_key: room_key.to_string(),
            message: message.clone(),
            source: source.to_string(),
            tags: tags_out(tags),
            sender,
        }
    }

    /// A message read from the store (a gap filled), sent by the user at `source`.
    pub fn stored(room_key: &str, message: ChatMessage, source: &str) -> Self {
        RoomPost {
            node: 0,
            room_key: room_key.to_string(),
            message,
            source: source.to_string(),
            tags: None,
            sender: Sender::default(),
        }
    }

    /// The frame to fan out to this node's members.
    pub fn outgoing(&self) -> Outgoing {
        Outgoing::message_from(
            self.message.clone().into_frame(),
            Arc::from(self.source.as_str()),
            tags_in(&self.tags),
            self.sender.clone(),
        )
    }
}

/// A private message (or a change to one) for the connection `to` (on the node the post is
/// sent to).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DirectPost {
    pub to: Holder,
    /// The target's folded name: the connection must still hold it.
    pub target_key: String,
    pub message: ChatMessage,
    pub source: String,
    pub tags: WireTags,
    #[serde(default)]
    pub sender: Sender,
}

impl DirectPost {
    pub fn new(
        to: Holder,
        target_key: &str,
        message: &ChatMessage,
        source: &Arc<str>,
        tags: &Option<ClientTags>,
        sender: Sender,
    ) -> Self {
        DirectPost {
            to,
            target_key: target_key.to_string(),
            message: message.clone(),
            source: source.to_string(),
            tags: tags_out(tags),
            sender,
        }
    }

    pub fn outgoing(&self) -> Outgoing {
        Outgoing::message_from(
            self.message.clone().into_frame(),
            Arc::from(self.source.as_str()),
            tags_in(&self.tags),
            self.sender.clone(),
        )
    }
}

/// Where a frame that is not stored goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RelayTo {
    /// A room's members (on the nodes following it).
    Room(String),
    /// One connection.
    Connection(Holder),
}

/// A frame that is not stored (an IRC `NOTICE`, a `TAGMSG`), from the user at `source`: it
/// has no seq and nothing fills a gap in it, so it is delivered as it comes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Relay {
    pub node: NodeId,
    pub to: RelayTo,
    pub frame: ServerFrame,
    pub source: String,
    pub tags: WireTags,
    /// A `TAGMSG`'s number (its IRC `msgid`).
    pub event: Option<u64>,
    #[serde(default)]
    pub sender: Sender,
}

impl Relay {
    pub fn new(node: NodeId, to: RelayTo, out: &Outgoing) -> Self {
        let tags = out.client_tags();
        Relay {
            node,
            to,
            frame: out.frame().clone(),
            source: out.source().unwrap_or_default().to_string(),
            tags: (!tags.is_empty()).then(|| tags.to_vec()),
            event: out.event(),
            sender: out.sender().clone(),
        }
    }

    pub fn outgoing(&self) -> Outgoing {
        let source: Arc<str> = Arc::from(self.source.as_str());
        match (self.event, tags_in(&self.tags)) {
            (Some(event), Some(tags)) => {
                Outgoing::tagged(self.frame.clone(), source, event, tags, self.sender.clone())
            }
            (_, tags) => {
                Outgoing::message_from(self.frame.clone(), source, tags, self.sender.clone())
            }
        }
    }
}

/// What travels on a room's channel.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum RoomNews {
    Message(RoomPost),
    Relay(Relay),
}

/// What travels on a node's channel.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum NodeNews {
    Direct(DirectPost),
    Relay(Relay),
    /// An answer to this node's `Hello`: who is online on the node that sends it.
    Presence(super::presence::Presence),
}

/// What a node sends to the others.
#[derive(Debug, Clone)]
pub enum Post {
    /// A change to shared facts.
    Event(super::events::NetworkEvent),
    Presence(super::presence::Presence),
    /// Presence for one node only (a snapshot answering its `Hello`).
    PresenceTo {
        node: NodeId,
        presence: super::presence::Presence,
    },
    /// A room's message, to the nodes following the room.
    Room(RoomPost),
    /// A private message, to the node of its target.
    Direct {
        node: NodeId,
        post: DirectPost,
    },
    /// A frame that is not stored, to a room's nodes or one connection's node.
    Relay(Relay),
}
