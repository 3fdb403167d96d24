//! Real cameras through nokhwa (V4L2 on Linux): listing, choosing a mode, converting frames,
//! and the camera as a device service ([`CameraDevice`]) that the preview and the recorder
//! share.
//!
//! A missing, busy or unreadable camera is a clear error at open time that names the device
//! and the way out; a camera that is unplugged later is an event the recording survives.

pub mod convert;
mod device;
pub mod mode;

pub use convert::Jpeg;
pub use device::{find_open, modes, CameraDevice, CameraStatus, Subscription};
pub use mode::{Mode, PixelFormat};

use nokhwa::utils::ApiBackend;
use reel_media::{Fps, Size};

use crate::CaptureError;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct CameraInfo {
    pub index: u32,
    pub name: String,
    pub description: String,
}

/// Lists cameras. No camera (or no camera subsystem) is an empty list, not an error.
pub fn list_cameras() -> Vec<CameraInfo> {
    match nokhwa::query(ApiBackend::Auto) {
        Ok(list) => list
            .into_iter()
            .enumerate()
            .map(|(i, c)| CameraInfo { index: c.index().as_index().unwrap_or(i as u32), name: c.human_name(), description: c.description().to_string() })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A camera with what it offers and what Reel would stream from it (`reel devices --json`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct CameraDetails {
    #[serde(flatten)]
    pub info: CameraInfo,
    pub modes: Vec<Mode>,
    /// The mode Reel would pick for the output size and rate asked about.
    pub pick: Option<Mode>,
    /// Why the modes could not be read (busy, no permission), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every camera with its modes and the pick for an output of `size` at `fps`.
pub fn describe_cameras(size: Size, fps: Fps) -> Vec<CameraDetails> {
    list_cameras()
        .into_iter()
        .map(|info| match modes(&info) {
            Ok(modes) => CameraDetails { pick: mode::pick(&modes, size, fps), modes, info, error: None },
            Err(e) => CameraDetails { info, modes: Vec::new(), pick: None, error: Some(e.to_string()) },
        })
        .collect()
}

/// Resolves an index or (part of a) name to a camera.
pub fn resolve(index: Option<u32>, name: Option<&str>) -> Result<CameraInfo, CaptureError> {
    let cams = list_cameras();
    let wanted = name.map(str::to_string).or(index.map(|i| format!("#{i}")));
    let found = match (index, name) {
        (Some(i), _) => cams.into_iter().find(|c| c.index == i),
        (None, Some(n)) => {
            let n = n.to_lowercase();
            cams.into_iter().find(|c| c.name.to_lowercase().contains(&n))
        }
        (None, None) => cams.into_iter().next(),
    };
    found.ok_or(CaptureError::NoCamera { wanted })
}

/// Opens (or shares) the camera a spec names: `Index` or `Name`. Other specs are not devices.
pub fn open(spec: &crate::CameraSpec, size: Size, fps: Fps) -> Result<std::sync::Arc<CameraDevice>, CaptureError> {
    let info = match spec {
        crate::CameraSpec::Index(i) => resolve(Some(*i), None)?,
        crate::CameraSpec::Name(n) => resolve(None, Some(n))?,
        _ => return Err(CaptureError::NoCamera { wanted: None }),
    };
    CameraDevice::open(&info, size, fps, Jpeg::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A camera that is not there (by index or name) is a clear error that names the way out,
    /// on any machine (tests/tests/camera.rs covers real cameras through the test camera).
    #[test]
    fn no_camera_is_a_clear_error() {
        let err = resolve(Some(9999), None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no camera found matching '#9999'"), "{msg}");
        assert!(msg.contains("the test pattern or without a camera"), "{msg}");
        let err = resolve(None, Some("No such camera xyz")).unwrap_err().to_string();
        assert!(err.contains("'No such camera xyz'"), "{err}");
    }
}
