//! From one node to many: `palaver-server migrate` moves a SQLite database with 100,000
//! messages, rooms, accounts and bans to PostgreSQL, and a server on PostgreSQL then shows the
//! same history and lets the same accounts log in. (In the SQLite run only: it needs both.)

use std::process::Command;

use palaver_client::proto::{ClientFrame, ErrorCode, Secret, ServerFrame};
use palaver_client::{Connection, ConnectionError};
use palaver_server::hub::moderation::{Ban, BanTarget, ModerationRecord};
use palaver_server::store::{self, MessageKind, StoredMessage};
use palaver_server::Server;

use crate::harness::*;

fn message(id: u64, room: &str) -> StoredMessage {
    StoredMessage {
        change: None,
        state: Default::default(),
        id,
        seq: 0,
        ts_ms: 1_800_000_000_000 + id as i64,
        content: format!("message {id}"),
        kind: MessageKind::Public {
            owner: String::new(),
            room: room.into(),
            room_key: room.into(),
            username: "old".into(),
            username_key: "old".into(),
        },
    }
}

async fn history_page(conn: &mut Connection, room: &str) -> (Vec<(u64, u64, String)>, bool) {
    conn.send(&ClientFrame::History {
        room: Some(room.into()),
        with: None,
        before: None,
        before_id: None,
        after_id: None,
        limit: Some(5),
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
        ServerFrame::History {
            messages, has_more, ..
        } => (
            messages
                .iter()
                .map(|m| match m {
                    palaver_client::proto::ChatMessage::Message(m) => {
                        (m.id, m.seq, m.content.clone())
                    }
                    other => panic!("{other:?}"),
                })
                .collect(),
            has_more,
        ),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn a_sqlite_node_moves_to_postgresql_with_everything() {
    if crate::BACKEND != Backend::Sqlite {
        return;
    }
    let Some(cluster) = palaver_server::testing::shared("migrate") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("palaver.db").to_str().unwrap().to_string();
    let postgres = cluster.new_database();

    // A single node's database: 100,000 messages in two rooms, rooms, two accounts, a ban and
    // a moderator.
    let (source, sqlite_path) = (sqlite.clone(), sqlite.clone());
    tokio::task::spawn_blocking(move || {
        let mut db = store::open(&source).unwrap();
        for room in ["general", "rust"] {
            db.save_room(&store::RoomRecord {
                key: room.into(),
                name: room.into(),
                topic: format!("all about {room}"),
                created_ms: 1,
                last_seq: 0,
            })
            .unwrap();
        }
        for chunk in (1..=100_000u64).collect::<Vec<_>>().chunks(4_096) {
            let mut batch: Vec<_> = chunk
                .iter()
                .map(|&id| message(id, if id % 10 == 0 { "rust" } else { "general" }))
                .collect();
            db.append(&mut batch).unwrap();
        }
        let accounts = store::accounts::Accounts::open(&source).unwrap();
        accounts
            .create("alice", "Alice", "alice's password")
            .unwrap();
        accounts.create("bob", "bob", "bob's password").unwrap();
        accounts
            .save_moderation(&ModerationRecord::Ban(Ban {
                target: BanTarget::Name("mallory".into()),
                until_ms: None,
                reason: "spam".into(),
                by: "alice".into(),
            }))
            .unwrap();
        accounts
            .save_moderation(&ModerationRecord::Moderator {
                room_key: "rust".into(),
                name_key: "bob".into(),
                granted: true,
            })
            .unwrap();
    })
    .await
    .unwrap();

    // The command, as an operator runs it.
    let out = Command::new(env!("CARGO_BIN_EXE_palaver-server"))
        .args(["migrate", "--from", &sqlite_path, "--to", &postgres])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("copied 100000 of 100000 messages"),
        "{stderr}"
    );
    assert!(stdout.contains("messages         100000"), "{stdout}");
    assert!(
        !stdout.contains(&postgres),
        "the URL (it may hold a password) is not printed"
    );
    // A second run into the same, now used, database is refused.
    let again = Command::new(env!("CARGO_BIN_EXE_palaver-server"))
        .args(["migrate", "--from", &sqlite_path, "--to", &postgres])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    // Both servers show the same history, with the same ids and seqs.
    let mut pages = Vec::new();
    for database in [sqlite.clone(), postgres.clone()] {
        let mut config = test_config(dir.path().join("unused.db"));
        config.database = database.clone();
        let server = Server::start(config).await.unwrap();
        let mut conn = Connection::connect(server.local_addr()).await.unwrap();
        conn.join_as(ClientFrame::Login {
            username: "alice".into(),
            password: Secret("alice's password".into()),
            since: None,
            rooms: Some(vec!["general".into(), "rust".into()]),
            resume_token: None,
        })
        .await
        .expect("alice logs in with her password");
        pages.push((
            history_page(&mut conn, "general").await,
            history_page(&mut conn, "rust").await,
        ));
        if database == postgres {
            // New messages draw ids after the copied ones, and seqs go on.
            conn.send(&ClientFrame::Message {
                attachments: Vec::new(),
                reply_to: None,
                content: "after the move".into(),
                room: Some("rust".into()),
            })
            .await
            .unwrap();
            let own = expect(
                &mut conn,
                "alice's message",
                |f| matches!(f, ServerFrame::Message(m) if m.content == "after the move"),
            )
            .await;
            let ServerFrame::Message(own) = own else {
                unreachable!()
            };
            assert_eq!((own.id, own.seq), (100_001, 10_001));
        }
        // The ban came along too.
        let mut mallory = Connection::connect(server.local_addr()).await.unwrap();
        let banned = mallory
            .join_as(ClientFrame::Join {
                username: "mallory".into(),
                since: None,
                rooms: None,
                resume_token: None,
            })
            .await;
        assert!(
            matches!(
                banned,
                Err(ConnectionError::Refused {
                    code: ErrorCode::Banned,
                    ..
                })
            ),
            "{banned:?}"
        );
        server.shutdown().await;
    }
    assert_eq!(pages[0], pages[1]);
    let ((general, more), (rust, _)) = &pages[1];
    assert!(*more);
    assert_eq!(
        general.last().unwrap(),
        &(99_999, 90_000, "message 99999".into())
    );
    assert_eq!(
        rust.last().unwrap(),
        &(100_000, 10_000, "message 100000".into())
    );
}
