//! Unit tests of the hub state machine: commands in, recorded effects out, no sockets.
//!
//! `TestIo` records what the hub asks for. `settle` plays the store writer: it takes what was
//! persisted and reports it stored, as the real writer does after its commit.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use palaver_proto::{parse_request, ErrorCode};

use super::*;
use crate::network::names::{ClaimAnswer, Holder, LocalNames, NameClaim, NameRegistry};
use crate::store::{Conversation, DirectSide, ResumeScope, RoomRecord, StoredMessage};

#[derive(Default)]
pub(super) struct TestIo {
    pub(super) sent: HashMap<SessionId, Vec<Value>>,
    /// The name registry: answers at once, unless `claims_later` (a cluster's registry).
    names: LocalNames,
    claims_later: bool,
    /// Claims waiting for an answer (with `claims_later`).
    claims: Vec<NameClaim>,
    /// Changes published to the other nodes.
    published: Vec<crate::network::events::NetworkEvent>,
    closed: Vec<(SessionId, Close)>,
    joined: Vec<SessionId>,
    persisted: Vec<StoredMessage>,
    stored: Vec<StoredMessage>,
    /// Messages read for requests about them (reactions, edits, deletions, replies).
    lookups: Vec<super::message_changes::MessageLookup>,
    rooms_saved: Vec<RoomRecord>,
    topics_saved: Vec<(String, String)>,
    history_queries: Vec<HistoryQuery>,
    replays: Vec<(SessionId, ResumeScope)>,
    full: HashSet<SessionId>,
    /// Sessions whose next send fails once (a queue that was full for a moment).
    full_once: HashSet<SessionId>,
    /// Each conversation's last seq, as the store keeps it.
    seqs: HashMap<String, u64>,
    /// Window reads asked for: (room key, before, limit).
    windows: Vec<(String, u64, usize)>,
    /// Rooms a cluster node asked to follow, with the generation.
    follows: Vec<(String, u64)>,
    /// Gaps a cluster node asked to fill: (room key, after, before).
    fills: Vec<(String, u64, Option<u64>)>,
    /// Gap reads a cluster node asked for after the gap's moment: (room key, after, before).
    gap_reads: Vec<(String, u64, Option<u64>)>,
    /// What a cluster node sent the others.
    posts: Vec<crate::network::fanout::Post>,
    /// Read-marker work asked of the store.
    markers: Vec<super::read_markers::MarkerWork>,
}

impl HubIo for TestIo {
    fn send(&mut self, session: SessionId, frame: &Outgoing) -> bool {
        if self.full.contains(&session) || self.full_once.remove(&session) {
            return false;
        }
        let frame = frame.json();
        assert_eq!(frame.last(), Some(&b'\n'), "every frame ends its line");
        let value: Value = serde_json::from_slice(&frame).expect("frames are JSON");
        self.sent.entry(session).or_default().push(value);
        true
    }
    fn close(&mut self, session: SessionId, how: Close) {
        self.closed.push((session, how));
    }
    fn joined(&mut self, session: SessionId, _username: &str) {
        self.joined.push(session);
    }
    fn persist(&mut self, message: StoredMessage) {
        self.persisted.push(message);
    }
    fn find_message(&mut self, lookup: super::message_changes::MessageLookup) {
        self.lookups.push(lookup);
    }
    fn read_markers(&mut self, work: super::read_markers::MarkerWork) {
        self.markers.push(work);
    }
    fn save_room(&mut self, room: RoomRecord) {
        self.rooms_saved.push(room);
    }
    fn save_topic(&mut self, room_key: &str, topic: &str) {
        self.topics_saved
            .push((room_key.to_string(), topic.to_string()));
    }
    fn load_window(&mut self, room_key: String, before: u64, limit: usize) {
        self.windows.push((room_key, before, limit));
    }
    fn fetch_history(&mut self, query: HistoryQuery) {
        self.history_queries.push(query);
    }
    fn replay_missed(&mut self, session: SessionId, scope: ResumeScope) {
        self.replays.push((session, scope));
    }
    fn event(&mut self, _event: HubEvent) {}
    fn claim_name(&mut self, claim: &NameClaim) -> Option<ClaimAnswer> {
        if self.claims_later {
            self.claims.push(claim.clone());
            return None;
        }
        self.names.claim(claim)
    }
    fn release_name(&mut self, key: &str, holder: Holder) {
        self.names.release(key, holder);
    }
    fn publish(&mut self, event: &crate::network::events::NetworkEvent) {
        self.published.push(event.clone());
    }
    fn post(&mut self, post: crate::network::fanout::Post) {
        self.posts.push(post);
    }
    fn follow_room(&mut self, room_key: &str, generation: u64) {
        self.follows.push((room_key.to_string(), generation));
    }
    fn fill_gap(&mut self, room_key: &str, after: u64, before: Option<u64>) {
        self.fills.push((room_key.to_string(), after, before));
    }
    fn read_gap(&mut self, room_key: &str, after: u64, before: Option<u64>) {
        self.gap_reads.push((room_key.to_string(), after, before));
    }
}

impl TestIo {
    /// Frames received by a session since the last call.
    pub(super) fn take(&mut self, session: SessionId) -> Vec<Value> {
        self.sent.remove(&session).unwrap_or_default()
    }

    fn types(&mut self, session: SessionId) -> Vec<String> {
        self.take(session)
            .iter()
            .map(|v| v["type"].as_str().unwrap().to_string())
            .collect()
    }
}

pub(super) fn config() -> HubConfig {
    HubConfig {
        catch_up_buffer: 8,
        ..HubConfig::default()
    }
}

pub(super) fn send(hub: &mut Hub, io: &mut TestIo, session: SessionId, frame: Value) {
    let request = parse_request(frame.to_string().as_bytes()).expect("valid frame");
    hub.request(session, request, io);
}

/// Plays the store writer: everything persisted is reported stored, in order.
/// The store catches up: what was persisted is stored and reported, and the window reads
/// asked for are answered.
pub(super) fn settle(hub: &mut Hub, io: &mut TestIo) {
    let batch = commit(io);
    hub.stored(batch, io);
    serve_windows(hub, io);
}

/// Answers the window reads asked for, from what the store holds.
fn serve_windows(hub: &mut Hub, io: &mut TestIo) {
    for (room_key, before, limit) in std::mem::take(&mut io.windows) {
        let mut window: Vec<_> = io
            .stored
            .iter()
            .filter(|m| {
                m.seq < before
                    && matches!(&m.kind, MessageKind::Public { room_key: k, .. } if *k == room_key)
            })
            .cloned()
            .collect();
        let skip = window.len().saturating_sub(limit);
        window.drain(..skip);
        hub.window_loaded(&room_key, window, io);
    }
}

/// What the store does with the messages persisted so far: numbers them in their
/// conversations and keeps them. The hub has not heard back yet.
fn commit(io: &mut TestIo) -> Vec<StoredMessage> {
    let mut batch = std::mem::take(&mut io.persisted);
    let first_id = io.stored.len() as u64 + 1;
    for (m, id) in batch.iter_mut().zip(first_id..) {
        m.id = id;
        let seq = io.seqs.entry(m.conversation_key()).or_default();
        *seq += 1;
        m.seq = *seq;
    }
    io.stored.extend(batch.iter().cloned());
    batch
}

fn join(hub: &mut Hub, io: &mut TestIo, session: SessionId, name: &str) {
    hub.connect(session, format!("127.0.0.1:{}", 40000 + session), io);
    send(hub, io, session, json!({"type":"join","username":name}));
    assert!(io.joined.contains(&session), "{name} joined");
}

