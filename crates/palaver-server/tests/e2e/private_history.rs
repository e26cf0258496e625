//! Private history belongs to people, not to names: a guest's private conversations are shown
//! only to that guest's session (and to a reconnect with its `resume_token`), never to whoever
//! takes the name next, over any way of asking (native `history`, a resume with `since`, IRC
//! `CHATHISTORY`). An account keeps its private history across sessions, including what it said
//! as a guest before registering.

use palaver_client::proto::{ChatMessage, ClientFrame, Cursors, Secret, ServerFrame};
use palaver_client::Connection;
use palaver_server::Server;

use crate::harness::*;
use crate::irc_client::Irc;

/// The texts of one private history page, oldest first.
async fn private_history(conn: &mut Connection, with: &str) -> Vec<String> {
    conn.send(&ClientFrame::History {
        room: None,
        with: Some(with.into()),
        before: None,
        before_id: None,
        after_id: None,
        limit: Some(100),
        around_id: None,
        oldest_first: false,
    })
    .await
    .unwrap();
    match expect(conn, "history", |f| {
        matches!(f, ServerFrame::History { .. })
    })
    .await
    {
        ServerFrame::History { messages, .. } => messages
            .iter()
            .map(|m| match m {
                ChatMessage::PrivateMessage(p) => p.content.clone(),
                other => panic!("not a private message in private history: {other:?}"),
            })
            .collect(),
        _ => unreachable!(),
    }
}

async fn join_with(
    addr: std::net::SocketAddr,
    name: &str,
    since: Option<Cursors>,
    resume_token: Option<Secret>,
) -> (Connection, Box<palaver_client::proto::Welcome>) {
    let mut conn = Connection::connect(addr).await.unwrap();
    let welcome = conn
        .join_as(ClientFrame::Join {
            username: name.into(),
            since,
            rooms: None,
            resume_token,
        })
        .await
        .expect("joined");
    (conn, welcome)
}

/// Leaves and waits until the server has let the name go.
async fn quit(mut conn: Connection, watcher: &mut Connection, name: &str) {
    conn.send(&ClientFrame::Quit { reason: None })
        .await
        .unwrap();
    let left = format!("{name} left the chat");
    expect(
        watcher,
        "departure",
        |f| matches!(f, ServerFrame::System { message, .. } if message.starts_with(&left)),
    )
    .await;
}

#[tokio::test]
async fn a_later_holder_of_a_guest_name_gets_none_of_its_private_history() {
    let server = TestServer::start_irc().await;
    let mut alice = server.join("alice").await;
    let mut carol = server.join("carol").await;
    let mut bob = server.join("bob").await;
    private(&mut alice, "bob", "alice to bob: the door code is 4711").await;
    private(&mut bob, "alice", "bob to alice: thanks").await;
    private(&mut bob, "carol", "bob to carol: about alice's party").await;
    say(&mut bob, "bob in public").await;
    expect_message(&mut alice, "bob in public").await;
    quit(bob, &mut alice, "bob").await;

    // Over IRC: CHATHISTORY with alice and with carol, as "bob".
    let (mut irc, _) = Irc::register(
        server.irc_addr(),
        "bob",
        &["server-time", "message-tags", "batch", "draft/chathistory"],
    )
    .await;
    irc.send("JOIN #general").await;
    irc.sync().await;
    for target in ["alice", "carol"] {
        irc.send(&format!("CHATHISTORY LATEST {target} * 50")).await;
        irc.expect("BATCH", |m| m.command == "BATCH").await;
        let batch = irc.until("end", |m| m.command == "BATCH").await;
        let lines: Vec<_> = batch.iter().filter(|m| m.command == "PRIVMSG").collect();
        assert!(lines.is_empty(), "the new bob read {target}'s: {lines:?}");
    }
    irc.send("QUIT").await;
    irc.closed().await;
    expect(
        &mut alice,
        "the IRC bob leaves",
        |f| matches!(f, ServerFrame::System { message, .. } if message.starts_with("bob left")),
    )
    .await;

    // Natively: a resume from the very beginning of general and of bob's conversations, then
    // history pages.
    let everything = Cursors::from([
        ("general".to_string(), 0),
        ("@alice".to_string(), 0),
        ("@carol".to_string(), 0),
    ]);
    let (mut mallory, _) = join_with(server.addr(), "bob", Some(everything), None).await;
    let mut replayed = Vec::new();
    loop {
        match expect(&mut mallory, "replay", |_| true).await {
            ServerFrame::Resumed { .. } => break,
            frame => replayed.push(frame),
        }
    }
    assert!(
        replayed
            .iter()
            .any(|f| matches!(f, ServerFrame::Message(m) if m.content == "bob in public")),
        "public messages of general are replayed: {replayed:?}"
    );
    let privates: Vec<_> = replayed
        .iter()
        .filter(|f| {
            matches!(
                f,
                ServerFrame::PrivateMessage(_) | ServerFrame::PrivateConfirmation { .. }
            )
        })
        .collect();
    assert!(privates.is_empty(), "replayed to the new bob: {privates:?}");
    assert!(private_history(&mut mallory, "alice").await.is_empty());
    assert!(private_history(&mut mallory, "carol").await.is_empty());

    // The other sides keep theirs.
    assert_eq!(
        private_history(&mut alice, "bob").await,
        [
            "alice to bob: the door code is 4711",
            "bob to alice: thanks"
        ]
    );
    assert_eq!(
        private_history(&mut carol, "bob").await,
        ["bob to carol: about alice's party"]
    );
}

