//! Hub fan-out without sockets: one public message to a room of N members, through the whole
//! hub path (validate, stamp the time, "store", acknowledge, encode once, queue for every member).
//! The effects go to a counting `HubIo`; the store answers at once.
//!
//! `cargo bench -p palaver-server --bench fanout`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use palaver_proto::{parse_request, timestamp};
use palaver_server::hub::{
    Close, HistoryQuery, Hub, HubConfig, HubEvent, HubIo, Outgoing, SessionId,
};
use palaver_server::network::names::{ClaimAnswer, Holder, LocalNames, NameClaim, NameRegistry};
use palaver_server::store::{ResumeScope, RoomRecord, StoredMessage};

#[derive(Default)]
struct CountingIo {
    delivered: u64,
    bytes: u64,
    persisted: Vec<StoredMessage>,
    names: LocalNames,
}

impl HubIo for CountingIo {
    fn send(&mut self, _session: SessionId, frame: &Outgoing) -> bool {
        // What the runtime does per native delivery: encode once, share the buffer.
        let shared = frame.json();
        self.bytes += shared.len() as u64;
        self.delivered += 1;
        true
    }
    fn close(&mut self, _session: SessionId, _how: Close) {}
    fn joined(&mut self, _session: SessionId, _username: &str) {}
    fn persist(&mut self, message: StoredMessage) {
        self.persisted.push(message);
    }
    fn find_message(&mut self, _lookup: palaver_server::hub::message_changes::MessageLookup) {}
    fn save_room(&mut self, _room: RoomRecord) {}
    fn load_window(&mut self, _room_key: String, _before: u64, _limit: usize) {}
    fn fetch_history(&mut self, _query: HistoryQuery) {}
    fn replay_missed(&mut self, _session: SessionId, _scope: ResumeScope) {}
    fn event(&mut self, _event: HubEvent) {}
    fn claim_name(&mut self, claim: &NameClaim) -> Option<ClaimAnswer> {
        self.names.claim(claim)
    }
    fn release_name(&mut self, key: &str, holder: Holder) {
        self.names.release(key, holder);
    }
}

fn room_of(members: u64) -> (Hub, CountingIo) {
    let mut hub = Hub::new(HubConfig::default(), Vec::new());
    let mut io = CountingIo::default();
    for id in 0..members {
        hub.connect(id, "127.0.0.1:1".into(), &mut io);
        let join = format!("{{\"type\":\"join\",\"username\":\"u{id}\"}}");
        hub.request(id, parse_request(join.as_bytes()).unwrap(), &mut io);
    }
    (hub, io)
}

fn fanout(c: &mut Criterion) {
    let mut group = c.benchmark_group("hub_fanout");
    let message =
        parse_request(br#"{"type":"message","content":"hello everyone, how are you today?"}"#)
            .unwrap();
    for members in [10u64, 100, 1000] {
        let (mut hub, mut io) = room_of(members);
        group.throughput(Throughput::Elements(members));
        group.bench_with_input(
            BenchmarkId::new("message_to_room", members),
            &members,
            |b, _| {
                b.iter(|| {
                    hub.request(0, message.clone(), &mut io);
                    let batch = std::mem::take(&mut io.persisted);
                    hub.stored(batch, &mut io);
                })
            },
        );
    }
    group.finish();
    let _ = timestamp::now_millis();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
