//! One load run: connect and join C clients (in R rooms), let S of them send M messages each
//! (at a fixed rate or as fast as the server takes them), and check at every receiver what
//! arrived: delivered, lost, duplicated, out of order, and the end-to-end latency of each.
//!
//! Each payload carries its sender, a sequence number and its send time (nanoseconds on this
//! process's monotonic clock), so latency needs no clock sync: sender and receivers are in this
//! process. Lines from the server are scanned for the content field rather than parsed whole, so
//! the load generator stays cheaper than the server it measures.
//!
//! Every phase is bounded by the run's deadline; the run always ends by itself.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};

/// What to run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadSpec {
    pub clients: usize,
    pub rooms: usize,
    pub senders: usize,
    pub messages: u64,
    /// Messages per second per sender; `None` sends as fast as the server accepts.
    pub rate: Option<f64>,
    /// Extra payload bytes per message.
    pub payload: usize,
    /// Join and stay idle (no senders): for memory per connection.
    pub idle_hold: Option<Duration>,
    pub connect_concurrency: usize,
    pub timeout: Duration,
}

/// What came out.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Outcome {
    pub clients_joined: usize,
    pub connect_errors: usize,
    pub first_error: Option<String>,
    pub connect_seconds: f64,
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub send_seconds: f64,
    pub deliveries_per_second: f64,
    pub latency_us_p50: u64,
    pub latency_us_p90: u64,
    pub latency_us_p99: u64,
    pub latency_us_max: u64,
    pub timed_out: bool,
}

fn room_of(client: usize, rooms: usize) -> String {
    if rooms <= 1 {
        "general".to_string()
    } else {
        format!("bench-{}", client % rooms)
    }
}

/// Shared counters while the run goes on.
#[derive(Default)]
pub struct Progress {
    pub joined: AtomicUsize,
    pub delivered: AtomicU64,
}

struct Joined {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

async fn connect_and_join(
    addr: &str,
    name: &str,
    room: &str,
    buffer: usize,
) -> anyhow::Result<Joined> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let join = format!("{{\"type\":\"join\",\"username\":\"{name}\",\"rooms\":[\"{room}\"]}}\n");
    write.write_all(join.as_bytes()).await?;
    let mut reader = BufReader::with_capacity(buffer, read);
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            anyhow::bail!("the server closed the connection during join");
        }
        if line.starts_with(b"{\"type\":\"welcome\"") {
            return Ok(Joined {
                reader,
                writer: write,
            });
        }
        if line.starts_with(b"{\"type\":\"error\"") {
            anyhow::bail!("join refused: {}", String::from_utf8_lossy(&line).trim());
        }
    }
}

/// Finds `"content":"S:Q:T` in a message line and returns (sender, seq, sent_ns).
fn parse_payload(line: &[u8]) -> Option<(usize, u64, u64)> {
    if !line.starts_with(b"{\"type\":\"message\"") {
        return None;
    }
    const KEY: &[u8] = b"\"content\":\"";
    let at = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let mut fields = [0u64; 3];
    let mut i = 0;
    for &b in &line[at..] {
        match b {
            b'0'..=b'9' => fields[i] = fields[i] * 10 + u64::from(b - b'0'),
            b':' if i < 2 => i += 1,
            _ => break,
        }
    }
    (i == 2).then_some((fields[0] as usize, fields[1], fields[2]))
}

/// What one receiver saw.
struct Receipt {
    seen: Vec<Vec<u64>>, // a bitset per sender
    max_seq: Vec<Option<u64>>,
    delivered: u64,
    duplicated: u64,
    out_of_order: u64,
    latency: Histogram<u64>,
}

impl Receipt {
    fn new(senders: usize, messages: u64) -> Self {
        Receipt {
            seen: vec![vec![0u64; messages.div_ceil(64) as usize]; senders],
            max_seq: vec![None; senders],
            delivered: 0,
            duplicated: 0,
            out_of_order: 0,
            latency: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
        }
    }

