//! `palaver`: the Palaver desktop client, and `palaver chat`, the terminal client.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use palaver_gui::app::{DesktopApp, SETTINGS_KEY};
use palaver_gui::{PalaverApp, Settings};

/// Palaver: chat in a window (or host a server for others), or in a terminal with `palaver chat`.
#[derive(Debug, Parser)]
#[command(name = "palaver", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    window: Args,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Chat in the terminal: full screen on a terminal, one line per message in pipes and scripts.
    Chat(palaver_gui::terminal::ChatArgs),
}

/// Desktop window options.
#[derive(Debug, clap::Args)]
struct Args {
    /// Server host to fill in (remembered otherwise).
    #[arg(long, env = "PALAVER_HOST")]
    host: Option<String>,
    /// Server port to fill in.
    #[arg(long, env = "PALAVER_PORT")]
    port: Option<u16>,
    /// Username to fill in.
    #[arg(long, env = "PALAVER_USER")]
    user: Option<String>,
    /// Connect with TLS (certificates checked against the system's roots, or pinned on first
    /// use in ~/.config/palaver/known_hosts).
    #[arg(long)]
    tls: bool,
    /// Connect right away with the settings above.
    #[arg(long)]
    connect: bool,
    /// Open the "host a server" dashboard and start a server on this port.
    #[arg(long, value_name = "PORT")]
    serve: Option<u16>,
    /// Database file for `--serve` [default: palaver.db].
    #[arg(long, value_name = "PATH")]
    serve_database: Option<String>,
    /// Start with the light theme.
    #[arg(long)]
    light: bool,
    /// Save a PNG of the window to this file after `--screenshot-after` seconds, then exit
    /// (used by scripts/screenshots.sh).
    #[arg(long, value_name = "PNG")]
    screenshot: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 3.0, value_name = "SECS")]
    screenshot_after: f32,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Chat(args)) => palaver_gui::terminal::run(args),
        None => match window(cli.window) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("palaver: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn window(args: Args) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Palaver")
            .with_inner_size([1000.0, 680.0])
            .with_min_inner_size([560.0, 400.0]),
        persist_window: args.screenshot.is_none(),
        ..Default::default()
    };
    eframe::run_native(
        "Palaver",
        options,
        Box::new(move |cc| {
            let mut settings: Settings = cc
                .storage
                .filter(|_| args.screenshot.is_none())
                .and_then(|s| eframe::get_value(s, SETTINGS_KEY))
                .unwrap_or_default();
            if let Some(host) = args.host.clone() {
                settings.host = host;
            }
            if let Some(port) = args.port {
                settings.port = port.to_string();
            }
            if let Some(user) = args.user.clone() {
                settings.username = user;
            }
            if args.tls {
                settings.tls = true;
            }
            if args.light {
                settings.dark = false;
            }
            let mut app = PalaverApp::new(settings)?;
            if args.connect {
                app.connect();
            }
            if let Some(port) = args.serve {
                app.host.port = port.to_string();
                if let Some(db) = args.serve_database.clone() {
                    app.host.database = db;
                }
                app.screen = palaver_gui::Screen::Host;
                let ctx = cc.egui_ctx.clone();
                let runtime = app.runtime.clone();
                app.host.start(&runtime, move || ctx.request_repaint());
            }
            Ok(Box::new(Screenshotter::new(
                DesktopApp { app },
                args.screenshot.clone(),
                args.screenshot_after,
            )))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// Wraps the app to save one screenshot and exit, for the documentation's pictures.
struct Screenshotter {
    inner: DesktopApp,
    path: Option<std::path::PathBuf>,
    after: f32,
    requested: bool,
    saved: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Screenshotter {
    fn new(inner: DesktopApp, path: Option<std::path::PathBuf>, after: f32) -> Self {
        Screenshotter {
            inner,
            path,
            after,
            requested: false,
            saved: Default::default(),
        }
    }
}

impl eframe::App for Screenshotter {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.inner.ui(ui, frame);
        let Some(path) = self.path.clone() else {
            return;
        };
        let ctx = ui.ctx().clone();
        if self.saved.load(std::sync::atomic::Ordering::SeqCst) {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        } else if !self.requested && ctx.input(|i| i.time) as f32 >= self.after {
            self.requested = true;
            let saved = self.saved.clone();
            let repaint = ctx.clone();
            ctx.request_screenshot(move |image| {
                let [w, h] = image.size;
                let pixels: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
                if let Err(e) = image::save_buffer(
                    &path,
                    &pixels,
                    w as u32,
                    h as u32,
                    image::ExtendedColorType::Rgba8,
                ) {
                    eprintln!("cannot save {}: {e}", path.display());
                }
                saved.store(true, std::sync::atomic::Ordering::SeqCst);
                repaint.request_repaint();
            });
        }
        ctx.request_repaint_after(std::time::Duration::from_millis(100));
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if self.path.is_none() {
            self.inner.save(storage);
        }
    }
}
