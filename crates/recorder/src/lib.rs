//! The recording engine: wires capture → compose → codec, owns the recording's state machine,
//! its health counters and its crash recovery.
//!
//! ```text
//!  Prepared ──start──> Recording ⇄ Paused ──stop──> Flushing ──> Finished
//!      │                    │                          │
//!      └─ devices opened,   └─ fragmented MP4 grows;    └─ queues drained, encoders flushed,
//!         file created         a session file names it     file closed, remuxed (faststart)
//! ```
//! `Finished` is only reached once the final file exists under its name; until then the
//! fragmented partial file and its session entry make the recording recoverable
//! ([`session::recover`]).

mod pipeline;
pub mod preview;
pub mod session;
pub mod stage;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use reel_capture::paced::FrameSupply;
use reel_capture::{CameraSpec, CaptureError, MicSpec, Out};
use reel_codec::decode::VideoFileReader;
use reel_codec::{remux, CodecError, Mp4Writer, Preset, WriterSettings};
use reel_compose::{Compositor, Scene};
use reel_media::{Clock, ClockMode, Fps, Health, HealthSnapshot, Size, VideoFrame};

use pipeline::{MuxStage, VideoStage};
pub use session::{Recovered, Session};
pub use stage::{StageCommand, StageSpec, Timeline};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("{0} already exists; record to another file or move that one away")]
    OutputExists(PathBuf),
    #[error("cannot write to {path}: {reason}; record to a folder you can write to")]
    Unwritable { path: PathBuf, reason: String },
    #[error("nothing to recover at {0}: no interrupted recording there")]
    NothingToRecover(PathBuf),
    #[error("that recording is still running (process {0}); stop it first")]
    StillRecording(u32),
    #[error("another recording to {0} is running; record to another file")]
    OutputBusy(PathBuf),
    #[error("an interrupted recording to {0} waits to be recovered: recover it first, or record to another file")]
    WaitingForRecovery(PathBuf),
    #[error("recording failed: {0}")]
    Pipeline(String),
    #[error("the disk holding {dir} is full ({free_mb:.1} MB free); {saved_s:.0} s were saved in {partial}: free some space, then recover it")]
    DiskFull { dir: PathBuf, free_mb: f64, saved_s: f64, partial: PathBuf },
    #[error(transparent)]
    Compose(#[from] reel_compose::ComposeError),
}

impl RecordError {
    /// A stable machine-readable code for the UI and `--json`.
    pub fn code(&self) -> reel_media::ErrorCode {
        match self {
            RecordError::Capture(CaptureError::NoCamera { .. } | CaptureError::CameraOpen { .. }) => reel_media::ErrorCode::CameraUnavailable,
            RecordError::Capture(CaptureError::CameraBusy { .. }) => reel_media::ErrorCode::CameraBusy,
            RecordError::Capture(CaptureError::CameraPermission { .. }) => reel_media::ErrorCode::CameraPermission,
            RecordError::Capture(CaptureError::NoMic { .. } | CaptureError::MicOpen { .. } | CaptureError::AudioHost(_)) => reel_media::ErrorCode::MicUnavailable,
            RecordError::Capture(_) => reel_media::ErrorCode::CaptureFailed,
            RecordError::Codec(CodecError::Open { .. } | CodecError::NoStream { .. }) => reel_media::ErrorCode::BadInput,
            RecordError::Codec(_) => reel_media::ErrorCode::EncodeFailed,
            RecordError::Io { .. } | RecordError::Unwritable { .. } => reel_media::ErrorCode::Io,
            RecordError::OutputExists(_) => reel_media::ErrorCode::OutputExists,
            RecordError::NothingToRecover(_) => reel_media::ErrorCode::NotFound,
            RecordError::StillRecording(_) | RecordError::OutputBusy(_) => reel_media::ErrorCode::Busy,
            RecordError::WaitingForRecovery(_) => reel_media::ErrorCode::NeedsRecovery,
            RecordError::Pipeline(_) => reel_media::ErrorCode::Pipeline,
            RecordError::DiskFull { .. } => reel_media::ErrorCode::DiskFull,
            RecordError::Compose(_) => reel_media::ErrorCode::BadInput,
        }
    }
}

