//! Read markers in the apps: how far the user has read each conversation, on any device.
//!
//! The server keeps one marker per conversation for the account and tells every connection
//! when it moves (`read_marker`). Here, a marker clears what it covers from the unread and
//! mention counts, so reading a room on the phone or in the browser clears its badge on the
//! desktop. The other way round, the conversation shown (while the window has the focus) is
//! marked read up to its newest message, at most once a second per conversation.

use std::collections::HashMap;

use palaver_proto::read_marker::ReadMarker;
use palaver_proto::{validate, ClientFrame};

use crate::model::{ChatModel, Conversation, ConversationId, Line, LineKind};

/// The least time between two `mark_read`s of one conversation (milliseconds).
const MARK_EVERY_MS: i64 = 1_000;

/// What the app knows of the markers: the server's, and what it asked for.
#[derive(Debug, Clone, Default)]
pub struct ReadMarkers {
    /// The server's marker per conversation (seq of the newest message read).
    known: HashMap<ConversationId, u64>,
    /// The last `mark_read` sent per conversation: its seq, and when.
    sent: HashMap<ConversationId, (u64, i64)>,
}

impl ReadMarkers {
    /// The seq read up to in a conversation (0: nothing).
    pub fn read_up_to(&self, id: &ConversationId) -> u64 {
        self.known.get(id).copied().unwrap_or(0)
    }

    /// Forgets what was asked (a new connection asks again).
    pub fn reconnected(&mut self) {
        self.sent.clear();
    }
}

/// Whether a line counts as unread when it is after the marker: a message from someone else.
pub fn counts_as_unread(line: &Line) -> bool {
    matches!(line.kind, LineKind::Other | LineKind::PrivateReceived) && !line.state.deleted
}

impl Conversation {
    /// Counts the unread messages and mentions again: those after `read` from others.
    fn recount(&mut self, read: u64) {
        let after = self
            .lines
            .iter()
            .filter(|l| counts_as_unread(l) && l.seq.is_some_and(|s| s > read));
        let (unread, mentions) =
            after.fold((0, 0), |(u, m), l| (u + 1, m + usize::from(l.mention)));
        self.unread = unread;
        self.mentions = mentions;
    }

    /// The seq of the newest message shown.
    fn newest_seq(&self) -> Option<u64> {
        self.lines.iter().filter_map(|l| l.seq).max()
    }

    /// The `mark_read` for this conversation up to `seq`.
    fn mark_read(&self, seq: u64) -> ClientFrame {
        let (room, with) = match &self.id {
            ConversationId::Room(_) => (Some(self.title.clone()), None),
            ConversationId::Direct(_) => (None, Some(self.title.clone())),
        };
        ClientFrame::MarkRead {
            room,
            with,
            seq: Some(seq),
            timestamp: None,
        }
    }
}

impl ChatModel {
    /// A marker from the server (set here or on another device): what it covers is read.
    pub fn apply_read_marker(&mut self, marker: &ReadMarker) {
        let id = match (&marker.room, &marker.with) {
            (Some(room), _) => ConversationId::Room(validate::fold(room)),
            (None, Some(with)) => ConversationId::Direct(validate::fold(with)),
            _ => return,
        };
        let known = self.read_markers.known.entry(id.clone()).or_default();
        if marker.seq <= *known {
            return;
        }
        *known = marker.seq;
        let read = *known;
        if let Some(i) = self.find(&id) {
            if i == self.active {
                return;
            }
            self.conversations[i].recount(read);
        }
    }

    /// Whether a new line in `id` at `seq` is unread: not covered by the marker.
    pub fn is_after_marker(&self, id: &ConversationId, seq: Option<u64>) -> bool {
        seq.is_none_or(|s| s > self.read_markers.read_up_to(id))
    }

    /// The `mark_read` due for the conversation shown, if its newest message is past what the
    /// server knows and was asked (the caller sends it; at most one a second each).
    pub fn mark_read_due(&mut self, now_ms: i64) -> Option<ClientFrame> {
        let c = self.active()?;
        let newest = c.newest_seq()?;
        let id = c.id.clone();
        if newest <= self.read_markers.read_up_to(&id) {
            return None;
        }
        if let Some(&(seq, at)) = self.read_markers.sent.get(&id) {
            if newest <= seq || now_ms - at < MARK_EVERY_MS {
                return None;
            }
        }
        let frame = c.mark_read(newest);
        self.read_markers.sent.insert(id, (newest, now_ms));
        Some(frame)
    }

