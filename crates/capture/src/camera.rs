//! Real cameras through nokhwa (V4L2 on Linux).
//!
//! The camera is opened on its own thread (nokhwa's handles are not `Send` on every platform),
//! which reports the outcome of opening before it starts delivering, so a missing or busy
//! camera is a clear error at start, not a silent black video.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType};
use nokhwa::Camera;
use reel_media::{Clock, Fps, Size, VideoFrame};

use crate::{CaptureError, Out, Pushed};

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

/// Resolves an index or (part of a) name to a camera index.
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

/// Opens the camera and starts delivering RGBA frames of whatever size it gives (the
/// compositor fits them). Returns once the camera is streaming, or with the error that
/// prevented it.
pub fn spawn(cam: CameraInfo, size: Size, fps: Fps, clock: Clock, out: Out<VideoFrame>) -> Result<JoinHandle<()>, CaptureError> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), CaptureError>>();
    let name = cam.name.clone();
    let handle = std::thread::Builder::new()
        .name("reel-camera".into())
        .spawn(move || {
            let format = RequestedFormat::new::<RgbFormat>(RequestedFormatType::Closest(CameraFormat::new_from(size.width, size.height, FrameFormat::MJPEG, fps.get())));
            let opened = Camera::new(CameraIndex::Index(cam.index), format).and_then(|mut c| c.open_stream().map(|_| c));
            let mut camera = match opened {
                Ok(c) => {
                    let _ = ready_tx.send(Ok(()));
                    c
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(CaptureError::CameraOpen { name: cam.name.clone(), reason: e.to_string() }));
                    return;
                }
            };
            let mut last: Option<Instant> = None;
            while !clock.is_stopped() {
                let Ok(buf) = camera.frame() else { break };
                let at = Instant::now();
                let Some(ts) = clock.media_time_of(at) else { continue };
                if let Some(prev) = last {
                    out.health().note_interval(at - prev);
                }
                last = Some(at);
                let Ok(rgb) = buf.decode_image::<RgbFormat>() else { continue };
                let (w, h) = rgb.dimensions();
                let mut rgba = Vec::with_capacity(w as usize * h as usize * 4);
                for p in rgb.as_raw().chunks_exact(3) {
                    rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
                }
                let frame = VideoFrame { ts, width: w, height: h, data: Arc::new(rgba) };
                if out.push(frame) == Pushed::Closed {
                    break;
                }
            }
            let _ = camera.stop_stream();
        })
        .map_err(|e| CaptureError::Thread(e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => Err(CaptureError::CameraOpen { name, reason: "the camera thread ended while opening".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine has no camera: opening one must be a clear error that names the way out.
    #[test]
    fn no_camera_is_a_clear_error() {
        if !list_cameras().is_empty() {
            return; // a machine with a camera: covered by the ignored hardware test below
        }
        let err = resolve(Some(0), None).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("no camera found"), "{msg}");
        assert!(msg.contains("--camera synthetic"), "{msg}");
        let err = resolve(None, Some("Logitech")).unwrap_err().to_string();
        assert!(err.contains("'Logitech'"), "{err}");
    }

    #[test]
    #[ignore = "needs a camera"]
    fn real_camera_delivers_frames() {
        let cam = resolve(None, None).expect("a camera");
        let clock = Clock::new(reel_media::ClockMode::Realtime);
        let (tx, rx) = crossbeam_channel::bounded(4);
        let out = Out::new(tx, Some(std::time::Duration::from_millis(50)), Default::default());
        clock.start();
        let h = spawn(cam, Size::new(640, 480).unwrap(), Fps::new(30).unwrap(), clock.clone(), out).unwrap();
        let f = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("a frame");
        assert!(f.width > 0 && f.height > 0);
        clock.stop();
        drop(rx);
        h.join().unwrap();
    }
}
