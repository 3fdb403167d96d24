//! The desktop shell: windows and commands of a few lines each over `reel_app` (its `studio`
//! for the recorder, the library and share APIs for the rest). Errors cross into the UI as
//! `{code, message}` (reel_app::ApiError).
//!
//! The app runs two servers in-process: the share server (links, on loopback or the LAN as set,
//! port 8787 kept across restarts) and its own loopback-only server (`reel_app::http`): media in
//! the webview must play from http://127.0.0.1 (WebKitGTK cannot play it from tauri://), under
//! a random secret per start, with the Host header checked.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::sync::{Arc, OnceLock};

use reel_app::studio::{Status, Studio, StudioConfig};
use reel_app::ApiError;
use tauri::ipc::{Channel, Response};
use tauri::State;

struct App {
    studio: Arc<Studio>,
    secret: String,
    /// The app's own loopback server's address, once it listens.
    server: Arc<OnceLock<Result<String, ApiError>>>,
}

type Api<T> = Result<T, ApiError>;

/// Reads the library's server record and may write the demo deck: off the main thread.
#[tauri::command]
async fn app_info(app: State<'_, App>) -> Api<reel_app::studio::AppInfo> {
    let server = app.server.get().cloned().unwrap_or_else(|| Err(ApiError { code: reel_app::ErrorCode::Busy, message: "the media server is still starting".into() }))?;
    let (studio, secret) = (app.studio.clone(), app.secret.clone());
    blocking(move || Ok(studio.info(&server, &secret))).await
}

/// Off the main thread: reading a camera's modes opens it for a moment.
#[tauri::command]
async fn devices(app: State<'_, App>) -> Api<reel_app::Devices> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.devices())).await
}

/// The microphone level and the camera's state (opens the level meter on first use).
#[tauri::command]
async fn live(app: State<'_, App>) -> Api<reel_app::studio::Live> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.live())).await
}

/// The recorder view is off screen: close the preview's camera and the level meter.
#[tauri::command]
async fn release_devices(app: State<'_, App>) -> Api<()> {
    let studio = app.studio.clone();
    blocking(move || {
        studio.release();
        Ok(())
    })
    .await
}

/// Reads the state folder: off the main thread, as every command that touches the disk.
#[tauri::command]
async fn interrupted() -> Api<Vec<reel_app::session::Session>> {
    blocking(|| Ok(reel_app::interrupted_recordings())).await
}

/// Finishes every interrupted recording; those meant for the library join it at once.
#[tauri::command]
async fn recover_all(app: State<'_, App>) -> Api<Vec<Result<reel_app::Recovered, ApiError>>> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.recover_all())).await
}

/// Off the main thread: loading a deck can take a moment.
#[tauri::command]
async fn configure(app: State<'_, App>, config: StudioConfig) -> Api<usize> {
    let studio = app.studio.clone();
    blocking(move || studio.configure(config)).await
}

/// Runs `f` on a blocking thread (async commands must not hold the runtime).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Api<T> + Send + 'static) -> Api<T> {
    tauri::async_runtime::spawn_blocking(f).await.map_err(|e| ApiError { code: reel_app::ErrorCode::Internal, message: e.to_string() })?
}

/// When the process started, for the cold-start figure (`scripts/bench-desktop.sh`).
static STARTED: OnceLock<std::time::Instant> = OnceLock::new();

/// One composed frame as JPEG bytes (an ArrayBuffer in the UI).
#[tauri::command]
async fn preview(app: State<'_, App>, slide: usize, at: f64, width: u32) -> Api<Response> {
    let studio = app.studio.clone();
    let r = blocking(move || studio.preview_jpeg(slide, at, width)).await.map(Response::new);
    static FIRST: std::sync::Once = std::sync::Once::new();
    FIRST.call_once(|| {
        if let Some(t) = STARTED.get() {
            eprintln!("reel-desktop: first preview frame {:.0} ms after start", t.elapsed().as_secs_f64() * 1000.0);
        }
    });
    r
}

