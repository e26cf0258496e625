//! The web client's logic (conversation model, commands, reconnect and resume) tested without a
//! browser: its own tests, `web/tests/*.test.mjs`, run by Node's test runner. Without Node they
//! skip with a message; under `CI=true` they fail.

use std::process::Command;

#[test]
fn the_web_clients_model_commands_and_session_pass_their_tests() {
    let web = concat!(env!("CARGO_MANIFEST_DIR"), "/web");
    let Ok(version) = Command::new("node").arg("--version").output() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "node is needed for the web client's tests (CI=true)"
        );
        eprintln!(
            "SKIPPED: the web client's logic tests need Node.js (node), which is not installed"
        );
        return;
    };
    eprintln!("node {}", String::from_utf8_lossy(&version.stdout).trim());
    let out = Command::new("node")
        .args(["--test", "tests/"])
        .current_dir(web)
        .output()
        .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert!(report.contains("# fail 0"), "{report}");
}
