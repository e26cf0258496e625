//! Property test: random sequences of joins, room joins and leaves, public and private
//! messages, kicks, disconnects and store commits, checked against a model of who should see
//! what. Two promises are checked after every sequence: no private message ever reaches a third
//! party, and every member of a room receives each public message of that room exactly once
//! (members at the moment it is delivered, which is when the store has it).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use serde_json::json;

use super::tests::{config, send, settle, TestIo};
use super::{Departure, Hub, SessionId};

const USERS: u64 = 5;
const ROOMS: [&str; 3] = ["general", "den", "lab"];

#[derive(Debug, Clone)]
enum Op {
    Connect(u64),
    JoinRoom(u64, usize),
    LeaveRoom(u64, usize),
    Say(u64, usize),
    Whisper(u64, u64),
    Kick(u64, u64, usize),
    Disconnect(u64),
    Settle,
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS;
    let room = 0..ROOMS.len();
    prop_oneof![
        2 => user.clone().prop_map(Op::Connect),
        1 => (user.clone(), room.clone()).prop_map(|(u, r)| Op::JoinRoom(u, r)),
        1 => (user.clone(), room.clone()).prop_map(|(u, r)| Op::LeaveRoom(u, r)),
        3 => (user.clone(), room.clone()).prop_map(|(u, r)| Op::Say(u, r)),
        2 => (user.clone(), user.clone()).prop_map(|(a, b)| Op::Whisper(a, b)),
        1 => (user.clone(), user.clone(), room).prop_map(|(a, b, r)| Op::Kick(a, b, r)),
        1 => user.prop_map(Op::Disconnect),
        2 => Just(Op::Settle),
    ]
}

/// What the model expects, session by session.
#[derive(Default)]
struct Model {
    /// User index -> its current session, if connected.
    online: BTreeMap<u64, SessionId>,
    /// Room -> member sessions; room -> operator sessions.
    members: BTreeMap<usize, BTreeSet<SessionId>>,
    operators: BTreeMap<usize, BTreeSet<SessionId>>,
    /// Messages sent and not yet stored: (content, room or private target session).
    in_flight: Vec<(String, Target)>,
    /// Session -> public contents it must receive exactly once.
    expected_public: BTreeMap<SessionId, Vec<String>>,
    /// Private content -> the only sessions allowed to see it as a `private_message`.
    private_to: BTreeMap<String, SessionId>,
    next_session: SessionId,
}

#[derive(Debug, Clone)]
enum Target {
    Room(usize),
    Private(SessionId),
}

impl Model {
    fn enter(&mut self, session: SessionId, room: usize) {
        let members = self.members.entry(room).or_default();
        if members.is_empty() {
            self.operators.entry(room).or_default().insert(session);
        }
        members.insert(session);
    }

    fn leave(&mut self, session: SessionId, room: usize) {
        self.members.entry(room).or_default().remove(&session);
        self.operators.entry(room).or_default().remove(&session);
    }

    fn member(&self, session: SessionId, room: usize) -> bool {
        self.members
            .get(&room)
            .is_some_and(|m| m.contains(&session))
    }
}

fn name(user: u64) -> String {
    format!("user{user}")
}

