//! Chat across the nodes: users on three nodes, over native TCP, IRC and WebSocket, talk in a
//! room and privately, see each other in member lists and see each join and departure once; a
//! node started late knows the members and topics; messages from several nodes arrive in seq
//! order everywhere.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use palaver_client::proto::{ClientFrame, ServerFrame, SystemEvent};

use crate::harness::*;
use crate::irc_client::Irc;
use crate::support::*;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A native-protocol client over WebSocket (what the web client speaks).
async fn ws_join(addr: SocketAddr, name: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("WebSocket opens");
    ws_send(
        &mut ws,
        serde_json::json!({"type": "join", "username": name}),
    )
    .await;
    ws_expect(&mut ws, "welcome", |v| v["type"] == "welcome").await;
    ws
}

async fn ws_send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

async fn ws_expect(ws: &mut Ws, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap_or_else(|_| panic!("waiting for {what}: timed out"));
        let text = match message {
            Some(Ok(Message::Text(text))) => text.to_string(),
            Some(Ok(_)) => continue,
            other => panic!("waiting for {what}: {other:?}"),
        };
        let value: Value = serde_json::from_str(&text).expect("JSON");
        if pred(&value) {
            return value;
        }
    }
}

#[tokio::test]
async fn users_on_three_nodes_chat_publicly_and_privately_over_tcp_irc_and_websocket() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let mut alice = cluster.join(0, "alice").await;
    let (mut bob, _) = Irc::register(cluster.irc(1), "bob", &[]).await;
    bob.send("JOIN #general").await;
    bob.expect("bob's JOIN", |m| m.command == "JOIN").await;
    let mut carol = ws_join(cluster.http(2), "carol").await;

    // Everyone is listed everywhere, whichever node they are on.
    eventually_users(
        &mut alice,
        Some("general"),
        "general's members on node 0",
        |u| u == ["alice", "bob", "carol"],
    )
    .await;
    bob.send("NAMES #general").await;
    let names = bob
        .expect("NAMES", |m| {
            m.command == "353" && m.params.last().is_some_and(|p| p.contains("carol"))
        })
        .await;
    let listed = names.params.last().unwrap().clone();
    assert!(
        listed.contains("alice") && listed.contains("bob"),
        "{listed}"
    );

    // Public: each one's message reaches the other two, on the other nodes.
    say(&mut alice, "hello from TCP").await;
    bob.expect("alice's message on IRC", |m| {
        m.command == "PRIVMSG" && m.params == ["#general", "hello from TCP"]
    })
    .await;
    ws_expect(&mut carol, "alice's message on WebSocket", |v| {
        v["type"] == "message" && v["content"] == "hello from TCP" && v["username"] == "alice"
    })
    .await;
    bob.send("PRIVMSG #general :hello from IRC").await;
    assert_eq!(
        expect_message(&mut alice, "hello from IRC").await.username,
        "bob"
    );
    ws_expect(&mut carol, "bob's message", |v| {
        v["content"] == "hello from IRC"
    })
    .await;
    ws_send(
        &mut carol,
        serde_json::json!({"type": "message", "content": "hello from the web"}),
    )
    .await;
    assert_eq!(
        expect_message(&mut alice, "hello from the web")
            .await
            .username,
        "carol"
    );
    bob.expect("carol's message", |m| {
        m.command == "PRIVMSG" && m.params.last().map(String::as_str) == Some("hello from the web")
    })
    .await;

    // Private: across nodes, each way, confirmed as delivered.
    alice
        .send(&ClientFrame::PrivateMessage {
            attachments: Vec::new(),
            reply_to: None,
            target: "bob".into(),
            content: "psst, bob".into(),
        })
        .await
        .unwrap();
    let confirmation = expect(&mut alice, "the confirmation", |f| {
        matches!(f, ServerFrame::PrivateConfirmation { .. })
    })
    .await;
    assert!(
        matches!(
            confirmation,
            ServerFrame::PrivateConfirmation {
                delivered: true,
                ..
            }
        ),
        "{confirmation:?}"
    );
    bob.expect("alice's private message", |m| {
        m.command == "PRIVMSG" && m.params == ["bob", "psst, bob"]
    })
    .await;
    bob.send("PRIVMSG carol :psst, carol").await;
    ws_expect(&mut carol, "bob's private message", |v| {
        v["type"] == "private_message" && v["sender"] == "bob" && v["content"] == "psst, carol"
    })
    .await;
    ws_send(
        &mut carol,
        serde_json::json!({"type": "private_message", "target": "alice", "content": "psst, alice"}),
    )
    .await;
    expect(&mut alice, "carol's private message", |f| {
        matches!(f, ServerFrame::PrivateMessage(m) if m.sender == "carol" && m.content == "psst, alice")
    })
    .await;

    // A departure on node 1 is seen once on node 0, and the lists follow.
    bob.send("QUIT :bye").await;
    let left = expect(&mut alice, "bob leaving", |f| {
        matches!(f, ServerFrame::System { event: Some(SystemEvent::Disconnected), username: Some(u), .. } if u == "bob")
    })
    .await;
    assert!(format!("{left:?}").contains("bye"), "{left:?}");
    eventually_users(&mut alice, None, "bob gone", |u| u == ["alice", "carol"]).await;
    let later = drain(&mut alice).await;
    assert!(
        !later
            .iter()
            .any(|f| matches!(f, ServerFrame::System { username: Some(u), .. } if u == "bob")),
        "bob's departure shown once: {later:?}"
    );
}

