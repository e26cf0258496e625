//! Measures how many messages per second a store makes durable through the group-commit writer,
//! the way the hub uses it: one producer queues messages as fast as the bounded queue takes
//! them (to 20 rooms, and one in ten a private message), and a message counts once its batch is
//! committed (SQLite: `synchronous=FULL`; PostgreSQL: a throwaway cluster with `fsync=on`).
//!
//! Run: `cargo run --release -p palaver-server --example store_throughput -- [MESSAGES] [RUNS]
//! [--postgres]`
//!
//! For comparison it also runs with batches of one message (no group commit), on fewer
//! messages, and prints both medians side by side.

use std::time::Instant;

use palaver_server::store::{self, MessageKind, StoreDone, StoreWriter, StoredMessage, WriteOp};
use palaver_server::testing::ThrowawayPostgres;
use tokio::sync::mpsc;

fn run(messages: u64, batch_max: usize, postgres: Option<&ThrowawayPostgres>) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = match postgres {
        Some(cluster) => cluster.new_database(),
        None => dir.path().join("bench.db").to_str().unwrap().to_string(),
    };
    let backend = store::open(&database).expect("open store");
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let writer = StoreWriter::spawn(backend, done_tx, 65_536, batch_max);
    let tx = writer.sender();
    let content =
        "The quick brown fox jumps over the lazy dog; typical chat line length.".to_string();
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        for id in 1..=messages {
            let user = format!("user{}", id % 100);
            let kind = if id % 10 == 0 {
                MessageKind::Private {
                    sender: user.clone(),
                    sender_key: user.clone(),
                    sender_owner: format!("guest:{user}"),
                    target: "user0".into(),
                    target_key: "user0".into(),
                    target_owner: "guest:user0".into(),
                }
            } else {
                let room = format!("room{}", id % 20);
                MessageKind::Public {
                    owner: String::new(),
                    room: room.clone(),
                    room_key: room,
                    username: user.clone(),
                    username_key: user,
                }
            };
            let message = StoredMessage {
                change: None,
                state: Default::default(),
                id,
                seq: 0,
                ts_ms: 1_800_000_000_000 + id as i64,
                content: content.clone(),
                kind,
            };
            tx.blocking_send(WriteOp::Message(message))
                .expect("writer alive");
        }
    });
    let mut stored = 0u64;
    while stored < messages {
        match done_rx.blocking_recv().expect("completions") {
            StoreDone::Stored(batch) => stored += batch.len() as u64,
            StoreDone::Failed(_, e) => panic!("store failed: {e}"),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    producer.join().unwrap();
    writer.finish();
    messages as f64 / elapsed
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let messages: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let postgres = args.next().is_some_and(|a| a == "--postgres").then(|| {
        ThrowawayPostgres::start_durable()
            .expect("a PostgreSQL cluster (apt-get install postgresql)")
    });
    let pg = postgres.as_ref();
    let grouped: Vec<f64> = (0..runs).map(|_| run(messages, 4096, pg)).collect();
    let single: Vec<f64> = (0..runs).map(|_| run(2_000, 1, pg)).collect();
    let store = match pg {
        Some(_) => "PostgreSQL, fsync=on",
        None => "SQLite WAL synchronous=FULL",
    };
    println!("store throughput, {store}, {runs} runs each (messages/s):");
    for (name, v) in [
        ("group commit (batch <= 4096)", &grouped),
        ("one commit per message", &single),
    ] {
        let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = v.iter().cloned().fold(0.0, f64::max);
        println!(
            "  {name:<30} median {:>10.0}  min {:>10.0}  max {:>10.0}",
            median(v.clone()),
            min,
            max
        );
    }
    println!(
        "  ratio of medians: {:.0}x",
        median(grouped) / median(single)
    );
}
