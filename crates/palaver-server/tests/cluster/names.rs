//! Names across the nodes: thirty clients racing for one name on three nodes, exactly one
//! wins; the name comes free for any node when its holder leaves; a node's users cannot take a
//! name (or a look-alike) held on another; a session resumed on another node takes its name
//! over at once.

use std::sync::Arc;

use palaver_client::proto::{ClientFrame, ErrorCode, ServerFrame};
use palaver_client::{Connection, ConnectionError};

use crate::harness::*;
use crate::support::*;

#[tokio::test]
async fn thirty_clients_racing_for_one_name_across_three_nodes_one_wins() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let name = "racer";
    let go = Arc::new(tokio::sync::Barrier::new(30));
    let mut racers = Vec::new();
    for i in 0..30 {
        let addr = cluster.addr(i % 3);
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
    while let Err(code) = try_join(cluster.addr(2), name).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the name stayed taken: {code}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_name_or_its_look_alike_held_on_one_node_is_refused_on_another() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (_alice, _) = Connection::join(cluster.addr(0), "paypal").await.unwrap();
    for attempt in ["PayPal", "paypaI"] {
        let refused = try_join(cluster.addr(1), attempt).await.err();
        assert_eq!(refused, Some(ErrorCode::UsernameTaken), "{attempt}");
    }
}

#[tokio::test]
async fn a_session_resumed_on_another_node_takes_its_name_over_at_once() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (mut old, welcome) = Connection::join(cluster.addr(0), "roamer").await.unwrap();
    let token = welcome.resume_token.expect("a resume token");
    // The same session comes back on node B while its old connection on node A still looks
    // alive: the name moves at once, and node A closes the old connection with the reason.
    let mut new = Connection::connect(cluster.addr(1)).await.unwrap();
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
    let refused = try_join(cluster.addr(0), "roamer").await.err();
    assert_eq!(refused, Some(ErrorCode::UsernameTaken));
}
