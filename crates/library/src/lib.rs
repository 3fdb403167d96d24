//! The library: every recording in a folder of its own, and an SQLite index over them.
//!
//! ```text
//!  LIBRARY/
//!    recordings/<id>/  video.mp4  poster.jpg  preview.gif  meta.json  [timeline.json]
//!    trash/<id>/       deleted recordings and replaced versions, until `reel trash empty`
//!    tmp/<job>/        recordings, imports and edits in progress (job.json names the process)
//!    index.sqlite      FTS5 + trigram search; a cache rebuilt from the folders
//! ```
//! Files are the truth: the index can be deleted or corrupted and is rebuilt from the folders.
//! Work happens in `tmp/` and appears in `recordings/` by one atomic rename, so nothing is ever
//! half-visible; an interrupted job's folder is removed the next time the library opens (a
//! recording's is kept for `reel recover`, and adopted once recovered). Edits never destroy: the
//! replaced video moves to the trash, restorable until the trash is emptied.

mod index;
pub mod thumbs;
mod transcripts;
pub mod vtt;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use reel_codec::edit::{self, ExportOptions, Segment};
use reel_codec::remux::Chapter;
use reel_codec::CodecError;

pub use index::Hit;
use index::Index;
pub use transcripts::VideoIdentity;

pub const META_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("no recording '{0}' in the library")]
    NotFound(String),
    #[error("'{0}' matches several recordings; give more of the id")]
    Ambiguous(String),
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("the library index: {0}")]
    Index(String),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("{0}")]
    Media(String),
    #[error("{0}")]
    Invalid(String),
    /// The file an export was to write is there already (nothing is overwritten). The CLI and
    /// the app each say what to do in their own terms.
    #[error("{0} already exists")]
    Exists(PathBuf),
    #[error("cancelled; nothing was changed")]
    Cancelled,
}

impl LibraryError {
    pub(crate) fn io(path: &Path, e: std::io::Error) -> Self {
        LibraryError::Io { path: path.to_path_buf(), reason: e.to_string() }
    }

    pub fn code(&self) -> reel_media::ErrorCode {
        match self {
            LibraryError::NotFound(_) => reel_media::ErrorCode::NotFound,
            LibraryError::Ambiguous(_) | LibraryError::Invalid(_) => reel_media::ErrorCode::BadInput,
            LibraryError::Codec(CodecError::Open { .. } | CodecError::NoStream { .. } | CodecError::Invalid { .. }) => reel_media::ErrorCode::BadInput,
            LibraryError::Cancelled => reel_media::ErrorCode::Cancelled,
            LibraryError::Exists(_) => reel_media::ErrorCode::OutputExists,
            _ => reel_media::ErrorCode::Io,
        }
    }
}

/// One change made to a recording.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Edit {
    pub op: String,
    pub params: serde_json::Value,
    pub at: String,
    /// Where the replaced video went (a trash entry).
    #[serde(default)]
    pub previous: Option<String>,
}

/// `meta.json`, versioned. Unknown fields from newer versions are ignored; missing ones default.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Meta {
    pub version: u32,
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// RFC 3339.
    pub created: String,
    #[serde(default)]
    pub duration_s: f64,
    #[serde(default)]
    pub size_bytes: u64,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
    #[serde(default)]
    pub chapters: Vec<Chapter>,
    #[serde(default)]
    pub slide_texts: Vec<String>,
    /// Layout/slide/camera events from the recording's timeline.
    #[serde(default)]
    pub timeline: Vec<serde_json::Value>,
    #[serde(default)]
    pub edits: Vec<Edit>,
    /// For imports: the file it came from.
    #[serde(default)]
    pub source: Option<String>,
    /// Which file the download copy replaced, and which it is (`Library::optimize`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimized: Option<Optimized>,
    /// Where `captions.vtt` came from: "transcript" (made from what was said, and made again
    /// when the transcript is), or absent (attached by the creator, never overwritten).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captions_from: Option<String>,
}

/// The swap `Library::optimize` made: the identities (device, inode, size, time) of the file
/// as recorded and of its download copy.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Optimized {
    pub from: String,
    pub to: String,
}

/// A recording as listed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Entry {
    pub id: String,
    pub title: String,
    pub created: String,
    pub duration_s: f64,
    pub path: PathBuf,
    /// `ok`, `metadata_unreadable` or `video_missing`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

pub struct Library {
    root: PathBuf,
    index: Mutex<Index>,
}

/// The default library folder: `$REEL_LIBRARY`, else the platform data dir.
pub fn default_root() -> PathBuf {
    if let Some(d) = std::env::var_os("REEL_LIBRARY") {
        return PathBuf::from(d);
    }
    directories::ProjectDirs::from("", "", "reel").map(|p| p.data_dir().join("library")).unwrap_or_else(|| PathBuf::from("reel-library"))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A new id: sortable by creation, unguessable enough for a local library.
fn new_id() -> String {
    let t = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let r = uuid::Uuid::new_v4().simple().to_string();
    format!("{t}-{}", &r[..6])
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Job {
    pid: u32,
    kind: String,
}

fn pid_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(')').and_then(|(_, r)| r.trim_start().chars().next());
    matches!(state, Some(c) if c != 'Z' && c != 'X')
}

/// Writes JSON durably (synced temp file of this process's own, rename, synced folder).
fn write_json_atomic<T: serde::Serialize>(path: &Path, v: &T) -> Result<(), LibraryError> {
    reel_media::durable::write_json(path, v).map_err(|e| LibraryError::io(path, e))
}

/// Puts the complete folder `new` (a job in `tmp/`) in the place of `dir`, and `dir`'s old
/// content at `trash` (an empty folder made for it). Where the filesystem has it, `new` first
/// moves to the trash name, then one atomic exchange (renameat2 RENAME_EXCHANGE) swaps it with
/// `dir`: at every moment `dir` is the old version or the new one, and the old version never
/// sits in `tmp/`, where a cleanup could take it. Elsewhere two renames, between which `dir`
/// is briefly missing but the old version is whole in the trash (and the second is undone if
/// it fails).
fn swap_dirs(new: &Path, dir: &Path, trash: &Path) -> Result<(), LibraryError> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| LibraryError::Invalid(format!("{} has a NUL in its name", p.display())));
    std::fs::rename(new, trash).map_err(|e| LibraryError::io(trash, e))?;
    let (a, b) = (c(trash)?, c(dir)?);
    // SAFETY: two valid NUL-terminated paths; renameat2 only reads them.
    let exchanged = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) } == 0;
    if exchanged {
        return Ok(());
    }
    // No exchange here: the new version back to its job name, then two renames.
    std::fs::rename(trash, new).map_err(|e| LibraryError::io(new, e))?;
    std::fs::rename(dir, trash).map_err(|e| LibraryError::io(dir, e))?;
    if let Err(e) = std::fs::rename(new, dir) {
        let _ = std::fs::rename(trash, dir);
        return Err(LibraryError::io(dir, e));
    }
    Ok(())
}

