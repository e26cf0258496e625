//! People chatting: public, private, unique names, rooms, the seed protocol unchanged.

use palaver_client::proto::{ClientFrame, ServerFrame, SystemEvent};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::harness::*;

#[tokio::test]
async fn three_clients_chat_publicly_and_see_one_order() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let mut carol = server.join("carol").await;
    let notice = expect(&mut alice, "carol's join", |f| {
        matches!(f, ServerFrame::System { .. })
    })
    .await;
    let ServerFrame::System { message, event, .. } = notice else {
        unreachable!()
    };
    assert_eq!(message, "bob joined the chat");
    assert_eq!(event, Some(SystemEvent::Joined));

    say(&mut alice, "hello from alice").await;
    say(&mut bob, "hi alice").await;
    let mut orders = Vec::new();
    for conn in [&mut alice, &mut bob, &mut carol] {
        let first = expect_message(conn, "hello from alice").await;
        let second = expect_message(conn, "hi alice").await;
        assert_eq!(first.username, "alice");
        assert_eq!(second.username, "bob");
        assert_eq!(first.room, "general");
        assert!(
            first.timestamp.ends_with('Z') && first.timestamp.len() == 24,
            "{}",
            first.timestamp
        );
        orders.push((first.id, second.id));
    }
    assert!(
        orders.iter().all(|o| *o == orders[0]),
        "everyone sees the same ids: {orders:?}"
    );
    assert!(orders[0].0 < orders[0].1);
}

#[tokio::test]
async fn a_private_message_reaches_only_its_target() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let mut carol = server.join("carol").await;
    alice
        .send(&ClientFrame::PrivateMessage {
            attachments: Vec::new(),
            reply_to: None,
            target: "Bob".into(),
            content: "just between us".into(),
        })
        .await
        .unwrap();
    let got = expect(&mut bob, "the private message", |f| {
        matches!(f, ServerFrame::PrivateMessage(_))
    })
    .await;
    let ServerFrame::PrivateMessage(m) = got else {
        unreachable!()
    };
    assert_eq!(
        (m.sender.as_str(), m.content.as_str()),
        ("alice", "just between us")
    );
    let confirmation = expect(&mut alice, "confirmation", |f| {
        matches!(f, ServerFrame::PrivateConfirmation { .. })
    })
    .await;
    let ServerFrame::PrivateConfirmation {
        delivered, target, ..
    } = confirmation
    else {
        unreachable!()
    };
    assert!(delivered);
    assert_eq!(target, "bob");
    // Carol, asked after the fact, has received nothing private and no echo of it.
    for frame in drain(&mut carol).await {
        let text = serde_json::to_string(&frame).unwrap();
        assert!(!text.contains("just between us"), "carol saw {text}");
    }

    alice
        .send(&ClientFrame::PrivateMessage {
            attachments: Vec::new(),
            reply_to: None,
            target: "nobody".into(),
            content: "hello?".into(),
        })
        .await
        .unwrap();
    let frames = drain(&mut alice).await;
    assert!(frames.iter().any(|f| matches!(
        f,
        ServerFrame::PrivateConfirmation {
            delivered: false,
            ..
        }
    )));
    assert!(frames.iter().any(|f| error_code(f) == Some("unknown_user")));
}

#[tokio::test]
async fn names_are_unique_ignoring_case_and_a_refused_name_can_be_retried() {
    let server = TestServer::start().await;
    let _alice = server.join("alice").await;
    let mut conn = palaver_client::Connection::connect(server.addr())
        .await
        .unwrap();
    for taken in ["alice", "ALICE", "Alice"] {
        let refusal = conn
            .join_as(ClientFrame::Join {
                username: taken.into(),
                since: None,
                rooms: None,
                resume_token: None,
            })
            .await
            .unwrap_err();
        assert!(
            refusal.to_string().contains("username_taken"),
            "{taken}: {refusal}"
        );
    }
    let refusal = conn
        .join_as(ClientFrame::Join {
            username: "no spaces".into(),
            since: None,
            rooms: None,
            resume_token: None,
        })
        .await
        .unwrap_err();
    assert!(
        refusal.to_string().contains("invalid_username"),
        "{refusal}"
    );
    let welcome = conn
        .join_as(ClientFrame::Join {
            username: "alice_2".into(),
            since: None,
            rooms: None,
            resume_token: None,
        })
        .await
        .unwrap();
    assert_eq!(welcome.username, "alice_2");
    assert_eq!(welcome.users, vec!["alice", "alice_2"]);
}

