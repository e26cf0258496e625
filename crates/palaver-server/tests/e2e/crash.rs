//! Nothing acknowledged is lost: a server killed with SIGKILL in the middle of a flood (no
//! shutdown, no flush) comes back with every message it acknowledged in its history exactly
//! once, each conversation numbered 1, 2, 3, ... in order. Runs on SQLite (`e2e`) and on
//! PostgreSQL (`e2e_postgres`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use palaver_client::proto::{ChatMessage, ClientFrame, Request, ServerFrame};
use palaver_client::Connection;

use crate::harness::*;

/// Every message of one conversation, paging back from the newest.
async fn whole_history(
    conn: &mut Connection,
    room: Option<&str>,
    with: Option<&str>,
) -> Vec<ChatMessage> {
    let mut all = Vec::new();
    let mut before = None;
    loop {
        conn.send(&ClientFrame::History {
            room: room.map(str::to_string),
            with: with.map(str::to_string),
            before,
            before_id: None,
            after_id: None,
            limit: Some(200),
            around_id: None,
            oldest_first: false,
        })
        .await
        .unwrap();
        let ServerFrame::History {
            messages, has_more, ..
        } = expect(conn, "a history page", |f| {
            matches!(f, ServerFrame::History { .. })
        })
        .await
        else {
            unreachable!()
        };
        before = messages.first().map(ChatMessage::seq);
        let mut page = messages;
        page.append(&mut all);
        all = page;
        if !has_more {
            return all;
        }
    }
}

#[tokio::test]
async fn a_server_killed_mid_flood_keeps_every_acknowledged_message_once_in_order() {
    // No rate limit; deep queues, so that the flood's own echoes and acks (read here in a debug
    // build on a busy machine) never make the sender a slow consumer.
    let flags = [
        "--rate-per-second",
        "0",
        "--max-new-connections-per-minute",
        "0",
        "--outbound-queue",
        "65536",
        "--outbound-queue-bytes",
        "67108864",
    ];
    let server = ServerProcess::start(&flags).await;
    let (reader, _) = Connection::join(server.addr, "reader").await.unwrap();
    // The target of the private messages keeps reading, as a live client does.
    let (mut reading, _reader_writer) = reader.into_split();
    let drain = tokio::spawn(async move { while reading.recv().await.is_ok() {} });
    let (sender, welcome) = Connection::join(server.addr, "sender").await.unwrap();
    let token = welcome.resume_token.clone();
    // The sender writes as fast as it can, to general and privately to the reader; acks are
    // read on the side.
    let (mut acks, mut writer) = sender.into_split();
    let flood = tokio::spawn(async move {
        for n in 0u64.. {
            let frame = if n % 4 == 3 {
                ClientFrame::PrivateMessage {
                    attachments: Vec::new(),
                    reply_to: None,
                    target: "reader".into(),
                    content: format!("private {n}"),
                }
            } else {
                ClientFrame::Message {
                    attachments: Vec::new(),
                    reply_to: None,
                    content: format!("public {n}"),
                    room: None,
                }
            };
            if writer
                .send_request(&Request::with_ref(frame, n))
                .await
                .is_err()
            {
                return;
            }
            // A flood, paced so that acks keep up: 64 at a time.
            if n % 64 == 63 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    // Kill it once a few hundred messages have been acknowledged, with more on their way.
    let mut acknowledged: HashMap<u64, (u64, u64)> = HashMap::new(); // ref -> (id, seq)
    let collect = tokio::time::timeout(Duration::from_secs(60), async {
        while acknowledged.len() < 300 {
            match acks.recv().await {
                Ok(ServerFrame::Ack {
                    reference, id, seq, ..
                }) => {
                    acknowledged.insert(reference.as_u64().unwrap(), (id, seq));
                }
                Ok(_) => {}
                Err(e) => panic!("the sender's connection ended before the kill: {e}"),
            }
        }
    });
    collect.await.expect("300 acknowledgements within a minute");
    let (database, dir) = server.kill9();
    flood.abort();
    drain.abort();

    let server = ServerProcess::start_on(database, dir, &flags).await;
    let (mut sender, _) = {
        let mut conn = Connection::connect(server.addr).await.unwrap();
        let welcome = conn
            .join_as(ClientFrame::Join {
                username: "sender".into(),
                since: None,
                rooms: None,
                resume_token: token,
            })
            .await
            .unwrap();
        (conn, welcome)
    };
    let public = whole_history(&mut sender, Some("general"), None).await;
    let private = whole_history(&mut sender, None, Some("reader")).await;
    for (name, history) in [("general", &public), ("the private conversation", &private)] {
        let seqs: Vec<u64> = history.iter().map(ChatMessage::seq).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "{name} is numbered 1, 2, 3, ... with no gap or repeat"
        );
    }
    let stored: HashSet<u64> = public.iter().chain(&private).map(ChatMessage::id).collect();
    let seq_of: HashMap<u64, u64> = public
        .iter()
        .chain(&private)
        .map(|m| (m.id(), m.seq()))
        .collect();
    assert_eq!(
        stored.len(),
        public.len() + private.len(),
        "no message stored twice"
    );
    let lost: Vec<_> = acknowledged
        .values()
        .filter(|(id, _)| !stored.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(
        acknowledged
            .values()
            .all(|(id, seq)| seq_of.get(id) == Some(seq)),
        "each keeps the seq its ack announced"
    );
    eprintln!(
        "killed mid-flood: {} acknowledged, {} stored ({} public, {} private)",
        acknowledged.len(),
        stored.len(),
        public.len(),
        private.len()
    );
}
