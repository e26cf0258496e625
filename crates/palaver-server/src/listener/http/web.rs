//! The web client's files, embedded in the binary at build time (`crates/palaver-server/web/`:
//! plain HTML, CSS and ES modules, no build step), and the security headers every HTTP
//! response carries.

use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use std::sync::Arc;

use super::HttpState;

/// A file of the web client: its path, media type and bytes.
struct File {
    path: &'static str,
    media_type: &'static str,
    body: &'static [u8],
}

macro_rules! web_files {
    ($($path:literal => $media_type:literal),* $(,)?) => {
        &[$(File {
            path: $path,
            media_type: $media_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web", $path)),
        }),*]
    };
}

/// Every file the page loads: all from this origin.
const FILES: &[File] = web_files![
    "/index.html" => "text/html; charset=utf-8",
    "/style.css" => "text/css; charset=utf-8",
    "/app.js" => "text/javascript; charset=utf-8",
    "/model.js" => "text/javascript; charset=utf-8",
    "/commands.js" => "text/javascript; charset=utf-8",
    "/session.js" => "text/javascript; charset=utf-8",
    "/emoji.js" => "text/javascript; charset=utf-8",
    "/markdown.js" => "text/javascript; charset=utf-8",
    "/typing.js" => "text/javascript; charset=utf-8",
    "/files.js" => "text/javascript; charset=utf-8",
    "/manifest.webmanifest" => "application/manifest+json",
    "/icon.svg" => "image/svg+xml",
];

/// The page and its files (`/` is `index.html`).
pub fn routes() -> Router<Arc<HttpState>> {
    let mut router = Router::new().route("/", get(|| async { file("/index.html") }));
    for f in FILES {
        router = router.route(f.path, get(move || async move { file(f.path) }));
    }
    router.route("/emoji.json", get(|| async { emoji_table() }))
}

/// The emoji table for the picker and `:shortcode:` completion (see `palaver_proto::emoji`),
/// built once.
fn emoji_table() -> Response {
    static TABLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(palaver_proto::emoji::table_json);
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        table.as_str(),
    )
        .into_response()
}

fn file(path: &str) -> Response {
    match FILES.iter().find(|f| f.path == path) {
        Some(f) => (
            [
                (header::CONTENT_TYPE, f.media_type),
                // Revalidated on every load: a new server version is picked up at once.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            f.body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The page may load and connect to its own origin only, and run no inline script.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Adds the security headers to every response.
pub async fn security_headers(request: Request, next: Next) -> Response {
    // A file is never the page: it may run and load nothing.
    let policy = match request.uri().path().starts_with("/files/") {
        true => super::files::FILE_CSP,
        false => CONTENT_SECURITY_POLICY,
    };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, policy),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
