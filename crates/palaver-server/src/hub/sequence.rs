//! A room's messages reach this node's members in seq order, whichever node committed them.
//!
//! A server alone commits every message itself, in order, so it delivers each as the store
//! reports it ([`Follow::Always`]). A node of a cluster also hears the messages other nodes
//! committed (through Redis, for the rooms it *follows*: those with members here), and those may
//! arrive out of order or not at all. So each room delivers only the seq after its `last_seq`;
//! a message further ahead waits in `ahead` while the gap before it is read from the store
//! ([`HubIo::fill_gap`]), and one at or below `last_seq` was delivered already. The store can
//! always fill a gap: a seq is given inside the transaction that commits it, and a node
//! publishes a message only after its commit, so whoever sees seq n can read every seq below.
//!
//! A room with no member here is not followed. When it gets one, the node subscribes, and once
//! the subscription stands it reads the room's newest messages: their newest seq is where
//! delivery starts, and what arrived meanwhile waits in `ahead` ([`Hub::room_followed`],
//! `windows.rs`). When the subscription was lost and renewed, every followed room reads what
//! came after its `last_seq` ([`Hub::bus_connected`]).

use palaver_proto::ChatMessage;

use super::{Hub, HubIo, Outgoing};
use crate::network::fanout::RoomPost;
use crate::store::StoredMessage;

/// The most messages a room keeps waiting for a gap before it; past that they are read from
/// the store once the gap is filled.
const AHEAD_MAX: usize = 10_000;

/// Whether this node hears a room's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// A server alone commits every message itself.
    Always,
    /// No member here: a cluster node does not listen.
    No,
    /// Subscribing (the `generation`-th time); `reading` once the room's newest messages are
    /// being read. Messages that arrive meanwhile wait.
    Subscribing { generation: u64, reading: bool },
    /// Listening, and `last_seq` is known.
    Yes,
}

impl Hub {
    /// A public message (or a change to one) committed here or on another node: delivered to
    /// this node's members in seq order.
    pub(super) fn sequence(
        &mut self,
        room_key: &str,
        message: ChatMessage,
        out: Outgoing,
        io: &mut impl HubIo,
    ) {
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        match room.follow {
            Follow::Always => return self.deliver_public(room_key, message, &out, io),
            Follow::No => return,
            Follow::Subscribing { .. } => {
                match room.ahead.len() < AHEAD_MAX {
                    true => drop(room.ahead.insert(message.seq(), (message, out))),
                    false => room.refill = true,
                }
                return;
            }
            Follow::Yes => {}
        }
        if message.seq() <= room.last_seq {
            return;
        }
        if room.ahead.len() >= AHEAD_MAX {
            // The store is far behind (or away): keep no more, read them from it later.
            room.refill = true;
            return;
        }
        room.ahead.insert(message.seq(), (message, out));
        self.drain(room_key, io);
    }

    /// Delivers what waits in `ahead` up to the first gap, and asks for that gap to be filled.
    pub(super) fn drain(&mut self, room_key: &str, io: &mut impl HubIo) {
        loop {
            let Some(room) = self.rooms.get_mut(room_key) else {
                return;
            };
            let Some(&seq) = room.ahead.keys().next() else {
                return;
            };
            if seq <= room.last_seq {
                room.ahead.remove(&seq);
                continue;
            }
            if seq != room.last_seq + 1 {
                if !room.filling {
                    room.filling = true;
                    io.fill_gap(room_key, room.last_seq, Some(seq));
                }
                return;
            }
            let (message, out) = room.ahead.remove(&seq).expect("first");
            self.deliver_public(room_key, message, &out, io);
        }
    }

    /// Queues a room's message (or change) for its members here and keeps it in the window.
    fn deliver_public(
        &mut self,
        room_key: &str,
        message: ChatMessage,
        out: &Outgoing,
        io: &mut impl HubIo,
    ) {
        self.fan_out(room_key, out, None, io);
        let keep = self.config.history_on_join;
        if let Some(room) = self.rooms.get_mut(room_key) {
            room.last_seq = room.last_seq.max(message.seq());
            room.remember(message, keep);
        }
    }

    /// A message another node committed, in a room this node follows.
    pub fn remote_post(&mut self, post: RoomPost, io: &mut impl HubIo) {
        let out = post.outgoing();
        self.sequence(&post.room_key, post.message, out, io);
        self.reap_slow(io);
    }

