//! Failures a cluster survives: a node killed with SIGKILL in the middle of a flood (its users'
//! clients resume on other nodes: nothing acknowledged is lost or repeated, and the others see
//! them leave and come back), a Redis restart under traffic (nothing lost, names still held,
//! everyone listed again), and PostgreSQL out
//! of reach (messages refused with `storage_failed`, never acknowledged; service comes back by
//! itself).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use palaver_client::client::ClientError;
use palaver_client::proto::{ClientFrame, ErrorCode, ServerFrame, SystemEvent};
use palaver_client::{Client, ClientConfig, Event};
use tokio::sync::mpsc;

use crate::harness::*;
use crate::support::*;

/// What a client library session saw: every public message (id, content), and when it was
/// (re)welcomed.
#[derive(Default)]
struct Seen {
    messages: Vec<(u64, String)>,
    welcomed: Vec<Instant>,
    notices: Vec<ServerFrame>,
}

/// Collects a session's events until `stop` says so.
fn collect(mut events: mpsc::Receiver<Event>) -> tokio::task::JoinHandle<Seen> {
    tokio::spawn(async move {
        let mut seen = Seen::default();
        while let Some(event) = events.recv().await {
            match event {
                Event::Frame(ServerFrame::Message(m)) => seen.messages.push((m.id, m.content)),
                Event::Frame(f @ ServerFrame::System { .. }) => seen.notices.push(f),
                Event::Connected(_) => seen.welcomed.push(Instant::now()),
                Event::Closed { .. } => break,
                _ => {}
            }
        }
        seen
    })
}

async fn session(addresses: &str, name: &str) -> (Client, tokio::task::JoinHandle<Seen>) {
    let mut config = ClientConfig::new(addresses, name);
    config.backoff_initial = Duration::from_millis(100);
    config.backoff_max = Duration::from_millis(500);
    let (client, events) = Client::connect(config).await.expect("joins");
    (client, collect(events))
}

/// Sends `count` acknowledged messages (trying again after a refusal or a lost connection);
/// what was acknowledged, by id.
async fn flood(client: Client, name: String, count: usize, pace: Duration) -> HashMap<u64, String> {
    let mut acked = HashMap::new();
    let mut i = 0;
    while acked.len() < count {
        let content = format!("{name}-{i}");
        i += 1;
        match client.send_message(None, &content).await {
            Ok(ack) => {
                acked.insert(ack.id, content);
            }
            Err(ClientError::NotConnected | ClientError::Server { .. }) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{name}'s session ended: {e}"),
        }
        tokio::time::sleep(pace).await;
    }
    acked
}

/// Every acknowledged message was seen, and no message was seen twice.
fn check(who: &str, seen: &Seen, acked: &HashMap<u64, String>) {
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for (id, _) in &seen.messages {
        *counts.entry(*id).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{who} saw messages twice: {twice:?}");
    let missing: Vec<&String> = acked
        .iter()
        .filter(|(id, _)| !counts.contains_key(id))
        .map(|(_, c)| c)
        .collect();
    assert!(
        missing.is_empty(),
        "{who} missed {} acknowledged messages: {missing:?}",
        missing.len()
    );
}

#[tokio::test]
async fn a_node_killed_during_a_flood_loses_and_repeats_nothing_and_its_users_resume_elsewhere() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let flags = cluster.process_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let doomed = ServerProcess::start_on(cluster.database.clone(), None, &flags).await;
    // ann and rex are on the node that will die; their clients know the other nodes too.
    let everywhere = format!("{},{},{}", doomed.addr, cluster.addr(0), cluster.addr(1));
    let (ann, ann_seen) = session(&everywhere, "ann").await;
    let (rex, rex_seen) = session(&everywhere, "rex").await;
    let (zed, zed_seen) = session(&cluster.addr(0).to_string(), "zed").await;
    let mut watcher = cluster.join(1, "watcher").await;
    eventually_users(&mut watcher, Some("general"), "everyone listed", |u| {
        u.len() == 4
    })
    .await;

    let pace = Duration::from_millis(5);
    let ann_flood = tokio::spawn(flood(ann.clone(), "ann".into(), 400, pace));
    let zed_flood = tokio::spawn(flood(zed.clone(), "zed".into(), 400, pace));
    // Kill the node once the flood is well under way.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let killed = Instant::now();
    let _ = doomed.kill9();

    let ann_acked = ann_flood.await.unwrap();
    let zed_acked = zed_flood.await.unwrap();
    let mut acked = ann_acked;
    acked.extend(zed_acked);
    // Everything acknowledged reaches everyone, once (given the wait to arrive).
    tokio::time::sleep(Duration::from_secs(1)).await;
    ann.quit(None).await;
    rex.quit(None).await;
    zed.quit(None).await;
    let (ann_seen, rex_seen, zed_seen) = (
        ann_seen.await.unwrap(),
        rex_seen.await.unwrap(),
        zed_seen.await.unwrap(),
    );
    for (who, seen) in [("ann", &ann_seen), ("rex", &rex_seen), ("zed", &zed_seen)] {
        check(who, seen, &acked);
    }
    // ann and rex came back on another node within seconds of the kill.
    for (who, seen) in [("ann", &ann_seen), ("rex", &rex_seen)] {
        let back = seen
            .welcomed
            .iter()
            .find(|t| **t > killed)
            .unwrap_or_else(|| panic!("{who} was never welcomed again"));
        let took = back.duration_since(killed);
        assert!(
            took < Duration::from_secs(10),
            "{who} resumed after {took:?}"
        );
    }
    // The watcher on node 1 saw them leave and come back.
    let seen = drain(&mut watcher).await;
    for who in ["ann", "rex"] {
        let left = seen.iter().position(|f| matches!(f, ServerFrame::System { event: Some(SystemEvent::Disconnected), username: Some(u), .. } if u == who));
        let back = seen.iter().rposition(|f| matches!(f, ServerFrame::System { event: Some(SystemEvent::Joined), username: Some(u), .. } if u == who));
        assert!(
            left.is_some() && back.is_some() && left < back,
            "{who} left and came back: {seen:?}"
        );
    }
}

