//! The chat core: users, rooms, routing and presence, as a state machine.
//!
//! Commands come in as method calls ([`Hub::connect`], [`Hub::request`], [`Hub::stored`], ...);
//! effects go out through [`HubIo`]. There is no socket, task or lock in here, so the whole chat
//! logic is tested by calling methods and reading what was sent (see `tests.rs`).
//!
//! The life of a public message: [`Hub::request`] validates it, gives it a timestamp, and asks
//! for it to be persisted. The store gives it an id and the next seq of its conversation in the
//! transaction that commits it; when the store reports the batch durable, [`Hub::stored`]
//! acknowledges it to its sender and fans it out: encoded once into `Bytes`, the same buffer is
//! queued for every member. Batches come back in commit order, so within a conversation every
//! client sees seq order, and a room's `last_seq` splits its history (up to it) from live
//! traffic (after it) exactly. On a node of a cluster the messages other nodes committed join
//! the same path, in seq order (`sequence.rs`), and the other nodes' users are known
//! (`remote.rs`).
//!
//! A member whose queue is full is a slow consumer: it is disconnected (after the current
//! fan-out) rather than anyone waiting for it.

mod accounts;
mod apply;
mod claims;
mod devices;
pub(crate) mod identity;
pub mod io;
mod join;
pub mod message_changes;
pub mod moderation;
mod monitor;
mod notices;
pub mod outgoing;
mod profile_requests;
#[cfg(test)]
mod properties;
pub mod read_markers;
pub mod refusal;
mod remote;
mod requests;
pub mod room;
pub use monitor::MONITOR_MAX;
mod room_modes;
pub mod sequence;
pub mod session;
#[cfg(test)]
mod tests;
mod typing;
pub mod uploads;
mod windows;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde_json::Value;

use palaver_proto::{timestamp, validate, ErrorCode, ServerFrame, SystemEvent, DEFAULT_ROOM};

use crate::network::events::NetworkEvent;
use crate::network::fanout::{DirectPost, Post, RoomPost};
use crate::network::presence::{Presence, PresenceChange};
use crate::store::dm_key;
use crate::store::{MessageKind, RoomRecord, StoredMessage};

pub use io::{
    Close, Departure, HistoryQuery, HistoryRead, HubEvent, HubIo, PasswordOp, PasswordRequest,
    ReplayReport, SessionId,
};
pub use outgoing::Outgoing;
pub use refusal::Refusal;
use room::Room;
use session::Session;
pub use session::{Profile, Protocol};

/// Departed users remembered for `whowas`.
const WHOWAS_KEEP: usize = 256;

/// The limits and sizes the hub enforces.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub max_frame_bytes: usize,
    pub max_message_bytes: usize,
    pub max_topic_bytes: usize,
    pub rate_per_second: f64,
    pub rate_burst: u32,
    /// Messages replayed when joining a room.
    pub history_on_join: usize,
    /// The most messages one `history` page returns.
    pub history_page_max: usize,
    pub max_rooms_per_user: usize,
    pub max_rooms: usize,
    /// Missed messages read per page on resume (every missed message is replayed).
    pub max_resume: usize,
    /// Live frames held for a session while its missed messages replay.
    pub catch_up_buffer: usize,
    /// Only people with an account may join.
    pub require_account: bool,
    /// The fewest characters a new password may have (`--min-password-length`).
    pub min_password_chars: usize,
    /// Most members one room may have.
    pub max_members_per_room: usize,
    /// This node's number in its network (a server alone is node 0).
    pub node: crate::network::names::NodeId,
    /// A node of a cluster: rooms are followed while they have members here, and messages,
    /// presence and changes are shared with the other nodes.
    pub clustered: bool,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_frame_bytes: palaver_proto::DEFAULT_MAX_FRAME_BYTES,
            max_message_bytes: 4096,
            max_topic_bytes: 390,
            rate_per_second: 5.0,
            rate_burst: 10,
            history_on_join: 50,
            history_page_max: 200,
            max_rooms_per_user: 50,
            max_rooms: 10_000,
            max_resume: 5_000,
            catch_up_buffer: 511,
            require_account: false,
            min_password_chars: crate::store::accounts::MIN_PASSWORD_CHARS,
            max_members_per_room: 20_000,
            node: 0,
            clustered: false,
        }
    }
}

