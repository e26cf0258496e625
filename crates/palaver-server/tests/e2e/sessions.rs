//! Sessions outlive connections: a client whose connection went half-open (Wi-Fi change, laptop
//! lid) comes back with its `resume_token` and takes its name over at once instead of being told
//! `username_taken`; a connection that stays silent is pinged and then closed; the client library
//! answers the pings.

use std::time::Duration;

use palaver_client::proto::{ClientFrame, ErrorCode, Secret, ServerFrame};
use palaver_client::{Client, ClientConfig, Connection, ConnectionError, Event};

use crate::harness::*;

async fn join_with_token(
    server: &TestServer,
    name: &str,
    token: Option<Secret>,
) -> Result<(Connection, Box<palaver_client::proto::Welcome>), ErrorCode> {
    let mut conn = Connection::connect(server.addr()).await.unwrap();
    let join = ClientFrame::Join {
        username: name.into(),
        since: None,
        rooms: None,
        resume_token: token,
    };
    match conn.join_as(join).await {
        Ok(welcome) => Ok((conn, welcome)),
        Err(ConnectionError::Refused { code, .. }) => Err(code),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn a_reconnect_with_the_resume_token_takes_over_the_old_connection() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    // bob's first connection stays open but will never be read again (half-open, as far as
    // the server can tell).
    let (mut old, welcome) = join_with_token(&server, "bob", None).await.unwrap();
    let token = welcome.resume_token.clone().unwrap();

    // Without the token, or with someone else's, the name is taken.
    assert_eq!(
        join_with_token(&server, "bob", None).await.err(),
        Some(ErrorCode::UsernameTaken)
    );
    let stranger = Secret("0123456789abcdef".repeat(4));
    assert_eq!(
        join_with_token(&server, "bob", Some(stranger)).await.err(),
        Some(ErrorCode::UsernameTaken)
    );

    // With it, at once.
    let (mut bob, again) = join_with_token(&server, "bob", Some(token.clone()))
        .await
        .expect("the same session takes its name over");
    assert_eq!(again.resume_token, Some(token));
    let last_words = expect_closed(&mut old).await;
    assert_eq!(
        last_words.last().and_then(error_code),
        Some("session_replaced"),
        "{last_words:?}"
    );
    expect(&mut alice, "bob's old connection leaves", |f| {
        matches!(f, ServerFrame::System { message, .. } if message == "bob left the chat (reconnected)")
    })
    .await;
    say(&mut bob, "back").await;
    expect_message(&mut alice, "back").await;
}

#[tokio::test]
async fn a_silent_connection_is_pinged_then_closed_and_the_client_library_answers() {
    let server = TestServer::start_with(|c| c.ping_interval = Duration::from_millis(1_000)).await;
    // alice uses the client library, which answers the server's pings.
    let mut config = ClientConfig::new(server.addr().to_string(), "alice");
    config.reconnect = false;
    let (alice, mut events) = Client::connect(config).await.unwrap();
    // bob's connection says nothing after joining, as a dead one would.
    let (mut bob, _) = join_with_token(&server, "bob", None).await.unwrap();

    let mut alice_saw = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("bob is dropped within the wait")
            .expect("alice's session goes on");
        match event {
            Event::Frame(ServerFrame::System { message, .. })
                if message.starts_with("bob left") =>
            {
                alice_saw.push(message);
                break;
            }
            Event::Disconnected { reason, .. } | Event::Closed { reason } => {
                panic!("alice was disconnected: {reason}")
            }
            _ => {}
        }
    }
    assert_eq!(alice_saw, ["bob left the chat (ping timeout)"]);
    let seen = expect_closed(&mut bob).await;
    assert!(
        seen.iter().any(|f| matches!(f, ServerFrame::Ping { .. })),
        "bob was asked first: {seen:?}"
    );
    assert_eq!(seen.last().and_then(error_code), Some("ping_timeout"));

    // Well past two intervals, alice is still connected and can talk.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    alice.send_message(None, "still here").await.unwrap();
}
