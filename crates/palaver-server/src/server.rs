//! Starting and stopping a whole server, and the handle to control a running one.
//!
//! [`Server::start`] opens the store, binds the listener and spawns the tasks; it returns once the
//! server accepts connections (or with the error that stopped it, e.g. the port is taken).
//! [`ServerHandle`] is what a dashboard holds: announce, kick, list users, watch events, stop.
//!
//! Shutdown, in order: stop accepting; tell everyone (a `server` frame); let messages already on
//! their way through the store be stored and delivered; close every connection after its queue
//! is sent; wait for the connection tasks (up to the grace period); let the store writer commit
//! what it holds. Each step is bounded, so the whole is too.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::ServerConfig;
use crate::hub::{Hub, UserSummary};
use crate::limits::ConnectionLimiter;
use crate::listener::http::{self, HttpState};
use crate::listener::irc::ServerIdentity;
use crate::listener::{accept::accept_loop, tls, IrcSettings, ListenerContext, ListenerKind};
use crate::metrics::Metrics;
use crate::network::redis_bus::RedisBus;
use crate::network::redis_link::RedisTarget;
use crate::network::redis_names::RedisNames;
use crate::passwords::Passwords;
pub use crate::runtime::ServerEvent;
use crate::runtime::{run_hub, HubMsg, RuntimeIo};
use crate::store::accounts::Accounts;
use crate::store::{self, RoomRecord, StoreWriter};

/// Where a running server listens.
#[derive(Debug, Clone, Default)]
pub struct Addresses {
    pub native: Option<SocketAddr>,
    pub irc: Option<SocketAddr>,
    pub native_tls: Option<SocketAddr>,
    pub irc_tls: Option<SocketAddr>,
    /// The web client and WebSocket, over HTTP and HTTPS.
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    /// SHA-256 fingerprint of the TLS certificate.
    pub fingerprint: Option<String>,
}

/// A node number for this run of the server: random, never 0 (a server alone).
fn random_node_id() -> u32 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 4];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random number generator works");
    u32::from_le_bytes(bytes).max(1)
}

async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen{what} on {addr}"))
}

/// A running server.
pub struct Server {
    local_addr: SocketAddr,
    irc_addr: Option<SocketAddr>,
    addrs: Addresses,
    handle: ServerHandle,
    task: JoinHandle<()>,
}

/// Controls a running server; cheap to clone.
#[derive(Clone)]
pub struct ServerHandle {
    hub: mpsc::Sender<HubMsg>,
    stop: Arc<watch::Sender<bool>>,
    events: broadcast::Sender<ServerEvent>,
}

