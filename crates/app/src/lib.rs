//! The one API of Reel: what the `reel` CLI, the desktop app's Tauri commands and its HTTP
//! transport ([`http`], one command table with Tauri: [`studio::dispatch`]) all call. Shells parse their input, call a function here and map the error; the
//! error carries a stable `code` the UI can act on and a message that says what to do.

use std::path::Path;

pub mod durable;
pub mod http;
pub mod settings;
pub mod studio;
pub mod transcribe;

pub use reel_capture::{CameraInfo, CameraSpec, MicInfo, MicSpec};
pub use reel_media::transcript::Transcript;
pub use reel_media::{ClockMode, ErrorCode, Fps, Size};
pub use reel_recorder::{session, Control, RecordError, RecordOptions, Recording, Recovered, State, Summary};

/// An error as the UI sees it: `{code, message}`.
#[derive(Clone, Debug, serde::Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into() }
    }
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        ApiError { code: e.code(), message: e.to_string() }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Devices {
    /// Each camera with the modes it offers and the one Reel would stream for the output size
    /// and rate asked about.
    pub cameras: Vec<reel_capture::camera::CameraDetails>,
    /// Microphones: the system default first, speaker monitors last (`is_monitor`).
    pub mics: Vec<MicInfo>,
    /// Always available: the synthetic camera and tone, so Reel works with no hardware.
    pub synthetic: Vec<&'static str>,
}

/// Cameras and microphones, with what each camera would stream for an output of `size` at
/// `fps` (opening each camera that is not open already for a moment, to read its modes).
pub fn devices(size: Size, fps: Fps) -> Devices {
    Devices { cameras: reel_capture::camera::describe_cameras(size, fps), mics: reel_capture::list_mics(), synthetic: vec!["camera: synthetic", "mic: tone"] }
}

/// Opens devices and the file; call `start()` on the result (after a countdown, if any).
pub fn prepare_recording(opts: RecordOptions) -> Result<Recording, ApiError> {
    Ok(Recording::prepare(opts)?)
}

pub fn interrupted_recordings() -> Vec<session::Session> {
    session::interrupted()
}

pub fn recover(path: &Path) -> Result<Recovered, ApiError> {
    Ok(session::recover(path)?)
}

pub fn recover_all() -> Vec<Result<Recovered, ApiError>> {
    session::recover_all().into_iter().map(|(_, r)| r.map_err(ApiError::from)).collect()
}

pub use reel_compose::scene::parse_color;
pub use reel_compose::{Bubble, BubbleSize, Corner, Deck, Layout, LowerThird, Scene, Shape, TitleCard};
pub use reel_recorder::{StageCommand, StageSpec, Timeline};

impl From<reel_compose::ComposeError> for ApiError {
    fn from(e: reel_compose::ComposeError) -> Self {
        ApiError { code: crate::ErrorCode::BadInput, message: e.to_string() }
    }
}

/// Loads a slide deck (folder of images or PDF), fitted to `size` once.
pub fn load_deck(path: &Path, size: Size, background: [u8; 4]) -> Result<Deck, ApiError> {
    Ok(Deck::load(path, size, background)?)
}

/// What `preview` draws.
pub struct PreviewOptions {
    pub camera: CameraSpec,
    pub size: Size,
    pub scene: Scene,
    pub stage: StageSpec,
    /// 0-based slide on the stage.
    pub slide: usize,
    pub at: std::time::Duration,
}

/// Renders one composed frame exactly as it would be recorded, as RGBA.
pub fn preview_frame(o: &PreviewOptions) -> Result<reel_media::VideoFrame, ApiError> {
    Ok(reel_recorder::preview::render(&o.camera, o.size, &o.scene, &o.stage, o.slide, o.at)?)
}

