//! A filesystem that can lose power: the harness of the power-cut tests.
//!
//! It is an in-memory FUSE filesystem (fuser) that keeps two versions of everything: what
//! programs see now, and what a disk would still hold after the power went out. File contents
//! reach the second version only when the file is synced (fsync, fdatasync), and a folder's
//! names (created, renamed, removed files and folders) only when the folder itself is synced.
//! That is the contract POSIX gives and the one SQLite and careful editors write against;
//! real filesystems often keep more, never less, so code that survives this survives them.
//! One thing every journaling filesystem does guarantee is kept: a rename between two folders
//! is one change, so syncing either folder makes both of its sides durable (a folder never
//! ends up in two places, or in none).
//! Jepsen's LazyFS plays the same trick for file data.
//!
//! [`PowerCut::cut`] is the power cut: from that instant every operation fails (nothing more
//! reaches the "disk"), the caller kills the programs that were running, the filesystem is
//! unmounted (the kernel's caches go with it), everything not synced is dropped, and it is
//! mounted again at the same place, as after a reboot.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

const ROOT: u64 = 1;
/// No attribute caching in the kernel: every answer comes from the current state.
const TTL: Duration = Duration::ZERO;

struct Node {
    dir: bool,
    perm: u16,
    /// What programs see.
    data: Vec<u8>,
    entries: BTreeMap<OsString, u64>,
    /// What survives a power cut (contents as of the last sync; names as of the folder's).
    synced_data: Vec<u8>,
    synced_entries: BTreeMap<OsString, u64>,
    /// Renames to or from another folder since this one was last synced: (rename, the other
    /// folder, the name there, what it pointed to after the rename).
    renames: Vec<(u64, u64, OsString, Option<u64>)>,
    mtime: SystemTime,
    /// The name it was created with, and when it was first written and last synced.
    name: OsString,
    first_write: Option<Instant>,
    last_sync: Option<Instant>,
}

impl Node {
    fn new(dir: bool, perm: u16, name: &OsStr) -> Node {
        Node {
            dir,
            perm,
            data: Vec::new(),
            entries: BTreeMap::new(),
            synced_data: Vec::new(),
            synced_entries: BTreeMap::new(),
            renames: Vec::new(),
            mtime: SystemTime::now(),
            name: name.to_os_string(),
            first_write: None,
            last_sync: None,
        }
    }
}

/// A file as the harness saw it: when it was first written and last synced.
#[derive(Clone, Debug)]
pub struct FileHistory {
    pub name: String,
    pub first_write: Option<Instant>,
    pub last_sync: Option<Instant>,
    pub synced_len: usize,
    /// For videos (`.mp4`): everything the program had written at the cut, synced or not —
    /// what would be there had the power stayed on.
    pub written: Option<Vec<u8>>,
}

#[derive(Default)]
struct State {
    nodes: HashMap<u64, Node>,
    next: u64,
    /// The power is out: every operation fails until the remount.
    dead: bool,
    syncs: u64,
    /// Cross-folder renames already made durable (by a sync of either side).
    renames_synced: std::collections::HashSet<u64>,
    next_rename: u64,
    /// Folder operations since the last boot (names, renames, folder syncs), for failures.
    log: Vec<String>,
}

