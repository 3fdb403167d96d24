//! The share server (`reel serve`; the desktop app runs the same in-process).
//!
//! ```text
//!  GET  /v/{token}              share page: a plain <video controls> that works before any
//!                               script runs, poster, Open Graph / Twitter tags; the player
//!                               script enhances it
//!  POST /v/{token}              password form → session cookie (argon2; per client: 5 wrong
//!                               tries, then a wait doubling from 1 min to 1 h; kept on disk)
//!  GET  /v/{token}/media        the MP4, byte ranges (206/416), ETag, If-Range (media.rs)
//!  GET  /v/{token}/download     the same as an attachment (403 with --no-download, when
//!                               /media also answers only a media element's ranged fetch)
//!  GET  /v/{token}/poster.jpg   GET /v/{token}/preview.gif
//!  GET  /v/{token}/chapters.vtt GET /v/{token}/captions.vtt (attached by the creator, or made from the transcript)
//!  GET  /v/{token}/feedback     this link's comments (the latest 200) and reactions, and the
//!                               recording's views (JSON)
//!  POST /v/{token}/comments     {at, name, body}   POST /v/{token}/reactions  {at, emoji}
//!  POST /v/{token}/views        {viewer}: a random id the browser keeps (unique views)
//!  GET  /assets/player.{js,css}
//! ```
//! An unknown, expired or revoked token, a wrong path, or anything else gets the same plain
//! 404: only a valid token reveals that something exists. Paths on disk come only from the
//! library's own folders, never from the request. Every response carries a strict
//! Content-Security-Policy, `nosniff` and `no-referrer` (the token is in the URL).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use reel_library::Library;
use reel_media::ErrorCode;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::feedback::Feedback;
use crate::listen::{ClientAddr, Limits, TlsAcceptor};
use crate::page::{self, esc, PageUrls, PLAYER_CSS, PLAYER_JS};
use crate::store::{new_token, Attempt, Share, ShareStore};
use crate::ShareError;

/// How long a right password keeps a browser in (the cookie's Max-Age).
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
const ATTEMPT_WINDOW: Duration = Duration::from_secs(60);
/// Comments and reactions per link per minute: enough for a room of viewers, not for a flood.
const MAX_WRITES: usize = 60;
/// Request bodies of the JSON endpoints (a 2000-character comment fits many times over).
const MAX_JSON_BYTES: usize = 16 * 1024;

pub(crate) struct Inner {
    /// Absolute address of this server as viewers reach it (for Open Graph tags).
    base_url: String,
    library: Library,
    store: ShareStore,
    /// Unlocked sessions per link id (cookie value → until when). Kept in memory: a restart
    /// asks again. Expired ones are pruned whenever a session is made.
    sessions: Mutex<HashMap<String, HashMap<String, Instant>>>,
    writes: Mutex<HashMap<String, Vec<Instant>>>,
    /// The media hot path (see [`media`]): links found valid at a validation epoch, by token.
    /// The watcher moves the epoch on whenever the store or a served file changes.
    hot: Mutex<HashMap<String, (u64, Share)>>,
    epoch: std::sync::atomic::AtomicU64,
}

