//! What a cluster node's memory holds for the users of the other nodes: a hub is told of
//! `N` users online elsewhere (each in two rooms, as a node's snapshot says them), and the
//! growth of this process's resident memory is divided by `N`.
//!
//! ```text
//! cargo run --release -p palaver-server --example presence_memory -- 200000
//! ```

use palaver_server::hub::{
    Close, HistoryQuery, Hub, HubConfig, HubEvent, HubIo, Outgoing, SessionId,
};
use palaver_server::network::names::{ClaimAnswer, Holder, NameClaim};
use palaver_server::network::presence::{OnlineUser, Presence};
use palaver_server::store::{ResumeScope, RoomRecord, StoredMessage};

/// Effects go nowhere: only the hub's state is measured.
struct Nowhere;

impl HubIo for Nowhere {
    fn send(&mut self, _: SessionId, _: &Outgoing) -> bool {
        true
    }
    fn close(&mut self, _: SessionId, _: Close) {}
    fn joined(&mut self, _: SessionId, _: &str) {}
    fn persist(&mut self, _: StoredMessage) {}
    fn find_message(&mut self, _lookup: palaver_server::hub::message_changes::MessageLookup) {}
    fn save_room(&mut self, _: RoomRecord) {}
    fn load_window(&mut self, _: String, _: u64, _: usize) {}
    fn fetch_history(&mut self, _: HistoryQuery) {}
    fn replay_missed(&mut self, _: SessionId, _: ResumeScope) {}
    fn event(&mut self, _: HubEvent) {}
    fn claim_name(&mut self, _: &NameClaim) -> Option<ClaimAnswer> {
        None
    }
    fn release_name(&mut self, _: &str, _: Holder) {}
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("resident pages");
    pages * 4096
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let config = HubConfig {
        node: 1,
        clustered: true,
        ..HubConfig::default()
    };
    let rooms: Vec<RoomRecord> = (0..100)
        .map(|i| RoomRecord {
            key: format!("room{i}"),
            name: format!("Room{i}"),
            topic: String::new(),
            created_ms: 0,
            last_seq: 0,
        })
        .collect();
    let mut hub = Hub::new(config, rooms);
    let mut io = Nowhere;
    let before = rss_bytes();
    let user = |i: usize| {
        let name = format!("user{i:07}");
        OnlineUser {
            holder: Holder {
                node: 2,
                session: i as u64,
            },
            key: name.clone(),
            owner: format!("guest:{i:064x}"),
            address: format!("{name}!~{name}@native.palaver"),
            rooms: vec![
                ("general".into(), "general".into()),
                (format!("room{}", i % 100), format!("Room{}", i % 100)),
            ],
            joined_ms: 0,
            away: None,
            account: None,
            realname: Some(name.clone()),
            name,
        }
    };
    // Told in parts of 500, as a node's snapshot is.
    for (part, start) in (0..n).step_by(500).enumerate() {
        let snapshot = Presence::Snapshot {
            node: 2,
            part: part + 1,
            users: (start..(start + 500).min(n)).map(user).collect(),
        };
        hub.presence(snapshot, &mut io);
    }
    let after = rss_bytes();
    println!(
        "{n} users of other nodes: {:.1} MiB more resident, {:.0} bytes per user",
        (after - before) as f64 / 1048576.0,
        (after - before) as f64 / n as f64
    );
}
