//! `reel record`: prepare, count down, record with live progress, stop on duration, Ctrl-C,
//! SIGTERM, a `stop` line on stdin or a script, then drain and finalize.

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reel_app::{CameraSpec, ClockMode, Fps, Layout, MicSpec, RecordOptions, Size, StageCommand};

use crate::scene_args::SceneArgs;

#[derive(Args)]
pub struct RecordArgs {
    /// synthetic | none | file:PATH | INDEX | NAME (see `reel devices`)
    #[arg(long, default_value = "synthetic")]
    camera: CameraSpec,
    /// tone | none | default | NAME
    #[arg(long, default_value = "default")]
    mic: MicSpec,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Output size: WxH or 480p/720p/1080p.
    #[arg(long, default_value = "1280x720")]
    size: String,
    #[arg(long, default_value = "30")]
    fps: String,
    /// Where to write the MP4; without it the recording goes into the library.
    #[arg(long, short)]
    output: Option<PathBuf>,
    #[arg(long)]
    title: Option<String>,
    /// Count down this many seconds before recording starts.
    #[arg(long, default_value = "0")]
    countdown: u32,
    /// A JSON script of timed actions: [{"at": 1.0, "action": "next"}, {"at": 2.0, "action":
    /// "layout", "value": "side"}, {"at": 3.0, "action": "goto", "value": 5}]; `at` is seconds of
    /// wall time since recording started, in order. Actions: next, prev, goto N, layout L,
    /// camera on|off, pause, resume, stop.
    #[arg(long)]
    script: Option<PathBuf>,
    #[command(flatten)]
    scene: SceneArgs,
    /// Render as fast as possible instead of in real time (synthetic and file sources only).
    #[arg(long)]
    unpaced: bool,
    /// Print one JSON object with the result on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    publish: crate::publish::RecordPublishArgs,
}

#[derive(Clone, Debug, serde::Deserialize)]
struct ScriptEvent {
    at: f64,
    #[serde(flatten)]
    action: Action,
}

#[derive(Clone, Debug, serde::Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", tag = "action", content = "value")]
enum Action {
    Pause,
    Resume,
    Stop,
    Next,
    Prev,
    Goto(usize),
    Layout(Layout),
    Camera(OnOff),
}

#[derive(Clone, Copy, Debug, serde::Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum OnOff {
    On,
    Off,
}

impl Action {
    fn stage(&self) -> Option<StageCommand> {
        Some(match self {
            Action::Next => StageCommand::Next,
            Action::Prev => StageCommand::Prev,
            Action::Goto(n) => StageCommand::Goto(*n),
            Action::Layout(l) => StageCommand::Layout(*l),
            Action::Camera(c) => StageCommand::Camera(*c == OnOff::On),
            Action::Pause | Action::Resume | Action::Stop => return None,
        })
    }
}

fn load_script(path: &PathBuf, slides: usize) -> Result<Vec<ScriptEvent>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read script {}", path.display()))?;
    let events: Vec<ScriptEvent> = serde_json::from_str(&text).with_context(|| {
        format!(
            "script {} is not a list of {{\"at\": SECONDS, \"action\": ACTION, \"value\": …}} with actions next, prev, goto, layout, camera, pause, resume, stop",
            path.display()
        )
    })?;
    let mut prev = 0.0;
    for (i, e) in events.iter().enumerate() {
        if !e.at.is_finite() || e.at < 0.0 {
            bail!("script {}: event {} has a negative or invalid time {}", path.display(), i + 1, e.at);
        }
        if e.at < prev {
            bail!("script {}: event {} at {} s comes before the previous one at {} s; keep times in order", path.display(), i + 1, e.at, prev);
        }
        prev = e.at;
        if let Some(c) = e.action.stage() {
            let hint = if slides == 0 { " (--slides PATH)" } else { "" };
            c.validate(slides).map_err(|m| anyhow::anyhow!("script {}: event {}: {m}{hint}", path.display(), i + 1))?;
        }
    }
    Ok(events)
}

