//! The one API of Reel: what the `reel` CLI, the desktop app's Tauri commands and (later) the
//! HTTP routes all call. Shells parse their input, call a function here and map the error; the
//! error carries a stable `code` the UI can act on and a message that says what to do.

use std::path::Path;

pub use reel_capture::{CameraInfo, CameraSpec, MicInfo, MicSpec};
pub use reel_media::{ClockMode, Fps, Size};
pub use reel_recorder::{session, Control, RecordError, RecordOptions, Recording, Recovered, State, Summary};

/// An error as the UI sees it: `{code, message}`.
#[derive(Clone, Debug, serde::Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        ApiError { code: e.code().to_string(), message: e.to_string() }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Devices {
    pub cameras: Vec<CameraInfo>,
    pub mics: Vec<MicInfo>,
    /// Always available: the synthetic camera and tone, so Reel works with no hardware.
    pub synthetic: Vec<&'static str>,
}

pub fn devices() -> Devices {
    Devices { cameras: reel_capture::list_cameras(), mics: reel_capture::list_mics(), synthetic: vec!["camera: synthetic", "mic: tone"] }
}

/// Opens devices and the file; call `start()` on the result (after a countdown, if any).
pub fn prepare_recording(opts: RecordOptions) -> Result<Recording, ApiError> {
    Ok(Recording::prepare(opts)?)
}

pub fn interrupted_recordings() -> Vec<session::Session> {
    session::interrupted()
}

pub fn recover(path: &Path) -> Result<Recovered, ApiError> {
    Ok(session::recover(path)?)
}

pub fn recover_all() -> Vec<Result<Recovered, ApiError>> {
    session::recover_all().into_iter().map(|(_, r)| r.map_err(ApiError::from)).collect()
}