fn three_users() -> (Hub, TestIo) {
    let mut hub = Hub::new(config(), Vec::new());
    let mut io = TestIo::default();
    for (id, name) in [(1, "alice"), (2, "bob"), (3, "carol")] {
        join(&mut hub, &mut io, id, name);
    }
    for id in 1..=3 {
        io.take(id);
    }
    (hub, io)
}

fn error_code(frames: &[Value]) -> Option<String> {
    frames
        .iter()
        .find(|f| f["type"] == "error")
        .map(|f| f["code"].as_str().unwrap().to_string())
}

#[test]
fn welcome_names_you_and_others_see_you_join() {
    let mut hub = Hub::new(config(), Vec::new());
    let mut io = TestIo::default();
    join(&mut hub, &mut io, 1, "alice");
    let welcome = io.take(1);
    assert_eq!(welcome[0]["type"], "welcome");
    assert_eq!(welcome[0]["username"], "alice");
    assert_eq!(welcome[0]["rooms"][0]["name"], "general");
    join(&mut hub, &mut io, 2, "bob");
    let seen = io.take(1);
    assert_eq!(seen[0]["type"], "system");
    assert_eq!(seen[0]["message"], "bob joined the chat");
    assert_eq!(seen[0]["event"], "joined");
    assert_eq!(io.take(2)[0]["users"], json!(["alice", "bob"]));
}

#[test]
fn public_message_reaches_everyone_after_it_is_stored() {
    let (mut hub, mut io) = three_users();
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"hi all","ref":"c1"}),
    );
    assert!(
        io.sent.is_empty(),
        "nothing goes out before the store has it"
    );
    settle(&mut hub, &mut io);
    let alice = io.take(1);
    assert_eq!(alice[0]["type"], "ack");
    assert_eq!(alice[0]["ref"], "c1");
    assert_eq!(alice[1]["type"], "message");
    for id in 2..=3 {
        let got = io.take(id);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["username"], "alice");
        assert_eq!(got[0]["content"], "hi all");
        assert_eq!(got[0]["room"], "general");
        assert_eq!(got[0]["id"], alice[1]["id"], "one id for every copy");
    }
}

#[test]
fn private_message_reaches_only_its_target() {
    let (mut hub, mut io) = three_users();
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"private_message","target":"BOB","content":"psst"}),
    );
    settle(&mut hub, &mut io);
    let bob = io.take(2);
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0]["type"], "private_message");
    assert_eq!(bob[0]["sender"], "alice");
    let alice = io.take(1);
    assert_eq!(alice[0]["type"], "private_confirmation");
    assert_eq!(alice[0]["delivered"], true);
    assert_eq!(alice[0]["target"], "bob");
    assert!(io.take(3).is_empty(), "carol sees nothing");
}

#[test]
fn private_message_to_nobody_is_not_delivered_nor_stored() {
    let (mut hub, mut io) = three_users();
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"private_message","target":"dave","content":"?"}),
    );
    let alice = io.take(1);
    assert_eq!(alice[0]["type"], "private_confirmation");
    assert_eq!(alice[0]["delivered"], false);
    assert_eq!(error_code(&alice).as_deref(), Some("unknown_user"));
    assert!(io.persisted.is_empty());
}

#[test]
fn names_are_unique_case_insensitively_and_a_refused_join_can_retry() {
    let (mut hub, mut io) = three_users();
    hub.connect(4, "x".into(), &mut io);
    send(
        &mut hub,
        &mut io,
        4,
        json!({"type":"join","username":"ALICE"}),
    );
    assert_eq!(error_code(&io.take(4)).as_deref(), Some("username_taken"));
    send(
        &mut hub,
        &mut io,
        4,
        json!({"type":"join","username":"bad name"}),
    );
    assert_eq!(error_code(&io.take(4)).as_deref(), Some("invalid_username"));
    send(
        &mut hub,
        &mut io,
        4,
        json!({"type":"join","username":"alice2"}),
    );
    assert_eq!(io.take(4)[0]["type"], "welcome");
    send(
        &mut hub,
        &mut io,
        4,
        json!({"type":"join","username":"again"}),
    );
    assert_eq!(error_code(&io.take(4)).as_deref(), Some("already_joined"));
}

#[test]
fn chat_before_join_is_refused() {
    let mut hub = Hub::new(config(), Vec::new());
    let mut io = TestIo::default();
    hub.connect(1, "x".into(), &mut io);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"hi"}),
    );
    assert_eq!(error_code(&io.take(1)).as_deref(), Some("not_joined"));
    send(&mut hub, &mut io, 1, json!({"type":"ping","ref":7}));
    let pong = io.take(1);
    assert_eq!(pong[0]["type"], "pong");
    assert_eq!(pong[0]["ref"], 7);
}

#[test]
fn content_rules_are_enforced() {
    let (mut hub, mut io) = three_users();
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"   "}),
    );
    assert_eq!(error_code(&io.take(1)).as_deref(), Some("empty_content"));
    let long = "x".repeat(hub.config().max_message_bytes + 1);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":long}),
    );
    assert_eq!(error_code(&io.take(1)).as_deref(), Some("content_too_long"));
    assert!(io.persisted.is_empty());
}

#[test]
fn rooms_keep_their_messages_to_their_members() {
    let (mut hub, mut io) = three_users();
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"join_room","room":"#Rust"}),
    );
    let joined = io.take(1);
    assert_eq!(joined[0]["type"], "joined_room");
    assert_eq!(joined[0]["room"]["name"], "Rust");
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"join_room","room":"rust"}),
    );
    assert_eq!(io.take(1)[0]["message"], "bob joined #Rust");
    io.take(2);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","room":"rust","content":"crab"}),
    );
    settle(&mut hub, &mut io);
    assert_eq!(io.take(2)[0]["content"], "crab");
    assert!(io.take(3).is_empty(), "carol is not in #Rust");

    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"message","room":"rust","content":"me too"}),
    );
    assert_eq!(error_code(&io.take(3)).as_deref(), Some("not_in_room"));
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"message","room":"nowhere","content":"x"}),
    );
    assert_eq!(error_code(&io.take(3)).as_deref(), Some("unknown_room"));

    // A later member sees the room's recent messages.
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"join_room","room":"rust"}),
    );
    let joined = io.take(3);
    assert_eq!(joined[0]["history"][0]["content"], "crab");
    assert_eq!(joined[0]["members"], json!(["alice", "bob", "carol"]));
    assert_eq!(io.take(2)[0]["message"], "carol joined #Rust");
    io.take(1);

    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"leave_room","room":"rust"}),
    );
    assert_eq!(io.types(2), vec!["left_room"]);
    assert_eq!(io.take(1)[0]["message"], "bob left #Rust");

    send(&mut hub, &mut io, 2, json!({"type":"rooms"}));
    let rooms = io.take(2);
    assert_eq!(rooms[0]["rooms"][1]["name"], "Rust");
    assert_eq!(rooms[0]["rooms"][1]["members"], 2);
}

#[test]
fn a_slow_consumer_is_disconnected_and_the_others_carry_on() {
    let (mut hub, mut io) = three_users();
    io.full.insert(3);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"one"}),
    );
    settle(&mut hub, &mut io);
    assert!(io
        .closed
        .contains(&(3, Close::Abort(ErrorCode::SlowConsumer))));
    let bob = io.take(2);
    assert_eq!(bob[0]["content"], "one");
    assert_eq!(bob[1]["message"], "carol left the chat (too slow)");
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"two"}),
    );
    settle(&mut hub, &mut io);
    assert_eq!(io.take(2)[0]["content"], "two");
    assert_eq!(hub.users().len(), 2);
}

