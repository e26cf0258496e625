//! Roles and moderation: every action works for an admin (or a room's moderator) and is refused
//! with `not_authorized` to a member; bans, mutes and locks survive a restart.

use palaver_client::proto::{ClientFrame, ErrorCode, Secret, ServerFrame};
use palaver_client::{Connection, ConnectionError};
use palaver_server::Server;

use crate::harness::*;

/// Sends a request and returns the answer: `done`, an error, or another reply.
async fn act(conn: &mut Connection, frame: ClientFrame) -> ServerFrame {
    conn.send(&frame).await.unwrap();
    expect(conn, "an answer", |f| {
        matches!(f, ServerFrame::Done { .. } | ServerFrame::Error { .. })
    })
    .await
}

fn refused(answer: &ServerFrame) -> bool {
    error_code(answer) == Some("not_authorized")
}

async fn registered(addr: std::net::SocketAddr, name: &str) -> Connection {
    let (mut conn, _) = Connection::join(addr, name).await.unwrap();
    conn.send(&ClientFrame::Register {
        password: Secret(format!("{name}-password")),
    })
    .await
    .unwrap();
    expect(&mut conn, "registered", |f| {
        matches!(f, ServerFrame::Registered { .. })
    })
    .await;
    conn
}

#[tokio::test]
async fn admins_and_moderators_act_and_members_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().join("p.db"));
    config.admins = vec!["root".into()];
    let server = Server::start(config.clone()).await.unwrap();
    let addr = server.local_addr();
    let mut root = registered(addr, "root").await; // first in general: also its operator
    let mut bob = registered(addr, "bob").await;
    let (mut mallory, _) = Connection::join(addr, "mallory").await.unwrap();

    // announce
    let answer = act(
        &mut mallory,
        ClientFrame::Announce {
            message: "free money".into(),
        },
    )
    .await;
    assert!(refused(&answer), "{answer:?}");
    let answer = act(
        &mut root,
        ClientFrame::Announce {
            message: "maintenance at noon".into(),
        },
    )
    .await;
    assert!(matches!(answer, ServerFrame::Done { .. }), "{answer:?}");
    assert_eq!(expect_announcement(&mut bob).await, "maintenance at noon");

    // mute / unmute in a room
    let mute = |who: &str| ClientFrame::Mute {
        username: who.into(),
        room: Some("general".into()),
        minutes: Some(5),
    };
    assert!(refused(&act(&mut mallory, mute("bob")).await));
    assert!(matches!(
        act(&mut root, mute("mallory")).await,
        ServerFrame::Done { .. }
    ));
    say(&mut mallory, "can you hear me").await;
    let muted = expect(&mut mallory, "muted", |f| {
        matches!(f, ServerFrame::Error { .. })
    })
    .await;
    assert_eq!(error_code(&muted), Some("muted"));
    let unmute = ClientFrame::Unmute {
        username: "mallory".into(),
        room: Some("general".into()),
    };
    assert!(matches!(
        act(&mut root, unmute).await,
        ServerFrame::Done { .. }
    ));
    say(&mut mallory, "back again").await;
    let m = expect_message(&mut bob, "back again").await;
    assert_eq!(
        m.username, "mallory",
        "bob never got the muted message, only this one"
    );

    // lock a room
    root.send(&ClientFrame::JoinRoom {
        room: "den".into(),
        key: None,
    })
    .await
    .unwrap();
    expect(&mut root, "joined den", |f| {
        matches!(f, ServerFrame::JoinedRoom { .. })
    })
    .await;
    let lock = |locked| ClientFrame::LockRoom {
        room: "den".into(),
        locked,
    };
    assert!(refused(&act(&mut mallory, lock(true)).await));
    assert!(matches!(
        act(&mut root, lock(true)).await,
        ServerFrame::Done { .. }
    ));
    mallory
        .send(&ClientFrame::JoinRoom {
            room: "den".into(),
            key: None,
        })
        .await
        .unwrap();
    let locked = expect(&mut mallory, "locked", |f| {
        matches!(f, ServerFrame::Error { .. })
    })
    .await;
    assert_eq!(error_code(&locked), Some("room_locked"));
    assert!(matches!(
        act(&mut root, lock(false)).await,
        ServerFrame::Done { .. }
    ));
    for conn in [&mut mallory, &mut bob] {
        conn.send(&ClientFrame::JoinRoom {
            room: "den".into(),
            key: None,
        })
        .await
        .unwrap();
        expect(conn, "joined den", |f| {
            matches!(f, ServerFrame::JoinedRoom { .. })
        })
        .await;
    }

    // grant a moderator, who may then mute and kick in that room
    let grant = ClientFrame::Grant {
        room: "den".into(),
        username: "bob".into(),
        revoke: false,
    };
    assert!(refused(&act(&mut mallory, grant.clone()).await));
    assert!(matches!(
        act(&mut root, grant).await,
        ServerFrame::Done { .. }
    ));
    let kick = |who: &str| ClientFrame::Kick {
        room: "den".into(),
        username: who.into(),
        reason: Some("enough".into()),
    };
    mallory.send(&kick("bob")).await.unwrap();
    let no = expect(&mut mallory, "refused", |f| {
        matches!(f, ServerFrame::Error { .. })
    })
    .await;
    assert_eq!(error_code(&no), Some("not_authorized"));
    bob.send(&kick("mallory")).await.unwrap();
    let out = expect(&mut mallory, "kicked", |f| {
        matches!(f, ServerFrame::LeftRoom { .. })
    })
    .await;
    assert!(matches!(out, ServerFrame::LeftRoom { by: Some(b), .. } if b == "bob"));

    // delete a room
    let delete = ClientFrame::DeleteRoom { room: "den".into() };
    assert!(refused(&act(&mut mallory, delete.clone()).await));
    assert!(matches!(
        act(&mut root, delete).await,
        ServerFrame::Done { .. }
    ));
    let gone = expect(&mut bob, "den deleted", |f| {
        matches!(f, ServerFrame::LeftRoom { .. })
    })
    .await;
    assert!(matches!(gone, ServerFrame::LeftRoom { room, .. } if room == "den"));

    // ban a name: out at once, refused after, and still after a restart
    let ban = |who: &str| ClientFrame::Ban {
        username: Some(who.into()),
        address: None,
        minutes: Some(60),
        reason: Some("spam".into()),
    };
    assert!(refused(&act(&mut mallory, ban("root")).await));
    assert!(matches!(
        act(&mut root, ban("mallory")).await,
        ServerFrame::Done { .. }
    ));
    let last = expect_closed(&mut mallory).await;
    assert!(
        last.iter().any(|f| error_code(f) == Some("banned")),
        "{last:?}"
    );
    let again = Connection::join(addr, "mallory").await;
    assert!(matches!(
        again,
        Err(ConnectionError::Refused {
            code: ErrorCode::Banned,
            ..
        })
    ));
    drop((root, bob));
    server.shutdown().await;

    let server = Server::start(config).await.unwrap();
    let again = Connection::join(server.local_addr(), "mallory").await;
    let Err(ConnectionError::Refused { code, message }) = again else {
        panic!("the ban must survive a restart");
    };
    assert_eq!(code, ErrorCode::Banned);
    assert!(message.contains("spam"), "{message}");
}

