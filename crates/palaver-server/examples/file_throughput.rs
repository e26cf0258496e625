//! Measures files over HTTP: a server on loopback (SQLite, files on disk; or `--postgres`, files
//! in the database), one client uploading FILES files of SIZE MiB one after another (each: ask,
//! then PUT), then downloading each. Prints MiB/s per run and the median of RUNS runs.
//!
//! Run: `cargo run --release -p palaver-server --example file_throughput -- [FILES] [SIZE_MIB]
//! [RUNS] [--postgres]` (20 files of 5 MiB, 5 runs by default).

use std::time::Instant;

use palaver_client::proto::ServerFrame;
use palaver_client::{Client, ClientConfig};
use palaver_server::testing::ThrowawayPostgres;
use palaver_server::{Server, ServerConfig};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    xs[xs.len() / 2]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let postgres = args.iter().any(|a| a == "--postgres");
    let numbers: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let files = numbers.first().copied().unwrap_or(20);
    let size = numbers.get(1).copied().unwrap_or(5) * 1024 * 1024;
    let runs = numbers.get(2).copied().unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let cluster = postgres.then(|| ThrowawayPostgres::start().expect("PostgreSQL runs here"));
    let database = match &cluster {
        Some(c) => c.new_database(),
        None => dir.path().join("files.db").to_string_lossy().into_owned(),
    };
    let mut config = ServerConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        http_bind: Some("127.0.0.1:0".parse().unwrap()),
        database,
        ..ServerConfig::default()
    };
    config.hub.rate_per_second = 0.0;
    config.files.max_bytes = size;
    config.files.quota_bytes = u64::MAX;
    config.files.per_minute = u32::MAX;
    let server = Server::start(config).await.expect("server starts");
    let (client, mut events) =
        Client::connect(ClientConfig::new(server.local_addr().to_string(), "bench"))
            .await
            .expect("joins");
    let base = match events.recv().await {
        Some(palaver_client::Event::Connected(w)) => w.http_base.expect("files are on"),
        other => panic!("no welcome: {other:?}"),
    };
    let mut up = Vec::new();
    let mut down = Vec::new();
    for run in 0..runs {
        let mut ids = Vec::new();
        let started = Instant::now();
        for n in 0..files {
            // Different bytes each time: nothing is kept once for two uploads.
            let bytes: Vec<u8> = (0..size).map(|i| (i ^ (run * 1000 + n)) as u8).collect();
            let kept = client
                .upload(
                    &base,
                    &format!("f{run}-{n}.bin"),
                    "application/octet-stream",
                    bytes,
                )
                .await
                .expect("uploaded");
            ids.push(kept.id);
        }
        let secs = started.elapsed().as_secs_f64();
        let mib = (files * size) as f64 / (1024.0 * 1024.0);
        up.push(mib / secs);
        // Send them (ten a message), then fetch each by the link its message carries.
        for chunk in ids.chunks(10) {
            let frame = palaver_client::proto::ClientFrame::Message {
                content: String::new(),
                room: None,
                reply_to: None,
                attachments: chunk.to_vec(),
            };
            client.send_acked(frame).await.expect("sent");
        }
        let mut links = Vec::new();
        while links.len() < ids.len() {
            match events.recv().await {
                Some(palaver_client::Event::Frame(ServerFrame::Message(m))) => {
                    links.extend(m.state.attachments)
                }
                Some(_) => {}
                None => panic!("the session ended"),
            }
        }
        let started = Instant::now();
        for a in &links {
            let bytes = palaver_client::files::get(&base, &a.url)
                .await
                .expect("downloaded");
            assert_eq!(bytes.len() as u64, size);
        }
        let secs = started.elapsed().as_secs_f64();
        down.push(mib / secs);
        println!(
            "run {run}: upload {:.0} MiB/s, download {:.0} MiB/s",
            up[run as usize], down[run as usize]
        );
    }
    println!(
        "{} files of {} MiB, {}: upload median {:.0} MiB/s, download median {:.0} MiB/s",
        files,
        size / (1024 * 1024),
        if postgres {
            "PostgreSQL"
        } else {
            "SQLite + disk"
        },
        median(up),
        median(down)
    );
    server.shutdown().await;
}
