//! Read markers (`palaver_proto::read_marker`): how far a user has read each conversation.
//!
//! A marker belongs to the user's owner (the account, or a guest's session: see
//! `identity.rs`), so it follows the account from device to device and across sessions. The
//! store moves it, only forward ([`HubIo::read_markers`]); the hub then tells every connection
//! of the user ([`Hub::read_markers_read`]). A joining user, or a device attaching, gets every
//! marker it has right after its `welcome`.

use serde_json::Value;

use palaver_proto::read_marker::ReadMarker;
use palaver_proto::{timestamp, validate, ErrorCode, ServerFrame};

use super::{Hub, HubIo, Outgoing, Refusal, SessionId};
use crate::store::{dm_key, ReadAt, ReadMarkerRecord};

/// Read-marker work for the store, and who asked.
#[derive(Debug, Clone)]
pub struct MarkerWork {
    /// The connection that asked (a device of the user, maybe).
    pub connection: SessionId,
    /// The session of the user whose markers they are.
    pub user: SessionId,
    /// Whose markers: the user's owner.
    pub owner: String,
    /// The user's folded name (to name the other side of a private conversation).
    pub me_key: String,
    pub ask: MarkerAsk,
    pub reference: Option<Value>,
}

#[derive(Debug, Clone)]
pub enum MarkerAsk {
    /// Moves the marker of one conversation (store key) forward to `at`, or (without) reads it.
    Move {
        conversation: String,
        at: Option<ReadAt>,
    },
    /// Reads all of the owner's markers.
    All,
}