impl State {
    fn new() -> State {
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, Node::new(true, 0o755, OsStr::new("/")));
        State { nodes, next: ROOT + 1, dead: false, syncs: 0, renames_synced: Default::default(), next_rename: 0, log: Vec::new() }
    }

    fn attr(&self, ino: u64) -> Option<FileAttr> {
        let n = self.nodes.get(&ino)?;
        let size = if n.dir { 4096 } else { n.data.len() as u64 };
        Some(FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: n.mtime,
            mtime: n.mtime,
            ctime: n.mtime,
            crtime: n.mtime,
            kind: if n.dir { FileType::Directory } else { FileType::RegularFile },
            perm: n.perm,
            nlink: if n.dir { 2 } else { 1 },
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn child(&self, parent: u64, name: &OsStr) -> Result<u64, Errno> {
        let p = self.nodes.get(&parent).ok_or(Errno::ENOENT)?;
        if !p.dir {
            return Err(Errno::ENOTDIR);
        }
        p.entries.get(name).copied().ok_or(Errno::ENOENT)
    }

    fn make(&mut self, parent: u64, name: &OsStr, dir: bool, mode: u32) -> Result<FileAttr, Errno> {
        match self.child(parent, name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(e) if e != Errno::ENOENT => return Err(e),
            Err(_) => {}
        }
        let ino = self.next;
        self.next += 1;
        self.nodes.insert(ino, Node::new(dir, (mode & 0o7777) as u16, name));
        self.log.push(format!("{} {parent}/{} = {ino}", if dir { "mkdir" } else { "create" }, name.to_string_lossy()));
        if let Some(p) = self.nodes.get_mut(&parent) {
            p.entries.insert(name.to_os_string(), ino);
            p.mtime = SystemTime::now();
        }
        self.attr(ino).ok_or(Errno::EIO)
    }

    /// Ties the two sides of a rename between folders `a` and `b` (names `an`, `bn`), so that
    /// syncing either folder makes both durable.
    fn tie(&mut self, a: u64, an: &OsStr, b: u64, bn: &OsStr) {
        if a == b {
            return;
        }
        let id = self.next_rename;
        self.next_rename += 1;
        let after = |st: &State, dir: u64, name: &OsStr| st.nodes.get(&dir).and_then(|d| d.entries.get(name).copied());
        let (a_after, b_after) = (after(self, a, an), after(self, b, bn));
        if let Some(n) = self.nodes.get_mut(&a) {
            n.renames.push((id, b, bn.to_os_string(), b_after));
        }
        if let Some(n) = self.nodes.get_mut(&b) {
            n.renames.push((id, a, an.to_os_string(), a_after));
        }
    }

    /// Everything now becomes what survives (as `sync` on a whole disk).
    fn sync_everything(&mut self) {
        for n in self.nodes.values_mut() {
            n.synced_data.clone_from(&n.data);
            n.synced_entries.clone_from(&n.entries);
        }
    }

    /// After the power came back: only what was synced is there.
    fn reboot(&mut self) {
        for n in self.nodes.values_mut() {
            n.data.clone_from(&n.synced_data);
            n.entries.clone_from(&n.synced_entries);
            // Histories start again with the new "boot".
            n.first_write = None;
            n.last_sync = None;
            n.renames.clear();
        }
        self.log.clear();
        self.dead = false;
    }
}

/// The FUSE side: every request takes the state's lock.
struct Fs(Arc<Mutex<State>>);

impl Fs {
    fn state(&self) -> Result<MutexGuard<'_, State>, Errno> {
        let st = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if st.dead {
            return Err(Errno::EIO);
        }
        Ok(st)
    }
}

fn empty(reply: ReplyEmpty, r: Result<(), Errno>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(e),
    }
}