#[tokio::test]
async fn mutes_and_locks_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path().join("p.db"));
    config.admins = vec!["root".into()];
    let server = Server::start(config.clone()).await.unwrap();
    let mut root = registered(server.local_addr(), "root").await;
    let mute = ClientFrame::Mute {
        username: "bob".into(),
        room: None,
        minutes: Some(60),
    };
    assert!(matches!(
        act(&mut root, mute).await,
        ServerFrame::Done { .. }
    ));
    root.send(&ClientFrame::JoinRoom {
        room: "den".into(),
        key: None,
    })
    .await
    .unwrap();
    let lock = ClientFrame::LockRoom {
        room: "den".into(),
        locked: true,
    };
    assert!(matches!(
        act(&mut root, lock).await,
        ServerFrame::Done { .. }
    ));
    drop(root);
    server.shutdown().await;

    let server = Server::start(config).await.unwrap();
    let (mut bob, _) = Connection::join(server.local_addr(), "bob").await.unwrap();
    say(&mut bob, "am I still muted?").await;
    let answer = expect(&mut bob, "the refusal", |f| {
        matches!(f, ServerFrame::Error { .. } | ServerFrame::Message(_))
    })
    .await;
    assert_eq!(error_code(&answer), Some("muted"), "{answer:?}");
    bob.send(&ClientFrame::JoinRoom {
        room: "den".into(),
        key: None,
    })
    .await
    .unwrap();
    let answer = expect(&mut bob, "the refusal", |f| {
        matches!(
            f,
            ServerFrame::Error { .. } | ServerFrame::JoinedRoom { .. }
        )
    })
    .await;
    assert_eq!(error_code(&answer), Some("room_locked"), "{answer:?}");
    server.shutdown().await;
}
