//! A raw IRC client for the tests: lines in and out over a real socket, parsed with the same
//! `IrcMessage` the server uses, and `sync` (a PING and its PONG) to know that every reply to
//! what was sent before has arrived.

use std::net::SocketAddr;

use palaver_proto::irc::IrcMessage;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::harness::WAIT;

pub struct Irc {
    reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
    pub nick: String,
    syncs: u32,
}

impl Irc {
    pub async fn connect(addr: SocketAddr) -> Irc {
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to the IRC port");
        let (r, w) = stream.into_split();
        Irc {
            reader: BufReader::new(r),
            writer: w,
            nick: "*".into(),
            syncs: 0,
        }
    }

    /// Connects, requests `caps` (if any), registers as `nick` and reads up to the end of the
    /// MOTD. Returns the client and the lines of the welcome burst.
    pub async fn register(addr: SocketAddr, nick: &str, caps: &[&str]) -> (Irc, Vec<IrcMessage>) {
        let mut irc = Irc::connect(addr).await;
        if !caps.is_empty() {
            irc.send("CAP LS 302").await;
            irc.send(&format!("CAP REQ :{}", caps.join(" "))).await;
        }
        irc.send(&format!("NICK {nick}")).await;
        irc.send(&format!("USER {nick} 0 * :{nick} the tester"))
            .await;
        if !caps.is_empty() {
            let ack = irc.expect("CAP ACK", |m| m.command == "CAP").await;
            if ack.params.get(1).map(String::as_str) == Some("LS") {
                let ack = irc.expect("CAP ACK", |m| m.command == "CAP").await;
                assert_eq!(ack.params[1], "ACK", "{ack:?}");
            }
            irc.send("CAP END").await;
        }
        let burst = irc
            .until("end of MOTD", |m| m.command == "376" || m.command == "422")
            .await;
        irc.nick = nick.to_string();
        (irc, burst)
    }

    pub async fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("send a line");
    }

    /// The next line, or `None` at end of stream; fails after [`WAIT`].
    pub async fn line(&mut self) -> Option<String> {
        let mut text = String::new();
        let n = tokio::time::timeout(WAIT, self.reader.read_line(&mut text))
            .await
            .expect("a line within the wait")
            .expect("read a line");
        if n == 0 {
            return None;
        }
        assert!(text.ends_with("\r\n"), "lines end with CRLF: {text:?}");
        assert!(
            text.len() <= 8191 + 512,
            "no line is longer than the limit: {} bytes",
            text.len()
        );
        Some(text.trim_end_matches(['\r', '\n']).to_string())
    }

    pub async fn message(&mut self) -> IrcMessage {
        let line = self.line().await.expect("the connection is open");
        IrcMessage::parse(&line).unwrap_or_else(|e| panic!("server sent {line:?}: {e}"))
    }

    /// Reads until a message matches; returns it. Fails after [`WAIT`], saying what it waited
    /// for and what came instead.
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&IrcMessage) -> bool) -> IrcMessage {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let mut text = String::new();
            let read = tokio::time::timeout_at(deadline, self.reader.read_line(&mut text)).await;
            let n = match read {
                Ok(read) => read.expect("read a line"),
                Err(_) => panic!("waiting for {what}: timed out after {seen:#?}"),
            };
            assert!(
                n > 0,
                "waiting for {what}: the connection closed after {seen:#?}"
            );
            let line = text.trim_end_matches(['\r', '\n']).to_string();
            let m =
                IrcMessage::parse(&line).unwrap_or_else(|e| panic!("server sent {line:?}: {e}"));
            if pred(&m) {
                return m;
            }
            seen.push(line);
        }
    }

    /// Reads until a message matches; returns everything up to and including it.
    pub async fn until(
        &mut self,
        what: &str,
        pred: impl Fn(&IrcMessage) -> bool,
    ) -> Vec<IrcMessage> {
        let mut seen = Vec::new();
        loop {
            let m = self.message().await;
            let done = pred(&m);
            seen.push(m);
            if done {
                return seen;
            }
            let _ = what;
        }
    }

    /// Sends a PING and returns every line that arrived before its PONG.
    pub async fn sync(&mut self) -> Vec<IrcMessage> {
        self.syncs += 1;
        let token = format!("sync-{}", self.syncs);
        self.send(&format!("PING {token}")).await;
        let mut seen = self
            .until("PONG", |m| {
                m.command == "PONG" && m.params.last() == Some(&token)
            })
            .await;
        seen.pop();
        seen
    }

    /// The server closes the connection; returns the lines it sent before.
    pub async fn closed(&mut self) -> Vec<String> {
        let mut seen = Vec::new();
        while let Some(line) = self.line().await {
            seen.push(line);
        }
        seen
    }
}

/// The first message with this command, if any.
pub fn find<'a>(messages: &'a [IrcMessage], command: &str) -> Option<&'a IrcMessage> {
    messages.iter().find(|m| m.command == command)
}

pub fn commands(messages: &[IrcMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.command.as_str()).collect()
}