#[tokio::test]
async fn a_redis_restart_under_traffic_loses_nothing() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (sender, sender_seen) = session(&cluster.addr(0).to_string(), "sender").await;
    let (reader, reader_seen) = session(&cluster.addr(1).to_string(), "reader").await;
    let mut watcher = cluster.join(1, "watcher").await;
    eventually_users(&mut watcher, Some("general"), "everyone listed", |u| {
        u.len() == 3
    })
    .await;

    let flooding = tokio::spawn(flood(
        sender.clone(),
        "sender".into(),
        600,
        Duration::from_millis(5),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let redis = cluster.redis.as_ref().expect("a Redis of the test's own");
    redis.restart().expect("Redis starts again");
    let acked = flooding.await.unwrap();

    // After the restart the nodes know each other's users again, and talk live.
    eventually_users(
        &mut watcher,
        Some("general"),
        "everyone listed again",
        |u| u == ["reader", "sender", "watcher"],
    )
    .await;
    // Redis lost the names with everything else; their nodes set them again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for name in ["sender", "reader"] {
        let taken = try_join(cluster.addr(1), name).await.err();
        assert_eq!(
            taken,
            Some(ErrorCode::UsernameTaken),
            "{name} is still held"
        );
    }
    say(&mut watcher, "after the restart").await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let frame = tokio::time::timeout_at(deadline, watcher.recv())
            .await
            .expect("the flood and the last message arrive")
            .unwrap();
        if matches!(&frame, ServerFrame::Message(m) if m.content == "after the restart") {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    sender.quit(None).await;
    reader.quit(None).await;
    let (sender_seen, reader_seen) = (sender_seen.await.unwrap(), reader_seen.await.unwrap());
    check("the sender", &sender_seen, &acked);
    check("the reader on the other node", &reader_seen, &acked);
    assert!(
        reader_seen
            .messages
            .iter()
            .any(|(_, c)| c == "after the restart"),
        "live again after the restart"
    );
}

#[tokio::test]
async fn with_postgresql_out_of_reach_messages_are_refused_then_service_comes_back() {
    let Some(postgres) = palaver_server::testing::shared("the cluster tests") else {
        return;
    };
    let Some(mut cluster) = Cluster::start(1).await else {
        return;
    };
    // A second node reaches the database through a relay that the test cuts.
    let database = postgres.new_database();
    let port: u16 = database
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("a port in the URL");
    let relay = Relay::start(([127, 0, 0, 1], port).into()).await;
    let through_relay = database.replace(&format!(":{port}/"), &format!(":{}/", relay.addr.port()));
    cluster.database = through_relay;
    let node = cluster.add_node().await;
    let mut alice = cluster.join(node, "alice").await;
    say(&mut alice, "before").await;
    expect_message(&mut alice, "before").await;

    relay.cut();
    let refused = Instant::now();
    let mut refusals = 0;
    while refused.elapsed() < Duration::from_secs(2) {
        alice
            .send_request(&palaver_client::proto::client_frame::Request::with_ref(
                ClientFrame::Message {
                    attachments: Vec::new(),
                    reply_to: None,
                    content: "while it is away".into(),
                    room: None,
                },
                refusals,
            ))
            .await
            .unwrap();
        let answer = expect(&mut alice, "an answer", |f| {
            matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. })
        })
        .await;
        match answer {
            ServerFrame::Error {
                code: ErrorCode::StorageFailed,
                ..
            } => refusals += 1,
            other => panic!("a message was acknowledged while the database was away: {other:?}"),
        }
    }
    assert!(refusals > 0);

    relay.mend();
    // Without a restart, messages are stored again, and accounts can be made.
    wait_until_stored(&mut alice).await;
    alice
        .send(&ClientFrame::Register {
            password: palaver_client::proto::Secret("back-in-business".into()),
        })
        .await
        .unwrap();
    let answer = expect(&mut alice, "the registration", |f| {
        matches!(
            f,
            ServerFrame::Registered { .. } | ServerFrame::Error { .. }
        )
    })
    .await;
    assert!(
        matches!(answer, ServerFrame::Registered { .. }),
        "{answer:?}"
    );
}

