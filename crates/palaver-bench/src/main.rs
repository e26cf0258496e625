//! `palaver-bench`: load generator and benchmark reports for a Palaver server.
//!
//! ```text
//! palaver-bench fanout --spawn-server          # 100 clients, 10 senders, unthrottled
//! palaver-bench latency --spawn-server         # 1000 clients, 10 senders at 100 msg/s for 10 s
//! palaver-bench idle --spawn-server            # as many idle clients as the fd limit allows
//! palaver-bench rooms --spawn-server           # many rooms, few members each
//! palaver-bench history --spawn-server         # store rate, join replay, paging
//! palaver-bench custom --clients 500 --senders 5 --messages 1000 --rate 50 --addr 127.0.0.1:7878
//! palaver-bench fanout --protocol irc --addr 127.0.0.1:6667 --server-pid 1234   # any IRC server
//! palaver-bench fanout --protocol irc --spawn-server       # palaver-server's IRC listener
//! palaver-bench fanout --protocol ws --spawn-server        # the native protocol over WebSocket
//! palaver-bench cluster --nodes 3              # one node, then 3 on PostgreSQL + Redis
//! ```
//!
//! With `--spawn-server` it starts `palaver-server` (beside this binary) on a temporary database
//! with the per-connection limits lifted (`--rate-per-second 0 --max-connections-per-ip ...`) and
//! measures its CPU time and memory from `/proc`; against a server of your own, pass
//! `--server-pid` for the same. It raises its own open-file limit to the hard limit. Every run is
//! bounded by `--timeout`. `--json` prints one object per run.
//!
//! `--protocol irc` runs the same scenarios (all but `history`) over IRC, so that Palaver can be
//! compared with other IRC servers on one load; with `--spawn-server` the spawned palaver-server
//! also gets `--irc-bind` on a free port and the load goes there.

mod cluster;
mod history;
mod load;
mod procfs;
mod spawn;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use load::{LoadSpec, Outcome, Progress, Protocol};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Scenario {
    Fanout,
    Latency,
    Idle,
    Rooms,
    History,
    Custom,
    /// The same load on one node and on `--nodes` nodes sharing PostgreSQL and Redis.
    Cluster,
}

#[derive(Debug, Parser)]
#[command(
    name = "palaver-bench",
    version,
    about = "Load generator and benchmark reports for Palaver."
)]
struct Args {
    /// Named scenario; its defaults can be overridden by the flags below.
    #[arg(value_enum, default_value = "fanout")]
    scenario: Scenario,
    /// Protocol the simulated clients speak: Palaver's JSON lines, or IRC.
    #[arg(long, value_enum, default_value = "native")]
    protocol: Protocol,
    /// Server to load (ignored with --spawn-server); with --protocol irc, its IRC port.
    #[arg(long, default_value = "127.0.0.1:7878")]
    addr: String,
    /// Start a palaver-server on a temporary database for this run.
    #[arg(long)]
    spawn_server: bool,
    /// The palaver-server binary for --spawn-server [default: beside this binary].
    #[arg(long)]
    server_bin: Option<std::path::PathBuf>,
    /// Extra flags for the spawned server (repeatable), e.g. --server-arg=--store-batch-max=1024.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Measure this server process's CPU and memory.
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long)]
    clients: Option<usize>,
    #[arg(long)]
    rooms: Option<usize>,
    #[arg(long)]
    senders: Option<usize>,
    /// Messages per sender.
    #[arg(long)]
    messages: Option<u64>,
    /// Messages per second per sender (0: unthrottled).
    #[arg(long)]
    rate: Option<f64>,
    /// Extra payload bytes per message (at most 360 with --protocol irc: lines are 512 bytes).
    #[arg(long, default_value_t = 0)]
    payload: usize,
    /// Clients connecting and joining at once. ngIRCd's listen backlog is 10: above that, a
    /// connection storm costs it SYN retries (the bench retries too; joining just takes longer).
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Runs of the scenario (each reported; the summary gives medians).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Upper bound for one run, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// One JSON object per run on standard output.
    #[arg(long)]
    json: bool,
    /// `cluster`: how many nodes.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// `cluster`: the PostgreSQL database [default: a throwaway PostgreSQL started for the run].
    #[arg(long)]
    database: Option<String>,
    /// `cluster`: the Redis [default: a throwaway redis-server started for the run].
    #[arg(long)]
    redis: Option<String>,
}