/// Renders one composed frame to an image file (PNG or JPEG by extension), atomically.
pub fn preview_to_file(o: &PreviewOptions, output: &Path) -> Result<(), ApiError> {
    let f = preview_frame(o)?;
    let img = image::RgbaImage::from_raw(f.width, f.height, f.data.to_vec()).ok_or_else(|| ApiError { code: crate::ErrorCode::Internal, message: "frame size mismatch".into() })?;
    let ext = output.extension().and_then(|e| e.to_str()).unwrap_or("png").to_ascii_lowercase();
    let format = match ext.as_str() {
        "png" => image::ImageFormat::Png,
        "jpg" | "jpeg" => image::ImageFormat::Jpeg,
        other => return Err(ApiError { code: crate::ErrorCode::BadInput, message: format!("cannot write .{other} images: use .png or .jpg") }),
    };
    let name = output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = output.with_file_name(format!(".{name}.reel-tmp"));
    let io = |e: String| ApiError { code: crate::ErrorCode::Io, message: format!("cannot write {}: {e}", output.display()) };
    let rgb;
    let r = if format == image::ImageFormat::Jpeg {
        rgb = image::DynamicImage::ImageRgba8(img).into_rgb8();
        rgb.save_with_format(&tmp, format)
    } else {
        img.save_with_format(&tmp, format)
    };
    r.map_err(|e| io(e.to_string()))?;
    std::fs::rename(&tmp, output).map_err(|e| io(e.to_string()))
}

pub use reel_library::{Entry, Hit, Library, LibraryError, Meta};

impl From<LibraryError> for ApiError {
    fn from(e: LibraryError) -> Self {
        ApiError { code: e.code(), message: e.to_string() }
    }
}

/// Opens the library at `root`, else `$REEL_LIBRARY`, else the platform data folder.
pub fn open_library(root: Option<&Path>) -> Result<Library, ApiError> {
    let root = root.map(Path::to_path_buf).unwrap_or_else(reel_library::default_root);
    Ok(Library::open(&root)?)
}

/// A recording that lands in the library when it finishes.
pub struct LibraryRecording {
    pub job: std::path::PathBuf,
    pub title: Option<String>,
}

impl LibraryRecording {
    /// Prepares the job folder; record into `video_path()`.
    pub fn begin(lib: &Library, title: Option<&str>) -> Result<LibraryRecording, ApiError> {
        let (_, job) = lib.job_dir("record")?;
        if let Some(t) = title {
            // Kept so that a recording recovered after a crash still gets its title.
            let _ = std::fs::write(job.join("title.txt"), t);
        }
        Ok(LibraryRecording { job, title: title.map(str::to_string) })
    }

    pub fn video_path(&self) -> std::path::PathBuf {
        self.job.join("video.mp4")
    }

    /// Moves the finished recording into the library (poster, preview, metadata, index).
    pub fn finish(self, lib: &Library) -> Result<Entry, ApiError> {
        Ok(lib.adopt(&self.job, self.title.as_deref(), None)?)
    }

    /// Gives up (the recording failed before anything was captured).
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.job);
    }
}

/// Makes the faststart copies of recordings that went into the library as recorded
/// (`Library::optimize`) on a thread of its own, at a low CPU and idle I/O priority so that a
/// new recording keeps the CPU and the disk; a failure is only a warning (the recording plays
/// as it is).
pub fn optimize_in_background(lib: std::sync::Arc<Library>, ids: Vec<String>) {
    let spawned = std::thread::Builder::new().name("reel-optimize".into()).spawn(move || {
        background_priority();
        for id in ids {
            if let Err(e) = lib.optimize(&id, &mut |_| true) {
                eprintln!("warning: the download copy of {id} was not made ({e}); it plays and downloads as recorded");
            }
        }
    });
    if let Err(e) = spawned {
        eprintln!("warning: no thread for the download copies: {e}");
    }
}

/// Lowers the calling thread to nice 10 and idle I/O priority: derived work (download copies,
/// transcripts) never holds up a recording's frames or its once-a-second sync.
pub(crate) fn background_priority() {
    // SAFETY: setpriority and ioprio_set on this thread's own id (Linux: a thread's nice value
    // and I/O priority are its own).
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
        const IOPRIO_WHO_PROCESS: libc::c_int = 1;
        const IOPRIO_CLASS_IDLE: libc::c_int = 3;
        libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, IOPRIO_CLASS_IDLE << 13);
    }
}