/// Reads a meta.json: Ok(meta), or Err(reason) for a corrupt one.
fn read_meta(dir: &Path) -> Result<Meta, String> {
    let p = dir.join("meta.json");
    let bytes = std::fs::read(&p).map_err(|e| format!("cannot read meta.json ({e})"))?;
    serde_json::from_slice::<Meta>(&bytes).map_err(|e| format!("meta.json is unreadable ({e}); the video is untouched"))
}

/// Maps a chapter list through kept ranges (source seconds) onto the new timeline.
pub fn shift_chapters(chapters: &[Chapter], keep: &[(f64, f64)]) -> Vec<Chapter> {
    let mut out = Vec::new();
    let mut offset = 0.0;
    for &(a, b) in keep {
        for c in chapters {
            let (s, e) = (c.start_s.max(a), c.end_s.min(b));
            if e - s > 0.05 {
                out.push(Chapter { start_s: offset + s - a, end_s: offset + e - a, title: c.title.clone() });
            }
        }
        offset += b - a;
    }
    out
}

/// Maps timeline events (`{"t": seconds, …}`) through kept ranges; events in removed parts go.
pub fn shift_events(events: &[serde_json::Value], keep: &[(f64, f64)]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut offset = 0.0;
    for &(a, b) in keep {
        for e in events {
            let t = e["t"].as_f64().unwrap_or(0.0);
            if t >= a && t < b {
                let mut e = e.clone();
                e["t"] = serde_json::json!(offset + t - a);
                out.push(e);
            }
        }
        offset += b - a;
    }
    out
}

