//! The bench end to end: it spawns a real server, runs a small load and reports a clean run.

use std::path::PathBuf;
use std::process::Command;

/// The bench and the palaver-server beside it, or `None` (skip) outside CI when the server is
/// not built.
fn bench_and_server() -> Option<PathBuf> {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_palaver-bench"));
    let server = bench.with_file_name("palaver-server");
    if !server.exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{} is missing: `cargo test --workspace` builds it",
                server.display()
            );
        }
        eprintln!("SKIPPED: build palaver-server first (cargo build -p palaver-server)");
        return None;
    }
    Some(bench)
}

#[test]
fn a_small_custom_run_reports_every_message_delivered_once() {
    let Some(bench) = bench_and_server() else {
        return;
    };
    let out = Command::new(&bench)
        .args([
            "custom",
            "--spawn-server",
            "--clients",
            "20",
            "--rooms",
            "2",
            "--senders",
            "4",
            "--messages",
            "50",
            "--rate",
            "200",
            "--json",
            "--timeout",
            "60",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["clients_joined"], 20);
    // 4 senders spread over 2 rooms of 10: every client gets 2 senders x 50 messages.
    assert_eq!(report["expected"], 20 * 2 * 50);
    assert_eq!(report["delivered"], report["expected"]);
    assert_eq!(report["lost"], 0);
    assert_eq!(report["duplicated"], 0);
    assert_eq!(report["out_of_order"], 0);
    assert!(report["latency_us_p99"].as_u64().unwrap() > 0);
    assert!(
        report["server_cpu_seconds"].as_f64().is_some(),
        "reads the spawned server's CPU"
    );
}

#[test]
fn a_small_irc_fanout_through_palavers_irc_listener_reports_every_message_delivered_once() {
    let Some(bench) = bench_and_server() else {
        return;
    };
    // --spawn-server with --protocol irc opens the server's IRC listener (--irc-bind) on a free
    // port and registers, joins and sends over IRC.
    let out = Command::new(&bench)
        .args([
            "custom",
            "--protocol",
            "irc",
            "--spawn-server",
            "--clients",
            "20",
            "--rooms",
            "2",
            "--senders",
            "4",
            "--messages",
            "50",
            "--rate",
            "200",
            "--json",
            "--timeout",
            "60",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["spec"]["protocol"], "irc");
    assert_eq!(report["clients_joined"], 20, "{report}");
    // 4 senders spread over 2 channels of 10: each channel has 2 senders; IRC does not echo a
    // message to its sender, so each sender gets the other one's 50 and everyone else 2 x 50.
    assert_eq!(report["expected"], (16 * 2 * 50 + 4 * 50), "{report}");
    assert_eq!(report["delivered"], report["expected"], "{report}");
    assert_eq!(report["lost"], 0);
    assert_eq!(report["duplicated"], 0);
    assert_eq!(report["out_of_order"], 0);
    assert_eq!(report["timed_out"], false, "{report}");
    assert!(report["latency_us_p99"].as_u64().unwrap() > 0);
}