/// Links kept on the hot path at most (a flood of distinct tokens cannot grow it).
const MAX_HOT: usize = 4096;
/// How often the watcher looks for changes: the longest a revocation, an expiry edit or a
/// replaced video can take to reach a viewer who is already streaming.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// Moves the epoch on when a link changed (made, revoked, by any process) or a served file
/// was replaced or removed, until the server is gone. A thread of its own: it reads SQLite
/// and stats files.
fn watch(inner: std::sync::Weak<Inner>) {
    loop {
        std::thread::sleep(WATCH_EVERY);
        let Some(st) = inner.upgrade() else { return };
        let store = st.store.changed();
        let files = crate::media::forget_changed_files();
        if store || files {
            st.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            st.hot.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(library_root: &std::path::Path, base_url: &str) -> Result<AppState, ShareError> {
        let library = Library::open(library_root).map_err(|e| ShareError::Store(e.to_string()))?;
        let store = ShareStore::open_serving(library_root)?;
        let base_url = base_url.trim_end_matches('/').to_string();
        let inner =
            Arc::new(Inner { base_url, library, store, sessions: Mutex::default(), writes: Mutex::default(), hot: Mutex::default(), epoch: std::sync::atomic::AtomicU64::new(1) });
        // The first look records the store's version; epoch 1 is trusted only after it.
        inner.store.changed();
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new().name("reel-share-watch".into()).spawn(move || watch(weak)).map_err(|e| ShareError::Internal(format!("cannot start the watcher: {e}")))?;
        Ok(AppState(inner))
    }
}

/// Runs a handler's work on the blocking pool: every handler reads SQLite or files (and a
/// page also the recording's metadata), which must not hold an async worker — a slow disk or
/// a store busy with a concurrent `reel share` would stall every viewer on that worker. Media
/// bodies are memory maps whose first 8 MiB are read in here (`media::respond`); a 206 is
/// never longer, so only a whole-file response (a download) is read while the worker sends
/// the rest of it.
async fn off(st: AppState, f: impl FnOnce(&Inner) -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(move || f(&st.0)).await.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Every "no": an unknown, revoked or expired link, a wrong path, media without its password.
/// One answer for all (nothing tells a real token from a made-up one), and a page a person can
/// read: titled, in a language, as screen readers need.
fn not_found() -> Response {
    let body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                <title>Not found</title><link rel=\"stylesheet\" href=\"/assets/player.css\"></head><body><main><p>Not found</p></main></body></html>\n";
    (StatusCode::NOT_FOUND, Html(body)).into_response()
}

fn cookie_name(share: &Share) -> String {
    format!("reel_{}", share.short_id())
}

fn unlocked(st: &Inner, share: &Share, headers: &HeaderMap) -> bool {
    if !share.has_password {
        return true;
    }
    let name = cookie_name(share);
    let sessions = st.sessions.lock().unwrap_or_else(|p| p.into_inner());
    let Some(valid) = sessions.get(&share.id) else { return false };
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .any(|(k, v)| k == name && valid.get(v).is_some_and(|until| *until > Instant::now()))
}

/// What browsers and proxies may keep: nothing of a password or expiring link (it must stop
/// working when the password or the date says so, and a shared computer's cache must not
/// show it to the next person), and for other links only with a revalidation each time (a
/// revoked link stops at once).
fn cache_policy(share: &Share, mut r: Response) -> Response {
    let private = share.has_password || share.expires.is_some();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(if private { "private, no-store" } else { "private, no-cache" }));
    if private {
        h.insert(header::VARY, HeaderValue::from_static("Cookie"));
    }
    r
}

/// 503 with a moment to wait: the store did not answer in time (never a 404, which would say
/// the link is gone).
fn busy() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::RETRY_AFTER, "1")], "The server is busy; try again in a moment.\n")
        .into_response()
}

/// The link `token` opens (valid: not revoked, not expired), or the answer to give instead.
// The error is the HTTP response itself, answered at once: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn link(st: &Inner, token: &str) -> Result<Share, Response> {
    match st.store.lookup(token) {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(not_found()),
        Err(_) => Err(busy()),
    }
}

/// The share (valid and unlocked) and the recording's folder and metadata.
#[allow(clippy::result_large_err)]
fn resolve(st: &Inner, token: &str, headers: &HeaderMap) -> Result<(Share, PathBuf, reel_library::Meta), Response> {
    let share = link(st, token)?;
    if !unlocked(st, &share, headers) {
        return Err(not_found());
    }
    let Ok((entry, Some(meta))) = st.library.show(&share.recording_id) else { return Err(not_found()) };
    let dir = entry.path.parent().ok_or_else(not_found)?.to_path_buf();
    Ok((share, dir, meta))
}

/// The share (if valid and unlocked) and the recording's folder, without reading its metadata:
/// the hot path of every media range request. The folder comes from the library's root and the
/// id stored with the share (never from the request).
#[allow(clippy::result_large_err)]
fn resolve_dir(st: &Inner, token: &str, headers: &HeaderMap) -> Result<(Share, PathBuf), Response> {
    let share = link(st, token)?;
    if !unlocked(st, &share, headers) || share.recording_id.contains(['/', '\\']) || share.recording_id.starts_with('.') {
        return Err(not_found());
    }
    let dir = st.library.root().join("recordings").join(&share.recording_id);
    Ok((share, dir))
}

