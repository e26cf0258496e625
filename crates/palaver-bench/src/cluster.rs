//! `palaver-bench cluster`: the same load on one node and on a cluster of `--nodes` nodes, side
//! by side in one run, on one PostgreSQL (and, for the cluster, one Redis).
//!
//! Without `--database` and `--redis` it starts a throwaway PostgreSQL (durable commits, as in
//! production) and Redis on loopback. Each node is a `palaver-server` of its own; the clients are
//! spread over the nodes in turn, so most deliveries cross nodes. Besides the load's figures it
//! reports what the shared services did per message sent: Redis commands (`INFO stats`) and the
//! nodes' PostgreSQL commits (their `palaver_store_commit_seconds_count`), and how often a node
//! had to fill a gap from PostgreSQL (`palaver_cluster_gap_fills_total`).

use std::time::Duration;

use anyhow::Context;
use palaver_server::testing::postgres::ThrowawayPostgres;
use palaver_server::testing::redis::ThrowawayRedis;

use crate::load::Protocol;
use crate::spawn::{spawn_on, SpawnedServer};

/// The services a cluster runs on: given, or started for the run.
pub struct Services {
    postgres: Option<ThrowawayPostgres>,
    database: Option<String>,
    /// Kept running for the run, when it is ours.
    _redis: Option<ThrowawayRedis>,
    redis_url: String,
}

impl Services {
    pub fn new(database: Option<String>, redis: Option<String>) -> anyhow::Result<Services> {
        let postgres = match &database {
            Some(_) => None,
            None => Some(
                ThrowawayPostgres::start_durable()
                    .map_err(anyhow::Error::msg)
                    .context(
                        "starting a throwaway PostgreSQL (or give --database postgres://...)",
                    )?,
            ),
        };
        let (redis, redis_url) = match redis {
            Some(url) => (None, url),
            None => {
                let r = ThrowawayRedis::start()
                    .map_err(anyhow::Error::msg)
                    .context("starting a throwaway Redis (or give --redis redis://...)")?;
                let url = r.url();
                (Some(r), url)
            }
        };
        Ok(Services {
            postgres,
            database,
            _redis: redis,
            redis_url,
        })
    }

    /// A database for one side of a run (a fresh one when the PostgreSQL is ours).
    pub fn database(&self) -> String {
        match (&self.postgres, &self.database) {
            (Some(pg), _) => pg.new_database(),
            (None, Some(url)) => url.clone(),
            (None, None) => unreachable!("one or the other"),
        }
    }

    pub fn redis_url(&self) -> &str {
        &self.redis_url
    }

    /// Redis's figures so far: commands processed, CPU seconds, bytes of memory in use.
    pub fn redis_figures(&self) -> anyhow::Result<RedisFigures> {
        let client = redis::Client::open(self.redis_url.as_str())?;
        let mut connection = client.get_connection()?;
        let info: String = redis::cmd("INFO").arg("all").query(&mut connection)?;
        let field = |name: &str| -> anyhow::Result<f64> {
            info.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse().ok())
                .with_context(|| format!("INFO without {name}"))
        };
        let by_command = info
            .lines()
            .filter_map(|l| {
                let (name, stats) = l.strip_prefix("cmdstat_")?.split_once(':')?;
                let calls = stats
                    .strip_prefix("calls=")?
                    .split(',')
                    .next()?
                    .parse()
                    .ok()?;
                Some((name.to_string(), calls))
            })
            .collect();
        Ok(RedisFigures {
            commands: field("total_commands_processed")?,
            cpu_seconds: field("used_cpu_user")? + field("used_cpu_sys")?,
            memory: field("used_memory")?,
            by_command,
        })
    }
}

/// What Redis says of itself.
#[derive(Debug, Clone, Default)]
pub struct RedisFigures {
    pub commands: f64,
    pub cpu_seconds: f64,
    pub memory: f64,
    /// Calls so far, by command.
    pub by_command: std::collections::BTreeMap<String, f64>,
}

impl RedisFigures {
    /// Calls per `per` by command since `before`, the most called first.
    pub fn commands_since(&self, before: &RedisFigures, per: f64) -> Vec<(String, f64)> {
        let mut out: Vec<(String, f64)> = self
            .by_command
            .iter()
            .map(|(name, calls)| {
                let earlier = before.by_command.get(name).copied().unwrap_or(0.0);
                (name.clone(), (calls - earlier) / per)
            })
            .filter(|(name, n)| *n > 0.0 && name != "info")
            .collect();
        out.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
        out
    }
}

/// `n` nodes on `database` (with `--redis` when `redis` is given), each with `/metrics` on.
pub fn start_nodes(
    n: usize,
    binary: Option<std::path::PathBuf>,
    extra: &[String],
    database: &str,
    redis: Option<&str>,
) -> anyhow::Result<Vec<SpawnedServer>> {
    let mut flags = extra.to_vec();
    if let Some(url) = redis {
        flags.extend(["--redis".to_string(), url.to_string()]);
    }
    (0..n)
        .map(|_| {
            spawn_on(
                binary.clone(),
                &flags,
                Protocol::Native,
                Some(database),
                true,
            )
        })
        .collect()
}

/// The sum over the nodes of one counter of their `/metrics` (0 where a node has none).
pub fn metric_sum(nodes: &[SpawnedServer], name: &str) -> f64 {
    nodes
        .iter()
        .filter_map(|n| n.http_bind.as_deref())
        .map(|addr| scrape(addr, name).unwrap_or(0.0))
        .sum()
}

fn scrape(addr: &str, name: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    stream.read_to_string(&mut body).ok()?;
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .filter(|(metric, _)| *metric == name || metric.starts_with(&format!("{name}{{")))
        .filter_map(|(_, value)| value.trim().parse::<f64>().ok())
        .reduce(|a, b| a + b)
}