/// The recordings still as recorded (fragmented), for `optimize_in_background` at start:
/// a process that ended right after Stop left them so.
pub fn unoptimized(lib: &Library) -> Vec<String> {
    lib.list().unwrap_or_default().into_iter().filter(|e| reel_codec::remux::is_fragmented(&e.path).unwrap_or(false)).map(|e| e.id).collect()
}

pub use reel_share::{Comment, Feedback, Reaction, Share, ShareError, ShareOptions};

/// Checks a password for a link before it is used: not empty, at least 8 characters.
pub fn check_new_password(p: &str) -> Result<(), ApiError> {
    Ok(reel_share::store::check_new_password(p)?)
}

impl From<ShareError> for ApiError {
    fn from(e: ShareError) -> Self {
        ApiError { code: e.code(), message: e.to_string() }
    }
}

/// Where share links point: `$REEL_BASE_URL`, else the address the library's share server
/// recorded when it last started (so `reel share` prints a link that server answers), else the
/// default local server.
pub fn default_base_url(lib: &Library) -> String {
    std::env::var("REEL_BASE_URL").ok().filter(|b| !b.is_empty()).or_else(|| server_record(lib).map(|r| r.base_url)).unwrap_or_else(|| "http://127.0.0.1:8787".to_string())
}

/// What a running share server wrote into its library: how viewers reach it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ServerRecord {
    pub base_url: String,
    pub bind: String,
    pub pid: u32,
}

fn server_record_path(lib: &Library) -> std::path::PathBuf {
    lib.root().join("server.json")
}

/// The library's share server as last recorded (its links stay valid across restarts on the
/// same address).
pub fn server_record(lib: &Library) -> Option<ServerRecord> {
    serde_json::from_slice(&std::fs::read(server_record_path(lib)).ok()?).ok()
}

/// The recorded share server, when the process that recorded it is no longer running (its
/// links open again once a server is started on the same address).
pub fn stopped_server(lib: &Library) -> Option<ServerRecord> {
    let r = server_record(lib)?;
    let pid = libc::pid_t::try_from(r.pid).ok()?;
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    (!alive).then_some(r)
}

/// Records the share server's address in the library, durably.
pub fn record_server(lib: &Library, base_url: &str, bind: std::net::SocketAddr) -> Result<(), ApiError> {
    let r = ServerRecord { base_url: base_url.trim_end_matches('/').to_string(), bind: bind.to_string(), pid: std::process::id() };
    let bytes = serde_json::to_vec_pretty(&r).map_err(|e| ApiError { code: crate::ErrorCode::Internal, message: e.to_string() })?;
    durable::write(&server_record_path(lib), &bytes)
        .map_err(|e| ApiError { code: crate::ErrorCode::Io, message: format!("cannot record the server's address in {}: {e}", lib.root().display()) })
}

/// The addresses other machines can reach this one at, best first: the source address of the
/// default route (what the LAN sees), then other private IPv4 addresses, then the rest.
/// Loopback, link-local and virtual interfaces (Docker, VM and container bridges, veth) are
/// left out: a link with 172.17.0.1 in it reaches nobody.
pub fn lan_addresses() -> Vec<std::net::IpAddr> {
    use std::net::IpAddr;
    // Connecting a UDP socket sends nothing; it only picks the route and its source address.
    let primary = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| s.connect("192.0.2.1:9").and_then(|_| s.local_addr())).ok().map(|a| a.ip());
    let virtual_if = |name: &str| ["docker", "veth", "virbr", "br-", "vboxnet", "vmnet", "cni", "flannel", "podman", "lxc", "tun", "tap"].iter().any(|p| name.starts_with(p));
    let usable = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified() && !v4.is_link_local(),
        IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unspecified() && v6.segments()[0] & 0xffc0 != 0xfe80,
    };
    let mut v: Vec<IpAddr> = if_addrs::get_if_addrs().unwrap_or_default().into_iter().filter(|i| !virtual_if(&i.name)).map(|i| i.ip()).filter(usable).collect();
    let rank = |ip: &IpAddr| match ip {
        _ if Some(*ip) == primary => 0,
        IpAddr::V4(v4) if v4.is_private() => 1,
        IpAddr::V4(_) => 2,
        IpAddr::V6(_) => 3,
    };
    v.sort_by_key(|ip| (rank(ip), *ip));
    v.dedup();
    v
}

