//! Limits: rate limiting, flooding, slow readers, connection caps.

use std::time::Duration;

use palaver_client::proto::{ClientFrame, ServerFrame, SystemEvent};
use tokio::io::AsyncWriteExt;

use crate::harness::*;

#[tokio::test]
async fn excess_messages_are_refused_with_rate_limited_never_dropped_silently() {
    let server = TestServer::start_with(|c| {
        c.hub.rate_per_second = 1.0;
        c.hub.rate_burst = 3;
    })
    .await;
    let mut alice = server.join("alice").await; // the join took one token
    let mut bob = server.join("bob").await;
    for n in 0..6 {
        say(&mut alice, &format!("m{n}")).await;
    }
    let mut delivered = 0;
    let mut refused = 0;
    while delivered + refused < 6 {
        match alice.recv_timeout(WAIT).await.unwrap() {
            ServerFrame::Message(m) if m.username == "alice" => delivered += 1,
            ServerFrame::Error { code, .. } => {
                assert_eq!(code.as_str(), "rate_limited");
                refused += 1;
            }
            _ => {}
        }
    }
    assert_eq!((delivered, refused), (2, 4), "burst of 3 minus the join");
    // Bob received exactly the delivered ones.
    expect_message(&mut bob, "m0").await;
    expect_message(&mut bob, "m1").await;
}

#[tokio::test]
async fn sustained_flooding_is_disconnected() {
    let server = TestServer::start_with(|c| {
        c.hub.rate_per_second = 1.0;
        c.hub.rate_burst = 2;
        c.flood_disconnect_after = 10;
    })
    .await;
    let mut watcher = server.join("watcher").await;
    let mut flooder = server.join("flooder").await;
    let line = b"{\"type\":\"message\",\"content\":\"spam\"}\n".repeat(50);
    flooder.send_raw(&line).await.unwrap();
    let frames = expect_closed(&mut flooder).await;
    assert_eq!(
        frames.iter().filter_map(error_code).next_back(),
        Some("flooding")
    );
    let notice = expect(&mut watcher, "flooder leaves", |f| {
        matches!(
            f,
            ServerFrame::System {
                event: Some(SystemEvent::Disconnected),
                ..
            }
        )
    })
    .await;
    let ServerFrame::System { message, .. } = notice else {
        unreachable!()
    };
    assert_eq!(message, "flooder left the chat (flooding)");
}

#[tokio::test]
async fn a_slow_reader_is_disconnected_while_the_others_keep_receiving() {
    let server = TestServer::start_with(|c| {
        c.outbound_queue = 32;
        c.hub.rate_per_second = 0.0;
    })
    .await;
    let mut reader = server.join("reader").await;
    // The slow client joins and then never reads again.
    let (slow, _) = palaver_client::Connection::join(server.addr(), "sloth")
        .await
        .unwrap();
    let mut sender = palaver_client::Connection::connect(server.addr())
        .await
        .unwrap();
    sender
        .join_as(ClientFrame::Join {
            username: "sender".into(),
            since: None,
            rooms: None,
            resume_token: None,
        })
        .await
        .unwrap();
    let (mut echoes, mut sender) = sender.into_split();
    // Enough data to fill the sloth's socket buffers and then its queue: 4000 x 4 KB, sent in
    // steps of 10 that wait for their own echo, a pace any reading client keeps up with.
    let body = "z".repeat(4000);
    let sending = tokio::spawn(async move {
        for step in 0..400 {
            for n in step * 10..step * 10 + 10 {
                let frame = ClientFrame::Message {
                    attachments: Vec::new(),
                    reply_to: None,
                    content: format!("{n} {body}"),
                    room: None,
                };
                sender.send(&frame).await.unwrap();
            }
            let last = format!("{} ", step * 10 + 9);
            loop {
                match echoes.recv().await.unwrap() {
                    ServerFrame::Message(m) if m.content.starts_with(&last) => break,
                    _ => {}
                }
            }
        }
    });
    let mut received = 0;
    let mut saw_sloth_leave = false;
    while received < 4000 {
        match reader
            .recv_timeout(WAIT)
            .await
            .expect("the reader keeps receiving")
        {
            ServerFrame::Message(m) => {
                assert!(
                    m.content.starts_with(&format!("{received} ")),
                    "in order, none lost"
                );
                received += 1;
            }
            ServerFrame::System { message, .. } if message == "sloth left the chat (too slow)" => {
                saw_sloth_leave = true
            }
            _ => {}
        }
    }
    assert!(saw_sloth_leave, "the slow reader was disconnected");
    sending.await.unwrap();
    let users = server.server.handle().users().await;
    assert!(!users.iter().any(|u| u.username == "sloth"));
    // The sloth reads again a few seconds later: behind what its socket still held, it finds
    // why it was dropped.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let mut slow = slow;
    let mut last = None;
    loop {
        match slow.recv_timeout(WAIT).await {
            Ok(frame) => last = Some(frame),
            Err(palaver_client::ConnectionError::Closed)
            | Err(palaver_client::ConnectionError::Io(_)) => break,
            // The frame the abort cut short.
            Err(palaver_client::ConnectionError::BadFrame(_)) => continue,
            Err(e) => panic!("reading what the sloth was sent: {e}"),
        }
    }
    assert_eq!(
        last.as_ref().and_then(error_code),
        Some("slow_consumer"),
        "last words: {:.300}",
        format!("{last:?}")
    );
}

#[tokio::test]
async fn connections_beyond_the_per_address_limit_are_refused_with_a_reason() {
    let server = TestServer::start_with(|c| c.max_connections_per_ip = 2).await;
    let _a = server.join("a").await;
    let _b = server.join("b").await;
    let mut third = palaver_client::Connection::connect(server.addr())
        .await
        .unwrap();
    let frames = expect_closed(&mut third).await;
    assert_eq!(
        frames.iter().filter_map(error_code).collect::<Vec<_>>(),
        vec!["too_many_connections"]
    );
    drop(_a);
    // The slot comes back once a connection closes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _c = server.join("c").await;
}

#[tokio::test]
async fn a_client_that_stops_mid_line_costs_nothing() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    for _ in 0..20 {
        let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        s.write_all(&vec![b'{'; 10_000]).await.unwrap();
    }
    say(&mut alice, "unbothered").await;
    expect_message(&mut alice, "unbothered").await;
}
