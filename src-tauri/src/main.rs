//! The desktop shell: windows and commands of a few lines each over `reel_app`.
//! Errors cross into the UI as `{code, message}` (reel_app::ApiError).
//!
//! The app runs the share server in-process on a loopback port: media in the webview must play
//! from http://127.0.0.1 (WebKitGTK cannot play it from tauri://), and the same server answers
//! share links while the app is open.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::sync::OnceLock;

use reel_app::ApiError;

/// The in-process server's address, once it listens.
static SERVER: OnceLock<Result<String, ApiError>> = OnceLock::new();

/// Cameras and microphones, for the recorder's pickers.
#[tauri::command]
fn devices() -> Result<reel_app::Devices, ApiError> {
    Ok(reel_app::devices())
}

/// Interrupted recordings found at start, offered for recovery.
#[tauri::command]
fn interrupted() -> Vec<reel_app::session::Session> {
    reel_app::interrupted_recordings()
}

/// Where the in-process server listens (`http://127.0.0.1:PORT`).
#[tauri::command]
fn server_address() -> Result<String, ApiError> {
    SERVER.get().cloned().unwrap_or_else(|| Err(ApiError { code: "busy".into(), message: "the media server is still starting".into() }))
}

/// Starts the share server on a free loopback port in its own thread.
fn start_server() {
    std::thread::spawn(|| {
        let r = reel_app::open_library(None).and_then(|lib| {
            reel_app::serve(&lib, std::net::SocketAddr::from(([127, 0, 0, 1], 0)), None, |a| {
                let _ = SERVER.set(Ok(format!("http://{a}")));
            })
        });
        if let Err(e) = r {
            eprintln!("error: the media server could not start: {e}");
            let _ = SERVER.set(Err(e));
        }
    });
}

fn main() {
    start_server();
    let result = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![devices, interrupted, server_address])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error: the desktop app could not start: {e}");
        std::process::exit(1);
    }
}
