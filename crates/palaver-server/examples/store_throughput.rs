//! Measures how many messages per second the SQLite store makes durable through the group-commit
//! writer, the way the hub uses it: one producer queues messages as fast as the bounded queue
//! takes them, and a message counts once its batch is committed (`synchronous=FULL`).
//!
//! Run: `cargo run --release -p palaver-server --example store_throughput -- [MESSAGES] [RUNS]`
//!
//! For comparison it also runs with batches of one message (no group commit), on fewer
//! messages, and prints both medians side by side.

use std::time::Instant;

use palaver_server::store::{self, MessageKind, StoreDone, StoreWriter, StoredMessage, WriteOp};
use tokio::sync::mpsc;

fn run(messages: u64, batch_max: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let backend = store::open(path.to_str().unwrap()).expect("open store");
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let writer = StoreWriter::spawn(backend, done_tx, 65_536, batch_max);
    let tx = writer.sender();
    let content =
        "The quick brown fox jumps over the lazy dog; typical chat line length.".to_string();
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        for id in 1..=messages {
            let kind = MessageKind::Public {
                room: "general".into(),
                room_key: "general".into(),
                username: format!("user{}", id % 100),
                username_key: format!("user{}", id % 100),
            };
            let message = StoredMessage {
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
    let grouped: Vec<f64> = (0..runs).map(|_| run(messages, 4096)).collect();
    let single: Vec<f64> = (0..runs).map(|_| run(2_000, 1)).collect();
    println!("store throughput, SQLite WAL synchronous=FULL, {runs} runs each (messages/s):");
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
