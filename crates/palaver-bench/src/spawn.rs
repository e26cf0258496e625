//! `--spawn-server`: runs a `palaver-server` on a temporary database with the per-connection
//! limits lifted for load tests, and stops it when the run is over. For an IRC load it also
//! opens the server's IRC listener (`--irc-bind`) on a free port, and the load goes there; for a
//! native load the IRC listener is off (`--no-irc`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::load::Protocol;

/// The flags that lift per-connection limits for load tests (documented in docs/operations.md).
/// The outbound queues are deeper than the defaults: the unthrottled fan-out produces faster
/// than the load generator, on the same two cores, can read, and with 8,192 frames a receiver
/// that fell behind for a moment was (rightly) dropped as a slow consumer in some runs.
pub const LOAD_TEST_FLAGS: &[&str] = &[
    "--rate-per-second",
    "0",
    "--max-connections",
    "1000000",
    "--max-connections-per-ip",
    "1000000",
    "--max-new-connections-per-minute",
    "0",
    "--outbound-queue",
    "32768",
    "--outbound-queue-bytes",
    "16777216",
    "--join-timeout-secs",
    "120",
];

pub struct SpawnedServer {
    child: Child,
    /// Where the load goes: the native listener, or the IRC one for an IRC load.
    pub addr: String,
    /// The native listener (`--bind`).
    pub bind: String,
    /// The IRC listener (`--irc-bind`), for an IRC load.
    pub irc_bind: Option<String>,
    /// The HTTP listener (`--http-bind`), for a WebSocket load.
    pub http_bind: Option<String>,
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

/// Free loopback ports, distinct: all are held until all are chosen.
fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let held = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    held.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

pub fn spawn(
    explicit: Option<PathBuf>,
    extra: &[String],
    protocol: Protocol,
) -> anyhow::Result<SpawnedServer> {
    spawn_on(explicit, extra, protocol, None, false)
}

/// As [`spawn`], on `database` (a PostgreSQL URL, say) instead of a temporary SQLite file, and
/// with the HTTP listener on (for `/metrics`) when `metrics`.
pub fn spawn_on(
    explicit: Option<PathBuf>,
    extra: &[String],
    protocol: Protocol,
    database: Option<&str>,
    metrics: bool,
) -> anyhow::Result<SpawnedServer> {
    let dir = tempfile::tempdir()?;
    let ports = free_ports(3)?;
    let bind = format!("127.0.0.1:{}", ports[0]);
    let irc_bind = (protocol == Protocol::Irc).then(|| format!("127.0.0.1:{}", ports[1]));
    let http_bind =
        (protocol == Protocol::Ws || metrics).then(|| format!("127.0.0.1:{}", ports[2]));
    let binary = server_binary(explicit);
    let mut command = Command::new(&binary);
    match &irc_bind {
        Some(irc) => command.arg("--irc-bind").arg(irc),
        // Otherwise the server would open its IRC listener on the fixed default port (6667),
        // which two spawned servers (or any other IRC server here) cannot share.
        None => command.arg("--no-irc"),
    };
    // Nor its HTTP listener on 8080 (builds from before it existed do not know the flag).
    match &http_bind {
        Some(http) => {
            command.arg("--http-bind").arg(http);
        }
        None if knows_flag(&binary, "--no-http") => {
            command.arg("--no-http");
        }
        None => {}
    }
    let mut child = command
        .arg("--bind")
        .arg(&bind)
        .arg("--database")
        .arg(
            database
                .map(std::ffi::OsString::from)
                .unwrap_or_else(|| dir.path().join("bench.db").into_os_string()),
        )
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
    for addr in std::iter::once(&bind)
        .chain(irc_bind.as_ref())
        .chain(http_bind.as_ref())
    {
        while std::net::TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                anyhow::bail!(
                    "the spawned server exited ({status}) before listening on {addr}{}",
                    if irc_bind.is_some() {
                        " (an IRC load needs a palaver-server with --irc-bind)"
                    } else {
                        ""
                    }
                );
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("the spawned server did not start listening on {addr}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(SpawnedServer {
        child,
        addr: match protocol {
            Protocol::Irc => irc_bind.clone().expect("an IRC load has an IRC listener"),
            Protocol::Ws => http_bind
                .clone()
                .expect("a WebSocket load has an HTTP listener"),
            Protocol::Native => bind.clone(),
        },
        bind,
        irc_bind,
        http_bind,
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

/// Whether the server binary's `--help` lists `flag`.
fn knows_flag(binary: &std::path::Path, flag: &str) -> bool {
    Command::new(binary)
        .arg("--help")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(flag))
}
