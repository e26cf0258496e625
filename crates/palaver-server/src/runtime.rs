//! The hub's task: it owns the [`Hub`], feeds it messages from the connections and the store, and
//! carries out the effects it asks for.
//!
//! One task, one owner: the hub's state is never shared, so there is no lock to hold across an
//! await. Store completions are drained before new requests (`biased`), which keeps the store
//! pipeline short. Reads that could take a while (history pages, resume replays) run on the
//! blocking pool and send their frames straight into the session's queue.

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use palaver_proto::{ErrorCode, Request, ServerFrame};

use crate::hub::moderation::ModerationRecord;
use crate::hub::{
    Close, Departure, HistoryQuery, HistoryRead, Hub, HubEvent, HubIo, Outgoing, PasswordOp,
    PasswordRequest, Profile, ReplayReport, SessionId, UserSummary,
};
use crate::metrics::Metrics;
use crate::network::events::NetworkEvent;
use crate::network::fanout::{DirectPost, Post, RoomPost};
use crate::network::names::{ClaimAnswer, Holder, LocalNames, NameClaim, NameRegistry};
use crate::network::presence::Presence;
use crate::network::redis_bus::RedisBus;
use crate::passwords::{Attempt, Passwords};
use crate::queue::{OutboundQueue, Push};
use crate::store::accounts::Accounts;
use crate::store::{
    Conversation, PageQuery, ReadPool, ResumeScope, RoomRecord, StoreDone, StoredMessage, WriteOp,
};

/// What a connection's tasks are told by the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    Open,
    /// The session joined: stop the join timer.
    Joined,
    /// Send what is queued, then close.
    Close,
    /// Close now with this error.
    Abort(ErrorCode),
}

/// Turns hub frames into a connection's wire format (IRC lines, say), with whatever per
/// connection state that needs. Runs on the hub's task, so it must be quick.
pub trait Translator: Send + Sync + std::fmt::Debug {
    /// The bytes to queue for this frame; `None` when the frame means nothing on this wire.
    fn translate(&self, out: &Outgoing) -> Option<Bytes>;
}

/// How a connection wants hub frames written.
#[derive(Debug, Clone)]
pub enum Wire {
    /// The native protocol: one JSON line per frame, encoded once per fan-out.
    Json,
    Translated(Arc<dyn Translator>),
}

impl Wire {
    pub fn encode(&self, out: &Outgoing) -> Option<Bytes> {
        match self {
            Wire::Json => Some(out.json()),
            Wire::Translated(t) => t.translate(out),
        }
    }
}

/// The hub's grip on one connection.
#[derive(Debug)]
pub struct SessionHandle {
    pub queue: Arc<OutboundQueue>,
    pub control: watch::Sender<Control>,
    pub wire: Wire,
}

impl SessionHandle {
    /// Queues a frame without waiting; false if the queue is full.
    fn offer(&self, out: &Outgoing) -> bool {
        match self.wire.encode(out) {
            Some(bytes) => self.queue.try_push(bytes) != Push::Full,
            None => true,
        }
    }
}

