//! Accounts: a registered name is protected (also against look-alikes and across restarts), a
//! wrong password is refused with the same answer as an unknown name, guessing is slowed down,
//! passwords can be changed, and a server can require accounts.

use palaver_client::proto::{ClientFrame, ErrorCode, Secret, ServerFrame};
use palaver_client::{Connection, ConnectionError};
use palaver_server::Server;

use crate::harness::*;

async fn login(
    server: &TestServer,
    name: &str,
    password: &str,
) -> Result<Connection, (ErrorCode, String)> {
    let mut conn = Connection::connect(server.addr()).await.unwrap();
    let frame = ClientFrame::Login {
        username: name.into(),
        password: Secret(password.into()),
        since: None,
        rooms: None,
        resume_token: None,
    };
    match conn.join_as(frame).await {
        Ok(_) => Ok(conn),
        Err(ConnectionError::Refused { code, message }) => Err((code, message)),
        Err(e) => panic!("{e}"),
    }
}

async fn guest(server: &TestServer, name: &str) -> Result<Connection, (ErrorCode, String)> {
    match Connection::join(server.addr(), name).await {
        Ok((conn, _)) => Ok(conn),
        Err(ConnectionError::Refused { code, message }) => Err((code, message)),
        Err(e) => panic!("{e}"),
    }
}

fn refused(result: Result<Connection, (ErrorCode, String)>) -> (ErrorCode, String) {
    match result {
        Err(refusal) => refusal,
        Ok(_) => panic!("accepted, but should have been refused"),
    }
}

async fn register(conn: &mut Connection, password: &str) -> ServerFrame {
    conn.send(&ClientFrame::Register {
        password: Secret(password.into()),
    })
    .await
    .unwrap();
    expect(conn, "register answer", |f| {
        matches!(
            f,
            ServerFrame::Registered { .. } | ServerFrame::Error { .. }
        )
    })
    .await
}

#[tokio::test]
async fn a_registered_name_is_protected_and_only_its_password_opens_it() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let weak = register(&mut alice, "short").await;
    assert_eq!(error_code(&weak), Some("weak_password"));
    let done = register(&mut alice, "correct horse battery").await;
    assert!(
        matches!(done, ServerFrame::Registered { ref username, .. } if username == "alice"),
        "{done:?}"
    );
    drop(alice);

    // Nobody else may take the name, in any case or disguise, even once alice is gone.
    let mut answer = None;
    for _ in 0..100 {
        // Until the server has noticed alice left, the name is simply taken.
        match guest(&server, "alice").await {
            Err((ErrorCode::UsernameTaken, _)) | Ok(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(r) => {
                answer = Some(r);
                break;
            }
        }
    }
    let (code, message) = answer.expect("the registered name is refused to guests");
    assert_eq!(code, ErrorCode::AccountRequired, "{message}");
    assert_eq!(
        refused(guest(&server, "ALICE").await).0,
        ErrorCode::AccountRequired
    );
    let (code, message) = refused(guest(&server, "\u{430}lice").await);
    assert_eq!(code, ErrorCode::UsernameTaken, "{message}");
    assert!(message.contains("registered"), "{message}");

    // A wrong password and an unknown name get the very same answer.
    let wrong = refused(login(&server, "alice", "not the password").await);
    let unknown = refused(login(&server, "nobody-at-all", "not the password").await);
    assert_eq!(wrong.0, ErrorCode::InvalidCredentials);
    assert_eq!(
        wrong, unknown,
        "the answer does not tell whether the name exists"
    );

    let mut alice = login(&server, "alice", "correct horse battery")
        .await
        .expect("login");
    let mut bob = server.join("bob").await;
    say(&mut alice, "it is really me").await;
    let m = expect_message(&mut bob, "it is really me").await;
    assert_eq!(m.username, "alice");
}

#[tokio::test]
async fn guessing_passwords_is_slowed_to_three_a_minute() {
    let server = TestServer::start().await;
    let mut carol = server.join("carol").await;
    register(&mut carol, "the real password").await;
    drop(carol);
    for guess in ["guess one", "guess two", "guess three"] {
        let (code, _) = refused(login(&server, "carol", guess).await);
        assert_eq!(code, ErrorCode::InvalidCredentials);
    }
    // The fourth attempt within the minute is not even checked, right or wrong.
    let (code, message) = refused(login(&server, "carol", "the real password").await);
    assert_eq!(code, ErrorCode::TooManyAttempts, "{message}");
}

