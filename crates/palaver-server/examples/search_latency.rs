//! Measures search on a large history: fills a fresh store with MESSAGES messages (100 users,
//! 20 rooms, one private message in ten; words drawn from a 5,000-word vocabulary with a
//! common-to-rare spread), then times searches as a user in 10 rooms would make them: a common
//! word, a rare word, two words, a prefix, one room, one sender. Prints p50/p99 per kind.
//!
//! Run: `cargo run --release -p palaver-server --example search_latency -- [MESSAGES]
//! [--postgres]` (1,000,000 by default; PostgreSQL on a throwaway cluster).

use std::time::{Duration, Instant};

use palaver_server::store::{self, DirectSide, MessageKind, SearchQuery, StoredMessage};
use palaver_server::testing::ThrowawayPostgres;

/// A small deterministic generator (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A word index skewed towards the common ones (roughly Zipf-like).
    fn word(&mut self, vocabulary: usize) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((vocabulary as f64).powf(u) as usize).saturating_sub(1)
    }
}

fn word_at(i: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "ta", "po", "si", "de", "ba", "vo", "ze", "fu", "gi", "ho",
        "ly",
    ];
    let mut n = i + 16;
    let mut w = String::new();
    while n > 0 {
        w.push_str(SYLLABLES[n % 16]);
        n /= 16;
    }
    w
}

fn fill(db: &mut Box<dyn store::Backend>, messages: u64) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut batch = Vec::with_capacity(1000);
    for id in 1..=messages {
        let user = format!("user{}", id % 100);
        let kind = if id % 10 == 0 {
            let other = format!("user{}", (id / 10) % 100);
            MessageKind::Private {
                sender: user.clone(),
                sender_key: user.clone(),
                sender_owner: format!("guest:{user}"),
                target: other.clone(),
                target_key: other.clone(),
                target_owner: format!("guest:{other}"),
            }
        } else {
            let room = format!("room{}", id % 20);
            MessageKind::Public {
                owner: String::new(),
                room: room.clone(),
                room_key: room,
                username: user.clone(),
                username_key: user,
            }
        };
        let words = 6 + (rng.next() % 10) as usize;
        let content: Vec<String> = (0..words).map(|_| word_at(rng.word(5000))).collect();
        batch.push(StoredMessage {
            change: None,
            state: Default::default(),
            id,
            seq: 0,
            ts_ms: 1_800_000_000_000 + id as i64 * 100,
            content: content.join(" "),
            kind,
        });
        if batch.len() == 1000 {
            db.append(&mut batch).expect("append");
            batch.clear();
        }
    }
    if !batch.is_empty() {
        db.append(&mut batch).expect("append");
    }
}

/// The i-th search of one kind.
type MakeQuery<'a> = Box<dyn Fn(usize) -> SearchQuery + 'a>;

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    times[((times.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let messages: u64 = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let postgres = args
        .iter()
        .any(|a| a == "--postgres")
        .then(|| ThrowawayPostgres::start().expect("a throwaway PostgreSQL"));
    let dir = tempfile::tempdir().expect("temp dir");
    let database = match &postgres {
        Some(cluster) => cluster.new_database(),
        None => dir.path().join("search.db").to_str().unwrap().to_string(),
    };
    let mut db = store::open(&database).expect("open store");
    let start = Instant::now();
    fill(&mut db, messages);
    println!(
        "{} messages stored (and indexed) in {:.1} s on {}",
        messages,
        start.elapsed().as_secs_f64(),
        if postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let me = DirectSide {
        key: "user7".into(),
        owner: "guest:user7".into(),
    };
    let rooms: Vec<String> = (0..10).map(|r| format!("room{r}")).collect();
    let base = |words: Vec<String>| SearchQuery {
        words,
        me: me.clone(),
        rooms: rooms.clone(),
        private: true,
        with: None,
        from: None,
        after_ms: None,
        before_ms: None,
        before_id: None,
        limit: 20,
    };
    let kinds: Vec<(&str, MakeQuery)> = vec![
        ("a common word", Box::new(|i| base(vec![word_at(i % 5)]))),
        (
            "a rare word",
            Box::new(|i| base(vec![word_at(3000 + i % 1000)])),
        ),
        (
            "two words",
            Box::new(|i| base(vec![word_at(i % 20), word_at(20 + i % 50)])),
        ),
        (
            "a prefix",
            Box::new(|i| base(vec![word_at(100 + i % 100)[..3].to_string()])),
        ),
        (
            "one room",
            Box::new(|i| SearchQuery {
                rooms: vec![format!("room{}", i % 10)],
                private: false,
                ..base(vec![word_at(i % 50)])
            }),
        ),
        (
            "one sender",
            Box::new(|i| SearchQuery {
                from: Some(format!("user{}", i % 100)),
                ..base(vec![word_at(i % 50)])
            }),
        ),
    ];
    println!(
        "{:<14} {:>10} {:>10} {:>8}",
        "search", "p50", "p99", "found"
    );
    for (name, make) in kinds {
        let mut times = Vec::new();
        let mut found = 0;
        for i in 0..200 {
            let query = make(i);
            let t = Instant::now();
            let page = db.search(&query).expect("search");
            times.push(t.elapsed());
            found += page.messages.len();
        }
        let p50 = percentile(&mut times, 0.5);
        let p99 = percentile(&mut times, 0.99);
        println!(
            "{name:<14} {:>8.2}ms {:>8.2}ms {:>8.1}",
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0,
            found as f64 / 200.0
        );
    }
}