async fn page(State(st): State<AppState>, UrlPath(token): UrlPath<String>, headers: HeaderMap) -> Response {
    off(st, move |st| {
        let share = match link(st, &token) {
            Ok(s) => s,
            Err(r) => return r,
        };
        if !unlocked(st, &share, &headers) {
            return cache_policy(&share, password_page(&token, None, StatusCode::OK));
        }
        let (share, dir, meta) = match resolve(st, &token, &headers) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let feedback = st.store.link_feedback(&share).unwrap_or_default();
        let captions = dir.join("captions.vtt").is_file();
        cache_policy(&share, Html(share_page(&token, &share, &meta, &st.base_url, captions, &feedback)).into_response())
    })
    .await
}

fn password_page(token: &str, error: Option<&str>, status: StatusCode) -> Response {
    let err = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e))).unwrap_or_default();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Password needed</title><link rel=\"stylesheet\" href=\"/assets/player.css\"></head><body class=\"locked\">\
         <form method=\"post\" action=\"/v/{t}\"><h1>This video is protected</h1>{err}\
         <label for=\"pw\">Password</label><input id=\"pw\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
         <button type=\"submit\">Watch</button></form></body></html>",
        t = esc(token)
    );
    (status, Html(body)).into_response()
}

fn share_page(token: &str, share: &Share, meta: &reel_library::Meta, base: &str, captions: bool, feedback: &Feedback) -> String {
    let v = format!("/v/{token}");
    let abs = format!("{base}{v}");
    let urls = PageUrls {
        page: abs.clone(),
        media: format!("{v}/media"),
        poster: format!("{v}/poster.jpg"),
        og_poster: format!("{abs}/poster.jpg"),
        og_media: (!share.no_download).then(|| format!("{abs}/media")),
        download: (!share.no_download).then(|| format!("{v}/download")),
        chapters_vtt: Some(format!("{v}/chapters.vtt")),
        captions_vtt: captions.then(|| format!("{v}/captions.vtt")),
        player_js: "/assets/player.js".into(),
        player_css: "/assets/player.css".into(),
        api: Some(v.clone()),
    };
    page::render(meta, &urls, share.default_speed, Some(feedback), "")
}

/// Counts one event for `key`; true when `max` were already counted in the last minute.
fn over_limit(map: &Mutex<HashMap<String, Vec<Instant>>>, key: &str, max: usize) -> bool {
    let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
    let v = m.entry(key.to_string()).or_default();
    v.retain(|t| t.elapsed() < ATTEMPT_WINDOW);
    if v.len() >= max {
        return true;
    }
    v.push(Instant::now());
    false
}

#[derive(serde::Deserialize)]
struct Unlock {
    password: String,
}

