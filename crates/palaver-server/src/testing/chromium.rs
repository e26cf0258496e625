//! Headless Chromium for the browser tests and the README's screenshots: where Debian puts
//! Chromium and ChromeDriver, ChromeDriver on a free loopback port (killed when dropped), and
//! the capabilities of a browser that works offline with a fresh profile.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

fn first_existing(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Chromium and ChromeDriver, if both are installed.
pub fn find() -> Option<(PathBuf, PathBuf)> {
    let chromium = first_existing(&["/usr/bin/chromium", "/usr/bin/chromium-browser"])?;
    let driver = first_existing(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])?;
    Some((chromium, driver))
}

/// A running ChromeDriver.
pub struct ChromeDriver {
    child: Mutex<Child>,
    pub port: u16,
}

impl ChromeDriver {
    /// Starts `chromedriver` on a free loopback port and waits until it listens.
    pub fn start(chromedriver: &Path) -> Result<ChromeDriver, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("chromedriver: {e}"))?;
        let driver = ChromeDriver {
            child: Mutex::new(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("chromedriver did not start listening".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(driver)
    }

    /// The WebDriver URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the driver (its browsers go with it).
    pub fn stop(&self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// WebDriver capabilities for headless Chromium at `chromium`, with the profile in `profile`,
/// a `window` (width, height), or a phone's `(width, height)` viewport. Offline: no background
/// networking, no component updates, no sync (on a closed network they fail noisily); no
/// sandbox when running as root, where Chromium refuses one.
pub fn capabilities(
    chromium: &Path,
    profile: &Path,
    window: (u32, u32),
    phone: Option<(u32, u32)>,
) -> Map<String, Value> {
    let mut args = vec![
        "--headless=new".to_string(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--hide-scrollbars".into(),
        format!("--window-size={},{}", window.0, window.1),
        format!("--user-data-dir={}", profile.display()),
    ];
    if unsafe { libc::geteuid() } == 0 {
        args.push("--no-sandbox".into());
    }
    let mut options = json!({ "binary": chromium, "args": args });
    if let Some((width, height)) = phone {
        options["mobileEmulation"] =
            json!({ "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0 } });
    }
    let mut caps = Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), options);
    caps
}
