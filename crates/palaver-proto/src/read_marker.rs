//! Read markers: how far a user has read a conversation, shared by all of the user's
//! connections (laptop, phone, browser) and kept across sessions.
//!
//! A client says what it has read with `mark_read` (the conversation, and the `seq` of the
//! newest message read, or its `timestamp` as IRC's `draft/read-marker` does). A marker only
//! moves forward. Every connection of the user hears `read_marker`: after `mark_read`, and for
//! each conversation with a marker right after joining. Unread counts are the messages after
//! the marker's `seq`.

use serde::{Deserialize, Serialize};

/// Where a user has read up to in one conversation: a room, or the private conversation
/// `with` someone. No `timestamp`: nothing read yet. `seq` 0 with a `timestamp`: read up to that
/// time, before any message (IRC clients mark by time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadMarker {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    /// The seq of the newest message read.
    pub seq: u64,
    /// That message's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<serde_json::Value>,
}