async fn unlock(State(st): State<AppState>, UrlPath(token): UrlPath<String>, client: Option<axum::Extension<ClientAddr>>, Form(f): Form<Unlock>) -> Response {
    let inner = st.0.clone();
    let tok = token.clone();
    let share = match tokio::task::spawn_blocking(move || link(&inner, &tok).map_err(Box::new)).await {
        Ok(Ok(s)) => s,
        Ok(Err(r)) => return *r,
        Err(_) => return busy(),
    };
    if !share.has_password {
        return Redirect::to(&format!("/v/{token}")).into_response();
    }
    // Failures are counted per client address (on disk); the SQLite work and the deliberately
    // slow hash run off the async workers.
    // Served without the accept loop that sets the client's address: one shared key, the
    // strictest reading (never a fresh budget per request).
    let client = client.map(|c| c.0 .0.to_string()).unwrap_or_else(|| "unknown".into());
    let (inner, id, pw) = (st.0.clone(), share.id.clone(), f.password);
    // At most two argon2 checks at a time (each takes ~19 MiB and a core for a moment): a
    // burst of guesses queues instead of exhausting memory.
    static VERIFY: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let Ok(_permit) = VERIFY.acquire().await else { return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response() };
    let outcome: Result<bool, Attempt> = tokio::task::spawn_blocking(move || {
        inner.store.password_attempt(&id, &client)?;
        let ok = inner.store.check_password(&id, &pw);
        if ok {
            inner.store.password_passed(&id, &client);
        }
        Ok(ok)
    })
    .await
    .unwrap_or(Err(Attempt::Busy));
    match outcome {
        Err(Attempt::Busy) => return busy(),
        Err(Attempt::Wait(wait)) => {
            let msg = format!("Too many wrong passwords. Try again in {}.", if wait >= 120 { format!("{} minutes", (wait + 59) / 60) } else { format!("{wait} seconds") });
            return cache_policy(&share, password_page(&token, Some(&msg), StatusCode::TOO_MANY_REQUESTS));
        }
        Ok(false) => return cache_policy(&share, password_page(&token, Some("That password is not right."), StatusCode::UNAUTHORIZED)),
        Ok(true) => {}
    }
    let Ok(sid) = new_token() else { return (StatusCode::INTERNAL_SERVER_ERROR, "no randomness").into_response() };
    {
        let mut sessions = st.0.sessions.lock().unwrap_or_else(|p| p.into_inner());
        // Expired sessions go whenever a new one is made: the map never grows without bound.
        for v in sessions.values_mut() {
            v.retain(|_, until| *until > Instant::now());
        }
        sessions.retain(|_, v| !v.is_empty());
        sessions.entry(share.id.clone()).or_default().insert(sid.clone(), Instant::now() + SESSION_TTL);
    }
    let secure = if st.0.base_url.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!("{}={sid}; Path=/v/{token}; Max-Age={}; HttpOnly; SameSite=Lax{secure}", cookie_name(&share), SESSION_TTL.as_secs());
    let mut r = Redirect::to(&format!("/v/{token}")).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Whether a request for the video of a `--no-download` link is a media element's: a ranged
/// fetch, and (in browsers that say) one whose destination is a video or audio element. A
/// plain fetch of the whole file — a download manager, "Save link as", `curl` — is refused.
/// This discourages; it cannot prevent (a determined viewer can send the same headers).
fn media_element_fetch(headers: &HeaderMap) -> bool {
    let ranged = headers.get(header::RANGE).is_some();
    let dest = headers.get("sec-fetch-dest").and_then(|v| v.to_str().ok());
    ranged && dest.is_none_or(|d| matches!(d, "video" | "audio"))
}

/// Serves one of the recording's own files with ranges; `attachment` adds a download name.
fn file(st: &Inner, token: &str, headers: &HeaderMap, name: &str, attachment: bool) -> Response {
    // Read before the lookup: a change the watcher sees after it makes what is cached here
    // stale at once.
    let epoch = st.epoch.load(std::sync::atomic::Ordering::Acquire);
    let (share, dir) = match resolve_dir(st, token, headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if name == "video.mp4" && !attachment {
        let mut hot = st.hot.lock().unwrap_or_else(|p| p.into_inner());
        if hot.len() >= MAX_HOT {
            hot.clear();
        }
        hot.insert(token.to_string(), (epoch, share.clone()));
    }
    if share.no_download && (attachment || (name == "video.mp4" && !media_element_fetch(headers))) {
        return cache_policy(
            &share,
            (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "This video can be watched on its page, not downloaded.\n").into_response(),
        );
    }
    let path = dir.join(name);
    let Some(resp) = crate::media::respond_at(&path, headers, epoch) else { return not_found() };
    finish_file(&share, &dir, resp, attachment)
}

/// Content-Disposition and the cache policy on a file's response.
fn finish_file(share: &Share, dir: &std::path::Path, mut resp: Response, attachment: bool) -> Response {
    let disposition = if attachment {
        let title = reel_library::Library::read_title(dir).unwrap_or_else(|| "video".into());
        let safe: String = title.chars().map(|c| if c.is_ascii_alphanumeric() || c == ' ' || c == '-' { c } else { '_' }).collect();
        format!("attachment; filename=\"{}.mp4\"", safe.trim())
    } else {
        "inline".to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    cache_policy(share, resp)
}

/// The media hot path: a range of a video served a moment ago through the same link, from
/// memory alone — no SQLite, no system call — so a viewer's every range request does not
/// cross to the blocking pool and back (that trip cost a fifth of the throughput). Taken only
/// while nothing changed since (the validation epoch, which the watcher moves on within
/// [`WATCH_EVERY`] of a revocation, any other commit, or a replaced or removed file); expiry,
/// the password session and `--no-download` are checked here on every request as on the
/// other path. `None`: not known, take the other path.
fn media_hot(st: &Inner, token: &str, headers: &HeaderMap) -> Option<Response> {
    let epoch = st.epoch.load(std::sync::atomic::Ordering::Acquire);
    let share = {
        let hot = st.hot.lock().unwrap_or_else(|p| p.into_inner());
        hot.get(token).filter(|(e, _)| *e == epoch).map(|(_, s)| s.clone())?
    };
    if share.expires.is_some_and(|e| e <= chrono::Utc::now().timestamp()) || !unlocked(st, &share, headers) || (share.no_download && !media_element_fetch(headers)) {
        return None;
    }
    let dir = st.library.root().join("recordings").join(&share.recording_id);
    let resp = crate::media::respond_cached(&dir.join("video.mp4"), headers, epoch)?;
    let mut resp = resp;
    resp.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("inline"));
    Some(cache_policy(&share, resp))
}

async fn media(State(st): State<AppState>, UrlPath(token): UrlPath<String>, headers: HeaderMap) -> Response {
    if let Some(r) = media_hot(&st.0, &token, &headers) {
        return r;
    }
    off(st, move |st| file(st, &token, &headers, "video.mp4", false)).await
}

async fn download(State(st): State<AppState>, UrlPath(token): UrlPath<String>, headers: HeaderMap) -> Response {
    off(st, move |st| file(st, &token, &headers, "video.mp4", true)).await
}

async fn poster(State(st): State<AppState>, UrlPath(token): UrlPath<String>, headers: HeaderMap) -> Response {
    off(st, move |st| file(st, &token, &headers, "poster.jpg", false)).await
}

async fn preview(State(st): State<AppState>, UrlPath(token): UrlPath<String>, headers: HeaderMap) -> Response {
    off(st, move |st| file(st, &token, &headers, "preview.gif", false)).await
}

fn json_response<T: serde::Serialize>(status: StatusCode, v: &T) -> Response {
    match serde_json::to_vec(v) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `{code, message}`, as everywhere else in Reel.
fn json_error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    json_response(status, &serde_json::json!({"code": code, "message": message}))
}

fn share_error(e: ShareError) -> Response {
    let status = match e {
        ShareError::Invalid(_) => StatusCode::BAD_REQUEST,
        ShareError::Full(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    json_error(status, e.code(), &e.to_string())
}

/// Parses a JSON body. Only `application/json` is taken: a cross-site page cannot send that
/// without a CORS preflight, which this server never grants, so no other site can post here.
// The error is the HTTP response itself, answered at once: boxing it would buy nothing.
#[allow(clippy::result_large_err)]
fn parse_json<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Response> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")) {
        return Err(json_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::BadInput, "send the request as application/json"));
    }
    serde_json::from_slice(body).map_err(|e| json_error(StatusCode::BAD_REQUEST, ErrorCode::BadInput, &format!("the request body is not what was expected: {e}")))
}

async fn feedback_get(State(st): State<AppState>, UrlPath(token): UrlPath<String>, headers: HeaderMap) -> Response {
    off(st, move |st| {
        let share = match link(st, &token) {
            Ok(s) if unlocked(st, &s, &headers) => s,
            Ok(_) => return not_found(),
            Err(r) => return r,
        };
        match st.store.link_feedback(&share) {
            Ok(f) => cache_policy(&share, json_response(StatusCode::OK, &f)),
            Err(e) => share_error(e),
        }
    })
    .await
}

#[derive(serde::Deserialize)]
struct NewComment {
    at: f64,
    #[serde(default)]
    name: String,
    body: String,
}

#[derive(serde::Deserialize)]
struct NewReaction {
    at: f64,
    emoji: String,
}

#[derive(serde::Deserialize)]
struct NewView {
    viewer: String,
}

/// What every viewer write does first: a valid, unlocked link; a JSON body of the right shape;
/// the per-link rate limit (`bucket` keeps views apart from comments and reactions). Then `f`
/// gets the store, the share, the video's duration and the body. All of it off the async
/// workers.
async fn viewer_write<T, R>(
    st: AppState,
    token: String,
    headers: HeaderMap,
    body: Bytes,
    bucket: &'static str,
    status: StatusCode,
    f: impl FnOnce(&ShareStore, &Share, f64, T) -> Result<R, ShareError> + Send + 'static,
) -> Response
where
    T: serde::de::DeserializeOwned,
    R: serde::Serialize,
{
    off(st, move |st| {
        let (share, _, meta) = match resolve(st, &token, &headers) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let input: T = match parse_json(&headers, &body) {
            Ok(v) => v,
            Err(r) => return r,
        };
        if over_limit(&st.writes, &format!("{}/{bucket}", share.id), MAX_WRITES) {
            return json_error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, &format!("Too many {bucket} on this link in the last minute; wait a moment."));
        }
        match f(&st.store, &share, meta.duration_s, input) {
            Ok(r) => json_response(status, &r),
            Err(e) => share_error(e),
        }
    })
    .await
}

