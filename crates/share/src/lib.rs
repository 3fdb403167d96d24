//! Share links and the HTTP server that serves them: tokens and passwords ([`store`]), share
//! pages and ranged media ([`server`]). Publishing to S3 builds on the same pages.

pub mod feedback;
pub mod listen;
pub mod media;
pub mod page;
pub mod server;
pub mod store;

pub use feedback::{Comment, Feedback, Reaction, REACTIONS};
pub use store::{parse_duration, Share, ShareOptions, ShareStore};

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("{0}")]
    Invalid(String),
    #[error("the share store: {0}")]
    Store(String),
    #[error("cannot listen on {0}: {1}; pick another address or port for the server")]
    Bind(String, String),
    /// A recording holds as many comments or reactions as it takes.
    #[error("{0}")]
    Full(String),
    #[error("{0}")]
    Internal(String),
}

impl ShareError {
    pub fn code(&self) -> reel_media::ErrorCode {
        match self {
            ShareError::Invalid(_) => reel_media::ErrorCode::BadInput,
            ShareError::Bind(..) => reel_media::ErrorCode::Busy,
            ShareError::Full(_) => reel_media::ErrorCode::Full,
            ShareError::Internal(_) => reel_media::ErrorCode::Internal,
            _ => reel_media::ErrorCode::Io,
        }
    }
}
