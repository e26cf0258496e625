//! The `history` scenario: how fast messages are stored through the whole server (each sender
//! waits for nothing but counts acknowledgements), how long a join with its replay takes, and how
//! fast clients page back through history.

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HistoryOutcome {
    pub stored: u64,
    pub stored_per_second: f64,
    pub join_replay_ms_p50: f64,
    pub pages: u64,
    pub pages_per_second: f64,
    pub messages_paged_per_second: f64,
}

async fn join(
    addr: &str,
    name: &str,
    room: &str,
) -> anyhow::Result<(
    BufReader<tokio::net::tcp::OwnedReadHalf>,
    tokio::net::tcp::OwnedWriteHalf,
)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (r, mut w) = stream.into_split();
    let join = format!("{{\"type\":\"join\",\"username\":\"{name}\",\"rooms\":[\"{room}\"]}}\n");
    w.write_all(join.as_bytes()).await?;
    let mut reader = BufReader::with_capacity(256 * 1024, r);
    let mut line = Vec::new();
    loop {
        line.clear();
        anyhow::ensure!(
            reader.read_until(b'\n', &mut line).await? > 0,
            "closed during join"
        );
        if line.starts_with(b"{\"type\":\"welcome\"") {
            return Ok((reader, w));
        }
    }
}

/// Stores `senders * messages` messages, then lets `readers` clients join and page back `pages`
/// pages of 200 each.
pub async fn run(
    addr: &str,
    senders: usize,
    messages: u64,
    readers: usize,
    pages: u64,
    timeout: Duration,
) -> anyhow::Result<HistoryOutcome> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut out = HistoryOutcome::default();
    // Store: each sender sends with a ref on every message and counts the acks.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..senders {
        let addr = addr.to_string();
        tasks.push(tokio::spawn(async move {
            // Each sender writes to a room of its own, so it only reads its own echoes and acks.
            let (mut reader, writer) = join(&addr, &format!("h{s}"), &format!("hist-{s}")).await?;
            let write = tokio::spawn(async move {
                let mut w = BufWriter::with_capacity(64 * 1024, writer);
                for n in 0..messages {
                    let f = format!(
                        "{{\"type\":\"message\",\"room\":\"hist-{s}\",\"content\":\"history {s} {n}\",\"ref\":{n}}}\n"
                    );
                    w.write_all(f.as_bytes()).await?;
                }
                w.flush().await?;
                anyhow::Ok(w)
            });
            let mut acks = 0;
            let mut line = Vec::new();
            while acks < messages {
                line.clear();
                if reader.read_until(b'\n', &mut line).await? == 0 {
                    break;
                }
                if line.starts_with(b"{\"type\":\"ack\"") {
                    acks += 1;
                }
            }
            let _w = write.await??;
            anyhow::Ok(acks)
        }));
    }
    for t in tasks {
        out.stored += tokio::time::timeout_at(deadline, t).await???;
    }
    out.stored_per_second = out.stored as f64 / start.elapsed().as_secs_f64();

    // Join with replay, then page back.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for r in 0..readers {
        let addr = addr.to_string();
        tasks.push(tokio::spawn(async move {
            let joined_at = Instant::now();
            let room = format!("hist-{}", r % senders.max(1));
            let (mut reader, mut writer) = join(&addr, &format!("reader{r}"), &room).await?;
            let join_ms = joined_at.elapsed().as_secs_f64() * 1000.0;
            let mut before: Option<u64> = None;
            let mut pages_read = 0u64;
            let mut messages_read = 0u64;
            let mut line = Vec::new();
            for _ in 0..pages {
                let before_field = before
                    .map(|b| format!(",\"before\":{b}"))
                    .unwrap_or_default();
                writer
                    .write_all(
                        format!("{{\"type\":\"history\",\"room\":\"{room}\",\"limit\":200{before_field}}}\n")
                            .as_bytes(),
                    )
                    .await?;
                loop {
                    line.clear();
                    anyhow::ensure!(
                        reader.read_until(b'\n', &mut line).await? > 0,
                        "closed while paging"
                    );
                    if line.starts_with(b"{\"type\":\"history\"") {
                        break;
                    }
                }
                let page: serde_json::Value = serde_json::from_slice(&line)?;
                let list = page["messages"].as_array().cloned().unwrap_or_default();
                messages_read += list.len() as u64;
                pages_read += 1;
                before = list.first().and_then(|m| m["seq"].as_u64());
                if before.is_none() || page["has_more"] == false {
                    break;
                }
            }
            anyhow::Ok((join_ms, pages_read, messages_read))
        }));
    }
    let mut joins = Vec::new();
    let mut paged = 0;
    for t in tasks {
        let (join_ms, p, m) = tokio::time::timeout_at(deadline, t).await???;
        joins.push(join_ms);
        out.pages += p;
        paged += m;
    }
    let secs = start.elapsed().as_secs_f64();
    joins.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out.join_replay_ms_p50 = joins.get(joins.len() / 2).copied().unwrap_or_default();
    out.pages_per_second = out.pages as f64 / secs;
    out.messages_paged_per_second = paged as f64 / secs;
    Ok(out)
}