async fn comment_post(State(st): State<AppState>, UrlPath(token): UrlPath<String>, headers: HeaderMap, body: Bytes) -> Response {
    viewer_write(st, token, headers, body, "comments and reactions", StatusCode::CREATED, |store, share, duration, c: NewComment| {
        store.comment(share, c.at, duration, &c.name, &c.body)
    })
    .await
}

async fn reaction_post(State(st): State<AppState>, UrlPath(token): UrlPath<String>, headers: HeaderMap, body: Bytes) -> Response {
    viewer_write(st, token, headers, body, "comments and reactions", StatusCode::CREATED, |store, share, duration, r: NewReaction| store.react(share, r.at, duration, &r.emoji))
        .await
}

async fn view_post(State(st): State<AppState>, UrlPath(token): UrlPath<String>, headers: HeaderMap, body: Bytes) -> Response {
    viewer_write(st, token, headers, body, "views", StatusCode::OK, |store, share, _, v: NewView| store.view(share, &v.viewer).map(|n| serde_json::json!({"views": n}))).await
}

async fn chapters_vtt(State(st): State<AppState>, UrlPath(token): UrlPath<String>, headers: HeaderMap) -> Response {
    off(st, move |st| {
        let (share, _, meta) = match resolve(st, &token, &headers) {
            Ok(x) => x,
            Err(r) => return r,
        };
        cache_policy(&share, ([(header::CONTENT_TYPE, "text/vtt; charset=utf-8")], reel_library::vtt::chapters_vtt(&meta.chapters)).into_response())
    })
    .await
}

