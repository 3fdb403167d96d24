//! Capture sources: camera (nokhwa), microphone (cpal), and the synthetic and paced sources that
//! stand in for them in tests and demos.
//!
//! Every source runs on its own thread and hands its output to a bounded channel through an
//! [`Out`], which carries the queue's full-queue policy: wait up to a budget, then drop the item
//! and count it in [`Health`]. Audio callbacks never wait (a budget of zero), because blocking a
//! device callback loses more than the one chunk. Every item is stamped with media time from the
//! recording's one [`Clock`](reel_media::Clock).
//!
//! This crate knows nothing of ffmpeg: decoding a video file into frames is the codec crate's job;
//! [`paced`] turns any iterator of frames into a camera-like source.

pub mod camera;
pub mod mic;
pub mod paced;
pub mod synthetic;
pub mod tone;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{SendTimeoutError, Sender};
use reel_media::{AudioChunk, Health, VideoFrame};

pub use camera::{list_cameras, CameraInfo};
pub use mic::{list_mics, LevelMeter, MicInfo};

/// The outcome of handing an item to a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Sent,
    /// The queue stayed full for the whole budget; the item was dropped and counted.
    Dropped,
    /// The consumer is gone: the source should stop.
    Closed,
}

/// The sending end of a bounded queue with its full-queue policy.
pub struct Out<T> {
    tx: Sender<T>,
    /// How long a producer may wait on a full queue before dropping. `None`: wait for ever
    /// (lossless, for offline renders on a virtual clock).
    budget: Option<Duration>,
    health: Arc<Health>,
}

impl<T> Clone for Out<T> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone(), budget: self.budget, health: self.health.clone() }
    }
}

impl<T> Out<T> {
    pub fn new(tx: Sender<T>, budget: Option<Duration>, health: Arc<Health>) -> Self {
        Self { tx, budget, health }
    }

    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    fn send(&self, item: T) -> Pushed {
        let r = match self.budget {
            None => self.tx.send(item).map_err(|_| SendTimeoutError::Disconnected(())),
            Some(b) if b.is_zero() => self.tx.try_send(item).map_err(|e| match e {
                crossbeam_channel::TrySendError::Full(_) => SendTimeoutError::Timeout(()),
                crossbeam_channel::TrySendError::Disconnected(_) => SendTimeoutError::Disconnected(()),
            }),
            Some(b) => self.tx.send_timeout(item, b).map_err(|e| match e {
                SendTimeoutError::Timeout(_) => SendTimeoutError::Timeout(()),
                SendTimeoutError::Disconnected(_) => SendTimeoutError::Disconnected(()),
            }),
        };
        match r {
            Ok(()) => Pushed::Sent,
            Err(SendTimeoutError::Timeout(())) => Pushed::Dropped,
            Err(SendTimeoutError::Disconnected(())) => Pushed::Closed,
        }
    }
}

impl Out<VideoFrame> {
    pub fn push(&self, frame: VideoFrame) -> Pushed {
        Health::add(&self.health.frames_captured, 1);
        Health::note_depth(&self.health.video_queue_max, self.tx.len());
        let r = self.send(frame);
        if r == Pushed::Dropped {
            Health::add(&self.health.frames_dropped, 1);
        }
        r
    }
}

impl Out<AudioChunk> {
    pub fn push(&self, chunk: AudioChunk) -> Pushed {
        Health::add(&self.health.audio_chunks, 1);
        Health::note_depth(&self.health.audio_queue_max, self.tx.len());
        let r = self.send(chunk);
        if r == Pushed::Dropped {
            Health::add(&self.health.audio_chunks_dropped, 1);
        }
        r
    }
}

/// Which camera to record, as given on the command line or in the app.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum CameraSpec {
    /// The built-in moving test pattern with sync flashes.
    Synthetic,
    /// No camera at all.
    None,
    /// A video file decoded as if it were a camera (looped).
    File(PathBuf),
    /// A device by its index in `reel devices`.
    Index(u32),
    /// A device by (part of) its name.
    Name(String),
}

