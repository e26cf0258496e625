//! Changes to what every node of a network shares, as events: bans, mutes, locks, moderators,
//! deleted rooms, topics, room modes and invitations, kicks, announcements, and a session
//! taken over on another node.
//!
//! The hub changes these facts in one place, [`crate::hub::Hub::apply`], whether the change was
//! made on this node (a command: applied, stored, then published through
//! [`crate::hub::HubIo::publish`]) or arrives from another node
//! ([`crate::hub::Hub::network_event`]). Applying also tells this node's own sessions what they
//! need to know (a banned user is disconnected, members see a new topic), so a change looks the
//! same to a user wherever it was made.

use crate::hub::moderation::ModerationRecord;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NetworkEvent {
    /// A ban, mute, lock, moderator grant or room deletion, made by `by` (a name as shown, or
    /// "the operator").
    Moderation {
        by: String,
        record: ModerationRecord,
    },
    /// A session came back on another node (its resume token) and took its name over: the
    /// node of the old connection closes it.
    Replaced {
        holder: crate::network::names::Holder,
    },
    /// A user removed from the server (the connection `holder`), by an admin or the operator.
    Kick {
        holder: crate::network::names::Holder,
        reason: String,
    },
    /// A user (the connection `holder`) removed from a room by one of its operators.
    RoomKick {
        holder: crate::network::names::Holder,
        room_key: String,
        by: String,
        /// The remover's `nick!ident@host`.
        source: Option<String>,
        reason: Option<String>,
    },
    /// A room made (on the node that stored it): the others list it too.
    RoomCreated {
        room_key: String,
        name: String,
        created_ms: i64,
    },
    /// A `server` announcement to everyone.
    Announce { message: String },
    /// A room's modes changed by `by` (address `source`): the modes after the change, and
    /// the members given or denied operator status or voice with it; `change` and `params`
    /// are the change as IRC writes it (`+mv`, `["ann"]`).
    RoomModes {
        room_key: String,
        modes: palaver_proto::room_modes::RoomModes,
        members: Vec<MemberStatus>,
        by: String,
        source: Option<String>,
        change: String,
        params: Vec<String>,
        at_ms: i64,
    },
    /// `name` invited into a room by `by` (address `source`): the invitation lets them in
    /// past `+i`, `+k` and `+l` once.
    Invite {
        room_key: String,
        name: String,
        by: String,
        source: Option<String>,
    },
    /// A room's topic set (empty: cleared) by `by`, whose address is `source`.
    Topic {
        room_key: String,
        topic: String,
        by: String,
        source: Option<String>,
        at_ms: i64,
    },
}

/// A member's status in a room, given or taken by a mode change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemberStatus {
    /// The member's connection.
    pub holder: crate::network::names::Holder,
    pub status: Status,
    pub on: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Status {
    /// `+o`: may change the room's modes and topic, kick, invite.
    Operator,
    /// `+v`: may speak while the room is moderated.
    Voice,
}
