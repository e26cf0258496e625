//! A room: its members online and a window of its most recent messages.
//!
//! The window is what a joining member is shown. It lives in memory only while the room has
//! members, filled from the store when the room becomes active and then kept up to date by
//! fan-out, so a join never races with a message in flight: both happen in the hub's one thread.
//! In a cluster, a room also knows whether this node follows its messages (its members on the
//! other nodes are in `remote.rs`).

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::FxHashSet;

use palaver_proto::{timestamp, ChatMessage, PublicMessage, RoomInfo};

use super::io::SessionId;
use super::sequence::Follow;
use super::Outgoing;

#[derive(Debug)]
pub struct Room {
    pub name: String,
    pub key: String,
    pub topic: String,
    pub created_ms: i64,
    pub members: FxHashSet<SessionId>,
    /// Members who may kick: whoever joined the room while it was empty (IRC's channel
    /// operators; in memory only).
    pub operators: FxHashSet<SessionId>,
    /// Members with voice (`+v`): they may speak while the room is moderated.
    pub voiced: FxHashSet<SessionId>,
    /// Who set the topic and when (milliseconds), since the server started.
    pub topic_by: Option<String>,
    pub topic_ms: Option<i64>,
    /// Most recent messages, oldest first; `None` while the room has no members.
    pub recent: Option<VecDeque<PublicMessage>>,
    /// While the window is being read: the messages and changes delivered meanwhile (see
    /// `windows.rs`).
    pub loading: Option<Vec<ChatMessage>>,
    /// Sessions waiting for the window.
    pub waiting: Vec<SessionId>,
    /// The seq of the newest message delivered: what is stored up to here is history, what
    /// comes after arrives live.
    pub last_seq: u64,
    /// Whether this node hears the room's messages (see `sequence.rs`).
    pub follow: Follow,
    /// Messages (and changes) that arrived ahead of their turn (after a gap), by seq.
    pub ahead: BTreeMap<u64, (ChatMessage, Outgoing)>,
    /// A gap is being filled from the store.
    pub filling: bool,
    /// The subscription was renewed while a read was on its way: read what came after
    /// `last_seq` once it is back.
    pub refill: bool,
}

impl Room {
    pub fn new(name: String, key: String, topic: String, created_ms: i64, last_seq: u64) -> Self {
        Room {
            name,
            key,
            topic,
            created_ms,
            members: FxHashSet::default(),
            operators: FxHashSet::default(),
            voiced: FxHashSet::default(),
            topic_by: None,
            topic_ms: None,
            recent: None,
            loading: None,
            waiting: Vec::new(),
            last_seq,
            follow: Follow::Always,
            ahead: BTreeMap::new(),
            filling: false,
            refill: false,
        }
    }

    pub fn info(&self) -> RoomInfo {
        RoomInfo {
            name: self.name.clone(),
            topic: self.topic.clone(),
            members: self.members.len(),
            topic_by: self.topic_by.clone(),
            topic_at: self.topic_ms.map(timestamp::format_millis),
            created: Some(timestamp::format_millis(self.created_ms)),
            last_seq: self.last_seq,
            modes: None,
        }
    }

    /// Remembers a message fanned out to the room, keeping at most `keep`, or applies a change
    /// to the messages remembered.
    pub fn remember(&mut self, item: ChatMessage, keep: usize) {
        if let Some(arrived) = &mut self.loading {
            arrived.push(item);
            return;
        }
        if let Some(recent) = &mut self.recent {
            remember_in(recent, item, keep);
        }
    }

    pub fn recent_messages(&self) -> Vec<PublicMessage> {
        self.recent
            .as_ref()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Adds a message to a window (keeping at most `keep`), or applies a change to the messages in
/// it: to the one it changed, and to the previews of replies to it.
pub fn remember_in(recent: &mut VecDeque<PublicMessage>, item: ChatMessage, keep: usize) {
    match item {
        ChatMessage::Message(message) => {
            if keep == 0 {
                return;
            }
            if recent.len() >= keep {
                recent.pop_front();
            }
            recent.push_back(message);
        }
        ChatMessage::PrivateMessage(_) => {}
        change => {
            let id = change.id();
            for m in recent.iter_mut() {
                if m.id == id {
                    m.state.apply(&mut m.content, &change);
                } else if m.state.reply_to == Some(id) {
                    m.state.apply_to_reply(&change);
                }
            }
        }
    }
}