#[derive(Debug, serde::Serialize)]
struct Report {
    scenario: Scenario,
    run: usize,
    spec: LoadSpec,
    #[serde(flatten)]
    outcome: Outcome,
    server_cpu_seconds: Option<f64>,
    bench_cpu_seconds: Option<f64>,
    server_cpu_ns_per_delivery: Option<f64>,
    server_rss_bytes: Option<u64>,
    server_rss_peak_bytes: Option<u64>,
    server_rss_bytes_per_client: Option<f64>,
    fd_limit: u64,
}

fn spec_for(args: &Args, fd_limit: u64) -> LoadSpec {
    let (clients, rooms, senders, messages, rate, idle) = match args.scenario {
        Scenario::Fanout => (100, 1, 10, 10_000, None, None),
        Scenario::Latency => (1000, 1, 10, 1000, Some(100.0), None),
        // Both ends of every connection live on this machine: the bench's and the server's
        // descriptors share one limit each, so stay a little under it.
        Scenario::Idle => (
            (fd_limit.saturating_sub(200) as usize).clamp(100, 20_000),
            400,
            0,
            0,
            None,
            Some(Duration::from_secs(3)),
        ),
        Scenario::Rooms => (1000, 250, 250, 100, Some(20.0), None),
        Scenario::History | Scenario::Custom => (100, 1, 10, 1_000, None, None),
        Scenario::Cluster => (150, 1, 10, 1_000, None, None),
    };
    LoadSpec {
        protocol: args.protocol,
        clients: args.clients.unwrap_or(clients),
        rooms: args.rooms.unwrap_or(rooms).max(1),
        senders: args.senders.unwrap_or(senders),
        messages: args.messages.unwrap_or(messages),
        rate: match args.rate {
            Some(r) if r <= 0.0 => None,
            Some(r) => Some(r),
            None => rate,
        },
        payload: args.payload,
        idle_hold: idle,
        connect_concurrency: args.connect_concurrency.max(1),
        timeout: Duration::from_secs(args.timeout),
    }
}

fn progress_bar(
    json: bool,
    spec: &LoadSpec,
    progress: Arc<Progress>,
) -> Option<tokio::task::JoinHandle<()>> {
    if json {
        return None;
    }
    let expected = spec.clients as u64 + load::expected_deliveries(spec);
    let bar = ProgressBar::new(expected.max(1));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
            .expect("template"),
    );
    Some(tokio::spawn(async move {
        loop {
            let joined = progress.joined.load(std::sync::atomic::Ordering::Relaxed) as u64;
            let delivered = progress
                .delivered
                .load(std::sync::atomic::Ordering::Relaxed);
            bar.set_position(joined + delivered);
            bar.set_message(format!("joined {joined}, delivered {delivered}"));
            tokio::time::sleep(Duration::from_millis(100)).await;
            if bar.is_finished() {
                break;
            }
        }
    }))
}

