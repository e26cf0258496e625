//! Room windows are read off the hub's task: the hub never waits for the store.
//!
//! A room keeps its recent messages in memory while it has members. When a room gets its first
//! member and has history, the hub asks for the window ([`HubIo::load_window`], seqs up to the
//! room's `last_seq`) and goes on; messages delivered meanwhile are kept aside and appended when
//! the window arrives ([`Hub::window_loaded`]). The members who need that window in a reply (the
//! `history` of their `welcome`, their `joined_room`) wait behind a *gate*: their replies are
//! deferred in order ([`AfterWindows`]) and live frames are held for them, as during a resume,
//! until every window they wait for has arrived. A deferred reply shows the window only up to
//! the room's `last_seq` at the moment of joining: everything after it reaches the session live
//! (held meanwhile). So a slow store delays only whoever joins a room that was empty, and nobody
//! sees a message twice or misses one.

use serde_json::Value;

use palaver_proto::{ChatMessage, ServerFrame, Welcome, DEFAULT_ROOM};

use super::sequence::Follow;
use super::session::{AfterWindows, Gate};
use super::{Hub, HubIo, SessionId};
use crate::store::StoredMessage;

impl Hub {
    /// Makes sure the room's window is in memory; false while it is being read (the caller then
    /// waits behind a gate).
    pub(super) fn activate_room(&mut self, room_key: &str, io: &mut impl HubIo) -> bool {
        let limit = self.config.history_on_join;
        let Some(room) = self.rooms.get_mut(room_key) else {
            return true;
        };
        if room.recent.is_some() {
            return true;
        }
        if room.loading.is_some() {
            return false;
        }
        if room.follow == Follow::No {
            // A cluster node hears the room from now on; its window is read once it does.
            self.follow_generation += 1;
            let generation = self.follow_generation;
            room.follow = Follow::Subscribing {
                generation,
                reading: false,
            };
            room.loading = Some(Vec::new());
            io.follow_room(room_key, generation);
            return false;
        }
        if room.last_seq == 0 || limit == 0 {
            // Nothing stored (or nothing to show): no read needed.
            room.recent = Some(Default::default());
            return true;
        }
        room.loading = Some(Vec::new());
        // Only what was delivered: a message stored but not yet delivered arrives live.
        io.load_window(room_key.to_string(), room.last_seq + 1, limit);
        false
    }

    /// The answer to [`HubIo::load_window`]: the room's recent messages, oldest first.
    pub fn window_loaded(
        &mut self,
        room_key: &str,
        stored: Vec<StoredMessage>,
        io: &mut impl HubIo,
    ) {
        let keep = self.config.history_on_join;
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        let subscribing = matches!(room.follow, Follow::Subscribing { .. });
        if matches!(room.follow, Follow::Subscribing { reading: false, .. }) {
            // A window read before this subscription stood: the one asked for is on its way.
            return;
        }
        let Some(arrived) = room.loading.take() else {
            return;
        };
        if subscribing {
            // Where the room is now: delivery here starts after its newest message.
            room.follow = Follow::Yes;
            if let Some(newest) = stored.last() {
                room.last_seq = room.last_seq.max(newest.seq);
            }
        }
        if room.members.is_empty() {
            // Everyone left while it was read: it will be read again when someone comes.
            room.recent = None;
        } else {
            let mut window = std::collections::VecDeque::new();
            let read = stored.iter().map(|m| {
                let mut chat = m.to_chat();
                self.sign_chat(&mut chat);
                chat
            });
            let read: Vec<ChatMessage> = read.collect();
            let Some(room) = self.rooms.get_mut(room_key) else {
                return;
            };
            for item in read.into_iter().chain(arrived) {
                super::room::remember_in(&mut window, item, keep);
            }
            room.recent = Some(window);
        }
        self.release_waiting(room_key, io);
        if subscribing {
            // What other nodes committed meanwhile, after the window.
            self.drain(room_key, io);
            self.refill_if_asked(room_key, io);
        }
        self.reap_slow(io);
    }

    /// The sessions that waited for a room's window stop waiting for it (it arrived, or the
    /// room is no longer followed); a gate with nothing left to wait for opens.
    pub(super) fn release_waiting(&mut self, room_key: &str, io: &mut impl HubIo) {
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        let waiting = std::mem::take(&mut room.waiting);
        for session in waiting {
            let open = match self
                .sessions
                .get_mut(&session)
                .and_then(|s| s.gate.as_mut())
            {
                Some(gate) => {
                    gate.rooms.retain(|k| k != room_key);
                    gate.rooms.is_empty()
                }
                None => false,
            };
            if open {
                self.open_gate(session, io);
            }
        }
    }

