//! History: it survives restarts, pages backwards, and a returning client misses nothing.

use palaver_client::proto::{ChatMessage, ClientFrame, Cursors, ServerFrame};
use palaver_client::{Client, ClientConfig, Event};
use palaver_server::Server;

use crate::harness::*;

fn contents(messages: &[ChatMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| match m {
            ChatMessage::Message(m) => m.content.clone(),
            ChatMessage::PrivateMessage(m) => m.content.clone(),
            other => panic!("a change in history: {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn history_survives_a_restart_and_pages_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("palaver.db");
    let server = Server::start(test_config(db.clone())).await.unwrap();
    let addr = server.local_addr();
    let (mut alice, _) = palaver_client::Connection::join(addr, "alice")
        .await
        .unwrap();
    let (mut bob, bob_welcome) = palaver_client::Connection::join(addr, "bob").await.unwrap();
    let bob_token = bob_welcome.resume_token.clone();
    for n in 0..120 {
        say(&mut alice, &format!("public {n}")).await;
    }
    expect_message(&mut alice, "public 119").await;
    alice
        .send(&ClientFrame::PrivateMessage {
            attachments: Vec::new(),
            reply_to: None,
            target: "bob".into(),
            content: "our secret".into(),
        })
        .await
        .unwrap();
    expect(&mut bob, "pm", |f| {
        matches!(f, ServerFrame::PrivateMessage(_))
    })
    .await;
    server.shutdown().await;

    let server = Server::start(test_config(db)).await.unwrap();
    let (mut carol, welcome) = palaver_client::Connection::join(server.local_addr(), "carol")
        .await
        .unwrap();
    let recent = contents(&welcome.history);
    assert_eq!(recent.len(), 50, "the last 50 are replayed on join");
    assert_eq!(recent.first().unwrap(), "public 70");
    assert_eq!(recent.last().unwrap(), "public 119");

    // Page further back from the oldest one shown.
    let oldest = welcome.history[0].seq();
    carol
        .send(&ClientFrame::History {
            room: None,
            with: None,
            before: Some(oldest),
            before_id: None,
            after_id: None,
            limit: Some(100),
            around_id: None,
            oldest_first: false,
        })
        .await
        .unwrap();
    let page = expect(&mut carol, "history page", |f| {
        matches!(f, ServerFrame::History { .. })
    })
    .await;
    let ServerFrame::History {
        messages, has_more, ..
    } = page
    else {
        unreachable!()
    };
    assert_eq!(
        contents(&messages),
        (0..70).map(|n| format!("public {n}")).collect::<Vec<_>>()
    );
    assert!(!has_more);

    // Private history is visible to its two parties only.
    carol
        .send(&ClientFrame::History {
            room: None,
            with: Some("alice".into()),
            before: None,
            before_id: None,
            after_id: None,
            limit: None,
            around_id: None,
            oldest_first: false,
        })
        .await
        .unwrap();
    let page = expect(&mut carol, "carol's dm history", |f| {
        matches!(f, ServerFrame::History { .. })
    })
    .await;
    let ServerFrame::History { messages, .. } = page else {
        unreachable!()
    };
    assert!(
        messages.is_empty(),
        "carol sees no one else's private messages"
    );
    // bob's session continues with its token (a guest's private history is its session's).
    let mut bob = palaver_client::Connection::connect(server.local_addr())
        .await
        .unwrap();
    bob.join_as(ClientFrame::Join {
        username: "bob".into(),
        since: None,
        rooms: None,
        resume_token: bob_token,
    })
    .await
    .unwrap();
    bob.send(&ClientFrame::History {
        room: None,
        with: Some("Alice".into()),
        before: None,
        before_id: None,
        after_id: None,
        limit: None,
        around_id: None,
        oldest_first: false,
    })
    .await
    .unwrap();
    let page = expect(&mut bob, "bob's dm history", |f| {
        matches!(f, ServerFrame::History { .. })
    })
    .await;
    let ServerFrame::History { messages, with, .. } = page else {
        unreachable!()
    };
    assert_eq!(contents(&messages), vec!["our secret"]);
    assert_eq!(with.as_deref(), Some("Alice"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_returning_client_gets_what_it_missed_in_order_then_live_traffic() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    say(&mut alice, "before").await;
    let last_seen = expect_message(&mut bob, "before").await.seq;
    drop(bob);
    expect(
        &mut alice,
        "bob leaves",
        |f| matches!(f, ServerFrame::System { message, .. } if message == "bob left the chat"),
    )
    .await;

    for n in 0..5 {
        say(&mut alice, &format!("missed {n}")).await;
    }
    alice
        .send(&ClientFrame::PrivateMessage {
            attachments: Vec::new(),
            reply_to: None,
            target: "carol".into(),
            content: "not for bob".into(),
        })
        .await
        .unwrap();
    expect_message(&mut alice, "missed 4").await;

    let mut bob = palaver_client::Connection::connect(server.addr())
        .await
        .unwrap();
    let welcome = bob
        .join_as(ClientFrame::Join {
            username: "bob".into(),
            since: Some(Cursors::from([("general".to_string(), last_seen)])),
            rooms: None,
            resume_token: None,
        })
        .await
        .unwrap();
    assert!(
        welcome.history.is_empty(),
        "no recent-history replay when resuming"
    );
    say(&mut alice, "live").await;
    let mut got = Vec::new();
    loop {
        match bob.recv_timeout(WAIT).await.unwrap() {
            ServerFrame::Message(m) => {
                got.push(m.content.clone());
                if m.content == "live" {
                    break;
                }
            }
            ServerFrame::Resumed { replayed, complete } => {
                assert_eq!((replayed, complete), (5, true));
                got.push("<resumed>".into());
            }
            _ => {}
        }
    }
    assert_eq!(
        got,
        vec![
            "missed 0",
            "missed 1",
            "missed 2",
            "missed 3",
            "missed 4",
            "<resumed>",
            "live"
        ]
    );
}

#[tokio::test]
async fn the_client_library_reconnects_across_a_restart_without_loss_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("palaver.db");
    let server = Server::start(test_config(db.clone())).await.unwrap();
    let addr = server.local_addr();
    let mut config = ClientConfig::new(addr.to_string(), "bob");
    config.backoff_initial = std::time::Duration::from_millis(50);
    config.backoff_max = std::time::Duration::from_millis(200);
    let (bob, mut events) = Client::connect(config).await.unwrap();
    let (mut alice, _) = palaver_client::Connection::join(addr, "alice")
        .await
        .unwrap();
    for n in 0..3 {
        say(&mut alice, &format!("m{n}")).await;
    }
    expect_message(&mut alice, "m2").await;
    drop(alice);
    server.shutdown().await;

    // Same address, same database: the client comes back on its own.
    let mut config = test_config(db);
    config.bind = addr;
    let server = Server::start(config).await.unwrap();
    let (mut alice, _) = palaver_client::Connection::join(addr, "alice")
        .await
        .unwrap();
    // Alice talks before bob is back; bob must still get it, once.
    for n in 3..6 {
        say(&mut alice, &format!("m{n}")).await;
    }
    let mut seen = Vec::new();
    let mut connections = 0;
    while seen.last().map(String::as_str) != Some("m7") {
        let event = tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("events keep coming")
            .unwrap();
        match event {
            Event::Frame(ServerFrame::Message(m)) => seen.push(m.content),
            // The first Connected is the original join, queued before the restart.
            Event::Connected(_) if connections == 0 => connections += 1,
            Event::Connected(_) => {
                connections += 1;
                let ack = bob.send_message(None, "m6").await;
                assert!(ack.is_ok(), "{ack:?}");
                say(&mut alice, "m7").await;
            }
            _ => {}
        }
    }
    assert_eq!(connections, 2, "joined, then rejoined once");
    assert_eq!(seen, ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_long_absence_is_replayed_whole_and_history_is_served_one_page_at_a_time() {
    let server = TestServer::start_with(|c| c.hub.max_resume = 3).await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    say(&mut alice, "seen").await;
    let last_seen = expect_message(&mut bob, "seen").await.seq;
    drop(bob);
    for n in 0..10 {
        say(&mut alice, &format!("away {n}")).await;
    }
    expect_message(&mut alice, "away 9").await;
    let mut bob = palaver_client::Connection::connect(server.addr())
        .await
        .unwrap();
    bob.join_as(ClientFrame::Join {
        username: "bob".into(),
        since: Some(Cursors::from([("general".to_string(), last_seen)])),
        rooms: None,
        resume_token: None,
    })
    .await
    .unwrap();
    let mut got = Vec::new();
    loop {
        match bob.recv_timeout(WAIT).await.unwrap() {
            ServerFrame::Message(m) => got.push(m.content),
            ServerFrame::Resumed {
                replayed, complete, ..
            } => {
                assert_eq!((replayed, complete), (10, true), "pages of 3, all of them");
                break;
            }
            _ => {}
        }
    }
    assert_eq!(
        got,
        (0..10).map(|n| format!("away {n}")).collect::<Vec<_>>()
    );

    // Requests at once (a client loading two windows): each is answered, in order, while up
    // to eight wait behind the page being read; one more than that is refused.
    let page = b"{\"type\":\"history\",\"limit\":5}\n";
    bob.send_raw(&page.repeat(10)).await.unwrap();
    let mut pages = 0;
    let mut refused = 0;
    while pages + refused < 10 {
        match bob.recv_timeout(WAIT).await.unwrap() {
            ServerFrame::History { .. } => pages += 1,
            ServerFrame::Error { code, .. } => {
                assert_eq!(code.as_str(), "rate_limited");
                refused += 1;
            }
            _ => {}
        }
    }
    assert_eq!((pages, refused), (9, 1));
}

#[tokio::test]
async fn cursors_resume_rooms_and_private_conversations_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("palaver.db");
    let server = Server::start(test_config(db.clone())).await.unwrap();
    let (mut alice, _) = palaver_client::Connection::join(server.local_addr(), "alice")
        .await
        .unwrap();
    let (mut bob, welcome) = palaver_client::Connection::join(server.local_addr(), "bob")
        .await
        .unwrap();
    let token = welcome.resume_token.clone();
    say(&mut alice, "g1").await;
    let general_seen = expect_message(&mut bob, "g1").await.seq;
    alice
        .send(&ClientFrame::PrivateMessage {
            attachments: Vec::new(),
            reply_to: None,
            target: "bob".into(),
            content: "d1".into(),
        })
        .await
        .unwrap();
    let direct_seen = match expect(&mut bob, "d1", |f| {
        matches!(f, ServerFrame::PrivateMessage(_))
    })
    .await
    {
        ServerFrame::PrivateMessage(m) => m.seq,
        _ => unreachable!(),
    };
    assert_eq!(
        (general_seen, direct_seen),
        (1, 1),
        "each conversation counts from 1"
    );
    // bob's connection stops being read (a laptop lid): what follows never reaches him.
    for text in ["g2", "g3"] {
        say(&mut alice, text).await;
    }
    for text in ["d2", "d3"] {
        alice
            .send(&ClientFrame::PrivateMessage {
                attachments: Vec::new(),
                reply_to: None,
                target: "bob".into(),
                content: text.into(),
            })
            .await
            .unwrap();
    }
    expect(
        &mut alice,
        "d3 stored",
        |f| matches!(f, ServerFrame::PrivateConfirmation { content, .. } if content == "d3"),
    )
    .await;
    drop((alice, bob));
    server.shutdown().await;

    let server = Server::start(test_config(db)).await.unwrap();
    let (mut alice, _) = palaver_client::Connection::join(server.local_addr(), "alice")
        .await
        .unwrap();
    let mut bob = palaver_client::Connection::connect(server.local_addr())
        .await
        .unwrap();
    let cursors = Cursors::from([
        ("general".to_string(), general_seen),
        ("@alice".to_string(), direct_seen),
    ]);
    bob.join_as(ClientFrame::Join {
        username: "bob".into(),
        since: Some(cursors),
        rooms: None,
        resume_token: token,
    })
    .await
    .unwrap();
    say(&mut alice, "live").await;
    let mut general = Vec::new();
    let mut direct = Vec::new();
    let mut resumed = None;
    loop {
        match bob.recv_timeout(WAIT).await.unwrap() {
            ServerFrame::Message(m) => {
                general.push((m.seq, m.content.clone()));
                if m.content == "live" {
                    break;
                }
            }
            ServerFrame::PrivateMessage(m) => direct.push((m.seq, m.content)),
            ServerFrame::Resumed { replayed, complete } => {
                assert!(
                    general.len() == 2 && direct.len() == 2,
                    "the replay comes first"
                );
                resumed = Some((replayed, complete));
            }
            _ => {}
        }
    }
    assert_eq!(resumed, Some((4, true)));
    assert_eq!(
        general,
        [(2, "g2".into()), (3, "g3".into()), (4, "live".to_string())]
    );
    assert_eq!(direct, [(2, "d2".to_string()), (3, "d3".into())]);
    server.shutdown().await;
}
