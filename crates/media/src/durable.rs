//! Durable files: what every part of Reel uses to write something the user must not lose
//! (metadata, settings, sessions, timelines, publish state, the final video).
//!
//! Durable means synced: the bytes go to a temporary file of this process's own in the same
//! folder, the file is synced, renamed over the old one, and the folder is synced, so a power
//! cut leaves either the old file or the new one, never a torn or empty one — the same order
//! SQLite's journal and every careful editor use. A file that must never be readable by others
//! (credentials) is created owner-only from its first byte.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A temporary name beside `path` that no other process, and no other call in this process,
/// uses at the same moment.
pub fn temp_beside(path: &Path) -> PathBuf {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

/// Syncs the folder holding `path`, so a rename or a new name in it survives a power cut.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir)?.sync_all()
}

/// Creates `dir` and every missing folder above it, each made durable: a new folder's name
/// lives in its parent, so the parent is synced after each one is made. (A file synced in a
/// folder whose own name never reached the disk is lost with the folder.)
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => sync_parent(dir),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates one new folder (failing if it exists) and syncs its parent.
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir(dir)?;
    sync_parent(dir)
}

/// Syncs `tmp` (a complete file), renames it to `path` and syncs the folder.
pub fn commit(tmp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, path)?;
    sync_parent(path)
}

/// As [`commit`], but never over a file already at `path` (`AlreadyExists` then, and `tmp`
/// stays): the check and the rename are one step (renameat2 RENAME_NOREPLACE; a hard link
/// where the filesystem has no such rename), so a file that appears meanwhile is never lost.
pub fn commit_new(tmp: &Path, path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    std::fs::File::open(tmp)?.sync_all()?;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput));
    let (from, to) = (c(tmp)?, c(path)?);
    // SAFETY: two NUL-terminated paths, relative to the working directory.
    let r = unsafe { libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::RENAME_NOREPLACE) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)) {
            return Err(e);
        }
        match std::fs::hard_link(tmp, path) {
            Ok(()) => std::fs::remove_file(tmp)?,
            // Neither (some FUSE and network filesystems): claim the name first, exclusively,
            // then rename over what is now ours.
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
                std::fs::rename(tmp, path)?;
            }
            Err(e) => return Err(e),
        }
    }
    sync_parent(path)
}

/// Replaces `path` with `bytes`, durably. The folder is created if missing.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_mode(path, bytes, 0o666)
}

/// As [`write()`], readable and writable by the owner only (0600) from its first byte on:
/// secrets such as storage credentials.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_mode(path, bytes, 0o600)
}

fn write_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir_all(dir)?;
    }
    let tmp = temp_beside(path);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Writes `v` as pretty JSON, durably.
pub fn write_json<T: serde::Serialize>(path: &Path, v: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(v).map_err(std::io::Error::other)?;
    write(path, &bytes)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub").join("server.json");
        super::write(&p, b"one").unwrap();
        super::write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
        let s = p.with_file_name("secret.json");
        super::write_private(&s, b"{}").unwrap();
        assert_eq!(std::fs::metadata(&s).unwrap().permissions().mode() & 0o777, 0o600);
        assert_ne!(super::temp_beside(&p), super::temp_beside(&p), "never the same temporary name twice");
        super::write_json(&p, &serde_json::json!({"a": 1})).unwrap();
        assert!(std::fs::read_to_string(&p).unwrap().contains("\"a\": 1"));
    }

    #[test]
    fn commit_new_never_overwrites() {
        let d = tempfile::tempdir().unwrap();
        let (a, b, out) = (d.path().join("a.tmp"), d.path().join("b.tmp"), d.path().join("out.mp4"));
        std::fs::write(&a, b"first").unwrap();
        std::fs::write(&b, b"second").unwrap();
        super::commit_new(&a, &out).unwrap();
        let e = super::commit_new(&b, &out).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&out).unwrap(), b"first", "the first one stays");
        assert!(!a.exists() && b.exists(), "the one not landed is still there for its owner to remove");
    }
}
