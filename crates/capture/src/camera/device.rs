//! A camera as a service: one thread per open camera owns the nokhwa stream, converts every
//! frame once into a pooled RGBA buffer, and publishes it twice — to a latest-frame slot (the
//! app's preview, `reel preview`) and to each subscriber's bounded queue (a recording).
//!
//! ```text
//!  V4L2 device ──frame_raw (the driver's own mmap buffer, no copy)──> CAMERA THREAD
//!     convert YUYV/NV12/MJPEG ─> RGBA in a pooled Arc buffer (no frame-buffer allocation in
//!     steady state; the JPEG decoders keep a little state of their own per frame)
//!        ├─> latest-frame slot ──> preview (the same frames the recording gets)
//!        └─> each subscriber: stamped on its own clock ─[Out: wait ≤ budget, then drop + count]─> recorder
//!     frame_raw fails (unplugged) ─> status Disconnected, subscribers' camera_down set
//!        ─> look for it again every 300 ms (by name, then by index) ─> Streaming again
//! ```
//!
//! Opening the same camera twice in one process returns the same device (a registry of weak
//! handles), so the preview that is open when Record is pressed is the device the recording
//! uses; the last handle dropped closes the camera. A device still closing (its thread has not
//! let go of the driver yet) is waited for before the camera is opened again, so a quick
//! close-and-reopen never reports Reel's own stream as "another program".
//!
//! nokhwa reads frames with no timeout, so a camera that stops sending without an error keeps
//! its thread waiting inside the driver: a watchdog marks it disconnected after two seconds
//! (the preview and the recording show the card), and it streams on if frames come back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nokhwa::utils::{CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType, Resolution};
use nokhwa::Camera;
use reel_media::{free_buffer, Clock, Fps, Size, VideoFrame};

use super::convert::{self, Jpeg};
use super::mode::{self, Mode, PixelFormat};
use super::CameraInfo;
use crate::{CaptureError, Out, Pushed};

/// How long opening may take before the camera is declared silent.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// A streaming camera silent this long is reported as disconnected.
const WATCHDOG: Duration = Duration::from_secs(2);
/// How often an unplugged camera is looked for.
const RECONNECT_EVERY: Duration = Duration::from_millis(300);

/// What the camera is doing.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CameraStatus {
    Streaming {
        mode: Mode,
    },
    /// Unplugged or failing; the thread is looking for it again.
    Disconnected {
        reason: String,
    },
}

struct Subscriber {
    id: u64,
    clock: Clock,
    out: Out<VideoFrame>,
}

struct State {
    status: CameraStatus,
    modes: Vec<Mode>,
    want: (Size, Fps),
    /// A different output was asked for while nobody recorded: reopen in the mode for it.
    renegotiate: bool,
    /// The thread is switching modes: until the first frame in the new mode.
    switching: bool,
    latest: Option<VideoFrame>,
    seq: u64,
    subscribers: Vec<Subscriber>,
    next_id: u64,
    /// Frames the camera sent that could not be converted (torn or corrupt), and why the last
    /// one failed.
    bad_frames: u64,
    last_bad: Option<String>,
    /// When the newest frame arrived (the watchdog's reference).
    last_frame_at: Option<Instant>,
}

