//! Nodes on a Redis Cluster (three shards): names claimed on one shard through their hash tag,
//! rooms' messages on sharded channels (`SPUBLISH`/`SSUBSCRIBE`), presence and private messages,
//! as on a single Redis.

use palaver_client::proto::{ClientFrame, ErrorCode, ServerFrame};

use crate::harness::*;
use crate::support::*;

#[tokio::test]
async fn nodes_on_a_redis_cluster_share_names_rooms_and_messages() {
    let Some(cluster) = Cluster::start_sharded(2).await else {
        return;
    };
    let mut ann = cluster.join(0, "ann").await;
    let mut bob = cluster.join(1, "bob").await;
    // A name (or its look-alike) held on one node is refused on the other.
    for taken in ["ANN", "bob"] {
        assert_eq!(
            try_join(cluster.addr(0), taken).await.err(),
            Some(ErrorCode::UsernameTaken),
            "{taken}"
        );
    }
    eventually_users(&mut ann, None, "both listed", |u| u == ["ann", "bob"]).await;

    // Rooms whose channels fall on different shards: every message crosses.
    let rooms = ["general", "rust", "music", "news", "games"];
    for room in &rooms[1..] {
        for conn in [&mut ann, &mut bob] {
            conn.send(&ClientFrame::JoinRoom {
                room: room.to_string(),
                key: None,
            })
            .await
            .unwrap();
            expect(conn, "joined", |f| {
                matches!(f, ServerFrame::JoinedRoom { .. })
            })
            .await;
        }
    }
    for room in rooms {
        ann.send(&ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: format!("hello {room}"),
            room: Some(room.to_string()),
        })
        .await
        .unwrap();
        let got = expect_message(&mut bob, &format!("hello {room}")).await;
        assert_eq!((got.room.as_str(), got.username.as_str()), (room, "ann"));
    }

    // The rooms' channels are sharded: the messages were published on more than one shard.
    let shards = cluster
        .redis_cluster
        .as_ref()
        .unwrap()
        .calls_per_shard("spublish");
    assert!(
        shards.iter().filter(|n| **n > 0).count() >= 2,
        "SPUBLISH on several shards: {shards:?}"
    );

    // Private, both ways.
    bob.send(&ClientFrame::PrivateMessage {
        attachments: Vec::new(),
        reply_to: None,
        target: "ann".into(),
        content: "psst".into(),
    })
    .await
    .unwrap();
    expect(
        &mut ann,
        "bob's private message",
        |f| matches!(f, ServerFrame::PrivateMessage(m) if m.sender == "bob" && m.content == "psst"),
    )
    .await;

    // Leaving frees the name for anyone, on either node.
    drop(bob);
    eventually_users(&mut ann, None, "bob gone", |u| u == ["ann"]).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while try_join(cluster.addr(0), "bob").await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob's name stayed taken"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
