//! Publishing to S3-compatible storage (AWS S3, R2, MinIO, Garage, s3s…): links that scale past
//! one machine, on storage the user owns.
//!
//! ```text
//!  recording folder ─┬─ video.mp4 ──> multipart upload (8 MiB parts, 4 in flight, retried with
//!                    │                 backoff, resumable: upload id + part ETags kept on disk)
//!                    ├─ poster, preview, chapters.vtt, captions.vtt, meta.json, player.js/.css
//!                    └─ index.html, last: the share page's own renderer, URLs presigned or public
//!  while recording (live.rs): the fragmented MP4 only grows, so parts go up as it grows and
//!  stopping leaves only the tail to send
//! ```
//! Objects live under `PREFIX/<publication>/`, where the publication id is 128 random bits: with
//! a public bucket or CDN the link is still a capability, not an enumerable id. A multipart
//! object appears under its key only when completed, and the page is written last, so a link
//! never shows a half-uploaded video. What was published where is kept in the recording's
//! folder (`published.json`), which `reel unpublish` uses to delete the objects.

mod client;
pub mod live;
mod publish;
mod upload;

pub use client::{Client, Credentials, Target};
pub use publish::{publications, publish, publish_uploaded, unpublish, Publication, PublishOptions};
pub use upload::{Progress, Uploaded, PART_SIZE};

/// S3 presigned URLs (SigV4) last at most 7 days.
pub const MAX_PRESIGN: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NoBucket(String),
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    Network(String),
    #[error("{0}")]
    Io(String),
    #[error("the upload was cancelled; nothing was left in the bucket")]
    Cancelled,
}

impl PublishError {
    pub fn code(&self) -> reel_media::ErrorCode {
        match self {
            PublishError::Invalid(_) => reel_media::ErrorCode::BadInput,
            PublishError::NoBucket(_) => reel_media::ErrorCode::NotFound,
            PublishError::Denied(_) => reel_media::ErrorCode::Denied,
            PublishError::Network(_) => reel_media::ErrorCode::Network,
            PublishError::Io(_) => reel_media::ErrorCode::Io,
            PublishError::Cancelled => reel_media::ErrorCode::Cancelled,
        }
    }
}

/// 128 random bits, URL-safe: a publication's folder in the bucket.
/// Never starting with `-`, which a command line would read as an option.
pub(crate) fn random_id() -> Result<String, PublishError> {
    use base64::Engine;
    loop {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).map_err(|e| PublishError::Io(format!("no randomness: {e}")))?;
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        if !id.starts_with('-') {
            return Ok(id);
        }
    }
}

/// Writes JSON by rename, so a crash leaves the old file or the new one, never half of one.
pub(crate) fn write_json_atomic<T: serde::Serialize>(path: &std::path::Path, v: &T) -> Result<(), PublishError> {
    reel_media::durable::write_json(path, v).map_err(|e| PublishError::Io(format!("cannot write {}: {e}", path.display())))
}