/// Off the main thread: opening devices and the file takes a moment.
#[tauri::command]
async fn start_recording(app: State<'_, App>) -> Api<()> {
    let studio = app.studio.clone();
    blocking(move || studio.start()).await
}

#[tauri::command]
fn recording_status(app: State<'_, App>) -> Option<Status> {
    app.studio.status()
}

#[tauri::command]
fn pause_recording(app: State<'_, App>, pause: bool) -> Api<()> {
    app.studio.pause(pause)
}

/// May load a slide: off the main thread.
#[tauri::command]
async fn stage_command(app: State<'_, App>, line: String) -> Api<()> {
    let studio = app.studio.clone();
    blocking(move || studio.command(&line)).await
}

/// Draining and finalizing blocks: on a blocking thread, not an async worker.
#[tauri::command]
async fn stop_recording(app: State<'_, App>) -> Api<reel_app::Entry> {
    let studio = app.studio.clone();
    blocking(move || studio.stop()).await
}

#[tauri::command]
async fn discard_recording(app: State<'_, App>) -> Api<()> {
    let studio = app.studio.clone();
    blocking(move || studio.discard()).await
}

#[tauri::command]
async fn library_list(app: State<'_, App>) -> Api<Vec<reel_app::Entry>> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.library().list()?)).await
}

#[tauri::command]
async fn library_search(app: State<'_, App>, query: String) -> Api<Vec<reel_app::Hit>> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.library().search(&query, 200)?)).await
}

/// A recording's transcript (words with times), or null while it has none.
#[tauri::command]
async fn transcript(app: State<'_, App>, id: String) -> Api<Option<reel_app::Transcript>> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.library().transcript(&id)?)).await
}

/// The background transcription's queue: recordings queued, running (with progress), failed.
#[tauri::command]
async fn transcripts(app: State<'_, App>) -> Api<std::collections::BTreeMap<String, reel_app::transcribe::TranscriptState>> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.transcriber().states())).await
}

/// Queues a recording for transcription (again).
#[tauri::command]
async fn transcribe(app: State<'_, App>, id: String) -> Api<()> {
    let studio = app.studio.clone();
    blocking(move || {
        let id = studio.library().resolve(&id)?;
        studio.transcriber().enqueue([id]);
        Ok(())
    })
    .await
}

#[tauri::command]
async fn recording(app: State<'_, App>, id: String) -> Api<serde_json::Value> {
    let studio = app.studio.clone();
    blocking(move || studio.recording(&id)).await
}

#[tauri::command]
async fn rename(app: State<'_, App>, id: String, title: String) -> Api<reel_app::Meta> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.library().rename(&id, &title)?)).await
}

#[tauri::command]
async fn describe(app: State<'_, App>, id: String, text: String) -> Api<reel_app::Meta> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.library().describe(&id, &text)?)).await
}

#[tauri::command]
async fn delete(app: State<'_, App>, id: String) -> Api<String> {
    let studio = app.studio.clone();
    blocking(move || reel_app::delete_recording(studio.library(), &id)).await
}

#[tauri::command]
async fn restore(app: State<'_, App>, name: String) -> Api<String> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.library().restore(&name)?)).await
}

/// Makes a link (the password's argon2 hash takes a moment: off the main thread).
#[tauri::command]
async fn share_link(app: State<'_, App>, id: String, password: Option<String>, expires: Option<String>, default_speed: Option<f64>, allow_download: Option<bool>) -> Api<String> {
    let studio = app.studio.clone();
    blocking(move || studio.share_link(&id, password, expires, default_speed, allow_download.unwrap_or(true))).await
}

#[tauri::command]
async fn s3_keys(app: State<'_, App>) -> Api<Option<String>> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.s3_keys())).await
}

/// Stores S3 keys in an owner-only file; returns the hint shown in place of the secret.
#[tauri::command]
async fn s3_keys_set(app: State<'_, App>, access_key: String, secret_key: String) -> Api<String> {
    let studio = app.studio.clone();
    blocking(move || studio.set_s3_keys(&access_key, &secret_key)).await
}