/// Messages to the hub task.
#[derive(Debug)]
pub enum HubMsg {
    Register {
        session: SessionId,
        peer: String,
        handle: SessionHandle,
    },
    Request {
        session: SessionId,
        request: Request,
    },
    /// What the connection says about itself before joining.
    Identify {
        session: SessionId,
        profile: Profile,
    },
    /// The answer to a password check.
    PasswordChecked {
        session: SessionId,
        key: String,
        result: Result<(), ErrorCode>,
    },
    AccountCreated {
        session: SessionId,
        key: String,
        name: String,
        result: Result<(), ErrorCode>,
    },
    PasswordChanged {
        session: SessionId,
        result: Result<(), ErrorCode>,
    },
    /// A change to shared facts made on another node.
    Network(NetworkEvent),
    /// Who comes and goes on another node.
    Presence(Presence),
    /// A message another node committed, in a room this node follows.
    RemotePost(Box<RoomPost>),
    /// A private message another node sends one of this node's connections.
    RemoteDirect(Box<DirectPost>),
    /// A frame that is not stored, from another node (a `NOTICE`, a `TAGMSG`).
    Relayed(Box<crate::network::fanout::Relay>),
    /// This node now hears a room's messages.
    RoomFollowed {
        room_key: String,
        generation: u64,
    },
    /// A room's messages read to fill a gap.
    GapFilled {
        room_key: String,
        messages: Vec<StoredMessage>,
        /// The seq that showed the gap (the read is below it), if one did.
        before: Option<u64>,
        has_more: bool,
    },
    /// A gap's moment is over (see `HubIo::fill_gap`).
    GapDue {
        room_key: String,
        before: Option<u64>,
    },
    /// The subscription to the other nodes was made, or made again after a drop.
    BusConnected,
    /// The subscription to the other nodes dropped (it is being made again).
    BusLost,
    /// The stored moderation and rooms, read again after the subscription came back.
    SharedState {
        moderation: crate::hub::moderation::ModerationState,
        rooms: Vec<RoomRecord>,
    },
    /// Time to look for nodes gone silent.
    ClusterTick,
    /// The name registry's answer to a claim it could not answer at once.
    NameClaimed {
        claim: NameClaim,
        answer: ClaimAnswer,
    },
    /// A join's name, asked for once more (see `HubIo::claim_name_later`).
    ClaimAgain {
        claim: NameClaim,
    },
    /// A history page (or its refusal) is queued.
    HistoryDone {
        session: SessionId,
    },
    /// Bytes to queue for the session in order with the hub's own replies (the IRC listener's
    /// local answers, which must not overtake replies to earlier commands).
    Relay {
        session: SessionId,
        bytes: Bytes,
    },
    Gone {
        session: SessionId,
        departure: Departure,
    },
    ResumeDone {
        session: SessionId,
        report: ReplayReport,
    },
    /// A room as stored, read when this node starts following it (its topic may be news here).
    RoomRead(RoomRecord),
    /// A room's recent messages, read for `Hub::window_loaded`.
    /// The message a request named (see `hub/message_changes.rs`).
    MessageFound {
        lookup: Box<crate::hub::message_changes::MessageLookup>,
        message: Option<Box<StoredMessage>>,
        files: Vec<crate::store::FileRecord>,
    },
    /// Read markers moved or read (`None`: the store failed; see `hub/read_markers.rs`).
    ReadMarkers {
        work: Box<crate::hub::read_markers::MarkerWork>,
        markers: Option<Vec<crate::store::ReadMarkerRecord>>,
    },
    WindowLoaded {
        room_key: String,
        messages: Vec<StoredMessage>,
    },
    Announce(String),
    Kick {
        username: String,
        reason: String,
        reply: oneshot::Sender<bool>,
    },
    /// The operator bans a name (the dashboard's Ban button).
    Ban {
        username: String,
        minutes: Option<u64>,
        reason: String,
    },
    Users(oneshot::Sender<Vec<UserSummary>>),
    Shutdown(oneshot::Sender<()>),
}

/// Something that happened on the server, for the log and dashboards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerEvent {
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub event: HubEvent,
}

/// Carries out the hub's effects with real queues, the store and the blocking pool.
pub struct RuntimeIo {
    /// Session ids are ours (sequential), so a fast non-DoS-resistant hash is safe here.
    sessions: FxHashMap<SessionId, SessionHandle>,
    writes: Vec<WriteOp>,
    /// Shared read connection for windows, history pages and replays, used on the blocking
    /// pool (the hub itself never reads: it never waits for the store).
    reads: ReadPool,
    hub_tx: mpsc::WeakSender<HubMsg>,
    events: broadcast::Sender<ServerEvent>,
    /// Moderation changes, to be stored in order by their own thread (see
    /// [`RuntimeIo::store_moderation_in`]).
    moderation_writes: Option<std::sync::mpsc::Sender<ModerationRecord>>,
    moderation_writer: Option<std::thread::JoinHandle<()>>,
    /// The accounts and moderation store (read again when a cluster node's subscription came
    /// back).
    accounts: Option<Arc<Accounts>>,
    /// Password checks and changes: throttled, hashed on threads of their own.
    pub passwords: Option<Passwords>,
    /// Who holds which name (a server alone: in memory, answered at once).
    pub names: Box<dyn NameRegistry>,
    /// The other nodes of a cluster, through Redis.
    pub bus: Option<RedisBus>,
    /// Files (their links are signed on the way out), when the server takes them.
    pub files: Option<Arc<crate::files::Files>>,
    metrics: Arc<Metrics>,
    /// Frames queued since the last flush into `metrics` (counted here, added once per message
    /// to the hub: the fan-out path takes no atomic per delivery).
    delivered: u64,
}

impl RuntimeIo {
    pub fn new(
        reads: ReadPool,
        hub_tx: mpsc::WeakSender<HubMsg>,
        events: broadcast::Sender<ServerEvent>,
        metrics: Arc<Metrics>,
    ) -> Self {
        RuntimeIo {
            sessions: FxHashMap::default(),
            writes: Vec::new(),
            reads,
            hub_tx,
            events,
            moderation_writes: None,
            moderation_writer: None,
            accounts: None,
            passwords: None,
            names: Box::new(LocalNames::default()),
            bus: None,
            files: None,
            metrics,
            delivered: 0,
        }
    }
}