/// Everything a recording needs to know.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    pub camera: CameraSpec,
    pub mic: MicSpec,
    pub size: Size,
    pub fps: Fps,
    pub output: PathBuf,
    /// Stop by itself after this much media time.
    pub max_duration: Option<Duration>,
    pub title: Option<String>,
    /// Realtime for live recording; Virtual renders synthetic/file sources as fast as possible.
    pub clock: ClockMode,
    /// Encoder preset; `None` picks the live preset for the size.
    pub preset: Option<Preset>,
    /// Layout, bubble, background, text overlays.
    pub scene: Scene,
    /// Slides or screen behind (or beside) the presenter.
    pub stage: StageSpec,
    /// At Stop, make the fragmented recording itself the final file (synced and renamed, in
    /// constant time whatever the length) instead of copying it into a faststart MP4 with
    /// chapters: for recordings into the library, which makes that copy in the background.
    pub finish_in_place: bool,
}

impl RecordOptions {
    pub fn new(output: impl Into<PathBuf>) -> Self {
        RecordOptions {
            camera: CameraSpec::Synthetic,
            mic: MicSpec::Tone,
            size: Size { width: 1280, height: 720 },
            fps: Fps::new(30).unwrap_or_else(|_| unreachable!()),
            output: output.into(),
            max_duration: None,
            title: None,
            clock: ClockMode::Realtime,
            preset: None,
            scene: Scene::default(),
            stage: StageSpec::None,
            finish_in_place: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Prepared,
    Recording,
    Paused,
    Flushing,
    Finished,
    Failed,
}

/// What a finished recording reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Summary {
    pub output: PathBuf,
    pub duration_s: f64,
    pub frames_encoded: u64,
    pub frames_dropped: u64,
    pub frames_duplicated: u64,
    /// From the stop request to the final file existing.
    pub finalize_ms: f64,
    pub capture_jitter_p99_ms: f64,
    pub bytes: u64,
    pub health: HealthSnapshot,
}

/// Free space kept on the recording's disk: the recording stops before the disk has less, so
/// the last fragment, the session and the timeline still fit (and the rest of the system
/// keeps working).
pub const SPACE_RESERVE: u64 = 4 << 20;

/// Pause/resume from anywhere, without owning the recording.
#[derive(Clone)]
pub struct Control {
    clock: Clock,
    state: Arc<Mutex<State>>,
    commands: crossbeam_channel::Sender<(Duration, StageCommand)>,
    slides: usize,
}

impl Control {
    fn set(&self, from: State, to: State) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if *s == from && !self.clock.is_stopped() {
            *s = to;
            true
        } else {
            false
        }
    }

    pub fn pause(&self) {
        if self.set(State::Recording, State::Paused) {
            self.clock.pause();
        }
    }

    pub fn resume(&self) {
        if self.set(State::Paused, State::Recording) {
            self.clock.resume();
        }
    }

    /// Changes the scene now (next slide, layout, camera…). Applied from the next frame on and
    /// recorded in the timeline. Slide numbers out of range are refused.
    pub fn command(&self, c: StageCommand) -> Result<(), String> {
        c.validate(self.slides)?;
        self.commands.try_send((self.clock.elapsed(), c)).map_err(|_| "too many commands at once; try again".to_string())
    }

    pub fn slide_count(&self) -> usize {
        self.slides
    }
}

/// A recording whose devices are open and whose file exists, not yet started (so a countdown
/// can run between the two and the first frame is on time).
pub struct Recording {
    opts: RecordOptions,
    clock: Clock,
    health: Arc<Health>,
    state: Arc<Mutex<State>>,
    session: Session,
    sources: Vec<JoinHandle<()>>,
    /// A live camera's feed; dropped at stop so the video thread sees the end of its input.
    camera: Option<reel_capture::camera::Subscription>,
    video: Option<JoinHandle<Result<(), RecordError>>>,
    mux: Option<JoinHandle<Result<(), RecordError>>>,
    source_error: Arc<Mutex<Option<String>>>,
    commands: crossbeam_channel::Sender<(Duration, StageCommand)>,
    slides: usize,
    /// The lock on the partial, held while this recording runs (dropped last).
    _claim: session::Claim,
}

struct FileSupply {
    path: PathBuf,
}