fn print_table(r: &Report) {
    let o = &r.outcome;
    println!(
        "scenario {:?}{} run {}: {} clients in {} room(s), {} senders x {} messages{}",
        r.scenario,
        if r.spec.protocol == Protocol::Irc {
            " (IRC)"
        } else {
            ""
        },
        r.run,
        r.spec.clients,
        r.spec.rooms,
        r.spec.senders,
        r.spec.messages,
        r.spec
            .rate
            .map(|x| format!(" at {x}/s each"))
            .unwrap_or_else(|| " unthrottled".into())
    );
    println!(
        "  joined            {:>12} in {:.2} s ({} errors{})",
        o.clients_joined,
        o.connect_seconds,
        o.connect_errors,
        o.first_error
            .as_ref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    );
    if r.spec.idle_hold.is_none() {
        println!(
            "  delivered         {:>12} of {} expected",
            o.delivered, o.expected
        );
        println!(
            "  lost / dup / ooo  {:>12} / {} / {}",
            o.lost, o.duplicated, o.out_of_order
        );
        println!("  deliveries/s      {:>12.0}", o.deliveries_per_second);
        println!(
            "  latency p50/p90/p99/max  {} / {} / {} / {} µs",
            o.latency_us_p50, o.latency_us_p90, o.latency_us_p99, o.latency_us_max
        );
    }
    if let Some(cpu) = r.server_cpu_seconds {
        println!("  server CPU        {:>12.3} s", cpu);
    }
    if let Some(cpu) = r.bench_cpu_seconds {
        println!("  load generator CPU {:>11.3} s (same machine)", cpu);
    }
    if let Some(ns) = r.server_cpu_ns_per_delivery {
        println!("  server CPU/delivery {:>10.0} ns", ns);
    }
    if let (Some(rss), Some(peak)) = (r.server_rss_bytes, r.server_rss_peak_bytes) {
        println!(
            "  server RSS        {:>12.1} MiB (peak {:.1} MiB)",
            rss as f64 / 1048576.0,
            peak as f64 / 1048576.0
        );
    }
    if let Some(per) = r.server_rss_bytes_per_client {
        println!("  server RSS/client {:>12.0} bytes", per);
    }
    if o.timed_out {
        println!("  (the run hit its timeout)");
    }
}

/// Server CPU seconds spread over the deliveries, in nanoseconds each.
fn ns_per_delivery(cpu_seconds: Option<f64>, delivered: u64) -> Option<f64> {
    cpu_seconds
        .filter(|_| delivered > 0)
        .map(|c| c * 1e9 / delivered as f64)
}

