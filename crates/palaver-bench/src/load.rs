//! One load run: connect and join C clients (in R rooms), let S of them send M messages each
//! (at a fixed rate or as fast as the server takes them), and check at every receiver what
//! arrived: delivered, lost, duplicated, out of order, and the end-to-end latency of each.
//!
//! Each payload carries its sender, a sequence number and its send time (nanoseconds on this
//! process's monotonic clock), so latency needs no clock sync: sender and receivers are in this
//! process. Lines from the server are scanned for the content field rather than parsed whole, so
//! the load generator stays cheaper than the server it measures.
//!
//! The same load speaks IRC with `Protocol::Irc`: each client registers (`NICK`/`USER`, waits for
//! 001), joins its channel (`#general`, or `#bench-N` like the native rooms; done at 366
//! RPL_ENDOFNAMES), senders send `PRIVMSG #chan :S:Q:T` and receivers scan `PRIVMSG` lines for
//! the same payload. An IRC server does not echo a message to its sender, so a sender expects the
//! other senders' messages in its channel but not its own. Server `PING`s are answered with `PONG`
//! from the moment a connection is registered until the run ends.
//!
//! Every phase is bounded by the run's deadline; the run always ends by itself.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter,
};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Semaphore};

/// The protocol the simulated clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Palaver's JSON lines.
    #[default]
    Native,
    /// IRC (RFC 1459/2812 client commands: NICK, USER, JOIN, PRIVMSG, PONG).
    Irc,
    /// Palaver's JSON over WebSocket (the HTTP listener's `/ws`, one object per message).
    Ws,
}

/// Longest `--payload` padding in IRC mode: a relayed line (prefix, command, channel, the
/// `S:Q:T ` header and the padding) has to fit in IRC's 512 bytes.
pub const IRC_MAX_PAYLOAD: usize = 360;

/// What to run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadSpec {
    pub protocol: Protocol,
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

/// The messages client `client` should receive: every message of every sender in its room, less
/// its own in IRC (no echo to the sender). Senders are clients `0..senders`.
fn expected_for(spec: &LoadSpec, client: usize) -> u64 {
    let rooms = spec.rooms.max(1);
    let senders = spec.senders.min(spec.clients);
    let in_room = (0..senders).filter(|s| s % rooms == client % rooms).count() as u64;
    let own = u64::from(spec.protocol == Protocol::Irc && client < senders);
    in_room.saturating_sub(own) * spec.messages
}

/// Deliveries the whole run should make (what `Outcome::expected` will say).
pub fn expected_deliveries(spec: &LoadSpec) -> u64 {
    if spec.idle_hold.is_some() {
        return 0;
    }
    (0..spec.clients).map(|c| expected_for(spec, c)).sum()
}

/// Shared counters while the run goes on.
#[derive(Default)]
pub struct Progress {
    pub joined: AtomicUsize,
    pub delivered: AtomicU64,
}

struct Joined {
    reader: BufReader<Reader>,
    writer: Writer,
}

/// A connection's two sides as bytes: a TCP stream's halves, or a WebSocket bridged to lines.
type Reader = Box<dyn AsyncRead + Send + Unpin>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// Opens a connection, trying afresh every 2 s for up to 30 s. A server with a short listen
/// backlog (ngIRCd's is 10) drops SYNs when hundreds connect at once, and the kernel retries a
/// dropped SYN only after 1, 3, 7, 15, 31 s: waiting on that back-off left clients unjoined after
/// 30 s while the server was idle.
async fn connect(addr: &str) -> std::io::Result<TcpStream> {
    for _ in 0..15 {
        if let Ok(result) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
        {
            return result;
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "connect timed out (15 attempts of 2 s)",
    ))
}

