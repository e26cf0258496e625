//! A throwaway Redis for tests and benchmarks: `redis-server` on a free loopback port, in a
//! temporary directory, with no persistence, killed when dropped; and a throwaway Redis Cluster
//! of several such servers.

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct ThrowawayRedis {
    child: Mutex<Child>,
    port: u16,
    dir: std::path::PathBuf,
}

impl ThrowawayRedis {
    /// Starts a server, or says why it cannot.
    pub fn start() -> Result<ThrowawayRedis, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let dir = std::env::temp_dir().join(format!("palaver-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let child = spawn(port, &dir)?;
        let redis = ThrowawayRedis {
            child: Mutex::new(child),
            port,
            dir,
        };
        wait_for(port)?;
        Ok(redis)
    }

    /// Stops the server (SIGKILL: whatever it held is gone, as it keeps nothing on disk) and
    /// starts a new one on the same port.
    pub fn restart(&self) -> Result<(), String> {
        let mut child = self.child.lock().map_err(|e| e.to_string())?;
        let _ = child.kill();
        let _ = child.wait();
        *child = spawn(self.port, &self.dir)?;
        drop(child);
        wait_for(self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `redis-server` on `port`, keeping nothing on disk.
fn spawn(port: u16, dir: &std::path::Path) -> Result<Child, String> {
    Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args([
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("redis-server: {e}"))
}

fn wait_for(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("redis-server did not start listening".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a test does without a Redis: skips, saying why; under `CI=true` (which installs
/// Redis) it fails instead.
fn missing<T>(test: &str, what: &str, why: String) -> Option<T> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} needs {what}, and CI=true requires it: {why}"
    );
    eprintln!("SKIPPED: {test} needs {what} (apt-get install redis-server): {why}");
    None
}

/// A Redis of the test's own (it may restart it), or `None` with a message.
pub fn own(test: &str) -> Option<ThrowawayRedis> {
    ThrowawayRedis::start()
        .or_else(|why| missing(test, "Redis (redis-server)", why).ok_or(()))
        .ok()
}

/// A Redis Cluster of `shards` shards of the test's own, or `None` with a message.
pub fn own_cluster(test: &str, shards: usize) -> Option<ThrowawayRedisCluster> {
    ThrowawayRedisCluster::start(shards)
        .or_else(|why| missing(test, "a Redis Cluster (redis-server, redis-cli)", why).ok_or(()))
        .ok()
}

/// A throwaway Redis Cluster: `shards` masters (no replicas) on free loopback ports, in one
/// temporary directory, joined with `redis-cli --cluster create`, killed when dropped.
pub struct ThrowawayRedisCluster {
    servers: Vec<(Mutex<Child>, u16)>,
    dir: std::path::PathBuf,
}

impl ThrowawayRedisCluster {
    pub fn start(shards: usize) -> Result<ThrowawayRedisCluster, String> {
        let ports: Vec<u16> = {
            let held: Vec<std::net::TcpListener> = (0..shards)
                .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?;
            held.iter()
                .map(|l| l.local_addr().map(|a| a.port()))
                .collect::<Result<_, _>>()
                .map_err(|e| e.to_string())?
        };
        let dir = std::env::temp_dir().join(format!(
            "palaver-redis-cluster-{}-{}",
            std::process::id(),
            ports[0]
        ));
        let mut cluster = ThrowawayRedisCluster {
            servers: Vec::new(),
            dir: dir.clone(),
        };
        for &port in &ports {
            let own = dir.join(port.to_string());
            std::fs::create_dir_all(&own).map_err(|e| e.to_string())?;
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                .arg("--cluster-config-file")
                .arg(own.join("nodes.conf"))
                .arg("--dir")
                .arg(&own)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("redis-server: {e}"))?;
            cluster.servers.push((Mutex::new(child), port));
            wait_for(port)?;
        }
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("redis-cli: {e}"))?;
        if !created.success() {
            return Err(format!("redis-cli --cluster create failed: {created}"));
        }
        // Every node must see the cluster as whole before it serves.
        let deadline = Instant::now() + Duration::from_secs(20);
        for &port in &ports {
            loop {
                let info = Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "cluster", "info"])
                    .output()
                    .map_err(|e| format!("redis-cli: {e}"))?;
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    break;
                }
                if Instant::now() > deadline {
                    return Err("the Redis Cluster did not come up".into());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(cluster)
    }

    /// How many times each shard has run `command` (from `INFO commandstats`).
    pub fn calls_per_shard(&self, command: &str) -> Vec<u64> {
        let needle = format!("cmdstat_{}:calls=", command.to_lowercase());
        self.servers
            .iter()
            .map(|(_, port)| {
                let out = Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "info", "commandstats"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                out.lines()
                    .find_map(|l| l.strip_prefix(needle.as_str()))
                    .and_then(|rest| rest.split(',').next())
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0)
            })
            .collect()
    }

    /// The seed nodes, as `--redis` takes them for a Redis Cluster.
    pub fn urls(&self) -> String {
        self.servers
            .iter()
            .map(|(_, port)| format!("redis://127.0.0.1:{port}/"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl Drop for ThrowawayRedisCluster {
    fn drop(&mut self) {
        for (child, _) in &self.servers {
            if let Ok(mut child) = child.lock() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
