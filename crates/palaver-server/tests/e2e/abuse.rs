//! Abuse resistance: names that only look alike are refused on both protocols, and a flood of
//! new connections from one address is turned away at the door while the people already
//! connected chat on undisturbed.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;

use palaver_client::Connection;

use crate::harness::*;
use crate::irc_client::Irc;

#[tokio::test]
async fn names_that_only_look_alike_are_refused() {
    let server = TestServer::start_irc().await;
    let alice = server.join("alice").await;
    for lookalike in ["\u{430}lice", "aIice", "ALICE", "a\u{217C}ice"] {
        let refused = Connection::join(server.addr(), lookalike).await;
        let Err(e) = refused else {
            panic!("{lookalike:?} was accepted while alice is online");
        };
        assert!(
            e.to_string().to_lowercase().contains("alice"),
            "says why: {e}"
        );
    }
    // The same over IRC.
    let mut irc = Irc::connect(server.irc_addr()).await;
    irc.send("NICK \u{430}lice").await;
    irc.send("USER x 0 * :x").await;
    let taken = irc.expect("433", |m| m.command == "433").await;
    assert_eq!(taken.params[1], "\u{430}lice");
    // A different name is fine, and once alice leaves, her look-alike may have the name.
    server.join("alicia").await;
    drop(alice);
    let deadline = Instant::now() + WAIT;
    loop {
        match Connection::join(server.addr(), "\u{430}lice").await {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("still refused after alice left: {e}"),
        }
    }
}

#[tokio::test]
async fn a_connection_flood_from_one_address_leaves_everyone_else_unaffected() {
    let server = TestServer::start_with(|c| c.max_new_connections_per_minute = 20).await;
    let mut steady = server.join("steady").await;
    let mut peer = server.join("peer").await;
    // 200 connections as fast as possible from the same address.
    let addr = server.addr();
    let flood = tokio::spawn(async move {
        let mut refused = 0;
        let mut kept = Vec::new();
        for _ in 0..200 {
            let Ok(stream) = TcpStream::connect(addr).await else {
                refused += 1;
                continue;
            };
            let mut lines = BufReader::new(stream);
            let mut first = String::new();
            match tokio::time::timeout(Duration::from_millis(200), lines.read_line(&mut first))
                .await
            {
                Ok(Ok(_)) if first.contains("too_many_connections") => refused += 1,
                _ => kept.push(lines),
            }
        }
        (refused, kept.len())
    });
    // Meanwhile the two chat, and every message arrives promptly.
    for n in 0..20 {
        let text = format!("still here {n}");
        let sent = Instant::now();
        say(&mut steady, &text).await;
        expect_message(&mut peer, &text).await;
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "a message took {:?}",
            sent.elapsed()
        );
    }
    let (refused, kept) = flood.await.unwrap();
    // 20 a minute: the burst (2 of it used by steady and peer) and a refill every 3 s.
    assert!(kept <= 20, "at most the burst gets in: {kept}");
    assert!(
        refused >= 180,
        "the rest is refused with a reason: {refused}"
    );
    // steady and peer are still connected.
    say(&mut peer, "after the flood").await;
    let m = expect_message(&mut steady, "after the flood").await;
    assert_eq!(m.username, "peer");
}