#[test]
fn disconnect_tells_the_room_and_frees_the_name() {
    let (mut hub, mut io) = three_users();
    hub.disconnect(2, Departure::Disconnected, &mut io);
    assert_eq!(io.take(1)[0]["message"], "bob left the chat");
    hub.connect(9, "x".into(), &mut io);
    send(
        &mut hub,
        &mut io,
        9,
        json!({"type":"join","username":"Bob"}),
    );
    assert_eq!(io.take(9)[0]["type"], "welcome");
}

#[test]
fn resume_replays_before_live_traffic_and_nothing_twice() {
    let (mut hub, mut io) = three_users();
    for text in ["m1", "m2", "m3"] {
        send(
            &mut hub,
            &mut io,
            1,
            json!({"type":"message","content":text}),
        );
    }
    settle(&mut hub, &mut io);
    let seen = io.take(2);
    let last_seen = seen[0]["seq"].as_u64().unwrap();
    assert_eq!(last_seen, 1);
    hub.disconnect(2, Departure::Disconnected, &mut io);
    io.sent.clear();

    hub.connect(5, "x".into(), &mut io);
    send(
        &mut hub,
        &mut io,
        5,
        json!({"type":"join","username":"bob","since":{"general":last_seen,"@Carol":4}}),
    );
    assert_eq!(io.types(5), vec!["welcome"]);
    let (session, scope) = io.replays.pop().unwrap();
    assert_eq!(session, 5);
    let mut conversations = scope.conversations.clone();
    conversations.sort_by_key(|(c, _, _)| c.key());
    let Conversation::Direct { me, other_key } = &conversations[0].0 else {
        panic!("{conversations:?}");
    };
    assert_eq!((me.key.as_str(), other_key.as_str()), ("bob", "carol"));
    assert_eq!(conversations[0].1, 4);
    assert_eq!(
        conversations[1],
        (Conversation::Room("general".into()), last_seen, Some(3))
    );

    // Live traffic during the replay waits for it: m4 was committed before the replay read
    // general (so the replay sent it) but delivered after; "live" came later.
    for text in ["m4", "live"] {
        send(
            &mut hub,
            &mut io,
            1,
            json!({"type":"message","content":text}),
        );
        settle(&mut hub, &mut io);
    }
    assert!(io.take(5).is_empty());
    let report = ReplayReport {
        replayed: 3,
        complete: true,
        newest: HashMap::from([("general".to_string(), 4)]),
    };
    hub.resume_done(5, report, &mut io);
    let after = io.take(5);
    assert_eq!(after[0]["type"], "resumed");
    assert_eq!(after[0]["replayed"], 3);
    assert_eq!(after.len(), 2, "m4 is not sent twice: {after:?}");
    assert_eq!(after[1]["content"], "live");
    assert_eq!(after[1]["seq"], 5);
}

#[test]
fn history_requests_stop_at_what_was_delivered() {
    let (mut hub, mut io) = three_users();
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"a"}),
    );
    settle(&mut hub, &mut io);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"in flight"}),
    );
    send(&mut hub, &mut io, 2, json!({"type":"history","limit":1000}));
    let q = io.history_queries.pop().unwrap();
    assert_eq!(
        q.page().unwrap().before,
        Some(2),
        "seq 1 was delivered, seq 2 is not yet"
    );
    assert_eq!(q.page().unwrap().limit, hub.config().history_page_max);
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"history","with":"Alice"}),
    );
    // One page at a time: the second waits for the first, in order, and is not refused.
    assert!(io.history_queries.is_empty(), "it waits its turn");
    assert_eq!(error_code(&io.take(2)), None);
    hub.history_done(2, &mut io);
    let q = io.history_queries.pop().unwrap();
    let HistoryRead::Page {
        conversation:
            Conversation::Direct {
                me: DirectSide { key, owner },
                other_key,
            },
        with,
        ..
    } = q.read
    else {
        panic!("a private history page: {:?}", q.read);
    };
    assert_eq!((key.as_str(), other_key.as_str()), ("bob", "alice"));
    assert_eq!(with.as_deref(), Some("Alice"));
    assert!(owner.starts_with("guest:"), "{owner}");
}

#[test]
fn shutdown_announces_and_refuses_new_messages() {
    let (mut hub, mut io) = three_users();
    hub.begin_shutdown(&mut io);
    for id in 1..=3 {
        let got = io.take(id);
        assert_eq!(got[0]["type"], "server");
        assert!(got[0]["message"]
            .as_str()
            .unwrap()
            .contains("shutting down"));
    }
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"late"}),
    );
    assert_eq!(
        error_code(&io.take(1)).as_deref(),
        Some("server_shutting_down")
    );
    hub.close_all(&mut io);
    assert_eq!(io.closed.len(), 3);
}

#[test]
fn kick_removes_the_user_and_tells_them_why() {
    let (mut hub, mut io) = three_users();
    assert!(hub.kick("BOB", "spam", &mut io));
    let bob = io.take(2);
    assert_eq!(bob[0]["code"], "kicked");
    assert!(bob[0]["message"].as_str().unwrap().contains("spam"));
    assert!(io.closed.contains(&(2, Close::Graceful)));
    assert_eq!(io.take(1)[0]["event"], "kicked");
    assert!(!hub.kick("bob", "", &mut io));
}

#[test]
fn ids_increase_and_topics_are_shared() {
    let (mut hub, mut io) = three_users();
    for n in 0..5 {
        send(
            &mut hub,
            &mut io,
            1,
            json!({"type":"message","content":format!("{n}")}),
        );
    }
    settle(&mut hub, &mut io);
    let ids: Vec<u64> = io
        .take(2)
        .iter()
        .map(|f| f["id"].as_u64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"topic","room":"general","topic":"Welcome!"}),
    );
    assert_eq!(io.take(2)[0]["topic"], "Welcome!");
    assert_eq!(io.topics_saved.last().unwrap().1, "Welcome!");
}

#[test]
fn after_one_frame_is_refused_a_slow_session_gets_nothing_newer() {
    let (mut hub, mut io) = three_users();
    io.full_once.insert(3);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"dropped"}),
    );
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"newer"}),
    );
    settle(&mut hub, &mut io);
    assert!(io.take(3).is_empty(), "no gap followed by newer messages");
    assert!(io
        .closed
        .contains(&(3, Close::Abort(ErrorCode::SlowConsumer))));
    assert_eq!(
        io.take(2).len(),
        3,
        "bob: both messages and carol's departure"
    );
}

#[test]
fn a_room_window_loaded_from_the_store_stops_at_what_was_delivered() {
    let (mut hub, mut io) = three_users();
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"join_room","room":"quiet"}),
    );
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","room":"quiet","content":"in flight"}),
    );
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"leave_room","room":"quiet"}),
    );
    // Committed by the store, not yet reported to the hub.
    let committed = commit(&mut io);
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"join_room","room":"quiet"}),
    );
    let joined = io.take(2);
    assert_eq!(joined[0]["history"], json!([]), "not in the window yet");
    hub.stored(committed, &mut io);
    let live = io.take(2);
    assert_eq!(
        live.iter().filter(|f| f["content"] == "in flight").count(),
        1,
        "delivered once, live"
    );
}

