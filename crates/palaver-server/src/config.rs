//! Configuration: command-line flags, each also read from a `PALAVER_*` environment variable,
//! and an optional TOML file (`--config`). A flag or variable beats the file; the file beats the
//! built-in default. Defaults are safe: listen on loopback only, SQLite file in the working
//! directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use crate::hub::HubConfig;
use crate::passwords::{PasswordConfig, ThrottleConfig, WorkersConfig};

/// Everything the server needs to run, resolved.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// Where the IRC listener listens; `None` turns it off.
    pub irc_bind: Option<SocketAddr>,
    /// Where the HTTP listener (web client, WebSocket) listens; `None` turns it off.
    pub http_bind: Option<SocketAddr>,
    /// Origins whose pages may open a WebSocket, besides the server's own (`*`: any).
    pub allowed_origins: Vec<String>,
    /// The server's name as IRC clients see it (the source of numerics).
    pub server_name: String,
    /// The IRC network name (ISUPPORT NETWORK).
    pub network_name: String,
    /// Lines of the message of the day, shown to IRC clients.
    pub motd: Vec<String>,
    /// The server password IRC clients must give with PASS before registering.
    pub irc_password: Option<String>,
    /// IRC connections silent this long get a PING; as long again without an answer, they are
    /// closed.
    pub irc_ping_interval: Duration,
    /// The same for native connections (a `ping` frame, answered by `pong`).
    pub ping_interval: Duration,
    /// TLS listeners, when a certificate is configured.
    pub tls: Option<TlsConfig>,
    /// Accounts that are admins (besides those stored with `admin add`).
    pub admins: Vec<String>,
    /// A SQLite file path, or a `postgres://` URL.
    pub database: String,
    /// Redis, shared by the nodes of a cluster (`redis://host:port`); `None`: a server alone.
    pub redis: Option<String>,
    /// This node's name in the logs of a cluster.
    pub node_name: Option<String>,
    /// How long a cluster node's names outlive its last word to Redis (a dead node's names come
    /// free after this).
    pub redis_lease: Duration,
    pub hub: HubConfig,
    /// Disconnect after this many rate-limited frames in a row.
    pub flood_disconnect_after: u32,
    /// Frames queued per connection before it counts as a slow consumer.
    pub outbound_queue: usize,
    /// Bytes queued per connection before it counts as a slow consumer.
    pub outbound_queue_bytes: usize,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// New connections per minute from one address; 0 = no limit.
    pub max_new_connections_per_minute: u32,
    pub join_timeout: Duration,
    /// Operations waiting for the store writer before senders are slowed down.
    pub store_queue: usize,
    /// The most messages one store transaction holds.
    pub store_batch_max: usize,
    /// How long shutdown waits for queued frames to reach clients.
    pub shutdown_grace: Duration,
    /// How often passwords may be tried, and how many are hashed at once.
    pub passwords: PasswordConfig,
    /// Files: the limits (size, quota, rate, retention).
    pub files: crate::files::FileLimits,
    /// Where a single node keeps files' bytes (default: `<database>.files` beside a SQLite
    /// database; a PostgreSQL database keeps them itself).
    pub files_dir: Option<std::path::PathBuf>,
    /// The HTTP listener as clients outside a browser reach it (`http://chat.example.org:8080`);
    /// default: `http://` and `--http-bind`.
    pub public_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:7878".parse().expect("valid default address"),
            // Off in the library default (tests and embedded servers opt in); the binary's
            // default is 127.0.0.1:6667.
            irc_bind: None,
            // Off in the library default too; the binary's default is 127.0.0.1:8080.
            http_bind: None,
            allowed_origins: Vec::new(),
            server_name: "palaver".into(),
            network_name: "Palaver".into(),
            irc_password: None,
            motd: vec![
                "Welcome to Palaver: the same rooms for IRC and the Palaver apps.".into(),
                "Channels are rooms: /join #general to talk with everyone.".into(),
            ],
            irc_ping_interval: Duration::from_secs(120),
            ping_interval: Duration::from_secs(60),
            tls: None,
            admins: Vec::new(),
            database: "palaver.db".into(),
            redis: None,
            node_name: None,
            redis_lease: Duration::from_secs(30),
            hub: HubConfig::default(),
            flood_disconnect_after: 30,
            outbound_queue: 1024,
            outbound_queue_bytes: 4 * 1024 * 1024,
            max_connections: 10_000,
            max_connections_per_ip: 100,
            max_new_connections_per_minute: 60,
            join_timeout: Duration::from_secs(10),
            store_queue: 65_536,
            store_batch_max: 4_096,
            shutdown_grace: Duration::from_secs(3),
            passwords: PasswordConfig::default(),
            files: crate::files::FileLimits::default(),
            files_dir: None,
            public_url: None,
        }
    }
}