/// A message on its way to the store, with what is needed to answer for it afterwards.
#[derive(Debug)]
struct Pending {
    /// The connection that sent it (answered with the `ack`).
    origin: SessionId,
    /// The session of the user it was sent as (the same, unless a device sent it).
    user: SessionId,
    reference: Option<Value>,
    /// For private messages: the target's session when it was sent.
    target: Option<SessionId>,
    /// For private messages to a user of another node: that user's connection.
    remote_target: Option<crate::network::names::Holder>,
    /// The sender's address when it was sent.
    source: Arc<str>,
    client_tags: Option<outgoing::ClientTags>,
    /// What IRC clients are told about the sender (see [`Outgoing::sender`]).
    sender: outgoing::Sender,
}

/// A `system` notice to a room's members, with what the frame and IRC's translation need.
#[derive(Debug, Default)]
struct SystemNotice {
    text: String,
    event: Option<SystemEvent>,
    username: String,
    new_username: Option<String>,
    by: Option<String>,
    reason: Option<String>,
    /// The address of the user it is about (for IRC's JOIN/PART/QUIT/NICK/KICK source).
    source: Option<Arc<str>>,
    /// Shared by the copies of one departure or rename sent to several rooms.
    event_seq: Option<u64>,
    /// What IRC clients are told of the user besides the address (a join: `extended-join`).
    sender: outgoing::Sender,
}

/// A connected user, for dashboards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub username: String,
    pub peer: String,
    pub rooms: Vec<String>,
    pub connected_ms: i64,
}

pub struct Hub {
    config: HubConfig,
    /// Session ids are assigned by the server, never by clients: a fast hash is safe.
    sessions: FxHashMap<SessionId, Session>,
    /// Folded username -> session.
    users: HashMap<String, SessionId>,
    /// Folded registered names.
    registered: std::collections::HashSet<String>,
    /// Look-alike keys of registered names -> the name.
    registered_lookalikes: HashMap<String, String>,
    moderation: moderation::Moderation,
    /// Names online as shown, sorted: the welcome lists the first few without sorting everyone.
    names: BTreeSet<String>,
    /// Folded name -> the sessions watching it (`monitor`).
    watchers: HashMap<String, BTreeSet<SessionId>>,
    /// Folded room name -> room.
    rooms: HashMap<String, Room>,
    last_ts: i64,
    pending: VecDeque<Pending>,
    shutting_down: bool,
    /// Sessions whose queue overflowed during the current call; reaped before it returns.
    slow: Vec<SessionId>,
    /// Recently departed users, newest last, for `whowas`.
    whowas: VecDeque<palaver_proto::UserInfo>,
    /// Numbers the copies of per-user events (see [`Outgoing::event`]).
    event_seq: u64,
    max_users_online: usize,
    started_ms: i64,
    /// The users of the other nodes of a cluster.
    remote: remote::RemoteUsers,
    /// Counts the times this node started following a room.
    follow_generation: u64,
    /// Files, when the server takes them (see `uploads.rs`).
    files: Option<uploads::FileGrants>,
    /// A device's request being done as its user: (the user's session, the device's
    /// connection), which gets the answers (see `devices.rs`).
    asking: Option<(SessionId, SessionId)>,
}

