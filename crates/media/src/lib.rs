//! Plain media types shared by every stage of Reel: frames, audio chunks, the one recording clock
//! and the health counters. No native dependencies, so every crate can use it.
//!
//! # Time
//! Every frame and every audio chunk carries a *media time*: the time since recording started,
//! with paused intervals cut out. It is given by the one [`Clock`] of a recording, so the encoder
//! can place video and audio on one timeline and they cannot drift apart: audio is aligned to the
//! clock (silence inserted or samples dropped when a device runs fast or slow), and video is
//! placed into constant-frame-rate slots by its stamp.

mod clock;
pub mod durable;
mod error_code;
mod health;
pub mod transcript;

pub use clock::{Clock, ClockMode, Wait};
pub use error_code::ErrorCode;
pub use health::{Health, HealthSnapshot};

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The sample rate of every encoded recording. Sources may deliver other rates; the encoder
/// converts.
pub const AUDIO_RATE: u32 = 48_000;

/// One RGBA video frame (8 bits per channel, rows packed: stride is `width * 4`).
///
/// Invariant: `data.len() == width * height * 4`. The pixel data is shared (`Arc`) so that a
/// frame can be duplicated into several output slots or shown in a preview without copying.
#[derive(Clone)]
pub struct VideoFrame {
    /// Media time at which this picture was captured.
    pub ts: Duration,
    pub width: u32,
    pub height: u32,
    pub data: Arc<Vec<u8>>,
}

impl VideoFrame {
    /// Wraps RGBA pixels; fails if the buffer does not match the size.
    pub fn new(ts: Duration, width: u32, height: u32, data: Vec<u8>) -> Result<Self, SizeError> {
        let want = width as usize * height as usize * 4;
        if data.len() != want {
            return Err(SizeError::BufferLength { got: data.len(), want });
        }
        Ok(Self { ts, width, height, data: Arc::new(data) })
    }

    pub fn size(&self) -> Size {
        Size { width: self.width, height: self.height }
    }
}

/// A buffer of `len` bytes taken out of `pool` that nobody else holds (reused), or a new one.
/// The caller puts it back (`pool.push`) once it has handed out its clone; neither step
/// allocates in steady state. Pixel buffers are shared (`Arc`) with queues, previews and
/// encoders, so "free" means: this pool holds the only reference.
pub fn free_buffer(pool: &mut Vec<Arc<Vec<u8>>>, len: usize) -> Arc<Vec<u8>> {
    let mut b = match pool.iter().position(|b| Arc::strong_count(b) == 1) {
        Some(i) => pool.swap_remove(i),
        None => Arc::new(Vec::new()),
    };
    // Nobody else holds it, so this neither copies nor allocates unless the size changed.
    Arc::make_mut(&mut b).resize(len, 0);
    b
}

impl fmt::Debug for VideoFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VideoFrame({}x{} @ {:?})", self.width, self.height, self.ts)
    }
}

/// What the compositor hands the encoder: a base picture that is scaled to fill the output (it
/// may be smaller, e.g. a 720p camera under a 1080p output), and at most one opaque patch drawn
/// over it at output coordinates (the picture-in-picture window).
///
/// Why not one canvas of the output size: the encoder converts every frame to YUV anyway, and
/// its scaler can enlarge while it converts. Enlarging into an RGBA canvas first would write and
/// read 8 MB more per 1080p frame for the same result.
#[derive(Clone, Debug)]
pub struct Picture {
    pub base: VideoFrame,
    pub patch: Option<Patch>,
}

/// An opaque RGBA rectangle placed at (`x`, `y`) on the output. Position and size are even, so
/// that each 2x2 block of 4:2:0 chroma belongs either to the patch or to the base.
#[derive(Clone, Debug)]
pub struct Patch {
    pub x: u32,
    pub y: u32,
    pub frame: VideoFrame,
}

impl From<VideoFrame> for Picture {
    fn from(base: VideoFrame) -> Self {
        Picture { base, patch: None }
    }
}

/// A run of interleaved `f32` samples in [-1, 1].
#[derive(Clone, Debug)]
pub struct AudioChunk {
    /// Media time of the first sample.
    pub ts: Duration,
    pub rate: u32,
    pub channels: u16,
    pub samples: Vec<f32>,
}

impl AudioChunk {
    /// Number of sample frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1) as usize
    }

    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.frames() as f64 / self.rate as f64)
    }
}

