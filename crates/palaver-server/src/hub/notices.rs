//! The `system` notices members see when someone comes, goes or changes name: one constructor
//! each, used alike for this node's users and for those of the other nodes of a cluster
//! (`remote.rs`), so a notice reads the same wherever its user is.

use std::sync::Arc;

use palaver_proto::{SystemEvent, DEFAULT_ROOM};

use super::SystemNotice;

impl SystemNotice {
    /// Joined the chat, entering this room (general says "joined the chat").
    pub(super) fn arrival(
        name: &str,
        room_key: &str,
        room_name: &str,
        source: Option<Arc<str>>,
    ) -> Self {
        let text = if room_key == DEFAULT_ROOM {
            format!("{name} joined the chat")
        } else {
            format!("{name} joined #{room_name}")
        };
        SystemNotice {
            text,
            event: Some(SystemEvent::Joined),
            username: name.to_string(),
            source,
            ..SystemNotice::default()
        }
    }

    /// Joined a room later on.
    pub(super) fn joined_room(name: &str, room_name: &str, source: Option<Arc<str>>) -> Self {
        SystemNotice {
            text: format!("{name} joined #{room_name}"),
            event: Some(SystemEvent::Joined),
            username: name.to_string(),
            source,
            ..SystemNotice::default()
        }
    }

    /// Left a room.
    pub(super) fn left_room(
        name: &str,
        room_name: &str,
        reason: Option<String>,
        source: Option<Arc<str>>,
    ) -> Self {
        let text = match &reason {
            Some(r) => format!("{name} left #{room_name} ({r})"),
            None => format!("{name} left #{room_name}"),
        };
        SystemNotice {
            text,
            event: Some(SystemEvent::Left),
            username: name.to_string(),
            reason,
            source,
            ..SystemNotice::default()
        }
    }

    /// Removed from a room by one of its operators (`source`: the remover's address).
    pub(super) fn removed(
        name: &str,
        room_name: &str,
        by: &str,
        reason: Option<String>,
        source: Option<Arc<str>>,
    ) -> Self {
        let text = match &reason {
            Some(r) => format!("{name} was removed from #{room_name} by {by} ({r})"),
            None => format!("{name} was removed from #{room_name} by {by}"),
        };
        SystemNotice {
            text,
            event: Some(SystemEvent::Kicked),
            username: name.to_string(),
            by: Some(by.to_string()),
            reason,
            source,
            ..SystemNotice::default()
        }
    }

    /// Changed name (`seq` is shared by the copies sent to each of the user's rooms).
    pub(super) fn renamed(old: &str, new: &str, source: Arc<str>, seq: u64) -> Self {
        SystemNotice {
            text: format!("{old} is now known as {new}"),
            event: Some(SystemEvent::Renamed),
            username: old.to_string(),
            new_username: Some(new.to_string()),
            source: Some(source),
            event_seq: Some(seq),
            ..SystemNotice::default()
        }
    }

    /// Left the chat (`seq` is shared by the copies sent to each of the user's rooms).
    pub(super) fn departure(
        name: &str,
        reason: Option<String>,
        event: SystemEvent,
        source: Arc<str>,
        seq: u64,
    ) -> Self {
        let text = match &reason {
            Some(reason) => format!("{name} left the chat ({reason})"),
            None => format!("{name} left the chat"),
        };
        SystemNotice {
            text,
            event: Some(event),
            username: name.to_string(),
            reason,
            source: Some(source),
            event_seq: Some(seq),
            ..SystemNotice::default()
        }
    }
}
