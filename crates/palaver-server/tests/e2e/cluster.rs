//! The nodes of a cluster (`--redis`), as far as it goes: names (three nodes sharing one Redis,
//! thirty clients racing for one name, exactly one wins; the name comes free for any node when
//! its holder leaves; a node's users cannot take names held on another node) and changes to
//! shared facts (a ban and a topic made on one node take effect on another).

use std::sync::Arc;

use palaver_client::proto::{ClientFrame, ErrorCode, Secret, ServerFrame};
use palaver_client::{Connection, ConnectionError};

use crate::harness::*;

async fn nodes(n: usize) -> Option<Vec<TestServer>> {
    let redis = palaver_server::testing::redis::shared("the cluster tests")?;
    let mut nodes = Vec::new();
    for _ in 0..n {
        let url = redis.url();
        nodes.push(
            TestServer::start_with(move |c| {
                c.redis = Some(url);
                c.admins = vec!["clusterroot".into()];
            })
            .await,
        );
    }
    Some(nodes)
}

/// Joins as `name` on a new connection to `addr`: the connection, or the refusal's code.
async fn try_join(addr: std::net::SocketAddr, name: &str) -> Result<Connection, ErrorCode> {
    let mut conn = Connection::connect(addr).await.unwrap();
    match conn.join_as(join(name)).await {
        Ok(_) => Ok(conn),
        Err(ConnectionError::Refused { code, .. }) => Err(code),
        Err(other) => panic!("joining as {name}: {other:?}"),
    }
}

fn join(name: &str) -> ClientFrame {
    ClientFrame::Join {
        username: name.into(),
        since: None,
        rooms: None,
        resume_token: None,
    }
}

#[tokio::test]
async fn thirty_clients_racing_for_one_name_across_three_nodes_one_wins() {
    let Some(nodes) = nodes(3).await else { return };
    let name = "racer";
    let go = Arc::new(tokio::sync::Barrier::new(30));
    let mut racers = Vec::new();
    for i in 0..30 {
        let addr = nodes[i % 3].server.local_addr();
        let go = Arc::clone(&go);
        racers.push(tokio::spawn(async move {
            let mut conn = Connection::connect(addr).await.unwrap();
            go.wait().await;
            let result = conn.join_as(join(name)).await;
            (conn, result)
        }));
    }
    let mut winners = Vec::new();
    let mut taken = 0;
    for racer in racers {
        let (conn, result) = racer.await.unwrap();
        match result {
            Ok(_) => winners.push(conn),
            Err(ConnectionError::Refused {
                code: ErrorCode::UsernameTaken,
                ..
            }) => taken += 1,
            Err(other) => panic!("unexpected answer: {other:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one wins ({taken} were told the name is taken)"
    );
    assert_eq!(taken, 29);

    // When the winner leaves, the name is free again, on any node.
    let mut winner = winners.pop().unwrap();
    winner
        .send(&ClientFrame::Quit { reason: None })
        .await
        .unwrap();
    drop(winner);
    let deadline = tokio::time::Instant::now() + WAIT;
    while let Err(code) = try_join(nodes[2].server.local_addr(), name).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the name stayed taken: {code}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_name_or_its_look_alike_held_on_one_node_is_refused_on_another() {
    let Some(nodes) = nodes(2).await else { return };
    let (_alice, _) = Connection::join(nodes[0].server.local_addr(), "paypal")
        .await
        .unwrap();
    for attempt in ["PayPal", "paypaI"] {
        let refused = try_join(nodes[1].server.local_addr(), attempt).await.err();
        assert_eq!(refused, Some(ErrorCode::UsernameTaken), "{attempt}");
    }
}

#[tokio::test]
async fn a_ban_and_a_topic_made_on_node_a_take_effect_on_node_c() {
    let Some(nodes) = nodes(3).await else { return };
    // An admin on node A (its account registered there).
    let (mut root, _) = Connection::join(nodes[0].server.local_addr(), "clusterroot")
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
    let (mut watcher, _) = Connection::join(nodes[2].server.local_addr(), "watcher")
        .await
        .unwrap();
    let (mut spammer, _) = Connection::join(nodes[2].server.local_addr(), "spammer")
        .await
        .unwrap();

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
    let refused = try_join(nodes[2].server.local_addr(), "spammer")
        .await
        .err();
    assert_eq!(refused, Some(ErrorCode::Banned));
}

#[tokio::test]
async fn a_session_resumed_on_another_node_takes_its_name_over_at_once() {
    let Some(nodes) = nodes(2).await else { return };
    let (mut old, welcome) = Connection::join(nodes[0].server.local_addr(), "roamer")
        .await
        .unwrap();
    let token = welcome.resume_token.expect("a resume token");
    // The same session comes back on node B while its old connection on node A still looks
    // alive: the name moves at once, and node A closes the old connection with the reason.
    let mut new = Connection::connect(nodes[1].server.local_addr())
        .await
        .unwrap();
    new.join_as(ClientFrame::Join {
        username: "roamer".into(),
        since: None,
        rooms: None,
        resume_token: Some(token),
    })
    .await
    .expect("the session takes its name over");
    expect(&mut old, "session_replaced", |f| {
        matches!(
            f,
            ServerFrame::Error {
                code: ErrorCode::SessionReplaced,
                ..
            }
        )
    })
    .await;
    // Without the token, the name stays taken.
    let refused = try_join(nodes[0].server.local_addr(), "roamer").await.err();
    assert_eq!(refused, Some(ErrorCode::UsernameTaken));
}
