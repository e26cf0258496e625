//! The real binary: SIGTERM tells every client, flushes, and exits 0 in time.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use palaver_client::proto::ServerFrame;

use crate::harness::*;

#[tokio::test]
async fn sigterm_notifies_clients_flushes_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palaver-server"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--no-irc",
            "--no-http",
            "--log-format",
            "json",
        ])
        .arg("--database")
        .arg(crate::harness::database_for(&dir.path().join("p.db")))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let log = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if let Some(addr) = v["fields"]["address"].as_str() {
                    let _ = addr_tx.send(addr.to_string());
                }
            }
            lines.push(line);
        }
        lines
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server logs its address");
    let (mut alice, _) = palaver_client::Connection::join(addr.as_str(), "alice")
        .await
        .unwrap();
    let (mut bob, _) = palaver_client::Connection::join(addr.as_str(), "bob")
        .await
        .unwrap();
    say(&mut alice, "last words").await;
    expect_message(&mut bob, "last words").await;

    // A line typed on the console is announced to everyone.
    let mut console = child.stdin.take().unwrap();
    console.write_all(b"Hello from the console\n").unwrap();
    console.flush().unwrap();
    for conn in [&mut alice, &mut bob] {
        assert_eq!(expect_announcement(conn).await, "Hello from the console");
    }

    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for conn in [&mut alice, &mut bob] {
        let frames = expect_closed(conn).await;
        assert!(
            frames.iter().any(|f| matches!(f, ServerFrame::Server { message, .. } if message.contains("shutting down"))),
            "told before being closed: {frames:?}"
        );
    }
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "exits within 5 seconds"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
    let lines = log.join().unwrap();
    assert!(
        lines.iter().any(|l| l.contains("shutdown complete")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"username\":\"alice\"") && l.contains("joined")),
        "joins are logged"
    );

    // The message is on disk: a new server on the same file replays it.
    let server = palaver_server::Server::start(test_config(dir.path().join("p.db")))
        .await
        .unwrap();
    let (_c, welcome) = palaver_client::Connection::join(server.local_addr(), "carol")
        .await
        .unwrap();
    assert!(serde_json::to_string(&welcome.history)
        .unwrap()
        .contains("last words"));
}