#[tokio::test]
async fn passwords_can_be_changed_and_accounts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let config = test_config(db.clone());
    let server = Server::start(config.clone()).await.unwrap();
    let (mut dave, _) = Connection::join(server.local_addr(), "dave").await.unwrap();
    register(&mut dave, "first password").await;
    for (old, new, expected) in [
        ("wrong one", "second password", "error"),
        ("first password", "2short", "error"),
        ("first password", "second password", "password_changed"),
    ] {
        dave.send(&ClientFrame::ChangePassword {
            old: Secret(old.into()),
            new: Secret(new.into()),
        })
        .await
        .unwrap();
        let answer = expect(&mut dave, "answer", |f| {
            matches!(
                f,
                ServerFrame::PasswordChanged { .. } | ServerFrame::Error { .. }
            )
        })
        .await;
        let kind = match answer {
            ServerFrame::PasswordChanged { .. } => "password_changed",
            _ => "error",
        };
        assert_eq!(kind, expected, "{old} -> {new}");
    }
    drop(dave);
    server.shutdown().await;

    let server = Server::start(config).await.unwrap();
    let refused = Connection::join(server.local_addr(), "dave").await;
    assert!(matches!(
        refused,
        Err(ConnectionError::Refused {
            code: ErrorCode::AccountRequired,
            ..
        })
    ));
    let mut conn = Connection::connect(server.local_addr()).await.unwrap();
    conn.join_as(ClientFrame::Login {
        username: "dave".into(),
        password: Secret("second password".into()),
        since: None,
        rooms: None,
        resume_token: None,
    })
    .await
    .expect("the new password opens the account after a restart");
}

#[tokio::test]
async fn a_server_can_require_accounts() {
    let server = TestServer::start_with(|c| c.hub.require_account = true).await;
    let (code, message) = refused(guest(&server, "erin").await);
    assert_eq!(code, ErrorCode::AccountRequired, "{message}");
    // An account made by the operator (as `palaver-server account add` does) gets in.
    let database = test_config(server._dir.path().join("palaver.db")).database;
    tokio::task::spawn_blocking(move || {
        let accounts = palaver_server::store::accounts::Accounts::open(&database).unwrap();
        accounts.create("erin", "erin", "operator made").unwrap();
    })
    .await
    .unwrap();
    // Made behind the running server's back: the database is what a login is checked against.
    login(&server, "erin", "operator made")
        .await
        .expect("login with an account");
}

#[tokio::test]
async fn irc_users_register_with_register_and_log_in_with_sasl_plain() {
    use crate::irc_client::Irc;
    use base64::Engine;
    let server = TestServer::start_irc().await;
    let caps = ["sasl", "draft/account-registration"];
    let (mut irc, _) = Irc::register(server.irc_addr(), "frank", &caps).await;
    irc.send("REGISTER * * short").await;
    let fail = irc.expect("FAIL", |m| m.command == "FAIL").await;
    assert_eq!(fail.params[..2], ["REGISTER", "WEAK_PASSWORD"]);
    irc.send("REGISTER * * franks-password").await;
    let ok = irc.expect("REGISTER", |m| m.command == "REGISTER").await;
    assert_eq!(ok.params[..2], ["SUCCESS", "frank"]);
    irc.send("QUIT").await;
    irc.closed().await;

    // Without SASL the nick is refused; with the right password SASL logs in first.
    let mut other = Irc::connect(server.irc_addr()).await;
    other.send("NICK frank").await;
    other.send("USER f 0 * :F").await;
    let taken = other.expect("433", |m| m.command == "433").await;
    assert!(taken.params[2].contains("registered"), "{taken:?}");

    let sasl = |user: &str, password: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{user}\0{user}\0{password}"))
    };
    let mut wrong = Irc::connect(server.irc_addr()).await;
    wrong.send("CAP LS 302").await;
    wrong.send("CAP REQ :sasl").await;
    wrong.send("AUTHENTICATE PLAIN").await;
    wrong
        .expect("AUTHENTICATE +", |m| m.command == "AUTHENTICATE")
        .await;
    wrong
        .send(&format!("AUTHENTICATE {}", sasl("frank", "guessing")))
        .await;
    wrong.expect("904", |m| m.command == "904").await;

    let mut good = Irc::connect(server.irc_addr()).await;
    good.send("CAP LS 302").await;
    let ls = good.expect("LS", |m| m.command == "CAP").await;
    assert!(ls.params[2].split(' ').any(|c| c == "sasl=PLAIN"), "{ls:?}");
    good.send("CAP REQ :sasl").await;
    good.send("AUTHENTICATE PLAIN").await;
    good.expect("AUTHENTICATE +", |m| m.command == "AUTHENTICATE")
        .await;
    good.send(&format!(
        "AUTHENTICATE {}",
        sasl("frank", "franks-password")
    ))
    .await;
    let logged_in = good.expect("900", |m| m.command == "900").await;
    assert_eq!(logged_in.params[2], "frank");
    good.expect("903", |m| m.command == "903").await;
    good.send("NICK frank").await;
    good.send("USER f 0 * :F").await;
    good.send("CAP END").await;
    let welcome = good.expect("001", |m| m.command == "001").await;
    assert_eq!(welcome.params[0], "frank");
}

#[tokio::test]
async fn the_minimum_password_length_is_a_setting() {
    // Six characters are too few by default...
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    assert_eq!(
        error_code(&register(&mut alice, "sesame").await),
        Some("weak_password")
    );
    // ...and enough where the operator says so (`--min-password-length 6`, as irctest runs).
    let server = TestServer::start_with(|c| c.hub.min_password_chars = 6).await;
    let mut bob = server.join("bob").await;
    let done = register(&mut bob, "sesame").await;
    assert!(matches!(done, ServerFrame::Registered { .. }), "{done:?}");
    let mut carol = server.join("carol").await;
    assert_eq!(
        error_code(&register(&mut carol, "short").await),
        Some("weak_password")
    );
}