#[tokio::test]
async fn a_guest_who_comes_back_with_its_resume_token_keeps_its_private_history() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("palaver.db");
    let server = Server::start(test_config(db.clone())).await.unwrap();
    let addr = server.local_addr();
    let (mut alice, _) = join_with(addr, "alice", None, None).await;
    let (mut bob, welcome) = join_with(addr, "bob", None, None).await;
    let token = welcome
        .resume_token
        .clone()
        .expect("a welcome carries a token");
    private(&mut alice, "bob", "hello bob").await;
    private(&mut bob, "alice", "hello alice").await;
    drop(bob);
    expect(
        &mut alice,
        "bob drops",
        |f| matches!(f, ServerFrame::System { message, .. } if message.starts_with("bob left")),
    )
    .await;
    drop(alice);
    server.shutdown().await;

    // After a restart, the same session continues with its token...
    let server = Server::start(test_config(db)).await.unwrap();
    let addr = server.local_addr();
    let (mut bob, welcome) = join_with(addr, "bob", None, Some(token.clone())).await;
    assert_eq!(welcome.resume_token.as_ref(), Some(&token));
    assert_eq!(
        private_history(&mut bob, "alice").await,
        ["hello bob", "hello alice"]
    );
    let (mut alice, _) = join_with(addr, "alice", None, None).await;
    quit(bob, &mut alice, "bob").await;
    // ...and a new session under the same name does not.
    let (mut other, welcome) = join_with(addr, "bob", None, None).await;
    assert_ne!(welcome.resume_token.as_ref(), Some(&token));
    assert!(private_history(&mut other, "alice").await.is_empty());
}

#[tokio::test]
async fn an_account_keeps_its_private_history_including_what_it_said_as_a_guest() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    private(&mut alice, "bob", "before bob registered").await;
    bob.send(&ClientFrame::Register {
        password: Secret("correct horse battery".into()),
    })
    .await
    .unwrap();
    expect(&mut bob, "registered", |f| {
        matches!(f, ServerFrame::Registered { .. })
    })
    .await;
    private(&mut bob, "alice", "after bob registered").await;
    quit(bob, &mut alice, "bob").await;

    let mut bob = Connection::connect(server.addr()).await.unwrap();
    bob.join_as(ClientFrame::Login {
        username: "bob".into(),
        password: Secret("correct horse battery".into()),
        since: None,
        rooms: None,
        resume_token: None,
    })
    .await
    .expect("logged in");
    assert_eq!(
        private_history(&mut bob, "alice").await,
        ["before bob registered", "after bob registered"]
    );
    // alice was a guest: the next "alice" is someone else.
    let mut watcher = server.join("watcher").await;
    quit(alice, &mut watcher, "alice").await;
    let mut next_alice = server.join("alice").await;
    assert!(private_history(&mut next_alice, "bob").await.is_empty());
}