#[tokio::test]
async fn joins_and_room_moves_on_one_node_are_seen_once_on_the_others() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let mut watcher = cluster.join(0, "watcher").await;
    watcher
        .send(&ClientFrame::JoinRoom {
            room: "rust".into(),
            key: None,
        })
        .await
        .unwrap();
    expect(&mut watcher, "joined #rust", |f| {
        matches!(f, ServerFrame::JoinedRoom { .. })
    })
    .await;
    let mut mover = cluster.join(1, "mover").await;
    // The room made on node 0 is listed on node 1, with its member there.
    mover.send(&ClientFrame::Rooms).await.unwrap();
    let listed = expect(&mut mover, "the rooms", |f| {
        matches!(f, ServerFrame::Rooms { .. })
    })
    .await;
    let ServerFrame::Rooms { rooms, .. } = listed else {
        unreachable!()
    };
    let rust = rooms
        .iter()
        .find(|r| r.name == "rust")
        .expect("#rust is listed");
    assert_eq!(rust.members, 1);
    expect(&mut watcher, "mover joined the chat", |f| {
        matches!(f, ServerFrame::System { event: Some(SystemEvent::Joined), username: Some(u), room: Some(r), .. } if u == "mover" && r == "general")
    })
    .await;
    watcher
        .send(&ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: "before mover".into(),
            room: Some("rust".into()),
        })
        .await
        .unwrap();
    expect_message(&mut watcher, "before mover").await;
    mover
        .send(&ClientFrame::JoinRoom {
            room: "Rust".into(),
            key: None,
        })
        .await
        .unwrap();
    // Its window and its place, read from the store by the node that had no member there.
    let joined = expect(&mut mover, "joined #rust", |f| {
        matches!(f, ServerFrame::JoinedRoom { .. })
    })
    .await;
    let ServerFrame::JoinedRoom { room, history, .. } = joined else {
        unreachable!()
    };
    assert_eq!(room.last_seq, 1, "{room:?}");
    assert_eq!(history.len(), 1);
    assert_eq!(room.members, 2);
    expect(&mut watcher, "mover joined #rust", |f| {
        matches!(f, ServerFrame::System { event: Some(SystemEvent::Joined), username: Some(u), room: Some(r), .. } if u == "mover" && r == "rust")
    })
    .await;
    eventually_users(&mut watcher, Some("rust"), "#rust's members", |u| {
        u == ["mover", "watcher"]
    })
    .await;
    mover
        .send(&ClientFrame::LeaveRoom {
            room: "rust".into(),
            reason: Some("lunch".into()),
        })
        .await
        .unwrap();
    expect(&mut watcher, "mover left #rust", |f| {
        matches!(f, ServerFrame::System { event: Some(SystemEvent::Left), username: Some(u), reason: Some(r), .. } if u == "mover" && r == "lunch")
    })
    .await;
    eventually_users(&mut watcher, Some("rust"), "#rust's members", |u| {
        u == ["watcher"]
    })
    .await;
    mover
        .send(&ClientFrame::Rename {
            username: "walker".into(),
        })
        .await
        .unwrap();
    expect(&mut watcher, "the rename", |f| {
        matches!(f, ServerFrame::System { event: Some(SystemEvent::Renamed), new_username: Some(n), .. } if n == "walker")
    })
    .await;
    eventually_users(&mut watcher, None, "the new name", |u| {
        u == ["walker", "watcher"]
    })
    .await;
    let notices: Vec<ServerFrame> = drain(&mut watcher)
        .await
        .into_iter()
        .filter(|f| matches!(f, ServerFrame::System { .. }))
        .collect();
    assert!(notices.is_empty(), "each notice once: {notices:?}");
}