/// Sends until one message is acknowledged (the store is back), within the wait.
async fn wait_until_stored(conn: &mut palaver_client::Connection) {
    let deadline = Instant::now() + WAIT;
    let mut n = 1000;
    loop {
        n += 1;
        conn.send_request(&palaver_client::proto::client_frame::Request::with_ref(
            ClientFrame::Message {
                attachments: Vec::new(),
                reply_to: None,
                content: "it is back".into(),
                room: None,
            },
            n,
        ))
        .await
        .unwrap();
        let answer = expect(conn, "an answer", |f| {
            matches!(f, ServerFrame::Ack { .. } | ServerFrame::Error { .. })
        })
        .await;
        if matches!(answer, ServerFrame::Ack { .. }) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the store did not come back: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_node_shut_down_for_an_upgrade_frees_its_names_and_its_users_leave_at_once() {
    let Some(mut cluster) = Cluster::start(2).await else {
        return;
    };
    let mut watcher = cluster.join(0, "watcher").await;
    let _leaver = cluster.join(1, "leaver").await;
    eventually_users(&mut watcher, None, "leaver listed", |u| u.len() == 2).await;
    let node = cluster.nodes.remove(1);
    node.server.shutdown().await;
    // The others hear at once that its users left (not when it falls silent)...
    let left = expect(&mut watcher, "leaver leaving", |f| {
        matches!(f, ServerFrame::System { event: Some(SystemEvent::Disconnected), username: Some(u), .. } if u == "leaver")
    })
    .await;
    assert!(
        format!("{left:?}").contains("server restarting"),
        "{left:?}"
    );
    // ...and the name is free at once, for anyone (not when its lease ends, 30 s later).
    let back = try_join(cluster.addr(0), "leaver").await;
    assert!(back.is_ok(), "the name is free: {:?}", back.err());
}

#[tokio::test]
async fn a_dead_nodes_names_come_free_when_its_lease_ends_and_are_swept() {
    let Some(mut cluster) = Cluster::start(0).await else {
        return;
    };
    cluster.lease = Some(Duration::from_secs(3));
    cluster.add_node().await;
    let mut flags = cluster.process_flags();
    flags.extend(["--redis-lease-secs".to_string(), "3".to_string()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let doomed = ServerProcess::start_on(cluster.database.clone(), None, &flags).await;
    let _ghost = palaver_client::Connection::join(doomed.addr, "ghost")
        .await
        .unwrap();
    let _phantom = palaver_client::Connection::join(doomed.addr, "phantom")
        .await
        .unwrap();
    let _ = doomed.kill9();

    // While the dead node's lease lasts its names are held; then they are free.
    assert_eq!(
        try_join(cluster.addr(0), "ghost").await.err(),
        Some(ErrorCode::UsernameTaken),
        "held while the lease lasts"
    );
    let killed = Instant::now();
    while try_join(cluster.addr(0), "ghost").await.is_err() {
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "ghost stayed taken"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // What the dead node left in Redis is swept (every two leases), by the node still alive.
    let client = redis::Client::open(cluster.redis_url.as_str()).unwrap();
    let mut redis = client.get_connection().unwrap();
    loop {
        let left: bool = redis::cmd("EXISTS")
            .arg("palaver:{names}:name:phantom")
            .query(&mut redis)
            .unwrap();
        let nodes: usize = redis::cmd("SCARD")
            .arg("palaver:{names}:nodes")
            .query(&mut redis)
            .unwrap();
        if !left && nodes == 1 {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "the dead node's names were not swept"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
