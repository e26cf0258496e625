//! Passwords under attack: a flood of `register`s cannot balloon the server's memory or stall
//! the chat, `register` and `change_password` are throttled like `login`, and a spray of logins
//! for made-up names cannot reset the throttle of an account someone is guessing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use palaver_client::proto::{ClientFrame, ErrorCode, Secret, ServerFrame};
use palaver_client::Connection;

use crate::harness::*;

/// A connection from a given loopback address (any of 127.0.0.0/8 reaches a server on 127.0.0.1).
async fn connect_from(from: &str, server: SocketAddr) -> Connection {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    Connection::from_stream(socket.connect(server).await.unwrap())
}

/// Sends one password frame and returns the answer: `Ok` for success, else the error code.
async fn answer(conn: &mut Connection, frame: ClientFrame) -> Result<(), ErrorCode> {
    conn.send(&frame).await.unwrap();
    match expect(conn, "an answer", |f| {
        matches!(
            f,
            ServerFrame::Welcome(_)
                | ServerFrame::Registered { .. }
                | ServerFrame::PasswordChanged { .. }
                | ServerFrame::Error { .. }
        )
    })
    .await
    {
        ServerFrame::Error { code, .. } => Err(code),
        _ => Ok(()),
    }
}

fn login(name: &str, password: &str) -> ClientFrame {
    ClientFrame::Login {
        username: name.into(),
        password: Secret(password.into()),
        since: None,
        rooms: None,
        resume_token: None,
    }
}

fn register(password: &str) -> ClientFrame {
    ClientFrame::Register {
        password: Secret(password.into()),
    }
}

async fn guest_from(from: &str, server: SocketAddr, name: &str) -> Connection {
    let mut conn = connect_from(from, server).await;
    conn.join_as(ClientFrame::Join {
        username: name.into(),
        since: None,
        rooms: None,
        resume_token: None,
    })
    .await
    .expect("joined");
    conn
}

#[tokio::test]
async fn a_spray_of_made_up_logins_does_not_give_a_throttled_account_new_guesses() {
    let server = TestServer::start().await;
    let addr = server.addr();
    let mut zeta = guest_from("127.0.0.3", addr, "zeta").await;
    assert_eq!(
        answer(&mut zeta, register("zeta's real password")).await,
        Ok(())
    );
    drop(zeta);

    // Someone guesses zeta's password until the account is throttled.
    let mut guesser = connect_from("127.0.0.4", addr).await;
    for guess in ["password1", "letmein!!", "zeta12345"] {
        assert_eq!(
            answer(&mut guesser, login("zeta", guess)).await,
            Err(ErrorCode::InvalidCredentials)
        );
    }
    assert_eq!(
        answer(&mut guesser, login("zeta", "qwertyuiop")).await,
        Err(ErrorCode::TooManyAttempts)
    );

    // Then sprays logins for 10,000 made-up names (the old table forgot everything at 10,000).
    let started = Instant::now();
    let sprays: Vec<_> = (0..10)
        .map(|c| {
            tokio::spawn(async move {
                let mut conn = connect_from("127.0.0.1", addr).await;
                let mut refused = 0;
                for i in 0..1_000 {
                    let name = format!("madeup{c}x{i}");
                    if answer(&mut conn, login(&name, "whatever1")).await
                        == Err(ErrorCode::TooManyAttempts)
                    {
                        refused += 1;
                    }
                }
                refused
            })
        })
        .collect();
    let mut refused = 0;
    for spray in sprays {
        refused += spray.await.unwrap();
    }
    assert!(
        refused >= 10_000 - 10,
        "ten a minute from one address: {refused}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(19),
        "the spray must end before zeta's throttle lets one more try through anyway"
    );

    // zeta's throttle is intact, even from yet another address and with the right password.
    let mut again = connect_from("127.0.0.5", addr).await;
    assert_eq!(
        answer(&mut again, login("zeta", "zeta's real password")).await,
        Err(ErrorCode::TooManyAttempts)
    );
}