struct Shared {
    info: CameraInfo,
    stop: AtomicBool,
    state: Mutex<State>,
    fresh: Condvar,
    done: Mutex<bool>,
    done_cv: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An open camera. Cheap to share (`Arc`); dropping the last handle closes it.
pub struct CameraDevice {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// A recording's feed from a camera; dropping it unsubscribes (and closes the queue, so the
/// recorder's video thread sees the end of its input).
pub struct Subscription {
    device: Arc<CameraDevice>,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.device.shared.lock().subscribers.retain(|s| s.id != self.id);
    }
}

impl Subscription {
    pub fn device(&self) -> &Arc<CameraDevice> {
        &self.device
    }
}

/// Open (and closing) cameras by index: the handle, and the shared state that outlives it
/// until its thread has closed the driver.
type Registry = Vec<(u32, Weak<CameraDevice>, Arc<Shared>)>;
static OPEN: Mutex<Registry> = Mutex::new(Vec::new());

/// How long a closing device may take before a reopen gives up on it.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

fn to_mode(f: &CameraFormat) -> Option<Mode> {
    let format = match f.format() {
        FrameFormat::MJPEG => PixelFormat::Mjpeg,
        FrameFormat::YUYV => PixelFormat::Yuyv,
        FrameFormat::NV12 => PixelFormat::Nv12,
        FrameFormat::RAWRGB => PixelFormat::Rgb,
        FrameFormat::RAWBGR => PixelFormat::Bgr,
        FrameFormat::GRAY => PixelFormat::Gray,
    };
    Some(Mode { format, width: f.resolution().width(), height: f.resolution().height(), fps: f.frame_rate() }).filter(|m| m.fps > 0)
}

fn to_nokhwa(m: Mode) -> CameraFormat {
    let format = match m.format {
        PixelFormat::Mjpeg => FrameFormat::MJPEG,
        PixelFormat::Yuyv => FrameFormat::YUYV,
        PixelFormat::Nv12 => FrameFormat::NV12,
        PixelFormat::Rgb => FrameFormat::RAWRGB,
        PixelFormat::Bgr => FrameFormat::RAWBGR,
        PixelFormat::Gray => FrameFormat::GRAY,
    };
    CameraFormat::new(Resolution::new(m.width, m.height), format, m.fps)
}

/// Turns nokhwa's errors into ones that name the device and the way out. The kernel's errno
/// survives only in the message text (nokhwa stringifies it).
fn classify(name: &str, e: &nokhwa::NokhwaError) -> CaptureError {
    let reason = e.to_string();
    if reason.contains("Device or resource busy") || reason.contains("os error 16") {
        CaptureError::CameraBusy { name: name.to_string() }
    } else if reason.contains("Permission denied") || reason.contains("os error 13") {
        CaptureError::CameraPermission { name: name.to_string() }
    } else {
        CaptureError::CameraOpen { name: name.to_string(), reason }
    }
}

fn modes_of(cam: &mut Camera, name: &str) -> Result<Vec<Mode>, CaptureError> {
    let formats = cam.compatible_camera_formats().map_err(|e| classify(name, &e))?;
    let mut modes: Vec<Mode> = formats.iter().filter_map(to_mode).collect();
    modes.sort_by_key(|m| (m.format.name(), m.width, m.height, m.fps));
    modes.dedup();
    Ok(modes)
}

/// Opens camera `index` in the best mode for `want` and starts its stream.
/// A request that accepts every format Reel converts (grey included: nokhwa's RGB decoder list
/// would leave grey-only cameras out). Reel decodes the raw frames itself.
fn request(kind: RequestedFormatType) -> RequestedFormat<'static> {
    RequestedFormat::with_formats(kind, nokhwa::utils::frame_formats())
}

fn open_camera(info: &CameraInfo, want: (Size, Fps)) -> Result<(Camera, Vec<Mode>, Mode), CaptureError> {
    let name = info.name.as_str();
    let mut cam = Camera::new(CameraIndex::Index(info.index), request(RequestedFormatType::None)).map_err(|e| classify(name, &e))?;
    let modes = modes_of(&mut cam, name)?;
    let mode = mode::pick(&modes, want.0, want.1)
        .ok_or_else(|| CaptureError::CameraOpen { name: name.to_string(), reason: "it offers no picture format Reel can read (MJPEG, YUYV, NV12, RGB or grey)".into() })?;
    cam.set_camera_requset(request(RequestedFormatType::Exact(to_nokhwa(mode)))).map_err(|e| classify(name, &e))?;
    cam.open_stream().map_err(|e| classify(name, &e))?;
    Ok((cam, modes, mode))
}

/// The modes a camera offers, opening it briefly unless this process has it open already.
pub fn modes(info: &CameraInfo) -> Result<Vec<Mode>, CaptureError> {
    if let Some(d) = registered(info.index) {
        return Ok(d.shared.lock().modes.clone());
    }
    let name = info.name.as_str();
    let mut cam = Camera::new(CameraIndex::Index(info.index), request(RequestedFormatType::None)).map_err(|e| classify(name, &e))?;
    modes_of(&mut cam, name)
}

/// The camera a spec names if this process has it open already (the app's preview): no
/// listing, no reopening, no change of mode.
pub fn find_open(spec: &crate::CameraSpec) -> Option<Arc<CameraDevice>> {
    let reg = registry();
    let found = match spec {
        crate::CameraSpec::Index(n) => reg.iter().find(|(i, _, _)| i == n).and_then(|(_, w, _)| w.upgrade()),
        crate::CameraSpec::Name(n) => {
            let n = n.to_lowercase();
            reg.iter().filter(|(_, _, s)| s.info.name.to_lowercase().contains(&n)).find_map(|(_, w, _)| w.upgrade())
        }
        _ => None,
    };
    drop(reg); // a handle that turns out to be the last must not close its camera under the lock
    found
}