impl Hub {
    /// A hub with the stored rooms. Message ids and seqs are the store's to give.
    pub fn new(config: HubConfig, rooms: Vec<RoomRecord>) -> Self {
        let mut hub = Hub {
            config,
            sessions: FxHashMap::default(),
            users: HashMap::new(),
            registered: std::collections::HashSet::new(),
            registered_lookalikes: HashMap::new(),
            moderation: moderation::Moderation::default(),
            names: BTreeSet::new(),
            watchers: HashMap::new(),
            rooms: HashMap::new(),
            last_ts: 0,
            pending: VecDeque::new(),
            shutting_down: false,
            slow: Vec::new(),
            whowas: VecDeque::new(),
            event_seq: 0,
            max_users_online: 0,
            started_ms: timestamp::now_millis(),
            remote: remote::RemoteUsers::default(),
            follow_generation: 0,
            files: None,
            asking: None,
        };
        for r in rooms {
            let mut room = Room::new(r.name, r.key.clone(), r.topic, r.created_ms, r.last_seq);
            if hub.config.clustered {
                room.follow = sequence::Follow::No;
            }
            hub.rooms.insert(r.key.clone(), room);
        }
        hub
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Messages sent to the store and not yet reported back.
    pub fn pending_writes(&self) -> usize {
        self.pending.len()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Everyone joined, sorted by name.
    pub fn users(&self) -> Vec<UserSummary> {
        let mut users: Vec<UserSummary> = self
            .sessions
            .values()
            .filter_map(|s| {
                let user = s.user.as_ref()?;
                Some(UserSummary {
                    username: user.name.clone(),
                    peer: s.peer.clone(),
                    rooms: user
                        .rooms
                        .iter()
                        .filter_map(|k| self.rooms.get(k).map(|r| r.name.clone()))
                        .collect(),
                    connected_ms: s.connected_ms,
                })
            })
            .collect();
        users.sort_by(|a, b| a.username.cmp(&b.username));
        users
    }

    /// A new connection (not joined yet).
    pub fn connect(&mut self, session: SessionId, peer: String, io: &mut impl HubIo) {
        io.event(HubEvent::Connected {
            session,
            peer: peer.clone(),
        });
        let banned = self.address_ban(&peer);
        self.sessions.insert(
            session,
            Session::new(session, peer, timestamp::now_millis()),
        );
        if let Some(message) = banned {
            self.error_to(session, ErrorCode::Banned, message, None, io);
            self.sessions.remove(&session);
            io.close(session, Close::Graceful);
        }
    }

    /// What a connection says about itself before it joins (IRC's USER).
    pub fn identify(&mut self, session: SessionId, profile: Profile) {
        if let Some(s) = self.sessions.get_mut(&session) {
            if s.user.is_none() {
                s.profile = profile;
            }
        }
    }

    /// A connection ended or is to be ended.
    pub fn disconnect(&mut self, session: SessionId, departure: Departure, io: &mut impl HubIo) {
        let how = match departure {
            Departure::Closed(ErrorCode::SlowConsumer) => Close::Abort(ErrorCode::SlowConsumer),
            _ => Close::Graceful,
        };
        let reason = match &departure {
            Departure::Disconnected => None,
            Departure::Quit(reason) => reason.clone(),
            Departure::Closed(ErrorCode::SlowConsumer) => Some("too slow".to_string()),
            Departure::Closed(code) => Some(code.as_str().replace('_', " ")),
        };
        self.remove_session(session, reason, SystemEvent::Disconnected, how, io);
        self.reap_slow(io);
    }

    /// Messages the store reports durable, in id order: acknowledge and fan out.
    pub fn stored(&mut self, batch: Vec<StoredMessage>, io: &mut impl HubIo) {
        for message in batch {
            let Some(pending) = self.pending.pop_front() else {
                tracing::error!(
                    id = message.id,
                    "stored a message the hub was not waiting for"
                );
                continue;
            };
            let source = pending.source.clone();
            let tags = pending.client_tags.clone();
            let ts = timestamp::format_millis(message.ts_ms);
            if let Some(reference) = pending.reference.clone() {
                let ack = ServerFrame::Ack {
                    reference,
                    id: message.id,
                    seq: message.seq,
                    timestamp: ts.clone(),
                };
                self.send_to(pending.origin, &ack, io);
            }
            if message.change.is_some() {
                self.deliver_change(&message, &pending, io);
                self.landed(pending.origin, io);
                continue;
            }
            let mut chat = message.to_chat();
            self.sign_chat(&mut chat);
            match message.kind {
                MessageKind::Public {
                    room,
                    room_key,
                    username,
                    ..
                } => {
                    let frame = chat;
                    if self.config.clustered {
                        let post = RoomPost::new(
                            self.config.node,
                            &room_key,
                            &frame,
                            &source,
                            &tags,
                            pending.sender.clone(),
                        );
                        io.post(Post::Room(post));
                    }
                    let content = message.content;
                    let out = Outgoing::message_from(
                        frame.clone().into_frame(),
                        source,
                        tags,
                        pending.sender.clone(),
                    );
                    self.sequence(&room_key, frame, out, io);
                    io.event(HubEvent::Message {
                        id: message.id,
                        room,
                        username,
                        content,
                    });
                }
                MessageKind::Private {
                    sender,
                    target,
                    target_key,
                    ..
                } => {
                    let target_session = pending.target.filter(|t| {
                        self.sessions
                            .get(t)
                            .and_then(|s| s.user.as_ref())
                            .is_some_and(|u| u.key == target_key)
                    });
                    let live = chat;
                    if let Some(t) = target_session {
                        let out = Outgoing::message_from(
                            live.clone().into_frame(),
                            source.clone(),
                            tags.clone(),
                            pending.sender.clone(),
                        );
                        self.send_out(t, &out, io);
                    } else if let Some(to) = pending.remote_target {
                        let post = DirectPost::new(
                            to,
                            &target_key,
                            &live,
                            &source,
                            &tags,
                            pending.sender.clone(),
                        );
                        io.post(Post::Direct {
                            node: to.node,
                            post,
                        });
                    }
                    let mut state = message.state;
                    self.sign(&mut state);
                    let confirmation = ServerFrame::PrivateConfirmation {
                        state,
                        id: Some(message.id),
                        seq: Some(message.seq),
                        target: target.clone(),
                        content: message.content,
                        delivered: target_session.is_some() || pending.remote_target.is_some(),
                        timestamp: ts,
                        reference: pending.reference,
                    };
                    let out =
                        Outgoing::message_from(confirmation, source, tags, pending.sender.clone());
                    // To every device of the sender; the one that sent it gets its `ref`.
                    let (user, origin) = (pending.user, pending.origin);
                    self.answering(user, origin, |hub| hub.send_out(user, &out, io));
                    io.event(HubEvent::Private {
                        id: message.id,
                        sender,
                        target,
                    });
                }
            }
            self.landed(pending.origin, io);
        }
        self.reap_slow(io);
    }

    /// Messages the store could not write: tell their senders they were not sent.
    pub fn store_failed(&mut self, batch: Vec<StoredMessage>, io: &mut impl HubIo) {
        for _ in batch {
            let Some(pending) = self.pending.pop_front() else {
                continue;
            };
            let error = ServerFrame::Error {
                code: ErrorCode::StorageFailed,
                message: ErrorCode::StorageFailed.sentence().into(),
                subject: None,
                reference: pending.reference,
            };
            self.send_to(pending.origin, &error, io);
            self.landed(pending.origin, io);
        }
        self.reap_slow(io);
    }

    /// The missed messages of a resuming session have been sent: mark the end of the replay and
    /// release the live frames that waited for it.
    pub fn resume_done(&mut self, session: SessionId, report: ReplayReport, io: &mut impl HubIo) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        s.resuming = false;
        let user = s.device_of.unwrap_or(session);
        let me = self
            .sessions
            .get(&user)
            .and_then(|u| u.user.as_ref())
            .map(|u| u.key.clone())
            .unwrap_or_default();
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        // A message committed before the replay read its conversation, but delivered after the
        // session started waiting, came in the replay already.
        let held = s.catch_up.take().unwrap_or_default();
        let held: Vec<Outgoing> = held
            .into_iter()
            .filter(|out| {
                conversation_seq(out.frame(), &me)
                    .is_none_or(|(key, seq)| report.newest.get(&key).is_none_or(|n| seq > *n))
            })
            .collect();
        let marker = Outgoing::new(ServerFrame::Resumed {
            replayed: report.replayed,
            complete: report.complete,
        });
        if s.gate.is_some() {
            // Windows are still on their way: the gate releases the held frames.
            let mut waiting = vec![marker];
            waiting.extend(held);
            s.catch_up = Some(waiting);
            return;
        }
        // What was held was this connection's copy (the user's devices got theirs).
        self.deliver_here(session, &marker, io);
        for out in held {
            self.deliver_here(session, &out, io);
        }
        self.reap_slow(io);
    }

    /// A `server` announcement to everyone joined, on every node.
    pub fn announce(&mut self, message: &str, io: &mut impl HubIo) {
        let event = NetworkEvent::Announce {
            message: message.to_string(),
        };
        self.change(event, io);
    }

    /// A `server` announcement to everyone joined here.
    fn announce_here(&mut self, message: &str, io: &mut impl HubIo) {
        let bytes = Outgoing::new(ServerFrame::Server {
            message: message.to_string(),
            timestamp: timestamp::format_millis(self.now()),
        });
        let joined: Vec<SessionId> = self
            .sessions
            .values()
            .filter(|s| s.user.is_some())
            .map(|s| s.id)
            .collect();
        for s in joined {
            self.deliver(s, &bytes, io);
        }
        io.event(HubEvent::Announced {
            message: message.to_string(),
        });
        self.reap_slow(io);
    }

    /// Removes a user from the server (on whichever node). Returns false if nobody of that
    /// name is online.
    pub fn kick(&mut self, username: &str, reason: &str, io: &mut impl HubIo) -> bool {
        let reason = if reason.trim().is_empty() {
            "no reason given".to_string()
        } else {
            reason.trim().to_string()
        };
        let key = validate::fold(username);
        if let Some(&session) = self.users.get(&key) {
            self.kick_here(session, reason, io);
            return true;
        }
        let Some(holder) = self.remote.get(&key).map(|u| u.holder) else {
            return false;
        };
        self.change(NetworkEvent::Kick { holder, reason }, io);
        true
    }

    /// Removes a user of this node from the server.
    fn kick_here(&mut self, session: SessionId, reason: String, io: &mut impl HubIo) {
        let name = self.sessions[&session]
            .name()
            .unwrap_or_default()
            .to_string();
        let notice = ServerFrame::Error {
            code: ErrorCode::Kicked,
            message: format!("You were removed from the server: {reason}."),
            subject: None,
            reference: None,
        };
        self.send_to(session, &notice, io);
        io.event(HubEvent::Kicked {
            username: name,
            reason: reason.clone(),
        });
        self.remove_session(
            session,
            Some(format!("kicked: {reason}")),
            SystemEvent::Kicked,
            Close::Graceful,
            io,
        );
        self.reap_slow(io);
    }

    /// Tells everyone the server is going down; from now on requests are refused.
    pub fn begin_shutdown(&mut self, io: &mut impl HubIo) {
        if self.shutting_down {
            return;
        }
        self.announce_here("The server is shutting down.", io);
        self.shutting_down = true;
        if self.config.clustered {
            // Its users leave the other nodes' lists now, not when this node falls silent.
            let node = self.config.node;
            io.post(Post::Presence(Presence::Leaving { node }));
        }
    }

    /// Closes every session gracefully (queued frames are still sent).
    pub fn close_all(&mut self, io: &mut impl HubIo) {
        let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
        // IRC ends a link with `ERROR` and the reason (native clients heard the announcement).
        let last_words = Outgoing::new(ServerFrame::error(ErrorCode::ServerShuttingDown));
        for id in ids {
            let irc = self
                .sessions
                .get(&id)
                .is_some_and(|s| s.profile.protocol == Protocol::Irc);
            if irc {
                io.send(id, &last_words);
            }
            let holder = self.holder(id);
            if let Some(user) = self.sessions.remove(&id).and_then(|s| s.user) {
                io.release_name(&user.key, holder);
            }
            io.close(id, Close::Graceful);
        }
        self.users.clear();
        self.names.clear();
        for room in self.rooms.values_mut() {
            room.members.clear();
            room.recent = None;
        }
    }

    // ----- helpers shared with requests.rs -----

    /// Milliseconds now, never earlier than the last timestamp handed out.
    fn now(&mut self) -> i64 {
        self.last_ts = self.last_ts.max(timestamp::now_millis());
        self.last_ts
    }

    fn send_to(&mut self, session: SessionId, frame: &ServerFrame, io: &mut impl HubIo) {
        if self.sessions.contains_key(&session) {
            self.deliver(session, &Outgoing::new(frame.clone()), io);
        }
    }

    fn send_out(&mut self, session: SessionId, out: &Outgoing, io: &mut impl HubIo) {
        self.deliver(session, out, io);
    }

    /// One of the session's messages came back from the store: once none is left, release
    /// the replies that waited for them.
    fn landed(&mut self, session: SessionId, io: &mut impl HubIo) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        s.in_flight = s.in_flight.saturating_sub(1);
        if s.in_flight == 0 && !s.after_in_flight.is_empty() {
            let waiting = std::mem::take(&mut s.after_in_flight);
            for out in waiting {
                self.deliver(session, &out, io);
            }
        }
    }