/// The base URL for a server bound to `bind`: the address itself, or for an unspecified
/// address (0.0.0.0) the machine's best LAN address, which colleagues can reach (loopback when
/// there is none).
pub fn base_url_for(bind: std::net::SocketAddr, scheme: &str) -> String {
    let ip = if bind.ip().is_unspecified() {
        lan_addresses().into_iter().find(|ip| ip.is_ipv4() == bind.is_ipv4()).unwrap_or(if bind.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        })
    } else {
        bind.ip()
    };
    format!("{scheme}://{}", std::net::SocketAddr::new(ip, bind.port()))
}

pub use reel_share::listen::{raise_open_files, Limits};

/// Creates a share link for a recording; returns the share and its URL under `base_url`.
pub fn share(lib: &Library, id: &str, o: &ShareOptions, base_url: &str) -> Result<(Share, String), ApiError> {
    let (entry, _) = lib.show(id)?;
    if entry.status != "ok" {
        return Err(ApiError { code: crate::ErrorCode::BadInput, message: format!("{} cannot be shared: {}", entry.id, entry.warning.unwrap_or_default()) });
    }
    let store = reel_share::ShareStore::open(lib.root())?;
    let s = store.create(&entry.id, o)?;
    let token = s.token.as_deref().ok_or_else(|| ApiError::new(ErrorCode::Internal, "a new link came without its token"))?;
    let url = format!("{}/v/{token}", base_url.trim_end_matches('/'));
    Ok((s, url))
}

/// Revokes a link (its token, or its id's first 12 or more hex digits as `reel shares` lists
/// it), or every link of a recording (id or unique id prefix).
pub fn unshare(lib: &Library, id_or_token: &str) -> Result<usize, ApiError> {
    let store = reel_share::ShareStore::open(lib.root())?;
    let n = store.revoke(id_or_token)?;
    if n > 0 {
        return Ok(n);
    }
    let id = lib.resolve(id_or_token)?;
    Ok(store.revoke(&id)?)
}

/// What viewers left on a recording (from every link to it, each item naming its link):
/// comments, reactions, views.
pub fn feedback(lib: &Library, id: &str) -> Result<Feedback, ApiError> {
    let id = lib.resolve(id)?;
    Ok(reel_share::ShareStore::open(lib.root())?.feedback(&id)?)
}

/// Attaches captions (WebVTT or SRT) to a recording; share pages offer them as a track.
pub fn set_captions(lib: &Library, id: &str, file: &Path) -> Result<std::path::PathBuf, ApiError> {
    Ok(lib.set_captions(id, file)?)
}

/// Moves a recording to the trash and revokes every link to it: restoring it later does not
/// bring its links back (the links said "this recording is shared"; deleting said it is not).
pub fn delete_recording(lib: &Library, id: &str) -> Result<String, ApiError> {
    let id = lib.delete(id)?;
    reel_share::ShareStore::open(lib.root())?.revoke(&id)?;
    Ok(id)
}

pub fn shares(lib: &Library) -> Result<Vec<Share>, ApiError> {
    Ok(reel_share::ShareStore::open(lib.root())?.list()?)
}