/// A picture size. Both sides are even and at least 16 (H.264 with 4:2:0 chroma needs even
/// sides), and at most 7680x4320.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl Size {
    pub const MAX: Size = Size { width: 7680, height: 4320 };

    pub fn new(width: u32, height: u32) -> Result<Self, SizeError> {
        if width < 16 || height < 16 || width > Self::MAX.width || height > Self::MAX.height {
            return Err(SizeError::OutOfRange { width, height });
        }
        if !width.is_multiple_of(2) || !height.is_multiple_of(2) {
            return Err(SizeError::Odd { width, height });
        }
        Ok(Self { width, height })
    }

    pub fn pixels(self) -> usize {
        self.width as usize * self.height as usize
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl FromStr for Size {
    type Err = SizeError;
    /// Accepts `1280x720` and the names `480p`, `720p`, `1080p`, `1440p`, `4k`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let named = match s.trim().to_ascii_lowercase().as_str() {
            "480p" => Some((854, 480)),
            "720p" => Some((1280, 720)),
            "1080p" => Some((1920, 1080)),
            "1440p" => Some((2560, 1440)),
            "4k" | "2160p" => Some((3840, 2160)),
            _ => None,
        };
        let (w, h) = match named {
            Some((w, h)) => (if w % 2 == 1 { w + 1 } else { w }, h),
            None => {
                let (w, h) = s.trim().split_once(['x', 'X']).ok_or_else(|| SizeError::Syntax(s.to_string()))?;
                let w = w.trim().parse().map_err(|_| SizeError::Syntax(s.to_string()))?;
                let h = h.trim().parse().map_err(|_| SizeError::Syntax(s.to_string()))?;
                (w, h)
            }
        };
        Size::new(w, h)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SizeError {
    #[error("size '{0}' is not WIDTHxHEIGHT (for example 1280x720) or one of 480p, 720p, 1080p, 1440p, 4k")]
    Syntax(String),
    #[error("size {width}x{height} is out of range: each side must be between 16 and 7680x4320")]
    OutOfRange { width: u32, height: u32 },
    #[error("size {width}x{height} has an odd side: H.264 needs even width and height (try {}x{})", width & !1, height & !1)]
    Odd { width: u32, height: u32 },
    #[error("pixel buffer has {got} bytes, {want} expected for RGBA")]
    BufferLength { got: usize, want: usize },
}

/// A frame rate in whole frames per second, 1 to 120.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fps(u32);

impl Fps {
    pub fn new(fps: u32) -> Result<Self, FpsError> {
        if (1..=120).contains(&fps) {
            Ok(Self(fps))
        } else {
            Err(FpsError(fps.to_string()))
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
    /// The nominal interval between frames.
    pub fn period(self) -> Duration {
        Duration::from_nanos(1_000_000_000 / self.0 as u64)
    }
    /// Media time of frame slot `n`, exact to the nanosecond.
    pub fn slot_time(self, n: u64) -> Duration {
        Duration::from_nanos(n * 1_000_000_000 / self.0 as u64)
    }
    /// The slot nearest to media time `ts`.
    pub fn slot_of(self, ts: Duration) -> u64 {
        ((ts.as_nanos() * self.0 as u128 + 500_000_000) / 1_000_000_000) as u64
    }
}

impl FromStr for Fps {
    type Err = FpsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n: u32 = s.trim().parse().map_err(|_| FpsError(s.to_string()))?;
        Fps::new(n)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("frame rate '{0}' is not a whole number from 1 to 120 (for example 30)")]
pub struct FpsError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_reject() {
        assert_eq!("1280x720".parse::<Size>().unwrap(), Size { width: 1280, height: 720 });
        assert_eq!("1080p".parse::<Size>().unwrap(), Size { width: 1920, height: 1080 });
        assert_eq!("480p".parse::<Size>().unwrap(), Size { width: 854, height: 480 });
        assert!(matches!("abc".parse::<Size>(), Err(SizeError::Syntax(_))));
        assert!(matches!("0x0".parse::<Size>(), Err(SizeError::OutOfRange { .. })));
        assert!(matches!("99999x720".parse::<Size>(), Err(SizeError::OutOfRange { .. })));
        assert!(matches!("641x480".parse::<Size>(), Err(SizeError::Odd { .. })));
    }

    #[test]
    fn fps_slots_are_exact() {
        let fps = Fps::new(30).unwrap();
        assert_eq!(fps.slot_time(30), Duration::from_secs(1));
        assert_eq!(fps.slot_of(Duration::from_millis(1000)), 30);
        assert_eq!(fps.slot_of(Duration::from_millis(1016)), 30);
        assert_eq!(fps.slot_of(Duration::from_millis(1017)), 31);
        assert!("0".parse::<Fps>().is_err());
        assert!("121".parse::<Fps>().is_err());
        assert!("x".parse::<Fps>().is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sizes_of_any_text_are_read_or_refused(s in "\\PC{0,16}|[0-9]{0,6}[xX×][0-9]{0,6}") {
            if let Ok(size) = s.parse::<Size>() {
                prop_assert!(size.width > 0 && size.height > 0 && size.width % 2 == 0 && size.height % 2 == 0, "{size:?}");
            }
        }
    }
}
