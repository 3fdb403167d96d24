//! Recordings in progress, remembered on disk so that a crash never loses one.
//!
//! Each running recording writes a small JSON file into the sessions folder (the platform state
//! dir, or `$REEL_STATE_DIR`) naming its fragmented partial file and the final path it was meant
//! for. A clean stop removes it. Whatever is left belongs to a recording that was killed;
//! `reel recover` (and the app at start) finishes those into final MP4s.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use reel_codec::remux;

use crate::RecordError;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Session {
    pub partial: PathBuf,
    pub output: PathBuf,
    pub pid: u32,
    pub started_unix: u64,
    #[serde(default)]
    pub title: Option<String>,
}

/// The folder that holds session files.
pub fn sessions_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("REEL_STATE_DIR") {
        return PathBuf::from(d).join("sessions");
    }
    let base =
        directories::ProjectDirs::from("", "", "reel").map(|p| p.state_dir().unwrap_or(p.data_local_dir()).to_path_buf()).unwrap_or_else(|| std::env::temp_dir().join("reel"));
    base.join("sessions")
}

/// Where a recording to `output` keeps its fragmented file while running: hidden, beside the
/// output, so the final rename stays on one filesystem.
pub fn partial_path(output: &Path) -> PathBuf {
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    output.with_file_name(format!(".{name}.reel-partial.mp4"))
}

/// The lock file a running recording holds (an exclusive `flock`) beside its partial: whether
/// a recording is alive is whether this lock is held, never a PID (which the system reuses).
pub fn lock_path(partial: &Path) -> PathBuf {
    let name = partial.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    partial.with_file_name(format!("{name}.lock"))
}

/// A running recording's hold on its partial file: the lock is held until it is dropped;
/// the lock file goes with it once the partial is gone (finished), and stays, unlocked, beside
/// a partial left for recovery.
pub struct Claim {
    _file: std::fs::File,
    lock: PathBuf,
    partial: PathBuf,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.partial.exists() {
            let _ = std::fs::remove_file(&self.lock);
        }
    }
}

/// Whether the lock beside `partial` is held by a running recording (`None`: no lock file).
fn lock_held(partial: &Path) -> Option<bool> {
    let f = std::fs::OpenOptions::new().write(true).open(lock_path(partial)).ok()?;
    match f.try_lock() {
        Ok(()) => {
            let _ = f.unlock();
            Some(false)
        }
        Err(std::fs::TryLockError::WouldBlock) => Some(true),
        Err(_) => Some(false),
    }
}

