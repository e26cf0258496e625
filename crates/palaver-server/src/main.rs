//! `palaver-server`: runs a Palaver server until SIGINT or SIGTERM.
//!
//! Lines typed on standard input become server announcements; `/users`, `/kick NAME [REASON]`
//! and `/shutdown` are console commands.

use std::io::BufRead;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use palaver_server::config::{AccountAction, AdminAction, Args, Command, LogFormat};
use palaver_server::{Server, ServerHandle};

fn main() -> anyhow::Result<()> {
    let args = Args::parse().with_config_file()?;
    match &args.command {
        Some(Command::GenCert { cert, key, names }) => return gen_cert(cert, key, names),
        Some(Command::Migrate { from, to }) => return migrate(from, to),
        Some(Command::Account {
            action: AccountAction::Add { name },
        }) => return account_add(&args, name),
        Some(Command::Admin {
            action: AdminAction::Add { name },
        }) => {
            let config = args.server_config()?;
            drop(palaver_server::store::open(&config.database)?);
            let accounts = palaver_server::store::accounts::Accounts::open(&config.database)?;
            accounts.add_admin(name)?;
            println!(
                "{name} is an admin of {} (once logged in to that account).",
                config.database
            );
            return Ok(());
        }
        None => {}
    }
    init_logging(&args)?;
    let config = args.server_config()?;
    raise_fd_limit();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = match Server::start(config).await {
            Ok(server) => server,
            Err(e) => {
                tracing::error!("{e:#}");
                return Err(e);
            }
        };
        let handle = server.handle();
        if !args.no_stdin {
            spawn_console(handle.clone(), tokio::runtime::Handle::current());
        }
        tokio::spawn(stop_on_signal(handle));
        server.wait().await;
        Ok(())
    })?;
    // Do not wait for the console thread blocked on stdin.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(())
}

/// Writes a self-signed certificate and key (refusing to overwrite), and prints how to use them.
fn gen_cert(cert: &std::path::Path, key: &std::path::Path, names: &[String]) -> anyhow::Result<()> {
    for path in [cert, key] {
        anyhow::ensure!(
            !path.exists(),
            "{} already exists; remove it or choose another path",
            path.display()
        );
    }
    let (cert_pem, key_pem, fingerprint) = palaver_server::listener::tls::self_signed(names)?;
    std::fs::write(cert, cert_pem).with_context(|| format!("cannot write {}", cert.display()))?;
    write_private(key, &key_pem)?;
    println!(
        "Wrote {} and {} for {}.",
        cert.display(),
        key.display(),
        names.join(", ")
    );
    println!("SHA-256 fingerprint: {fingerprint}");
    println!(
        "Start with: palaver-server --tls-cert {} --tls-key {}",
        cert.display(),
        key.display()
    );
    println!("Clients pin this fingerprint on first use; tell your users to compare it.");
    Ok(())
}

/// `palaver-server account add NAME`: registers a name with a password read from stdin.
/// `palaver-server migrate --from FILE --to URL`, with progress on standard error.
fn migrate(from: &str, to: &str) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut last_report = std::time::Instant::now();
    let copied = palaver_server::store::migrate::migrate(from, to, |done, total| {
        if last_report.elapsed().as_secs() >= 1 || done == total {
            last_report = std::time::Instant::now();
            eprintln!("copied {done} of {total} messages");
        }
    })?;
    println!(
        "migrated {from} to PostgreSQL in {:.1} s; the same rows on both sides:",
        started.elapsed().as_secs_f64()
    );
    for (table, rows) in copied.counts {
        println!("  {table:<16} {rows}");
    }
    println!("now start palaver-server with --database set to that URL");
    Ok(())
}

fn account_add(args: &Args, name: &str) -> anyhow::Result<()> {
    let config = args.server_config()?;
    let name = palaver_proto::validate::username(name).map_err(|(_, m)| anyhow::anyhow!(m))?;
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    palaver_server::store::accounts::password_acceptable(password, config.hub.min_password_chars)
        .map_err(|(_, m)| anyhow::anyhow!(m))?;
    // The store creates the tables on first open.
    drop(palaver_server::store::open(&config.database)?);
    let accounts = palaver_server::store::accounts::Accounts::open(&config.database)?;
    accounts
        .create(&palaver_proto::validate::fold(&name), &name, password)
        .map_err(|code| anyhow::anyhow!("{} ({code})", code.sentence()))?;
    println!("Registered {name} in {}.", config.database);
    Ok(())
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Every connection is a file descriptor: lift the soft limit to the hard one, as servers do.
fn raise_fd_limit() {
    #[cfg(unix)]
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn init_logging(args: &Args) -> anyhow::Result<()> {
    let filter = match &args.log_level {
        Some(level) => {
            EnvFilter::try_new(level).with_context(|| format!("invalid --log-level {level:?}"))?
        }
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format.unwrap_or_default() {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

async fn stop_on_signal(handle: ServerHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
            _ = term.recv() => tracing::info!("SIGTERM received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    handle.shutdown();
}

/// Reads console lines on a plain thread (a blocked stdin read must not hold up exit).
fn spawn_console(handle: ServerHandle, runtime: tokio::runtime::Handle) {
    std::thread::Builder::new()
        .name("palaver-console".into())
        .spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                runtime.block_on(console_command(&handle, line));
            }
        })
        .expect("spawn console thread");
}

async fn console_command(handle: &ServerHandle, line: &str) {
    let mut words = line.splitn(3, ' ');
    match words.next() {
        Some("/users") => {
            let users = handle.users().await;
            tracing::info!(count = users.len(), "users online");
            for u in users {
                tracing::info!(username = %u.username, peer = %u.peer, rooms = ?u.rooms, "online");
            }
        }
        Some("/kick") => match words.next() {
            Some(name) => {
                let reason = words.next().unwrap_or("");
                if !handle.kick(name, reason).await {
                    tracing::warn!(username = name, "nobody of that name is online");
                }
            }
            None => tracing::warn!("usage: /kick NAME [REASON]"),
        },
        Some("/shutdown") => handle.shutdown(),
        Some(cmd) if cmd.starts_with('/') && !cmd.starts_with("//") => {
            tracing::warn!(command = cmd, "unknown console command (try /users, /kick, /shutdown; start a line with // to announce it)")
        }
        _ => {
            let text = line
                .strip_prefix('/')
                .filter(|l| l.starts_with('/'))
                .unwrap_or(line);
            handle.announce(text).await;
        }
    }
}
