//! The desktop app's studio: what the recorder view shows and does, behind one API the Tauri
//! commands call in a line or two each.
//!
//! ```text
//!  UI settings (camera, mic, size, scene, deck) ──> Studio::configure ──> checked + deck loaded once
//!  recorder view visible ──> Studio::preview_jpeg: one composed frame, exactly as recorded
//!  record ──> Studio::start (library job) ── status/pause/resume/slide ──> Studio::stop ──> Entry
//! ```
//! One recording at a time; the app asks for frames only while the recorder is on screen, so an
//! idle window costs nothing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reel_capture::camera::CameraDevice;
use reel_capture::{CameraSpec, LevelMeter, MicSpec};
use reel_compose::{Deck, Scene};
use reel_library::{Entry, Library};
use reel_media::{ClockMode, Fps, Size};
use reel_recorder::{RecordOptions, Recording, StageCommand, StageSpec, State};

use crate::{ApiError, LibraryRecording};

/// What the recorder view sets.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct StudioConfig {
    /// `synthetic` (the demo camera), `none`, a device index or name.
    pub camera: String,
    /// `default`, `tone`, `none` or a device name.
    pub mic: String,
    /// `720p`, `1080p`, `WxH`.
    pub size: String,
    pub fps: u32,
    pub scene: Scene,
    /// A folder of images or a PDF; `None`: no slides.
    pub deck: Option<PathBuf>,
    pub title: Option<String>,
    /// `standard` or `high` (see settings).
    #[serde(default)]
    pub quality: Option<String>,
    /// An X11 display (`:0`, or `:0+X,Y`) as the stage instead of slides.
    #[serde(default)]
    pub screen: Option<String>,
}

impl Default for StudioConfig {
    fn default() -> Self {
        StudioConfig {
            camera: "synthetic".into(),
            mic: "default".into(),
            size: "720p".into(),
            fps: 30,
            scene: Scene::default(),
            deck: None,
            title: None,
            quality: None,
            screen: None,
        }
    }
}

/// The live state the recorder view shows.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Status {
    pub state: State,
    pub elapsed_s: f64,
    pub level_rms: f32,
    pub level_peak: f32,
    pub frames_dropped: u64,
    pub slide: usize,
    pub slides: usize,
    /// The camera is gone right now (the recording shows the "camera disconnected" card).
    pub camera_down: bool,
    /// Times the camera was lost during this recording.
    pub camera_disconnects: u64,
    /// Seconds of recording the disk still holds at the current rate, once known.
    pub disk_left_s: Option<f64>,
    /// The recorder stopped by itself: the disk was nearly full (the take is kept; call stop).
    pub stopped_for_space: bool,
}

/// What the recorder view shows before (and while) recording: the microphone's level and the
/// camera's state, so a silent or wrong microphone or a lost camera is seen before the take.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Live {
    pub level_rms: f32,
    pub level_peak: f32,
    /// The microphone being metered, as the audio system names it.
    pub mic: Option<String>,
    /// Why the microphone cannot be metered, if so.
    pub mic_error: Option<String>,
    /// The live camera's state (`None`: the demo camera, a file or no camera).
    pub camera: Option<reel_capture::camera::CameraStatus>,
}

struct Active {
    rec: Recording,
    job: LibraryRecording,
    slide: usize,
    slides: usize,
}

struct Loaded {
    config: StudioConfig,
    size: Size,
    camera: CameraSpec,
    stage: StageSpec,
}

pub struct Studio {
    library: Arc<Library>,
    loaded: Mutex<Loaded>,
    active: Mutex<Option<Active>>,
    preview: Mutex<Option<PreviewCompositor>>,
    /// The live camera the recorder view shows, held open between preview frames; pressing
    /// Record subscribes the recording to this same device. Switching camera drops it.
    camera: Mutex<Option<HeldCamera>>,
    /// The microphone's level meter while not recording: the spec it was opened for, the
    /// meter or why it could not open, and when (a failure is retried after a few seconds: the
    /// microphone may have been plugged in since).
    meter: Mutex<Option<Meter>>,
    /// Where share links made in the app point (the share server's public address), once the
    /// server listens.
    share_base: std::sync::OnceLock<String>,
    /// The background transcription worker, started when first needed.
    transcriber: std::sync::OnceLock<crate::transcribe::Transcriber>,
}

/// The microphone spec a level meter was opened for, the meter (or why not), and when.
type Meter = (String, Result<LevelMeter, String>, std::time::Instant);

