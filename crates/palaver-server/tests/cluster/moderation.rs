//! Moderation across the nodes: a ban, a topic, a kick from the server and from a room, and an
//! announcement made on node A take effect for users on node C.

use palaver_client::proto::{ClientFrame, ErrorCode, Secret, ServerFrame, SystemEvent};
use palaver_client::Connection;

use crate::harness::*;
use crate::support::*;

#[tokio::test]
async fn a_ban_and_a_topic_made_on_node_a_take_effect_on_node_c() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    // An admin on node A (its account registered there).
    let (mut root, _) = Connection::join(cluster.addr(0), "clusterroot")
        .await
        .unwrap();
    root.send(&ClientFrame::Register {
        password: Secret("clusterroot-password".into()),
    })
    .await
    .unwrap();
    expect(&mut root, "registered", |f| {
        matches!(f, ServerFrame::Registered { .. })
    })
    .await;
    let (mut watcher, _) = Connection::join(cluster.addr(2), "watcher").await.unwrap();
    let (mut spammer, _) = Connection::join(cluster.addr(2), "spammer").await.unwrap();

    root.send(&ClientFrame::Topic {
        room: "general".into(),
        topic: "cluster-wide rules".into(),
    })
    .await
    .unwrap();
    expect(
        &mut watcher,
        "the topic set on node A",
        |f| matches!(f, ServerFrame::Topic { topic, .. } if topic == "cluster-wide rules"),
    )
    .await;

    root.send(&ClientFrame::Ban {
        username: Some("spammer".into()),
        address: None,
        minutes: Some(10),
        reason: Some("spam".into()),
    })
    .await
    .unwrap();
    expect(&mut spammer, "the ban made on node A", |f| {
        matches!(
            f,
            ServerFrame::Error {
                code: ErrorCode::Banned,
                ..
            }
        )
    })
    .await;
    // And node C now refuses the name.
    let refused = try_join(cluster.addr(2), "spammer").await.err();
    assert_eq!(refused, Some(ErrorCode::Banned));
}

#[tokio::test]
async fn a_kick_from_a_room_and_from_the_server_on_node_a_reach_a_user_on_node_c() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    // op opened #ops on node A, so it is its operator there.
    let mut op = cluster.join(0, "op").await;
    op.send(&ClientFrame::JoinRoom {
        room: "ops".into(),
        key: None,
    })
    .await
    .unwrap();
    expect(&mut op, "joined #ops", |f| {
        matches!(f, ServerFrame::JoinedRoom { .. })
    })
    .await;
    let mut victim = cluster.join(2, "victim").await;
    victim
        .send(&ClientFrame::JoinRoom {
            room: "ops".into(),
            key: None,
        })
        .await
        .unwrap();
    expect(&mut victim, "joined #ops", |f| {
        matches!(f, ServerFrame::JoinedRoom { .. })
    })
    .await;
    let mut bystander = cluster.join(1, "bystander").await;
    bystander
        .send(&ClientFrame::JoinRoom {
            room: "ops".into(),
            key: None,
        })
        .await
        .unwrap();
    eventually_users(&mut op, Some("ops"), "#ops's members", |u| {
        u == ["bystander", "op", "victim"]
    })
    .await;

    op.send(&ClientFrame::Kick {
        room: "ops".into(),
        username: "victim".into(),
        reason: Some("off topic".into()),
    })
    .await
    .unwrap();
    let left = expect(&mut victim, "removed from #ops", |f| {
        matches!(f, ServerFrame::LeftRoom { .. })
    })
    .await;
    assert!(
        matches!(&left, ServerFrame::LeftRoom { by: Some(by), reason: Some(r), .. } if by == "op" && r == "off topic"),
        "{left:?}"
    );
    for (who, conn) in [("op", &mut op), ("bystander", &mut bystander)] {
        expect(conn, "the removal notice", |f| {
            matches!(f, ServerFrame::System { event: Some(SystemEvent::Kicked), username: Some(u), .. } if u == "victim")
        })
        .await;
        let _ = who;
    }
    eventually_users(&mut op, Some("ops"), "#ops without the victim", |u| {
        u == ["bystander", "op"]
    })
    .await;

    // The operator on node A removes the victim from the server.
    assert!(
        cluster.nodes[0]
            .server
            .handle()
            .kick("victim", "enough")
            .await
    );
    let closed = expect_closed(&mut victim).await;
    assert!(
        closed.iter().any(|f| matches!(
            f,
            ServerFrame::Error {
                code: ErrorCode::Kicked,
                ..
            }
        )),
        "{closed:?}"
    );
    eventually_users(&mut bystander, None, "the victim gone", |u| {
        !u.iter().any(|n| n == "victim")
    })
    .await;
    // Nobody of that name anywhere: the kick says so.
    assert!(
        !cluster.nodes[0]
            .server
            .handle()
            .kick("victim", "again")
            .await
    );
}