/// A certificate and key for HTTPS on the share server (PEM files).
#[derive(Clone, Debug)]
pub struct Tls {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// Runs the share server on `bind` until Ctrl-C, with the given connection limits, over HTTPS
/// when `tls` is given. Once it listens, its address (`base_url`, else one derived from the
/// bound address) is recorded in the library for `reel share`; `on_ready` gets the bound
/// address and that base URL.
pub fn serve(
    lib: &Library,
    bind: std::net::SocketAddr,
    base_url: Option<&str>,
    limits: Limits,
    tls: Option<&Tls>,
    on_ready: impl FnOnce(std::net::SocketAddr, &str),
) -> Result<(), ApiError> {
    // A bad certificate is found before the port is taken or the address recorded.
    let acceptor = tls.map(|t| reel_share::listen::tls_acceptor(&t.cert, &t.key)).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    Ok(reel_share::server::run(bind, lib.root(), limits, acceptor, |a| {
        // The base URL may depend on the port bound (port 0), so it is settled once bound.
        let base = base_url.map(|b| b.trim_end_matches('/').to_string()).unwrap_or_else(|| base_url_for(a, scheme));
        if let Err(e) = record_server(lib, &base, a) {
            eprintln!("warning: {e}");
        }
        on_ready(a, &base);
        base
    })?)
}

/// The desktop app's share server (which may face the LAN): links point at `public_url`, else
/// at an address worked out from the bound one; that base goes to the studio (for links made
/// in the app) and into the library (for `reel share`). If the port asked for is taken, any
/// free one is used and `on_ready` says which. The app's own calls and media are on another,
/// loopback-only server ([`http`]).
pub fn serve_shares(
    lib: &Library,
    bind: std::net::SocketAddr,
    studio: std::sync::Arc<studio::Studio>,
    public_url: Option<String>,
    tls: Option<Tls>,
    on_ready: impl FnOnce(std::net::SocketAddr),
) -> Result<(), ApiError> {
    // The port in use (another Reel, another program): the next of ten, rather than no server
    // (and rather than a random one, which the next start could not find again).
    let in_use = |a: std::net::SocketAddr| matches!(std::net::TcpListener::bind(a), Err(e) if e.kind() == std::io::ErrorKind::AddrInUse);
    let bind = if bind.port() != 0 && in_use(bind) {
        (1..=10).map(|i| std::net::SocketAddr::new(bind.ip(), bind.port().saturating_add(i))).find(|a| !in_use(*a)).unwrap_or(std::net::SocketAddr::new(bind.ip(), 0))
    } else {
        bind
    };
    let public = public_url.filter(|u| !u.is_empty());
    serve(lib, bind, public.as_deref(), Limits::default(), tls.as_ref(), |a, base| {
        studio.set_share_base(base);
        on_ready(a);
    })
}

/// A random secret for the app's media routes.
pub fn new_secret() -> Result<String, ApiError> {
    Ok(reel_share::store::new_token()?)
}

/// Parses `7d`, `12h`, `30m`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, ApiError> {
    Ok(reel_share::parse_duration(s)?)
}

/// Unix seconds as an RFC 3339 UTC time.
pub fn format_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_else(|| unix.to_string())
}

pub use reel_publish::live::LiveUpload;
pub use reel_publish::{Client as Storage, Credentials, Publication, PublishOptions, Target, Uploaded};

impl From<reel_publish::PublishError> for ApiError {
    fn from(e: reel_publish::PublishError) -> Self {
        ApiError { code: e.code(), message: e.to_string() }
    }
}

/// Opens a bucket (`s3://BUCKET/PREFIX`) and checks that it exists and the credentials work.
pub fn connect_storage(target: &str, endpoint: Option<&str>, region: Option<&str>) -> Result<Storage, ApiError> {
    let t: Target = target.parse()?;
    let c = Storage::connect(&t, endpoint, region)?;
    c.check()?;
    Ok(c)
}

/// As [`connect_storage`], signing in as `how` says.
pub fn connect_storage_as(target: &str, endpoint: Option<&str>, region: Option<&str>, how: &Credentials) -> Result<Storage, ApiError> {
    let t: Target = target.parse()?;
    let c = Storage::connect_as(&t, endpoint, region, how)?;
    c.check()?;
    Ok(c)
}

/// Publishes a recording to a bucket (resuming an interrupted upload of the same file).
pub fn publish(lib: &Library, id: &str, storage: &Storage, o: &PublishOptions, progress: &mut dyn FnMut(f64) -> bool) -> Result<Publication, ApiError> {
    Ok(reel_publish::publish(lib, id, storage, o, progress)?)
}

