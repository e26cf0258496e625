//! Search: the words a user asks for, in what they may read and nothing else: the rooms they
//! are in, their own private conversations. Never a room they are not in, nor someone else's
//! private talk.

use palaver_client::proto::{ChatMessage, ClientFrame, ServerFrame};
use palaver_client::Connection;

use super::harness::{error_code, expect, expect_message, join_room, private, say_in, TestServer};

async fn search(conn: &mut Connection, ask: ClientFrame) -> ServerFrame {
    conn.send(&ask).await.unwrap();
    expect(conn, "search results", |f| {
        matches!(
            f,
            ServerFrame::SearchResults { .. } | ServerFrame::Error { .. }
        )
    })
    .await
}

/// The narrowing a search may add.
#[derive(Default)]
struct Narrow {
    room: Option<String>,
    with: Option<String>,
    from: Option<String>,
    before_id: Option<u64>,
    limit: Option<u32>,
}

fn ask(query: &str) -> ClientFrame {
    narrowed(query, Narrow::default())
}

fn narrowed(query: &str, n: Narrow) -> ClientFrame {
    ClientFrame::Search {
        query: query.into(),
        room: n.room,
        with: n.with,
        from: n.from,
        after: None,
        before: None,
        before_id: n.before_id,
        limit: n.limit,
    }
}

fn contents(frame: &ServerFrame) -> Vec<String> {
    match frame {
        ServerFrame::SearchResults { messages, .. } => messages
            .iter()
            .map(|m| match m {
                ChatMessage::Message(m) => m.content.clone(),
                ChatMessage::PrivateMessage(m) => m.content.clone(),
                other => panic!("a change in history: {other:?}"),
            })
            .collect(),
        other => panic!("not results: {other:?}"),
    }
}

#[tokio::test]
async fn search_never_shows_a_room_you_are_not_in_nor_someone_elses_private_talk() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let mut carol = server.join("carol").await;
    join_room(&mut bob, "ops", None).await;
    say_in(&mut bob, "ops", "deploy plan for ops only").await;
    expect_message(&mut bob, "deploy plan for ops only").await;
    private(&mut carol, "bob", "deploy between carol and bob").await;
    say_in(&mut alice, "general", "Deploy tonight after dinner").await;
    expect_message(&mut alice, "Deploy tonight after dinner").await;
    private(&mut bob, "alice", "deploy your fix first").await;

    let found = search(&mut alice, ask("deploy")).await;
    assert_eq!(
        contents(&found),
        ["deploy your fix first", "Deploy tonight after dinner"],
        "newest first; not #ops, not carol's talk with bob"
    );
    let found = search(&mut bob, ask("DEPL")).await;
    assert_eq!(contents(&found).len(), 4, "bob reads all four: {found:?}");

    // Narrowed: one room (only one you are in), one conversation, one sender.
    let refused = search(
        &mut alice,
        narrowed(
            "deploy",
            Narrow {
                room: Some("ops".into()),
                ..Narrow::default()
            },
        ),
    )
    .await;
    assert_eq!(error_code(&refused), Some("not_in_room"));
    let with_carol = search(
        &mut alice,
        narrowed(
            "deploy",
            Narrow {
                with: Some("Carol".into()),
                ..Narrow::default()
            },
        ),
    )
    .await;
    assert!(
        contents(&with_carol).is_empty(),
        "alice never talked with carol"
    );
    let from_bob = search(
        &mut alice,
        narrowed(
            "deploy",
            Narrow {
                from: Some("bob".into()),
                ..Narrow::default()
            },
        ),
    )
    .await;
    assert_eq!(contents(&from_bob), ["deploy your fix first"]);
    // Paged.
    let first = search(
        &mut alice,
        narrowed(
            "deploy",
            Narrow {
                limit: Some(1),
                ..Narrow::default()
            },
        ),
    )
    .await;
    let ServerFrame::SearchResults {
        messages, has_more, ..
    } = &first
    else {
        unreachable!()
    };
    assert!(*has_more);
    let last_id = messages[0].id();
    let next = search(
        &mut alice,
        narrowed(
            "deploy",
            Narrow {
                before_id: Some(last_id),
                ..Narrow::default()
            },
        ),
    )
    .await;
    assert_eq!(contents(&next), ["Deploy tonight after dinner"]);
    let nothing = search(&mut alice, ask(" ?! ")).await;
    assert_eq!(error_code(&nothing), Some("invalid_field"));
}