#[tauri::command]
async fn s3_keys_forget(app: State<'_, App>) -> Api<()> {
    let studio = app.studio.clone();
    blocking(move || studio.forget_s3_keys()).await
}

#[tauri::command]
async fn trash_list(app: State<'_, App>) -> Api<Vec<reel_app::studio::TrashItem>> {
    let studio = app.studio.clone();
    blocking(move || Ok(studio.trash_list())).await
}

/// Runs a long library job on a blocking thread, reporting progress (0..1) on `progress`.
async fn job<T: Send + 'static>(app: &App, progress: Channel<f64>, f: impl FnOnce(&Studio, &mut dyn FnMut(f64) -> bool) -> Api<T> + Send + 'static) -> Api<T> {
    let studio = app.studio.clone();
    tauri::async_runtime::spawn_blocking(move || {
        let mut last = -1.0;
        f(&studio, &mut |x| {
            if x - last >= 0.01 || x >= 1.0 {
                last = x;
                let _ = progress.send(x);
            }
            true
        })
    })
    .await
    .map_err(|e| ApiError { code: reel_app::ErrorCode::Internal, message: e.to_string() })?
}

#[tauri::command]
async fn trim(app: State<'_, App>, id: String, start: f64, end: f64, progress: Channel<f64>) -> Api<reel_app::Meta> {
    job(&app, progress, move |st, p| st.trim(&id, start, end, p)).await
}

#[tauri::command]
async fn cut(app: State<'_, App>, id: String, from: f64, to: f64, progress: Channel<f64>) -> Api<reel_app::Meta> {
    job(&app, progress, move |st, p| st.cut(&id, from, to, p)).await
}

/// Where the save dialog starts: ~/Videos/TITLE (SPEEDx).mp4, a name not yet taken.
#[tauri::command]
async fn export_default(app: State<'_, App>, id: String, speed: f64) -> Api<String> {
    let studio = app.studio.clone();
    blocking(move || studio.export_default(&id, speed)).await
}

/// Exports with the speed baked in to `output` (chosen in the save dialog, which asked before
/// `replace`; default: `export_default`).
#[tauri::command]
async fn export(app: State<'_, App>, id: String, speed: f64, output: Option<String>, replace: Option<bool>, progress: Channel<f64>) -> Api<String> {
    job(&app, progress, move |st, p| st.export(&id, speed, output, replace.unwrap_or(false), p)).await
}

/// Publishes to S3-compatible storage and returns the link.
#[tauri::command]
async fn publish(app: State<'_, App>, id: String, place: reel_app::studio::S3Place, progress: Channel<f64>) -> Api<String> {
    job(&app, progress, move |st, p| st.publish(&id, &place, p)).await
}

/// Makes the editor's filmstrip (served as `strip.jpg` by the app's server).
#[tauri::command]
async fn filmstrip(app: State<'_, App>, id: String) -> Api<()> {
    let lib = app.studio.library_arc();
    tauri::async_runtime::spawn_blocking(move || lib.filmstrip(&id).map(|_| ()))
        .await
        .map_err(|e| ApiError { code: reel_app::ErrorCode::Internal, message: e.to_string() })?
        .map_err(ApiError::from)
}

#[tauri::command]
async fn settings_get() -> Api<reel_app::settings::Settings> {
    blocking(|| Ok(reel_app::settings::Settings::load(&reel_app::settings::path()))).await
}

/// Saves the settings (durably, and a certificate is loaded to check it); the library
/// folder and server address apply at the next start.
#[tauri::command]
async fn settings_set(settings: reel_app::settings::Settings) -> Api<()> {
    blocking(move || settings.save(&reel_app::settings::path())).await
}

/// Every problem with the settings, each with its field: the form says them next to the fields.
#[tauri::command]
async fn settings_check(settings: reel_app::settings::Settings) -> Api<Vec<reel_app::settings::FieldProblem>> {
    blocking(move || Ok(settings.problems())).await
}