/// The preview's camera and the output it was opened for.
struct HeldCamera {
    spec: CameraSpec,
    want: (Size, u32),
    device: Arc<CameraDevice>,
}

/// The live preview's compositor: at the size the view shows, kept between frames so that the
/// slide is scaled to it once, not ten times a second.
struct PreviewCompositor {
    compositor: reel_compose::Compositor,
    backdrop: Option<PathBuf>,
}

/// The preview's size: `width` (at most the output's), the output's aspect, even, at least 16.
fn preview_size(out: Size, width: u32) -> Size {
    let w = width.clamp(16, out.width) & !1;
    let h = ((out.height as u64 * w as u64 / out.width as u64) as u32).max(16) & !1;
    Size::new(w, h).unwrap_or(out)
}

fn bad(message: String) -> ApiError {
    ApiError { code: crate::ErrorCode::BadInput, message }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Studio {
    pub fn new(library: Arc<Library>) -> Result<Studio, ApiError> {
        let config = StudioConfig::default();
        let loaded = Self::load(&config)?;
        Ok(Studio {
            library,
            loaded: Mutex::new(loaded),
            active: Mutex::new(None),
            preview: Mutex::new(None),
            camera: Mutex::new(None),
            meter: Mutex::new(None),
            share_base: std::sync::OnceLock::new(),
            transcriber: std::sync::OnceLock::new(),
        })
    }

    /// The background transcription worker (tiny.en: the fastest; `reel transcribe` picks
    /// another).
    pub fn transcriber(&self) -> &crate::transcribe::Transcriber {
        self.transcriber.get_or_init(|| crate::transcribe::Transcriber::start(self.library.clone(), reel_transcribe::DEFAULT_MODEL.into()))
    }

    /// Queues the recordings that have no transcript yet (at the app's start).
    pub fn transcribe_pending(&self) {
        let ids = self.library.untranscribed();
        if !ids.is_empty() {
            self.transcriber().enqueue(ids);
        }
    }

    pub fn library(&self) -> &Library {
        &self.library
    }

    /// The library, for long jobs on their own thread (trim, export, publish).
    pub fn library_arc(&self) -> Arc<Library> {
        self.library.clone()
    }

    fn load(c: &StudioConfig) -> Result<Loaded, ApiError> {
        let size: Size = c.size.parse().map_err(|e| bad(format!("size '{}': {e}", c.size)))?;
        Fps::new(c.fps).map_err(|e| bad(e.to_string()))?;
        let camera: CameraSpec = c.camera.parse().map_err(|e| bad(format!("camera '{}': {e}", c.camera)))?;
        let _: MicSpec = c.mic.parse().map_err(|e| bad(format!("microphone '{}': {e}", c.mic)))?;
        let stage = match (&c.screen, &c.deck) {
            (Some(d), _) if !d.trim().is_empty() => StageSpec::Screen { display: d.trim().to_string(), region: None },
            (_, Some(p)) => StageSpec::Slides(Arc::new(Deck::load(p, size, c.scene.background)?)),
            _ => StageSpec::None,
        };
        Ok(Loaded { config: c.clone(), size, camera, stage })
    }

    /// Checks and applies the recorder's settings; a slide deck is loaded (fitted) here, once.
    /// Camera, microphone, size and rate are the recording's file format and devices: they
    /// cannot change while recording (layout, slides and camera on/off can, by command).
    pub fn configure(&self, c: StudioConfig) -> Result<usize, ApiError> {
        if lock(&self.active).is_some() {
            let l = lock(&self.loaded);
            let o = &l.config;
            if o.camera != c.camera || o.mic != c.mic || o.size != c.size || o.fps != c.fps {
                return Err(ApiError { code: crate::ErrorCode::Busy, message: "camera, microphone and size cannot change while recording; stop the recording first".into() });
            }
        }
        let same_deck = {
            let l = lock(&self.loaded);
            l.config.deck == c.deck && l.config.screen == c.screen && l.config.size == c.size && l.config.scene.background == c.scene.background
        };
        let loaded = if same_deck {
            let stage = lock(&self.loaded).stage.clone();
            let mut l = Self::load(&StudioConfig { deck: None, screen: None, ..c.clone() })?;
            l.stage = stage;
            l.config = c;
            l
        } else {
            Self::load(&c)?
        };
        let slides = match &loaded.stage {
            StageSpec::Slides(d) => d.len(),
            _ => 0,
        };
        let camera = loaded.camera.clone();
        *lock(&self.loaded) = loaded;
        // Another camera (or none): close the one held for the preview (outside the lock:
        // closing waits for the camera's thread).
        let old = {
            let mut held = lock(&self.camera);
            if held.as_ref().is_some_and(|h| h.spec != camera) {
                held.take()
            } else {
                None
            }
        };
        drop(old);
        Ok(slides)
    }

    /// Keeps the configured live camera open (opening it on first use): the preview's frames
    /// and, once Record is pressed, the recording's come from this one device.
    /// A new size or rate switches the held camera to the mode for it now, while previewing,
    /// so that the switch is over before Record is pressed (never inside the take).
    fn hold_camera(&self, spec: &CameraSpec, size: Size, fps: u32) -> Result<(), ApiError> {
        if !matches!(spec, CameraSpec::Index(_) | CameraSpec::Name(_)) {
            let old = lock(&self.camera).take();
            drop(old);
            return Ok(());
        }
        let rate = Fps::new(fps).map_err(|e| bad(e.to_string()))?;
        let mut held = lock(&self.camera);
        match held.as_mut() {
            Some(h) if h.spec == *spec => {
                if h.want != (size, fps) {
                    h.want = (size, fps);
                    h.device.request(size, rate);
                }
                return Ok(());
            }
            _ => {}
        }
        // Close the old one (outside the lock) before opening the next.
        let old = held.take();
        drop(held);
        drop(old);
        let device = reel_capture::camera::open(spec, size, rate).map_err(|e| ApiError::from(reel_recorder::RecordError::from(e)))?;
        *lock(&self.camera) = Some(HeldCamera { spec: spec.clone(), want: (size, fps), device });
        Ok(())
    }

    /// Closes the preview's camera and the level meter (the recorder view is not on screen):
    /// the camera's light goes off. A running recording keeps its own devices.
    pub fn release(&self) {
        let meter = lock(&self.meter).take();
        let camera = lock(&self.camera).take();
        drop((meter, camera));
    }

    /// The microphone level and the camera's state, for the recorder view's meter and notices.
    /// Before a take the configured microphone is opened just for its level.
    pub fn live(&self) -> Live {
        let camera = lock(&self.camera).as_ref().map(|h| h.device.status());
        if let Some(a) = lock(&self.active).as_ref() {
            let (rms, peak) = a.rec.level();
            let camera = a.rec.camera().map(|d| d.status()).or(camera);
            return Live { level_rms: rms, level_peak: peak, mic: None, mic_error: None, camera };
        }
        let mic = lock(&self.loaded).config.mic.clone();
        let wanted = match mic.parse::<MicSpec>() {
            Ok(MicSpec::Default) => None,
            Ok(MicSpec::Name(n)) => Some(n),
            _ => {
                *lock(&self.meter) = None;
                return Live { level_rms: 0.0, level_peak: 0.0, mic: None, mic_error: None, camera };
            }
        };
        let mut meter = lock(&self.meter);
        // A take may have started since `active` was checked: it owns the microphone now.
        if lock(&self.active).is_some() {
            return Live { level_rms: 0.0, level_peak: 0.0, mic: None, mic_error: None, camera };
        }
        let stale = meter.as_ref().is_none_or(|(m, r, at)| *m != mic || (r.is_err() && at.elapsed() > Duration::from_secs(3)));
        if stale {
            let old = meter.take();
            drop(old);
            *meter = Some((mic.clone(), LevelMeter::open(wanted).map_err(|e| e.to_string()), std::time::Instant::now()));
        }
        match meter.as_ref().map(|(_, m, _)| m) {
            Some(Ok(m)) => {
                let (rms, peak) = m.level();
                Live { level_rms: rms, level_peak: peak, mic: Some(m.opened.name.clone()), mic_error: None, camera }
            }
            Some(Err(e)) => Live { level_rms: 0.0, level_peak: 0.0, mic: None, mic_error: Some(e.clone()), camera },
            None => Live { level_rms: 0.0, level_peak: 0.0, mic: None, mic_error: None, camera },
        }
    }

    /// One composed frame as JPEG, `width` pixels wide (the preview need not be full size): the
    /// same scene composed at that size, by a compositor kept from one frame to the next.
    pub fn preview_jpeg(&self, slide: usize, at_s: f64, width: u32) -> Result<Vec<u8>, ApiError> {
        let (camera, size, scene, stage, fps) = {
            let l = lock(&self.loaded);
            (l.camera.clone(), l.size, l.config.scene.clone(), l.stage.clone(), l.config.fps)
        };
        self.hold_camera(&camera, size, fps)?;
        let slides = match &stage {
            StageSpec::Slides(d) => d.len(),
            _ => 1,
        };
        let at = if at_s.is_finite() { at_s.clamp(0.0, 86_400.0) } else { 0.0 };
        let psize = preview_size(size, width);
        let f = {
            let mut cache = lock(&self.preview);
            let stale = cache.as_ref().is_none_or(|p| p.compositor.size() != psize || p.backdrop != scene.background_image);
            if stale {
                let mut compositor = reel_compose::Compositor::new(psize);
                if let Some(p) = &scene.background_image {
                    compositor.set_backdrop(Some(reel_compose::Compositor::load_backdrop(p, psize)?));
                }
                *cache = Some(PreviewCompositor { compositor, backdrop: scene.background_image.clone() });
            }
            let Some(p) = cache.as_mut() else {
                return Err(ApiError { code: crate::ErrorCode::Internal, message: "no preview compositor".into() });
            };
            reel_recorder::preview::render_on(&mut p.compositor, &camera, &scene, &stage, slide.min(slides.saturating_sub(1)), Duration::from_secs_f64(at))?
        };
        jpeg(&f.data, f.width, f.height)
    }

    /// Starts recording into the library with the current settings.
    pub fn start(&self) -> Result<(), ApiError> {
        // Locks in the order `live` takes them (meter, then active). The meter's stream would
        // be a second client of the microphone: it closes, and stays closed while `live` sees
        // the take.
        let mut meter = lock(&self.meter);
        let old_meter = meter.take();
        drop(old_meter);
        let mut active = lock(&self.active);
        if active.is_some() {
            return Err(ApiError { code: crate::ErrorCode::Busy, message: "a recording is already running; stop it first".into() });
        }
        let (c, size, camera, stage) = {
            let l = lock(&self.loaded);
            (l.config.clone(), l.size, l.camera.clone(), l.stage.clone())
        };
        let slides = match &stage {
            StageSpec::Slides(d) => d.len(),
            _ => 0,
        };
        let job = LibraryRecording::begin(&self.library, c.title.as_deref())?;
        let opts = RecordOptions {
            camera,
            mic: c.mic.parse().map_err(|e| bad(format!("microphone '{}': {e}", c.mic)))?,
            size,
            fps: Fps::new(c.fps).map_err(|e| bad(e.to_string()))?,
            output: job.video_path(),
            max_duration: None,
            title: c.title.clone(),
            clock: ClockMode::Realtime,
            preset: crate::settings::Settings { quality: c.quality.clone().unwrap_or_default(), ..Default::default() }.preset(size),
            scene: c.scene.clone(),
            stage,
            finish_in_place: true,
        };
        let rec = match crate::prepare_recording(opts) {
            Ok(r) => r,
            Err(e) => {
                job.abandon();
                return Err(e);
            }
        };
        rec.start();
        *active = Some(Active { rec, job, slide: 0, slides });
        // Transcription waits while the recording runs (it would take the recorder's cores).
        self.transcriber().recording.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    pub fn status(&self) -> Option<Status> {
        let a = lock(&self.active);
        let a = a.as_ref()?;
        let (rms, peak) = a.rec.level();
        let health = a.rec.health();
        Some(Status {
            state: a.rec.state(),
            elapsed_s: a.rec.elapsed().as_secs_f64(),
            level_rms: rms,
            level_peak: peak,
            frames_dropped: health.frames_dropped,
            slide: a.slide,
            slides: a.slides,
            camera_down: health.camera_down,
            camera_disconnects: health.camera_disconnects,
            disk_left_s: health.disk_left_s,
            stopped_for_space: health.stopped_for_space,
        })
    }

    pub fn pause(&self, pause: bool) -> Result<(), ApiError> {
        let a = lock(&self.active);
        let a = a.as_ref().ok_or_else(|| bad("nothing is recording".into()))?;
        if pause {
            a.rec.pause()
        } else {
            a.rec.resume()
        }
        Ok(())
    }

    /// A live change: `n`, `p`, a slide number, `l LAYOUT`, `c on|off` (as on the CLI's stdin).
    pub fn command(&self, line: &str) -> Result<(), ApiError> {
        let c = StageCommand::parse_line(line).ok_or_else(|| bad(format!("unknown command '{line}'")))?.map_err(bad)?;
        let mut a = lock(&self.active);
        let a = a.as_mut().ok_or_else(|| bad("nothing is recording".into()))?;
        a.rec.control().command(c.clone()).map_err(bad)?;
        a.slide = match c {
            StageCommand::Next => (a.slide + 1).min(a.slides.saturating_sub(1)),
            StageCommand::Prev => a.slide.saturating_sub(1),
            StageCommand::Goto(n) => n.saturating_sub(1).min(a.slides.saturating_sub(1)),
            _ => a.slide,
        };
        Ok(())
    }

    /// Stops: drains, finalizes, and adds the recording to the library.
    /// Stops: the recording is in the library, playable and shareable, in constant time
    /// whatever its length; its faststart copy for downloads is made after, in the background.
    pub fn stop(&self) -> Result<Entry, ApiError> {
        let a = lock(&self.active).take().ok_or_else(|| bad("nothing is recording".into()))?;
        self.transcriber().recording.store(false, std::sync::atomic::Ordering::Relaxed);
        a.rec.finish()?;
        let e = a.job.finish(&self.library)?;
        crate::optimize_in_background(self.library.clone(), vec![e.id.clone()]);
        self.transcriber().enqueue([e.id.clone()]);
        Ok(e)
    }

    /// Throws the running recording away (restart).
    pub fn discard(&self) -> Result<(), ApiError> {
        let active = lock(&self.active).take();
        self.transcriber().recording.store(false, std::sync::atomic::Ordering::Relaxed);
        if let Some(a) = active {
            let _ = a.rec.finish();
            a.job.abandon();
        }
        Ok(())
    }
}

/// The demo deck (three slides drawn with the bundled font), made once under `dir`, so the
/// app shows slides out of the box.
pub fn demo_deck(dir: &Path) -> Result<PathBuf, ApiError> {
    let deck = dir.join("demo-deck");
    if deck.join("3.png").exists() {
        return Ok(deck);
    }
    let io = |e: String| ApiError { code: crate::ErrorCode::Io, message: format!("cannot write the demo deck in {}: {e}", deck.display()) };
    std::fs::create_dir_all(&deck).map_err(|e| io(e.to_string()))?;
    let slides = [
        ("Welcome to Reel", "Record your camera over slides, share a link", [37u8, 99, 235]),
        ("Roadmap", "Press → for the next slide while recording", [22, 163, 74]),
        ("Thank you", "Stop, and the link is ready", [219, 39, 119]),
    ];
    for (i, (title, line, color)) in slides.iter().enumerate() {
        let (w, h) = (1280u32, 720u32);
        // Text is drawn on a clear overlay, then blended onto the slide's colour.
        let mut o = reel_compose::text::Overlay { w, h, rgba: vec![0; (w * h * 4) as usize] };
        let tw = reel_compose::text::measure(title, 84.0, true);
        reel_compose::text::draw_text(&mut o, title, (w as f32 - tw) / 2.0, 250.0, 84.0, true, [255, 255, 255]);
        let lw = reel_compose::text::measure(line, 36.0, false);
        reel_compose::text::draw_text(&mut o, line, (w as f32 - lw) / 2.0, 380.0, 36.0, false, [235, 240, 255]);
        let mut canvas: Vec<u8> = std::iter::repeat_n([color[0], color[1], color[2], 255], (w * h) as usize).flatten().collect();
        reel_compose::text::blend(&mut canvas, Size { width: w, height: h }, &o, 0, 0);
        let img = image::RgbaImage::from_raw(w, h, canvas).ok_or_else(|| io("slide size".into()))?;
        img.save(deck.join(format!("{}.png", i + 1))).map_err(|e| io(e.to_string()))?;
    }
    Ok(deck)
}

/// What the app's window needs to reach its server.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AppInfo {
    pub server: String,
    pub secret: String,
    pub library: String,
    pub demo_deck: Option<String>,
    /// The X display the app runs on, offered as the screen to record.
    pub display: Option<String>,
    /// Where share links point now.
    pub share_base: String,
    /// This machine's LAN addresses, offered as the public address.
    pub lan_addresses: Vec<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct TrashItem {
    pub name: String,
    pub title: String,
}

impl Studio {
    pub fn info(&self, server: &str, secret: &str) -> AppInfo {
        let lib = self.library.root().to_path_buf();
        AppInfo {
            server: server.into(),
            secret: secret.into(),
            library: lib.display().to_string(),
            demo_deck: demo_deck(&lib).ok().map(|p| p.display().to_string()),
            display: std::env::var("DISPLAY").ok().filter(|d| !d.is_empty()),
            share_base: self.share_base(),
            lan_addresses: crate::lan_addresses().iter().map(|ip| ip.to_string()).collect(),
        }
    }

    /// A recording as the player shows it: entry, metadata, and what viewers left.
    pub fn recording(&self, id: &str) -> Result<serde_json::Value, ApiError> {
        let (entry, meta) = self.library.show(id)?;
        let feedback = crate::feedback(&self.library, &entry.id)?;
        let has_captions = entry.path.with_file_name("captions.vtt").is_file();
        let transcript = self.transcriber.get().and_then(|t| t.states().remove(&entry.id));
        Ok(serde_json::json!({"entry": entry, "meta": meta, "feedback": feedback, "has_captions": has_captions, "transcript_state": transcript}))
    }

    /// Cameras (with their modes and Reel's pick for the configured size and rate) and
    /// microphones.
    pub fn devices(&self) -> crate::Devices {
        let (size, fps) = {
            let l = lock(&self.loaded);
            (l.size, Fps::new(l.config.fps).unwrap_or_else(|_| Fps::new(30).unwrap_or_else(|_| unreachable!())))
        };
        crate::devices(size, fps)
    }

    pub fn trash_list(&self) -> Vec<TrashItem> {
        self.library.trash().into_iter().map(|(name, m)| TrashItem { title: m.map(|m| m.title).unwrap_or_else(|| name.clone()), name }).collect()
    }

    /// Keeps a range of a recording (the previous version goes to the trash).
    pub fn trim(&self, id: &str, start: f64, end: f64, progress: &mut dyn FnMut(f64) -> bool) -> Result<reel_library::Meta, ApiError> {
        Ok(self.library.trim(id, start, end, progress)?)
    }

    /// Cuts a range out of a recording (the previous version goes to the trash).
    pub fn cut(&self, id: &str, from: f64, to: f64, progress: &mut dyn FnMut(f64) -> bool) -> Result<reel_library::Meta, ApiError> {
        Ok(self.library.cut(id, from, to, progress)?)
    }

    /// Where an export goes unless the user says otherwise: ~/Videos/TITLE (SPEEDx).mp4, never in
    /// the way of an earlier export ("TITLE (2x) 2.mp4", …); the folder is made if missing. The
    /// app's save dialog starts there.
    pub fn export_default(&self, id: &str, speed: f64) -> Result<String, ApiError> {
        let (entry, _) = self.library.show(id)?;
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        let dir = home.join("Videos");
        // The dialog opens in it, so it must be there.
        reel_media::durable::create_dir_all(&dir).map_err(|e| ApiError::new(crate::ErrorCode::Io, format!("cannot make the folder {}: {e}", dir.display())))?;
        let safe: String = entry.title.chars().map(|c| if c.is_alphanumeric() || c == ' ' || c == '-' { c } else { '_' }).collect();
        let safe = if safe.trim().is_empty() { "Recording" } else { safe.trim() };
        let name = |n: u32| if n == 1 { format!("{safe} ({speed}x).mp4") } else { format!("{safe} ({speed}x) {n}.mp4") };
        Ok((1..10_000).map(|n| dir.join(name(n))).find(|p| !p.exists()).unwrap_or_else(|| dir.join(name(10_000))).display().to_string())
    }

    /// Exports with the speed baked in to `output` (default: [`Studio::export_default`]).
    /// `replace`: the user agreed to replace the file there (the save dialog asked); it is
    /// replaced only once the new one is complete and synced. Returns where it went.
    pub fn export(&self, id: &str, speed: f64, output: Option<String>, replace: bool, progress: &mut dyn FnMut(f64) -> bool) -> Result<String, ApiError> {
        let out = match output.filter(|o| !o.trim().is_empty()) {
            Some(o) => PathBuf::from(o),
            None => PathBuf::from(self.export_default(id, speed)?),
        };
        match self.library.export(id, &out, speed, None, replace, progress) {
            Ok(_) => Ok(out.display().to_string()),
            Err(reel_library::LibraryError::Exists(p)) => {
                Err(ApiError { code: crate::ErrorCode::OutputExists, message: format!("{} already exists; choose another name to export to", p.display()) })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Publishes to S3-compatible storage and returns the link. Signs in as the AWS profile
    /// named (what the user typed wins), else with the keys stored in the app, else as AWS
    /// tools do (environment, default profile).
    pub fn publish(&self, id: &str, place: &S3Place, progress: &mut dyn FnMut(f64) -> bool) -> Result<String, ApiError> {
        let nonempty = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let how = match (nonempty(&place.profile), crate::settings::S3Keys::load(&crate::settings::keys_path())) {
            (Some(profile), _) => crate::Credentials::Profile(profile),
            (None, Some(k)) => crate::Credentials::Keys { access_key: k.access_key, secret_key: k.secret_key },
            (None, None) => crate::Credentials::Default,
        };
        let storage = crate::connect_storage_as(place.target.trim(), nonempty(&place.endpoint).as_deref(), nonempty(&place.region).as_deref(), &how)?;
        Ok(crate::publish(&self.library, id, &storage, &Default::default(), progress)?.url)
    }

    /// Which S3 keys the app keeps (the access key with its middle hidden), if any.
    pub fn s3_keys(&self) -> Option<String> {
        crate::settings::S3Keys::load(&crate::settings::keys_path()).map(|k| k.hint())
    }

    /// Stores S3 keys (owner-only); returns the hint the UI shows.
    pub fn set_s3_keys(&self, access_key: &str, secret_key: &str) -> Result<String, ApiError> {
        let k = crate::settings::S3Keys { access_key: access_key.trim().into(), secret_key: secret_key.trim().into() };
        k.save(&crate::settings::keys_path())?;
        Ok(k.hint())
    }

    pub fn forget_s3_keys(&self) -> Result<(), ApiError> {
        crate::settings::S3Keys::forget(&crate::settings::keys_path())
    }

    /// Finishes every interrupted recording; those meant for the library join it at once.
    pub fn recover_all(&self) -> Vec<Result<crate::Recovered, ApiError>> {
        let r = crate::recover_all();
        self.library.refresh();
        r
    }

    /// Sets where share links point (the app's server calls it once it listens).
    pub fn set_share_base(&self, base: &str) {
        let _ = self.share_base.set(base.trim_end_matches('/').to_string());
    }

    /// Where share links point: the public address, or the library's recorded server.
    pub fn share_base(&self) -> String {
        self.share_base.get().cloned().unwrap_or_else(|| crate::default_base_url(&self.library))
    }

    /// A share link on this app's server, at its public address. `allow_download: false`
    /// discourages downloads (`--no-download`).
    pub fn share_link(&self, id: &str, password: Option<String>, expires: Option<String>, default_speed: Option<f64>, allow_download: bool) -> Result<String, ApiError> {
        let base = self.share_base();
        let expires_in = expires.filter(|e| !e.is_empty()).map(|e| crate::parse_duration(&e)).transpose()?;
        let o = crate::ShareOptions { password: password.filter(|p| !p.is_empty()), expires_in, no_download: !allow_download, default_speed };
        Ok(crate::share(&self.library, id, &o, &base)?.1)
    }
}

/// Where to publish: a bucket (`s3://BUCKET/PREFIX`), its endpoint and region (empty: AWS and
/// the default region), and the AWS profile to sign in with when the app keeps no keys.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct S3Place {
    pub target: String,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
}

fn arg<T: serde::de::DeserializeOwned>(args: &serde_json::Value, name: &str) -> Result<T, ApiError> {
    serde_json::from_value(args.get(name).cloned().unwrap_or(serde_json::Value::Null)).map_err(|e| bad(format!("argument '{name}': {e}")))
}

fn json<T: serde::Serialize>(v: T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError { code: crate::ErrorCode::Internal, message: e.to_string() })
}

/// The app's calls by name with JSON arguments (camelCase, as the UI sends them): what the
/// HTTP API serves so the same UI runs in a plain browser. The Tauri commands are these calls,
/// typed, over the same `Studio` methods; long jobs report progress there.
pub fn dispatch(studio: &Studio, server: &str, secret: &str, command: &str, a: serde_json::Value) -> Result<serde_json::Value, ApiError> {
    use base64::Engine;
    let lib = studio.library();
    match command {
        "app_info" => json(studio.info(server, secret)),
        "devices" => json(studio.devices()),
        "live" => json(studio.live()),
        "release_devices" => {
            studio.release();
            json(())
        }
        "interrupted" => json(crate::interrupted_recordings()),
        "recover_all" => json(studio.recover_all()),
        // Long jobs: over HTTP the answer comes when they are done (the app's window gets
        // progress through a Tauri channel).
        "trim" => json(studio.trim(&arg::<String>(&a, "id")?, arg(&a, "start")?, arg(&a, "end")?, &mut |_| true)?),
        "cut" => json(studio.cut(&arg::<String>(&a, "id")?, arg(&a, "from")?, arg(&a, "to")?, &mut |_| true)?),
        "export_default" => json(studio.export_default(&arg::<String>(&a, "id")?, arg(&a, "speed")?)?),
        "export" => json(studio.export(&arg::<String>(&a, "id")?, arg(&a, "speed")?, arg(&a, "output")?, arg::<Option<bool>>(&a, "replace")?.unwrap_or(false), &mut |_| true)?),
        "publish" => json(studio.publish(&arg::<String>(&a, "id")?, &arg::<S3Place>(&a, "place")?, &mut |_| true)?),
        "s3_keys" => json(studio.s3_keys()),
        "s3_keys_set" => json(studio.set_s3_keys(&arg::<String>(&a, "accessKey")?, &arg::<String>(&a, "secretKey")?)?),
        "s3_keys_forget" => json(studio.forget_s3_keys()?),
        "configure" => json(studio.configure(arg(&a, "config")?)?),
        // Over HTTP the JPEG travels as base64 (the app gets raw bytes).
        "preview" => {
            let jpeg = studio.preview_jpeg(arg(&a, "slide")?, arg(&a, "at")?, arg(&a, "width")?)?;
            json(serde_json::json!({"jpeg_base64": base64::engine::general_purpose::STANDARD.encode(jpeg)}))
        }
        "start_recording" => json(studio.start()?),
        "recording_status" => json(studio.status()),
        "pause_recording" => json(studio.pause(arg(&a, "pause")?)?),
        "stage_command" => json(studio.command(&arg::<String>(&a, "line")?)?),
        "stop_recording" => json(studio.stop()?),
        "discard_recording" => json(studio.discard()?),
        "library_list" => json(lib.list()?),
        "library_search" => json(lib.search(&arg::<String>(&a, "query")?, 200)?),
        "transcript" => json(lib.transcript(&arg::<String>(&a, "id")?)?),
        "transcripts" => json(studio.transcriber().states()),
        "transcribe" => {
            let id = lib.resolve(&arg::<String>(&a, "id")?)?;
            studio.transcriber().enqueue([id]);
            json(())
        }
        "recording" => studio.recording(&arg::<String>(&a, "id")?),
        "rename" => json(lib.rename(&arg::<String>(&a, "id")?, &arg::<String>(&a, "title")?)?),
        "describe" => json(lib.describe(&arg::<String>(&a, "id")?, &arg::<String>(&a, "text")?)?),
        "delete" => json(crate::delete_recording(lib, &arg::<String>(&a, "id")?)?),
        "restore" => json(lib.restore(&arg::<String>(&a, "name")?)?),
        "trash_list" => json(studio.trash_list()),
        "filmstrip" => json(lib.filmstrip(&arg::<String>(&a, "id")?).map(|_| ())?),
        "settings_get" => json(crate::settings::Settings::load(&crate::settings::path())),
        "settings_set" => json(arg::<crate::settings::Settings>(&a, "settings")?.save(&crate::settings::path())?),
        "settings_check" => json(arg::<crate::settings::Settings>(&a, "settings")?.problems()),
        "share_link" => json(studio.share_link(
            &arg::<String>(&a, "id")?,
            arg(&a, "password")?,
            arg(&a, "expires")?,
            arg(&a, "defaultSpeed")?,
            arg::<Option<bool>>(&a, "allowDownload")?.unwrap_or(true),
        )?),
        other => Err(ApiError { code: crate::ErrorCode::NotFound, message: format!("'{other}' is not an app call over HTTP") }),
    }
}

/// RGBA pixels as a JPEG (quality 80: a preview, not an archive).
pub fn jpeg(rgba: &[u8], w: u32, h: u32) -> Result<Vec<u8>, ApiError> {
    let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let mut out = Vec::with_capacity(rgb.len() / 8);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode(&rgb, w, h, image::ExtendedColorType::Rgb8)
        .map_err(|e| ApiError { code: crate::ErrorCode::Internal, message: e.to_string() })?;
    Ok(out)
}