    /// Refuses a request with an error about nothing in particular (see [`Hub::refuse`]).
    fn error_to(
        &mut self,
        session: SessionId,
        code: ErrorCode,
        message: impl Into<String>,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        self.refuse(session, Refusal::new(code, message), reference, io);
    }

    /// Refuses a request: an `error` frame with the refusal's code, subject and sentence.
    fn refuse(
        &mut self,
        session: SessionId,
        refusal: Refusal,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let frame = ServerFrame::Error {
            code: refusal.code,
            message: refusal.message,
            subject: refusal.subject,
            reference,
        };
        self.send_to(session, &frame, io);
    }

    fn deliver(&mut self, session: SessionId, bytes: &Outgoing, io: &mut impl HubIo) {
        deliver(
            &mut self.sessions,
            &mut self.slow,
            self.config.catch_up_buffer,
            self.asking,
            session,
            bytes,
            io,
        );
    }

    /// Queues a frame for exactly this connection (a device's own `welcome` and rooms).
    fn deliver_here(&mut self, connection: SessionId, bytes: &Outgoing, io: &mut impl HubIo) {
        queue_for(
            &mut self.sessions,
            &mut self.slow,
            self.config.catch_up_buffer,
            connection,
            bytes,
            io,
        );
    }

    /// Queues one frame for every member of a room (except one, if given).
    fn fan_out(
        &mut self,
        room_key: &str,
        bytes: &Outgoing,
        except: Option<SessionId>,
        io: &mut impl HubIo,
    ) {
        let Some(room) = self.rooms.get(room_key) else {
            return;
        };
        for &member in &room.members {
            if Some(member) != except {
                deliver(
                    &mut self.sessions,
                    &mut self.slow,
                    self.config.catch_up_buffer,
                    self.asking,
                    member,
                    bytes,
                    io,
                );
            }
        }
    }