fn main() {
    let _ = STARTED.set(std::time::Instant::now());
    let settings = reel_app::settings::Settings::load(&reel_app::settings::path());
    let bind: std::net::SocketAddr = settings.server_bind.parse().unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 8787)));
    let public_url = Some(settings.public_url.clone()).filter(|u| !u.is_empty());
    let tls = settings.tls();
    let lib = match reel_app::open_library(settings.library.as_deref()) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            eprintln!("error: the library could not open: {e}");
            std::process::exit(1);
        }
    };
    let (studio, secret) = match (Studio::new(lib.clone()), reel_app::new_secret()) {
        (Ok(s), Ok(k)) => (Arc::new(s), k),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: the studio could not start: {e}");
            std::process::exit(1);
        }
    };
    // Recordings a process left as recorded (it ended right after Stop) get their download copy.
    {
        let lib = lib.clone();
        std::thread::spawn(move || reel_app::optimize_in_background(lib.clone(), reel_app::unoptimized(&lib)));
    }
    // Recordings without a transcript (made before, or while the app was closed) get one.
    {
        let studio = studio.clone();
        std::thread::spawn(move || studio.transcribe_pending());
    }
    // Two servers: the share server (links; loopback or the LAN, as set) and the app's own,
    // loopback only (the window's media; the UI over HTTP only with REEL_APP_HTTP_UI=1).
    let server = Arc::new(OnceLock::new());
    {
        let (server, secret, root, studio) = (server.clone(), secret.clone(), lib.root().to_path_buf(), studio.clone());
        let http_ui = std::env::var_os("REEL_APP_HTTP_UI").is_some_and(|v| v == "1");
        std::thread::spawn(move || {
            let r = reel_app::http::run(root, secret, http_ui.then_some(studio), |a| {
                let _ = server.set(Ok(format!("http://{a}")));
            });
            if let Err(e) = r {
                eprintln!("error: the app's media server could not start: {e}");
                let _ = server.set(Err(e));
            }
        });
    }
    {
        let (root, studio) = (lib.root().to_path_buf(), studio.clone());
        std::thread::spawn(move || {
            let r = reel_app::open_library(Some(&root)).and_then(|lib| {
                reel_app::serve_shares(&lib, bind, studio, public_url, tls, |a| {
                    // The port it got is kept for the next start, so links made now keep
                    // working after a restart (8787 was taken: another port, remembered).
                    if a.port() != bind.port() {
                        let path = reel_app::settings::path();
                        let mut s = reel_app::settings::Settings::load(&path);
                        s.server_bind = std::net::SocketAddr::new(bind.ip(), a.port()).to_string();
                        if let Err(e) = s.save(&path) {
                            eprintln!("warning: the share server's port could not be kept: {e}");
                        }
                    }
                })
            });
            if let Err(e) = r {
                eprintln!("error: the share server could not start (links made now will not open until it does): {e}");
            }
        });
    }
    let result = tauri::Builder::default()
        // The export's save dialog (the UI calls it; only `save` is allowed, capabilities/).
        .plugin(tauri_plugin_dialog::init())
        .manage(App { studio, secret, server })
        .invoke_handler(tauri::generate_handler![
            app_info,
            devices,
            live,
            release_devices,
            interrupted,
            recover_all,
            configure,
            preview,
            start_recording,
            recording_status,
            pause_recording,
            stage_command,
            stop_recording,
            discard_recording,
            library_list,
            library_search,
            recording,
            rename,
            describe,
            delete,
            restore,
            share_link,
            s3_keys,
            s3_keys_set,
            s3_keys_forget,
            trash_list,
            trim,
            cut,
            export_default,
            export,
            publish,
            settings_get,
            settings_set,
            settings_check,
            filmstrip,
            transcript,
            transcripts,
            transcribe
        ])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error: the desktop app could not start: {e}");
        std::process::exit(1);
    }
}
