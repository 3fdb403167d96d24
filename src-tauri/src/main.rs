//! The desktop shell: windows and commands of a few lines each over `reel_app`.
//! Errors cross into the UI as `{code, message}` (reel_app::ApiError).

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use reel_app::ApiError;

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

fn main() {
    let result = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![devices, interrupted])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error: the desktop app could not start: {e}");
        std::process::exit(1);
    }
}