impl FrameSupply for FileSupply {
    type Iter = std::iter::Map<VideoFileReader, fn(Result<VideoFrame, CodecError>) -> Result<VideoFrame, String>>;
    fn open(&mut self) -> Result<Self::Iter, String> {
        let r = VideoFileReader::open(&self.path, None).map_err(|e| e.to_string())?;
        Ok(r.map(stringify_err as fn(_) -> _))
    }
    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

fn stringify_err(r: Result<VideoFrame, CodecError>) -> Result<VideoFrame, String> {
    r.map_err(|e| e.to_string())
}

/// Checks the output path before anything is opened: an error here leaves nothing behind.
fn check_output(output: &Path) -> Result<(), RecordError> {
    if output.file_name().is_none() {
        return Err(RecordError::Unwritable { path: output.to_path_buf(), reason: "it names a folder, not a file".into() });
    }
    if output.exists() {
        return Err(RecordError::OutputExists(output.to_path_buf()));
    }
    let parent = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(RecordError::Unwritable { path: output.to_path_buf(), reason: format!("folder {} does not exist", parent.display()) });
    }
    Ok(())
}

impl Recording {
    /// Opens devices, creates the (fragmented) file and its session entry, and starts the
    /// pipeline threads, all waiting for [`Recording::start`].
    pub fn prepare(opts: RecordOptions) -> Result<Recording, RecordError> {
        check_output(&opts.output)?;
        let clock = Clock::new(opts.clock);
        let health = Arc::new(Health::default());
        let realtime = opts.clock == ClockMode::Realtime;
        let until = opts.max_duration;
        let source_error: Arc<Mutex<Option<String>>> = Arc::default();
        let mut sources = Vec::new();
        let mut camera: Option<reel_capture::camera::Subscription> = None;
        let fail = |clock: &Clock, sources: Vec<JoinHandle<()>>| {
            clock.stop();
            for s in sources {
                let _ = s.join();
            }
        };

        // Sources first: a missing device must fail before any file exists.
        let (vtx, vrx) = bounded::<VideoFrame>(8);
        let vout = Out::new(vtx, realtime.then(|| opts.fps.period() * 2), health.clone());
        let video_input = match &opts.camera {
            CameraSpec::None => None,
            CameraSpec::Synthetic => {
                sources.push(reel_capture::synthetic::spawn(opts.size, opts.fps, clock.clone(), vout, until)?);
                Some(vrx)
            }
            CameraSpec::File(path) => {
                let supply = FileSupply { path: path.clone() };
                let err = source_error.clone();
                let on_error = move |e: String| {
                    *err.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                };
                match reel_capture::paced::spawn(supply, opts.fps, clock.clone(), vout, until, on_error) {
                    Ok(h) => sources.push(h),
                    Err(e) => {
                        fail(&clock, sources);
                        return Err(e.into());
                    }
                }
                Some(vrx)
            }
            CameraSpec::Index(_) | CameraSpec::Name(_) => {
                if !realtime {
                    fail(&clock, sources);
                    return Err(RecordError::Pipeline("a camera can only record in real time".into()));
                }
                // The shared device: if the app's preview has this camera open, the recording
                // takes the same stream (and the same frames) instead of opening it again.
                match reel_capture::camera::open(&opts.camera, opts.size, opts.fps) {
                    Ok(dev) => camera = Some(dev.subscribe(clock.clone(), vout)),
                    Err(e) => {
                        fail(&clock, sources);
                        return Err(e.into());
                    }
                }
                Some(vrx)
            }
        };

        // Unpaced, a source could run seconds ahead of the other; keep them close so the muxer
        // interleaves fragments as it does live.
        let (atx, arx) = bounded(if realtime { 256 } else { 8 });
        let audio_input = match &opts.mic {
            MicSpec::None => None,
            MicSpec::Tone => {
                let aout = Out::new(atx, realtime.then_some(Duration::from_millis(50)), health.clone());
                match reel_capture::tone::spawn(clock.clone(), aout, until) {
                    Ok(h) => sources.push(h),
                    Err(e) => {
                        fail(&clock, sources);
                        return Err(e.into());
                    }
                }
                Some(arx)
            }
            MicSpec::Default | MicSpec::Name(_) => {
                if !realtime {
                    fail(&clock, sources);
                    return Err(RecordError::Pipeline("a microphone can only record in real time".into()));
                }
                let wanted = match &opts.mic {
                    MicSpec::Name(n) => Some(n.clone()),
                    _ => None,
                };
                // A device callback must never wait: a full queue drops at once.
                let aout = Out::new(atx, Some(Duration::ZERO), health.clone());
                match reel_capture::mic::spawn(wanted, clock.clone(), aout) {
                    Ok((h, _)) => sources.push(h),
                    Err(e) => {
                        fail(&clock, sources);
                        return Err(e.into());
                    }
                }
                Some(arx)
            }
        };

        let screen = match &opts.stage {
            StageSpec::Screen { display, region } => match stage::spawn_screen(display, *region, opts.fps, clock.clone()) {
                Ok((h, rx)) => {
                    sources.push(h);
                    Some(rx)
                }
                Err(e) => {
                    fail(&clock, sources);
                    return Err(e);
                }
            },
            _ => None,
        };
        let deck = match &opts.stage {
            StageSpec::Slides(d) => Some(d.clone()),
            _ => None,
        };
        let slides = deck.as_ref().map_or(0, |d| d.len());

        let partial = session::partial_path(&opts.output);
        let claim = match session::claim(&partial, &opts.output) {
            Ok(c) => c,
            Err(e) => {
                fail(&clock, sources);
                return Err(e);
            }
        };
        let settings = WriterSettings {
            size: opts.size,
            fps: opts.fps,
            audio: audio_input.is_some(),
            preset: opts.preset.unwrap_or_else(|| Preset::live(opts.size)),
            // Live: fragmented, so a crash keeps everything up to the last fragment. Unpaced
            // renders are reproducible and write a plain MP4 (ffmpeg 5.1's delayed-moov
            // fragmenting garbled the first fragment when audio and video arrive unpaced).
            fragmented: realtime,
        };
        let (writer, encoder) = match Mp4Writer::create(&partial, &settings) {
            Ok(w) => w,
            Err(e) => {
                fail(&clock, sources);
                let _ = std::fs::remove_file(&partial);
                return Err(match e {
                    CodecError::Create { reason, .. } => RecordError::Unwritable { path: opts.output.clone(), reason },
                    e => e.into(),
                });
            }
        };
        let session = Session::new(partial.clone(), opts.output.clone(), opts.title.clone());
        if let Err(e) = session.save() {
            fail(&clock, sources);
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }

        let events = match stage::EventLog::create(&stage::events_path(&partial)) {
            Ok(e) => e,
            Err(e) => {
                fail(&clock, sources);
                let _ = std::fs::remove_file(&partial);
                session.remove();
                return Err(e);
            }
        };
        let mut compositor = Compositor::new(opts.size);
        if let Some(p) = &opts.scene.background_image {
            match Compositor::load_backdrop(p, opts.size) {
                Ok(px) => compositor.set_backdrop(Some(px)),
                Err(e) => {
                    fail(&clock, sources);
                    let _ = std::fs::remove_file(&partial);
                    let _ = std::fs::remove_file(stage::events_path(&partial));
                    session.remove();
                    return Err(e.into());
                }
            }
        }
        let (ctx, crx) = bounded(64);
        let (ptx, prx) = bounded(64);
        let video_stage = VideoStage {
            fps: opts.fps,
            clock: clock.clone(),
            health: health.clone(),
            until,
            compositor,
            encoder,
            input: video_input,
            out: ptx,
            scene: opts.scene.clone(),
            deck,
            screen,
            commands: crx,
            events,
        };
        let mux_stage = MuxStage { writer, fps: opts.fps, health: health.clone(), until, video: prx, audio: audio_input };
        let spawn = |name: &str, f: Box<dyn FnOnce() -> Result<(), RecordError> + Send>| {
            std::thread::Builder::new().name(name.into()).spawn(f).map_err(|e| RecordError::Pipeline(e.to_string()))
        };
        let video = spawn("reel-video", Box::new(move || video_stage.run()))?;
        let mux = spawn("reel-mux", Box::new(move || mux_stage.run()))?;

        // Stop by itself at the maximum duration.
        if let (Some(max), true) = (until, realtime) {
            let c = clock.clone();
            sources.push(
                std::thread::Builder::new()
                    .name("reel-timer".into())
                    .spawn(move || {
                        if c.wait_until(max) != reel_media::Wait::Stopped {
                            c.stop();
                        }
                    })
                    .map_err(|e| RecordError::Pipeline(e.to_string()))?,
            );
        }

        Ok(Recording {
            opts,
            clock,
            health,
            state: Arc::new(Mutex::new(State::Prepared)),
            session,
            sources,
            camera,
            video: Some(video),
            mux: Some(mux),
            source_error,
            commands: ctx,
            slides,
            _claim: claim,
        })
    }