fn run(ops: Vec<Op>) {
    // Frames held for a session behind a gate (waiting for a room's window) are bounded; a
    // session that overflows that is dropped as a slow consumer, which the model does not
    // follow (other tests do). Room enough here for the longest sequence.
    let config = super::HubConfig {
        catch_up_buffer: 1024,
        ..config()
    };
    let mut hub = Hub::new(config, Vec::new());
    let mut io = TestIo::default();
    let mut model = Model {
        next_session: 1,
        ..Model::default()
    };
    let mut received: BTreeMap<SessionId, Vec<serde_json::Value>> = BTreeMap::new();
    let mut counter = 0;
    for op in ops {
        match op {
            Op::Connect(u) => {
                if model.online.contains_key(&u) {
                    continue;
                }
                let s = model.next_session;
                model.next_session += 1;
                hub.connect(s, format!("10.0.0.{u}:1"), &mut io);
                send(
                    &mut hub,
                    &mut io,
                    s,
                    json!({"type":"join","username":name(u)}),
                );
                model.online.insert(u, s);
                model.enter(s, 0);
            }
            Op::JoinRoom(u, r) => {
                let Some(&s) = model.online.get(&u) else {
                    continue;
                };
                send(
                    &mut hub,
                    &mut io,
                    s,
                    json!({"type":"join_room","room":ROOMS[r]}),
                );
                if !model.member(s, r) {
                    model.enter(s, r);
                }
            }
            Op::LeaveRoom(u, r) => {
                let Some(&s) = model.online.get(&u) else {
                    continue;
                };
                send(
                    &mut hub,
                    &mut io,
                    s,
                    json!({"type":"leave_room","room":ROOMS[r]}),
                );
                model.leave(s, r);
            }
            Op::Say(u, r) => {
                let Some(&s) = model.online.get(&u) else {
                    continue;
                };
                counter += 1;
                let content = format!("public {counter}");
                send(
                    &mut hub,
                    &mut io,
                    s,
                    json!({"type":"message","room":ROOMS[r],"content":content}),
                );
                if model.member(s, r) {
                    model.in_flight.push((content, Target::Room(r)));
                }
            }
            Op::Whisper(a, b) => {
                let Some(&s) = model.online.get(&a) else {
                    continue;
                };
                counter += 1;
                let content = format!("private {counter}");
                send(
                    &mut hub,
                    &mut io,
                    s,
                    json!({"type":"private_message","target":name(b),"content":content}),
                );
                if let Some(&t) = model.online.get(&b) {
                    model.in_flight.push((content.clone(), Target::Private(t)));
                    model.private_to.insert(content, t);
                }
            }
            Op::Kick(a, b, r) => {
                let (Some(&s), Some(&t)) = (model.online.get(&a), model.online.get(&b)) else {
                    continue;
                };
                send(
                    &mut hub,
                    &mut io,
                    s,
                    json!({"type":"kick","room":ROOMS[r],"username":name(b)}),
                );
                let allowed = model.member(s, r)
                    && model.operators.get(&r).is_some_and(|o| o.contains(&s))
                    && model.member(t, r);
                if allowed {
                    model.leave(t, r);
                }
            }
            Op::Disconnect(u) => {
                let Some(s) = model.online.remove(&u) else {
                    continue;
                };
                hub.disconnect(s, Departure::Disconnected, &mut io);
                for r in 0..ROOMS.len() {
                    model.leave(s, r);
                }
            }
            Op::Settle => {
                settle(&mut hub, &mut io);
                deliver(&mut model);
            }
        }
        for (s, frames) in io.sent.drain() {
            received.entry(s).or_default().extend(frames);
        }
    }
    settle(&mut hub, &mut io);
    deliver(&mut model);
    for (s, frames) in io.sent.drain() {
        received.entry(s).or_default().extend(frames);
    }

    // No private message reaches anyone but its target.
    for (s, frames) in &received {
        for f in frames.iter().filter(|f| f["type"] == "private_message") {
            let content = f["content"].as_str().unwrap();
            assert_eq!(
                model.private_to.get(content),
                Some(s),
                "private {content:?} reached session {s}"
            );
        }
    }
    // Every member at delivery time got each public message of its rooms exactly once, and
    // nobody got one they should not have.
    for s in 1..model.next_session {
        let mut got: Vec<String> = received
            .get(&s)
            .map(|frames| {
                frames
                    .iter()
                    .filter(|f| f["type"] == "message")
                    .map(|f| f["content"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let mut want = model.expected_public.get(&s).cloned().unwrap_or_default();
        got.sort();
        want.sort();
        assert_eq!(got, want, "public messages of session {s}");
    }
}

/// The store reported everything in flight: the model delivers it like the hub should.
fn deliver(model: &mut Model) {
    for (content, target) in std::mem::take(&mut model.in_flight) {
        match target {
            Target::Room(r) => {
                for s in model.members.get(&r).cloned().unwrap_or_default() {
                    model
                        .expected_public
                        .entry(s)
                        .or_default()
                        .push(content.clone());
                }
            }
            Target::Private(t) => {
                if !model.online.values().any(|s| *s == t) {
                    // The target left before the message was stored: nobody gets it.
                    model.private_to.remove(&content);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn privacy_and_delivery_hold_for_any_sequence(ops in prop::collection::vec(op(), 1..80)) {
        run(ops);
    }
}