impl FromStr for CameraSpec {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "synthetic" | "demo" => CameraSpec::Synthetic,
            "none" => CameraSpec::None,
            _ if s.starts_with("file:") => CameraSpec::File(PathBuf::from(&s[5..])),
            _ => match s.parse::<u32>() {
                Ok(i) => CameraSpec::Index(i),
                Err(_) => CameraSpec::Name(s.to_string()),
            },
        })
    }
}

/// Which microphone to record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum MicSpec {
    /// A 1 kHz beep of 100 ms at every whole second, on the recording clock.
    Tone,
    None,
    Default,
    Name(String),
}

impl FromStr for MicSpec {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "tone" => MicSpec::Tone,
            "none" => MicSpec::None,
            "default" => MicSpec::Default,
            _ => MicSpec::Name(s.to_string()),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("no camera found{}; pick another camera, or record with the test pattern or without a camera", wanted.as_ref().map(|w| format!(" matching '{w}'")).unwrap_or_default())]
    NoCamera { wanted: Option<String> },
    #[error("could not open camera '{name}': {reason}; check that no other program is using it, or pick another camera, the test pattern or none")]
    CameraOpen { name: String, reason: String },
    #[error("camera '{name}' is in use by another program; close it there (a video call, a browser tab) or pick another camera")]
    CameraBusy { name: String },
    #[error("no permission to use camera '{name}'; add yourself to the 'video' group (sudo usermod -aG video $USER, then log in again) or pick another camera")]
    CameraPermission { name: String },
    #[error("no microphone found{}{}; pick another microphone, or record without sound", wanted.as_ref().map(|w| format!(" matching '{w}'")).unwrap_or_default(), if available.is_empty() { String::new() } else { format!(" (available: {})", available.join(", ")) })]
    NoMic { wanted: Option<String>, available: Vec<String> },
    #[error("could not open microphone '{name}': {reason}; pick another microphone, or record without sound")]
    MicOpen { name: String, reason: String },
    #[error("audio system unavailable: {0}; record without sound, or start the sound server (PulseAudio or PipeWire)")]
    AudioHost(String),
    #[error("capture thread could not start: {0}")]
    Thread(String),
}

/// Loudness of interleaved samples: (RMS, peak), each 0..1.
pub fn level(samples: &[f32]) -> (f32, f32) {
    if samples.is_empty() {
        return (0.0, 0.0);
    }
    let (mut sum, mut peak) = (0.0f64, 0.0f32);
    for &s in samples {
        sum += (s as f64) * (s as f64);
        peak = peak.max(s.abs());
    }
    (((sum / samples.len() as f64).sqrt()) as f32, peak.min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!("synthetic".parse::<CameraSpec>().unwrap(), CameraSpec::Synthetic);
        assert_eq!("none".parse::<CameraSpec>().unwrap(), CameraSpec::None);
        assert_eq!("file:/a.mp4".parse::<CameraSpec>().unwrap(), CameraSpec::File("/a.mp4".into()));
        assert_eq!("2".parse::<CameraSpec>().unwrap(), CameraSpec::Index(2));
        assert_eq!("Logitech".parse::<CameraSpec>().unwrap(), CameraSpec::Name("Logitech".into()));
        assert_eq!("tone".parse::<MicSpec>().unwrap(), MicSpec::Tone);
        assert_eq!("default".parse::<MicSpec>().unwrap(), MicSpec::Default);
    }

    #[test]
    fn full_queue_drops_after_budget_and_counts() {
        let (tx, _rx) = crossbeam_channel::bounded(1);
        let health = Arc::new(Health::default());
        let out: Out<VideoFrame> = Out::new(tx, Some(Duration::from_millis(5)), health.clone());
        let f = || VideoFrame::new(Duration::ZERO, 16, 16, vec![0; 16 * 16 * 4]).unwrap();
        assert_eq!(out.push(f()), Pushed::Sent);
        assert_eq!(out.push(f()), Pushed::Dropped);
        assert_eq!(health.snapshot(Duration::from_millis(33)).frames_dropped, 1);
    }

    #[test]
    fn level_of_full_scale_square() {
        let (rms, peak) = level(&[1.0, -1.0, 1.0, -1.0]);
        assert!((rms - 1.0).abs() < 1e-6 && (peak - 1.0).abs() < 1e-6);
        assert_eq!(level(&[]), (0.0, 0.0));
    }
}