impl Filesystem for Fs {
    fn lookup(&self, _: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let r = self.state().and_then(|st| st.child(parent.0, name).and_then(|i| st.attr(i).ok_or(Errno::ENOENT)));
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _: &Request, ino: INodeNo, _: Option<FileHandle>, reply: ReplyAttr) {
        let r = self.state().and_then(|st| st.attr(ino.0).ok_or(Errno::ENOENT));
        match r {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _: Option<u32>,
        _: Option<u32>,
        size: Option<u64>,
        _: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _: Option<SystemTime>,
        _: Option<FileHandle>,
        _: Option<SystemTime>,
        _: Option<SystemTime>,
        _: Option<SystemTime>,
        _: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let r = self.state().and_then(|mut st| {
            let n = st.nodes.get_mut(&ino.0).ok_or(Errno::ENOENT)?;
            if let Some(m) = mode {
                n.perm = (m & 0o7777) as u16;
            }
            if let Some(s) = size {
                if n.dir {
                    return Err(Errno::EISDIR);
                }
                n.data.resize(s as usize, 0);
                n.mtime = SystemTime::now();
            }
            match mtime {
                Some(TimeOrNow::SpecificTime(t)) => n.mtime = t,
                Some(TimeOrNow::Now) => n.mtime = SystemTime::now(),
                None => {}
            }
            st.attr(ino.0).ok_or(Errno::ENOENT)
        });
        match r {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn mknod(&self, _: &Request, parent: INodeNo, name: &OsStr, mode: u32, _: u32, _: u32, reply: ReplyEntry) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return reply.error(Errno::EPERM);
        }
        let r = self.state().and_then(|mut st| st.make(parent.0, name, false, mode));
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(&self, _: &Request, parent: INodeNo, name: &OsStr, mode: u32, _: u32, reply: ReplyEntry) {
        let r = self.state().and_then(|mut st| st.make(parent.0, name, true, mode));
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn create(&self, _: &Request, parent: INodeNo, name: &OsStr, mode: u32, _: u32, _: i32, reply: ReplyCreate) {
        let r = self.state().and_then(|mut st| st.make(parent.0, name, false, mode));
        match r {
            Ok(a) => reply.created(&TTL, &a, Generation(0), FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = self.state().and_then(|mut st| {
            let ino = st.child(parent.0, name)?;
            if st.nodes.get(&ino).is_some_and(|n| n.dir) {
                return Err(Errno::EISDIR);
            }
            if let Some(p) = st.nodes.get_mut(&parent.0) {
                p.entries.remove(name);
                p.mtime = SystemTime::now();
            }
            Ok(())
        });
        empty(reply, r)
    }

    fn rmdir(&self, _: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let r = self.state().and_then(|mut st| {
            let ino = st.child(parent.0, name)?;
            let n = st.nodes.get(&ino).ok_or(Errno::ENOENT)?;
            if !n.dir {
                return Err(Errno::ENOTDIR);
            }
            if !n.entries.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
            if let Some(p) = st.nodes.get_mut(&parent.0) {
                p.entries.remove(name);
            }
            Ok(())
        });
        empty(reply, r)
    }

    fn rename(&self, _: &Request, parent: INodeNo, name: &OsStr, newparent: INodeNo, newname: &OsStr, flags: RenameFlags, reply: ReplyEmpty) {
        let r = self.state().and_then(|mut st| {
            let src = st.child(parent.0, name)?;
            if parent == newparent && name == newname {
                return Ok(());
            }
            st.log.push(format!("rename {}/{} ({src}) -> {}/{} {flags:?}", parent.0, name.to_string_lossy(), newparent.0, newname.to_string_lossy()));
            let dst = match st.child(newparent.0, newname) {
                Ok(i) => Some(i),
                Err(e) if e == Errno::ENOENT => None,
                Err(e) => return Err(e),
            };
            if flags.contains(RenameFlags::RENAME_EXCHANGE) {
                let dst = dst.ok_or(Errno::ENOENT)?;
                st.nodes.get_mut(&parent.0).ok_or(Errno::ENOENT)?.entries.insert(name.to_os_string(), dst);
                st.nodes.get_mut(&newparent.0).ok_or(Errno::ENOENT)?.entries.insert(newname.to_os_string(), src);
                st.tie(parent.0, name, newparent.0, newname);
                return Ok(());
            }
            if let Some(d) = dst {
                if flags.contains(RenameFlags::RENAME_NOREPLACE) {
                    return Err(Errno::EEXIST);
                }
                let (sd, dd) = (st.nodes[&src].dir, st.nodes[&d].dir);
                if dd && !sd {
                    return Err(Errno::EISDIR);
                }
                if sd && !dd {
                    return Err(Errno::ENOTDIR);
                }
                if dd && !st.nodes[&d].entries.is_empty() {
                    return Err(Errno::ENOTEMPTY);
                }
            }
            st.nodes.get_mut(&parent.0).ok_or(Errno::ENOENT)?.entries.remove(name);
            let np = st.nodes.get_mut(&newparent.0).ok_or(Errno::ENOENT)?;
            np.entries.insert(newname.to_os_string(), src);
            np.mtime = SystemTime::now();
            st.tie(parent.0, name, newparent.0, newname);
            Ok(())
        });
        empty(reply, r)
    }

    fn open(&self, _: &Request, ino: INodeNo, _: OpenFlags, reply: ReplyOpen) {
        match self.state().and_then(|st| st.nodes.get(&ino.0).map(|_| ()).ok_or(Errno::ENOENT)) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(&self, _: &Request, ino: INodeNo, _: FileHandle, offset: u64, size: u32, _: OpenFlags, _: Option<LockOwner>, reply: ReplyData) {
        let r = self.state().and_then(|st| {
            let n = st.nodes.get(&ino.0).ok_or(Errno::ENOENT)?;
            let start = (offset as usize).min(n.data.len());
            let end = (start + size as usize).min(n.data.len());
            Ok(n.data[start..end].to_vec())
        });
        match r {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(e),
        }
    }

    fn write(&self, _: &Request, ino: INodeNo, _: FileHandle, offset: u64, data: &[u8], _: WriteFlags, _: OpenFlags, _: Option<LockOwner>, reply: ReplyWrite) {
        let r = self.state().and_then(|mut st| {
            let n = st.nodes.get_mut(&ino.0).ok_or(Errno::ENOENT)?;
            let end = offset as usize + data.len();
            if n.data.len() < end {
                n.data.resize(end, 0);
            }
            n.data[offset as usize..end].copy_from_slice(data);
            n.mtime = SystemTime::now();
            n.first_write.get_or_insert_with(Instant::now);
            Ok(data.len() as u32)
        });
        match r {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(&self, _: &Request, _: INodeNo, _: FileHandle, _: LockOwner, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fsync(&self, _: &Request, ino: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        let r = self.state().and_then(|mut st| {
            st.syncs += 1;
            let n = st.nodes.get_mut(&ino.0).ok_or(Errno::ENOENT)?;
            n.synced_data.clone_from(&n.data);
            n.last_sync = Some(Instant::now());
            Ok(())
        });
        empty(reply, r)
    }

    fn readdir(&self, _: &Request, ino: INodeNo, _: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let r = self.state().and_then(|st| {
            let n = st.nodes.get(&ino.0).ok_or(Errno::ENOENT)?;
            if !n.dir {
                return Err(Errno::ENOTDIR);
            }
            let mut all = vec![(ino.0, true, OsString::from(".")), (ROOT, true, OsString::from(".."))];
            all.extend(n.entries.iter().map(|(name, &i)| (i, st.nodes.get(&i).is_some_and(|c| c.dir), name.clone())));
            Ok(all)
        });
        match r {
            Ok(all) => {
                for (k, (i, dir, name)) in all.into_iter().enumerate().skip(offset as usize) {
                    if reply.add(INodeNo(i), k as u64 + 1, if dir { FileType::Directory } else { FileType::RegularFile }, name) {
                        break;
                    }
                }
                reply.ok()
            }
            Err(e) => reply.error(e),
        }
    }

    fn fsyncdir(&self, _: &Request, ino: INodeNo, _: FileHandle, _: bool, reply: ReplyEmpty) {
        let r = self.state().and_then(|mut st| {
            st.syncs += 1;
            st.log.push(format!("fsyncdir {}", ino.0));
            let n = st.nodes.get_mut(&ino.0).ok_or(Errno::ENOENT)?;
            n.synced_entries.clone_from(&n.entries);
            // The other side of each rename this folder took part in lands with it.
            for (id, other, name, to) in std::mem::take(&mut n.renames) {
                if st.renames_synced.insert(id) {
                    if let Some(o) = st.nodes.get_mut(&other) {
                        match to {
                            Some(i) => o.synced_entries.insert(name, i),
                            None => o.synced_entries.remove(&name),
                        };
                    }
                }
            }
            Ok(())
        });
        empty(reply, r)
    }

    fn statfs(&self, _: &Request, _: INodeNo, reply: ReplyStatfs) {
        let used: u64 = self.0.lock().map(|st| st.nodes.values().map(|n| n.data.len() as u64 / 4096 + 1).sum()).unwrap_or(0);
        let blocks = 16u64 << 20; // 64 GiB of 4 KiB blocks: room is never the question here
        reply.statfs(blocks, blocks - used, blocks - used, 1 << 20, (1 << 20) - 1, 4096, 255, 4096);
    }
}

/// A mounted power-cut filesystem.
pub struct PowerCut {
    state: Arc<Mutex<State>>,
    mountpoint: PathBuf,
    session: Option<fuser::BackgroundSession>,
    _dir: tempfile::TempDir,
}

impl PowerCut {
    /// Mounts an empty filesystem on a new temporary folder.
    pub fn mount() -> PowerCut {
        let dir = tempfile::tempdir().unwrap();
        let mountpoint = dir.path().join("disk");
        std::fs::create_dir(&mountpoint).unwrap();
        let mut pc = PowerCut { state: Arc::new(Mutex::new(State::new())), mountpoint, session: None, _dir: dir };
        pc.attach();
        pc
    }

    fn attach(&mut self) {
        let mut config = fuser::Config::default();
        config.mount_options = vec![fuser::MountOption::FSName("reel-powercut".into()), fuser::MountOption::RW];
        let s = fuser::spawn_mount(Fs(self.state.clone()), &self.mountpoint, &config).expect("mounting the power-cut filesystem (needs /dev/fuse and root)");
        self.session = Some(s);
    }

    pub fn path(&self) -> &Path {
        &self.mountpoint
    }

    /// Makes everything written so far durable, as `sync` would (test set-up).
    pub fn sync_everything(&self) {
        self.state.lock().unwrap().sync_everything();
    }

    /// Folder operations since the last boot, oldest first (for a failing test to show).
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    /// How many fsyncs the programs made (files and folders).
    pub fn syncs(&self) -> u64 {
        self.state.lock().unwrap().syncs
    }

    /// The power goes out now: nothing more reaches the disk. `kill` must stop every program
    /// using the filesystem (they would have died with the machine). Then the filesystem comes
    /// back with only what was synced, as after a reboot. Returns the instant of the cut and
    /// the history of every file that existed then.
    pub fn cut(&mut self, kill: impl FnOnce()) -> (Instant, Vec<FileHistory>) {
        let at = Instant::now();
        let history = {
            let mut st = self.state.lock().unwrap();
            st.dead = true;
            st.nodes
                .values()
                .filter(|n| !n.dir && n.first_write.is_some())
                .map(|n| {
                    let name = n.name.to_string_lossy().into_owned();
                    let written = name.ends_with(".mp4").then(|| n.data.clone());
                    FileHistory { name, first_write: n.first_write, last_sync: n.last_sync, synced_len: n.synced_data.len(), written }
                })
                .collect()
        };
        kill();
        if std::env::var_os("REEL_POWERCUT_LOG").is_some() {
            eprintln!("power cut; folder operations since the last boot:\n  {}", self.state.lock().unwrap().log.join("\n  "));
        }
        if let Some(s) = self.session.take() {
            // The kernel's page cache for this mount goes with the unmount.
            let _ = s.umount_and_join();
        }
        self.state.lock().unwrap().reboot();
        self.attach();
        (at, history)
    }
}

impl Drop for PowerCut {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.umount_and_join();
        }
    }
}