#[test]
fn pong_waits_for_the_messages_sent_before_the_ping() {
    let (mut hub, mut io) = three_users();
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"one","ref":1}),
    );
    send(&mut hub, &mut io, 1, json!({"type":"ping","ref":2}));
    assert!(
        io.take(1).is_empty(),
        "the pong waits behind the message in the store"
    );
    settle(&mut hub, &mut io);
    let types: Vec<String> = io
        .take(1)
        .iter()
        .map(|f| f["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, ["ack", "message", "pong"]);
    io.take(2);
    send(&mut hub, &mut io, 2, json!({"type":"ping"}));
    assert_eq!(
        io.types(2),
        ["pong"],
        "with nothing in flight it answers at once"
    );
}

#[test]
fn only_a_room_operator_may_kick_and_the_room_is_told() {
    let (mut hub, mut io) = three_users();
    // bob creates #den and is its operator; alice and carol join after.
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"join_room","room":"den"}),
    );
    let joined = io.take(2);
    assert_eq!(joined[0]["operators"], json!(["bob"]));
    for id in [1, 3] {
        send(
            &mut hub,
            &mut io,
            id,
            json!({"type":"join_room","room":"den"}),
        );
    }
    for id in 1..=3 {
        io.take(id);
    }
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"kick","room":"den","username":"carol"}),
    );
    assert_eq!(error_code(&io.take(1)).as_deref(), Some("not_authorized"));
    assert!(io.take(3).is_empty(), "nothing happened to carol");
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"kick","room":"den","username":"carol","reason":"spam"}),
    );
    let carol = io.take(3);
    assert_eq!(carol[0]["type"], "left_room");
    assert_eq!(
        (carol[0]["by"].as_str(), carol[0]["reason"].as_str()),
        (Some("bob"), Some("spam"))
    );
    for id in [1, 2] {
        let seen = io.take(id);
        assert_eq!(seen[0]["event"], "kicked");
        assert_eq!(seen[0]["username"], "carol");
    }
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"message","room":"den","content":"back?"}),
    );
    assert_eq!(error_code(&io.take(3)).as_deref(), Some("not_in_room"));
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"kick","room":"den","username":"carol"}),
    );
    assert_eq!(
        error_code(&io.take(2)).as_deref(),
        Some("target_not_in_room")
    );
}

#[test]
fn rename_away_and_whois() {
    let (mut hub, mut io) = three_users();
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"rename","username":"BOB"}),
    );
    assert_eq!(error_code(&io.take(1)).as_deref(), Some("username_taken"));
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"rename","username":"alicia"}),
    );
    assert_eq!(io.take(1)[0]["type"], "renamed");
    let seen = io.take(2);
    assert_eq!(seen[0]["event"], "renamed");
    assert_eq!(
        (
            seen[0]["username"].as_str(),
            seen[0]["new_username"].as_str()
        ),
        (Some("alice"), Some("alicia"))
    );
    // The old name is free, the new one taken.
    join(&mut hub, &mut io, 4, "alice");
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"private_message","target":"alicia","content":"hi"}),
    );
    settle(&mut hub, &mut io);
    assert_eq!(io.take(1).last().unwrap()["content"], "hi");

    io.take(3);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"away","message":"lunch"}),
    );
    assert_eq!(io.take(1)[0]["type"], "away");
    assert_eq!(
        io.take(3)[0]["message"],
        "lunch",
        "everyone sharing a room is told"
    );
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"whois","username":"alicia"}),
    );
    let whois = io.take(3);
    assert_eq!(whois[0]["user"]["away"], "lunch");
    assert_eq!(whois[0]["user"]["rooms"], json!(["general"]));
    assert_eq!(whois[0]["user"]["host"], "native.palaver");
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"whowas","username":"alice"}),
    );
    assert_eq!(
        io.take(3)[0]["entries"],
        json!([]),
        "renaming is not leaving"
    );
}

#[test]
fn a_full_room_refuses_newcomers() {
    let mut hub = Hub::new(
        HubConfig {
            max_members_per_room: 2,
            ..config()
        },
        Vec::new(),
    );
    let mut io = TestIo::default();
    join(&mut hub, &mut io, 1, "alice");
    join(&mut hub, &mut io, 2, "bob");
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"join_room","room":"small"}),
    );
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"join_room","room":"small"}),
    );
    join(&mut hub, &mut io, 3, "carol");
    io.take(3);
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"join_room","room":"small"}),
    );
    assert_eq!(error_code(&io.take(3)).as_deref(), Some("room_full"));
}

#[test]
fn an_address_ban_turns_that_address_away_and_no_other() {
    let mut hub = Hub::new(config(), Vec::new());
    let mut io = TestIo::default();
    hub.load_accounts(vec!["root".into()]);
    hub.load_moderation(super::moderation::ModerationState {
        admins: vec!["root".into()],
        ..Default::default()
    });
    hub.connect(1, "10.0.0.1:1000".into(), &mut io);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"login","username":"root","password":"pw"}),
    );
    hub.password_checked(1, "root".into(), Ok(()), &mut io);
    assert!(io.joined.contains(&1));
    join(&mut hub, &mut io, 2, "alice"); // 127.0.0.1:40002
    hub.connect(3, "10.0.0.9:5000".into(), &mut io);
    io.take(1);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"ban","address":"10.0.0.9","minutes":10}),
    );
    assert_eq!(io.take(1)[0]["type"], "done");
    assert!(
        io.closed.iter().any(|(s, _)| *s == 3),
        "the connection from there is closed"
    );
    hub.connect(4, "10.0.0.9:5001".into(), &mut io);
    assert_eq!(error_code(&io.take(4)).as_deref(), Some("banned"));
    assert!(io.closed.iter().any(|(s, _)| *s == 4));
    hub.connect(5, "10.0.0.10:1".into(), &mut io);
    assert!(
        !io.closed.iter().any(|(s, _)| *s == 5),
        "other addresses are fine"
    );
}

#[test]
fn joining_an_empty_room_waits_for_its_window_without_blocking_anyone_or_repeating() {
    let (mut hub, mut io) = three_users();
    for text in ["old 1", "old 2"] {
        send(
            &mut hub,
            &mut io,
            1,
            json!({"type":"join_room","room":"quiet"}),
        );
        send(
            &mut hub,
            &mut io,
            1,
            json!({"type":"message","room":"quiet","content":text}),
        );
    }
    settle(&mut hub, &mut io);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"leave_room","room":"quiet"}),
    );
    io.sent.clear();

    // The room is empty: its window is read off the hub's task, once for both joiners.
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"join_room","room":"quiet","ref":"b"}),
    );
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"join_room","room":"quiet"}),
    );
    assert_eq!(io.windows.len(), 1, "one read for the room");
    assert!(io.take(2).is_empty() && io.take(3).is_empty(), "they wait");
    // Meanwhile the hub goes on: general works, and a joiner's own message is delivered (held
    // for the joiners until their window is shown).
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"in general"}),
    );
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"message","room":"quiet","content":"while loading"}),
    );
    let batch = commit(&mut io);
    hub.stored(batch, &mut io);
    assert_eq!(io.take(1)[0]["content"], "in general");
    assert!(io.take(2).is_empty(), "held behind the window");

    serve_windows(&mut hub, &mut io);
    for session in [2, 3] {
        let got = io.take(session);
        assert_eq!(got[0]["type"], "joined_room", "{got:?}");
        let history: Vec<&str> = got[0]["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].as_str().unwrap())
            .collect();
        // The window up to what was delivered when they joined; the rest arrives live.
        assert_eq!(history, ["old 1", "old 2"]);
        assert_eq!(got[0]["room"]["last_seq"], 2);
        let contents: Vec<&str> = got[1..]
            .iter()
            .filter_map(|f| f["content"].as_str())
            .collect();
        assert_eq!(
            contents,
            ["in general", "while loading"],
            "nothing twice, nothing lost"
        );
    }
    // The next joiner finds the window in memory: no read.
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"join_room","room":"quiet"}),
    );
    assert!(io.windows.is_empty());
    assert_eq!(io.take(1)[0]["history"].as_array().unwrap().len(), 3);
}