    /// The subscription to a room stands: read where the room is (its newest messages, which
    /// become its window).
    pub fn room_followed(&mut self, room_key: &str, generation: u64, io: &mut impl HubIo) {
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        if room.follow
            != (Follow::Subscribing {
                generation,
                reading: false,
            })
        {
            return;
        }
        room.follow = Follow::Subscribing {
            generation,
            reading: true,
        };
        io.load_window(
            room_key.to_string(),
            u64::MAX,
            self.config.history_on_join.max(1),
        );
    }

    /// A gap's moment is over: read it from the store if it is still open, else deliver on.
    pub fn gap_due(&mut self, room_key: &str, before: Option<u64>, io: &mut impl HubIo) {
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        if room.follow != Follow::Yes {
            room.filling = false;
            return;
        }
        let open = before.is_none_or(|b| room.last_seq + 1 < b);
        if open {
            io.read_gap(room_key, room.last_seq, before);
        } else {
            room.filling = false;
            self.drain(room_key, io);
            self.refill_if_asked(room_key, io);
            self.reap_slow(io);
        }
    }

    /// A room as stored, read as this node starts following it: its topic, which this node may
    /// not have heard of (set while the node was not running, or before it listed the room).
    pub fn room_read(&mut self, record: crate::store::RoomRecord) {
        if let Some(room) = self.rooms.get_mut(&record.key) {
            if room.topic != record.topic {
                room.topic = record.topic;
            }
        }
    }

    /// What the store had after a room's `last_seq`: below `before` (the message that showed
    /// the gap), or as far as one read goes (`has_more` when there is more).
    pub fn gap_filled(
        &mut self,
        room_key: &str,
        messages: Vec<StoredMessage>,
        before: Option<u64>,
        has_more: bool,
        io: &mut impl HubIo,
    ) {
        let sources: Vec<_> = messages
            .iter()
            .map(|m| self.address_of_name(m.author()))
            .collect();
        let chats: Vec<ChatMessage> = messages
            .iter()
            .map(|m| {
                let mut chat = m.to_chat();
                self.sign_chat(&mut chat);
                chat
            })
            .collect();
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        room.filling = false;
        if room.follow != Follow::Yes {
            return;
        }
        for (m, source) in chats.into_iter().zip(sources) {
            if m.seq() > room.last_seq {
                let out = RoomPost::stored(room_key, m.clone(), &source).outgoing();
                room.ahead.insert(m.seq(), (m, out));
            }
        }
        if let (Some(before), false) = (before, has_more) {
            // The store has every committed seq below one that arrived: if one below `before`
            // is missing still, it never will be, and waiting for it would stall the room. (A
            // gap beyond `before` opened while this was read: `drain` asks for it.)
            if let Some(&first) = room.ahead.keys().next() {
                if first > room.last_seq + 1 && first <= before {
                    tracing::warn!(room = %room_key, from = room.last_seq + 1, to = first - 1, "seqs missing from the store were skipped");
                    room.last_seq = first - 1;
                }
            }
        }
        self.drain(room_key, io);
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        if has_more && !room.filling {
            room.filling = true;
            io.fill_gap(room_key, room.last_seq, before);
        }
        self.refill_if_asked(room_key, io);
        self.reap_slow(io);
    }

    /// The subscription to the other nodes was (re)made: every followed room reads what it may
    /// have missed meanwhile.
    pub fn bus_connected(&mut self, io: &mut impl HubIo) {
        self.hear_again();
        // The others may have taken this node for dead meanwhile.
        self.send_snapshot(None, io);
        for (key, room) in self.rooms.iter_mut() {
            match room.follow {
                Follow::Yes if !room.filling => {
                    room.filling = true;
                    io.fill_gap(key, room.last_seq, None);
                }
                // A read on its way may end before what was missed: read again after it.
                Follow::Yes | Follow::Subscribing { .. } => room.refill = true,
                Follow::Always | Follow::No => {}
            }
        }
    }

    /// A read of a room ended: if the subscription was renewed meanwhile, read what came after.
    pub(super) fn refill_if_asked(&mut self, room_key: &str, io: &mut impl HubIo) {
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        if room.refill && room.follow == Follow::Yes && !room.filling {
            room.refill = false;
            room.filling = true;
            io.fill_gap(room_key, room.last_seq, None);
        }
    }

    /// This node stops following a room that has no member here any more.
    pub(super) fn unfollow(&mut self, room_key: &str, io: &mut impl HubIo) {
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        if matches!(room.follow, Follow::Always | Follow::No) {
            return;
        }
        room.follow = Follow::No;
        room.ahead.clear();
        room.filling = false;
        room.refill = false;
        room.loading = None;
        io.unfollow_room(room_key);
        // Whoever waited for its window has left it: their gates go on without it.
        self.release_waiting(room_key, io);
    }
}