/// This process's CPU seconds since `before`.
fn bench_cpu_since(before: Option<f64>) -> Option<f64> {
    procfs::cpu_seconds(std::process::id())
        .zip(before)
        .map(|(now, before)| now - before)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.protocol == Protocol::Irc {
        anyhow::ensure!(
            args.scenario != Scenario::History,
            "the history scenario measures Palaver's own history frames (store, replay on join, \
             paging), which IRC does not have: run it with --protocol native"
        );
        anyhow::ensure!(
            args.payload <= load::IRC_MAX_PAYLOAD,
            "--payload {} does not fit in an IRC line (512 bytes): at most {} with --protocol irc",
            args.payload,
            load::IRC_MAX_PAYLOAD
        );
    }
    let fd_limit = procfs::raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.scenario == Scenario::Cluster {
        return run_cluster(&args, fd_limit, &runtime);
    }
    let mut reports = Vec::new();
    for run in 1..=args.runs {
        let server = if args.spawn_server {
            Some(spawn::spawn(
                args.server_bin.clone(),
                &args.server_args,
                args.protocol,
            )?)
        } else {
            None
        };
        let addr = server
            .as_ref()
            .map(|s| s.addr.clone())
            .unwrap_or_else(|| args.addr.clone());
        let pid = server.as_ref().map(|s| s.pid).or(args.server_pid);
        if !args.json && run == 1 {
            if args.spawn_server {
                let irc = server
                    .as_ref()
                    .and_then(|s| s.irc_bind.as_ref())
                    .map(|a| format!(" --irc-bind {a}"))
                    .unwrap_or_else(|| " --no-irc".into());
                let http = server
                    .as_ref()
                    .and_then(|s| s.http_bind.as_ref())
                    .map(|a| format!(" --http-bind {a}"))
                    .unwrap_or_default();
                let irc = format!("{irc}{http}");
                eprintln!(
                    "spawned palaver-server on {}{irc} with {}",
                    server.as_ref().map(|s| s.bind.as_str()).unwrap_or(""),
                    spawn::LOAD_TEST_FLAGS.join(" ")
                );
            }
            eprintln!("open-file limit: {fd_limit}");
        }
        if args.scenario == Scenario::History {
            let senders = args.senders.unwrap_or(10);
            let messages = args.messages.unwrap_or(10_000);
            let cpu0 = pid.and_then(procfs::cpu_seconds);
            let out = runtime.block_on(history::run(
                &addr,
                senders,
                messages,
                args.clients.unwrap_or(20),
                10,
                Duration::from_secs(args.timeout),
            ))?;
            let cpu = pid
                .and_then(procfs::cpu_seconds)
                .zip(cpu0)
                .map(|(a, b)| a - b);
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"scenario": "history", "run": run, "result": out, "server_cpu_seconds": cpu})
                );
            } else {
                println!("scenario history run {run}: {senders} senders x {messages} messages stored, then {} readers page back", args.clients.unwrap_or(20));
                println!(
                    "  stored            {:>12} ({:.0} messages/s, acknowledged = durable)",
                    out.stored, out.stored_per_second
                );
                println!(
                    "  join with replay  {:>12.2} ms (median)",
                    out.join_replay_ms_p50
                );
                println!(
                    "  history pages     {:>12} ({:.0} pages/s, {:.0} messages/s)",
                    out.pages, out.pages_per_second, out.messages_paged_per_second
                );
            }
            continue;
        }
        let spec = spec_for(&args, fd_limit);
        let progress = Arc::new(Progress::default());
        let bar = {
            let _guard = runtime.enter();
            progress_bar(args.json, &spec, progress.clone())
        };
        let rss_before = pid.and_then(procfs::rss_bytes);
        let cpu_before = pid.and_then(procfs::cpu_seconds);
        let bench_cpu_before = procfs::cpu_seconds(std::process::id());
        let started = Instant::now();
        let mut rss_held = None;
        let outcome = runtime.block_on(async {
            let addr = addr.clone();
            let spec2 = spec.clone();
            let progress2 = progress.clone();
            let run = tokio::spawn(async move { load::run(&addr, &spec2, progress2).await });
            // For idle runs, measure memory while everyone is still connected.
            if spec.idle_hold.is_some() {
                while progress.joined.load(std::sync::atomic::Ordering::Relaxed) < spec.clients
                    && !run.is_finished()
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                rss_held = pid.and_then(procfs::rss_bytes);
            }
            run.await.expect("load run")
        });
        let _ = started;
        if let Some(bar) = bar {
            bar.abort();
        }
        let cpu = pid
            .and_then(procfs::cpu_seconds)
            .zip(cpu_before)
            .map(|(after, before)| after - before);
        let rss = pid.and_then(procfs::rss_bytes);
        let per_client = match (spec.idle_hold, rss_before, rss) {
            (Some(_), Some((before, _)), Some((_, peak))) if outcome.clients_joined > 0 => {
                Some((peak.saturating_sub(before)) as f64 / outcome.clients_joined as f64)
            }
            _ => None,
        };
        let report = Report {
            scenario: args.scenario,
            run,
            server_cpu_ns_per_delivery: ns_per_delivery(cpu, outcome.delivered),
            server_cpu_seconds: cpu,
            bench_cpu_seconds: bench_cpu_since(bench_cpu_before),
            server_rss_bytes: rss.map(|r| r.0),
            server_rss_peak_bytes: rss.map(|r| r.1),
            server_rss_bytes_per_client: per_client,
            spec,
            outcome,
            fd_limit,
        };
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print_table(&report);
        }
        reports.push(report);
        drop(server);
    }
    if reports.len() > 1 && !args.json {
        let m = |f: &dyn Fn(&Report) -> Option<f64>| median(reports.iter().filter_map(f).collect());
        println!("medians over {} runs:", reports.len());
        // A figure no run has (no --server-pid; RSS per client outside `idle`) is left out.
        let shown = |label: &str, value: f64, unit: &str| {
            (!value.is_nan()).then(|| format!("{label} {value:.0} {unit}"))
        };
        let figures: Vec<String> = [
            shown(
                "deliveries/s",
                m(&|r| Some(r.outcome.deliveries_per_second)),
                "",
            ),
            shown("p99", m(&|r| Some(r.outcome.latency_us_p99 as f64)), "µs"),
            shown(
                "server CPU/delivery",
                m(&|r| r.server_cpu_ns_per_delivery),
                "ns",
            ),
            shown("RSS/client", m(&|r| r.server_rss_bytes_per_client), "bytes"),
        ]
        .into_iter()
        .flatten()
        .map(|f| f.trim_end().to_string())
        .collect();
        println!("  {}", figures.join(", "));
    }
    let failed = reports
        .iter()
        .any(|r| r.outcome.lost > 0 || r.outcome.duplicated > 0 || r.outcome.connect_errors > 0);
    if failed && !args.json {
        eprintln!("note: some messages were lost or duplicated, or some clients could not join (see above)");
    }
    Ok(())
}