    fn system_to_room(
        &mut self,
        room_key: &str,
        notice: SystemNotice,
        except: Option<SessionId>,
        io: &mut impl HubIo,
    ) {
        let Some(room) = self.rooms.get(room_key) else {
            return;
        };
        let frame = ServerFrame::System {
            message: notice.text,
            timestamp: timestamp::format_millis(timestamp::now_millis()),
            room: Some(room.name.clone()),
            event: notice.event,
            username: Some(notice.username),
            new_username: notice.new_username,
            by: notice.by,
            reason: notice.reason,
        };
        let out = Outgoing::build_from(frame, notice.source, notice.event_seq, notice.sender);
        self.fan_out(room_key, &out, except, io);
    }

    /// The session of the user online under a name a client typed (any case), if any.
    fn online(&self, raw: &str) -> Option<SessionId> {
        let name = validate::username(raw).ok()?;
        self.users.get(&validate::fold(&name)).copied()
    }

    /// The address of a joined session's user.
    fn address(&self, session: SessionId) -> Option<Arc<str>> {
        self.sessions
            .get(&session)
            .and_then(|s| s.user.as_ref())
            .map(|u| u.address.clone())
    }

    fn next_event_seq(&mut self) -> u64 {
        self.event_seq += 1;
        self.event_seq
    }

