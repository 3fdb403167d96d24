//! The desktop app's private HTTP server: loopback only, separate from the share server, which
//! may face the network and knows nothing of the app.
//!
//! ```text
//!  GET  /app/{secret}/rec/{id}/{file}   a library recording's video, poster, preview, captions,
//!                                       filmstrip, with byte ranges (WebKitGTK plays media only
//!                                       from http://127.0.0.1, not from tauri://)
//!  GET  /app/{secret}/ui/{file}         the app's own UI, for a plain browser    } only when
//!  POST /app/{secret}/api/{command}     the app's calls, JSON in and out        } asked for
//! ```
//! It listens on 127.0.0.1 only, every path carries a random secret made at each start, and
//! the Host header must name this server (127.0.0.1:PORT or localhost:PORT): a web page cannot
//! reach it through a DNS name pointed at 127.0.0.1 (DNS rebinding). The UI and API over HTTP
//! are for tests and development (`REEL_APP_HTTP_UI=1`): the app's window talks to the same
//! calls through Tauri.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::studio::{dispatch, Studio};
use crate::ApiError;

/// The UI's files, served under `/app/{secret}/ui/`.
static UI_FILES: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../../../ui/index.html")),
    ("main.js", "text/javascript; charset=utf-8", include_str!("../../../ui/main.js")),
    ("backend.js", "text/javascript; charset=utf-8", include_str!("../../../ui/backend.js")),
    ("player.js", "text/javascript; charset=utf-8", reel_share::page::PLAYER_JS),
    ("style.css", "text/css; charset=utf-8", include_str!("../../../ui/style.css")),
    ("player.css", "text/css; charset=utf-8", reel_share::page::PLAYER_CSS),
];

struct Inner {
    secret: String,
    library_root: PathBuf,
    /// The studio behind the UI and API over HTTP; `None`: media only (the default).
    studio: Option<Arc<Studio>>,
    /// This server's address, for the Host check and the studio's `app_info`.
    addr: SocketAddr,
}

#[derive(Clone)]
struct AppHttp(Arc<Inner>);

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Not found\n").into_response()
}

/// Whether `secret` is the app's, compared in full whatever the input (timing tells nothing).
fn secret_ok(st: &Inner, secret: &str) -> bool {
    let expected = st.secret.as_bytes();
    secret.len() == expected.len() && secret.bytes().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ *b)) == 0
}

/// Refuses requests whose Host is not this server: DNS rebinding would send another name.
async fn host_check(State(st): State<AppHttp>, req: Request, next: Next) -> Response {
    let port = st.0.addr.port();
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if host == format!("127.0.0.1:{port}") || host == format!("localhost:{port}") {
        next.run(req).await
    } else {
        (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "This server answers only the Reel app on this computer.\n").into_response()
    }
}

async fn app_file(State(st): State<AppHttp>, UrlPath((secret, id, name)): UrlPath<(String, String, String)>, headers: HeaderMap) -> Response {
    let plain_id = !id.is_empty() && !id.starts_with('.') && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !secret_ok(&st.0, &secret) || !plain_id || !matches!(name.as_str(), "video.mp4" | "poster.jpg" | "preview.gif" | "captions.vtt" | "strip.jpg") {
        return not_found();
    }
    let path = st.0.library_root.join("recordings").join(&id).join(&name);
    // Opening and mapping the file blocks: off the async workers.
    tokio::task::spawn_blocking(move || reel_share::media::respond(&path, &headers)).await.ok().flatten().unwrap_or_else(not_found)
}

async fn app_ui(State(st): State<AppHttp>, UrlPath((secret, name)): UrlPath<(String, String)>) -> Response {
    if !secret_ok(&st.0, &secret) || st.0.studio.is_none() {
        return not_found();
    }
    match UI_FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, body)) => {
            // The UI shows preview frames from blob: URLs and sets inline styles.
            let csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob:; media-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";
            ([(header::CONTENT_TYPE, *ct), (header::CONTENT_SECURITY_POLICY, csp)], *body).into_response()
        }
        None => not_found(),
    }
}

fn json_error(status: StatusCode, e: &ApiError) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], serde_json::to_vec(e).unwrap_or_default()).into_response()
}

/// The app's calls over HTTP: JSON in, JSON out, errors as `{code, message}`. The same table
/// (`studio::dispatch`) the Tauri commands use.
async fn app_api(State(st): State<AppHttp>, UrlPath((secret, command)): UrlPath<(String, String)>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(studio) = st.0.studio.clone().filter(|_| secret_ok(&st.0, &secret)) else { return not_found() };
    // JSON only, even for calls without arguments: a cross-site form cannot send it.
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")) {
        return json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &ApiError { code: crate::ErrorCode::BadInput, message: "send the request as application/json".into() });
    }
    let args: serde_json::Value = match serde_json::from_slice(if body.is_empty() { b"{}" } else { &body }) {
        Ok(v) => v,
        Err(e) => return json_error(StatusCode::BAD_REQUEST, &ApiError { code: crate::ErrorCode::BadInput, message: format!("the request body is not JSON: {e}") }),
    };
    let (server, secret) = (format!("http://{}", st.0.addr), st.0.secret.clone());
    match tokio::task::spawn_blocking(move || dispatch(&studio, &server, &secret, &command, args)).await {
        Ok(Ok(v)) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], serde_json::to_vec(&v).unwrap_or_default()).into_response(),
        Ok(Err(e)) => {
            use crate::ErrorCode as C;
            let status = match e.code {
                C::NotFound => StatusCode::NOT_FOUND,
                C::Busy | C::CameraBusy | C::OutputExists | C::Full | C::NeedsRecovery => StatusCode::CONFLICT,
                C::DiskFull => StatusCode::INSUFFICIENT_STORAGE,
                C::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                C::Internal | C::Io | C::Pipeline | C::EncodeFailed | C::CaptureFailed => StatusCode::INTERNAL_SERVER_ERROR,
                C::ModelMissing => StatusCode::SERVICE_UNAVAILABLE,
                C::Network => StatusCode::BAD_GATEWAY,
                C::CameraUnavailable | C::MicUnavailable | C::CameraPermission | C::Denied | C::BadInput | C::Cancelled => StatusCode::BAD_REQUEST,
            };
            json_error(status, &e)
        }
        Err(e) => json_error(StatusCode::INTERNAL_SERVER_ERROR, &ApiError { code: crate::ErrorCode::Internal, message: e.to_string() }),
    }
}

/// Runs the app's server on 127.0.0.1 (any free port) until the process ends. With a studio,
/// the UI and the API are served over HTTP too. `on_ready` gets the address.
pub fn run(library_root: PathBuf, secret: String, studio: Option<Arc<Studio>>, on_ready: impl FnOnce(SocketAddr)) -> Result<(), ApiError> {
    let io = |e: std::io::Error| ApiError { code: crate::ErrorCode::Io, message: format!("the app's server could not start: {e}") };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(io)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        let state = AppHttp(Arc::new(Inner { secret, library_root, studio, addr }));
        let app = Router::new()
            .route("/app/{secret}/rec/{id}/{name}", get(app_file))
            .route("/app/{secret}/ui/{name}", get(app_ui))
            .route("/app/{secret}/api/{command}", post(app_api))
            .fallback(|| async { not_found() })
            .layer(axum::middleware::from_fn_with_state(state.clone(), host_check))
            .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
            .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
            .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
            .with_state(state);
        on_ready(addr);
        reel_share::listen::serve(listener, app, reel_share::listen::Limits::default(), Arc::default(), None, std::future::pending()).await;
        Ok(())
    })
}