async fn captions_vtt(State(st): State<AppState>, UrlPath(token): UrlPath<String>, headers: HeaderMap) -> Response {
    off(st, move |st| file(st, &token, &headers, "captions.vtt", false)).await
}

async fn asset(UrlPath(name): UrlPath<String>) -> Response {
    match name.as_str() {
        "player.js" => ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], PLAYER_JS).into_response(),
        "player.css" => ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], PLAYER_CSS).into_response(),
        _ => not_found(),
    }
}

pub fn router(state: AppState) -> Router {
    let csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; \
               connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
    Router::new()
        .route("/v/{token}", get(page).post(unlock))
        .route("/v/{token}/media", get(media))
        .route("/v/{token}/download", get(download))
        .route("/v/{token}/poster.jpg", get(poster))
        .route("/v/{token}/preview.gif", get(preview))
        .route("/v/{token}/chapters.vtt", get(chapters_vtt))
        .route("/v/{token}/captions.vtt", get(captions_vtt))
        .route("/v/{token}/feedback", get(feedback_get))
        .route("/v/{token}/comments", post(comment_post))
        .route("/v/{token}/reactions", post(reaction_post))
        .route("/v/{token}/views", post(view_post))
        .route("/assets/{name}", get(asset))
        .fallback(|| async { not_found() })
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        // A body must arrive whole within this, however slowly it trickles.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(Duration::from_secs(10)))
        .layer(SetResponseHeaderLayer::if_not_present(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp)))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
}

/// Runs the server until Ctrl-C, over TLS when `tls` is given. `on_ready` gets the bound
/// address (port 0 picks one) and returns the base URL viewers reach it at (for links and
/// Open Graph tags).
pub fn run(bind: SocketAddr, library_root: &std::path::Path, limits: Limits, tls: Option<TlsAcceptor>, on_ready: impl FnOnce(SocketAddr) -> String) -> Result<(), ShareError> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| ShareError::Internal(e.to_string()))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| ShareError::Bind(bind.to_string(), e.to_string()))?;
        let addr = listener.local_addr().map_err(|e| ShareError::Internal(e.to_string()))?;
        let base = on_ready(addr);
        let state = AppState::new(library_root, &base)?;
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        crate::listen::serve(listener, router(state), limits, Arc::default(), tls, stop).await;
        Ok(())
    })
}