    /// Takes a member out of a room (and its operators); an empty room forgets its window (and
    /// a cluster node stops following it).
    fn leave_room_quietly(&mut self, session: SessionId, room_key: &str, io: &mut impl HubIo) {
        let Some(room) = self.rooms.get_mut(room_key) else {
            return;
        };
        room.members.remove(&session);
        room.operators.remove(&session);
        room.voiced.remove(&session);
        if room.members.is_empty() {
            room.recent = None;
            self.unfollow(room_key, io);
            if self.remote.count_in(room_key) == 0 {
                self.room_emptied(room_key, io);
            }
        }
    }

    /// Removes a session, telling the rooms it was in that its user left.
    fn remove_session(
        &mut self,
        session: SessionId,
        reason: Option<String>,
        event: SystemEvent,
        how: Close,
        io: &mut impl HubIo,
    ) {
        if self
            .sessions
            .get(&session)
            .is_some_and(|s| s.device_of.is_some())
        {
            return self.detach_device(session, reason, how, io);
        }
        if event == SystemEvent::Disconnected && self.detach_user(session, how.clone(), io) {
            return;
        }
        self.close_devices(session, ErrorCode::Kicked, io);
        let Some(s) = self.sessions.remove(&session) else {
            return;
        };
        let watched: Vec<String> = s.monitoring.iter().cloned().collect();
        self.stop_watching(session, &watched);
        io.close(session, how);
        let Some(user) = s.user else {
            return;
        };
        self.users.remove(&user.key);
        io.release_name(&user.key, self.holder(session));
        self.names.remove(&user.name);
        self.monitor_news(&user.name, false, io);
        self.remember_departed(&s.profile, &user);
        let seq = self.next_event_seq();
        for room_key in &user.rooms {
            self.leave_room_quietly(session, room_key, io);
            let notice = SystemNotice::departure(
                &user.name,
                reason.clone(),
                event,
                user.address.clone(),
                seq,
            );
            self.system_to_room(room_key, notice, None, io);
        }
        let holder = self.holder(session);
        let departed = PresenceChange::Departed {
            holder,
            reason: reason.clone(),
            event,
        };
        self.tell_presence(departed, io);
        io.event(HubEvent::Left {
            username: user.name,
            reason: reason.unwrap_or_else(|| "disconnected".into()),
        });
    }