impl Hub {
    /// `mark_read`: the conversation must be one the user reads (a room they are in, or their
    /// private conversation with someone).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn mark_read(
        &mut self,
        session: SessionId,
        room: Option<String>,
        with: Option<String>,
        seq: Option<u64>,
        time: Option<String>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let at = match (seq, time) {
            (Some(seq), _) => Some(ReadAt::Seq(seq)),
            (None, Some(t)) => match timestamp::parse_millis(&t) {
                Some(ms) => Some(ReadAt::Time(ms)),
                None => {
                    let message =
                        format!("{t:?} is not a time (RFC 3339, like 2026-11-29T12:00:00.000Z).");
                    let refusal = Refusal::new(ErrorCode::InvalidField, message).about("timestamp");
                    return self.refuse(session, refusal, reference, io);
                }
            },
            (None, None) => None,
        };
        let (_, me_key) = self.user_of(session);
        let conversation = match (room, with) {
            // Moving a room's marker is for its members; reading one's own is for anyone.
            (Some(raw), _) if at.is_some() => {
                let raw = raw.trim_start_matches('#').to_string();
                match self.member_room(session, &raw, &reference, io) {
                    Some(key) => key,
                    None => return,
                }
            }
            (Some(raw), _) => {
                let raw = raw.trim_start_matches('#').to_string();
                let checked = validate::room_name(&raw);
                let Some(name) = self.or_refuse_about(session, checked, &raw, &reference, io)
                else {
                    return;
                };
                validate::fold(&name)
            }
            (None, Some(raw)) => {
                let checked = validate::username(&raw);
                let Some(name) = self.or_refuse_about(session, checked, &raw, &reference, io)
                else {
                    return;
                };
                dm_key(&me_key, &validate::fold(&name))
            }
            (None, None) => return,
        };
        let work = MarkerWork {
            connection: self.connection_asking(session),
            user: session,
            owner: self.sessions[&session].owner(),
            me_key,
            ask: MarkerAsk::Move { conversation, at },
            reference,
        };
        io.read_markers(work);
    }

    /// Reads the user's markers for a connection that just joined or attached.
    pub(super) fn send_read_markers(&mut self, connection: SessionId, io: &mut impl HubIo) {
        let user = self.user_session(connection);
        let Some(s) = self.sessions.get(&user) else {
            return;
        };
        let Some(me) = s.user.as_ref() else {
            return;
        };
        let work = MarkerWork {
            connection,
            user,
            owner: s.owner(),
            me_key: me.key.clone(),
            ask: MarkerAsk::All,
            reference: None,
        };
        io.read_markers(work);
    }

    /// The store's answer to [`HubIo::read_markers`]: a moved marker goes to every connection
    /// of the user (the one that asked gets its `ref`), all markers to the connection that
    /// joined. `None`: the store failed.
    pub fn read_markers_read(
        &mut self,
        work: MarkerWork,
        markers: Option<Vec<ReadMarkerRecord>>,
        io: &mut impl HubIo,
    ) {
        // A marker moved goes to the user's other connections even if the one that asked is
        // gone; what only that connection asked for is then for nobody.
        let moved = matches!(work.ask, MarkerAsk::Move { .. });
        let asker_here = self.sessions.contains_key(&work.connection);
        let user_here = self.sessions.contains_key(&work.user);
        let someone_to_tell = asker_here || (moved && user_here);
        if !someone_to_tell {
            return;
        }
        let Some(markers) = markers else {
            let error = ServerFrame::Error {
                code: ErrorCode::StorageFailed,
                message: ErrorCode::StorageFailed.sentence().into(),
                subject: None,
                reference: work.reference,
            };
            return self.deliver_here(work.connection, &Outgoing::new(error), io);
        };
        self.remember_read_markers(work.user, &markers);
        match work.ask {
            MarkerAsk::Move { conversation, .. } => {
                let record = markers.into_iter().next().unwrap_or(ReadMarkerRecord {
                    conversation,
                    seq: 0,
                    ts_ms: 0,
                });
                let frame = ServerFrame::ReadMarker(ReadMarker {
                    reference: work.reference,
                    ..self.marker_frame(&record, &work.me_key)
                });
                let out = Outgoing::new(frame);
                let (user, connection) = (work.user, work.connection);
                self.answering(user, connection, |hub| hub.send_out(user, &out, io));
            }
            MarkerAsk::All => {
                for record in markers {
                    let frame = ServerFrame::ReadMarker(self.marker_frame(&record, &work.me_key));
                    self.deliver_here(work.connection, &Outgoing::new(frame), io);
                }
            }
        }
        self.reap_slow(io);
    }

    /// Keeps the markers read from the store with the user (for rooms entered later).
    fn remember_read_markers(&mut self, connection: SessionId, markers: &[ReadMarkerRecord]) {
        let user = self.user_session(connection);
        let Some(u) = self.sessions.get_mut(&user).and_then(|s| s.user.as_mut()) else {
            return;
        };
        for m in markers {
            let known = u.read_markers.entry(m.conversation.clone()).or_default();
            if (m.seq, m.ts_ms) > *known {
                *known = (m.seq, m.ts_ms);
            }
        }
    }

    /// The user's marker in a room, as last read from the store.
    pub(super) fn known_read_marker(
        &self,
        session: SessionId,
        room_key: &str,
    ) -> Option<ReadMarker> {
        let user = self.user_session(session);
        let u = self.sessions.get(&user)?.user.as_ref()?;
        let &(seq, ts_ms) = u.read_markers.get(room_key)?;
        let record = ReadMarkerRecord {
            conversation: room_key.to_string(),
            seq,
            ts_ms,
        };
        Some(self.marker_frame(&record, &u.key))
    }

    /// A stored marker as the `read_marker` frame names it: the room's name, or the other
    /// user's name (as shown when they are online here).
    fn marker_frame(&self, record: &ReadMarkerRecord, me_key: &str) -> ReadMarker {
        let (room, with) = match record.conversation.split_once('@') {
            Some((a, b)) => {
                let other = if a == me_key { b } else { a };
                let name = self
                    .users
                    .get(other)
                    .and_then(|s| self.sessions.get(s))
                    .and_then(|s| s.name())
                    .unwrap_or(other);
                (None, Some(name.to_string()))
            }
            None => {
                let name = self
                    .rooms
                    .get(&record.conversation)
                    .map_or(record.conversation.as_str(), |r| r.name.as_str());
                (Some(name.to_string()), None)
            }
        };
        ReadMarker {
            room,
            with,
            seq: record.seq,
            timestamp: (record.ts_ms > 0).then(|| timestamp::format_millis(record.ts_ms)),
            reference: None,
        }
    }
}