impl Library {
    /// Opens (creating if needed) the library at `root`, cleans up after interrupted jobs, adopts
    /// recovered recordings and rebuilds the index if it is missing, corrupt or stale.
    ///
    /// The library folder is owner-only (0700): recordings, comments and links are the
    /// user's, not every account's on the machine. A folder found open to others is closed.
    pub fn open(root: &Path) -> Result<Library, LibraryError> {
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            if !root.is_dir() {
                // Made durably: a library whose own name never reached the disk would vanish
                // with everything in it at a power cut.
                if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                    reel_media::durable::create_dir_all(parent).map_err(|e| LibraryError::io(parent, e))?;
                }
                match std::fs::DirBuilder::new().mode(0o700).create(root) {
                    Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(LibraryError::io(root, e)),
                    _ => reel_media::durable::sync_parent(root).map_err(|e| LibraryError::io(root, e))?,
                }
            }
            let m = std::fs::metadata(root).map_err(|e| LibraryError::io(root, e))?;
            // A filesystem without Unix permissions (FAT, some network shares) cannot: the
            // library still works there, with a warning.
            if m.permissions().mode() & 0o077 != 0 {
                if let Err(e) = std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700)) {
                    eprintln!("warning: the library folder {} could not be made owner-only ({e}); other users of this machine may read it", root.display());
                }
            }
        }
        for d in ["recordings", "trash", "tmp"] {
            let p = root.join(d);
            reel_media::durable::create_dir_all(&p).map_err(|e| LibraryError::io(&p, e))?;
        }
        let db_path = root.join("index.sqlite");
        let index = match Index::open(&db_path) {
            Ok(i) => i,
            Err(_) => {
                // A corrupt index is only a cache: set it aside and build a new one.
                let aside = root.join(format!("index.corrupt-{}.sqlite", chrono::Utc::now().timestamp()));
                let _ = std::fs::rename(&db_path, &aside);
                for ext in ["sqlite-wal", "sqlite-shm"] {
                    let _ = std::fs::remove_file(root.join(format!("index.{ext}")));
                }
                Index::open(&db_path)?
            }
        };
        let lib = Library { root: root.to_path_buf(), index: Mutex::new(index) };
        lib.clean_tmp();
        let folders = lib.recording_dirs().len();
        if lib.lock().count()? != folders {
            lib.reindex()?;
        }
        Ok(lib)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rec_dir(&self, id: &str) -> PathBuf {
        self.root.join("recordings").join(id)
    }

    fn recording_dirs(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.root.join("recordings")).map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect()).unwrap_or_default()
    }

    /// Adopts recordings that `reel recover` (or the app) finished since the library opened,
    /// and clears leftovers of dead jobs: what opening the library does, on demand.
    pub fn refresh(&self) {
        self.clean_tmp();
    }

    /// Removes what interrupted jobs left in tmp/, and adopts recordings finished by recovery.
    fn clean_tmp(&self) {
        let Ok(rd) = std::fs::read_dir(self.root.join("tmp")) else { return };
        for e in rd.flatten() {
            let dir = e.path();
            let job: Option<Job> = std::fs::read(dir.join("job.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
            match job {
                Some(j) if pid_alive(j.pid) => continue,
                Some(j) if j.kind == "record" => {
                    let has_partial = std::fs::read_dir(&dir).map(|r| r.flatten().any(|f| f.file_name().to_string_lossy().ends_with(".reel-partial.mp4"))).unwrap_or(false);
                    if has_partial {
                        continue; // waits for `reel recover`
                    }
                    if dir.join("video.mp4").exists() {
                        let title = std::fs::read_to_string(dir.join("title.txt")).ok();
                        let _ = self.adopt(&dir, title.as_deref(), None);
                    } else {
                        let _ = std::fs::remove_dir_all(&dir);
                    }
                }
                _ => {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
    }

    /// A folder in tmp/ for a job of this process (`record`, `import`, `edit`).
    pub fn job_dir(&self, kind: &str) -> Result<(String, PathBuf), LibraryError> {
        let id = new_id();
        let dir = self.root.join("tmp").join(format!("{kind}-{id}"));
        reel_media::durable::create_dir_all(&dir).map_err(|e| LibraryError::io(&dir, e))?;
        write_json_atomic(&dir.join("job.json"), &Job { pid: std::process::id(), kind: kind.to_string() })?;
        Ok((id, dir))
    }

    /// Rebuilds the index from the folders. Returns how many recordings it holds.
    pub fn reindex(&self) -> Result<usize, LibraryError> {
        let mut metas = Vec::new();
        for dir in self.recording_dirs() {
            let id = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let (meta, status) = match read_meta(&dir) {
                Ok(m) => (Meta { id: id.clone(), ..m }, if dir.join("video.mp4").exists() { "ok" } else { "video_missing" }),
                Err(_) => (self.placeholder_meta(&id, &dir), "metadata_unreadable"),
            };
            metas.push((meta, status, transcripts::read(&dir)));
        }
        self.lock().rebuild(metas.iter().map(|(m, s, t)| (m, *s, t.as_ref())))
    }

    fn placeholder_meta(&self, id: &str, dir: &Path) -> Meta {
        let created = std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|_| now());
        Meta {
            version: META_VERSION,
            id: id.to_string(),
            title: id.to_string(),
            description: String::new(),
            created,
            duration_s: 0.0,
            size_bytes: 0,
            width: 0,
            height: 0,
            chapters: vec![],
            slide_texts: vec![],
            timeline: vec![],
            edits: vec![],
            source: None,
            optimized: None,
            captions_from: None,
        }
    }

    /// Resolves an id or a unique prefix of one.
    pub fn resolve(&self, id: &str) -> Result<String, LibraryError> {
        let id = id.trim();
        if id.is_empty() || id.contains(['/', '\\']) || id.starts_with('.') {
            return Err(LibraryError::NotFound(id.to_string()));
        }
        if self.rec_dir(id).is_dir() {
            return Ok(id.to_string());
        }
        let m = self.lock().ids_with_prefix(id)?;
        match m.len() {
            0 => Err(LibraryError::NotFound(id.to_string())),
            1 => Ok(m[0].clone()),
            _ => Err(LibraryError::Ambiguous(id.to_string())),
        }
    }

    fn entry(&self, id: &str) -> Entry {
        let dir = self.rec_dir(id);
        let path = dir.join("video.mp4");
        match read_meta(&dir) {
            Ok(m) if path.exists() => Entry { id: id.into(), title: m.title, created: m.created, duration_s: m.duration_s, path, status: "ok".into(), warning: None },
            Ok(m) => Entry {
                id: id.into(),
                title: m.title,
                created: m.created,
                duration_s: m.duration_s,
                warning: Some(format!("its video is missing from {}; restore the file there, or delete the recording", dir.display())),
                path,
                status: "video_missing".into(),
            },
            Err(reason) => {
                let p = self.placeholder_meta(id, &dir);
                Entry { id: id.into(), title: p.title, created: p.created, duration_s: 0.0, path, status: "metadata_unreadable".into(), warning: Some(reason) }
            }
        }
    }

    /// Every recording, newest first. Broken ones are listed too, with a warning.
    pub fn list(&self) -> Result<Vec<Entry>, LibraryError> {
        Ok(self
            .lock()
            .all()?
            .into_iter()
            .map(|r| {
                if r.status == "ok" {
                    Entry {
                        id: r.id.clone(),
                        title: r.title,
                        created: r.created,
                        duration_s: r.duration_s,
                        path: self.rec_dir(&r.id).join("video.mp4"),
                        status: r.status,
                        warning: None,
                    }
                } else {
                    self.entry(&r.id)
                }
            })
            .collect())
    }

    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>, LibraryError> {
        self.lock().search(query, limit)
    }

    /// The entry and its metadata (None when meta.json is unreadable).
    pub fn show(&self, id: &str) -> Result<(Entry, Option<Meta>), LibraryError> {
        let id = self.resolve(id)?;
        Ok((self.entry(&id), read_meta(&self.rec_dir(&id)).ok()))
    }

    /// Holds the library's lock file while `f` runs: metadata read-modify-write and folder moves
    /// by several `reel` processes are serialised (long media work happens outside it).
    fn locked<T>(&self, f: impl FnOnce() -> Result<T, LibraryError>) -> Result<T, LibraryError> {
        let p = self.root.join("lock");
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&p).map_err(|e| LibraryError::io(&p, e))?;
        file.lock().map_err(|e| LibraryError::io(&p, e))?;
        let r = f();
        let _ = file.unlock();
        r
    }

    fn update_meta(&self, id: &str, f: impl FnOnce(&mut Meta)) -> Result<Meta, LibraryError> {
        self.locked(|| self.update_meta_unlocked(id, f))
    }

    fn update_meta_unlocked(&self, id: &str, f: impl FnOnce(&mut Meta)) -> Result<Meta, LibraryError> {
        let dir = self.rec_dir(id);
        let mut m = read_meta(&dir).map_err(LibraryError::Invalid)?;
        f(&mut m);
        write_json_atomic(&dir.join("meta.json"), &m)?;
        self.lock().upsert(&m, "ok")?;
        Ok(m)
    }

    pub fn rename(&self, id: &str, title: &str) -> Result<Meta, LibraryError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(LibraryError::Invalid("a title cannot be empty".into()));
        }
        let id = self.resolve(id)?;
        self.update_meta(&id, |m| m.title = title.chars().take(300).collect())
    }

    pub fn describe(&self, id: &str, text: &str) -> Result<Meta, LibraryError> {
        let id = self.resolve(id)?;
        self.update_meta(&id, |m| m.description = text.chars().take(20_000).collect())
    }

    /// The editor's filmstrip (`strip.jpg`, 10 frames across the video), made once per version
    /// of the video. Returns its path.
    pub fn filmstrip(&self, id: &str) -> Result<PathBuf, LibraryError> {
        let id = self.resolve(id)?;
        let dir = self.rec_dir(&id);
        let (video, strip) = (dir.join("video.mp4"), dir.join("strip.jpg"));
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        if modified(&strip).is_some_and(|s| modified(&video).is_some_and(|v| s >= v)) {
            return Ok(strip);
        }
        let info = edit::probe(&video)?;
        thumbs::filmstrip(&video, info.duration_s, 10, &strip, info.width, info.height)?;
        Ok(strip)
    }

    /// The title in a recording folder's metadata, if readable.
    pub fn read_title(dir: &Path) -> Option<String> {
        read_meta(dir).ok().map(|m| m.title)
    }

    /// Attaches captions (WebVTT or SRT, converted) to a recording, replacing any it had.
    /// Returns where they are.
    pub fn set_captions(&self, id: &str, file: &Path) -> Result<PathBuf, LibraryError> {
        let id = self.resolve(id)?;
        let bytes = std::fs::read(file).map_err(|e| LibraryError::io(file, e))?;
        let text = vtt::normalize_captions(&bytes).map_err(|why| LibraryError::Invalid(format!("{} is not usable as captions: {why}", file.display())))?;
        let dest = self.rec_dir(&id).join("captions.vtt");
        self.locked(|| {
            reel_media::durable::write(&dest, text.as_bytes()).map_err(|e| LibraryError::io(&dest, e))?;
            self.update_meta_unlocked(&id, |m| m.captions_from = None)
        })?;
        Ok(dest)
    }

    /// Moves a recording to the trash.
    pub fn delete(&self, id: &str) -> Result<String, LibraryError> {
        let id = self.resolve(id)?;
        self.locked(|| {
            let to = self.free_trash_name(&id);
            std::fs::rename(self.rec_dir(&id), &to).map_err(|e| LibraryError::io(&to, e))?;
            self.lock().remove(&id)?;
            Ok(id.clone())
        })
    }

    fn free_trash_name(&self, base: &str) -> PathBuf {
        let t = self.root.join("trash");
        let first = t.join(base);
        if !first.exists() {
            return first;
        }
        (2..).map(|i| t.join(format!("{base}~{i}"))).find(|p| !p.exists()).unwrap_or(first)
    }

    /// A new, empty trash folder named `base`, or `base~2`, `base~3`… if taken: created (not
    /// just picked) so that two edits in the same second, even from two processes, never
    /// share one and overwrite the version kept by the other.
    fn new_trash_dir(&self, base: &str) -> Result<(String, PathBuf), LibraryError> {
        let t = self.root.join("trash");
        reel_media::durable::create_dir_all(&t).map_err(|e| LibraryError::io(&t, e))?;
        for i in 1..10_000 {
            let name = if i == 1 { base.to_string() } else { format!("{base}~{i}") };
            let p = t.join(&name);
            match reel_media::durable::create_dir(&p) {
                Ok(()) => return Ok((name, p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(LibraryError::io(&p, e)),
            }
        }
        Err(LibraryError::Invalid(format!("the trash holds 10,000 versions named {base}; empty it (reel trash empty)")))
    }

    /// What is in the trash: (trash name, meta if readable).
    pub fn trash(&self) -> Vec<(String, Option<Meta>)> {
        let mut v: Vec<(String, Option<Meta>)> = std::fs::read_dir(self.root.join("trash"))
            .map(|rd| rd.flatten().map(|e| (e.file_name().to_string_lossy().into_owned(), read_meta(&e.path()).ok())).collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Restores a trash entry as a recording (a replaced version comes back as its own
    /// recording, next to the edited one).
    pub fn restore(&self, name: &str) -> Result<String, LibraryError> {
        if name.contains(['/', '\\']) || name.starts_with('.') || name.is_empty() {
            return Err(LibraryError::NotFound(name.into()));
        }
        let from = self.root.join("trash").join(name);
        if !from.is_dir() {
            return Err(LibraryError::NotFound(format!("{name} (in the trash)")));
        }
        // `ID`, `ID~2` (deleted twice) or `ID@STAMP[~N]` (a version an edit replaced): it comes
        // back as ID, or as a new recording beside ID when ID is still in the library.
        let base = name.split(['~', '@']).next().unwrap_or(name).to_string();
        let id = if base.is_empty() || self.rec_dir(&base).exists() { new_id() } else { base };
        std::fs::rename(&from, self.rec_dir(&id)).map_err(|e| LibraryError::io(&from, e))?;
        let dir = self.rec_dir(&id);
        match read_meta(&dir) {
            Ok(mut m) => {
                if m.id != id {
                    m.id = id.clone();
                    write_json_atomic(&dir.join("meta.json"), &m)?;
                }
                self.lock().upsert(&m, "ok")?;
                if let Some(t) = transcripts::read(&dir) {
                    self.lock().set_spoken(&id, &t)?;
                }
            }
            Err(_) => {
                self.lock().upsert(&self.placeholder_meta(&id, &dir), "metadata_unreadable")?;
            }
        }
        Ok(id)
    }

    /// Deletes everything in the trash for good. Returns how many entries went.
    pub fn empty_trash(&self) -> Result<usize, LibraryError> {
        let mut n = 0;
        for (name, _) in self.trash() {
            let p = self.root.join("trash").join(&name);
            std::fs::remove_dir_all(&p).map_err(|e| LibraryError::io(&p, e))?;
            n += 1;
        }
        Ok(n)
    }

    /// Turns a finished job folder (with video.mp4, maybe timeline.json) into a recording:
    /// poster, preview and meta are made there, then the folder moves into place at once.
    pub fn adopt(&self, job: &Path, title: Option<&str>, source: Option<String>) -> Result<Entry, LibraryError> {
        let video = job.join("video.mp4");
        // The recorder writes `video.timeline.json` beside `video.mp4`; the library keeps it as
        // `timeline.json`.
        let _ = std::fs::rename(job.join("video.timeline.json"), job.join("timeline.json"));
        let timeline: Option<serde_json::Value> = std::fs::read(job.join("timeline.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
        // A recording's length is in its timeline (the recorder's own count): the file's header
        // is then enough, in constant time; anything else is probed whole.
        let recorded = timeline.as_ref().and_then(|t| t["duration_s"].as_f64()).filter(|d| d.is_finite() && *d > 0.0);
        let fragmented = reel_codec::remux::is_fragmented(&video).unwrap_or(false);
        // A recording just stopped is read from its first fragments alone (its header, its
        // poster): the same few milliseconds at any length.
        let head = job.join(".head.mp4");
        let peek = if fragmented && recorded.is_some() && reel_codec::remux::write_head(&video, &head, 8 << 20).is_ok() { &head } else { &video };
        let info = match recorded {
            Some(d) => edit::probe_header(peek).map(|i| edit::MediaInfo { duration_s: d, ..i }),
            None => edit::probe(&video),
        };
        let info = match info {
            Ok(i) => i,
            Err(e) => {
                let _ = std::fs::remove_file(&head);
                return Err(e.into());
            }
        };
        let chapters: Vec<Chapter> = timeline.as_ref().and_then(|t| serde_json::from_value(t["chapters"].clone()).ok()).unwrap_or_default();
        let slide_texts: Vec<String> =
            timeline.as_ref().and_then(|t| t["slides"].as_array().cloned()).unwrap_or_default().iter().map(|s| s["text"].as_str().unwrap_or_default().to_string()).collect();
        let events: Vec<serde_json::Value> = timeline.as_ref().and_then(|t| t["events"].as_array().cloned()).unwrap_or_default();
        let first_slide_title = timeline
            .as_ref()
            .and_then(|t| t["slides"].as_array().and_then(|a| a.first().cloned()))
            .and_then(|s| s["text"].as_str().and_then(|t| t.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)));
        let created = now();
        let title = title
            .map(str::to_string)
            .filter(|t| !t.trim().is_empty())
            .or(first_slide_title)
            .unwrap_or_else(|| format!("Recording {}", chrono::Local::now().format("%Y-%m-%d %H:%M")));
        let posted = thumbs::poster(peek, (info.duration_s * 0.1).min(1.0), &job.join("poster.jpg"), info.width, info.height);
        let _ = std::fs::remove_file(&head);
        posted?;
        // A recording just stopped (still fragmented) is in the library at once: its animated
        // preview comes with the faststart copy (`optimize`), after.
        if !fragmented {
            thumbs::preview(&video, 3.0, &job.join("preview.gif"), info.width, info.height)?;
        }
        let job_name = job.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let id = job_name.split_once('-').map(|(_, id)| id.to_string()).unwrap_or_else(new_id);
        let meta = Meta {
            version: META_VERSION,
            id: id.clone(),
            title,
            description: String::new(),
            created,
            duration_s: info.duration_s,
            size_bytes: std::fs::metadata(&video).map(|m| m.len()).unwrap_or(0),
            width: info.width,
            height: info.height,
            chapters,
            slide_texts,
            timeline: events,
            edits: vec![],
            source,
            optimized: None,
            captions_from: job.join("captions.vtt").exists().then(|| "transcript".to_string()),
        };
        write_json_atomic(&job.join("meta.json"), &meta)?;
        let _ = std::fs::remove_file(job.join("title.txt"));
        let dest = self.rec_dir(&id);
        std::fs::rename(job, &dest).map_err(|e| LibraryError::io(&dest, e))?;
        // The recording's new name in the library survives a power cut before anything that
        // made it (a partial, a job) is cleaned up.
        reel_media::durable::sync_parent(&dest).map_err(|e| LibraryError::io(&dest, e))?;
        // Only then does the job's marker go (a folder still in tmp/ without one is taken by
        // the cleanup), with the folder synced so that it stays gone.
        if std::fs::remove_file(dest.join("job.json")).is_ok() {
            let _ = reel_media::durable::sync_parent(&dest.join("job.json"));
        }
        self.lock().upsert(&meta, "ok")?;
        if let Some(t) = transcripts::read(&dest) {
            self.lock().set_spoken(&id, &t)?;
        }
        Ok(self.entry(&id))
    }

    /// Imports any video ffmpeg reads: H.264 is copied, anything else re-encoded to H.264/AAC.
    pub fn import(&self, file: &Path, title: Option<&str>, progress: edit::Progress<'_>) -> Result<Entry, LibraryError> {
        let info = edit::probe(file)?;
        if info.duration_s <= 0.0 {
            return Err(LibraryError::Invalid(format!("{} has no duration: it is truncated or not a video", file.display())));
        }
        let (_, job) = self.job_dir("import")?;
        let out = job.join("video.mp4");
        let seg = [Segment { path: file.to_path_buf(), start: 0.0, end: info.duration_s }];
        let fps = reel_media::Fps::new((info.fps.round() as u32).clamp(1, 60)).map_err(|e| LibraryError::Invalid(e.to_string()))?;
        let reencode = |progress: edit::Progress<'_>| {
            edit::export(&seg, &out, &ExportOptions { speed: 1.0, size: None, fps, preset: reel_codec::Preset::offline() }, &[], progress).map(|_| ())
        };
        let r = if info.video_codec == "h264" {
            // H.264 is copied as it is; when its audio cannot go into an MP4 as it is (PCM,
            // for one), the whole file is re-encoded instead.
            match edit::splice(&seg, &out, &[], &mut *progress) {
                Err(e) if !matches!(&e, CodecError::Invalid { reason, .. } if reason == "cancelled") && !matches!(e, CodecError::Io { .. }) => {
                    let _ = std::fs::remove_file(&out);
                    reencode(progress)
                }
                r => r.map(|_| ()),
            }
        } else {
            reencode(progress)
        };
        if let Err(e) = r {
            let _ = std::fs::remove_dir_all(&job);
            // Said of the file the user gave, not of the working copy in the library's tmp.
            return Err(match map_cancel(e) {
                LibraryError::Cancelled => LibraryError::Cancelled,
                // A full disk or an unwritable library is not the file's fault.
                e @ LibraryError::Codec(CodecError::Io { .. }) => e,
                e => LibraryError::Invalid(format!(
                    "{} could not be imported: {}; it may be truncated or damaged",
                    file.display(),
                    e.to_string().replace(&out.display().to_string(), "the imported copy")
                )),
            });
        }
        let name = file.file_stem().map(|s| s.to_string_lossy().into_owned());
        let r = self.adopt(&job, title.or(name.as_deref()), Some(file.display().to_string()));
        if let Err(e) = r {
            let _ = std::fs::remove_dir_all(&job);
            if matches!(e, LibraryError::Io { .. }) {
                return Err(e);
            }
            return Err(LibraryError::Invalid(format!(
                "{} could not be imported: {}; it may be truncated or damaged",
                file.display(),
                e.to_string().replace(&out.display().to_string(), "the imported copy")
            )));
        }
        r
    }

    /// Replaces a recording's video with the kept ranges of it; the old version goes to the
    /// trash. The new version is built whole beside the old one (video, poster, preview,
    /// captions, metadata, every other file), synced, then swapped in with one atomic rename
    /// under the library lock, its metadata re-read under that lock: a rename made while the
    /// edit ran is kept, and a crash at any moment leaves the old version or the new one, never
    /// a folder without its video or its metadata.
    pub(crate) fn replace_video(&self, id: &str, op: &str, params: serde_json::Value, keep: &[(f64, f64)], progress: edit::Progress<'_>) -> Result<Meta, LibraryError> {
        let dir = self.rec_dir(id);
        let meta = read_meta(&dir).map_err(LibraryError::Invalid)?;
        let video = dir.join("video.mp4");
        let identity = file_identity;
        let before = identity(&video);
        let info = edit::probe(&video)?;
        for &(a, b) in keep {
            if a < -1e-6 || b > info.duration_s + 0.05 || b <= a {
                return Err(LibraryError::Invalid(format!("{a:.2}–{b:.2} s is outside the recording, which lasts {:.2} s", info.duration_s)));
            }
        }
        let segs: Vec<Segment> = keep.iter().map(|&(a, b)| Segment { path: video.clone(), start: a, end: b.min(info.duration_s) }).collect();
        let chapters = shift_chapters(&meta.chapters, keep);
        let (_, job) = self.job_dir("edit")?;
        let out = job.join("video.mp4");
        let mode = match edit::splice(&segs, &out, &chapters, progress) {
            Ok((_, mode)) => mode,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&job);
                return Err(map_cancel(e));
            }
        };
        let mut params = params;
        params["mode"] = serde_json::json!(mode);
        let new_info = edit::probe(&out)?;
        thumbs::poster(&out, (new_info.duration_s * 0.1).min(1.0), &job.join("poster.jpg"), new_info.width, new_info.height)?;
        thumbs::preview(&out, 3.0, &job.join("preview.gif"), new_info.width, new_info.height)?;
        let r = self.locked(|| {
            // Under the lock, the recording as it is now: a rename or description made while
            // the edit ran is kept. Another edit that replaced the video meanwhile wins, and
            // this one changes nothing.
            let mut m = read_meta(&dir).map_err(LibraryError::Invalid)?;
            if identity(&video) != before && !only_optimized(&m, &video, before) {
                return Err(LibraryError::Invalid(format!("{id} was edited elsewhere while this edit ran; nothing was changed; try again")));
            }
            if let Ok(c) = std::fs::read_to_string(dir.join("captions.vtt")) {
                let p = job.join("captions.vtt");
                reel_media::durable::write(&p, vtt::shift_captions(&c, keep).as_bytes()).map_err(|e| LibraryError::io(&p, e))?;
            }
            let spoken = transcripts::read(&dir).map(|t| t.map_through(keep));
            if let Some(t) = &spoken {
                transcripts::write(&job, t, m.captions_from.is_some())?;
            }
            // Everything else in the folder comes along (hard links: no copy). The filmstrip
            // is of the old video and is made again when asked for.
            let replaced = ["video.mp4", "poster.jpg", "preview.gif", "meta.json", "captions.vtt", "strip.jpg", "transcript.json"];
            for e in std::fs::read_dir(&dir).map_err(|e| LibraryError::io(&dir, e))?.flatten() {
                let name = e.file_name();
                if replaced.iter().any(|r| name == *r) || !e.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                let to = job.join(&name);
                std::fs::hard_link(e.path(), &to).or_else(|_| std::fs::copy(e.path(), &to).map(|_| ())).map_err(|err| LibraryError::io(&to, err))?;
            }
            let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string();
            let (trash_name, keep_dir) = self.new_trash_dir(&format!("{id}@{stamp}"))?;
            m.duration_s = new_info.duration_s;
            m.size_bytes = std::fs::metadata(job.join("video.mp4")).map(|x| x.len()).unwrap_or(0);
            m.chapters = chapters.clone();
            m.timeline = shift_events(&m.timeline, keep);
            m.edits.push(Edit { op: op.into(), params: params.clone(), at: now(), previous: Some(trash_name) });
            write_json_atomic(&job.join("meta.json"), &m)?;
            // The swap: the new folder takes the recording's place in one atomic exchange; the
            // old one lands at its trash name (restorable). Nothing is deleted after it.
            if let Err(e) = swap_dirs(&job, &dir, &keep_dir) {
                let _ = std::fs::remove_dir(&keep_dir);
                return Err(e);
            }
            // Applied: what follows can only be late, not undo it. The trash first: it took
            // part in both renames (from tmp/, then the exchange), so the new version is out
            // of tmp/ for good before the recording's own folder is synced.
            for d in [&keep_dir, &dir] {
                if let Err(e) = reel_media::durable::sync_parent(d) {
                    eprintln!("warning: {} could not be synced: {e}", d.display());
                }
            }
            if std::fs::remove_file(dir.join("job.json")).is_ok() {
                let _ = reel_media::durable::sync_parent(&dir.join("job.json"));
            }
            // One index lock at a time (a guard held across both calls would deadlock).
            let upserted = self.lock().upsert(&m, "ok");
            let indexed = upserted.and_then(|_| match &spoken {
                Some(t) => self.lock().set_spoken(id, t),
                None => Ok(()),
            });
            if let Err(e) = indexed {
                eprintln!("warning: the search index lags behind this edit ({e}); `reel library reindex` catches it up");
            }
            Ok(m)
        });
        if job.exists() {
            // Not swapped (an error before): the job folder holds only the unused new version.
            let _ = std::fs::remove_dir_all(&job);
        }
        r
    }

    pub fn trim(&self, id: &str, start: f64, end: f64, progress: edit::Progress<'_>) -> Result<Meta, LibraryError> {
        let id = self.resolve(id)?;
        if !(start.is_finite() && end.is_finite()) || start < 0.0 || end <= start {
            return Err(LibraryError::Invalid(format!("cannot keep {start} s to {end} s: the start must be before the end, both in seconds ≥ 0")));
        }
        self.replace_video(&id, "trim", serde_json::json!({"start": start, "end": end}), &[(start, end)], progress)
    }

    pub fn cut(&self, id: &str, from: f64, to: f64, progress: edit::Progress<'_>) -> Result<Meta, LibraryError> {
        let id = self.resolve(id)?;
        let dur = read_meta(&self.rec_dir(&id)).map(|m| m.duration_s).unwrap_or(0.0);
        if !(from.is_finite() && to.is_finite()) || from < 0.0 || to <= from || to > dur + 0.05 {
            return Err(LibraryError::Invalid(format!("cannot cut {from} s to {to} s: the range must lie inside the recording (0–{dur:.2} s), its start before its end")));
        }
        let mut keep = Vec::new();
        if from > 0.05 {
            keep.push((0.0, from));
        }
        if to < dur - 0.05 {
            keep.push((to, dur));
        }
        if keep.is_empty() {
            return Err(LibraryError::Invalid("that would cut everything; delete the recording instead".into()));
        }
        self.replace_video(&id, "cut", serde_json::json!({"from": from, "to": to}), &keep, progress)
    }

    /// Joins recordings into a new one; the originals stay.
    pub fn concat(&self, ids: &[String], title: &str, progress: edit::Progress<'_>) -> Result<Entry, LibraryError> {
        if ids.len() < 2 {
            return Err(LibraryError::Invalid("concat needs at least two recordings".into()));
        }
        let mut segs = Vec::new();
        let mut chapters = Vec::new();
        let mut offset = 0.0;
        // What was said in each, one after the other (only when each has its transcript).
        let mut spoken: Option<reel_media::transcript::Transcript> = None;
        let mut all_spoken = true;
        for id in ids {
            let id = self.resolve(id)?;
            let dir = self.rec_dir(&id);
            let meta = read_meta(&dir).map_err(LibraryError::Invalid)?;
            let video = dir.join("video.mp4");
            let info = edit::probe(&video)?;
            for c in &meta.chapters {
                chapters.push(Chapter { start_s: c.start_s + offset, end_s: c.end_s + offset, title: c.title.clone() });
            }
            if meta.chapters.is_empty() {
                chapters.push(Chapter { start_s: offset, end_s: offset + info.duration_s, title: meta.title.clone() });
            }
            match transcripts::read(&dir) {
                Some(t) => {
                    let t = t.map_through(&[(0.0, info.duration_s)]);
                    let s = spoken.get_or_insert_with(|| reel_media::transcript::Transcript { words: vec![], ..t.clone() });
                    s.words.extend(t.words.into_iter().map(|w| reel_media::transcript::Word { start: w.start + offset, end: w.end + offset, ..w }));
                }
                None => all_spoken = false,
            }
            offset += info.duration_s;
            segs.push(Segment { path: video, start: 0.0, end: info.duration_s });
        }
        let (_, job) = self.job_dir("concat")?;
        if let Err(e) = edit::splice(&segs, &job.join("video.mp4"), &chapters, progress) {
            let _ = std::fs::remove_dir_all(&job);
            return Err(map_cancel(e));
        }
        let tl = serde_json::json!({"chapters": chapters, "slides": [], "events": []});
        write_json_atomic(&job.join("timeline.json"), &tl)?;
        if let Some(t) = spoken.filter(|_| all_spoken) {
            transcripts::write(&job, &t, true)?;
        }
        let r = self.adopt(&job, Some(title), None);
        if r.is_err() {
            let _ = std::fs::remove_dir_all(&job);
        }
        r
    }

    /// Makes a recording that went into the library as it was recorded (a fragmented MP4, there
    /// the moment Stop was pressed) the file people download: one movie with its index first
    /// (faststart), its chapters and title inside, and its animated preview. The copy is built
    /// in `tmp/` (a killed run is cleaned there at the next start), synced, then moved into
    /// place by one rename under the library lock; an edit that replaced the video meanwhile
    /// wins (nothing changes). `meta.json` notes which file replaced which, so an edit that
    /// began before the swap (same pictures and sound) still applies. One run per recording at
    /// a time (a lock of its own); without room for the copy it waits for another time.
    /// Returns whether the file was replaced.
    pub fn optimize(&self, id: &str, progress: edit::Progress<'_>) -> Result<bool, LibraryError> {
        let id = self.resolve(id)?;
        let dir = self.rec_dir(&id);
        let video = dir.join("video.mp4");
        let fragmented = reel_codec::remux::is_fragmented(&video).map_err(|e| LibraryError::io(&video, e))?;
        if !fragmented && dir.join("preview.gif").exists() {
            progress(1.0);
            return Ok(false);
        }
        // Another process (the app's sweep, `reel library optimize`) on the same recording:
        // it does the work.
        let lock_path = self.root.join("tmp").join(format!("optimize-{id}.lock"));
        let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(|e| LibraryError::io(&lock_path, e))?;
        if lock.try_lock().is_err() {
            return Ok(false);
        }
        let r = self.optimize_locked(&id, &dir, &video, fragmented, progress);
        let _ = lock.unlock();
        let _ = std::fs::remove_file(&lock_path);
        r
    }

    fn optimize_locked(&self, id: &str, dir: &Path, video: &Path, fragmented: bool, progress: edit::Progress<'_>) -> Result<bool, LibraryError> {
        let before = file_identity(video);
        let info = edit::probe_header(video)?;
        if !dir.join("preview.gif").exists() {
            let (_, job) = self.job_dir("preview")?;
            let made = thumbs::preview(video, 3.0, &job.join("preview.gif"), info.width, info.height)
                .and_then(|_| self.locked(|| if file_identity(video) == before { self.move_in(&job.join("preview.gif"), &dir.join("preview.gif")) } else { Ok(()) }));
            let _ = std::fs::remove_dir_all(&job);
            made?;
        }
        if !fragmented {
            progress(1.0);
            return Ok(false);
        }
        let len = std::fs::metadata(video).map(|m| m.len()).unwrap_or(0);
        if reel_codec::remux::free_bytes(&self.root).is_some_and(|free| free < len + OPTIMIZE_RESERVE) {
            return Err(LibraryError::Invalid(format!("no room for the download copy of {id} ({} MB) on the library's disk; it plays and downloads as recorded", len / 1_000_000)));
        }
        let meta = read_meta(dir).map_err(LibraryError::Invalid)?;
        // The copy is quick (no re-encoding, about disk speed): it reports as it begins and ends.
        if !progress(0.0) {
            return Err(LibraryError::Cancelled);
        }
        let (_, job) = self.job_dir("optimize")?;
        let tmp = job.join("video.mp4");
        let r = reel_codec::remux::finalize(video, &tmp, &meta.chapters, Some(&meta.title)).map_err(LibraryError::from).and_then(|made| {
            self.locked(|| {
                if file_identity(video) != before {
                    return Ok(false);
                }
                self.move_in(&tmp, video)?;
                let after = file_identity(video);
                let m = self.update_meta_unlocked(id, |m| {
                    m.size_bytes = after.map(|a| a.2).unwrap_or(m.size_bytes);
                    // The packets' own length (the recorder's clock can run a frame past them).
                    if made.duration_s > 0.0 {
                        m.duration_s = made.duration_s;
                    }
                    m.optimized = Some(Optimized { from: identity_name(before), to: identity_name(after) });
                })?;
                let _ = self.lock().upsert(&m, "ok");
                Ok(true)
            })
        });
        let _ = std::fs::remove_dir_all(&job);
        progress(1.0);
        r
    }

    /// Moves a finished file from a job in `tmp/` to `to` in a recording's folder: the file was
    /// synced; the rename is made durable in both folders.
    fn move_in(&self, from: &Path, to: &Path) -> Result<(), LibraryError> {
        std::fs::File::open(from).and_then(|f| f.sync_all()).map_err(|e| LibraryError::io(from, e))?;
        std::fs::rename(from, to).map_err(|e| LibraryError::io(to, e))?;
        reel_media::durable::sync_parent(to).map_err(|e| LibraryError::io(to, e))?;
        reel_media::durable::sync_parent(from).map_err(|e| LibraryError::io(from, e))
    }

    /// Exports a recording at a speed (pitch kept) and size to a file outside the library;
    /// a file already at `output` is an error unless `replace` (the user agreed to replace it).
    pub fn export(
        &self,
        id: &str,
        output: &Path,
        speed: f64,
        size: Option<reel_media::Size>,
        replace: bool,
        progress: edit::Progress<'_>,
    ) -> Result<reel_codec::remux::Finalized, LibraryError> {
        let id = self.resolve(id)?;
        let dir = self.rec_dir(&id);
        let meta = read_meta(&dir).map_err(LibraryError::Invalid)?;
        // Replacing is a rename over the old file once the new one is synced: until then the
        // old file stays whole. Only a plain file is replaced (never a folder, a link's target
        // or a recording's own files).
        if let Ok(m) = std::fs::symlink_metadata(output) {
            // What is replaced is a video (never, say, the library's own index).
            let video = output.extension().is_some_and(|e| e.eq_ignore_ascii_case("mp4"));
            if !(replace && m.is_file() && video) {
                return Err(LibraryError::Exists(output.to_path_buf()));
            }
        }
        let root = self.root.canonicalize().unwrap_or_else(|_| self.root.clone());
        let inside = |p: &Path| {
            let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            parent.canonicalize().ok().is_some_and(|d| ["recordings", "trash", "tmp"].iter().any(|s| d.starts_with(root.join(s))))
        };
        if inside(output) {
            return Err(LibraryError::Invalid(format!("{} is inside the library; export to a folder outside it", output.display())));
        }
        if !(0.5..=4.0).contains(&speed) {
            return Err(LibraryError::Invalid(format!("speed {speed}: use a speed from 0.5 to 4 (for example 1.5 or 2)")));
        }
        let video = dir.join("video.mp4");
        let info = edit::probe(&video)?;
        let fps = reel_media::Fps::new((info.fps.round() as u32).clamp(1, 60)).map_err(|e| LibraryError::Invalid(e.to_string()))?;
        let o = ExportOptions { speed, size, fps, preset: reel_codec::Preset::offline() };
        // Work inside the library's tmp/ (a killed export is cleaned at the next start), then
        // move the finished file out.
        let (_, job) = self.job_dir("export")?;
        let tmp_out = job.join("export.mp4");
        let r = edit::export(&[Segment { path: video, start: 0.0, end: info.duration_s }], &tmp_out, &o, &meta.chapters, progress).map_err(map_cancel);
        let r = r.and_then(|f| {
            // Durable where it lands: the file synced in the job, renamed, the folder synced;
            // on another filesystem, copied beside the output, synced, then renamed. Unless
            // replacing was asked for, a file that appeared there meanwhile (another export to
            // the same name) is never overwritten.
            let land = |from: &Path| if replace { reel_media::durable::commit(from, output) } else { reel_media::durable::commit_new(from, output) };
            let landed = match land(&tmp_out) {
                Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
                    let beside = reel_media::durable::temp_beside(output);
                    let r = std::fs::copy(&tmp_out, &beside).and_then(|_| land(&beside));
                    if r.is_err() {
                        let _ = std::fs::remove_file(&beside);
                    }
                    r
                }
                other => other,
            };
            match landed {
                Ok(()) => {
                    // What was said, as captions beside the video, timed for its speed (players
                    // pick up NAME.vtt beside NAME.mp4). Never over a file that is there.
                    if let Some(t) = transcripts::read(&dir) {
                        let vtt = output.with_extension("vtt");
                        if replace || !vtt.exists() {
                            if let Err(e) = reel_media::durable::write(&vtt, t.scaled(speed).to_vtt().as_bytes()) {
                                eprintln!("warning: the captions beside the export were not written ({}: {e})", vtt.display());
                            }
                        }
                    }
                    Ok(f)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(LibraryError::Exists(output.to_path_buf())),
                Err(e) => Err(LibraryError::io(output, e)),
            }
        });
        let _ = std::fs::remove_dir_all(&job);
        r
    }
}

/// Room `optimize` leaves free on the library's disk beside its copy (a recording may start).
const OPTIMIZE_RESERVE: u64 = 256 << 20;

/// Which file is at `p` now (device, inode, size, modification time): an edit compares it
/// before and after, so that a file replaced meanwhile is noticed.
fn file_identity(p: &Path) -> Option<(u64, u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

fn identity_name(id: Option<(u64, u64, u64, i64, i64)>) -> String {
    id.map(|(d, i, l, s, n)| format!("{d:x}-{i:x}-{l:x}-{s:x}-{n:x}")).unwrap_or_default()
}

/// Whether the file that was at `video` (`before`) was replaced by `optimize` alone (so the
/// same pictures and sound, only laid out for download): an edit made from it still applies.
fn only_optimized(m: &Meta, video: &Path, before: Option<(u64, u64, u64, i64, i64)>) -> bool {
    m.optimized.as_ref().is_some_and(|o| before.is_some() && o.from == identity_name(before) && o.to == identity_name(file_identity(video)))
}

fn map_cancel(e: CodecError) -> LibraryError {
    match e {
        CodecError::Invalid { reason, .. } if reason == "cancelled" => LibraryError::Cancelled,
        e => LibraryError::Codec(e),
    }
}

#[cfg(test)]
mod tests;