    /// Disconnects every session found slow, which may find more.
    fn reap_slow(&mut self, io: &mut impl HubIo) {
        while let Some(session) = self.slow.pop() {
            self.remove_session(
                session,
                Some("too slow".into()),
                SystemEvent::Disconnected,
                Close::Abort(ErrorCode::SlowConsumer),
                io,
            );
        }
    }

    fn ensure_default_room(&mut self, io: &mut impl HubIo) {
        if !self.rooms.contains_key(DEFAULT_ROOM) {
            self.create_room(DEFAULT_ROOM.to_string(), io);
        }
    }

    fn create_room(&mut self, name: String, io: &mut impl HubIo) -> String {
        let key = validate::fold(&name);
        let created_ms = timestamp::now_millis();
        io.save_room(RoomRecord {
            key: key.clone(),
            name: name.clone(),
            topic: String::new(),
            created_ms,
            last_seq: 0,
        });
        let mut room = Room::new(name.clone(), key.clone(), String::new(), created_ms, 0);
        if self.config.clustered {
            // Another node may have made it already: its messages, topic and members are read
            // when this node follows it.
            room.follow = sequence::Follow::No;
            let created = NetworkEvent::RoomCreated {
                room_key: key.clone(),
                name,
                created_ms,
            };
            io.publish(&created);
        }
        self.rooms.insert(key.clone(), room);
        key
    }