/// Connects and joins. A connection that the server has not welcomed within 20 s fails (and is
/// tried again by the caller): under a connection storm a server whose accept queue is full drops
/// the handshake's last ACK, and the connection, established for the client, never reaches the
/// server.
async fn connect_and_join(
    addr: &str,
    name: &str,
    room: &str,
    buffer: usize,
    protocol: Protocol,
) -> anyhow::Result<Joined> {
    let stream = connect(addr).await?;
    stream.set_nodelay(true)?;
    let join = async {
        match protocol {
            Protocol::Native => {
                let (r, w) = stream.into_split();
                native_join(Box::new(r), Box::new(w), name, room, buffer).await
            }
            Protocol::Ws => {
                let (r, w) = websocket_lines(stream, addr).await?;
                native_join(r, w, name, room, buffer).await
            }
            Protocol::Irc => irc_join(stream, name, room, buffer).await,
        }
    };
    tokio::time::timeout(Duration::from_secs(20), join)
        .await
        .unwrap_or_else(|_| anyhow::bail!("not welcomed within 20 s of connecting"))
}

/// A WebSocket to `/ws` on `addr`, as a byte stream of lines each way: each message received is
/// one line (with `\n` added), each line written is sent as one text message. Two small tasks do
/// the bridging in the load generator; the server sees a real WebSocket client.
async fn websocket_lines(stream: TcpStream, addr: &str) -> anyhow::Result<(Reader, Writer)> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), stream).await?;
    let (mut sink, mut messages) = ws.split();
    let (ours, bridge) = tokio::io::duplex(64 * 1024);
    let (bridge_read, mut bridge_write) = tokio::io::split(bridge);
    tokio::spawn(async move {
        while let Some(Ok(message)) = messages.next().await {
            if let Message::Text(text) = message {
                if bridge_write.write_all(text.as_bytes()).await.is_err()
                    || bridge_write.write_all(b"\n").await.is_err()
                {
                    break;
                }
            }
        }
    });
    tokio::spawn(async move {
        let mut lines = BufReader::new(bridge_read);
        let mut line = Vec::with_capacity(256);
        loop {
            line.clear();
            match lines.read_until(b'\n', &mut line).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
            let text = String::from_utf8_lossy(line.trim_ascii_end()).into_owned();
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let (r, w) = tokio::io::split(ours);
    Ok((Box::new(r), Box::new(w)))
}

async fn native_join(
    read: Reader,
    mut write: Writer,
    name: &str,
    room: &str,
    buffer: usize,
) -> anyhow::Result<Joined> {
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

/// Registers as `name` on an IRC server, joins `#room` and returns once the server has sent the
/// channel's RPL_ENDOFNAMES (366). Pings are answered; an `ERROR` or an error numeric (400-599)
/// fails the join with the server's line.
async fn irc_join(
    stream: TcpStream,
    name: &str,
    room: &str,
    buffer: usize,
) -> anyhow::Result<Joined> {
    let (read, write) = stream.into_split();
    let (read, mut write): (Reader, Writer) = (Box::new(read), Box::new(write));
    let hello = format!("NICK {name}\r\nUSER {name} 0 * :bench\r\n");
    write.write_all(hello.as_bytes()).await?;
    let channel = format!("#{room}");
    let mut reader = BufReader::with_capacity(buffer, read);
    let mut line = Vec::with_capacity(1024);
    let mut registered = false;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            anyhow::bail!(
                "the server closed the connection during {}",
                if registered { "join" } else { "registration" }
            );
        }
        if let Some(pong) = irc_pong_for(&line) {
            write.write_all(&pong).await?;
            continue;
        }
        let (command, params) = irc_command(&line);
        match command {
            b"001" if !registered => {
                registered = true;
                write
                    .write_all(format!("JOIN {channel}\r\n").as_bytes())
                    .await?;
            }
            b"366" if registered => {
                // `366 <nick> <channel> :End of /NAMES list.`
                let mut words = params.split(|&b| b == b' ');
                let _nick = words.next();
                if words
                    .next()
                    .is_some_and(|c| c.eq_ignore_ascii_case(channel.as_bytes()))
                {
                    return Ok(Joined {
                        reader,
                        writer: write,
                    });
                }
            }
            b"ERROR" => anyhow::bail!("{}", String::from_utf8_lossy(&line).trim()),
            [b'4'..=b'5', b'0'..=b'9', b'0'..=b'9'] => anyhow::bail!(
                "{} refused: {}",
                if registered { "join" } else { "registration" },
                String::from_utf8_lossy(&line).trim()
            ),
            _ => {}
        }
    }
}

/// Splits an IRC line into its command and the rest (parameters), skipping message tags and the
/// prefix. The rest keeps its trailing CR LF.
fn irc_command(line: &[u8]) -> (&[u8], &[u8]) {
    let mut rest = line;
    for lead in [b'@', b':'] {
        if rest.first() == Some(&lead) {
            rest = match rest.iter().position(|&b| b == b' ') {
                Some(at) => &rest[at + 1..],
                None => &[],
            };
        }
    }
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(rest.len());
    let params = rest.get(end + 1..).unwrap_or_default();
    (&rest[..end], params)
}

/// The answer to a server's ping on this line, if it is one.
fn pong_for(protocol: Protocol, line: &[u8]) -> Option<Vec<u8>> {
    match protocol {
        Protocol::Irc => irc_pong_for(line),
        Protocol::Native | Protocol::Ws => line
            .starts_with(br#"{"type":"ping""#)
            .then(|| b"{\"type\":\"pong\"}\n".to_vec()),
    }
}

/// The `PONG` answering a server's `PING` line (`PING :token`, with or without a prefix), or
/// `None` for any other line.
fn irc_pong_for(line: &[u8]) -> Option<Vec<u8>> {
    let (command, params) = irc_command(line);
    if command != b"PING" {
        return None;
    }
    let token = params.trim_ascii_end();
    let mut pong = Vec::with_capacity(token.len() + 8);
    pong.extend_from_slice(b"PONG ");
    pong.extend_from_slice(token);
    pong.extend_from_slice(b"\r\n");
    Some(pong)
}

/// Finds the payload of `:nick!user@host PRIVMSG #chan :S:Q:T ...` and returns
/// (sender, seq, sent_ns). Only the prefix, the command and the target are skipped: no full parse.
fn parse_irc_payload(line: &[u8]) -> Option<(usize, u64, u64)> {
    if line.first() != Some(&b':') {
        return None;
    }
    let after_prefix = line.iter().position(|&b| b == b' ')? + 1;
    let rest = line[after_prefix..].strip_prefix(b"PRIVMSG ")?;
    let after_target = rest.iter().position(|&b| b == b' ')? + 1;
    let text = &rest[after_target..];
    scan_payload(text.strip_prefix(b":").unwrap_or(text))
}

/// Reads `S:Q:T` at the start of `text`.
fn scan_payload(text: &[u8]) -> Option<(usize, u64, u64)> {
    let mut fields = [0u64; 3];
    let mut i = 0;
    let mut digits = 0;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                fields[i] = fields[i] * 10 + u64::from(b - b'0');
                digits += 1;
            }
            b':' if i < 2 && digits > 0 => {
                i += 1;
                digits = 0;
            }
            _ => break,
        }
    }
    (i == 2 && digits > 0).then_some((fields[0] as usize, fields[1], fields[2]))
}

