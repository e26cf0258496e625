//! Screenshots of the web client for the README, at desktop and phone width: a server with a
//! little conversation, Chromium (headless, through ChromeDriver) joining it. Run by
//! `scripts/screenshots.sh`; needs chromium and chromium-driver.
//!
//! `cargo run -p palaver-server --example screenshots -- OUT_DIR`

use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

use palaver_client::proto::ClientFrame;
use palaver_client::Connection;
use palaver_server::testing::chromium::{self, ChromeDriver};
use palaver_server::{Server, ServerConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let out =
        std::path::PathBuf::from(std::env::args().nth(1).unwrap_or("docs/screenshots".into()));
    std::fs::create_dir_all(&out)?;
    let dir = tempfile::tempdir()?;
    let http = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let mut config = ServerConfig {
        bind: "127.0.0.1:0".parse()?,
        http_bind: Some(http),
        database: dir.path().join("p.db").to_string_lossy().into_owned(),
        ..ServerConfig::default()
    };
    config.hub.rate_per_second = 100.0;
    config.hub.rate_burst = 100;
    let server = Server::start(config).await?;

    // A little conversation to show.
    let (mut ana, _) = Connection::join(server.local_addr(), "ana").await?;
    let (mut ben, _) = Connection::join(server.local_addr(), "ben").await?;
    let lines = [
        (
            true,
            "Good morning! Slides for today are on the shared drive.",
        ),
        (false, "Thanks, ana. Are we starting with the recap?"),
        (true, "Yes, ten minutes, then questions."),
        (false, "/me grabs a coffee"),
    ];
    for (from_ana, text) in lines {
        let conn = if from_ana { &mut ana } else { &mut ben };
        conn.send(&ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: text.into(),
            room: None,
        })
        .await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (chromium, chromedriver) =
        chromium::find().ok_or_else(|| anyhow::anyhow!("needs chromium and chromium-driver"))?;
    let driver = ChromeDriver::start(&chromedriver).map_err(anyhow::Error::msg)?;
    let result = async {
        let shots = [
            ("web-desktop", false, "dark"),
            ("web-desktop-light", false, "light"),
            ("web-phone", true, "dark"),
        ];
        for (i, (name, phone, theme)) in shots.into_iter().enumerate() {
            let file = out.join(format!("{name}.png"));
            // The first visitor says hello; the others find it in the history.
            let talk = if i == 0 { Some(&mut ben) } else { None };
            let page = format!("http://{http}/");
            shoot(&driver, &chromium, &page, &file, phone, theme, talk).await?;
        }
        anyhow::Ok(())
    }
    .await;
    drop(driver);
    server.shutdown().await;
    result
}

async fn shoot(
    driver: &ChromeDriver,
    chromium: &std::path::Path,
    url: &str,
    file: &std::path::Path,
    phone: bool,
    theme: &str,
    talk: Option<&mut Connection>,
) -> anyhow::Result<()> {
    let profile = tempfile::tempdir()?;
    let phone = phone.then_some((390, 780));
    let caps = chromium::capabilities(chromium, profile.path(), (1100, 700), phone);
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url())
        .await?;
    client.goto(url).await?;
    client
        .execute(
            &format!("localStorage.setItem('palaver.theme', '{theme}'); location.reload();"),
            vec![],
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let name = client.find(Locator::Css("#username")).await?;
    name.send_keys("you").await?;
    client
        .find(Locator::Css("#join-button"))
        .await?
        .click()
        .await?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    if let Some(ben) = talk {
        ben.send(&ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content: "Welcome, you! Ask anything here.".into(),
            room: None,
        })
        .await?;
        client
            .find(Locator::Css("#message"))
            .await?
            .send_keys("Hello everyone!\u{E007}")
            .await?;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let png = client.screenshot().await?;
    std::fs::write(file, png)?;
    println!("wrote {}", file.display());
    client.close().await?;
    Ok(())
}