impl RuntimeIo {
    /// Stores moderation changes in `accounts`, one after another on a thread of their own, so
    /// that a ban and its lifting are stored in the order they were made.
    pub fn store_moderation_in(&mut self, accounts: Arc<Accounts>) -> std::io::Result<()> {
        self.accounts = Some(Arc::clone(&accounts));
        let (tx, rx) = std::sync::mpsc::channel::<ModerationRecord>();
        let writer = std::thread::Builder::new()
            .name("palaver-moderation-writer".into())
            .spawn(move || {
                for record in rx {
                    if let Err(e) = accounts.save_moderation(&record) {
                        tracing::error!(error = %e, ?record, "cannot store a moderation change");
                    }
                }
            })?;
        self.moderation_writes = Some(tx);
        self.moderation_writer = Some(writer);
        Ok(())
    }
}

impl RuntimeIo {
    /// Reads the stored moderation and rooms for [`Hub::reload_shared`] (what other nodes
    /// changed while this one heard nothing), trying again until the store answers.
    fn read_shared_state(&self) {
        let (Some(hub), Some(accounts), reads) = (
            self.hub_tx.upgrade(),
            self.accounts.clone(),
            self.reads.clone(),
        ) else {
            return;
        };
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(100);
            loop {
                let (accounts, reads) = (Arc::clone(&accounts), reads.clone());
                let read = tokio::task::spawn_blocking(move || {
                    let moderation = accounts.load_moderation()?;
                    let rooms = reads.read(|db| db.rooms())?;
                    Ok::<_, crate::store::StoreError>((moderation, rooms))
                })
                .await;
                match read {
                    Ok(Ok((moderation, rooms))) => {
                        let _ = hub.send(HubMsg::SharedState { moderation, rooms }).await;
                        return;
                    }
                    other => {
                        tracing::warn!(
                            ?other,
                            "could not read the stored moderation and rooms; trying again"
                        );
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                        if hub.is_closed() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

impl Drop for RuntimeIo {
    /// Whatever moderation was decided is stored before the server stops.
    fn drop(&mut self) {
        self.moderation_writes = None;
        if let Some(writer) = self.moderation_writer.take() {
            let _ = writer.join();
        }
    }
}

/// Messages read per gap filled.
const GAP_FILL_PAGE: usize = 1000;
/// How long a gap may wait for the missing message to arrive through Redis before it is read
/// from the store.
const GAP_GRACE: Duration = Duration::from_millis(10);

/// How long a join whose name is taken waits before asking once more: a connection that closed
/// a moment ago may still hold it, its departure on the way to the hub while the new one's join
/// overtook it (the reconnecting client gets its name instead of 433).
const CLAIM_AGAIN_AFTER: Duration = Duration::from_millis(30);

/// How long a history page or replay may wait for room in a slow client's queue.
const QUEUE_WAIT: Duration = Duration::from_secs(30);

impl HubIo for RuntimeIo {
    fn send(&mut self, session: SessionId, frame: &Outgoing) -> bool {
        if let ServerFrame::Error { code, .. } = frame.frame() {
            self.metrics.refused(*code);
        }
        match self.sessions.get(&session) {
            Some(handle) => {
                self.delivered += 1;
                handle.offer(frame)
            }
            None => true,
        }
    }

    fn close(&mut self, session: SessionId, how: Close) {
        if how == Close::Abort(ErrorCode::SlowConsumer) {
            self.metrics.slow_consumers.inc();
        }
        if let Some(handle) = self.sessions.remove(&session) {
            let control = match how {
                Close::Graceful => Control::Close,
                Close::Abort(code) => Control::Abort(code),
            };
            let _ = handle.control.send(control);
        }
    }

    fn joined(&mut self, session: SessionId, _username: &str) {
        self.metrics.joins.inc();
        if let Some(handle) = self.sessions.get(&session) {
            let _ = handle.control.send(Control::Joined);
        }
    }

    fn persist(&mut self, message: StoredMessage) {
        self.writes.push(WriteOp::Message(message));
    }

    fn find_message(&mut self, lookup: crate::hub::message_changes::MessageLookup) {
        let (Some(hub), reads) = (self.hub_tx.upgrade(), self.reads.clone()) else {
            return;
        };
        tokio::spawn(async move {
            let (id, ids) = (lookup.id, lookup.files.clone());
            let read = tokio::task::spawn_blocking(move || {
                reads.read(|db| {
                    let message = match id {
                        Some(id) => db.message(id)?,
                        None => None,
                    };
                    let files = match ids.is_empty() {
                        true => Vec::new(),
                        false => db.files(&ids)?,
                    };
                    Ok((message, files))
                })
            })
            .await;
            // A read that failed answers like a message that is not there: the request is
            // refused, nothing is changed.
            let (message, files) = match read {
                Ok(Ok(found)) => found,
                other => {
                    tracing::error!(?other, ?id, "could not read a message or its files");
                    (None, Vec::new())
                }
            };
            let found = HubMsg::MessageFound {
                lookup: Box::new(lookup),
                message: message.map(Box::new),
                files,
            };
            let _ = hub.send(found).await;
        });
    }

    fn read_markers(&mut self, work: crate::hub::read_markers::MarkerWork) {
        use crate::hub::read_markers::MarkerAsk;
        let (Some(hub), reads) = (self.hub_tx.upgrade(), self.reads.clone()) else {
            return;
        };
        tokio::spawn(async move {
            let (owner, ask) = (work.owner.clone(), work.ask.clone());
            let read = tokio::task::spawn_blocking(move || {
                reads.read(|db| match ask {
                    MarkerAsk::Move { conversation, at } => Ok(db
                        .mark_read(&owner, &conversation, at)?
                        .into_iter()
                        .collect()),
                    MarkerAsk::All => db.read_markers(&owner),
                })
            })
            .await;
            let markers = match read {
                Ok(Ok(markers)) => Some(markers),
                other => {
                    tracing::error!(?other, "could not move or read read markers");
                    None
                }
            };
            let work = Box::new(work);
            let _ = hub.send(HubMsg::ReadMarkers { work, markers }).await;
        });
    }

    fn claim_name(&mut self, claim: &NameClaim) -> Option<ClaimAnswer> {
        self.names.claim(claim)
    }

    fn claim_name_later(&mut self, claim: &NameClaim) -> bool {
        let Some(hub) = self.hub_tx.upgrade() else {
            return false;
        };
        let claim = claim.clone();
        tokio::spawn(async move {
            tokio::time::sleep(CLAIM_AGAIN_AFTER).await;
            let _ = hub.send(HubMsg::ClaimAgain { claim }).await;
        });
        true
    }

    fn release_name(&mut self, key: &str, holder: Holder) {
        self.names.release(key, holder);
    }

    fn publish(&mut self, event: &NetworkEvent) {
        if let Some(bus) = &self.bus {
            bus.publish(event);
        }
    }

    fn post(&mut self, post: Post) {
        if let Some(bus) = &self.bus {
            bus.send(post);
        }
    }

    fn follow_room(&mut self, room_key: &str, generation: u64) {
        if let Some(bus) = &self.bus {
            bus.follow(room_key, generation);
        }
    }

    fn unfollow_room(&mut self, room_key: &str) {
        if let Some(bus) = &self.bus {
            bus.unfollow(room_key);
        }
    }

    fn fill_gap(&mut self, room_key: &str, after: u64, before: Option<u64>) {
        let Some(before) = before else {
            return self.read_gap(room_key, after, None);
        };
        let Some(hub) = self.hub_tx.upgrade() else {
            return;
        };
        let room_key = room_key.to_string();
        tokio::spawn(async move {
            // The missing message is most often a moment behind on its way through Redis.
            tokio::time::sleep(GAP_GRACE).await;
            let due = HubMsg::GapDue {
                room_key,
                before: Some(before),
            };
            let _ = hub.send(due).await;
        });
    }

    fn read_gap(&mut self, room_key: &str, after: u64, before: Option<u64>) {
        self.metrics.gap_fills.inc();
        let (Some(hub), reads) = (self.hub_tx.upgrade(), self.reads.clone()) else {
            return;
        };
        let room_key = room_key.to_string();
        tokio::spawn(async move {
            let room = Arc::new(Conversation::Room(room_key.clone()));
            let mut wait = Duration::from_millis(100);
            loop {
                let (reads, room) = (reads.clone(), Arc::clone(&room));
                let read = tokio::task::spawn_blocking(move || {
                    reads.read(|db| db.after(&room, after, GAP_FILL_PAGE))
                })
                .await;
                match read {
                    Ok(Ok(page)) => {
                        let read = page.messages.len();
                        let messages: Vec<StoredMessage> = page
                            .messages
                            .into_iter()
                            .filter(|m| before.is_none_or(|b| m.seq < b))
                            .collect();
                        // More to read, unless the read went as far as the gap's end.
                        let has_more = page.has_more && messages.len() == read;
                        let filled = HubMsg::GapFilled {
                            room_key,
                            messages,
                            before,
                            has_more,
                        };
                        let _ = hub.send(filled).await;
                        return;
                    }
                    other => {
                        // The database is away: the room waits for it.
                        tracing::warn!(room = %room_key, ?other, "could not read a room's missed messages; trying again");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                        if hub.is_closed() {
                            return;
                        }
                    }
                }
            }
        });
    }

    fn save_room(&mut self, room: RoomRecord) {
        self.writes.push(WriteOp::Room(room));
    }

    fn save_topic(&mut self, room_key: &str, topic: &str) {
        self.writes.push(WriteOp::Topic {
            room_key: room_key.to_string(),
            topic: topic.to_string(),
        });
    }

    fn reassign_private_history(&mut self, from: String, to: String) {
        self.writes.push(WriteOp::ReassignOwner { from, to });
    }

    fn load_window(&mut self, room_key: String, before: u64, limit: usize) {
        let (Some(hub), reads) = (self.hub_tx.upgrade(), self.reads.clone()) else {
            return;
        };
        // A cluster node that starts following a room reads its newest messages (`before` is
        // unbounded) and its record: where delivery starts, and its topic. That read is tried
        // again until the store answers, since delivery cannot start without it.
        let following = before == u64::MAX;
        tokio::spawn(async move {
            let query = PageQuery {
                before: Some(before),
                limit,
                ..PageQuery::default()
            };
            let mut wait = Duration::from_millis(100);
            loop {
                let (reads, key) = (reads.clone(), room_key.clone());
                let read = tokio::task::spawn_blocking(move || {
                    reads.read(|db| {
                        let page = db.page(&Conversation::Room(key.clone()), &query)?;
                        let record = match following {
                            true => db.room(&key)?,
                            false => None,
                        };
                        Ok((page, record))
                    })
                })
                .await;
                let messages = match read {
                    Ok(Ok((page, record))) => {
                        if let Some(record) = record {
                            let _ = hub.send(HubMsg::RoomRead(record)).await;
                        }
                        page.messages
                    }
                    other if following && !hub.is_closed() => {
                        tracing::warn!(room = %room_key, ?other, "could not read a room this node follows; trying again");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_secs(5));
                        continue;
                    }
                    other => {
                        // The room opens with an empty window rather than not at all.
                        tracing::error!(room = %room_key, ?other, "could not read a room's recent messages");
                        Vec::new()
                    }
                };
                let _ = hub.send(HubMsg::WindowLoaded { room_key, messages }).await;
                return;
            }
        });
    }

    fn fetch_history(&mut self, query: HistoryQuery) {
        let session = query.session;
        let hub = self.hub_tx.upgrade();
        let done = move || async move {
            if let Some(hub) = hub {
                let _ = hub.send(HubMsg::HistoryDone { session }).await;
            }
        };
        let Some(handle) = self.sessions.get(&query.session) else {
            tokio::spawn(done());
            return;
        };
        let queue = handle.queue.clone();
        let wire = handle.wire.clone();
        if !queue.start_paging() {
            let refusal = ServerFrame::Error {
                code: ErrorCode::RateLimited,
                message: "One history request at a time: wait for the page you asked for.".into(),
                subject: None,
                reference: query.reference,
            };
            handle.offer(&Outgoing::new(refusal));
            tokio::spawn(done());
            return;
        }
        let reads = self.reads.clone();
        let files = self.files.clone();
        // Messages as clients see them, their files' links signed.
        let chats = move |messages: &[StoredMessage]| -> Vec<palaver_proto::ChatMessage> {
            let now = palaver_proto::timestamp::now_millis();
            messages
                .iter()
                .map(|m| {
                    let mut chat = m.to_chat();
                    if let Some(files) = &files {
                        files.sign_chat(&mut chat, now);
                    }
                    chat
                })
                .collect()
        };
        tokio::spawn(async move {
            let HistoryQuery {
                reference, read, ..
            } = query;
            let answer = tokio::task::spawn_blocking(move || {
                reads.read(|db| match read {
                    HistoryRead::Page {
                        conversation,
                        room,
                        with,
                        page,
                    } => {
                        let page = db.page(&conversation, &page)?;
                        Ok(ServerFrame::History {
                            room,
                            with,
                            messages: chats(&page.messages),
                            has_more: page.has_more,
                            reference: None,
                        })
                    }
                    HistoryRead::Search { text, query } => {
                        let found = db.search(&query)?;
                        Ok(ServerFrame::SearchResults {
                            query: text,
                            messages: chats(&found.messages),
                            has_more: found.has_more,
                            reference: None,
                        })
                    }
                    HistoryRead::Conversations(query) => {
                        let news = db.targets(&query)?;
                        Ok(ServerFrame::Conversations {
                            conversations: news
                                .into_iter()
                                .map(|n| palaver_proto::ConversationNews {
                                    room: n.room,
                                    with: n.with,
                                    last: palaver_proto::timestamp::format_millis(n.ts_ms),
                                })
                                .collect(),
                            reference: None,
                        })
                    }
                })
            })
            .await;
            let frame = match answer {
                Ok(Ok(mut frame)) => {
                    if let ServerFrame::History { reference: r, .. }
                    | ServerFrame::Conversations { reference: r, .. }
                    | ServerFrame::SearchResults { reference: r, .. } = &mut frame
                    {
                        *r = reference;
                    }
                    frame
                }
                other => {
                    tracing::error!(?other, "history read failed");
                    ServerFrame::Error {
                        code: ErrorCode::StorageFailed,
                        message: "The server could not read that history; try again.".into(),
                        subject: None,
                        reference,
                    }
                }
            };
            if let Some(bytes) = wire.encode(&Outgoing::new(frame)) {
                let _ = tokio::time::timeout(QUEUE_WAIT, queue.push(bytes)).await;
            }
            queue.end_paging();
            done().await;
        });
    }

    fn replay_missed(&mut self, session: SessionId, scope: ResumeScope) {
        let Some(handle) = self.sessions.get(&session) else {
            return;
        };
        let queue = handle.queue.clone();
        let wire = handle.wire.clone();
        let reads = self.reads.clone();
        let files = self.files.clone();
        let Some(hub_tx) = self.hub_tx.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            let mut report = ReplayReport {
                complete: true,
                ..ReplayReport::default()
            };
            // Conversation by conversation, each in seq order, page by page.
            'conversations: for (conversation, after, upto) in scope.conversations {
                let key = conversation.key();
                let conversation = Arc::new(conversation);
                let mut after = after;
                loop {
                    let (reads, conversation) = (reads.clone(), Arc::clone(&conversation));
                    let limit = scope.limit;
                    let page = tokio::task::spawn_blocking(move || {
                        reads.read(|db| db.after(&conversation, after, limit))
                    })
                    .await;
                    let page = match page {
                        Ok(Ok(page)) => page,
                        other => {
                            tracing::error!(?other, "resume read failed");
                            report.complete = false;
                            break 'conversations;
                        }
                    };
                    for message in page.messages {
                        if upto.is_some_and(|upto| message.seq > upto) {
                            // Delivered after the resume began: it arrives live.
                            continue 'conversations;
                        }
                        after = message.seq;
                        let mut chat = message.to_chat();
                        if let Some(files) = &files {
                            files.sign_chat(&mut chat, palaver_proto::timestamp::now_millis());
                        }
                        let Some(bytes) = wire.encode(&Outgoing::new(chat.into_frame())) else {
                            continue;
                        };
                        match tokio::time::timeout(QUEUE_WAIT, queue.push(bytes)).await {
                            Ok(Ok(())) => report.replayed += 1,
                            Ok(Err(_)) => return, // the connection is gone
                            Err(_) => {
                                let departure = Departure::Closed(ErrorCode::SlowConsumer);
                                let _ = hub_tx.send(HubMsg::Gone { session, departure }).await;
                                return;
                            }
                        }
                        report.newest.insert(key.clone(), after);
                    }
                    if !page.has_more {
                        break;
                    }
                }
            }
            // The frames held back meanwhile (at most half a queue) must fit when released.
            let drained = tokio::time::timeout(QUEUE_WAIT, async {
                while queue.len() > queue.capacity() / 2 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await;
            if drained.is_err() {
                let departure = Departure::Closed(ErrorCode::SlowConsumer);
                let _ = hub_tx.send(HubMsg::Gone { session, departure }).await;
                return;
            }
            let _ = hub_tx.send(HubMsg::ResumeDone { session, report }).await;
        });
    }

    fn save_moderation(&mut self, record: ModerationRecord) {
        if let Some(writes) = &self.moderation_writes {
            let _ = writes.send(record);
        }
    }

    fn password_work(&mut self, request: PasswordRequest) {
        let (Some(passwords), Some(hub)) = (self.passwords.as_mut(), self.hub_tx.upgrade()) else {
            return;
        };
        let PasswordRequest { session, peer, op } = request;
        let address = peer.parse::<std::net::SocketAddr>().ok().map(|a| a.ip());
        let mut attempt = Attempt {
            session,
            address,
            account: None,
        };
        match op {
            PasswordOp::Check { key, password } => {
                let (check_key, answer_key) = (key.clone(), key.clone());
                attempt.account = Some(&key);
                passwords.run(
                    attempt,
                    hub,
                    move |accounts| match accounts.verify(&check_key, password.expose()) {
                        true => Ok(()),
                        false => Err(ErrorCode::InvalidCredentials),
                    },
                    move |result| {
                        if result.is_err() {
                            tracing::info!(account = %answer_key, ?result, "login refused");
                        }
                        HubMsg::PasswordChecked {
                            session,
                            key: answer_key,
                            result,
                        }
                    },
                );
            }
            PasswordOp::Create {
                key,
                name,
                password,
            } => {
                let (k, n) = (key.clone(), name.clone());
                passwords.run(
                    attempt,
                    hub,
                    move |accounts| accounts.create(&k, &n, password.expose()),
                    move |result| HubMsg::AccountCreated {
                        session,
                        key,
                        name,
                        result,
                    },
                );
            }
            PasswordOp::Change { key, old, new } => {
                let k = key.clone();
                attempt.account = Some(&key);
                passwords.run(
                    attempt,
                    hub,
                    move |accounts| accounts.change(&k, old.expose(), new.expose()),
                    move |result| HubMsg::PasswordChanged { session, result },
                );
            }
        }
    }

    fn event(&mut self, event: HubEvent) {
        match &event {
            HubEvent::Connected { session, peer } => {
                tracing::info!(session, %peer, "connection opened")
            }
            HubEvent::Joined { session, username } => {
                tracing::info!(session, %username, "joined")
            }
            HubEvent::Left { username, reason } => tracing::info!(%username, %reason, "left"),
            HubEvent::RoomJoined { username, room } => {
                tracing::info!(%username, %room, "joined room")
            }
            HubEvent::RoomLeft { username, room } => tracing::info!(%username, %room, "left room"),
            HubEvent::Message {
                id,
                room,
                username,
                content,
            } => tracing::debug!(id, %room, %username, %content, "message"),
            HubEvent::Private { id, sender, target } => {
                tracing::debug!(id, %sender, %target, "private message")
            }
            HubEvent::Announced { message } => tracing::info!(%message, "announcement"),
            HubEvent::Kicked { username, reason } => tracing::info!(%username, %reason, "kicked"),
            HubEvent::KickedFromRoom {
                room,
                username,
                by,
                reason,
            } => tracing::info!(%room, %username, %by, %reason, "kicked from room"),
            HubEvent::Renamed { old, new } => tracing::info!(%old, %new, "renamed"),
            HubEvent::Registered { username } => tracing::info!(%username, "account registered"),
            HubEvent::Moderation {
                by,
                action,
                message,
            } => tracing::info!(%by, %action, %message, "moderation"),
        }
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(ServerEvent {
                at_ms: palaver_proto::timestamp::now_millis(),
                event,
            });
        }
    }
}

/// Runs the hub until shutdown: then announces it, waits (up to `grace`) for messages still on
/// their way through the store, and closes every session.
pub async fn run_hub(
    mut hub: Hub,
    mut io: RuntimeIo,
    mut inbox: mpsc::Receiver<HubMsg>,
    mut store_done: mpsc::UnboundedReceiver<StoreDone>,
    store: mpsc::Sender<WriteOp>,
    grace: Duration,
) {
    let mut shutdown_reply: Option<oneshot::Sender<()>> = None;
    let mut deadline = tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600);
    loop {
        tokio::select! {
            biased;
            Some(done) = store_done.recv() => match done {
                StoreDone::Stored(batch) => {
                    io.metrics.messages_stored.inc_by(batch.len() as u64);
                    hub.stored(batch, &mut io)
                }
                StoreDone::Failed(batch, _) => hub.store_failed(batch, &mut io),
            },
            msg = inbox.recv() => match msg {
                None => break,
                Some(msg) => handle(&mut hub, &mut io, msg, &mut shutdown_reply, &mut deadline, grace),
            },
            _ = tokio::time::sleep_until(deadline) => {
                tracing::warn!(pending = hub.pending_writes(), "shutdown grace period over");
                break;
            }
        }
        if io.delivered > 0 {
            io.metrics
                .deliveries
                .inc_by(std::mem::take(&mut io.delivered));
        }
        for op in io.writes.drain(..) {
            if store.send(op).await.is_err() {
                tracing::error!("store writer stopped");
            }
        }
        if shutdown_reply.is_some() && hub.pending_writes() == 0 {
            break;
        }
    }
    hub.close_all(&mut io);
    // A node of a cluster frees its names and tells the others before it goes, so that its
    // users can come back on another node at once (under their names, with or without a token).
    let releases = io.names.releasing();
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        futures_util::future::join_all(releases),
    )
    .await;
    if let Some(bus) = io.bus.as_mut() {
        bus.finish(Duration::from_secs(2)).await;
    }
    if let Some(reply) = shutdown_reply {
        let _ = reply.send(());
    }
}

