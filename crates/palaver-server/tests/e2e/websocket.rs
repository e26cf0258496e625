//! The HTTP listener: the native protocol and IRC over WebSocket, talking with TCP clients on
//! the same hub; the Origin check; the page and the health endpoints with their headers.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use palaver_client::proto::{ClientFrame, ServerFrame};
use palaver_client::Connection;

use crate::harness::*;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn web_server() -> TestServer {
    TestServer::start_with(|c| c.http_bind = Some("127.0.0.1:0".parse().unwrap())).await
}

fn http_addr(server: &TestServer) -> SocketAddr {
    server
        .server
        .addresses()
        .http
        .expect("the HTTP listener is on")
}

/// Opens `/ws`, asking for `protocol` (an IRCv3 subprotocol) and sending `origin`.
async fn open(
    addr: SocketAddr,
    protocol: Option<&str>,
    origin: Option<&str>,
) -> Result<(Ws, Option<String>), tokio_tungstenite::tungstenite::Error> {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    if let Some(p) = protocol {
        let value = HeaderValue::from_str(p).unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", value);
    }
    if let Some(o) = origin {
        request
            .headers_mut()
            .insert("Origin", HeaderValue::from_str(o).unwrap());
    }
    let (ws, response) = tokio_tungstenite::connect_async(request).await?;
    let chosen = response
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|v| v.to_str().unwrap().to_string());
    Ok((ws, chosen))
}

async fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

/// The next text message, within the tests' wait.
async fn next_text(ws: &mut Ws, what: &str) -> String {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap_or_else(|_| panic!("waiting for {what}: timed out"));
        match message {
            Some(Ok(Message::Text(text))) => return text.to_string(),
            Some(Ok(_)) => continue,
            other => panic!("waiting for {what}: {other:?}"),
        }
    }
}

/// The first JSON message for which `pred` holds.
async fn expect_json(ws: &mut Ws, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let text = next_text(ws, what).await;
        assert!(!text.ends_with('\n'), "one object per message, no newline");
        let value: Value = serde_json::from_str(&text).expect("a JSON object");
        if pred(&value) {
            return value;
        }
    }
}

/// The first IRC line containing `needle`.
async fn expect_line(ws: &mut Ws, needle: &str) -> String {
    loop {
        let line = next_text(ws, needle).await;
        assert!(
            !line.ends_with('\n') && !line.ends_with('\r'),
            "no CRLF: {line:?}"
        );
        if line.contains(needle) {
            return line;
        }
    }
}