    /// Does `then` for the session once the windows of `awaiting` are in memory: at once if
    /// they are (and nothing earlier is still waiting), otherwise behind its gate, holding its
    /// live frames meanwhile.
    pub(super) fn after_windows(
        &mut self,
        session: SessionId,
        awaiting: Vec<String>,
        then: Vec<AfterWindows>,
        io: &mut impl HubIo,
    ) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        if awaiting.is_empty() && s.gate.is_none() {
            for step in then {
                self.after_window_step(session, step, io);
            }
            return;
        }
        let gate = s.gate.get_or_insert_with(Box::<Gate>::default);
        gate.rooms.extend(awaiting.iter().cloned());
        gate.then.extend(then);
        s.catch_up.get_or_insert_with(Vec::new);
        for key in awaiting {
            if let Some(room) = self.rooms.get_mut(&key) {
                room.waiting.push(session);
            }
        }
    }

    /// Every window the session waited for is here: send what waited, in order, then what
    /// was held (unless a resume still holds it).
    fn open_gate(&mut self, session: SessionId, io: &mut impl HubIo) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let Some(gate) = s.gate.take() else {
            return;
        };
        let gate = *gate;
        let held = s.catch_up.take().unwrap_or_default();
        for step in gate.then {
            self.after_window_step(session, step, io);
        }
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        if s.resuming {
            // The replay ends it (`resume_done`); what was held stays ahead of what it holds.
            let later = s.catch_up.take().unwrap_or_default();
            s.catch_up = Some(held.into_iter().chain(later).collect());
        } else {
            // What was held was this connection's copy (the user's devices got theirs).
            for out in held {
                self.deliver_here(session, &out, io);
            }
        }
    }

    fn after_window_step(&mut self, session: SessionId, step: AfterWindows, io: &mut impl HubIo) {
        match step {
            AfterWindows::Welcome {
                mut welcome,
                history_upto,
            } => {
                if let Some(upto) = history_upto {
                    let upto = upto.min(self.delivered_seq(DEFAULT_ROOM));
                    welcome.history = self.window_of(DEFAULT_ROOM, upto);
                }
                // The rooms as they are now: a room this node started following was read
                // meanwhile (its last seq, its members elsewhere).
                for info in welcome.rooms.iter_mut() {
                    let key = palaver_proto::validate::fold(&info.name);
                    if let Some(room) = self.rooms.get(&key) {
                        // A room that was being subscribed to at the join: up to its window.
                        let last_seq = match info.last_seq {
                            u64::MAX => room.last_seq,
                            upto => upto,
                        };
                        *info = palaver_proto::RoomInfo {
                            last_seq,
                            ..self.room_info(room)
                        };
                    }
                }
                self.send_to(session, &ServerFrame::Welcome(welcome), io);
            }
            AfterWindows::JoinedRoom {
                room_key,
                reference,
                upto,
            } => {
                // Not if it left the room while it waited.
                let user = self.user_session(session);
                let member = self
                    .rooms
                    .get(&room_key)
                    .is_some_and(|r| r.members.contains(&user));
                if member {
                    self.send_joined_room(session, &room_key, upto, reference, io);
                }
            }
            AfterWindows::Refuse(refusal, reference) => {
                self.refuse(session, refusal, reference, io)
            }
            AfterWindows::Resume { cursors, room_keys } => {
                self.start_resume(session, cursors, &room_keys, io)
            }
        }
    }

    /// A room's window up to seq `upto`, as history entries. What came after reached the
    /// session live (held while it waited), so it is not shown twice.
    pub(super) fn window_of(&self, room_key: &str, upto: u64) -> Vec<ChatMessage> {
        self.rooms
            .get(room_key)
            .map(|r| {
                r.recent_messages()
                    .into_iter()
                    .filter(|m| m.seq <= upto)
                    .map(|mut m| {
                        // Links good for a while from now, not from when the window was read.
                        self.sign(&mut m.state);
                        ChatMessage::Message(m)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Hub {
    /// A `welcome` to send once the windows are in, with general's window as its history if
    /// asked (up to what was delivered now: what comes later reaches the session live).
    pub(super) fn welcome_step(&self, welcome: Welcome, with_history: bool) -> AfterWindows {
        AfterWindows::Welcome {
            welcome: Box::new(welcome),
            history_upto: with_history.then(|| self.last_seq_of(DEFAULT_ROOM)),
        }
    }

    /// A `joined_room` to send once the room's window is in.
    pub(super) fn joined_room_step(
        &self,
        room_key: &str,
        reference: Option<Value>,
    ) -> AfterWindows {
        AfterWindows::JoinedRoom {
            room_key: room_key.to_string(),
            reference,
            upto: self.last_seq_of(room_key),
        }
    }

    /// The seq of the room's newest message delivered here.
    pub(super) fn delivered_seq(&self, room_key: &str) -> u64 {
        self.rooms.get(room_key).map_or(0, |r| r.last_seq)
    }

    /// Up to where a joiner's window goes: what was delivered so far (what comes later reaches
    /// the joiner live), or all of it while a cluster node subscribes (nothing is delivered
    /// before the window is read; the bound is then the room's last seq when the window is
    /// shown).
    pub(super) fn last_seq_of(&self, room_key: &str) -> u64 {
        self.rooms.get(room_key).map_or(0, |r| match r.follow {
            Follow::Subscribing { .. } => u64::MAX,
            _ => r.last_seq,
        })
    }
}