fn registry() -> MutexGuard<'static, Registry> {
    OPEN.lock().unwrap_or_else(|p| p.into_inner())
}

fn registered(index: u32) -> Option<Arc<CameraDevice>> {
    let reg = registry();
    let d = reg.iter().find(|(i, _, _)| *i == index).and_then(|(_, w, _)| w.upgrade());
    drop(reg);
    d
}

fn is_done(s: &Shared) -> bool {
    *s.done.lock().unwrap_or_else(|p| p.into_inner())
}

impl CameraDevice {
    /// Opens the camera for an output of `size` at `fps`, or returns the already open device
    /// (which switches to the mode for the new output if nobody is recording from it). Returns
    /// once the first frame arrived, or with the error that prevented it: busy, no permission,
    /// no usable format, or no picture within 5 s.
    pub fn open(info: &CameraInfo, size: Size, fps: Fps, jpeg: Jpeg) -> Result<Arc<CameraDevice>, CaptureError> {
        let mut reg = registry();
        reg.retain(|(_, w, s)| w.strong_count() > 0 || !is_done(s));
        if let Some(d) = reg.iter().find(|(i, _, _)| *i == info.index).and_then(|(_, w, _)| w.upgrade()) {
            drop(reg);
            d.request(size, fps);
            d.settle(OPEN_TIMEOUT);
            return Ok(d);
        }
        // A device of this camera still closing: wait until its thread let go of the driver.
        if let Some(closing) = reg.iter().find(|(i, _, _)| *i == info.index).map(|(_, _, s)| s.clone()) {
            let done = closing.done.lock().unwrap_or_else(|p| p.into_inner());
            let (done, _) = closing.done_cv.wait_timeout_while(done, CLOSE_TIMEOUT, |d| !*d).unwrap_or_else(|p| p.into_inner());
            if !*done {
                return Err(CaptureError::CameraOpen {
                    name: info.name.clone(),
                    reason: "its previous stream in Reel is stuck in the driver; unplug and replug the camera, or restart Reel".into(),
                });
            }
            drop(done);
            reg.retain(|(_, _, s)| !Arc::ptr_eq(s, &closing));
        }
        let d = Arc::new(Self::spawn(info.clone(), (size, fps), jpeg)?);
        reg.push((info.index, Arc::downgrade(&d), d.shared.clone()));
        Ok(d)
    }

    /// Waits (up to `timeout`) for a mode switch asked for by [`CameraDevice::request`] to be
    /// done and a frame in the new mode to have arrived.
    fn settle(&self, timeout: Duration) {
        let st = self.shared.lock();
        let _ = self.shared.fresh.wait_timeout_while(st, timeout, |st| st.renegotiate || st.switching).unwrap_or_else(|p| p.into_inner());
    }