pub fn run(a: RecordArgs, library: Option<&std::path::Path>) -> Result<()> {
    let size: Size = a.size.parse()?;
    let fps: Fps = a.fps.parse()?;
    let max_duration = match a.duration {
        Some(d) if !(d.is_finite() && d > 0.0 && d <= 24.0 * 3600.0) => {
            bail!("--duration {d} is not a number of seconds between 0 and 86400")
        }
        Some(d) => Some(Duration::from_secs_f64(d)),
        None => None,
    };
    let (scene, stage) = a.scene.build(size, a.camera != CameraSpec::None)?;
    let slides = match &stage {
        reel_app::StageSpec::Slides(d) => d.len(),
        _ => 0,
    };
    let script = a.script.as_ref().map(|p| load_script(p, slides)).transpose()?;
    if a.unpaced && max_duration.is_none() {
        bail!("--unpaced needs --duration (it renders as fast as it can, so it needs an end)");
    }
    // Publishing is checked before recording: a wrong bucket or key is said now, not after.
    let storage = match &a.publish.publish {
        Some(_) if a.output.is_some() => {
            bail!("--publish uploads a library recording; leave out --output")
        }
        Some(target) => {
            let s = a.publish.storage();
            let opts = s.options(None)?;
            Some((Arc::new(s.connect(target)?), opts))
        }
        None => None,
    };
    // Without --output the recording lands in the library.
    let lib = match &a.output {
        Some(_) => None,
        None => {
            let lib = reel_app::open_library(library)?;
            let job = reel_app::LibraryRecording::begin(&lib, a.title.as_deref())?;
            Some((lib, job))
        }
    };
    let output = match (&a.output, &lib) {
        (Some(o), _) => o.clone(),
        (None, Some((_, job))) => job.video_path(),
        (None, None) => unreachable!("library opened above"),
    };
    let opts = RecordOptions {
        camera: a.camera,
        mic: a.mic,
        size,
        fps,
        output: output.clone(),
        max_duration,
        title: a.title.clone(),
        clock: if a.unpaced { ClockMode::Virtual } else { ClockMode::Realtime },
        preset: None,
        scene,
        stage,
        // Into the library, Stop is constant-time: the download copy is made after.
        finish_in_place: lib.is_some(),
    };
    let rec = match reel_app::prepare_recording(opts) {
        Ok(r) => r,
        Err(e) => {
            if let Some((_, job)) = lib {
                job.abandon();
            }
            return Err(e.into());
        }
    };

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                // Second interrupt: leave now; the partial file stays for `reel recover`.
                eprintln!("\nstopping without finalizing; run `reel recover --all` later");
                std::process::exit(130);
            }
        });
    }
    for i in (1..=a.countdown).rev() {
        eprint!("\rrecording in {i}… ");
        std::thread::sleep(Duration::from_secs(1));
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    rec.start();
    let started = Instant::now();
    let live = match &storage {
        Some((s, _)) => Some(reel_app::start_live_upload(s.clone(), rec.partial_path())?),
        None => None,
    };
    let shown = if lib.is_some() { "the library".to_string() } else { output.display().to_string() };
    eprintln!("\rrecording to {shown} (type pause, resume or stop + Enter; Ctrl-C stops)");
    if slides > 0 {
        eprintln!("slides: n next, p previous, a number to go there; l LAYOUT (bubble, side, pip, camera, slides); c on|off");
    }

    // Commands on stdin.
    {
        let (rec, stop) = (rec.control(), stop.clone());
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                match line.trim() {
                    "pause" => rec.pause(),
                    "resume" => rec.resume(),
                    "stop" | "q" => stop.store(true, Ordering::SeqCst),
                    "" => {}
                    other => match StageCommand::parse_line(other) {
                        Some(Ok(c)) => {
                            if let Err(e) = rec.command(c) {
                                eprintln!("{e}");
                            }
                        }
                        Some(Err(e)) => eprintln!("{e}"),
                        None => eprintln!("unknown command '{other}': use n, p, a slide number, l LAYOUT, c on|off, pause, resume or stop"),
                    },
                }
            }
        });
    }
    if let Some(events) = script {
        let (rec, stop) = (rec.control(), stop.clone());
        std::thread::spawn(move || {
            for e in events {
                let at = started + Duration::from_secs_f64(e.at);
                if let Some(wait) = at.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                match &e.action {
                    Action::Pause => rec.pause(),
                    Action::Resume => rec.resume(),
                    Action::Stop => stop.store(true, Ordering::SeqCst),
                    other => {
                        if let Some(c) = other.stage() {
                            if let Err(m) = rec.command(c) {
                                eprintln!("script: {m}");
                            }
                        }
                    }
                }
            }
        });
    }

    let bar = match max_duration {
        Some(d) => ProgressBar::new(d.as_millis() as u64)
            .with_style(ProgressStyle::with_template("{prefix} [{bar:30}] {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")),
        None => ProgressBar::new_spinner(),
    };
    let mut camera_down = false;
    let mut warned_space = false;
    while !stop.load(Ordering::SeqCst) && !rec.is_stopped() {
        let t = rec.elapsed();
        let (rms, _) = rec.level();
        let meter_len = ((rms * 4.0).sqrt().min(1.0) * 10.0) as usize;
        let h = rec.health();
        // Said at once, above the bar: the recording goes on either way.
        if h.camera_down != camera_down {
            camera_down = h.camera_down;
            let at = format!("{:02}:{:04.1}", t.as_secs() / 60, t.as_secs_f64() % 60.0);
            bar.suspend(|| {
                if camera_down {
                    eprintln!("camera disconnected at {at}: the recording goes on with a \"camera disconnected\" card; plug it back in to continue");
                } else {
                    eprintln!("camera back at {at}");
                }
            });
        }
        if let Some(left) = h.disk_left_s.filter(|&s| s < 120.0 && !warned_space) {
            warned_space = true;
            bar.suspend(|| eprintln!("warning: the disk holds about {left:.0} s more of this recording; it stops by itself, saved, before the disk is full"));
        }
        let state = if rec.state() == reel_app::State::Paused { "PAUSED" } else { "● REC" };
        bar.set_prefix(format!("{state} {:02}:{:04.1}", t.as_secs() / 60, t.as_secs_f64() % 60.0));
        bar.set_message(format!("mic {:<10} dropped {}", "|".repeat(meter_len), h.frames_dropped));
        bar.set_position(t.as_millis() as u64);
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
    // Stop, as the user sees it: publish_ready_ms counts from here, finalizing included.
    let stop_at = Instant::now();
    eprintln!("finishing…");
    let summary = rec.finish().map_err(reel_app::ApiError::from)?;
    if summary.health.stopped_for_space {
        eprintln!("stopped: the disk is nearly full; the {:.1} s recorded are saved", summary.duration_s);
    }
    let final_at = Instant::now();
    let mut summary = serde_json::to_value(&summary)?;
    // The tail of the live upload goes up while the library makes the poster and preview.
    let live = live.map(|l| {
        let pub_id = l.pub_id.clone();
        (pub_id, std::thread::spawn(move || l.finish().map_err(reel_app::ApiError::from)))
    });
    let mut optimize_after = None;
    if let Some((lib, job)) = lib {
        eprintln!("adding to the library…");
        let e = job.finish(&lib)?;
        summary["library_ms"] = (final_at.elapsed().as_secs_f64() * 1000.0).into();
        summary["id"] = e.id.clone().into();
        summary["title"] = e.title.clone().into();
        summary["output"] = e.path.display().to_string().into();
        eprintln!("saved \"{}\" as {} ({:.1} s)", e.title, e.id, e.duration_s);
        if let (Some((s, opts)), Some((pub_id, upload))) = (&storage, live) {
            let uploaded = upload.join().unwrap_or_else(|_| Err(reel_app::ApiError { code: reel_app::ErrorCode::Internal, message: "the upload thread failed".into() }));
            let (p, warning) = reel_app::finish_live_publish(&lib, &e.id, s, opts, &pub_id, uploaded)?;
            // From Stop to the link working (finalizing, the library's poster and preview, and
            // the tail of the upload included).
            let ready_ms = stop_at.elapsed().as_secs_f64() * 1000.0;
            if let Some(w) = &warning {
                eprintln!("warning: {w}");
            }
            eprintln!("published: {} ({ready_ms:.0} ms after Stop)", p.url);
            summary["url"] = p.url.clone().into();
            summary["publication"] = p.id.clone().into();
            summary["publish_ready_ms"] = ready_ms.into();
            summary["publish_live"] = warning.is_none().into();
            summary["publish_parts"] = p.parts.into();
        }
        optimize_after = Some((lib, e.id));
    }
    if a.json {
        println!("{summary}");
    } else if let (Some(out), Some(d)) = (&a.output, summary["duration_s"].as_f64()) {
        eprintln!(
            "saved {} ({d:.1} s, {} frames, {} dropped, finalized in {:.0} ms)",
            out.display(),
            summary["frames_encoded"],
            summary["frames_dropped"],
            summary["finalize_ms"].as_f64().unwrap_or(0.0)
        );
    }
    // The recording plays and is shared already; the file people download (faststart, with
    // its chapters) is made now, before this process ends.
    if let Some((lib, id)) = optimize_after {
        // The recording is saved either way: a failure here leaves it as recorded (it plays
        // and downloads so; `reel library optimize` tries again).
        if let Err(e) = crate::library::with_progress("preparing the download copy", |p| lib.optimize(&id, p)) {
            eprintln!("warning: the download copy was not made ({e:#}); the recording plays and downloads as recorded; `reel library optimize {id}` tries again");
        }
        crate::library::transcribe_after(&lib, &id);
    }
    Ok(())
}