#[tokio::test]
async fn messages_from_three_nodes_reach_everyone_in_one_seq_order() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let mut readers = Vec::new();
    for node in 0..3 {
        readers.push(cluster.join(node, &format!("reader{node}")).await);
    }
    let mut writers = Vec::new();
    for node in 0..3 {
        writers.push(cluster.join(node, &format!("writer{node}")).await);
    }
    for reader in &mut readers {
        eventually_users(reader, Some("general"), "everyone listed", |u| u.len() == 6).await;
    }
    const EACH: usize = 100;
    let mut sends = Vec::new();
    for (node, mut writer) in writers.into_iter().enumerate() {
        sends.push(tokio::spawn(async move {
            for i in 0..EACH {
                writer
                    .send(&ClientFrame::Message {
                        attachments: Vec::new(),
                        reply_to: None,
                        content: format!("n{node}-{i}"),
                        room: None,
                    })
                    .await
                    .unwrap();
            }
            writer
        }));
    }
    let _writers: Vec<_> = futures_util::future::join_all(sends).await;
    let mut orders = Vec::new();
    for reader in &mut readers {
        let mut seen = Vec::new();
        while seen.len() < 3 * EACH {
            match reader.recv_timeout(WAIT).await {
                Ok(ServerFrame::Message(m)) => seen.push((m.seq, m.content)),
                Ok(_) => {}
                Err(e) => {
                    let seqs: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
                    panic!(
                        "the flood stopped after {} messages ({e}): {seqs:?}",
                        seen.len()
                    );
                }
            }
        }
        let seqs: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "seq order without gaps: {seqs:?}"
        );
        orders.push(seen);
    }
    assert_eq!(
        orders[0], orders[1],
        "nodes 0 and 1 delivered the same order"
    );
    assert_eq!(
        orders[0], orders[2],
        "nodes 0 and 2 delivered the same order"
    );
}

#[tokio::test]
async fn a_node_started_late_knows_the_members_topics_and_history() {
    let Some(mut cluster) = Cluster::start(2).await else {
        return;
    };
    let mut early = cluster.join(0, "early").await;
    early
        .send(&ClientFrame::Topic {
            room: "general".into(),
            topic: "set before the node".into(),
        })
        .await
        .unwrap();
    expect(&mut early, "the topic", |f| {
        matches!(f, ServerFrame::Topic { .. })
    })
    .await;
    let _other = cluster.join(1, "other").await;
    say(&mut early, "said before the node").await;

    let late = cluster.add_node().await;
    let (mut newcomer, welcome) = palaver_client::Connection::join(cluster.addr(late), "newcomer")
        .await
        .unwrap();
    let general = welcome.rooms.iter().find(|r| r.name == "general").unwrap();
    assert_eq!(general.topic, "set before the node");
    // The cursor the client keeps: the newest message it was shown, not a placeholder.
    let newest = welcome.history.iter().map(|m| m.seq()).max().unwrap();
    assert_eq!(general.last_seq, newest, "{:?}", welcome.rooms);
    assert!(
        welcome
            .history
            .iter()
            .any(|m| format!("{m:?}").contains("said before the node")),
        "general's recent messages: {:?}",
        welcome.history
    );
    eventually_users(
        &mut newcomer,
        Some("general"),
        "members known to the late node",
        |u| u == ["early", "newcomer", "other"],
    )
    .await;
    say(&mut early, "after the node came").await;
    assert_eq!(
        expect_message(&mut newcomer, "after the node came")
            .await
            .username,
        "early"
    );
}