    /// Milliseconds until a throttled `mark_read` may go, if one waits.
    pub fn mark_read_wait(&self, now_ms: i64) -> Option<i64> {
        let c = self.active()?;
        let newest = c.newest_seq()?;
        let &(seq, at) = self.read_markers.sent.get(&c.id)?;
        (newest > seq && newest > self.read_markers.read_up_to(&c.id))
            .then(|| (at + MARK_EVERY_MS - now_ms).max(0))
    }
}

#[cfg(test)]
mod tests {
    use palaver_client::Event;
    use palaver_proto::{ChatMessage, PrivateMessage, PublicMessage, ServerFrame};

    use super::*;

    fn message(seq: u64, from: &str, text: &str) -> ServerFrame {
        ServerFrame::Message(PublicMessage {
            id: 100 + seq,
            seq,
            room: "general".into(),
            username: from.into(),
            content: text.into(),
            timestamp: "2026-11-29T12:00:00.000Z".into(),
            state: Default::default(),
        })
    }

    fn marker(room: &str, seq: u64) -> ServerFrame {
        ServerFrame::ReadMarker(ReadMarker {
            room: Some(room.into()),
            with: None,
            seq,
            timestamp: Some("2026-11-29T12:00:00.000Z".into()),
            reference: None,
        })
    }

    /// dana, with general and a private conversation with bob; bob's conversation shown.
    fn model() -> ChatModel {
        let mut m = ChatModel::new("dana", "server");
        m.apply(Event::Frame(message(1, "bob", "first")));
        let dm = ServerFrame::PrivateMessage(PrivateMessage {
            id: 50,
            seq: 1,
            sender: "bob".into(),
            target: "dana".into(),
            content: "psst".into(),
            timestamp: "2026-11-29T12:00:00.000Z".into(),
            state: Default::default(),
        });
        m.apply(Event::Frame(dm));
        let i = m.find(&ConversationId::Direct("bob".into())).unwrap();
        m.select(i);
        m
    }

    fn general(m: &ChatModel) -> &Conversation {
        &m.conversations[m.find(&ConversationId::Room("general".into())).unwrap()]
    }

    #[test]
    fn a_marker_from_another_device_clears_what_it_covers() {
        let mut m = model();
        m.apply(Event::Frame(message(2, "bob", "hey dana")));
        m.apply(Event::Frame(message(3, "dana", "(from my phone)")));
        m.apply(Event::Frame(message(4, "carol", "lunch?")));
        // bob's second and carol's (the first came while general was shown); not dana's own.
        assert_eq!((general(&m).unread, general(&m).mentions), (2, 1));
        // The phone read general up to 2: carol's message is still unread; dana's own never is.
        m.apply(Event::Frame(marker("General", 2)));
        assert_eq!((general(&m).unread, general(&m).mentions), (1, 0));
        // A marker never goes back.
        m.apply(Event::Frame(marker("general", 1)));
        assert_eq!(general(&m).unread, 1);
        m.apply(Event::Frame(marker("general", 4)));
        assert_eq!(general(&m).unread, 0);
        // A message the marker covers (a replay) is not unread.
        m.apply(Event::Frame(message(3, "bob", "replayed")));
        assert_eq!(general(&m).unread, 0);
        m.apply(Event::Frame(message(5, "bob", "new")));
        assert_eq!(general(&m).unread, 1);
    }

    #[test]
    fn the_conversation_shown_is_marked_read_once_a_second_at_most() {
        let mut m = model();
        let Some(ClientFrame::MarkRead { with, seq, .. }) = m.mark_read_due(10_000) else {
            panic!("bob's conversation is due");
        };
        assert_eq!((with.as_deref(), seq), (Some("bob"), Some(1)));
        assert_eq!(m.mark_read_due(10_100), None, "asked already");
        let dm = |seq| {
            ServerFrame::PrivateMessage(PrivateMessage {
                id: 60 + seq,
                seq,
                sender: "bob".into(),
                target: "dana".into(),
                content: "more".into(),
                timestamp: "2026-11-29T12:00:00.000Z".into(),
                state: Default::default(),
            })
        };
        m.apply(Event::Frame(dm(2)));
        assert_eq!(m.mark_read_due(10_500), None, "within the second");
        assert_eq!(m.mark_read_wait(10_500), Some(500));
        assert!(m.mark_read_due(11_000).is_some());
        // Once the server's marker covers it, nothing is due.
        let answer = ServerFrame::ReadMarker(ReadMarker {
            room: None,
            with: Some("Bob".into()),
            seq: 2,
            timestamp: None,
            reference: None,
        });
        m.apply(Event::Frame(answer));
        assert_eq!(m.mark_read_due(20_000), None);
        assert_eq!(m.mark_read_wait(20_000), None);
        let _ = ChatMessage::Message;
    }
}
