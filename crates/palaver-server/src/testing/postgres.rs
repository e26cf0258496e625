//! A throwaway PostgreSQL for tests: its own cluster in a temporary directory, on a free
//! loopback port, stopped and deleted when dropped.
//!
//! It uses the machine's PostgreSQL programs (`initdb`, `pg_ctl`: on the `PATH`, or Debian's
//! `/usr/lib/postgresql/<version>/bin`). PostgreSQL refuses to run as root, so as root the
//! cluster belongs to the `postgres` user and its programs run through `runuser`. Where there is
//! no PostgreSQL, [`shared`] says why and the tests that need one skip, visibly; under `CI=true`
//! they fail instead, because CI installs PostgreSQL and a skip there would hide a broken test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

/// A running throwaway cluster.
pub struct ThrowawayPostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Whom the programs run as (`postgres` when we are root).
    run_as: Option<String>,
    databases: AtomicU32,
}

fn find_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
    });
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl ThrowawayPostgres {
    /// Starts a cluster for tests (`fsync=off`: fast, and a crash of the machine is not what
    /// the tests are about), or says why it cannot.
    pub fn start() -> Result<ThrowawayPostgres, String> {
        Self::start_with(false)
    }

    /// Starts a cluster that makes every commit durable (`fsync=on`), for measurements.
    pub fn start_durable() -> Result<ThrowawayPostgres, String> {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Result<ThrowawayPostgres, String> {
        let bin = find_bin().ok_or(
            "PostgreSQL's initdb and pg_ctl were not found (Debian: apt-get install postgresql)",
        )?;
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "palaver-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let run_as = is_root().then(|| "postgres".to_string());
        if let Some(user) = &run_as {
            let chown = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !chown.success() {
                return Err(format!("cannot give {} to the {user} user", dir.display()));
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let pg = ThrowawayPostgres {
            dir,
            bin,
            port,
            run_as,
            databases: AtomicU32::new(0),
        };
        let data = pg.dir.join("data");
        pg.run(
            "initdb",
            &[
                "-D",
                path(&data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
        )?;
        let fsync = if durable { "on" } else { "off" };
        let options = format!(
            "-p {port} -h 127.0.0.1 -k {} -c fsync={fsync} -c max_connections=200",
            path(&pg.dir)
        );
        let log = pg.dir.join("log");
        pg.run(
            "pg_ctl",
            &[
                "-D",
                path(&data),
                "-l",
                path(&log),
                "-o",
                &options,
                "-w",
                "start",
            ],
        )?;
        Ok(pg)
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The URL of a new, empty database of this cluster. (Callable from async tests: the
    /// blocking client runs on a thread of its own.)
    pub fn new_database(&self) -> String {
        let name = format!("t{}", self.databases.fetch_add(1, Ordering::Relaxed));
        let admin_url = self.url("postgres");
        let create = format!("CREATE DATABASE {name}");
        std::thread::spawn(move || {
            let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
                .expect("the throwaway cluster answers");
            admin.batch_execute(&create).expect("a new database");
        })
        .join()
        .expect("the database was created");
        self.url(&name)
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self.run(
            "pg_ctl",
            &["-D", path(&data), "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static CLUSTER: OnceLock<Result<Arc<ThrowawayPostgres>, String>> = OnceLock::new();

/// Stops the shared cluster when the test process exits (statics are never dropped).
extern "C" fn stop_shared_cluster() {
    if let Some(Ok(pg)) = CLUSTER.get() {
        let data = pg.dir.join("data");
        let _ = pg.run(
            "pg_ctl",
            &["-D", path(&data), "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&pg.dir);
    }
}

/// One cluster for the whole test process, started on first use and stopped when the process
/// exits; `None` (with a line on standard error saying why) when PostgreSQL is not available.
/// Under `CI=true` that panics.
pub fn shared(test: &str) -> Option<Arc<ThrowawayPostgres>> {
    let cluster = CLUSTER.get_or_init(|| {
        let started = ThrowawayPostgres::start().map(Arc::new);
        if started.is_ok() {
            // SAFETY: registers a plain function with no arguments; it runs once, at exit.
            unsafe { libc::atexit(stop_shared_cluster) };
        }
        started
    });
    match cluster {
        Ok(pg) => Some(Arc::clone(pg)),
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: PostgreSQL is required under CI=true: {why}")
        }
        Err(why) => {
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| eprintln!("SKIPPED on PostgreSQL ({test}): {why}"));
            None
        }
    }
}