#[tokio::test]
async fn notices_and_tags_reach_the_other_nodes() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let caps = ["message-tags"];
    let (mut ann, _) = Irc::register(cluster.irc(0), "ann", &caps).await;
    ann.send("JOIN #general").await;
    ann.expect("ann's JOIN", |m| m.command == "JOIN").await;
    let (mut ben, _) = Irc::register(cluster.irc(1), "ben", &caps).await;
    ben.send("JOIN #general").await;
    ben.expect("ben's JOIN", |m| m.command == "JOIN").await;
    let mut cat = cluster.join(1, "cat").await;
    eventually_users(&mut cat, Some("general"), "everyone listed", |u| {
        u.len() == 3
    })
    .await;

    // A NOTICE to a user of the other node, and to the room.
    ann.send("NOTICE cat :ping from ann").await;
    expect(&mut cat, "ann's notice", |f| {
        matches!(f, ServerFrame::Notice { content, target: Some(t), .. } if content == "ping from ann" && t == "cat")
    })
    .await;
    ann.send("NOTICE #general :a notice to all").await;
    ben.expect("the room notice on node 1", |m| {
        m.command == "NOTICE" && m.params == ["#general", "a notice to all"]
    })
    .await;
    expect(&mut cat, "the room notice", |f| {
        matches!(f, ServerFrame::Notice { content, room: Some(_), .. } if content == "a notice to all")
    })
    .await;
    // A typing notification (TAGMSG) reaches the IRC user on the other node.
    ann.send("@+typing=active TAGMSG #general").await;
    let typing = ben.expect("ann typing", |m| m.command == "TAGMSG").await;
    assert!(
        typing
            .tags
            .iter()
            .any(|(k, v)| k == "+typing" && v.as_deref() == Some("active")),
        "{typing:?}"
    );
}

#[tokio::test]
async fn away_on_one_node_is_seen_on_the_others() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let mut ann = cluster.join(0, "ann").await;
    let mut bob = cluster.join(1, "bob").await;
    eventually_users(&mut ann, None, "both listed", |u| u == ["ann", "bob"]).await;
    bob.send(&ClientFrame::Away {
        message: Some("at lunch".into()),
    })
    .await
    .unwrap();
    // ann shares general with bob: she is told.
    expect(&mut ann, "bob away", |f| {
        matches!(f, ServerFrame::Away { username, message: Some(m), .. } if username == "bob" && m == "at lunch")
    })
    .await;
    // Writing to him says so; asking about him says so.
    ann.send(&ClientFrame::PrivateMessage {
        attachments: Vec::new(),
        reply_to: None,
        target: "bob".into(),
        content: "lunch?".into(),
    })
    .await
    .unwrap();
    expect(
        &mut ann,
        "the away answer",
        |f| matches!(f, ServerFrame::Away { username, message: Some(_), .. } if username == "bob"),
    )
    .await;
    ann.send(&ClientFrame::Whois {
        username: "bob".into(),
    })
    .await
    .unwrap();
    let whois = expect(&mut ann, "whois", |f| {
        matches!(f, ServerFrame::Whois { .. })
    })
    .await;
    let ServerFrame::Whois { user, .. } = whois else {
        unreachable!()
    };
    assert_eq!(user.away.as_deref(), Some("at lunch"));
    assert_eq!(user.rooms.as_deref(), Some(&["general".to_string()][..]));
}