/// Finds `"content":"S:Q:T` in a message line and returns (sender, seq, sent_ns).
fn parse_payload(line: &[u8]) -> Option<(usize, u64, u64)> {
    if !line.starts_with(b"{\"type\":\"message\"") {
        return None;
    }
    const KEY: &[u8] = b"\"content\":\"";
    let at = line.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    scan_payload(&line[at..])
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

/// How a receiver answers the server's pings (IRC `PING`, native `ping`): on the connection's
/// writer, which it owns; through the sender task that owns the writer; or not at all.
enum Ponger {
    None,
    Direct(Writer),
    ViaSender(mpsc::UnboundedSender<Vec<u8>>),
}

impl Ponger {
    async fn pong(&mut self, pong: Vec<u8>) {
        match self {
            Ponger::None => {}
            Ponger::Direct(writer) => {
                let _ = writer.write_all(&pong).await;
            }
            Ponger::ViaSender(tx) => {
                let _ = tx.send(pong);
            }
        }
    }
}

/// Keeps a connection read and its pings answered until `stop` or until the server closes it.
async fn hold(
    reader: &mut BufReader<Reader>,
    ponger: &mut Ponger,
    stop: &mut watch::Receiver<bool>,
    protocol: Protocol,
) {
    let mut line = Vec::with_capacity(256);
    if *stop.borrow_and_update() {
        return;
    }
    loop {
        line.clear();
        tokio::select! {
            // `stop` only ever changes to true.
            _ = stop.changed() => break,
            read = reader.read_until(b'\n', &mut line) => match read {
                Ok(n) if n > 0 => {
                    if let Some(pong) = pong_for(protocol, &line) {
                        ponger.pong(pong).await;
                    }
                }
                _ => break,
            },
        }
    }
}

/// Runs the load; `progress` is updated as it goes (for a progress bar).
/// Runs a load against `addr`: one address, or several separated by commas (the nodes of a
/// cluster), over which the clients are spread in turn.
pub async fn run(addr: &str, spec: &LoadSpec, progress: Arc<Progress>) -> Outcome {
    let addresses: Vec<String> = addr.split(',').map(|a| a.trim().to_string()).collect();
    let clock = Instant::now();
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let mut outcome = Outcome::default();
    let irc = spec.protocol == Protocol::Irc;
    let protocol = spec.protocol;

    // Who is in which room, and how much each receiver should get.
    let senders: Vec<usize> = (0..spec.senders.min(spec.clients)).collect();
    outcome.expected = expected_deliveries(spec);

    // Phase 1: connect and join everyone.
    let idle = spec.idle_hold.is_some();
    let buffer = if idle { 1024 } else { 64 * 1024 };
    let permits = Arc::new(Semaphore::new(spec.connect_concurrency.max(1)));
    let joining = clock.elapsed();
    let mut tasks = Vec::with_capacity(spec.clients);
    for i in 0..spec.clients {
        let permits = permits.clone();
        let addr = addresses[i % addresses.len()].clone();
        let room = room_of(i, spec.rooms);
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore");
            let name = format!("b{i}");
            let mut attempt = 0;
            loop {
                // Each attempt: up to 30 s to connect, then 20 s to be welcomed.
                match connect_and_join(&addr, &name, &room, buffer, protocol).await {
                    Ok(joined) => {
                        progress.joined.fetch_add(1, Ordering::Relaxed);
                        return Ok(joined);
                    }
                    Err(_) if attempt < 3 => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                    }
                    Err(e) => return Err(e.to_string()),
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

    if let Some(hold_for) = spec.idle_hold {
        // Keep every connection open and read (so nobody is a slow consumer), then stop.
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut holders = Vec::new();
        for j in joined.into_iter().flatten() {
            let mut stop = stop_rx.clone();
            holders.push(tokio::spawn(async move {
                let Joined { mut reader, writer } = j;
                if irc {
                    let mut ponger = Ponger::Direct(writer);
                    hold(&mut reader, &mut ponger, &mut stop, protocol).await;
                    return;
                }
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
        tokio::time::sleep(hold_for).await;
        let _ = stop_tx.send(true);
        for h in holders {
            let _ = h.await;
        }
        return outcome;
    }

    // Phase 2: receivers read; once all are reading, senders start. Each receiver reports its
    // receipt when it has everything it expects (or at the deadline); in IRC it then keeps
    // answering pings until every receiver has reported (`stop`).
    let (go_tx, go_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(Receipt, u64)>();
    let mut receivers = Vec::new();
    let mut writers = Vec::new();
    let mut pongs = Vec::new();
    let total_senders = senders.len();
    for (i, j) in joined.into_iter().enumerate() {
        let Some(Joined { mut reader, writer }) = j else {
            writers.push(None);
            pongs.push(None);
            continue;
        };
        let mut ponger = if i < total_senders {
            // The sender task owns the writer; it writes this receiver's pongs too.
            let (tx, rx) = mpsc::unbounded_channel();
            writers.push(Some(writer));
            pongs.push(Some(rx));
            Ponger::ViaSender(tx)
        } else {
            writers.push(None);
            pongs.push(None);
            Ponger::Direct(writer)
        };
        let expected = expected_for(spec, i);
        let messages = spec.messages;
        let progress = progress.clone();
        let done = done_tx.clone();
        let mut stop = stop_rx.clone();
        receivers.push(tokio::spawn(async move {
            let mut receipt = Receipt::new(total_senders, messages);
            let mut line = Vec::with_capacity(1024);
            let mut open = true;
            while receipt.delivered < expected {
                line.clear();
                let read =
                    tokio::time::timeout_at(deadline, reader.read_until(b'\n', &mut line)).await;
                match read {
                    Ok(Ok(n)) if n > 0 => {}
                    Ok(_) => {
                        open = false;
                        break;
                    }
                    Err(_) => break,
                }
                let found = if irc {
                    parse_irc_payload(&line)
                } else {
                    parse_payload(&line)
                };
                if let Some((sender, seq, sent)) = found {
                    let now = clock.elapsed().as_nanos() as u64;
                    receipt.record(sender, seq, sent, now);
                    progress.delivered.fetch_add(1, Ordering::Relaxed);
                } else if let Some(pong) = pong_for(protocol, &line) {
                    ponger.pong(pong).await;
                }
            }
            let _ = done.send((receipt, expected));
            if open {
                hold(&mut reader, &mut ponger, &mut stop, protocol).await;
            }
            // Both halves live until the run is over: no connection closes while others count.
            (reader, ponger)
        }));
    }
    drop(done_tx);
    let sending_started = clock.elapsed();
    let mut sender_tasks = Vec::new();
    for &s in &senders {
        let Some(writer) = writers.get_mut(s).and_then(Option::take) else {
            continue;
        };
        let mut pongs = pongs.get_mut(s).and_then(Option::take);
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
                    match &mut pongs {
                        None => {
                            t.tick().await;
                        }
                        Some(rx) => loop {
                            tokio::select! {
                                _ = t.tick() => break,
                                Some(pong) = rx.recv() => {
                                    let _ = out.write_all(&pong).await;
                                    let _ = out.flush().await;
                                }
                            }
                        },
                    }
                }
                if let Some(rx) = &mut pongs {
                    while let Ok(pong) = rx.try_recv() {
                        let _ = out.write_all(&pong).await;
                    }
                }
                let sent = clock.elapsed().as_nanos() as u64;
                let frame = if irc {
                    format!("PRIVMSG #{room} :{s}:{seq}:{sent} {pad}\r\n")
                } else {
                    format!("{{\"type\":\"message\",\"room\":\"{room}\",\"content\":\"{s}:{seq}:{sent} {pad}\"}}\n")
                };
                if out.write_all(frame.as_bytes()).await.is_err() {
                    return out.into_inner();
                }
                if ticker.is_some() || seq % 64 == 63 {
                    let _ = out.flush().await;
                }
            }
            let _ = out.flush().await;
            // Answer this client's pings until its receiver is done.
            if let Some(mut rx) = pongs {
                while let Some(pong) = rx.recv().await {
                    if out.write_all(&pong).await.is_err() || out.flush().await.is_err() {
                        break;
                    }
                }
            }
            out.into_inner()
        }));
    }
    let _ = go_tx.send(true);

    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let mut reported = 0;
    while reported < receivers.len() {
        // Receivers stop at the deadline; the margin only covers a receiver that died.
        match tokio::time::timeout_at(deadline + Duration::from_secs(5), done_rx.recv()).await {
            Ok(Some((receipt, _expected))) => {
                reported += 1;
                outcome.delivered += receipt.delivered;
                outcome.duplicated += receipt.duplicated;
                outcome.out_of_order += receipt.out_of_order;
                let _ = latency.add(&receipt.latency);
            }
            _ => {
                outcome.timed_out = true;
                break;
            }
        }
    }
    let finished = clock.elapsed();
    let _ = stop_tx.send(true);
    // Receivers stop reading now; senders are done unless the server stopped reading them (then
    // they are stopped: the run is bounded all the same).
    let grace = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut held = Vec::new();
    for r in receivers {
        let abort = r.abort_handle();
        match tokio::time::timeout_at(grace, r).await {
            // A sender task answers its receiver's pings until this channel closes.
            Ok(Ok((reader, Ponger::ViaSender(_)))) => held.push((reader, Ponger::None)),
            Ok(Ok(h)) => held.push(h),
            Ok(Err(_)) => outcome.timed_out = true,
            Err(_) => abort.abort(),
        }
    }
    let mut kept = Vec::new();
    for t in sender_tasks {
        let abort = t.abort_handle();
        match tokio::time::timeout_at(grace, t).await {
            Ok(Ok(w)) => kept.push(w),
            Ok(Err(_)) => {}
            Err(_) => {
                outcome.timed_out = true;
                abort.abort();
            }
        }
    }
    // Receivers that never connected lost everything they should have had.
    outcome.lost = outcome.expected.saturating_sub(outcome.delivered);
    outcome.timed_out |= tokio::time::Instant::now() >= deadline;
    outcome.send_seconds = (finished - sending_started).as_secs_f64();
    outcome.deliveries_per_second = outcome.delivered as f64 / outcome.send_seconds.max(1e-9);
    outcome.latency_us_p50 = latency.value_at_quantile(0.50);
    outcome.latency_us_p90 = latency.value_at_quantile(0.90);
    outcome.latency_us_p99 = latency.value_at_quantile(0.99);
    outcome.latency_us_max = latency.max();
    drop(kept);
    drop(held);
    drop(writers);
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
    fn irc_payloads_are_found_in_privmsg_lines() {
        let line = b":b3!~b3@127.0.0.1 PRIVMSG #general :3:41:123456 xxx\r\n";
        assert_eq!(parse_irc_payload(line), Some((3, 41, 123456)));
        // A single-word trailing parameter may come without its colon.
        assert_eq!(
            parse_irc_payload(b":b3!b3@h PRIVMSG #bench-2 3:41:9\r\n"),
            Some((3, 41, 9))
        );
        assert_eq!(
            parse_irc_payload(b":b3!~b3@h NOTICE #general :3:41:1\r\n"),
            None
        );
        assert_eq!(
            parse_irc_payload(b":irc.local 366 b1 #general :End of /NAMES list.\r\n"),
            None
        );
        assert_eq!(
            parse_irc_payload(b":b3!~b3@h PRIVMSG #general :hello\r\n"),
            None
        );
        assert_eq!(parse_irc_payload(b"PING :irc.local\r\n"), None);
    }

    #[test]
    fn irc_pings_are_answered_and_commands_split() {
        assert_eq!(
            irc_pong_for(b"PING :irc.local\r\n").as_deref(),
            Some(&b"PONG :irc.local\r\n"[..])
        );
        assert_eq!(
            irc_pong_for(b":srv PING srv\r\n").as_deref(),
            Some(&b"PONG srv\r\n"[..])
        );
        assert_eq!(irc_pong_for(b":b1!u@h PRIVMSG #g :PING x\r\n"), None);
        assert_eq!(
            pong_for(Protocol::Native, br#"{"type":"ping","timestamp":"x"}"#).as_deref(),
            Some(&b"{\"type\":\"pong\"}\n"[..])
        );
        assert_eq!(pong_for(Protocol::Native, br#"{"type":"pong"}"#), None);
        assert_eq!(
            irc_command(b"@time=x :irc.local 001 b0 :Welcome\r\n"),
            (&b"001"[..], &b"b0 :Welcome\r\n"[..])
        );
        assert_eq!(irc_command(b"ERROR :Closing link\r\n").0, &b"ERROR"[..]);
    }

    fn spec(protocol: Protocol, clients: usize, rooms: usize, senders: usize) -> LoadSpec {
        LoadSpec {
            protocol,
            clients,
            rooms,
            senders,
            messages: 10,
            rate: None,
            payload: 0,
            idle_hold: None,
            connect_concurrency: 1,
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn irc_senders_do_not_expect_their_own_messages() {
        // One room of 100, 10 senders: native echoes to all 100; IRC to the 99 others.
        assert_eq!(
            expected_deliveries(&spec(Protocol::Native, 100, 1, 10)),
            100 * 10 * 10
        );
        assert_eq!(
            expected_deliveries(&spec(Protocol::Irc, 100, 1, 10)),
            99 * 10 * 10
        );
        assert_eq!(expected_for(&spec(Protocol::Irc, 100, 1, 10), 3), 9 * 10);
        assert_eq!(expected_for(&spec(Protocol::Irc, 100, 1, 10), 50), 10 * 10);
        // 8 clients in 4 rooms, one sender per room: each room's sender expects nothing.
        let rooms = spec(Protocol::Irc, 8, 4, 4);
        assert_eq!(expected_for(&rooms, 0), 0);
        assert_eq!(expected_for(&rooms, 4), 10);
        assert_eq!(expected_deliveries(&rooms), 4 * 10);
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