#[tokio::test]
async fn a_browser_user_and_a_tcp_user_chat_both_ways() {
    let server = web_server().await;
    let (mut web, chosen) = open(http_addr(&server), None, None).await.unwrap();
    assert_eq!(chosen, None, "no subprotocol: the native protocol");
    send_text(&mut web, r#"{"type":"join","username":"webby"}"#).await;
    let welcome = expect_json(&mut web, "welcome", |v| v["type"] == "welcome").await;
    assert_eq!(welcome["username"], "webby");
    let (mut tcp, _) = Connection::join(server.server.local_addr(), "tcpy")
        .await
        .unwrap();

    send_text(
        &mut web,
        r#"{"type":"message","content":"hello from the browser","ref":7}"#,
    )
    .await;
    let ack = expect_json(&mut web, "ack", |v| v["type"] == "ack").await;
    assert_eq!(ack["ref"], 7);
    expect(&mut tcp, "the browser's message", |f| {
        matches!(f, ServerFrame::Message(m) if m.content == "hello from the browser" && m.username == "webby")
    })
    .await;

    tcp.send(&ClientFrame::Message {
        attachments: Vec::new(),
        reply_to: None,
        content: "hello from TCP".into(),
        room: None,
    })
    .await
    .unwrap();
    expect_json(&mut web, "the TCP message", |v| {
        v["type"] == "message" && v["content"] == "hello from TCP" && v["username"] == "tcpy"
    })
    .await;

    send_text(
        &mut web,
        r#"{"type":"private_message","target":"tcpy","content":"just us"}"#,
    )
    .await;
    expect(&mut tcp, "the private message", |f| {
        matches!(f, ServerFrame::PrivateMessage(m) if m.content == "just us" && m.sender == "webby")
    })
    .await;
    tcp.send(&ClientFrame::PrivateMessage {
        attachments: Vec::new(),
        reply_to: None,
        target: "webby".into(),
        content: "and back".into(),
    })
    .await
    .unwrap();
    expect_json(&mut web, "the private answer", |v| {
        v["type"] == "private_message" && v["content"] == "and back"
    })
    .await;
}

#[tokio::test]
async fn bad_input_over_websocket_gets_the_same_errors_as_over_tcp() {
    let server = web_server().await;
    let (mut web, _) = open(http_addr(&server), None, None).await.unwrap();
    send_text(&mut web, r#"{"type":"join","username":"webby"}"#).await;
    expect_json(&mut web, "welcome", |v| v["type"] == "welcome").await;

    send_text(&mut web, "{not json").await;
    let error = expect_json(&mut web, "invalid_json", |v| v["type"] == "error").await;
    assert_eq!(error["code"], "invalid_json");

    let long = "x".repeat(palaver_client::proto::DEFAULT_MAX_FRAME_BYTES + 10);
    let frame = json!({"type":"message","content": long}).to_string();
    send_text(&mut web, &frame).await;
    let error = expect_json(&mut web, "frame_too_large", |v| v["type"] == "error").await;
    assert_eq!(error["code"], "frame_too_large");

    // Still connected and answering.
    send_text(&mut web, r#"{"type":"ping","ref":"still"}"#).await;
    let pong = expect_json(&mut web, "pong", |v| v["type"] == "pong").await;
    assert_eq!(pong["ref"], "still");
}

#[tokio::test]
async fn an_irc_client_over_websocket_registers_joins_and_chats_with_a_native_user() {
    let server = web_server().await;
    let (mut irc, chosen) = open(http_addr(&server), Some("text.ircv3.net"), None)
        .await
        .unwrap();
    assert_eq!(chosen.as_deref(), Some("text.ircv3.net"));
    send_text(&mut irc, "NICK webirc").await;
    send_text(&mut irc, "USER webirc 0 * :Web IRC").await;
    expect_line(&mut irc, " 001 webirc ").await;
    send_text(&mut irc, "JOIN #general").await;
    expect_line(&mut irc, "JOIN #general").await;
    expect_line(&mut irc, " 366 ").await;

    let (mut native, _) = Connection::join(server.server.local_addr(), "native")
        .await
        .unwrap();
    native
        .send(&ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: "hi IRC".into(),
            room: None,
        })
        .await
        .unwrap();
    let line = expect_line(&mut irc, "PRIVMSG #general :hi IRC").await;
    assert!(line.starts_with(":native!"), "{line}");

    send_text(&mut irc, "PRIVMSG #general :hi native").await;
    expect(&mut native, "the IRC user's message", |f| {
        matches!(f, ServerFrame::Message(m) if m.content == "hi native" && m.username == "webirc")
    })
    .await;
}

#[tokio::test]
async fn a_websocket_from_another_origin_is_refused() {
    let server = web_server().await;
    let addr = http_addr(&server);
    let refused = open(addr, None, Some("http://evil.example")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("expected 403, got {other:?}"),
    }
    let own = format!("http://{addr}");
    assert!(
        open(addr, None, Some(&own)).await.is_ok(),
        "the page's own origin"
    );
}

/// A plain HTTP/1.1 GET: the status line, the headers (lowercased names) and the body.
async fn get(addr: SocketAddr, path: &str) -> (String, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn the_page_and_the_health_endpoints_answer_with_security_headers() {
    let server = web_server().await;
    let addr = http_addr(&server);
    let (status, headers, body) = get(addr, "/").await;
    assert!(status.contains(" 200 "), "{status}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(body.contains("<title>Palaver</title>"), "{body}");
    let csp = header(&headers, "content-security-policy").expect("a CSP");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&headers, "x-frame-options"), Some("DENY"));
    assert!(
        !body.contains("http://") && !body.contains("https://"),
        "nothing from elsewhere"
    );

    let (status, _, body) = get(addr, "/healthz").await;
    assert!(
        status.contains(" 200 ") && body == "ok\n",
        "{status} {body}"
    );
    let (status, _, body) = get(addr, "/readyz").await;
    assert!(
        status.contains(" 200 ") && body == "ready\n",
        "{status} {body}"
    );
    let (status, _, _) = get(addr, "/no-such-page").await;
    assert!(status.contains(" 404 "), "{status}");
}

#[tokio::test]
async fn metrics_count_connections_messages_and_refusals() {
    let server = web_server().await;
    let addr = http_addr(&server);
    let (mut web, _) = open(addr, None, None).await.unwrap();
    send_text(&mut web, r#"{"type":"join","username":"counted"}"#).await;
    expect_json(&mut web, "welcome", |v| v["type"] == "welcome").await;
    send_text(&mut web, r#"{"type":"message","content":"one","ref":1}"#).await;
    expect_json(&mut web, "ack", |v| v["type"] == "ack").await;
    send_text(&mut web, "{not json").await;
    expect_json(&mut web, "invalid_json", |v| v["type"] == "error").await;
    let (_tcp, _) = Connection::join(server.server.local_addr(), "tcp")
        .await
        .unwrap();

    let (status, headers, body) = get(addr, "/metrics").await;
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        header(&headers, "content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{headers:?}"
    );
    for line in [
        "palaver_connections{protocol=\"native\",transport=\"websocket\"} 1",
        "palaver_connections{protocol=\"native\",transport=\"tcp\"} 1",
        "palaver_joins_total 2",
        "palaver_messages_stored_total 1",
        "palaver_refusals_total{code=\"invalid_json\"} 1",
        "# TYPE palaver_store_commit_seconds histogram",
        "# HELP palaver_deliveries Frames queued for connections.",
        "palaver_hub_queue_depth 0",
        // The one message went through the store in one batch.
        "palaver_store_batch_size_count 1",
        "palaver_store_commit_seconds_count 1",
    ] {
        assert!(body.lines().any(|l| l == line), "{line:?} in:\n{body}");
    }
    // Counted deliveries: at least the welcome, the ack and the echo of the message.
    let delivered: u64 = body
        .lines()
        .find_map(|l| l.strip_prefix("palaver_deliveries_total "))
        .and_then(|v| v.parse().ok())
        .expect("a deliveries counter");
    assert!(delivered >= 3, "{delivered} deliveries counted");
}

#[tokio::test]
async fn irc_over_binary_websocket_messages_works_too() {
    let server = web_server().await;
    let (mut irc, chosen) = open(http_addr(&server), Some("binary.ircv3.net"), None)
        .await
        .unwrap();
    assert_eq!(chosen.as_deref(), Some("binary.ircv3.net"));
    for line in ["NICK binirc", "USER binirc 0 * :Binary"] {
        irc.send(Message::binary(line.as_bytes().to_vec()))
            .await
            .unwrap();
    }
    // Replies come as binary messages, one line each, without CRLF.
    loop {
        let message = tokio::time::timeout(WAIT, irc.next())
            .await
            .expect("a reply")
            .expect("open")
            .unwrap();
        let Message::Binary(bytes) = message else {
            panic!("expected binary messages, got {message:?}");
        };
        assert!(!bytes.ends_with(b"\n"), "{bytes:?}");
        if bytes.windows(12).any(|w| w == b" 001 binirc ") {
            break;
        }
    }
}