#[tokio::test]
async fn register_and_change_password_are_throttled_like_login() {
    let server = TestServer::start().await;
    let addr = server.addr();
    // Ten registrations a minute from one address, whoever asks.
    let mut outcomes = Vec::new();
    for i in 0..12 {
        let mut conn = guest_from("127.0.0.6", addr, &format!("newcomer{i}")).await;
        outcomes.push(answer(&mut conn, register("a long enough password")).await);
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 10);
    assert_eq!(
        outcomes[10..],
        [
            Err(ErrorCode::TooManyAttempts),
            Err(ErrorCode::TooManyAttempts)
        ]
    );

    // Changing a password checks the old one: three tries a minute, as for a login.
    let mut owner = connect_from("127.0.0.7", addr).await;
    assert_eq!(
        answer(&mut owner, login("newcomer0", "a long enough password")).await,
        Ok(())
    );
    let change = |old: &str| ClientFrame::ChangePassword {
        old: Secret(old.into()),
        new: Secret("another long password".into()),
    };
    for wrong in ["wrong one 1", "wrong one 2"] {
        assert_eq!(
            answer(&mut owner, change(wrong)).await,
            Err(ErrorCode::InvalidCredentials)
        );
    }
    assert_eq!(
        answer(&mut owner, change("a long enough password")).await,
        Err(ErrorCode::TooManyAttempts),
        "the login and two wrong guesses used the account's three"
    );
}

#[tokio::test]
async fn sixty_registers_at_once_keep_memory_bounded_and_the_chat_flowing() {
    // Address limits lifted so that every register reaches the hashing queue (as an attacker
    // with 60 addresses would); a queue shorter than the flood, so that some are refused; chat
    // lines may come faster than the default 5 a second, so that many are measured.
    let server = ServerProcess::start(&[
        "--password-attempts-per-address",
        "0",
        "--password-queue",
        "40",
        "--max-new-connections-per-minute",
        "0",
        "--rate-per-second",
        "100",
    ])
    .await;
    let addr = server.addr;
    let (mut alice, _) = Connection::join(addr, "alice").await.unwrap();
    let (mut bob, _) = Connection::join(addr, "bob").await.unwrap();

    let mut flooders = Vec::new();
    for i in 0..60 {
        let (conn, _) = Connection::join(addr, &format!("flood{i}")).await.unwrap();
        flooders.push(conn);
    }
    let go = Arc::new(tokio::sync::Barrier::new(61));
    let floods: Vec<_> = flooders
        .into_iter()
        .map(|mut conn| {
            let go = Arc::clone(&go);
            tokio::spawn(async move {
                go.wait().await;
                answer(&mut conn, register("correct horse battery")).await
            })
        })
        .collect();

    // alice talks to bob throughout; each line's delivery time is measured.
    let flooding = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let talking = Arc::clone(&flooding);
    let talk = tokio::spawn(async move {
        let mut worst = Duration::ZERO;
        let mut n = 0;
        // Until the flood is over, and a few lines after.
        while talking.load(std::sync::atomic::Ordering::SeqCst) || n < 20 {
            let text = format!("tick {n}");
            let sent = Instant::now();
            say(&mut alice, &text).await;
            expect_message(&mut bob, &text).await;
            worst = worst.max(sent.elapsed());
            n += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (worst, n)
    });
    go.wait().await;
    let mut registered = 0;
    let mut busy = 0;
    for flood in floods {
        match flood.await.unwrap() {
            Ok(()) => registered += 1,
            Err(ErrorCode::ServerBusy) => busy += 1,
            Err(other) => panic!("unexpected answer to register: {other}"),
        }
    }
    flooding.store(false, std::sync::atomic::Ordering::SeqCst);
    let (worst, lines) = talk.await.unwrap();
    let peak = server.peak_mib();
    assert_eq!(registered + busy, 60, "every register was answered");
    assert!(
        registered >= 17,
        "the queue and a worker took theirs: {registered}"
    );
    assert!(busy >= 1, "a full queue refuses at once: {busy} refused");
    assert!(peak < 200, "peak resident memory {peak} MiB");
    assert!(
        worst < Duration::from_secs(1),
        "chat messages took up to {worst:?} during the flood"
    );
    eprintln!(
        "register flood: {registered} registered, {busy} server_busy, peak {peak} MiB, slowest of {lines} chat lines {worst:?}"
    );
}