#[tokio::test]
async fn an_announcement_on_one_node_reaches_everyone_on_every_node() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let mut users = Vec::new();
    for node in 0..3 {
        users.push(cluster.join(node, &format!("user{node}")).await);
    }
    cluster.nodes[1]
        .server
        .handle()
        .announce("maintenance at noon")
        .await;
    for user in &mut users {
        assert_eq!(expect_announcement(user).await, "maintenance at noon");
    }
}

#[tokio::test]
async fn room_modes_set_on_node_a_hold_on_node_c_and_voice_crosses_nodes() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let join_room = |room: &str, key: Option<&str>| ClientFrame::JoinRoom {
        room: room.into(),
        key: key.map(str::to_string),
    };
    let (mut op, _) = Connection::join(cluster.addr(0), "stageop").await.unwrap();
    op.send(&join_room("stage", None)).await.unwrap();
    expect(&mut op, "joined", |f| {
        matches!(f, ServerFrame::JoinedRoom { .. })
    })
    .await;
    let (mut far, _) = Connection::join(cluster.addr(2), "faraway").await.unwrap();
    far.send(&join_room("stage", None)).await.unwrap();
    expect(&mut far, "joined", |f| {
        matches!(f, ServerFrame::JoinedRoom { .. })
    })
    .await;
    // The operator on node A moderates the room and sets a key.
    op.send(&ClientFrame::Mode {
        room: "stage".into(),
        modes: Some("+mk".into()),
        params: vec!["pw".into()],
    })
    .await
    .unwrap();
    expect(&mut far, "the mode change made on node A", |f| {
        matches!(f, ServerFrame::ModeChanged { modes, username, .. } if modes == "+mk" && username == "stageop")
    })
    .await;
    // On node C: silenced, and a newcomer needs the key.
    far.send(&ClientFrame::Message {
        attachments: Vec::new(),
        reply_to: None,
        content: "hello?".into(),
        room: Some("stage".into()),
    })
    .await
    .unwrap();
    let refused = expect(&mut far, "refusal", |f| {
        matches!(f, ServerFrame::Error { .. })
    })
    .await;
    assert!(
        matches!(
            refused,
            ServerFrame::Error {
                code: ErrorCode::Moderated,
                ..
            }
        ),
        "{refused:?}"
    );
    let (mut late, _) = Connection::join(cluster.addr(2), "latecomer")
        .await
        .unwrap();
    late.send(&join_room("stage", None)).await.unwrap();
    let refused = expect(&mut late, "refusal", |f| {
        matches!(
            f,
            ServerFrame::Error { .. } | ServerFrame::JoinedRoom { .. }
        )
    })
    .await;
    assert!(
        matches!(
            refused,
            ServerFrame::Error {
                code: ErrorCode::WrongRoomKey,
                ..
            }
        ),
        "{refused:?}"
    );
    // Voice given on node A to the user on node C lets them speak.
    op.send(&ClientFrame::Mode {
        room: "stage".into(),
        modes: Some("+v".into()),
        params: vec!["faraway".into()],
    })
    .await
    .unwrap();
    expect(
        &mut far,
        "voice",
        |f| matches!(f, ServerFrame::ModeChanged { modes, .. } if modes == "+v"),
    )
    .await;
    far.send(&ClientFrame::Message {
        attachments: Vec::new(),
        reply_to: None,
        content: "now I may".into(),
        room: Some("stage".into()),
    })
    .await
    .unwrap();
    expect(&mut op, "the voiced message from node C", |f| {
        matches!(f, ServerFrame::Message(m) if m.content == "now I may" && m.username == "faraway")
    })
    .await;
}