    fn spawn(info: CameraInfo, want: (Size, Fps), jpeg: Jpeg) -> Result<CameraDevice, CaptureError> {
        let shared = Arc::new(Shared {
            info: info.clone(),
            stop: AtomicBool::new(false),
            state: Mutex::new(State {
                status: CameraStatus::Disconnected { reason: "opening".into() },
                modes: Vec::new(),
                want,
                renegotiate: false,
                switching: false,
                latest: None,
                seq: 0,
                subscribers: Vec::new(),
                next_id: 0,
                bad_frames: 0,
                last_bad: None,
                last_frame_at: None,
            }),
            fresh: Condvar::new(),
            done: Mutex::new(false),
            done_cv: Condvar::new(),
        });
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), CaptureError>>();
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("reel-camera".into())
            .spawn(move || {
                // nokhwa's handles are not `Send` on every platform: the camera lives and dies
                // on this thread.
                match open_camera(&s.info, want) {
                    Ok((cam, modes, mode)) => {
                        {
                            let mut st = s.lock();
                            st.modes = modes;
                            st.status = CameraStatus::Streaming { mode };
                        }
                        run(&s, cam, mode, jpeg, Some(ready_tx));
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
                *s.done.lock().unwrap_or_else(|p| p.into_inner()) = true;
                s.done_cv.notify_all();
            })
            .map_err(|e| CaptureError::Thread(e.to_string()))?;
        let device = CameraDevice { shared, thread: Mutex::new(Some(thread)) };
        match ready_rx.recv_timeout(OPEN_TIMEOUT) {
            Ok(Ok(())) => Ok(device),
            Ok(Err(e)) => Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let reason = match device.shared.lock().last_bad.clone() {
                    Some(why) => format!("none of its pictures could be read in 5 s ({why})"),
                    None => "it opened but sent no picture within 5 s".into(),
                };
                Err(CaptureError::CameraOpen { name: info.name, reason })
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(CaptureError::CameraOpen { name: info.name, reason: "the camera thread ended while opening".into() }),
        }
    }

    pub fn info(&self) -> &CameraInfo {
        &self.shared.info
    }

    /// What the camera is doing. A camera that has sent nothing for two seconds while
    /// streaming counts as disconnected (it may be hung inside the driver, see the module docs).
    pub fn status(&self) -> CameraStatus {
        let st = self.shared.lock();
        match &st.status {
            CameraStatus::Streaming { .. } if st.last_frame_at.is_some_and(|t| t.elapsed() > WATCHDOG) && !st.renegotiate && !st.switching => {
                CameraStatus::Disconnected { reason: "it stopped sending pictures".into() }
            }
            s => s.clone(),
        }
    }

    pub fn modes(&self) -> Vec<Mode> {
        self.shared.lock().modes.clone()
    }

    /// Frames the camera sent that could not be converted.
    pub fn bad_frames(&self) -> u64 {
        self.shared.lock().bad_frames
    }

    /// The newest frame (its `ts` is zero: it belongs to no recording), if any yet.
    pub fn latest(&self) -> Option<VideoFrame> {
        self.shared.lock().latest.clone()
    }

    /// The newest frame, waiting up to `timeout` for the first one.
    pub fn wait_latest(&self, timeout: Duration) -> Option<VideoFrame> {
        let st = self.shared.lock();
        let (st, _) = self.shared.fresh.wait_timeout_while(st, timeout, |st| st.latest.is_none()).unwrap_or_else(|p| p.into_inner());
        st.latest.clone()
    }

    /// A new output size or rate: reopen in the mode for it, unless a recording is using the
    /// camera (then its frames keep their size; the compositor scales them anyway). The app
    /// asks as soon as the size is chosen, so the switch is over before Record subscribes.
    pub fn request(&self, size: Size, fps: Fps) {
        let mut st = self.shared.lock();
        if st.want == (size, fps) || !st.subscribers.is_empty() {
            return;
        }
        let current = match &st.status {
            CameraStatus::Streaming { mode } => Some(*mode),
            CameraStatus::Disconnected { .. } => None,
        };
        st.want = (size, fps);
        if current.is_some() && mode::pick(&st.modes, size, fps) != current {
            st.renegotiate = true;
        }
    }

    /// Feeds the camera's frames, stamped on `clock`, into `out` (with its full-queue policy)
    /// until the subscription is dropped or the clock stops.
    pub fn subscribe(self: &Arc<Self>, clock: Clock, out: Out<VideoFrame>) -> Subscription {
        let mut st = self.shared.lock();
        if matches!(st.status, CameraStatus::Disconnected { .. }) {
            out.health().camera_down.store(true, Ordering::Relaxed);
        }
        let id = st.next_id;
        st.next_id += 1;
        st.subscribers.push(Subscriber { id, clock, out });
        Subscription { device: self.clone(), id }
    }
}

impl Drop for CameraDevice {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        // Wait for the thread to close the device (normally within one frame), so that opening
        // it again right away does not find it busy. A camera stuck inside the driver is left
        // to its thread rather than hanging whoever dropped the last handle.
        let done = self.shared.done.lock().unwrap_or_else(|p| p.into_inner());
        let (done, _) = self.shared.done_cv.wait_timeout_while(done, Duration::from_secs(2), |d| !*d).unwrap_or_else(|p| p.into_inner());
        if *done {
            if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = t.join();
            }
        }
    }
}