fn handle(
    hub: &mut Hub,
    io: &mut RuntimeIo,
    msg: HubMsg,
    shutdown_reply: &mut Option<oneshot::Sender<()>>,
    deadline: &mut tokio::time::Instant,
    grace: Duration,
) {
    match msg {
        HubMsg::Register {
            session,
            peer,
            handle,
        } => {
            if hub.is_shutting_down() {
                handle.offer(&Outgoing::new(ServerFrame::error(
                    ErrorCode::ServerShuttingDown,
                )));
                let _ = handle.control.send(Control::Close);
                return;
            }
            io.sessions.insert(session, handle);
            hub.connect(session, peer, io);
        }
        HubMsg::Request { session, request } => hub.request(session, request, io),
        HubMsg::Identify { session, profile } => hub.identify(session, profile),
        HubMsg::PasswordChecked {
            session,
            key,
            result,
        } => hub.password_checked(session, key, result, io),
        HubMsg::AccountCreated {
            session,
            key,
            name,
            result,
        } => hub.account_created(session, key, name, result, io),
        HubMsg::PasswordChanged { session, result } => hub.password_changed(session, result, io),
        HubMsg::HistoryDone { session } => hub.history_done(session, io),
        HubMsg::NameClaimed { claim, answer } => hub.name_claimed(claim, answer, io),
        HubMsg::ClaimAgain { claim } => hub.claim_again(claim, io),
        HubMsg::Network(event) => hub.network_event(&event, io),
        HubMsg::Presence(presence) => hub.presence(presence, io),
        HubMsg::RemotePost(post) => hub.remote_post(*post, io),
        HubMsg::RemoteDirect(post) => hub.remote_direct(*post, io),
        HubMsg::Relayed(relay) => hub.relayed(*relay, io),
        HubMsg::RoomFollowed {
            room_key,
            generation,
        } => hub.room_followed(&room_key, generation, io),
        HubMsg::GapFilled {
            room_key,
            messages,
            before,
            has_more,
        } => hub.gap_filled(&room_key, messages, before, has_more, io),
        HubMsg::GapDue { room_key, before } => hub.gap_due(&room_key, before, io),
        HubMsg::BusConnected => {
            hub.bus_connected(io);
            io.read_shared_state();
        }
        HubMsg::SharedState { moderation, rooms } => hub.reload_shared(moderation, rooms, io),
        HubMsg::BusLost => hub.bus_lost(),
        HubMsg::ClusterTick => hub.cluster_tick(io),
        HubMsg::Relay { session, bytes } => {
            if let Some(handle) = io.sessions.get(&session) {
                if handle.queue.try_push(bytes) == Push::Full {
                    let departure = Departure::Closed(ErrorCode::SlowConsumer);
                    hub.disconnect(session, departure, io);
                }
            }
        }
        HubMsg::Gone { session, departure } => hub.disconnect(session, departure, io),
        HubMsg::ResumeDone { session, report } => hub.resume_done(session, report, io),
        HubMsg::WindowLoaded { room_key, messages } => hub.window_loaded(&room_key, messages, io),
        HubMsg::MessageFound {
            lookup,
            message,
            files,
        } => hub.message_found(*lookup, message.map(|m| *m), files, io),
        HubMsg::ReadMarkers { work, markers } => hub.read_markers_read(*work, markers, io),
        HubMsg::RoomRead(record) => hub.room_read(record),
        HubMsg::Announce(text) => hub.announce(&text, io),
        HubMsg::Kick {
            username,
            reason,
            reply,
        } => {
            let _ = reply.send(hub.kick(&username, &reason, io));
        }
        HubMsg::Ban {
            username,
            minutes,
            reason,
        } => hub.operator_ban(&username, minutes, &reason, io),
        HubMsg::Users(reply) => {
            let _ = reply.send(hub.users());
        }
        HubMsg::Shutdown(reply) => {
            hub.begin_shutdown(io);
            *shutdown_reply = Some(reply);
            *deadline = tokio::time::Instant::now() + grace;
        }
    }
}