/// Claims `partial` for a new recording to `output`: takes the lock (refused while another
/// recording to the same output runs) and creates the partial file new (refused when an
/// interrupted recording's partial waits there for recovery: it is never deleted to make room).
pub fn claim(partial: &Path, output: &Path) -> Result<Claim, RecordError> {
    let lock = lock_path(partial);
    let io = |e: std::io::Error| RecordError::Unwritable { path: output.to_path_buf(), reason: e.to_string() };
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(RecordError::OutputBusy(output.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    // A partial with nothing in it (a recording killed before its first fragment) holds
    // nothing to recover: it does not block the output.
    if std::fs::metadata(partial).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(partial);
    }
    // After the lock, the lock file must still be the one at its name (a finishing recording
    // removes it): else this lock guards nothing.
    {
        use std::os::unix::fs::MetadataExt;
        let same = file.metadata().ok().zip(std::fs::metadata(&lock).ok()).is_some_and(|(a, b)| a.ino() == b.ino() && a.dev() == b.dev());
        if !same {
            return Err(RecordError::OutputBusy(output.to_path_buf()));
        }
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).open(partial) {
        // The partial's name is made durable before anything is recorded into it: its bytes,
        // synced every second, are lost with it otherwise.
        Ok(_) => match reel_media::durable::sync_parent(partial) {
            Ok(()) => Ok(Claim { _file: file, lock, partial: partial.to_path_buf() }),
            Err(e) => Err(RecordError::Unwritable { path: output.to_path_buf(), reason: e.to_string() }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(RecordError::WaitingForRecovery(output.to_path_buf())),
        Err(e) => Err(RecordError::Unwritable { path: output.to_path_buf(), reason: e.to_string() }),
    }
}

/// The output a partial file was meant for (from its name).
fn output_from_partial(partial: &Path) -> Option<PathBuf> {
    let name = partial.file_name()?.to_str()?;
    let inner = name.strip_prefix('.')?.strip_suffix(".reel-partial.mp4")?;
    Some(partial.with_file_name(inner))
}

impl Session {
    pub fn new(partial: PathBuf, output: PathBuf, title: Option<String>) -> Self {
        let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Session { partial, output, pid: std::process::id(), started_unix, title }
    }

    fn file(&self) -> PathBuf {
        sessions_dir().join(format!("{}-{}.json", self.pid, self.started_unix))
    }

    /// Writes the session file (atomically: temp file + rename).
    pub fn save(&self) -> Result<PathBuf, RecordError> {
        let dir = sessions_dir();
        reel_media::durable::create_dir_all(&dir).map_err(|e| RecordError::Io { path: dir.clone(), reason: e.to_string() })?;
        let path = self.file();
        reel_media::durable::write_json(&path, self).map_err(|e| RecordError::Io { path: path.clone(), reason: e.to_string() })?;
        Ok(path)
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_file(self.file());
    }

    /// Is the recording still running? (Then it is not interrupted, just busy.) Told by the
    /// lock it holds beside its partial; sessions from before that lock by their process.
    pub fn is_live(&self) -> bool {
        if let Some(held) = lock_held(&self.partial) {
            return held;
        }
        if self.pid == std::process::id() {
            return false;
        }
        #[cfg(target_os = "linux")]
        {
            // A zombie (killed, not yet reaped) is dead; a reused pid running something else
            // is not this recording.
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
            let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.pid)).unwrap_or_default();
            let is_reel = String::from_utf8_lossy(&cmdline).contains("reel");
            matches!(state, Some(c) if c != 'Z' && c != 'X') && is_reel
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }
}

/// Interrupted recordings: sessions whose process is gone and whose partial file still exists.
pub fn interrupted() -> Vec<Session> {
    let Ok(rd) = std::fs::read_dir(sessions_dir()) else { return Vec::new() };
    let mut out: Vec<Session> = rd
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let s: Session = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            if !s.partial.exists() {
                // Nothing left to recover: the session file is stale.
                let _ = std::fs::remove_file(e.path());
                return None;
            }
            if s.is_live() {
                return None;
            }
            if std::fs::metadata(&s.partial).is_ok_and(|m| m.len() == 0) {
                // Killed before its first fragment: nothing to offer; its leftovers go.
                let _ = std::fs::remove_file(crate::stage::events_path(&s.partial));
                let _ = std::fs::remove_file(&s.partial);
                let _ = std::fs::remove_file(lock_path(&s.partial));
                let _ = std::fs::remove_file(e.path());
                return None;
            }
            Some(s)
        })
        .collect();
    out.sort_by_key(|s| s.started_unix);
    out
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Recovered {
    pub partial: PathBuf,
    pub output: PathBuf,
    pub duration_s: f64,
}

/// A free name: `out.mp4`, else `out (recovered).mp4`, `out (recovered 2).mp4`, …
fn free_name(output: &Path) -> PathBuf {
    if !output.exists() {
        return output.to_path_buf();
    }
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = output.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_else(|| "mp4".into());
    (1..)
        .map(|i| {
            let suffix = if i == 1 { " (recovered)".to_string() } else { format!(" (recovered {i})") };
            output.with_file_name(format!("{stem}{suffix}.{ext}"))
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| output.to_path_buf())
}

/// Finishes one interrupted recording. `path` is its partial file, or the output it was meant
/// for (the partial beside it is found by name).
pub fn recover(path: &Path) -> Result<Recovered, RecordError> {
    let (partial, session) = {
        let sessions = interrupted();
        let by_partial = sessions.iter().find(|s| s.partial == path || s.output == path).cloned();
        match by_partial {
            Some(s) => (s.partial.clone(), Some(s)),
            None if output_from_partial(path).is_some() => (path.to_path_buf(), None),
            None => (partial_path(path), None),
        }
    };
    if !partial.exists() {
        return Err(RecordError::NothingToRecover(path.to_path_buf()));
    }
    let live = session.as_ref().is_some_and(|s| s.is_live()) || (session.is_none() && lock_held(&partial) == Some(true));
    // Killed before its first fragment: nothing was recorded. Its leftovers go, so they do
    // not block the output or come back at every start.
    if !live && std::fs::metadata(&partial).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(crate::stage::events_path(&partial));
        let _ = std::fs::remove_file(&partial);
        let _ = std::fs::remove_file(lock_path(&partial));
        if let Some(s) = session {
            s.remove();
        }
        return Err(RecordError::NothingToRecover(path.to_path_buf()));
    }
    if let Some(s) = &session {
        if s.is_live() {
            return Err(RecordError::StillRecording(s.pid));
        }
    } else if lock_held(&partial) == Some(true) {
        return Err(RecordError::StillRecording(0));
    }
    let output = session.as_ref().map(|s| s.output.clone()).or_else(|| output_from_partial(&partial)).unwrap_or_else(|| partial.with_extension("recovered.mp4"));
    let output = free_name(&output);
    let title = session.as_ref().and_then(|s| s.title.clone());
    // Chapters and timeline from the events written while it ran.
    let events_file = crate::stage::events_path(&partial);
    let events = crate::stage::read_events(&events_file);
    let duration = remux::scan_duration(&partial).unwrap_or(0.0);
    let chapters = crate::stage::chapters(&events, duration);
    // Never a second copy's worth of space: without room for it, the partial itself (a
    // complete fragmented MP4) becomes the final file.
    let partial_len = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    let room = remux::free_bytes(&output).is_none_or(|free| free >= partial_len + crate::SPACE_RESERVE);
    let info = if room { remux::finalize(&partial, &output, &chapters, title.as_deref())? } else { remux::finalize_in_place(&partial, &output, None)? };
    if !events.is_empty() {
        let tl = crate::stage::Timeline { version: 1, duration_s: info.duration_s, events, chapters, slides: Vec::new() };
        let _ = crate::stage::write_timeline(&crate::stage::timeline_path(&output), &tl);
    }
    let _ = std::fs::remove_file(&events_file);
    let _ = std::fs::remove_file(&partial);
    let _ = std::fs::remove_file(lock_path(&partial));
    if let Some(s) = session {
        s.remove();
    }
    Ok(Recovered { partial, output, duration_s: info.duration_s })
}

/// Recovers every interrupted recording; failures are reported per recording.
pub fn recover_all() -> Vec<(PathBuf, Result<Recovered, RecordError>)> {
    interrupted().into_iter().map(|s| (s.partial.clone(), recover(&s.partial))).collect()
}