/// A client written from the seed document's "Message Protocol" section, plus newlines.
#[tokio::test]
async fn a_seed_protocol_client_chats_unchanged() {
    let server = TestServer::start().await;
    let mut modern = server.join("modern").await;
    let stream = TcpStream::connect(server.addr()).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write
        .write_all(b"{\"type\": \"join\", \"username\": \"user123\"}\n")
        .await
        .unwrap();
    write
        .write_all(b"{\"type\": \"message\", \"content\": \"Hello everyone!\"}\n")
        .await
        .unwrap();
    write
        .write_all(b"{\"type\": \"private_message\", \"target\": \"modern\", \"content\": \"Hello privately!\"}\n")
        .await
        .unwrap();
    let mut seen = std::collections::HashMap::new();
    while seen.len() < 3 {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        seen.insert(v["type"].as_str().unwrap().to_string(), v);
    }
    let echo = &seen["message"];
    assert_eq!(echo["username"], "user123");
    assert_eq!(echo["content"], "Hello everyone!");
    assert!(echo["timestamp"].is_string());
    let confirmation = &seen["private_confirmation"];
    assert_eq!(confirmation["target"], "modern");
    assert_eq!(confirmation["content"], "Hello privately!");
    assert_eq!(confirmation["delivered"], true);
    assert!(confirmation["timestamp"].is_string());
    assert!(seen.contains_key("welcome"));

    let pm = expect(&mut modern, "seed pm", |f| {
        matches!(f, ServerFrame::PrivateMessage(_))
    })
    .await;
    let ServerFrame::PrivateMessage(pm) = pm else {
        unreachable!()
    };
    assert_eq!(
        (pm.sender.as_str(), pm.content.as_str()),
        ("user123", "Hello privately!")
    );
    drop(write);
    let left = expect(&mut modern, "leave notice", |f| {
        matches!(
            f,
            ServerFrame::System {
                event: Some(SystemEvent::Disconnected),
                ..
            }
        )
    })
    .await;
    let ServerFrame::System { message, .. } = left else {
        unreachable!()
    };
    assert_eq!(message, "user123 left the chat");
}

#[tokio::test]
async fn rooms_carry_messages_to_their_members_only() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let mut carol = server.join("carol").await;
    for conn in [&mut alice, &mut bob] {
        conn.send(&ClientFrame::JoinRoom {
            room: "rust".into(),
            key: None,
        })
        .await
        .unwrap();
        expect(conn, "joined_room", |f| {
            matches!(f, ServerFrame::JoinedRoom { .. })
        })
        .await;
    }
    alice
        .send(&ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: "borrowck!".into(),
            room: Some("rust".into()),
        })
        .await
        .unwrap();
    let m = expect_message(&mut bob, "borrowck!").await;
    assert_eq!(m.room, "rust");
    carol.send(&ClientFrame::Rooms).await.unwrap();
    let rooms = expect(&mut carol, "room list", |f| {
        matches!(f, ServerFrame::Rooms { .. })
    })
    .await;
    let ServerFrame::Rooms { rooms, .. } = rooms else {
        unreachable!()
    };
    let rust = rooms
        .iter()
        .find(|r| r.name == "rust")
        .expect("rust is listed");
    assert_eq!(rust.members, 2);
    for frame in drain(&mut carol).await {
        assert!(
            !matches!(frame, ServerFrame::Message(ref m) if m.content == "borrowck!"),
            "carol is not in #rust"
        );
    }
    // Joining later shows what was said.
    carol
        .send(&ClientFrame::JoinRoom {
            room: "RUST".into(),
            key: None,
        })
        .await
        .unwrap();
    let joined = expect(&mut carol, "joined_room", |f| {
        matches!(f, ServerFrame::JoinedRoom { .. })
    })
    .await;
    let ServerFrame::JoinedRoom {
        history, members, ..
    } = joined
    else {
        unreachable!()
    };
    assert_eq!(members, vec!["alice", "bob", "carol"]);
    assert_eq!(
        serde_json::to_value(&history[0]).unwrap()["content"],
        "borrowck!"
    );
}

#[tokio::test]
async fn the_server_console_announces_to_everyone() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    server.server.handle().announce("Maintenance at noon").await;
    for conn in [&mut alice, &mut bob] {
        assert_eq!(expect_announcement(conn).await, "Maintenance at noon");
    }
    let users = server.server.handle().users().await;
    assert_eq!(
        users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["alice", "bob"]
    );
    assert!(server.server.handle().kick("BOB", "testing").await);
    let frames = expect_closed(&mut bob).await;
    assert!(frames.iter().any(|f| error_code(f) == Some("kicked")));
    expect(&mut alice, "kick notice", |f| {
        matches!(
            f,
            ServerFrame::System {
                event: Some(SystemEvent::Kicked),
                ..
            }
        )
    })
    .await;
}
