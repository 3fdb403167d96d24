//! The only crate that touches ffmpeg (through ffmpeg-next): encoding, muxing, remuxing,
//! decoding and probing. Everything above it speaks `reel_media` types.
//!
//! # How a recording is written
//! ```text
//!  RGBA frames ─> swscale (YUV 4:2:0) ─> libx264 ─┐
//!                                                 ├─> mp4 muxer, fragmented: moov first, then a
//!  f32 audio ─> (downmix/resample) ─> AAC 48 kHz ─┘   moof+mdat every ≤ 500 ms (crash-safe)
//!
//!  on stop:  fragmented file ─> remux (stream copy, chapters) ─> final MP4, index first
//! ```
//! While recording, the file is fragmented MP4 (`empty_moov`): everything written so far stays
//! playable if the process is killed, up to the last complete fragment. Fragments are cut every
//! 500 ms (and at keyframes, one a second), well inside the 1 s promise. On stop the packets are
//! copied, not re-encoded, into an ordinary MP4 whose index comes first (faststart), which is
//! what players and link unfurlers read best. [`remux::finalize`] is the same code that
//! `reel recover` runs on a file left by a crash.

pub mod analyze;
pub mod decode;
pub mod edit;
pub mod preset;
pub mod remux;
pub mod writer;
mod yuv;

use std::path::PathBuf;
use std::sync::Once;

pub use preset::Preset;
pub use writer::{EncodedPacket, Mp4Writer, ToYuv, VideoEncoder, WriterSettings};

/// Initialises ffmpeg once per process and keeps its log quiet (errors only).
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = ffmpeg_next::init();
        ffmpeg_next::log::set_level(ffmpeg_next::log::Level::Error);
    });
}

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("cannot write {path}: {reason}")]
    Create { path: PathBuf, reason: String },
    #[error("{what}: {source}")]
    Ffmpeg { what: String, source: ffmpeg_next::Error },
    #[error("encoder '{0}' is not available in this ffmpeg build; install ffmpeg with libx264 and aac")]
    MissingEncoder(&'static str),
    #[error("cannot read {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("{path} has no {kind} stream")]
    NoStream { path: PathBuf, kind: &'static str },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl CodecError {
    /// The disk (or the user's quota) is full: said by the system call that failed (ENOSPC,
    /// EDQUOT), not guessed from free space after the fact.
    pub fn is_no_space(&self) -> bool {
        let full = |errno: i32| errno == libc::ENOSPC || errno == libc::EDQUOT;
        match self {
            CodecError::Ffmpeg { source: ffmpeg_next::Error::Other { errno }, .. } => full(*errno),
            CodecError::Io { source, .. } => source.raw_os_error().is_some_and(full),
            _ => false,
        }
    }
}

/// Tells swscale which matrices to use: `rgb_to_yuv` converts full-range RGB into limited-range
/// BT.709 YUV (what the encoder tags its stream as); otherwise YUV of the given matrix (BT.709
/// when `bt709`, else BT.601) and range (`full_range_yuv`, else 16–235) into full-range RGB. Without this swscale uses
/// BT.601 both ways and colours shift visibly in players that honour the BT.709 tag.
pub(crate) fn set_colorspace(ctx: &mut ffmpeg_next::software::scaling::Context, rgb_to_yuv: bool, bt709: bool, full_range_yuv: bool) {
    use ffmpeg_next::ffi::{sws_getCoefficients, sws_setColorspaceDetails, SWS_CS_ITU601, SWS_CS_ITU709};
    let cs = if bt709 { SWS_CS_ITU709 } else { SWS_CS_ITU601 };
    // SAFETY: the context is valid and owned by the caller; the coefficient tables are static.
    unsafe {
        let yuv = sws_getCoefficients(cs);
        let rgb = sws_getCoefficients(SWS_CS_ITU601);
        let yuv_range = i32::from(full_range_yuv);
        let (inv, src_range, table, dst_range) = if rgb_to_yuv { (rgb, 1, yuv, yuv_range) } else { (yuv, yuv_range, rgb, 1) };
        sws_setColorspaceDetails(ctx.as_mut_ptr(), inv, src_range, table, dst_range, 0, 1 << 16, 1 << 16);
    }
}

pub(crate) trait Ctx<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, CodecError>;
}

impl<T> Ctx<T> for Result<T, ffmpeg_next::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, CodecError> {
        self.map_err(|source| CodecError::Ffmpeg { what: what(), source })
    }
}