impl Server {
    /// Opens the store, binds, and starts serving.
    pub async fn start(config: ServerConfig) -> anyhow::Result<Server> {
        if config.redis.is_some() && !store::is_postgres(&config.database) {
            anyhow::bail!(
                "the nodes of a cluster (--redis) share one PostgreSQL database: give --database postgres://..."
            );
        }
        let database = config.database.clone();
        let (writer_db, reads, rooms, accounts, account_names, moderation, link_secret) =
            tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let mut writer_db = store::open(&database)
                    .with_context(|| format!("cannot open database {database:?}"))?;
                let link_secret = writer_db.link_secret()?;
                let mut rooms = writer_db.rooms()?;
                if !rooms.iter().any(|r| r.key == palaver_proto::DEFAULT_ROOM) {
                    let general = RoomRecord {
                        key: palaver_proto::DEFAULT_ROOM.into(),
                        name: palaver_proto::DEFAULT_ROOM.into(),
                        topic: String::new(),
                        created_ms: palaver_proto::timestamp::now_millis(),
                        last_seq: 0,
                    };
                    writer_db.save_room(&general)?;
                    rooms.push(general);
                }
                let accounts = Accounts::open(&database)
                    .with_context(|| format!("cannot open the accounts in {database:?}"))?;
                let account_names = accounts.names()?;
                let moderation = accounts.load_moderation()?;
                let reads = store::ReadPool::open(&database, store::pool::READ_CONNECTIONS)?;
                Ok((
                    writer_db,
                    reads,
                    rooms,
                    accounts,
                    account_names,
                    moderation,
                    link_secret,
                ))
            })
            .await??;

        // Every listener: (socket, protocol, TLS or not). Plain ones unless --tls-only.
        let tls = match &config.tls {
            Some(t) => {
                let (acceptor, fingerprint) = tls::load_acceptor(&t.cert, &t.key)?;
                tracing::info!(%fingerprint, "TLS certificate loaded (SHA-256 fingerprint)");
                Some((t.clone(), acceptor, fingerprint))
            }
            None => None,
        };
        let plain = !tls.as_ref().is_some_and(|(t, _, _)| t.only);
        let mut listeners = Vec::new();
        let mut addrs = Addresses::default();
        if plain {
            let l = bind(config.bind, "").await?;
            addrs.native = Some(l.local_addr()?);
            listeners.push((l, ListenerKind::Native, None));
            if let Some(addr) = config.irc_bind {
                let l = bind(addr, " for IRC").await?;
                addrs.irc = Some(l.local_addr()?);
                listeners.push((l, ListenerKind::Irc, None));
            }
        }
        // HTTP listeners: (socket, TLS or not), served by axum.
        let mut http_listeners = Vec::new();
        if plain {
            if let Some(addr) = config.http_bind {
                let l = bind(addr, " for HTTP").await?;
                addrs.http = Some(l.local_addr()?);
                http_listeners.push((l, None));
            }
        }
        if let Some((t, acceptor, _)) = &tls {
            if let Some(addr) = t.https_bind {
                let l = bind(addr, " for HTTPS").await?;
                addrs.https = Some(l.local_addr()?);
                http_listeners.push((l, Some(acceptor.clone())));
            }
        }
        if let Some((t, acceptor, fingerprint)) = &tls {
            let l = bind(t.bind, " with TLS").await?;
            addrs.native_tls = Some(l.local_addr()?);
            listeners.push((l, ListenerKind::Native, Some(acceptor.clone())));
            if let Some(addr) = t.irc_bind {
                let l = bind(addr, " for IRC with TLS").await?;
                addrs.irc_tls = Some(l.local_addr()?);
                listeners.push((l, ListenerKind::Irc, Some(acceptor.clone())));
            }
            addrs.fingerprint = Some(fingerprint.clone());
        }
        let local_addr = addrs
            .native
            .or(addrs.native_tls)
            .expect("a native listener");
        let irc_addr = addrs.irc;

        let metrics = Metrics::new();
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let writer = StoreWriter::spawn_measured(
            writer_db,
            done_tx,
            config.store_queue,
            config.store_batch_max,
            Some(Arc::clone(&metrics)),
        );
        let (hub_tx, hub_rx) = mpsc::channel(8192);
        let (events, _) = broadcast::channel(1024);
        let mut io = RuntimeIo::new(
            reads.clone(),
            hub_tx.downgrade(),
            events.clone(),
            Arc::clone(&metrics),
        );
        let accounts = Arc::new(accounts);
        io.passwords = Some(
            Passwords::start(Arc::clone(&accounts), &config.passwords)
                .context("cannot start the password hashing threads")?,
        );
        io.store_moderation_in(accounts)
            .context("cannot start the moderation writer")?;
        let mut hub_config = config.hub.clone();
        if let Some(url) = &config.redis {
            // A node of a cluster: names are claimed in Redis, under this node's number (fresh
            // at every start, so a restarted node never mistakes its old sessions for new ones).
            let target = RedisTarget::parse(url)?;
            let redis = target.connect().await?;
            hub_config.node = random_node_id();
            // When Redis comes back (it may have lost everything), the names are set again.
            let renew_names = Arc::new(tokio::sync::Notify::new());
            io.names = Box::new(RedisNames::new(
                redis.clone(),
                hub_config.node,
                config.redis_lease,
                hub_tx.downgrade(),
                Arc::clone(&renew_names),
            ));
            hub_config.clustered = true;
            io.bus = Some(RedisBus::start(
                target,
                redis,
                hub_config.node,
                hub_tx.downgrade(),
                renew_names,
            ));
            tracing::info!(
                node = hub_config.node,
                name = config.node_name.as_deref().unwrap_or(""),
                "cluster node: names, presence, changes and messages are shared through Redis"
            );
        }
        // Files, when there is an HTTP listener to take them.
        let files = match (addrs.http.or(addrs.https), config.files.max_bytes) {
            (Some(_), max) if max > 0 => Some(Arc::new(open_files(&config, &link_secret)?)),
            _ => None,
        };
        io.files = files.clone();
        let mut hub = Hub::new(hub_config, rooms);
        let http_base = files.as_ref().map(|_| {
            let (scheme, http) = match (addrs.http, addrs.https) {
                (Some(http), _) => ("http", http),
                (None, Some(https)) => ("https", https),
                (None, None) => unreachable!("files need an HTTP listener"),
            };
            config
                .public_url
                .clone()
                .unwrap_or_else(|| format!("{scheme}://{http}"))
        });
        if let Some(f) = &files {
            hub.enable_files(crate::hub::uploads::FileGrants {
                limits: f.limits.clone(),
                signer: Arc::new(crate::files::Signer::new(link_secret.as_bytes())),
                http_base: http_base.clone(),
            });
            tokio::spawn(crate::files::retention::run(
                Arc::clone(f),
                reads.clone(),
                hub_tx.downgrade(),
            ));
        }
        hub.load_accounts(account_names);
        let mut moderation = moderation;
        moderation.admins.extend(config.admins.iter().cloned());
        hub.load_moderation(moderation);
        let hub_task = tokio::spawn(run_hub(
            hub,
            io,
            hub_rx,
            done_rx,
            writer.sender(),
            config.shutdown_grace,
        ));

        let ctx = Arc::new(ListenerContext {
            hub: hub_tx.clone(),
            limiter: ConnectionLimiter::with_arrival_limit(
                config.max_connections,
                config.max_connections_per_ip,
                config.max_new_connections_per_minute,
            ),
            next_session: AtomicU64::new(1),
            max_frame_bytes: config.hub.max_frame_bytes,
            rate_per_second: config.hub.rate_per_second,
            rate_burst: config.hub.rate_burst,
            flood_disconnect_after: config.flood_disconnect_after,
            outbound_queue: config.outbound_queue,
            outbound_queue_bytes: config.outbound_queue_bytes,
            join_timeout: config.join_timeout,
            ping_interval: config.ping_interval,
            irc: IrcSettings {
                identity: Arc::new(ServerIdentity {
                    name: config.server_name.clone(),
                    network: config.network_name.clone(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    created: palaver_proto::timestamp::format_millis(
                        palaver_proto::timestamp::now_millis(),
                    ),
                    motd: config.motd.clone(),
                    max_message_bytes: config.hub.max_message_bytes,
                    max_topic_bytes: config.hub.max_topic_bytes,
                    max_rooms_per_user: config.hub.max_rooms_per_user,
                    history_page_max: config.hub.history_page_max,
                    password: config.irc_password.clone(),
                    http_base,
                }),
                ping_interval: config.irc_ping_interval,
            },
            metrics,
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
        let mut accept_tasks: Vec<_> = listeners
            .into_iter()
            .map(|(listener, kind, tls)| {
                tokio::spawn(accept_loop(
                    listener,
                    kind,
                    tls,
                    Arc::clone(&ctx),
                    stop_rx.clone(),
                    alive_tx.clone(),
                ))
            })
            .collect();
        let http_state = Arc::new(HttpState {
            ctx: Arc::clone(&ctx),
            allowed_origins: config.allowed_origins.clone(),
            reads,
            alive: alive_tx.clone(),
            store: writer.sender().downgrade(),
            files,
        });
        for (listener, tls) in http_listeners {
            let (state, stop) = (Arc::clone(&http_state), stop_rx.clone());
            accept_tasks.push(match tls {
                None => tokio::spawn(http::serve(listener, state, stop)),
                Some(acceptor) => {
                    let listener =
                        http::tls::TlsListener::new(listener, acceptor, config.join_timeout)?;
                    tokio::spawn(http::serve(listener, state, stop))
                }
            });
        }
        drop(http_state);
        drop(alive_tx);
        let accept_task = async move {
            for task in accept_tasks {
                let _ = task.await;
            }
        };
        tracing::info!(
            address = %local_addr,
            native = ?addrs.native,
            irc = ?addrs.irc,
            native_tls = ?addrs.native_tls,
            irc_tls = ?addrs.irc_tls,
            http = ?addrs.http,
            https = ?addrs.https,
            database = %config.database,
            "palaver server listening"
        );
        if let Some(http) = addrs.http.or(addrs.https) {
            let scheme = if addrs.http.is_some() {
                "http"
            } else {
                "https"
            };
            tracing::info!("web client: open {scheme}://{http}/ in a browser");
        }

        let handle = ServerHandle {
            hub: hub_tx,
            stop: Arc::new(stop_tx),
            events,
        };
        let supervisor_hub = handle.hub.clone();
        let grace = config.shutdown_grace;
        let mut stop_rx = stop_rx;
        let task = tokio::spawn(async move {
            let _ = stop_rx.wait_for(|s| *s).await;
            tracing::info!("shutting down");
            accept_task.await;
            let (reply, replied) = oneshot::channel();
            if supervisor_hub.send(HubMsg::Shutdown(reply)).await.is_ok() {
                let _ = replied.await;
            }
            drop(supervisor_hub);
            // Every connection task ends once its queue is sent (or the grace period is over).
            let _ = tokio::time::timeout(grace + Duration::from_secs(1), alive_rx.recv()).await;
            let _ = hub_task.await;
            let _ = tokio::task::spawn_blocking(move || writer.finish()).await;
            tracing::info!("shutdown complete");
        });
        Ok(Server {
            local_addr,
            irc_addr,
            addrs,
            handle,
            task,
        })
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where the IRC listener listens, if it is on.
    pub fn irc_addr(&self) -> Option<SocketAddr> {
        self.irc_addr
    }

    /// Every address the server listens on, and its certificate's fingerprint.
    pub fn addresses(&self) -> &Addresses {
        &self.addrs
    }

    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Waits until the server has stopped (after [`ServerHandle::shutdown`]).
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn shutdown(self) {
        self.handle.shutdown();
        self.wait().await;
    }
}

impl ServerHandle {
    /// Sends a `server` announcement to everyone.
    pub async fn announce(&self, message: impl Into<String>) {
        let _ = self.hub.send(HubMsg::Announce(message.into())).await;
    }

    /// Removes a user. Returns false if nobody of that name is online.
    pub async fn kick(&self, username: &str, reason: &str) -> bool {
        let (reply, answer) = oneshot::channel();
        let msg = HubMsg::Kick {
            username: username.to_string(),
            reason: reason.to_string(),
            reply,
        };
        if self.hub.send(msg).await.is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// Bans a name (for `minutes`, or until lifted): stored, and whoever uses it leaves now.
    pub async fn ban(&self, username: &str, minutes: Option<u64>, reason: &str) {
        let _ = self
            .hub
            .send(HubMsg::Ban {
                username: username.to_string(),
                minutes,
                reason: reason.to_string(),
            })
            .await;
    }

    /// Everyone joined, sorted by name (empty once the server has stopped).
    pub async fn users(&self) -> Vec<UserSummary> {
        let (reply, answer) = oneshot::channel();
        if self.hub.send(HubMsg::Users(reply)).await.is_err() {
            return Vec::new();
        }
        answer.await.unwrap_or_default()
    }

    /// Connections, joins, messages and announcements as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<ServerEvent> {
        self.events.subscribe()
    }

    /// Starts a graceful shutdown; [`Server::wait`] tells when it is done.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

/// Files' storage: on disk beside a SQLite database (or in `--files-dir`), in the database
/// itself for PostgreSQL (every node of a cluster reaches it).
fn open_files(config: &ServerConfig, secret: &str) -> anyhow::Result<crate::files::Files> {
    use crate::files::blobs::{Blobs, DiskBlobs, PostgresBlobs};
    let (blobs, temp_dir): (Arc<dyn Blobs>, std::path::PathBuf) =
        if store::is_postgres(&config.database) {
            (
                Arc::new(PostgresBlobs::new(&config.database)),
                std::env::temp_dir(),
            )
        } else {
            let dir = config.files_dir.clone().unwrap_or_else(|| {
                let db = config
                    .database
                    .strip_prefix("sqlite://")
                    .unwrap_or(&config.database);
                std::path::PathBuf::from(format!("{db}.files"))
            });
            let blobs = DiskBlobs::open(&dir)
                .with_context(|| format!("cannot use {} for files", dir.display()))?;
            let temp = dir.join("incoming");
            std::fs::create_dir_all(&temp)
                .with_context(|| format!("cannot use {} for uploads", temp.display()))?;
            (Arc::new(blobs), temp)
        };
    Ok(crate::files::Files {
        limits: config.files.clone(),
        signer: crate::files::Signer::new(secret.as_bytes()),
        blobs,
        temp_dir,
    })
}