/// A hub whose name registry answers later (a cluster's), with session 1 waiting for its join's
/// claim of "alice" (`ref` "j").
fn joining_later() -> (Hub, TestIo) {
    let mut hub = Hub::new(config(), Vec::new());
    let mut io = TestIo {
        claims_later: true,
        ..TestIo::default()
    };
    hub.connect(1, "127.0.0.1:40001".into(), &mut io);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"join","username":"alice","ref":"j"}),
    );
    (hub, io)
}

/// A cluster's registry answers later: the join waits, and what the client sent right behind
/// it is held and then handled in order.
#[test]
fn a_join_waits_for_its_name_and_holds_what_follows() {
    let (mut hub, mut io) = joining_later();
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"right behind","ref":1}),
    );
    assert!(io.take(1).is_empty(), "nothing until the name is granted");
    assert!(io.persisted.is_empty(), "the message waits too");
    let claim = io.claims.pop().expect("the name was claimed");
    assert_eq!((claim.name.as_str(), claim.holder.session), ("alice", 1));

    let answer = io.names.claim(&claim).unwrap();
    hub.name_claimed(claim, answer, &mut io);
    settle(&mut hub, &mut io);
    let got = io.types(1);
    assert_eq!(got.first().map(String::as_str), Some("welcome"), "{got:?}");
    assert!(
        got.iter().any(|t| t == "ack"),
        "then the held message: {got:?}"
    );
    assert_eq!(io.stored.len(), 1);
}

#[test]
fn a_refused_or_unanswerable_claim_is_an_error_about_the_name() {
    let (mut hub, mut io) = joining_later();
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"lost?"}),
    );
    let claim = io.claims.pop().unwrap();
    let answer = ClaimAnswer::Refused(crate::network::names::ClaimRefusal::Unavailable);
    hub.name_claimed(claim, answer, &mut io);
    let got = io.take(1);
    assert_eq!(got[0]["code"], "server_busy", "{got:?}");
    assert_eq!(got[0]["subject"], "alice");
    assert_eq!(got[0]["ref"], "j");
    assert_eq!(
        got[1]["code"], "not_joined",
        "the held message is answered, not dropped"
    );
}

#[test]
fn a_name_granted_after_its_connection_left_is_given_back() {
    let (mut hub, mut io) = joining_later();
    hub.disconnect(1, Departure::Disconnected, &mut io);
    let claim = io.claims.pop().unwrap();
    let answer = io.names.claim(&claim).unwrap();
    assert!(!io.names.is_empty(), "the registry granted it");
    hub.name_claimed(claim, answer, &mut io);
    assert!(io.names.is_empty(), "and got it back");
}

/// A take-over granted for a connection on another node is that node's to close.
#[test]
fn a_take_over_from_another_node_leaves_local_sessions_alone() {
    let (mut hub, mut io) = joining_later();
    let first = io.claims.pop().unwrap();
    hub.name_claimed(first, ClaimAnswer::Granted { replaces: None }, &mut io);
    hub.connect(2, "127.0.0.1:40002".into(), &mut io);
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"join","username":"bob"}),
    );
    let claim = io.claims.pop().unwrap();
    let elsewhere = Holder {
        node: 7,
        session: 1,
    };
    hub.name_claimed(
        claim,
        ClaimAnswer::Granted {
            replaces: Some(elsewhere),
        },
        &mut io,
    );
    assert!(
        io.closed.is_empty(),
        "session 1 here is someone else: {:?}",
        io.closed
    );
    assert!(io.joined.contains(&2));
    assert_eq!(
        io.published,
        [crate::network::events::NetworkEvent::Replaced { holder: elsewhere }],
        "the other node is told to close it"
    );
}

/// Two nodes: what an admin does on one arrives on the other as events it applies, and its
/// users see the same as if it had been done there.
#[test]
fn changes_made_on_one_node_are_applied_on_another() {
    let mut a = Hub::new(config(), Vec::new());
    let mut a_io = TestIo::default();
    let mut b = Hub::new(
        HubConfig {
            node: 1,
            ..config()
        },
        Vec::new(),
    );
    let mut b_io = TestIo::default();
    a.load_accounts(vec!["root".into()]);
    a.load_moderation(super::moderation::ModerationState {
        admins: vec!["root".into()],
        ..Default::default()
    });
    a.connect(1, "10.0.0.1:1000".into(), &mut a_io);
    send(
        &mut a,
        &mut a_io,
        1,
        json!({"type":"login","username":"root","password":"pw","rooms":["general","ops"]}),
    );
    a.password_checked(1, "root".into(), Ok(()), &mut a_io);
    settle(&mut a, &mut a_io);
    for (session, name) in [(1, "alice"), (2, "mallory")] {
        b.connect(session, format!("10.0.1.{session}:2000"), &mut b_io);
        send(
            &mut b,
            &mut b_io,
            session,
            json!({"type":"join","username":name,"rooms":["general","ops"]}),
        );
    }
    settle(&mut b, &mut b_io);
    b_io.take(1);

    let commands = [
        json!({"type":"topic","room":"ops","topic":"incidents only"}),
        json!({"type":"mute","username":"mallory","room":"general","minutes":5}),
        json!({"type":"ban","username":"mallory","reason":"spam"}),
        json!({"type":"lock_room","room":"ops"}),
    ];
    for command in commands {
        send(&mut a, &mut a_io, 1, command);
    }
    assert_eq!(a_io.published.len(), 4, "{:?}", a_io.published);
    for event in std::mem::take(&mut a_io.published) {
        b.network_event(&event, &mut b_io);
    }

    let seen = b_io.take(1);
    let topic = seen.iter().find(|f| f["type"] == "topic").expect("topic");
    assert_eq!(topic["topic"], "incidents only");
    assert_eq!(topic["username"], "root");
    assert!(
        seen.iter().any(
            |f| f["type"] == "system" && f["message"].as_str().unwrap().contains("locked #ops")
        ),
        "{seen:?}"
    );
    let mallory = b_io.take(2);
    assert!(
        mallory.iter().any(|f| f["code"] == "banned"),
        "the ban reaches mallory on the other node: {mallory:?}"
    );
    assert!(b_io.closed.iter().any(|(s, _)| *s == 2));
    // New arrivals on node 1 meet the same rules.
    b.connect(3, "10.0.1.3:2000".into(), &mut b_io);
    send(
        &mut b,
        &mut b_io,
        3,
        json!({"type":"join","username":"mallory"}),
    );
    assert_eq!(error_code(&b_io.take(3)).as_deref(), Some("banned"));
    send(
        &mut b,
        &mut b_io,
        1,
        json!({"type":"leave_room","room":"ops"}),
    );
    send(
        &mut b,
        &mut b_io,
        1,
        json!({"type":"join_room","room":"ops"}),
    );
    assert_eq!(error_code(&b_io.take(1)).as_deref(), Some("room_locked"));
    let mute = (Some("general".to_string()), "mallory".to_string());
    assert!(
        b.moderation.mutes.contains_key(&mute),
        "the mute is known there too"
    );
}