/// The TLS side of the server.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The native protocol over TLS.
    pub bind: SocketAddr,
    /// IRC over TLS (when the IRC listener is on).
    pub irc_bind: Option<SocketAddr>,
    /// HTTPS (when the HTTP listener is on).
    pub https_bind: Option<SocketAddr>,
    /// No plain-text listeners at all.
    pub only: bool,
}

/// `palaver-server` subcommands (none runs the server).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Write a self-signed certificate and key for a first run, and print its fingerprint.
    GenCert {
        /// Where to write the certificate.
        #[arg(long, default_value = "palaver-cert.pem")]
        cert: PathBuf,
        /// Where to write the private key.
        #[arg(long, default_value = "palaver-key.pem")]
        key: PathBuf,
        /// Host names and addresses the certificate is for (repeatable).
        #[arg(long = "name", default_values = ["localhost", "127.0.0.1"])]
        names: Vec<String>,
    },
    /// Admins: `palaver-server admin add NAME`.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Copy a SQLite database to an empty PostgreSQL one: history with ids and seqs, rooms,
    /// accounts with their password hashes, admins, moderators, bans. Counts are checked.
    Migrate {
        /// The SQLite file.
        #[arg(long, value_name = "PATH")]
        from: String,
        /// The PostgreSQL database: postgres://user:password@host:port/database (empty).
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Accounts: `palaver-server account add NAME` (the password is read from standard input).
    Account {
        #[command(subcommand)]
        action: AccountAction,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AdminAction {
    /// Make an account an admin (stored in the database; effective when they log in).
    Add {
        /// The account's name.
        name: String,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AccountAction {
    /// Create an account; the password is one line of standard input.
    Add {
        /// The name to register.
        name: String,
    },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `palaver-server` flags. Every flag may also be set in the TOML file under the same name with
/// underscores (`max_connections_per_ip = 20`).
#[derive(Debug, Clone, Default, Parser, Deserialize)]
#[command(
    name = "palaver-server",
    version,
    about = "Palaver chat server: JSON lines over TCP, rooms, private messages, history in SQLite.",
    after_help = "Lines typed on standard input are sent to everyone as server announcements; \
                  /users lists who is online, /kick NAME [REASON] removes someone, /shutdown stops the server."
)]
#[serde(default, deny_unknown_fields)]
pub struct Args {
    #[command(subcommand)]
    #[serde(skip)]
    pub command: Option<Command>,

    /// TOML file with any of these settings (flags and environment variables take precedence).
    #[arg(long, env = "PALAVER_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address and port to listen on [default: 127.0.0.1:7878].
    #[arg(long, env = "PALAVER_BIND", value_name = "ADDR:PORT")]
    pub bind: Option<String>,

    /// Address and port of the IRC listener [default: 127.0.0.1:6667].
    #[arg(long, env = "PALAVER_IRC_BIND", value_name = "ADDR:PORT")]
    pub irc_bind: Option<String>,

    /// Turn the IRC listener off.
    #[arg(long, env = "PALAVER_NO_IRC")]
    pub no_irc: bool,

    /// Redis shared by the nodes of a cluster (`redis://host:port`; several URLs separated by
    /// commas: a Redis Cluster's seed nodes). See docs/cluster.md.
    #[arg(long, env = "PALAVER_REDIS", value_name = "URL")]
    pub redis: Option<String>,

    /// Seconds a cluster node's names outlive its last word to Redis: a dead node's names come
    /// free after this [default: 30].
    #[arg(long, env = "PALAVER_REDIS_LEASE_SECS", value_name = "SECS")]
    pub redis_lease_secs: Option<u64>,

    /// This node's name, for the logs of a cluster [default: the host name].
    #[arg(long, env = "PALAVER_NODE_NAME", value_name = "NAME")]
    pub node_name: Option<String>,

    /// Address and port of the HTTP listener: the web client and WebSocket [default:
    /// 127.0.0.1:8080].
    #[arg(long, env = "PALAVER_HTTP_BIND", value_name = "ADDR:PORT")]
    pub http_bind: Option<String>,

    /// Turn the HTTP listener (web client, WebSocket) off.
    #[arg(long, env = "PALAVER_NO_HTTP")]
    pub no_http: bool,

    /// Address of HTTPS, when a certificate is given [default: 127.0.0.1:8443].
    #[arg(long, env = "PALAVER_HTTPS_BIND", value_name = "ADDR:PORT")]
    pub https_bind: Option<String>,

    /// Origins (scheme://host[:port]) whose pages may open a WebSocket here, besides the
    /// server's own pages (repeatable or comma-separated; `*` allows any) [default: none].
    #[arg(
        long = "allowed-origins",
        env = "PALAVER_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    #[serde(default)]
    pub allowed_origins: Vec<String>,

    /// The server's name as IRC clients see it [default: palaver].
    #[arg(long, env = "PALAVER_SERVER_NAME", value_name = "NAME")]
    pub server_name: Option<String>,

    /// The network name IRC clients see [default: Palaver].
    #[arg(long, env = "PALAVER_NETWORK_NAME", value_name = "NAME")]
    pub network_name: Option<String>,

    /// A text file whose lines are the message of the day for IRC clients.
    #[arg(long, env = "PALAVER_MOTD_FILE", value_name = "FILE")]
    pub motd_file: Option<PathBuf>,

    /// A password IRC clients must give (PASS) to connect, as on a private IRC server. Native and
    /// web clients are not asked for it: their users log in to accounts.
    #[arg(long, env = "PALAVER_IRC_PASSWORD", value_name = "PASSWORD")]
    pub irc_password: Option<String>,

    /// Seconds of silence before an IRC client is pinged; as long again unanswered closes the
    /// link [default: 120].
    #[arg(long, env = "PALAVER_IRC_PING_SECS", value_name = "SECS")]
    pub irc_ping_secs: Option<u64>,

    /// Seconds of silence before a native client is sent a `ping`; as long again without a word
    /// closes the connection (ping_timeout) [default: 60].
    #[arg(long, env = "PALAVER_PING_SECS", value_name = "SECS")]
    pub ping_secs: Option<u64>,

    /// PEM certificate (chain) for the TLS listeners; with --tls-key turns TLS on.
    #[arg(long, env = "PALAVER_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "PALAVER_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

    /// Address of the native protocol over TLS [default: 127.0.0.1:7879].
    #[arg(long, env = "PALAVER_TLS_BIND", value_name = "ADDR:PORT")]
    pub tls_bind: Option<String>,

    /// Address of IRC over TLS [default: 127.0.0.1:6697].
    #[arg(long, env = "PALAVER_IRC_TLS_BIND", value_name = "ADDR:PORT")]
    pub irc_tls_bind: Option<String>,

    /// Only people with an account may join (accounts: `palaver-server account add NAME`, or
    /// `register` while this is off).
    #[arg(long, env = "PALAVER_REQUIRE_ACCOUNT")]
    pub require_account: bool,

    /// The fewest characters a new password may have [default: 8].
    #[arg(long, env = "PALAVER_MIN_PASSWORD_LENGTH", value_name = "N")]
    pub min_password_length: Option<usize>,

    /// An account that is an admin (repeatable; in the file: `admin = ["alice"]`). Admins must
    /// log in to their account for it to count.
    #[arg(
        long = "admin",
        env = "PALAVER_ADMINS",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    #[serde(default)]
    pub admin: Vec<String>,

    /// Only the TLS listeners: no plain-text port at all.
    #[arg(long, env = "PALAVER_TLS_ONLY")]
    pub tls_only: bool,

    /// Where history, rooms and accounts live: a SQLite file, or a PostgreSQL server as
    /// postgres://user:password@host:port/database [default: palaver.db].
    #[arg(long, env = "PALAVER_DATABASE", value_name = "PATH")]
    pub database: Option<String>,

    /// Longest line a client may send, in bytes [default: 16384].
    #[arg(long, env = "PALAVER_MAX_FRAME_BYTES", value_name = "BYTES")]
    pub max_frame_bytes: Option<usize>,

    /// Longest message content, in bytes of UTF-8 [default: 4096].
    #[arg(long, env = "PALAVER_MAX_MESSAGE_BYTES", value_name = "BYTES")]
    pub max_message_bytes: Option<usize>,

    /// Frames per second each connection may send on average; 0 disables the limit [default: 5].
    #[arg(long, env = "PALAVER_RATE_PER_SECOND", value_name = "N")]
    pub rate_per_second: Option<f64>,

    /// Frames a connection may send in a burst before the rate applies [default: 10].
    #[arg(long, env = "PALAVER_RATE_BURST", value_name = "N")]
    pub rate_burst: Option<u32>,

    /// Disconnect a client after this many rate-limited frames in a row [default: 30].
    #[arg(long, env = "PALAVER_FLOOD_DISCONNECT_AFTER", value_name = "N")]
    pub flood_disconnect_after: Option<u32>,

    /// Frames queued for one client before it is disconnected as too slow [default: 1024].
    #[arg(long, env = "PALAVER_OUTBOUND_QUEUE", value_name = "FRAMES")]
    pub outbound_queue: Option<usize>,

    /// Bytes queued for one client before it is disconnected as too slow [default: 4194304].
    #[arg(long, env = "PALAVER_OUTBOUND_QUEUE_BYTES", value_name = "BYTES")]
    pub outbound_queue_bytes: Option<usize>,

    /// Most connections in total [default: 10000].
    #[arg(long, env = "PALAVER_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// Most connections from one IP address [default: 100].
    #[arg(long, env = "PALAVER_MAX_CONNECTIONS_PER_IP", value_name = "N")]
    pub max_connections_per_ip: Option<usize>,

    /// New connections per minute from one address, 0 for no limit [default: 60].
    #[arg(long, env = "PALAVER_MAX_NEW_CONNECTIONS_PER_MINUTE", value_name = "N")]
    pub max_new_connections_per_minute: Option<u32>,

    /// Threads that hash passwords, each holding 19 MiB while it works; 0 for half the cores
    /// [default: 0].
    #[arg(long, env = "PALAVER_PASSWORD_WORKERS", value_name = "N")]
    pub password_workers: Option<usize>,

    /// Password checks that may wait for a hashing thread; more are refused with server_busy
    /// [default: 64].
    #[arg(long, env = "PALAVER_PASSWORD_QUEUE", value_name = "N")]
    pub password_queue: Option<usize>,

    /// Password attempts (login, register, change) per minute from one address (IPv6: one /64),
    /// 0 for no limit [default: 10].
    #[arg(long, env = "PALAVER_PASSWORD_ATTEMPTS_PER_ADDRESS", value_name = "N")]
    pub password_attempts_per_address: Option<u32>,

    /// Password attempts per minute for one account, from anywhere (login, SASL, OPER), 0 for
    /// no limit (a test setup; not for a server on a network) [default: 3].
    #[arg(long, env = "PALAVER_PASSWORD_ATTEMPTS_PER_ACCOUNT", value_name = "N")]
    pub password_attempts_per_account: Option<u32>,

    /// The largest file people may send, in bytes; 0 turns files off [default: 26214400, 25 MiB].
    #[arg(long, env = "PALAVER_MAX_UPLOAD_BYTES", value_name = "BYTES")]
    pub max_upload_bytes: Option<u64>,

    /// What one account (or guest) may keep in files, in bytes [default: 1073741824, 1 GiB].
    #[arg(long, env = "PALAVER_UPLOAD_QUOTA_BYTES", value_name = "BYTES")]
    pub upload_quota_bytes: Option<u64>,

    /// Uploads one connection may start per minute [default: 10].
    #[arg(long, env = "PALAVER_UPLOADS_PER_MINUTE", value_name = "N")]
    pub uploads_per_minute: Option<u32>,

    /// Remove files (and their links from messages) this many days after they were sent; 0
    /// keeps them [default: 0].
    #[arg(long, env = "PALAVER_FILE_RETENTION_DAYS", value_name = "DAYS")]
    pub file_retention_days: Option<u64>,

    /// Where files' bytes are kept with a SQLite database [default: <database>.files].
    #[arg(long, env = "PALAVER_FILES_DIR", value_name = "DIR")]
    pub files_dir: Option<std::path::PathBuf>,

    /// The HTTP listener's address as people reach it, for links in apps other than the
    /// browser (http://chat.example.org:8080) [default: http:// and --http-bind].
    #[arg(long, env = "PALAVER_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Seconds a new connection has to send a valid join [default: 10].
    #[arg(long, env = "PALAVER_JOIN_TIMEOUT_SECS", value_name = "SECS")]
    pub join_timeout_secs: Option<u64>,

    /// Recent messages replayed when joining a room [default: 50].
    #[arg(long, env = "PALAVER_HISTORY_ON_JOIN", value_name = "N")]
    pub history_on_join: Option<usize>,

    /// Most messages one history page returns [default: 200].
    #[arg(long, env = "PALAVER_HISTORY_PAGE_MAX", value_name = "N")]
    pub history_page_max: Option<usize>,

    /// Missed messages read per page when a client resumes (all are replayed) [default: 5000].
    #[arg(long, env = "PALAVER_MAX_RESUME", value_name = "N")]
    pub max_resume: Option<usize>,

    /// Most rooms one user may be in [default: 50].
    #[arg(long, env = "PALAVER_MAX_ROOMS_PER_USER", value_name = "N")]
    pub max_rooms_per_user: Option<usize>,

    /// Most members one room may have [default: 20000].
    #[arg(long, env = "PALAVER_MAX_MEMBERS_PER_ROOM", value_name = "N")]
    pub max_members_per_room: Option<usize>,

    /// Most rooms on the server [default: 10000].
    #[arg(long, env = "PALAVER_MAX_ROOMS", value_name = "N")]
    pub max_rooms: Option<usize>,

    /// Most messages stored in one transaction (group commit) [default: 4096].
    #[arg(long, env = "PALAVER_STORE_BATCH_MAX", value_name = "N")]
    pub store_batch_max: Option<usize>,

    /// Log level or filter, e.g. `debug` or `palaver_server=debug` [default: info].
    #[arg(long, env = "PALAVER_LOG", value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Log format [default: text].
    #[arg(long, env = "PALAVER_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Do not read announcements and commands from standard input.
    #[arg(long, env = "PALAVER_NO_STDIN")]
    pub no_stdin: bool,
}

impl Args {
    /// Fills what the command line left unset from the TOML file named by `--config`, if any.
    pub fn with_config_file(self) -> anyhow::Result<Args> {
        let Some(path) = self.config.clone() else {
            return Ok(self);
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        let file: Args = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("invalid config file {}: {e}", path.display()))?;
        Ok(self.or(file))
    }

    fn or(self, file: Args) -> Args {
        Args {
            command: self.command,
            config: self.config,
            tls_cert: self.tls_cert.or(file.tls_cert),
            tls_key: self.tls_key.or(file.tls_key),
            tls_bind: self.tls_bind.or(file.tls_bind),
            irc_tls_bind: self.irc_tls_bind.or(file.irc_tls_bind),
            tls_only: self.tls_only || file.tls_only,
            require_account: self.require_account || file.require_account,
            min_password_length: self.min_password_length.or(file.min_password_length),
            admin: if self.admin.is_empty() {
                file.admin
            } else {
                self.admin
            },
            bind: self.bind.or(file.bind),
            irc_bind: self.irc_bind.or(file.irc_bind),
            no_irc: self.no_irc || file.no_irc,
            http_bind: self.http_bind.or(file.http_bind),
            redis: self.redis.or(file.redis),
            node_name: self.node_name.or(file.node_name),
            redis_lease_secs: self.redis_lease_secs.or(file.redis_lease_secs),
            no_http: self.no_http || file.no_http,
            https_bind: self.https_bind.or(file.https_bind),
            allowed_origins: if self.allowed_origins.is_empty() {
                file.allowed_origins
            } else {
                self.allowed_origins
            },
            server_name: self.server_name.or(file.server_name),
            network_name: self.network_name.or(file.network_name),
            motd_file: self.motd_file.or(file.motd_file),
            irc_password: self.irc_password.or(file.irc_password),
            irc_ping_secs: self.irc_ping_secs.or(file.irc_ping_secs),
            ping_secs: self.ping_secs.or(file.ping_secs),
            database: self.database.or(file.database),
            max_frame_bytes: self.max_frame_bytes.or(file.max_frame_bytes),
            max_message_bytes: self.max_message_bytes.or(file.max_message_bytes),
            rate_per_second: self.rate_per_second.or(file.rate_per_second),
            rate_burst: self.rate_burst.or(file.rate_burst),
            flood_disconnect_after: self.flood_disconnect_after.or(file.flood_disconnect_after),
            outbound_queue: self.outbound_queue.or(file.outbound_queue),
            outbound_queue_bytes: self.outbound_queue_bytes.or(file.outbound_queue_bytes),
            max_connections: self.max_connections.or(file.max_connections),
            max_connections_per_ip: self.max_connections_per_ip.or(file.max_connections_per_ip),
            max_new_connections_per_minute: self
                .max_new_connections_per_minute
                .or(file.max_new_connections_per_minute),
            join_timeout_secs: self.join_timeout_secs.or(file.join_timeout_secs),
            max_upload_bytes: self.max_upload_bytes.or(file.max_upload_bytes),
            upload_quota_bytes: self.upload_quota_bytes.or(file.upload_quota_bytes),
            uploads_per_minute: self.uploads_per_minute.or(file.uploads_per_minute),
            file_retention_days: self.file_retention_days.or(file.file_retention_days),
            files_dir: self.files_dir.or(file.files_dir),
            public_url: self.public_url.or(file.public_url),
            password_workers: self.password_workers.or(file.password_workers),
            password_queue: self.password_queue.or(file.password_queue),
            password_attempts_per_address: self
                .password_attempts_per_address
                .or(file.password_attempts_per_address),
            password_attempts_per_account: self
                .password_attempts_per_account
                .or(file.password_attempts_per_account),
            history_on_join: self.history_on_join.or(file.history_on_join),
            history_page_max: self.history_page_max.or(file.history_page_max),
            max_resume: self.max_resume.or(file.max_resume),
            max_rooms_per_user: self.max_rooms_per_user.or(file.max_rooms_per_user),
            max_rooms: self.max_rooms.or(file.max_rooms),
            max_members_per_room: self.max_members_per_room.or(file.max_members_per_room),
            store_batch_max: self.store_batch_max.or(file.store_batch_max),
            log_level: self.log_level.or(file.log_level),
            log_format: self.log_format.or(file.log_format),
            no_stdin: self.no_stdin || file.no_stdin,
        }
    }

    /// The server configuration these settings describe.
    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let d = ServerConfig::default();
        let bind = match &self.bind {
            Some(text) => resolve_bind(text)?,
            None => d.bind,
        };
        let irc_bind = match (&self.irc_bind, self.no_irc) {
            (_, true) => None,
            (Some(text), false) => Some(resolve_bind(text)?),
            (None, false) => Some("127.0.0.1:6667".parse().expect("valid default address")),
        };
        let http_bind = match (&self.http_bind, self.no_http) {
            (_, true) => None,
            (Some(text), false) => Some(resolve_bind(text)?),
            (None, false) => Some("127.0.0.1:8080".parse().expect("valid default address")),
        };
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(TlsConfig {
                cert: cert.clone(),
                key: key.clone(),
                bind: resolve_bind(self.tls_bind.as_deref().unwrap_or("127.0.0.1:7879"))?,
                irc_bind: match irc_bind {
                    Some(_) => Some(resolve_bind(
                        self.irc_tls_bind.as_deref().unwrap_or("127.0.0.1:6697"),
                    )?),
                    None => None,
                },
                https_bind: match http_bind {
                    Some(_) => Some(resolve_bind(
                        self.https_bind.as_deref().unwrap_or("127.0.0.1:8443"),
                    )?),
                    None => None,
                },
                only: self.tls_only,
            }),
            (None, None) => {
                anyhow::ensure!(
                    !self.tls_only,
                    "--tls-only needs a certificate: --tls-cert and --tls-key (palaver-server gen-cert makes one)"
                );
                None
            }
            _ => anyhow::bail!("TLS needs both --tls-cert and --tls-key"),
        };
        let motd = match &self.motd_file {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("cannot read --motd-file {}: {e}", path.display()))?
                .lines()
                .map(str::to_string)
                .collect(),
            None => d.motd.clone(),
        };
        let server_name = self.server_name.clone().unwrap_or(d.server_name.clone());
        anyhow::ensure!(
            !server_name.is_empty()
                && server_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')),
            "--server-name must be letters, digits, '.', '-' or '_' (it appears in IRC lines)"
        );
        let max_frame_bytes = self.max_frame_bytes.unwrap_or(d.hub.max_frame_bytes);
        anyhow::ensure!(
            max_frame_bytes >= 256,
            "--max-frame-bytes must be at least 256"
        );
        let hub = HubConfig {
            max_frame_bytes,
            max_message_bytes: self.max_message_bytes.unwrap_or(d.hub.max_message_bytes),
            rate_per_second: self.rate_per_second.unwrap_or(d.hub.rate_per_second),
            rate_burst: self.rate_burst.unwrap_or(d.hub.rate_burst),
            history_on_join: self.history_on_join.unwrap_or(d.hub.history_on_join),
            history_page_max: self
                .history_page_max
                .unwrap_or(d.hub.history_page_max)
                .max(1),
            max_rooms_per_user: self.max_rooms_per_user.unwrap_or(d.hub.max_rooms_per_user),
            max_rooms: self.max_rooms.unwrap_or(d.hub.max_rooms),
            max_members_per_room: self
                .max_members_per_room
                .unwrap_or(d.hub.max_members_per_room)
                .max(1),
            max_resume: self.max_resume.unwrap_or(d.hub.max_resume),
            require_account: self.require_account,
            min_password_chars: self
                .min_password_length
                .unwrap_or(d.hub.min_password_chars)
                .max(1),
            ..d.hub.clone()
        };
        let outbound_queue = self.outbound_queue.unwrap_or(d.outbound_queue).max(16);
        Ok(ServerConfig {
            bind,
            irc_bind,
            http_bind,
            allowed_origins: self.allowed_origins.clone(),
            server_name,
            network_name: self.network_name.clone().unwrap_or(d.network_name.clone()),
            motd,
            irc_password: self.irc_password.clone(),
            irc_ping_interval: self
                .irc_ping_secs
                .map(|s| Duration::from_secs(s.max(1)))
                .unwrap_or(d.irc_ping_interval),
            ping_interval: self
                .ping_secs
                .map(|s| Duration::from_secs(s.max(1)))
                .unwrap_or(d.ping_interval),
            tls,
            admins: self.admin.clone(),
            database: self.database.clone().unwrap_or(d.database),
            redis: self.redis.clone(),
            node_name: self.node_name.clone(),
            redis_lease: self
                .redis_lease_secs
                .map(|s| Duration::from_secs(s.max(3)))
                .unwrap_or(d.redis_lease),
            hub: HubConfig {
                // The replay leaves at least half the queue free for these (runtime.rs).
                catch_up_buffer: outbound_queue / 2 - 1,
                ..hub
            },
            flood_disconnect_after: self
                .flood_disconnect_after
                .unwrap_or(d.flood_disconnect_after),
            outbound_queue,
            outbound_queue_bytes: self
                .outbound_queue_bytes
                .unwrap_or(d.outbound_queue_bytes)
                .max(64 * 1024),
            max_connections: self.max_connections.unwrap_or(d.max_connections),
            max_connections_per_ip: self
                .max_connections_per_ip
                .unwrap_or(d.max_connections_per_ip),
            max_new_connections_per_minute: self
                .max_new_connections_per_minute
                .unwrap_or(d.max_new_connections_per_minute),
            join_timeout: self
                .join_timeout_secs
                .map(Duration::from_secs)
                .unwrap_or(d.join_timeout),
            store_queue: d.store_queue,
            store_batch_max: self.store_batch_max.unwrap_or(d.store_batch_max).max(1),
            shutdown_grace: d.shutdown_grace,
            passwords: PasswordConfig {
                throttle: ThrottleConfig {
                    per_address: self
                        .password_attempts_per_address
                        .unwrap_or(d.passwords.throttle.per_address),
                    per_account: self
                        .password_attempts_per_account
                        .unwrap_or(d.passwords.throttle.per_account),
                    ..d.passwords.throttle.clone()
                },
                workers: WorkersConfig {
                    workers: self.password_workers.unwrap_or(d.passwords.workers.workers),
                    queue: self.password_queue.unwrap_or(d.passwords.workers.queue),
                },
            },
            files: crate::files::FileLimits {
                max_bytes: self.max_upload_bytes.unwrap_or(d.files.max_bytes),
                quota_bytes: self.upload_quota_bytes.unwrap_or(d.files.quota_bytes),
                per_minute: self.uploads_per_minute.unwrap_or(d.files.per_minute).max(1),
                retention: self
                    .file_retention_days
                    .filter(|days| *days > 0)
                    .map(|days| Duration::from_secs(days * 24 * 3600)),
            },
            files_dir: self.files_dir.clone(),
            public_url: self.public_url.clone(),
        })
    }
}

