//! The stable codes every Reel error carries, as the UI, the HTTP API and scripts see them
//! (`{code, message}`): one enum, so a shell can match on it and a typo is a compile error.
//! Serialized in snake_case (`"bad_input"`); the message says what to do.

/// What kind of failure an error is: what a caller can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The input was wrong (an argument, a file's content, a setting): fix it and try again.
    BadInput,
    /// What was named does not exist (a recording, a bucket, an interrupted session).
    NotFound,
    /// Reading or writing a file failed.
    Io,
    /// Something else holds it (a recording in progress, a port in use).
    Busy,
    /// The user stopped it.
    Cancelled,
    /// A bug or an impossible state: worth a report.
    Internal,
    CameraUnavailable,
    CameraBusy,
    CameraPermission,
    MicUnavailable,
    CaptureFailed,
    EncodeFailed,
    /// The recording pipeline stopped (a stage failed).
    Pipeline,
    /// The output file exists and was not to be replaced.
    OutputExists,
    /// The storage refused the credentials.
    Denied,
    /// The network failed on the way to the storage.
    Network,
    /// Too many requests in a short time: wait, then try again.
    RateLimited,
    /// A limit of how much something holds was reached (comments on a video).
    Full,
    /// The disk is full; what was recorded so far waits to be recovered.
    DiskFull,
    /// An interrupted recording waits to be recovered there first.
    NeedsRecovery,
    /// A speech model is not installed or is damaged.
    ModelMissing,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::BadInput,
        ErrorCode::NotFound,
        ErrorCode::Io,
        ErrorCode::Busy,
        ErrorCode::Cancelled,
        ErrorCode::Internal,
        ErrorCode::CameraUnavailable,
        ErrorCode::CameraBusy,
        ErrorCode::CameraPermission,
        ErrorCode::MicUnavailable,
        ErrorCode::CaptureFailed,
        ErrorCode::EncodeFailed,
        ErrorCode::Pipeline,
        ErrorCode::OutputExists,
        ErrorCode::Denied,
        ErrorCode::Network,
        ErrorCode::RateLimited,
        ErrorCode::Full,
        ErrorCode::DiskFull,
        ErrorCode::NeedsRecovery,
        ErrorCode::ModelMissing,
    ];

    /// The code as it is serialized (`bad_input`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadInput => "bad_input",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Io => "io",
            ErrorCode::Busy => "busy",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::Internal => "internal",
            ErrorCode::CameraUnavailable => "camera_unavailable",
            ErrorCode::CameraBusy => "camera_busy",
            ErrorCode::CameraPermission => "camera_permission",
            ErrorCode::MicUnavailable => "mic_unavailable",
            ErrorCode::CaptureFailed => "capture_failed",
            ErrorCode::EncodeFailed => "encode_failed",
            ErrorCode::Pipeline => "pipeline",
            ErrorCode::OutputExists => "output_exists",
            ErrorCode::Denied => "denied",
            ErrorCode::Network => "network",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Full => "full",
            ErrorCode::DiskFull => "disk_full",
            ErrorCode::NeedsRecovery => "needs_recovery",
            ErrorCode::ModelMissing => "model_missing",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn as_str_is_what_serde_writes() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::Value::String(c.as_str().into()));
        }
    }
}