/// A hub that is a node of a cluster (node 9), with nobody on it yet.
fn cluster_node() -> (Hub, TestIo) {
    let config = HubConfig {
        node: 9,
        clustered: true,
        ..config()
    };
    (Hub::new(config, Vec::new()), TestIo::default())
}

/// The node now hears `general` (subscribed, its empty window read): the joiners' welcomes go out.
fn general_followed(hub: &mut Hub, io: &mut TestIo) {
    let (_, generation) = io.follows.pop().expect("general is followed");
    hub.room_followed("general", generation, io);
    hub.window_loaded("general", Vec::new(), io);
}

/// A message of `general` committed by another node, as it arrives through Redis.
fn remote_post(seq: u64) -> crate::network::fanout::RoomPost {
    let message = palaver_proto::PublicMessage {
        state: Default::default(),
        id: 100 + seq,
        seq,
        room: "general".into(),
        username: "faraway".into(),
        content: format!("m{seq}"),
        timestamp: palaver_proto::timestamp::format_millis(1_000),
    };
    crate::network::fanout::RoomPost::stored(
        "general",
        palaver_proto::ChatMessage::Message(message),
        "faraway!~faraway@native.palaver",
    )
}

/// The same message as the store has it (to answer a window read or a gap fill).
fn stored_public(seq: u64) -> StoredMessage {
    StoredMessage {
        change: None,
        state: Default::default(),
        id: 100 + seq,
        seq,
        ts_ms: 1_000,
        content: format!("m{seq}"),
        kind: MessageKind::Public {
            owner: String::new(),
            room: "general".into(),
            room_key: "general".into(),
            username: "faraway".into(),
            username_key: "faraway".into(),
        },
    }
}

fn contents(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"] == "message")
        .map(|f| f["content"].as_str().unwrap().to_string())
        .collect()
}

/// A cluster node follows a room once it has a member, starts after the room's newest stored
/// message, and delivers what other nodes committed in seq order: a gap is filled from the
/// store, a message seen twice is shown once, and a seq the store never had is skipped.
#[test]
fn a_cluster_node_delivers_other_nodes_messages_in_seq_order() {
    let (mut hub, mut io) = cluster_node();
    join(&mut hub, &mut io, 1, "alice");
    let (room, generation) = io.follows.pop().expect("general is followed");
    assert_eq!(room, "general");
    assert!(
        io.windows.is_empty(),
        "no read before the subscription stands"
    );
    assert!(
        io.take(1).is_empty(),
        "the welcome waits for general's window"
    );
    // Committed elsewhere while the subscription was being made: it waits.
    hub.remote_post(remote_post(3), &mut io);
    hub.room_followed("general", generation, &mut io);
    let (_, before, _) = io.windows.pop().expect("the newest messages are read");
    assert_eq!(before, u64::MAX);
    hub.window_loaded("general", vec![stored_public(1), stored_public(2)], &mut io);
    let frames = io.take(1);
    assert_eq!(frames[0]["type"], "welcome");
    let history: Vec<&str> = frames[0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["m1", "m2"]);
    assert_eq!(contents(&frames), ["m3"], "then what came meanwhile, live");

    // 5 before 4: a gap, filled from the store; 4 arriving meanwhile closes it first.
    hub.remote_post(remote_post(5), &mut io);
    hub.remote_post(remote_post(6), &mut io);
    assert!(contents(&io.take(1)).is_empty());
    assert_eq!(io.fills.pop(), Some(("general".into(), 3, Some(5))));
    hub.remote_post(remote_post(4), &mut io);
    assert_eq!(contents(&io.take(1)), ["m4", "m5", "m6"]);
    // The gap's moment is over: it closed meanwhile, so nothing is read.
    hub.gap_due("general", Some(5), &mut io);
    assert!(io.gap_reads.is_empty());
    // 8 before 7: after its moment the gap is read; 7 arriving meanwhile is delivered, and
    // the read's answer then changes nothing.
    hub.remote_post(remote_post(8), &mut io);
    assert_eq!(io.fills.pop(), Some(("general".into(), 6, Some(8))));
    hub.gap_due("general", Some(8), &mut io);
    assert_eq!(io.gap_reads.pop(), Some(("general".into(), 6, Some(8))));
    hub.remote_post(remote_post(7), &mut io);
    assert_eq!(contents(&io.take(1)), ["m7", "m8"]);
    hub.gap_filled("general", vec![stored_public(7)], Some(8), false, &mut io);
    assert!(contents(&io.take(1)).is_empty());
    assert!(io.fills.is_empty());
    // Seen twice (a post tried again): shown once.
    hub.remote_post(remote_post(8), &mut io);
    assert!(contents(&io.take(1)).is_empty());
    // A gap read from the store is delivered in order.
    hub.remote_post(remote_post(10), &mut io);
    assert_eq!(io.fills.pop(), Some(("general".into(), 8, Some(10))));
    hub.gap_due("general", Some(10), &mut io);
    assert_eq!(io.gap_reads.pop(), Some(("general".into(), 8, Some(10))));
    hub.gap_filled("general", vec![stored_public(9)], Some(10), false, &mut io);
    assert_eq!(contents(&io.take(1)), ["m9", "m10"]);
    // A seq the store does not have below one that arrived never will be: skipped.
    hub.remote_post(remote_post(12), &mut io);
    assert_eq!(io.fills.pop(), Some(("general".into(), 10, Some(12))));
    hub.gap_filled("general", Vec::new(), Some(12), false, &mut io);
    assert_eq!(contents(&io.take(1)), ["m12"]);

    // A long gap is read a page at a time: nothing is skipped while the store has more.
    hub.remote_post(remote_post(14), &mut io);
    assert_eq!(io.fills.pop(), Some(("general".into(), 12, Some(14))));
    hub.gap_filled("general", Vec::new(), Some(14), true, &mut io);
    assert!(contents(&io.take(1)).is_empty(), "nothing skipped");
    assert_eq!(io.fills.pop(), Some(("general".into(), 12, Some(14))));
    hub.gap_filled("general", vec![stored_public(13)], Some(14), false, &mut io);
    assert_eq!(contents(&io.take(1)), ["m13", "m14"]);

    // The subscription was renewed: what came meanwhile is read, page by page.
    hub.bus_connected(&mut io);
    assert_eq!(io.fills.pop(), Some(("general".into(), 14, None)));
    hub.gap_filled("general", vec![stored_public(15)], None, true, &mut io);
    assert_eq!(contents(&io.take(1)), ["m15"]);
    assert_eq!(io.fills.pop(), Some(("general".into(), 15, None)));
    hub.gap_filled("general", vec![stored_public(16)], None, false, &mut io);
    assert_eq!(contents(&io.take(1)), ["m16"]);
    assert!(io.fills.is_empty());

    // The last member leaves: the node stops following, and drops what arrives.
    send(&mut hub, &mut io, 1, json!({"type":"quit"}));
    hub.remote_post(remote_post(17), &mut io);
    assert!(io.take(1).is_empty());
}

/// A cluster node: someone who leaves a room whose window was still being read is not left
/// waiting for it (its later frames arrive).
#[test]
fn leaving_a_room_still_being_followed_does_not_hold_the_session() {
    let (mut hub, mut io) = cluster_node();
    join(&mut hub, &mut io, 1, "alice");
    general_followed(&mut hub, &mut io);
    io.take(1);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"join_room","room":"attic"}),
    );
    assert!(io.follows.iter().any(|(room, _)| room == "attic"));
    // She leaves before the node hears the room: nothing more is waited for.
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"leave_room","room":"attic"}),
    );
    send(&mut hub, &mut io, 1, json!({"type":"ping","ref":5}));
    let frames = io.take(1);
    assert!(
        frames.iter().any(|f| f["type"] == "pong"),
        "her frames are not held: {frames:?}"
    );
    assert!(
        !frames.iter().any(|f| f["type"] == "joined_room"),
        "no joined_room for a room she left: {frames:?}"
    );
}

