//! Line mode for scripts and bots: each line of standard input is sent (slash commands work),
//! each message received is printed as one line, `[time] #room <user> text` (or the server's
//! frames as JSON lines with `--json`). Notices about the connection go to standard error.
//!
//! Sending is paced by the limits the server announced in its welcome, and each message waits for
//! its acknowledgement, so a file of any length is sent without being refused. At end of input the
//! session ends politely, after every message was acknowledged; the exit code is 0 if all were.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use palaver_client::client::ClientError;
use palaver_client::{Client, Event};
use palaver_proto::{timestamp, ClientFrame, ErrorCode, ServerFrame};

use super::ChatArgs;
use crate::commands::{self, Action, Target};

/// Runs line mode on a joined session until end of input.
pub async fn run(args: &ChatArgs, client: Client, mut events: mpsc::Receiver<Event>) -> ExitCode {
    // The first event is the welcome: it names our rooms and the server's limits.
    let Some(Event::Connected(welcome)) = events.recv().await else {
        eprintln!("palaver: the server did not welcome us");
        return ExitCode::FAILURE;
    };
    eprintln!(
        "palaver: connected to {}:{} as {}",
        args.host, args.port, welcome.username
    );
    let me = welcome.username.clone();
    let mut target = Target::Room(
        welcome
            .rooms
            .first()
            .map(|r| r.name.clone())
            .unwrap_or_else(|| "general".into()),
    );
    let mut pace = Pace::new(welcome.limits.rate_per_second, welcome.limits.rate_burst);

    let json = args.json;
    let (closed_tx, mut closed_rx) = mpsc::channel::<()>(1);
    let printer = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let last = matches!(event, Event::Closed { .. });
            print_event(&event, &me, json);
            if last {
                break;
            }
        }
        drop(closed_tx);
    });

    let mut failures = 0usize;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        let line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(e) => {
                eprintln!("palaver: cannot read standard input: {e}");
                failures += 1;
                break;
            }
        };
        match commands::interpret(&line, &target) {
            Action::Nothing => {}
            Action::Help => {
                for (usage, what) in commands::COMMANDS {
                    eprintln!("{usage}  —  {what}");
                }
            }
            Action::Quit => break,
            Action::Refuse(why) => {
                eprintln!("palaver: {why}");
                failures += 1;
            }
            Action::Upload(path) => {
                let sent = match welcome.http_base.clone() {
                    Some(base) if welcome.limits.max_upload_bytes > 0 => {
                        pace.wait().await;
                        let file = (base, path, welcome.limits.max_upload_bytes);
                        crate::net::upload_to(&client, file, target.clone()).await
                    }
                    _ => Err("this server takes no files".to_string()),
                };
                if let Err(why) = sent {
                    eprintln!("palaver: {why}");
                    failures += 1;
                }
            }
            Action::OnMessage { .. } => {
                // A script sees no messages to point at.
                eprintln!("palaver: /react, /reply, /edit and /delete need the full-screen client");
                failures += 1;
            }
            Action::Private { to, content } => {
                let frame = ClientFrame::PrivateMessage {
                    attachments: Vec::new(),
                    reply_to: None,
                    target: to,
                    content,
                };
                if !send_acked(&client, frame, &mut pace).await {
                    failures += 1;
                }
            }
            Action::Send(frame) => {
                // Later plain lines go where this command points.
                match &frame {
                    ClientFrame::JoinRoom { room, .. } => {
                        target = Target::Room(room.trim_start_matches('#').to_string())
                    }
                    ClientFrame::LeaveRoom { .. } => target = Target::Room("general".into()),
                    _ => {}
                }
                let ok = match frame {
                    ClientFrame::Message { .. } => send_acked(&client, frame, &mut pace).await,
                    other => {
                        pace.wait().await;
                        client.send(other).await.is_ok()
                    }
                };
                if !ok {
                    failures += 1;
                }
            }
        }
    }
    client.quit(None).await;
    let _ = tokio::time::timeout(Duration::from_secs(3), closed_rx.recv()).await;
    printer.abort();
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("palaver: {failures} line(s) were not sent");
        ExitCode::FAILURE
    }
}

/// Sends and waits for the acknowledgement; retries a few times if the server says we are too
/// fast (it should not, given the pacing) or the connection is being re-established.
async fn send_acked(client: &Client, frame: ClientFrame, pace: &mut Pace) -> bool {
    for attempt in 0..5 {
        pace.wait().await;
        match client.send_acked(frame.clone()).await {
            Ok(_) => return true,
            Err(ClientError::Server {
                code: ErrorCode::RateLimited,
                ..
            })
            | Err(ClientError::NotConnected) => {
                tokio::time::sleep(Duration::from_millis(500 * (attempt + 1))).await;
            }
            Err(ClientError::Server { code, message }) => {
                eprintln!("palaver: not sent: {message} ({code})");
                return false;
            }
            Err(e) => {
                eprintln!("palaver: not sent: {e}");
                return false;
            }
        }
    }
    eprintln!("palaver: not sent: the server kept refusing it");
    false
}

