//! The bench end to end: it spawns a real server, runs a small load and reports a clean run.

use std::process::Command;

#[test]
fn a_small_custom_run_reports_every_message_delivered_once() {
    let bench = std::path::PathBuf::from(env!("CARGO_BIN_EXE_palaver-bench"));
    let server = bench.with_file_name("palaver-server");
    if !server.exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{} is missing: `cargo test --workspace` builds it",
                server.display()
            );
        }
        eprintln!("SKIPPED: build palaver-server first (cargo build -p palaver-server)");
        return;
    }
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