/// A cluster node whose subscription came back reads the stored moderation and rooms: a ban
/// it missed disconnects the user here, a topic it missed is shown, a room it missed is listed.
#[test]
fn what_a_node_missed_while_deaf_takes_effect_when_it_reads_the_store_again() {
    let (mut hub, mut io) = cluster_node();
    join(&mut hub, &mut io, 1, "mallory");
    join(&mut hub, &mut io, 2, "alice");
    general_followed(&mut hub, &mut io);
    io.take(1);
    io.take(2);
    let state = super::moderation::ModerationState {
        bans: vec![super::moderation::Ban {
            target: super::moderation::BanTarget::Name("mallory".into()),
            until_ms: None,
            reason: "spam".into(),
            by: "root".into(),
        }],
        ..Default::default()
    };
    let rooms = vec![
        RoomRecord {
            key: "general".into(),
            name: "general".into(),
            topic: "set elsewhere".into(),
            created_ms: 1,
            last_seq: 0,
        },
        RoomRecord {
            key: "annex".into(),
            name: "Annex".into(),
            topic: String::new(),
            created_ms: 2,
            last_seq: 0,
        },
    ];
    hub.reload_shared(state, rooms, &mut io);
    assert_eq!(error_code(&io.take(1)).as_deref(), Some("banned"));
    assert!(
        io.closed.iter().any(|(s, _)| *s == 1),
        "mallory is disconnected"
    );
    send(&mut hub, &mut io, 2, json!({"type":"rooms"}));
    let listed = io.take(2);
    let rooms = listed.iter().find(|f| f["type"] == "rooms").expect("rooms");
    let names: Vec<&str> = rooms["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Annex", "general"]);
    assert_eq!(rooms["rooms"][1]["topic"], "set elsewhere");
}

/// Logs `session` in to the account `name` (its password taken as right).
fn log_in(hub: &mut Hub, io: &mut TestIo, session: SessionId, name: &str) {
    hub.connect(session, format!("127.0.0.1:{}", 40000 + session), io);
    let login = json!({"type":"login","username":name,"password":"long enough"});
    send(hub, io, session, login);
    hub.password_checked(session, name.into(), Ok(()), io);
    assert!(
        io.joined.contains(&session),
        "{name} logged in on {session}"
    );
}

#[test]
fn a_second_login_of_an_account_is_another_device_of_the_same_user() {
    let mut hub = Hub::new(config(), Vec::new());
    let mut io = TestIo::default();
    hub.load_accounts(vec!["dana".into()]);
    join(&mut hub, &mut io, 1, "bob");
    log_in(&mut hub, &mut io, 2, "dana");
    io.take(1);
    io.take(2);

    // The laptop (2) and then the phone (3): bob hears of dana once.
    log_in(&mut hub, &mut io, 3, "dana");
    assert!(io.take(1).is_empty(), "no join notice for another device");
    let phone = io.take(3);
    assert_eq!(phone[0]["type"], "welcome");
    assert_eq!(phone[0]["username"], "dana");
    assert!(io.take(2).is_empty(), "the laptop is not disturbed");

    // bob's message reaches both devices; the phone's message reaches bob once, the laptop
    // sees it, and only the phone gets the ack.
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"hi dana"}),
    );
    settle(&mut hub, &mut io);
    assert_eq!(contents(&io.take(2)), ["hi dana"]);
    assert_eq!(contents(&io.take(3)), ["hi dana"]);
    io.take(1);
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"message","content":"from my phone","ref":7}),
    );
    settle(&mut hub, &mut io);
    assert_eq!(contents(&io.take(1)), ["from my phone"]);
    assert_eq!(contents(&io.take(2)), ["from my phone"]);
    let phone = io.take(3);
    assert_eq!(contents(&phone), ["from my phone"]);
    assert!(phone.iter().any(|f| f["type"] == "ack" && f["ref"] == 7));

    // A private message to dana reaches both; her answer from the laptop shows on the phone
    // (without the laptop's ref).
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"private_message","target":"dana","content":"psst"}),
    );
    settle(&mut hub, &mut io);
    assert!(io.take(2).iter().any(|f| f["type"] == "private_message"));
    assert!(io.take(3).iter().any(|f| f["type"] == "private_message"));
    let answer = json!({"type":"private_message","target":"bob","content":"yes?","ref":"a"});
    send(&mut hub, &mut io, 2, answer);
    settle(&mut hub, &mut io);
    let laptop = io.take(2);
    let phone = io.take(3);
    let confirmation = |frames: &[Value]| {
        frames
            .iter()
            .find(|f| f["type"] == "private_confirmation")
            .cloned()
            .expect("a confirmation")
    };
    assert_eq!(confirmation(&laptop)["ref"], "a");
    assert_eq!(confirmation(&phone)["content"], "yes?");
    assert!(confirmation(&phone).get("ref").is_none());

    // A refusal goes to the device that asked, alone.
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"message","room":"nowhere","content":"x","ref":1}),
    );
    assert_eq!(error_code(&io.take(3)).as_deref(), Some("unknown_room"));
    assert!(io.take(2).is_empty());

    // Joining a room from the phone opens it on the laptop too.
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"join_room","room":"plans","ref":2}),
    );
    settle(&mut hub, &mut io);
    let laptop = io.take(2);
    let phone = io.take(3);
    assert!(laptop
        .iter()
        .any(|f| f["type"] == "joined_room" && f.get("ref").is_none()));
    assert!(phone
        .iter()
        .any(|f| f["type"] == "joined_room" && f["ref"] == 2));
}

#[test]
fn a_user_leaves_when_their_last_device_does_and_a_kick_ends_them_all() {
    let mut hub = Hub::new(config(), Vec::new());
    let mut io = TestIo::default();
    hub.load_accounts(vec!["dana".into()]);
    join(&mut hub, &mut io, 1, "bob");
    log_in(&mut hub, &mut io, 2, "dana");
    log_in(&mut hub, &mut io, 3, "dana");
    io.take(1);

    // The laptop closes: dana stays, on her phone.
    hub.disconnect(2, Departure::Disconnected, &mut io);
    io.take(2);
    assert!(io.take(1).is_empty(), "no departure while a device remains");
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"private_message","target":"dana","content":"still there?"}),
    );
    settle(&mut hub, &mut io);
    assert!(io.take(3).iter().any(|f| f["content"] == "still there?"));
    assert!(io.take(2).is_empty(), "nothing for the closed connection");
    io.take(1);

    // The phone logs in again (a third device) and the old phone connection closes.
    log_in(&mut hub, &mut io, 4, "dana");
    hub.disconnect(3, Departure::Disconnected, &mut io);
    assert!(io.take(1).is_empty());
    hub.disconnect(4, Departure::Disconnected, &mut io);
    let bob = io.take(1);
    assert!(
        bob.iter()
            .any(|f| f["event"] == "left" || f["event"] == "disconnected"),
        "dana leaves with her last device: {bob:?}"
    );

    // Two devices again; a kick closes both.
    log_in(&mut hub, &mut io, 5, "dana");
    log_in(&mut hub, &mut io, 6, "dana");
    assert!(hub.kick("dana", "enough", &mut io));
    let closed: Vec<SessionId> = io.closed.iter().map(|(s, _)| *s).collect();
    assert!(closed.contains(&5) && closed.contains(&6), "{closed:?}");
}

