//! A cluster for one test: its own Redis, one PostgreSQL database, and nodes that start and
//! stop (in this process, or as processes of their own to kill with SIGKILL).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use palaver_client::proto::{ClientFrame, ErrorCode, ServerFrame};
use palaver_client::{Connection, ConnectionError};
use palaver_server::testing::postgres::ThrowawayPostgres;
use palaver_server::testing::redis::{ThrowawayRedis, ThrowawayRedisCluster};

use crate::harness::*;

pub struct Cluster {
    /// The Redis of the test (absent on a Redis Cluster).
    pub redis: Option<ThrowawayRedis>,
    pub redis_cluster: Option<ThrowawayRedisCluster>,
    /// What the nodes get as `--redis`.
    pub redis_url: String,
    pub database: String,
    pub nodes: Vec<TestServer>,
    /// The nodes' `--redis-lease-secs`, when a test shortens it.
    pub lease: Option<Duration>,
    _postgres: Arc<ThrowawayPostgres>,
}

impl Cluster {
    /// `n` nodes, each with its TCP, IRC and HTTP (WebSocket) listeners, on a Redis of the
    /// test's own.
    pub async fn start(n: usize) -> Option<Cluster> {
        let redis = palaver_server::testing::redis::own("the cluster tests")?;
        Self::on(redis.url(), Some(redis), None, n).await
    }

    /// `n` nodes on a Redis Cluster of three shards (sharded channels).
    pub async fn start_sharded(n: usize) -> Option<Cluster> {
        let redis = palaver_server::testing::redis::own_cluster("the Redis Cluster tests", 3)?;
        Self::on(redis.urls(), None, Some(redis), n).await
    }

    async fn on(
        redis_url: String,
        redis: Option<ThrowawayRedis>,
        redis_cluster: Option<ThrowawayRedisCluster>,
        n: usize,
    ) -> Option<Cluster> {
        let postgres = palaver_server::testing::shared("the cluster tests")?;
        let mut cluster = Cluster {
            redis_url,
            redis,
            redis_cluster,
            database: postgres.new_database(),
            nodes: Vec::new(),
            lease: None,
            _postgres: postgres,
        };
        for _ in 0..n {
            cluster.add_node().await;
        }
        Some(cluster)
    }

    /// Starts one more node; its index.
    pub async fn add_node(&mut self) -> usize {
        let (database, redis, lease) = (self.database.clone(), self.redis_url.clone(), self.lease);
        let node = TestServer::start_with(move |c| {
            c.database = database;
            c.redis = Some(redis);
            if let Some(lease) = lease {
                c.redis_lease = lease;
            }
            c.admins = vec!["clusterroot".into()];
            c.irc_bind = Some("127.0.0.1:0".parse().unwrap());
            c.http_bind = Some("127.0.0.1:0".parse().unwrap());
        })
        .await;
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    pub fn addr(&self, node: usize) -> SocketAddr {
        self.nodes[node].server.local_addr()
    }

    pub fn irc(&self, node: usize) -> SocketAddr {
        self.nodes[node].irc_addr()
    }

    pub fn http(&self, node: usize) -> SocketAddr {
        self.nodes[node]
            .server
            .addresses()
            .http
            .expect("HTTP is on")
    }

    /// The flags for a node run as a process of its own (see [`ServerProcess`]).
    pub fn process_flags(&self) -> Vec<String> {
        vec!["--redis".into(), self.redis_url.clone()]
    }

    /// Joins as `name` on node `node`.
    pub async fn join(&self, node: usize, name: &str) -> Connection {
        let (conn, welcome) = Connection::join(self.addr(node), name)
            .await
            .unwrap_or_else(|e| panic!("{name} joins node {node}: {e:?}"));
        assert_eq!(welcome.username, name);
        conn
    }
}

/// Joins as `name` on a new connection to `addr`: the connection, or the refusal's code.
pub async fn try_join(addr: SocketAddr, name: &str) -> Result<Connection, ErrorCode> {
    let mut conn = Connection::connect(addr).await.unwrap();
    match conn.join_as(join(name)).await {
        Ok(_) => Ok(conn),
        Err(ConnectionError::Refused { code, .. }) => Err(code),
        Err(other) => panic!("joining as {name}: {other:?}"),
    }
}

pub fn join(name: &str) -> ClientFrame {
    ClientFrame::Join {
        username: name.into(),
        since: None,
        rooms: None,
        resume_token: None,
    }
}

/// Asks for the members of a room (or everyone online) until `check` holds, failing after
/// [`WAIT`]: what other nodes tell arrives a moment later.
pub async fn eventually_users(
    conn: &mut Connection,
    room: Option<&str>,
    what: &str,
    check: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        conn.send(&ClientFrame::Users {
            room: room.map(str::to_string),
        })
        .await
        .unwrap();
        let frame = expect(conn, "users", |f| matches!(f, ServerFrame::Users { .. })).await;
        let ServerFrame::Users { users, .. } = frame else {
            unreachable!()
        };
        if check(&users) {
            return users;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: still {users:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A TCP relay to a server (PostgreSQL, say) that a test can cut, as a network would: every
/// relayed connection drops and new ones are closed at once, until it is mended.
pub struct Relay {
    pub addr: SocketAddr,
    open: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    pub async fn start(target: SocketAddr) -> Relay {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (o, l) = (Arc::clone(&open), Arc::clone(&links));
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !o.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                l.lock().unwrap().push(link);
            }
        });
        Relay {
            addr,
            open,
            links,
            accept,
        }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    pub fn mend(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