fn resolve_bind(text: &str) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    text.to_socket_addrs()
        .map_err(|e| {
            anyhow::anyhow!(
                "invalid --bind {text:?}: {e} (expected ADDR:PORT, e.g. 127.0.0.1:7878)"
            )
        })?
        .next()
        .ok_or_else(|| anyhow::anyhow!("--bind {text:?} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe() {
        let config = Args::default().server_config().unwrap();
        assert_eq!(config.bind.to_string(), "127.0.0.1:7878");
        assert_eq!(config.irc_bind.unwrap().to_string(), "127.0.0.1:6667");
        let no_irc = Args {
            no_irc: true,
            ..Args::default()
        };
        assert_eq!(no_irc.server_config().unwrap().irc_bind, None);
        assert_eq!(config.database, "palaver.db");
        assert_eq!(config.hub.max_frame_bytes, 16 * 1024);
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("palaver.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9000\"\nrate_burst = 3\nmax_connections_per_ip = 7\n",
        )
        .unwrap();
        let args = Args::parse_from([
            "palaver-server",
            "--config",
            path.to_str().unwrap(),
            "--rate-burst",
            "20",
        ]);
        let config = args.with_config_file().unwrap().server_config().unwrap();
        assert_eq!(config.bind.port(), 9000);
        assert_eq!(config.hub.rate_burst, 20);
        assert_eq!(config.max_connections_per_ip, 7);
    }

    #[test]
    fn unknown_settings_in_the_file_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "bnid = \"x\"\n").unwrap();
        let args = Args {
            config: Some(path),
            ..Args::default()
        };
        let err = args.with_config_file().unwrap_err().to_string();
        assert!(err.contains("bnid"), "{err}");
    }
}