#[test]
fn a_read_marker_reaches_every_device_of_its_user() {
    let mut hub = Hub::new(config(), Vec::new());
    let mut io = TestIo::default();
    hub.load_accounts(vec!["dana".into()]);
    log_in(&mut hub, &mut io, 2, "dana");
    log_in(&mut hub, &mut io, 3, "dana");
    // Each joining connection asked for the account's markers, as its own.
    let joins: Vec<SessionId> = io.markers.drain(..).map(|w| w.connection).collect();
    assert_eq!(joins, [2, 3]);
    io.take(2);
    io.take(3);

    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"mark_read","room":"general","seq":4,"ref":9}),
    );
    let work = io.markers.pop().expect("the store moves the marker");
    assert_eq!(work.owner, "account:dana");
    assert_eq!(work.connection, 3);
    let moved = crate::store::ReadMarkerRecord {
        conversation: "general".into(),
        seq: 4,
        ts_ms: 1_700_000_000_000,
    };
    hub.read_markers_read(work, Some(vec![moved]), &mut io);
    let phone = io.take(3);
    let laptop = io.take(2);
    assert_eq!(phone[0]["type"], "read_marker");
    assert_eq!(phone[0]["ref"], 9);
    assert_eq!(laptop[0]["type"], "read_marker");
    assert_eq!(laptop[0]["room"], "general");
    assert_eq!(laptop[0]["seq"], 4);
    assert!(laptop[0].get("ref").is_none());

    // Not a member: refused, nothing asked of the store.
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"mark_read","room":"elsewhere","seq":1}),
    );
    assert_eq!(error_code(&io.take(3)).as_deref(), Some("unknown_room"));
    assert!(io.markers.is_empty());
}

#[test]
fn a_room_joined_from_a_device_opens_on_every_device_once_its_window_is_in_nothing_twice() {
    let mut hub = Hub::new(config(), Vec::new());
    let mut io = TestIo::default();
    hub.load_accounts(vec!["dana".into()]);
    join(&mut hub, &mut io, 1, "bob");
    // "quiet" has history and nobody in it.
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"join_room","room":"quiet"}),
    );
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","room":"quiet","content":"old"}),
    );
    settle(&mut hub, &mut io);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"leave_room","room":"quiet"}),
    );
    log_in(&mut hub, &mut io, 2, "dana");
    log_in(&mut hub, &mut io, 3, "dana");
    io.sent.clear();

    // The phone joins it: the window is read; meanwhile general goes on.
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"join_room","room":"quiet","ref":"q"}),
    );
    assert_eq!(io.windows.len(), 1);
    send(
        &mut hub,
        &mut io,
        1,
        json!({"type":"message","content":"in general"}),
    );
    let batch = commit(&mut io);
    hub.stored(batch, &mut io);
    serve_windows(&mut hub, &mut io);
    for (device, reference) in [(2, None), (3, Some("q"))] {
        let got = io.take(device);
        let joined: Vec<&Value> = got.iter().filter(|f| f["type"] == "joined_room").collect();
        assert_eq!(joined.len(), 1, "{device}: {got:?}");
        assert_eq!(joined[0]["ref"].as_str(), reference, "{device}");
        assert_eq!(joined[0]["history"][0]["content"], "old");
        let general = got.iter().filter(|f| f["content"] == "in general").count();
        assert_eq!(
            general, 1,
            "{device}: held for it, then released once: {got:?}"
        );
        // The room first, then what was held.
        assert_eq!(got[0]["type"], "joined_room", "{device}: {got:?}");
    }
    // Joining again from the laptop answers the laptop alone.
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"join_room","room":"quiet","ref":"again"}),
    );
    assert_eq!(io.take(2)[0]["ref"], "again");
    assert!(io.take(3).is_empty());
}

#[test]
fn each_device_gets_what_its_own_protocol_carries_and_answers_outlive_the_device_that_asked() {
    let mut hub = Hub::new(config(), Vec::new());
    let mut io = TestIo::default();
    hub.load_accounts(vec!["dana".into()]);
    log_in(&mut hub, &mut io, 2, "dana");
    // dana's IRC client attaches too.
    hub.connect(3, "127.0.0.1:40003".into(), &mut io);
    let irc = Profile {
        protocol: Protocol::Irc,
        ident: None,
        realname: None,
    };
    hub.identify(3, irc.clone());
    let login = json!({"type":"login","username":"dana","password":"long enough","rooms":[]});
    send(&mut hub, &mut io, 3, login);
    hub.password_checked(3, "dana".into(), Ok(()), &mut io);
    // bob on IRC.
    hub.connect(4, "127.0.0.1:40004".into(), &mut io);
    hub.identify(4, irc);
    send(
        &mut hub,
        &mut io,
        4,
        json!({"type":"join","username":"bob"}),
    );
    io.sent.clear();

    // bob's client-only tags reach dana's IRC client, not her app.
    let tagged = r#"{"type":"tag_message","room":"general"}"#;
    let mut request = parse_request(tagged.as_bytes()).unwrap();
    request.client_tags = vec![("+example/ping".into(), Some("1".into()))];
    hub.request(4, request, &mut io);
    assert!(io.take(3).iter().any(|f| f["type"] == "tag_message"));
    assert!(!io.take(2).iter().any(|f| f["type"] == "tag_message"));

    // The app sends bob a private message and closes before it is stored: the IRC client
    // still sees it sent.
    send(
        &mut hub,
        &mut io,
        2,
        json!({"type":"private_message","target":"bob","content":"bye","ref":5}),
    );
    hub.disconnect(2, Departure::Disconnected, &mut io);
    settle(&mut hub, &mut io);
    let irc_client = io.take(3);
    let confirmation = irc_client
        .iter()
        .find(|f| f["type"] == "private_confirmation")
        .unwrap_or_else(|| panic!("the confirmation reaches the other device: {irc_client:?}"));
    assert_eq!(confirmation["content"], "bye");
    assert!(confirmation.get("ref").is_none());
}

#[test]
fn each_device_watches_its_own_names() {
    let mut hub = Hub::new(config(), Vec::new());
    let mut io = TestIo::default();
    hub.load_accounts(vec!["dana".into()]);
    log_in(&mut hub, &mut io, 2, "dana");
    log_in(&mut hub, &mut io, 3, "dana");
    io.sent.clear();
    send(
        &mut hub,
        &mut io,
        3,
        json!({"type":"monitor","add":["carol"],"ref":1}),
    );
    let answer = io.take(3);
    assert_eq!(answer[0]["type"], "monitor_status");
    assert_eq!(answer[0]["offline"][0], "carol");
    assert!(io.take(2).is_empty(), "the laptop did not ask");

    join(&mut hub, &mut io, 4, "carol");
    let news = io.take(3);
    assert!(news
        .iter()
        .any(|f| f["type"] == "monitor_status" && f["online"][0] == "carol"));
    assert!(!io.take(2).iter().any(|f| f["type"] == "monitor_status"));

    // The phone goes: its watch goes with it.
    hub.disconnect(3, Departure::Disconnected, &mut io);
    assert!(hub.watchers.get("carol").is_none_or(|w| !w.contains(&3)));
    hub.disconnect(4, Departure::Disconnected, &mut io);
    assert!(!io.take(2).iter().any(|f| f["type"] == "monitor_status"));
}
