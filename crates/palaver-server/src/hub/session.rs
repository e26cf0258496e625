//! One connection as the hub sees it: who it is (once joined), where it is, and whether it is
//! catching up on missed messages.

use bytes::Bytes;

use super::io::SessionId;

#[derive(Debug)]
pub struct Session {
    pub id: SessionId,
    pub peer: String,
    pub connected_ms: i64,
    pub user: Option<User>,
    /// While missed messages are being replayed, live frames wait here so that the replay comes
    /// first. Bounded by `HubConfig::catch_up_buffer`.
    pub catch_up: Option<Vec<Bytes>>,
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
}

impl Session {
    pub fn new(id: SessionId, peer: String, connected_ms: i64) -> Self {
        Session {
            id,
            peer,
            connected_ms,
            user: None,
            catch_up: None,
        }
    }

    pub fn name(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.name.as_str())
    }
}