    fn set_state(&self, s: State) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }

    pub fn state(&self) -> State {
        let s = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(s, State::Recording | State::Paused) && self.clock.is_stopped() {
            return State::Flushing;
        }
        s
    }

    pub fn start(&self) {
        self.clock.start();
        self.set_state(State::Recording);
        // The crash-safe partial (a fragmented MP4, playable as it grows) is synced to disk once
        // a second, so a power cut loses at most about the last second. A thread of its own:
        // an fsync can take a while on a slow disk and must never hold up the encoder. It also
        // watches the disk: how many seconds it still holds at the current rate (the app and
        // the CLI warn under two minutes), and it stops the recording while there is still
        // room for its last fragment, so a full disk ends in a finished, playable file.
        let (clock, partial, health) = (self.clock.clone(), self.session.partial.clone(), self.health.clone());
        let _ = std::thread::Builder::new().name("reel-sync".into()).spawn(move || {
            let mut last: Option<(Instant, u64)> = None;
            let mut rate = 0.0f64;
            while !clock.is_stopped() {
                std::thread::sleep(Duration::from_secs(1));
                if clock.is_stopped() {
                    return;
                }
                if let Ok(f) = std::fs::File::open(&partial) {
                    let t = Instant::now();
                    let _ = f.sync_data();
                    let us = t.elapsed().as_micros() as u64;
                    Health::add(&health.fsyncs, 1);
                    Health::add(&health.fsync_us_total, us);
                    health.fsync_us_max.fetch_max(us, std::sync::atomic::Ordering::Relaxed);
                }
                // The slide and layout changes so far (chapters of a recovered recording), and
                // once, the folder that holds their file's name.
                if let Ok(f) = std::fs::File::open(stage::events_path(&partial)) {
                    let _ = f.sync_data();
                }
                if last.is_none() {
                    let _ = reel_media::durable::sync_parent(&partial);
                }
                let size = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
                let now = Instant::now();
                if let Some((t, s)) = last {
                    let r = size.saturating_sub(s) as f64 / (now - t).as_secs_f64().max(1e-3);
                    rate = if rate == 0.0 { r } else { 0.7 * rate + 0.3 * r };
                }
                last = Some((now, size));
                let Some(free) = remux::free_bytes(&partial) else { continue };
                if rate > 0.0 {
                    health.set_disk_left((free.saturating_sub(SPACE_RESERVE) as f64 / rate) as u64);
                }
                if free < SPACE_RESERVE + (rate * 3.0) as u64 {
                    health.stopped_for_space.store(true, std::sync::atomic::Ordering::Relaxed);
                    clock.stop();
                    return;
                }
            }
        });
    }

    pub fn pause(&self) {
        self.control().pause()
    }

    pub fn resume(&self) {
        self.control().resume()
    }

    /// A small handle that can pause and resume from another thread (stdin, a script, the UI).
    pub fn control(&self) -> Control {
        Control { clock: self.clock.clone(), state: self.state.clone(), commands: self.commands.clone(), slides: self.slides }
    }

    /// Media time recorded so far (pauses excluded).
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// True once the recording has stopped by itself (maximum duration, or every source ended)
    /// or was asked to stop; call [`Recording::finish`] next.
    pub fn is_stopped(&self) -> bool {
        self.clock.is_stopped() || self.video.as_ref().is_some_and(|h| h.is_finished())
    }

    /// The live camera being recorded, if any (its status, modes, latest frame).
    pub fn camera(&self) -> Option<&std::sync::Arc<reel_capture::camera::CameraDevice>> {
        self.camera.as_ref().map(|s| s.device())
    }

    /// Microphone level now: (rms, peak) in 0..1.
    pub fn level(&self) -> (f32, f32) {
        self.health.level()
    }

    pub fn health(&self) -> HealthSnapshot {
        self.health.snapshot(self.opts.fps.period())
    }

    pub fn partial_path(&self) -> &Path {
        &self.session.partial
    }

    /// Stops (if not already), drains every queue, closes the file and writes the final MP4.
    pub fn finish(mut self) -> Result<Summary, RecordError> {
        let stop_at = Instant::now();
        self.clock.stop();
        self.set_state(State::Flushing);
        self.camera = None;
        for s in self.sources.drain(..) {
            let _ = s.join();
        }
        let join = |h: Option<JoinHandle<Result<(), RecordError>>>| -> Result<(), RecordError> {
            match h.map(|h| h.join()) {
                Some(Ok(r)) => r,
                Some(Err(_)) => Err(RecordError::Pipeline("a pipeline thread panicked".into())),
                None => Ok(()),
            }
        };
        let v = join(self.video.take());
        let m = join(self.mux.take());
        // The muxer's own error says why (a video thread only sees that the muxer is gone).
        if let Err(e) = m.and(v) {
            self.set_state(State::Failed);
            // The partial file stays, with its session: `reel recover` can still save it. A
            // full disk is said as such, with what was saved.
            let partial = self.session.partial.clone();
            let free = remux::free_bytes(&partial);
            let no_space = matches!(&e, RecordError::Codec(c) if c.is_no_space()) || free.is_some_and(|f| f < SPACE_RESERVE);
            if no_space {
                let free = free.unwrap_or(0);
                let dir = partial.parent().map(Path::to_path_buf).unwrap_or_default();
                let saved_s = remux::scan_duration(&partial).unwrap_or(0.0);
                return Err(RecordError::DiskFull { dir, free_mb: free as f64 / 1e6, saved_s, partial });
            }
            return Err(e);
        }
        let events_file = stage::events_path(&self.session.partial);
        let events = stage::read_events(&events_file);
        let duration = self.clock.elapsed().as_secs_f64();
        let duration = match self.opts.max_duration {
            Some(m) => duration.min(m.as_secs_f64()),
            None => duration,
        };
        let chapters = stage::chapters(&events, duration);
        // A final copy needs as much room again as the partial: without it, the partial itself
        // (a complete fragmented MP4) becomes the final file.
        let partial_len = std::fs::metadata(&self.session.partial).map(|m| m.len()).unwrap_or(0);
        let room = remux::free_bytes(&self.opts.output).is_none_or(|free| free >= partial_len + SPACE_RESERVE);
        let info = if self.opts.finish_in_place {
            // Into the library: the fragmented file is the final one, in constant time (the
            // library makes the faststart copy with chapters afterwards).
            remux::finalize_in_place(&self.session.partial, &self.opts.output, Some(duration))
        } else if room {
            // Should the disk fill up during the copy after all (another program writing), the
            // partial itself becomes the final file, as when there was no room to begin with.
            remux::finalize(&self.session.partial, &self.opts.output, &chapters, self.opts.title.as_deref()).or_else(|e| {
                if e.is_no_space() {
                    remux::finalize_in_place(&self.session.partial, &self.opts.output, None)
                } else {
                    Err(e)
                }
            })
        } else {
            remux::finalize_in_place(&self.session.partial, &self.opts.output, None)
        };
        let info = match info {
            Ok(i) => i,
            Err(e) => {
                self.set_state(State::Failed);
                return Err(e.into());
            }
        };
        let slides = match &self.opts.stage {
            StageSpec::Slides(d) => (0..d.len()).map(|i| stage::SlideInfo { number: i + 1, title: d.title(i), text: d.text(i) }).collect(),
            _ => Vec::new(),
        };
        let timeline = Timeline { version: 1, duration_s: info.duration_s, events, chapters, slides };
        if let Err(e) = stage::write_timeline(&stage::timeline_path(&self.opts.output), &timeline) {
            eprintln!("warning: the timeline could not be saved: {e}");
        }
        let _ = std::fs::remove_file(&events_file);
        let _ = std::fs::remove_file(&self.session.partial);
        self.session.remove();
        self.set_state(State::Finished);
        let finalize_ms = stop_at.elapsed().as_secs_f64() * 1000.0;
        let health = self.health();
        if let Some(e) = self.source_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
            eprintln!("warning: the camera source ended early: {e}");
        }
        Ok(Summary {
            output: self.opts.output.clone(),
            duration_s: info.duration_s,
            frames_encoded: health.frames_encoded,
            frames_dropped: health.frames_dropped,
            frames_duplicated: health.frames_duplicated,
            finalize_ms,
            capture_jitter_p99_ms: health.capture_jitter_p99_ms,
            bytes: info.bytes,
            health,
        })
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        // Dropped without finish (an error path): stop the threads; the partial file and its
        // session stay for recovery.
        self.clock.stop();
    }
}