/// Client-side token bucket mirroring the server's limit, with a little headroom.
struct Pace {
    interval: Duration,
    tokens: f64,
    capacity: f64,
    last: Instant,
}

impl Pace {
    fn new(rate: f64, burst: u32) -> Self {
        let unlimited = rate <= 0.0 || !rate.is_finite();
        // The join already took one token; keep one more in reserve.
        let capacity = f64::from(burst.saturating_sub(2).max(1));
        Pace {
            interval: if unlimited {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(1.0 / (rate * 0.9))
            },
            tokens: capacity,
            capacity,
            last: Instant::now(),
        }
    }

    async fn wait(&mut self) {
        if self.interval.is_zero() {
            return;
        }
        let now = Instant::now();
        self.tokens = (self.tokens
            + now.duration_since(self.last).as_secs_f64() / self.interval.as_secs_f64())
        .min(self.capacity);
        self.last = now;
        if self.tokens < 1.0 {
            let missing = (1.0 - self.tokens) * self.interval.as_secs_f64();
            tokio::time::sleep(Duration::from_secs_f64(missing)).await;
            self.tokens = 1.0;
            self.last = Instant::now();
        }
        self.tokens -= 1.0;
    }
}

fn local_time(ts: &str) -> String {
    use chrono::TimeZone;
    timestamp::parse_millis(ts)
        .and_then(|ms| chrono::Local.timestamp_millis_opt(ms).single())
        .map(|t| t.format("%H:%M:%S").to_string())
        .unwrap_or_else(|| "--:--:--".into())
}

/// One line per message on standard output; connection notices on standard error.
pub fn format_frame(frame: &ServerFrame, me: &str) -> Option<String> {
    Some(match frame {
        ServerFrame::Message(m) => format!(
            "[{}] #{} <{}> {}",
            local_time(&m.timestamp),
            m.room,
            m.username,
            m.content
        ),
        ServerFrame::PrivateMessage(m) => {
            format!(
                "[{}] @{} <{}> {}",
                local_time(&m.timestamp),
                m.sender,
                m.sender,
                m.content
            )
        }
        ServerFrame::PrivateConfirmation {
            id: Some(_),
            target,
            content,
            timestamp,
            ..
        } => {
            format!(
                "[{}] @{} <{}> {}",
                local_time(timestamp),
                target,
                me,
                content
            )
        }
        ServerFrame::System {
            message,
            timestamp,
            room,
            ..
        } => match room {
            Some(room) => format!("[{}] #{} * {}", local_time(timestamp), room, message),
            None => format!("[{}] * {}", local_time(timestamp), message),
        },
        ServerFrame::Server { message, timestamp } => {
            format!("[{}] ! {}", local_time(timestamp), message)
        }
        ServerFrame::ModeChanged {
            room,
            username,
            modes,
            params,
            timestamp,
            ..
        } => format!(
            "[{}] #{} * {} sets mode {} {}",
            local_time(timestamp),
            room,
            username,
            modes,
            params.join(" ")
        )
        .trim_end()
        .to_string(),
        ServerFrame::Invited {
            room, username, by, ..
        } => {
            format!("* {by} invited {username} to #{room}")
        }
        _ => return None,
    })
}

fn print_event(event: &Event, me: &str, json: bool) {
    match event {
        Event::Frame(frame) => {
            if json {
                if let Ok(text) = serde_json::to_string(frame) {
                    println!("{text}");
                }
            } else if let Some(line) = format_frame(frame, me) {
                println!("{line}");
            }
            if let ServerFrame::Error { code, message, .. } = frame {
                eprintln!("palaver: {message} ({code})");
            }
        }
        Event::Connected(w) => eprintln!("palaver: joined as {}", w.username),
        Event::Disconnected {
            reason,
            reconnecting,
        } => {
            eprintln!(
                "palaver: disconnected: {reason}{}",
                if *reconnecting { "; reconnecting" } else { "" }
            )
        }
        Event::Reconnecting { attempt, delay } => {
            eprintln!(
                "palaver: reconnecting in {:.1}s (attempt {attempt})",
                delay.as_secs_f32()
            )
        }
        Event::Closed { reason } => eprintln!("palaver: session ended: {reason}"),
        Event::Secured(trust) => {
            if let Some(text) = crate::model::trust_notice(trust) {
                eprintln!("palaver: warning: {text}");
            }
        }
    }
}