/// The camera thread: read, convert, publish; on failure, wait for the camera to come back.
fn run(s: &Shared, mut cam: Camera, mut mode: Mode, jpeg: Jpeg, mut ready: Option<mpsc::Sender<Result<(), CaptureError>>>) {
    let mut pool: Vec<Arc<Vec<u8>>> = Vec::new();
    let mut subs: Vec<(Clock, Out<VideoFrame>, u64)> = Vec::new();
    let mut prev: Option<Instant> = None;
    while !s.stop.load(Ordering::Relaxed) {
        let failure = match cam.frame_raw() {
            Ok(raw) => {
                let at = Instant::now();
                let mut buf = free_buffer(&mut pool, mode.width as usize * mode.height as usize * 4);
                let converted = match Arc::get_mut(&mut buf) {
                    Some(px) => convert::to_rgba(mode.format, mode.width, mode.height, &raw, px, jpeg),
                    None => Ok(()), // unreachable: free_buffer hands out unshared buffers
                };
                drop(raw);
                pool.push(buf.clone());
                match converted {
                    Ok(()) => {
                        let frame = VideoFrame { ts: Duration::ZERO, width: mode.width, height: mode.height, data: buf };
                        publish(s, frame, at, prev, &mut subs);
                        prev = Some(at);
                        if let Some(r) = ready.take() {
                            let _ = r.send(Ok(()));
                        }
                        None
                    }
                    Err(e) => {
                        let mut st = s.lock();
                        st.bad_frames += 1;
                        st.last_bad = Some(e.to_string());
                        None
                    }
                }
            }
            Err(e) => Some(e.to_string()),
        };
        let renegotiate = {
            let mut st = s.lock();
            let r = std::mem::take(&mut st.renegotiate);
            st.switching |= r;
            r
        };
        if failure.is_none() && !renegotiate {
            continue;
        }
        let _ = cam.stop_stream();
        drop(cam);
        prev = None;
        if let Some(reason) = &failure {
            let mut st = s.lock();
            st.status = CameraStatus::Disconnected { reason: reason.clone() };
            for sub in &st.subscribers {
                sub.out.health().camera_down.store(true, Ordering::Relaxed);
            }
        }
        // A mode switch reopens at once; only a lost camera waits to be looked for again.
        let reopened = if failure.is_none() {
            let want = s.lock().want;
            match open_camera(&s.info, want) {
                Ok((c, modes, m)) => {
                    s.lock().modes = modes;
                    Some((c, m))
                }
                Err(e) => {
                    s.lock().status = CameraStatus::Disconnected { reason: e.to_string() };
                    reconnect(s)
                }
            }
        } else {
            reconnect(s)
        };
        match reopened {
            Some((c, m)) => {
                cam = c;
                mode = m;
                let mut st = s.lock();
                st.status = CameraStatus::Streaming { mode };
                for sub in &st.subscribers {
                    sub.out.health().camera_down.store(false, Ordering::Relaxed);
                }
            }
            None => return,
        }
    }
    let _ = cam.stop_stream();
}

/// Hands a frame to the latest-frame slot and every subscriber. The subscriber list is copied
/// out (into a reused vector) so that a subscriber's full queue never holds the lock the
/// preview needs.
fn publish(s: &Shared, frame: VideoFrame, at: Instant, prev: Option<Instant>, subs: &mut Vec<(Clock, Out<VideoFrame>, u64)>) {
    {
        let mut st = s.lock();
        st.latest = Some(frame.clone());
        st.seq += 1;
        st.last_frame_at = Some(at);
        st.switching = false;
        subs.clear();
        subs.extend(st.subscribers.iter().map(|x| (x.clock.clone(), x.out.clone(), x.id)));
    }
    s.fresh.notify_all();
    let mut gone: Option<u64> = None;
    for (clock, out, id) in subs.iter() {
        if clock.is_stopped() {
            gone = Some(*id);
            continue;
        }
        // Not started yet, or paused: this frame is not part of that recording.
        let Some(ts) = clock.media_time_of(at) else {
            continue;
        };
        if let Some(p) = prev {
            out.health().note_interval(at - p);
        }
        if out.push(VideoFrame { ts, ..frame.clone() }) == Pushed::Closed {
            gone = Some(*id);
        }
    }
    if let Some(id) = gone {
        s.lock().subscribers.retain(|x| x.id != id);
    }
    subs.clear();
}

/// Looks for the camera again (by name first: a replugged camera may get another index) until
/// it opens or the device is closed.
fn reconnect(s: &Shared) -> Option<(Camera, Mode)> {
    loop {
        let deadline = Instant::now() + RECONNECT_EVERY;
        while Instant::now() < deadline {
            if s.stop.load(Ordering::Relaxed) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The same camera: its bus position (in the description) first, so that of two
        // identical webcams the other one is never taken for it; then the name; then the index.
        let cams = super::list_cameras();
        let found = cams
            .iter()
            .find(|c| !s.info.description.is_empty() && c.description == s.info.description)
            .or_else(|| cams.iter().find(|c| c.name == s.info.name))
            .or_else(|| cams.iter().find(|c| c.index == s.info.index));
        let Some(info) = found else { continue };
        let want = s.lock().want;
        match open_camera(info, want) {
            Ok((cam, modes, mode)) => {
                s.lock().modes = modes;
                return Some((cam, mode));
            }
            Err(e) => {
                s.lock().status = CameraStatus::Disconnected { reason: e.to_string() };
            }
        }
    }
}