/// Starts uploading a recording while it is being recorded (`Recording::partial_path`).
pub fn start_live_upload(storage: std::sync::Arc<Storage>, partial: &Path) -> Result<LiveUpload, ApiError> {
    Ok(LiveUpload::start(storage, partial)?)
}

/// After the recording joined the library, with the live upload's outcome
/// (`LiveUpload::finish`, which can run while the library makes the poster): publishes the
/// rest. If the live upload failed, the final file is uploaded the ordinary way; the second
/// value then says why.
pub fn finish_live_publish(
    lib: &Library,
    id: &str,
    storage: &Storage,
    o: &PublishOptions,
    pub_id: &str,
    uploaded: Result<Uploaded, ApiError>,
) -> Result<(Publication, Option<String>), ApiError> {
    match uploaded {
        Ok(up) => Ok((reel_publish::publish_uploaded(lib, id, storage, o, pub_id, up)?, None)),
        Err(e) => {
            let why = format!("the upload during recording did not complete ({e}); the recording was uploaded after it");
            Ok((publish(lib, id, storage, o, &mut |_| true)?, Some(why)))
        }
    }
}

/// Deletes a recording's published objects (all its publications, or one by id).
pub fn unpublish(lib: &Library, id: &str, only: Option<&str>) -> Result<usize, ApiError> {
    let connect = |p: &Publication| Storage::connect(&p.target, Some(&p.endpoint).filter(|e| !e.contains(".amazonaws.com")).map(|s| s.as_str()), Some(&p.region));
    Ok(reel_publish::unpublish(lib, id, only, &connect)?)
}

pub fn publications(lib: &Library, id: &str) -> Result<Vec<Publication>, ApiError> {
    Ok(reel_publish::publications(lib, id)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reel_capture::CaptureError;
    use std::path::PathBuf;

    /// What the app shows is worded for the app: the errors it can meet name no command-line
    /// flag and no `reel` command (the CLI adds those itself, by error code).
    #[test]
    fn errors_the_app_shows_name_no_command_line_flags() {
        let lib_dir = tempfile::tempdir().unwrap();
        let lib = reel_library::Library::open(lib_dir.path()).unwrap();
        let p = PathBuf::from("/videos/take.mp4");
        let capture = [
            CaptureError::NoCamera { wanted: Some("Logi".into()) },
            CaptureError::CameraOpen { name: "cam".into(), reason: "busy".into() },
            CaptureError::NoMic { wanted: Some("Yeti".into()), available: vec!["Headset".into()] },
            CaptureError::MicOpen { name: "Yeti".into(), reason: "gone".into() },
            CaptureError::AudioHost("no server".into()),
        ];
        let mut shown: Vec<ApiError> = capture.into_iter().map(|c| ApiError::from(RecordError::Capture(c))).collect();
        shown.extend(
            [
                RecordError::OutputExists(p.clone()),
                RecordError::Unwritable { path: p.clone(), reason: "read-only".into() },
                RecordError::NothingToRecover(p.clone()),
                RecordError::OutputBusy(p.clone()),
                RecordError::WaitingForRecovery(p.clone()),
                RecordError::DiskFull { dir: "/videos".into(), free_mb: 1.0, saved_s: 12.0, partial: p.clone() },
            ]
            .map(ApiError::from),
        );
        shown.push(lib.show("no-such-id").map(|_| ()).unwrap_err().into());
        shown.push(ShareError::Bind("0.0.0.0:80".into(), "in use".into()).into());
        shown.push(connect_storage("s3://bucket", Some("not a url"), None).map(|_| ()).unwrap_err());
        for e in &shown {
            assert!(!e.message.contains("--") && !e.message.contains("`reel"), "{:?}: {}", e.code, e.message);
        }
        assert_eq!(shown[4].code, ErrorCode::MicUnavailable);
        assert_eq!(shown[9].code, ErrorCode::NeedsRecovery);
        assert_eq!(shown[10].code, ErrorCode::DiskFull);
    }
}
