//! `--spawn-server`: runs a `palaver-server` on a temporary database with the per-connection
//! limits lifted for load tests, and stops it when the run is over.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// The flags that lift per-connection limits for load tests (documented in docs/operations.md).
pub const LOAD_TEST_FLAGS: &[&str] = &[
    "--rate-per-second",
    "0",
    "--max-connections",
    "1000000",
    "--max-connections-per-ip",
    "1000000",
    "--outbound-queue",
    "8192",
    "--join-timeout-secs",
    "120",
];

pub struct SpawnedServer {
    child: Child,
    pub addr: String,
    pub pid: u32,
    _dir: tempfile::TempDir,
}

/// Finds `palaver-server`: the given path, else beside this executable, else on the PATH.
fn server_binary(explicit: Option<PathBuf>) -> PathBuf {
    if let Some(path) = explicit {
        return path;
    }
    if let Ok(me) = std::env::current_exe() {
        let sibling = me.with_file_name("palaver-server");
        if sibling.exists() {
            return sibling;
        }
    }
    PathBuf::from("palaver-server")
}

pub fn spawn(explicit: Option<PathBuf>, extra: &[String]) -> anyhow::Result<SpawnedServer> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let binary = server_binary(explicit);
    let child = Command::new(&binary)
        .arg("--bind")
        .arg(&addr)
        .arg("--database")
        .arg(dir.path().join("bench.db"))
        .args(["--no-stdin", "--log-level", "warn"])
        .args(LOAD_TEST_FLAGS)
        .args(extra)
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| {
            format!(
                "cannot start {} (build it with `cargo build --release -p palaver-server`)",
                binary.display()
            )
        })?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the spawned server did not start listening on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(SpawnedServer {
        child,
        addr,
        pid,
        _dir: dir,
    })
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
