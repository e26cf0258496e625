//! `palaver chat`: the terminal client.
//!
//! On a terminal it is a full-screen UI ([`tui`], drawn by [`render`]) in the spirit of weechat
//! and irssi. When standard input or output is not a terminal, or with `--plain`, it is a line
//! tool for scripts and bots ([`plain`]): every line read is sent, every message received is
//! printed as one line. Both use the same model, commands and client library as the desktop app.

pub mod plain;
pub mod render;
pub mod tui;

use std::io::IsTerminal;
use std::process::ExitCode;

use palaver_client::ClientConfig;

/// `palaver chat` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ChatArgs {
    /// Server host; the nodes of a cluster as `node1,node2,...` (a reconnect tries them in
    /// turn; a host name with several addresses is tried address by address too).
    #[arg(long, env = "PALAVER_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Server port.
    #[arg(long, env = "PALAVER_PORT", default_value_t = 7878)]
    pub port: u16,
    /// Your username (asked for if missing on a terminal).
    #[arg(long, short, env = "PALAVER_USER")]
    pub user: Option<String>,
    /// Rooms to join (repeatable) [default: general].
    #[arg(long = "room", value_name = "ROOM")]
    pub rooms: Vec<String>,
    /// Line mode: send each line of standard input, print each message as one line. Automatic
    /// when standard input or output is not a terminal.
    #[arg(long)]
    pub plain: bool,
    /// In line mode, print every frame from the server as a JSON line.
    #[arg(long)]
    pub json: bool,
    /// Connect with TLS: certificates checked against the system's roots, or pinned on first
    /// use (in ~/.config/palaver/known_hosts, or PALAVER_KNOWN_HOSTS), refused if it changes.
    #[arg(long)]
    pub tls: bool,
    /// Log in to your account: the password is read from PALAVER_PASSWORD (never a flag, so it
    /// stays out of the process list and shell history).
    #[arg(long)]
    pub login: bool,
}

impl ChatArgs {
    pub fn client_config(&self, username: &str) -> ClientConfig {
        let addr = palaver_client::client::addresses_for(&self.host, self.port);
        let mut config = ClientConfig::new(addr, username);
        if !self.rooms.is_empty() {
            config.rooms = self.rooms.clone();
        }
        if self.tls {
            config.tls = Some(palaver_client::TlsSettings::default());
        }
        if self.login {
            config.password = std::env::var("PALAVER_PASSWORD")
                .ok()
                .map(palaver_proto::Secret);
        }
        config
    }
}

/// Runs `palaver chat`: the full-screen UI on a terminal, line mode otherwise.
pub fn run(args: ChatArgs) -> ExitCode {
    if args.login && std::env::var_os("PALAVER_PASSWORD").is_none() {
        eprintln!("palaver: --login reads the password from PALAVER_PASSWORD, which is not set");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("palaver: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let plain = args.plain || args.json || !interactive;
    let username = match (&args.user, plain) {
        (Some(user), _) => user.clone(),
        (None, true) => {
            eprintln!("palaver: --user NAME is required in line mode");
            return ExitCode::from(2);
        }
        (None, false) => match ask_username() {
            Some(name) => name,
            None => return ExitCode::from(2),
        },
    };
    if let Err((_, why)) = palaver_proto::validate::username(&username) {
        eprintln!("palaver: {why}");
        return ExitCode::from(2);
    }
    let code = runtime.block_on(async {
        // Both modes start the same way: join, or say why not and fail.
        let (client, events) =
            match palaver_client::Client::connect(args.client_config(&username)).await {
                Ok(session) => session,
                Err(e) => {
                    eprintln!("palaver: {e}");
                    return ExitCode::FAILURE;
                }
            };
        if plain {
            plain::run(&args, client, events).await
        } else {
            tui::run(&args, &username, client, events).await
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    code
}

/// Asks for a username on the terminal, like the classic chat clients did.
fn ask_username() -> Option<String> {
    use std::io::Write;
    print!("Choose your username: ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).ok()?;
    let name = line.trim().to_string();
    (!name.is_empty()).then_some(name)
}