    fn record(&mut self, sender: usize, seq: u64, sent_ns: u64, now_ns: u64) {
        let Some(bits) = self.seen.get_mut(sender) else {
            return;
        };
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        let Some(slot) = bits.get_mut(word) else {
            return;
        };
        if *slot & (1 << bit) != 0 {
            self.duplicated += 1;
            return;
        }
        *slot |= 1 << bit;
        self.delivered += 1;
        match self.max_seq[sender] {
            Some(max) if seq < max => self.out_of_order += 1,
            _ => self.max_seq[sender] = Some(seq),
        }
        let _ = self
            .latency
            .record((now_ns.saturating_sub(sent_ns) / 1000).max(1));
    }
}

/// Runs the load; `progress` is updated as it goes (for a progress bar).
pub async fn run(addr: &str, spec: &LoadSpec, progress: Arc<Progress>) -> Outcome {
    let clock = Instant::now();
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut outcome = Outcome::default();

    // Who is in which room, and how much each receiver should get.
    let senders: Vec<usize> = (0..spec.senders.min(spec.clients)).collect();
    let expected_for = |client: usize| -> u64 {
        let room = client % spec.rooms.max(1);
        senders
            .iter()
            .filter(|&&s| s % spec.rooms.max(1) == room)
            .count() as u64
            * spec.messages
    };
    outcome.expected = (0..spec.clients).map(expected_for).sum();

    // Phase 1: connect and join everyone.
    let idle = spec.idle_hold.is_some();
    let buffer = if idle { 1024 } else { 64 * 1024 };
    let permits = Arc::new(Semaphore::new(spec.connect_concurrency.max(1)));
    let joining = clock.elapsed();
    let mut tasks = Vec::with_capacity(spec.clients);
    for i in 0..spec.clients {
        let permits = permits.clone();
        let addr = addr.to_string();
        let room = room_of(i, spec.rooms);
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore");
            let name = format!("b{i}");
            let mut attempt = 0;
            loop {
                match tokio::time::timeout(
                    Duration::from_secs(30),
                    connect_and_join(&addr, &name, &room, buffer),
                )
                .await
                {
                    Ok(Ok(joined)) => {
                        progress.joined.fetch_add(1, Ordering::Relaxed);
                        return Ok(joined);
                    }
                    Ok(Err(e)) if attempt < 3 => {
                        attempt += 1;
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                    }
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => return Err("join timed out".to_string()),
                }
            }
        }));
    }
    let mut joined = Vec::with_capacity(spec.clients);
    for task in tasks {
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(Ok(j))) => joined.push(Some(j)),
            Ok(Ok(Err(e))) => {
                outcome.connect_errors += 1;
                outcome.first_error.get_or_insert(e);
                joined.push(None);
            }
            _ => {
                outcome.connect_errors += 1;
                outcome.first_error.get_or_insert("timed out".into());
                joined.push(None);
            }
        }
    }
    outcome.clients_joined = joined.iter().filter(|j| j.is_some()).count();
    outcome.connect_seconds = (clock.elapsed() - joining).as_secs_f64();

    if let Some(hold) = spec.idle_hold {
        // Keep every connection open and read (so nobody is a slow consumer), then stop.
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut holders = Vec::new();
        for j in joined.into_iter().flatten() {
            let mut stop = stop_rx.clone();
            holders.push(tokio::spawn(async move {
                let Joined { mut reader, writer } = j;
                let mut sink = [0u8; 512];
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        n = reader.read(&mut sink) => if matches!(n, Ok(0) | Err(_)) { break },
                    }
                }
                drop(writer);
            }));
        }
        tokio::time::sleep(hold).await;
        let _ = stop_tx.send(true);
        for h in holders {
            let _ = h.await;
        }
        return outcome;
    }

    // Phase 2: receivers read; once all are reading, senders start.
    let (go_tx, go_rx) = watch::channel(false);
    let mut receivers = Vec::new();
    let mut writers = Vec::new();
    let total_senders = senders.len();
    for (i, j) in joined.into_iter().enumerate() {
        let Some(Joined { mut reader, writer }) = j else {
            writers.push(None);
            continue;
        };
        writers.push(Some(writer));
        let expected = expected_for(i);
        let messages = spec.messages;
        let progress = progress.clone();
        receivers.push(tokio::spawn(async move {
            let mut receipt = Receipt::new(total_senders, messages);
            let mut line = Vec::with_capacity(1024);
            while receipt.delivered < expected {
                line.clear();
                let read =
                    tokio::time::timeout_at(deadline, reader.read_until(b'\n', &mut line)).await;
                match read {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => break,
                }
                if let Some((sender, seq, sent)) = parse_payload(&line) {
                    let now = clock.elapsed().as_nanos() as u64;
                    receipt.record(sender, seq, sent, now);
                    progress.delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            (receipt, expected)
        }));
    }
    let sending_started = clock.elapsed();
    let mut sender_tasks = Vec::new();
    for &s in &senders {
        let Some(writer) = writers.get_mut(s).and_then(Option::take) else {
            continue;
        };
        let mut go = go_rx.clone();
        let rate = spec.rate;
        let messages = spec.messages;
        let pad = "x".repeat(spec.payload);
        let room = room_of(s, spec.rooms);
        sender_tasks.push(tokio::spawn(async move {
            let _ = go.wait_for(|g| *g).await;
            let mut out = BufWriter::with_capacity(64 * 1024, writer);
            let mut ticker = rate.map(|r| {
                let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / r));
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                t
            });
            for seq in 0..messages {
                if let Some(t) = &mut ticker {
                    t.tick().await;
                }
                let sent = clock.elapsed().as_nanos() as u64;
                let frame = format!("{{\"type\":\"message\",\"room\":\"{room}\",\"content\":\"{s}:{seq}:{sent} {pad}\"}}\n");
                if out.write_all(frame.as_bytes()).await.is_err() {
                    return out.into_inner();
                }
                if ticker.is_some() || seq % 64 == 63 {
                    let _ = out.flush().await;
                }
            }
            let _ = out.flush().await;
            out.into_inner()
        }));
    }
    let _ = go_tx.send(true);
    let mut kept_writers = Vec::new();
    for t in sender_tasks {
        if let Ok(w) = t.await {
            kept_writers.push(w);
        }
    }

    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    for r in receivers {
        match r.await {
            Ok((receipt, expected)) => {
                outcome.delivered += receipt.delivered;
                outcome.duplicated += receipt.duplicated;
                outcome.out_of_order += receipt.out_of_order;
                outcome.lost += expected.saturating_sub(receipt.delivered);
                let _ = latency.add(&receipt.latency);
            }
            Err(_) => outcome.timed_out = true,
        }
    }
    // Receivers that never connected lost everything they should have had.
    outcome.lost = outcome.expected.saturating_sub(outcome.delivered);
    outcome.timed_out |= tokio::time::Instant::now() >= deadline;
    outcome.send_seconds = (clock.elapsed() - sending_started).as_secs_f64();
    outcome.deliveries_per_second = outcome.delivered as f64 / outcome.send_seconds.max(1e-9);
    outcome.latency_us_p50 = latency.value_at_quantile(0.50);
    outcome.latency_us_p90 = latency.value_at_quantile(0.90);
    outcome.latency_us_p99 = latency.value_at_quantile(0.99);
    outcome.latency_us_max = latency.max();
    drop(kept_writers);
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_found_in_server_lines() {
        let line = br#"{"type":"message","id":9,"room":"general","username":"b3","content":"3:41:123456 xxx","timestamp":"t"}"#;
        assert_eq!(parse_payload(line), Some((3, 41, 123456)));
        assert_eq!(parse_payload(br#"{"type":"system","message":"x"}"#), None);
    }

    #[test]
    fn receipts_count_duplicates_and_reordering() {
        let mut r = Receipt::new(2, 10);
        r.record(0, 0, 0, 1000);
        r.record(0, 2, 0, 1000);
        r.record(0, 1, 0, 1000);
        r.record(0, 2, 0, 1000);
        assert_eq!((r.delivered, r.duplicated, r.out_of_order), (3, 1, 1));
    }
}