/// One side of a `cluster` run: its figures, with what the shared services did.
#[derive(Debug, serde::Serialize)]
struct ClusterReport {
    nodes: usize,
    #[serde(flatten)]
    report: Report,
    redis_commands_per_message: Option<f64>,
    /// Redis commands per message sent, by command.
    redis_commands: Vec<(String, f64)>,
    redis_cpu_us_per_message: Option<f64>,
    redis_bytes_per_user: Option<f64>,
    postgres_commits_per_message: f64,
    gap_fills: f64,
}

/// `cluster`: for each run, the load on one node (PostgreSQL, no Redis), then on `--nodes`
/// nodes sharing PostgreSQL and Redis; medians of both and their ratio at the end.
fn run_cluster(
    args: &Args,
    fd_limit: u64,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.protocol == Protocol::Native,
        "the cluster scenario speaks the native protocol"
    );
    let services = cluster::Services::new(args.database.clone(), args.redis.clone())?;
    let mut reports: Vec<ClusterReport> = Vec::new();
    for run in 1..=args.runs {
        for (nodes, redis) in [(1, None), (args.nodes.max(2), Some(services.redis_url()))] {
            let database = services.database();
            let servers = cluster::start_nodes(
                nodes,
                args.server_bin.clone(),
                &args.server_args,
                &database,
                redis,
            )?;
            let addr = servers
                .iter()
                .map(|s| s.addr.clone())
                .collect::<Vec<_>>()
                .join(",");
            let spec = spec_for(args, fd_limit);
            let cpu = |servers: &[spawn::SpawnedServer]| -> Option<f64> {
                servers.iter().map(|s| procfs::cpu_seconds(s.pid)).sum()
            };
            let redis_before = redis.map(|_| services.redis_figures()).transpose()?;
            let commits_before =
                cluster::metric_sum(&servers, "palaver_store_commit_seconds_count");
            let cpu_before = cpu(&servers);
            let bench_cpu_before = procfs::cpu_seconds(std::process::id());
            let progress = Arc::new(Progress::default());
            let mut redis_joined = None;
            let rss = |servers: &[spawn::SpawnedServer]| -> Option<u64> {
                servers
                    .iter()
                    .map(|s| procfs::rss_bytes(s.pid).map(|r| r.0))
                    .sum()
            };
            let rss_before = rss(&servers);
            let mut rss_joined = None;
            let outcome = runtime.block_on(async {
                let (addr, spec2, progress2) = (addr.clone(), spec.clone(), progress.clone());
                let run = tokio::spawn(async move { load::run(&addr, &spec2, progress2).await });
                // What Redis holds for the users online, once everyone has joined.
                while progress.joined.load(std::sync::atomic::Ordering::Relaxed) < spec.clients
                    && !run.is_finished()
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                if redis.is_some() {
                    redis_joined = services.redis_figures().ok();
                }
                rss_joined = rss(&servers);
                run.await.expect("load run")
            });
            let server_cpu = cpu(&servers).zip(cpu_before).map(|(a, b)| a - b);
            let sent = (spec.senders.min(spec.clients) as u64 * spec.messages).max(1) as f64;
            let redis_after = redis.map(|_| services.redis_figures()).transpose()?;
            let commits = cluster::metric_sum(&servers, "palaver_store_commit_seconds_count")
                - commits_before;
            let gap_fills = cluster::metric_sum(&servers, "palaver_cluster_gap_fills_total");
            let redis_delta = redis_before.clone().zip(redis_after);
            let report = ClusterReport {
                nodes,
                redis_commands_per_message: redis_delta
                    .as_ref()
                    .map(|(b, a)| (a.commands - b.commands) / sent),
                redis_commands: redis_delta
                    .as_ref()
                    .map(|(b, a)| a.commands_since(b, sent))
                    .unwrap_or_default(),
                redis_cpu_us_per_message: redis_delta
                    .as_ref()
                    .map(|(b, a)| (a.cpu_seconds - b.cpu_seconds) * 1e6 / sent),
                redis_bytes_per_user: redis_before
                    .zip(redis_joined)
                    .map(|(b, j)| (j.memory - b.memory) / spec.clients.max(1) as f64),
                postgres_commits_per_message: commits / sent,
                gap_fills,
                report: Report {
                    scenario: Scenario::Cluster,
                    run,
                    server_cpu_ns_per_delivery: ns_per_delivery(server_cpu, outcome.delivered),
                    server_cpu_seconds: server_cpu,
                    bench_cpu_seconds: bench_cpu_since(bench_cpu_before),
                    server_rss_bytes: rss_joined,
                    server_rss_peak_bytes: None,
                    // Every node's memory for everyone online: its own sessions, and what it
                    // knows of the other nodes' users.
                    server_rss_bytes_per_client: rss_before
                        .zip(rss_joined)
                        .map(|(b, j)| j.saturating_sub(b) as f64 / spec.clients.max(1) as f64),
                    spec,
                    outcome,
                    fd_limit,
                },
            };
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!("{} node(s):", report.nodes);
                print_table(&report.report);
                if let Some(r) = report.redis_commands_per_message {
                    let each: Vec<String> = report
                        .redis_commands
                        .iter()
                        .take(5)
                        .map(|(name, n)| format!("{name} {n:.3}"))
                        .collect();
                    println!("  Redis commands/message {:>9.3} ({})", r, each.join(", "));
                }
                if let Some(r) = report.redis_cpu_us_per_message {
                    println!("  Redis CPU/message {:>14.2} µs", r);
                }
                if let Some(r) = report.redis_bytes_per_user {
                    println!("  Redis memory/user online {:>7.0} bytes", r);
                }
                println!(
                    "  PostgreSQL commits/message {:>5.4} (one per batch of messages)",
                    report.postgres_commits_per_message
                );
                println!("  gaps filled from PostgreSQL {:>4.0}", report.gap_fills);
                if let Some(per) = report.report.server_rss_bytes_per_client {
                    println!(
                        "  nodes' RSS/user online {:>9.0} bytes (all nodes together)",
                        per
                    );
                }
            }
            reports.push(report);
            drop(servers);
        }
    }
    if !args.json {
        let median_of = |nodes_many: bool, f: &dyn Fn(&ClusterReport) -> Option<f64>| {
            median(
                reports
                    .iter()
                    .filter(|r| (r.nodes > 1) == nodes_many)
                    .filter_map(f)
                    .collect(),
            )
        };
        let rate = |r: &ClusterReport| Some(r.report.outcome.deliveries_per_second);
        let p99 = |r: &ClusterReport| Some(r.report.outcome.latency_us_p99 as f64);
        let p50 = |r: &ClusterReport| Some(r.report.outcome.latency_us_p50 as f64);
        let cpu = |r: &ClusterReport| r.report.server_cpu_ns_per_delivery;
        println!("medians over {} run(s):", args.runs);
        for (label, many) in [("one node", false), ("cluster ", true)] {
            println!(
                "  {label}: deliveries/s {:.0}, p50 {:.0} µs, p99 {:.0} µs, server CPU/delivery {:.0} ns",
                median_of(many, &rate),
                median_of(many, &p50),
                median_of(many, &p99),
                median_of(many, &cpu),
            );
        }
        println!(
            "  cluster / one node: deliveries/s {:.2}x, server CPU/delivery {:.2}x",
            median_of(true, &rate) / median_of(false, &rate),
            median_of(true, &cpu) / median_of(false, &cpu),
        );
    }
    let failed = reports.iter().any(|r| {
        let o = &r.report.outcome;
        o.lost > 0 || o.duplicated > 0 || o.out_of_order > 0 || o.connect_errors > 0
    });
    if failed {
        eprintln!("note: some messages were lost, duplicated or out of order, or some clients could not join (see above)");
    }
    Ok(())
}