    /// A room another node made: listed here too (read when someone here enters it).
    pub(super) fn room_created_elsewhere(&mut self, room_key: &str, name: &str, created_ms: i64) {
        if self.rooms.contains_key(room_key) {
            return;
        }
        let mut room = Room::new(
            name.to_string(),
            room_key.to_string(),
            String::new(),
            created_ms,
            0,
        );
        room.follow = sequence::Follow::No;
        self.rooms.insert(room_key.to_string(), room);
    }

    /// The address (`nick!ident@host`) of a user online here or on another node, or one made
    /// up from the name.
    fn address_of_name(&self, name: &str) -> Arc<str> {
        let key = validate::fold(name);
        if let Some(address) = self.users.get(&key).and_then(|&s| self.address(s)) {
            return address;
        }
        match self.remote.get(&key) {
            Some(user) => Arc::from(user.address.as_str()),
            None => session::User::address_of_name(name),
        }
    }
}

/// The conversation (store key) and seq of a stored message's frame, as seen by user `me`.
fn conversation_seq(frame: &ServerFrame, me: &str) -> Option<(String, u64)> {
    let change = |c: &palaver_proto::message_changes::ChangePlace| {
        let key = match (&c.room, &c.target) {
            (Some(room), _) => validate::fold(room),
            (None, target) => dm_key(
                &validate::fold(&c.username),
                &validate::fold(target.as_deref().unwrap_or_default()),
            ),
        };
        Some((key, c.seq))
    };
    match frame {
        ServerFrame::Reaction(c) => change(&c.place),
        ServerFrame::Edited(c) => change(&c.place),
        ServerFrame::Deleted(c) => change(&c.place),
        ServerFrame::Message(m) => Some((validate::fold(&m.room), m.seq)),
        ServerFrame::PrivateMessage(m) => Some((
            dm_key(&validate::fold(&m.sender), &validate::fold(&m.target)),
            m.seq,
        )),
        ServerFrame::PrivateConfirmation {
            seq: Some(seq),
            target,
            ..
        } => Some((dm_key(me, &validate::fold(target)), *seq)),
        _ => None,
    }
}

/// Queues a frame for a user's session: for every connection of the user when it has other
/// devices (see `devices.rs`), else for the session alone.
fn deliver(
    sessions: &mut FxHashMap<SessionId, Session>,
    slow: &mut Vec<SessionId>,
    catch_up_cap: usize,
    asking: Option<(SessionId, SessionId)>,
    session: SessionId,
    bytes: &Outgoing,
    io: &mut impl HubIo,
) {
    match devices::audience(sessions, asking, session, bytes) {
        devices::Audience::One(connection) => {
            queue_for(sessions, slow, catch_up_cap, connection, bytes, io)
        }
        devices::Audience::Several(all) => {
            for (connection, out) in all {
                queue_for(sessions, slow, catch_up_cap, connection, &out, io);
            }
        }
    }
}

/// Queues bytes for one connection, or holds them while it catches up; notes overflow as slow.
fn queue_for(
    sessions: &mut FxHashMap<SessionId, Session>,
    slow: &mut Vec<SessionId>,
    catch_up_cap: usize,
    session: SessionId,
    bytes: &Outgoing,
    io: &mut impl HubIo,
) {
    let Some(s) = sessions.get_mut(&session) else {
        return;
    };
    if s.detached || !bytes.for_wire(s.profile.protocol) {
        return;
    }
    // Once a frame could not be queued, nothing later may be: the client must not see a gap
    // followed by newer messages (it resumes from the newest id it saw).
    if slow.contains(&session) {
        return;
    }
    if let Some(waiting) = &mut s.catch_up {
        if waiting.len() >= catch_up_cap {
            if !slow.contains(&session) {
                slow.push(session);
            }
        } else {
            waiting.push(bytes.clone());
        }
        return;
    }
    if !io.send(session, bytes) && !slow.contains(&session) {
        slow.push(session);
    }
}
