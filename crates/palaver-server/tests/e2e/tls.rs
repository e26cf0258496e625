//! TLS: a client on the TLS port chats with one on the plain port; a plain client on the TLS
//! port is told to use TLS; a certificate pinned on first use is refused when it changes.

use std::net::SocketAddr;
use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use palaver_client::proto::ClientFrame;
use palaver_client::{Connection, ConnectionError, TlsSettings, Trust};
use palaver_server::config::TlsConfig;
use palaver_server::listener::tls::self_signed;

use crate::harness::*;

/// Writes a fresh self-signed certificate into `dir`; returns its fingerprint.
fn certificate(dir: &Path, name: &str) -> (TlsConfig, String) {
    let (cert, key, fingerprint) = self_signed(&["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_path = dir.join(format!("{name}-cert.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let config = TlsConfig {
        cert: cert_path,
        key: key_path,
        bind: "127.0.0.1:0".parse().unwrap(),
        irc_bind: None,
        https_bind: None,
        only: false,
    };
    (config, fingerprint)
}

async fn tls_join(addr: SocketAddr, settings: &TlsSettings, name: &str) -> (Connection, Trust) {
    let (mut conn, trust) = Connection::connect_tls(&addr.to_string(), settings)
        .await
        .expect("TLS connection");
    conn.join_as(ClientFrame::Join {
        username: name.into(),
        since: None,
        rooms: None,
        resume_token: None,
    })
    .await
    .expect("join over TLS");
    (conn, trust)
}

#[tokio::test]
async fn a_tls_client_chats_with_a_plain_one_and_plain_text_on_the_tls_port_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, fingerprint) = certificate(dir.path(), "server");
    let server = TestServer::start_with(|c| c.tls = Some(tls)).await;
    let addresses = server.server.addresses().clone();
    let tls_addr = addresses.native_tls.expect("a TLS listener");
    assert_eq!(addresses.fingerprint.as_deref(), Some(fingerprint.as_str()));
    let settings = TlsSettings {
        known_hosts: dir.path().join("known_hosts"),
    };

    let (mut alice, trust) = tls_join(tls_addr, &settings, "alice").await;
    assert_eq!(
        trust,
        Trust::PinnedNow {
            fingerprint: fingerprint.clone(),
            file: settings.known_hosts.clone()
        },
        "a self-signed certificate is pinned on first use, and the fingerprint shown"
    );
    let mut bob = server.join("bob").await;
    say(&mut alice, "hello over TLS").await;
    let m = expect_message(&mut bob, "hello over TLS").await;
    assert_eq!(m.username, "alice");
    say(&mut bob, "hello in the clear").await;
    expect_message(&mut alice, "hello in the clear").await;

    // The second time, the pin is checked and matches.
    let (_again, trust) = tls_join(tls_addr, &settings, "alice2").await;
    assert_eq!(trust, Trust::Pinned { fingerprint });

    // A plain-text client on the TLS port is told why, in its own protocol, and closed.
    let mut plain = TcpStream::connect(tls_addr).await.unwrap();
    plain
        .write_all(b"{\"type\":\"join\",\"username\":\"carol\"}\n")
        .await
        .unwrap();
    let mut lines = BufReader::new(plain);
    let mut reply = String::new();
    lines.read_line(&mut reply).await.unwrap();
    assert!(reply.contains("\"code\":\"tls_required\""), "{reply}");
    let mut rest = String::new();
    assert_eq!(lines.read_line(&mut rest).await.unwrap(), 0, "then closed");
}

#[tokio::test]
async fn a_changed_certificate_is_refused_until_the_pin_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let settings = TlsSettings {
        known_hosts: dir.path().join("known_hosts"),
    };
    let (first, _) = certificate(dir.path(), "first");
    let server = TestServer::start_with(|c| c.tls = Some(first)).await;
    let addr = server.server.addresses().native_tls.unwrap();
    tls_join(addr, &settings, "alice").await;
    let TestServer { server, .. } = server;
    server.shutdown().await;

    // Same address, another certificate (a new one, or someone in the middle).
    let (mut second, new_fingerprint) = certificate(dir.path(), "second");
    second.bind = addr;
    let _server = TestServer::start_with(|c| c.tls = Some(second)).await;
    let refused = Connection::connect_tls(&addr.to_string(), &settings).await;
    let Err(ConnectionError::CertificateChanged { got, file, .. }) = refused else {
        panic!(
            "a changed certificate must be refused, got {:?}",
            refused.map(|(_, t)| t)
        );
    };
    assert_eq!(got, new_fingerprint);
    let message = ConnectionError::CertificateChanged {
        host: addr.to_string(),
        expected: "A".into(),
        got,
        file: file.clone(),
    }
    .to_string();
    assert!(
        message.contains("has changed") && message.contains(&file),
        "{message}"
    );
    // Removing the pin (after checking the new fingerprint) lets the user in again.
    std::fs::remove_file(&settings.known_hosts).unwrap();
    let (_conn, trust) = tls_join(addr, &settings, "alice").await;
    assert!(matches!(trust, Trust::PinnedNow { .. }));
}

#[tokio::test]
async fn the_client_library_sends_and_fetches_files_over_https_with_the_pinned_certificate() {
    use palaver_client::{Client, ClientConfig, Event};
    let dir = tempfile::tempdir().unwrap();
    let (mut tls, _) = certificate(dir.path(), "server");
    tls.https_bind = Some("127.0.0.1:0".parse().unwrap());
    let server = TestServer::start_with(|c| {
        c.tls = Some(tls);
        c.http_bind = None;
    })
    .await;
    let addresses = server.server.addresses().clone();
    let tls_addr = addresses.native_tls.expect("a TLS listener");
    let settings = TlsSettings {
        known_hosts: dir.path().join("known_hosts"),
    };
    let mut bob = server.join("bob").await;

    let mut config = ClientConfig::new(tls_addr.to_string(), "alice");
    config.tls = Some(settings.clone());
    config.reconnect = false;
    let (alice, mut events) = Client::connect(config).await.expect("alice over TLS");
    let Some(Event::Connected(welcome)) = events.recv().await else {
        panic!("a welcome first")
    };
    let base = welcome.http_base.clone().expect("files over HTTPS");
    assert!(base.starts_with("https://"), "{base}");

    let uploaded = alice
        .upload(&base, "notes.txt", "text/plain", b"over TLS\n".to_vec())
        .await
        .expect("uploaded over HTTPS");
    alice
        .send_acked(ClientFrame::Message {
            content: "the notes".into(),
            room: None,
            reply_to: None,
            attachments: vec![uploaded.id],
        })
        .await
        .unwrap();
    let frame = expect(&mut bob, "the notes", |f| {
        matches!(f, palaver_client::proto::ServerFrame::Message(m) if !m.state.attachments.is_empty())
    })
    .await;
    let palaver_client::proto::ServerFrame::Message(m) = frame else {
        unreachable!()
    };
    let link = &m.state.attachments[0].url;
    let bytes = palaver_client::files::get_with(&base, link, Some(&settings))
        .await
        .expect("fetched over HTTPS");
    assert_eq!(bytes, b"over TLS\n");
    // The HTTPS listener's certificate was pinned like the chat's.
    let pins = std::fs::read_to_string(&settings.known_hosts).unwrap();
    assert_eq!(pins.lines().count(), 2, "{pins}");
}
