//! `reel bench`: figures, not assertions.
//!
//! - `live`: a real-time recording of the synthetic camera and tone; reports dropped and
//!   duplicated frames, capture jitter, the A/V offset found in the output, peak and late RSS,
//!   and stop → final file.
//! - `encode`: the same pipeline unpaced (as fast as it goes), with the ffmpeg CLI encoding the
//!   same synthetic pictures (piped in raw) with the same x264 preset in the same run as a peer.
//! - `deck`, `import` (bench_durable.rs): memory and time of slide decks and long imports.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use reel_app::{CameraSpec, ClockMode, Fps, MicSpec, RecordOptions, Size};

#[derive(Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Subcommand)]
enum Which {
    /// Record in real time and report health figures.
    Live {
        #[arg(long, default_value = "720p")]
        size: String,
        #[arg(long, default_value = "30")]
        fps: String,
        #[arg(long, default_value = "300")]
        seconds: f64,
        /// Keep the recording here (default: a temporary folder).
        #[arg(long)]
        keep: Option<PathBuf>,
        /// `synthetic`, or a camera (index or name) as in `reel record`.
        #[arg(long, default_value = "synthetic")]
        camera: String,
        /// `tone`, `default`, `none` or a microphone name.
        #[arg(long, default_value = "tone")]
        mic: String,
        #[arg(long)]
        json: bool,
    },
    /// Compose cost per frame for every layout, its conversion to YUV (no x264), and the old way
    /// (a full canvas, then swscale) as a peer in the same run.
    Compose {
        #[arg(long, default_value = "1080p")]
        size: String,
        #[arg(long, default_value = "300")]
        frames: u32,
        #[arg(long)]
        json: bool,
    },
    /// Offline render of a camera file over a slide deck in the bubble layout to H.264, beside
    /// the ffmpeg CLI doing the same overlay with the same x264 settings on the same inputs.
    Render {
        #[arg(long, default_value = "1080p")]
        size: String,
        #[arg(long, default_value = "10")]
        seconds: u32,
        #[arg(long)]
        json: bool,
    },
    /// Search latency over a library of N recordings (metadata only; no video needed).
    /// Transcription speed (real-time factor), peak memory and word error rate per model,
    /// beside faster-whisper on the same audio, threads and settings.
    Transcribe {
        #[arg(long, default_value = "10")]
        minutes: f64,
        #[arg(long, value_delimiter = ',', default_value = "tiny.en,base")]
        models: Vec<String>,
        #[arg(long, default_value = "3")]
        runs: usize,
        #[arg(long, default_value = "2")]
        threads: usize,
        /// A Python with faster-whisper (scripts/bench-transcribe.sh makes one).
        #[arg(long, default_value = "python3")]
        python: String,
        #[arg(long)]
        json: bool,
    },
    #[command(hide = true)]
    TranscribeChild { wav: PathBuf, model: String, threads: usize },
    Search {
        #[arg(long, default_value = "10000")]
        n: usize,
        #[arg(long, default_value = "2000")]
        queries: usize,
        /// Minutes of speech in each recording's transcript (150 words a minute, a Zipf
        /// vocabulary of 6,000 words); 0 for none.
        #[arg(long, default_value = "5")]
        spoken_minutes: f64,
        #[arg(long)]
        json: bool,
    },
    /// Export with the speed baked in, as a real-time factor, beside the ffmpeg CLI doing the
    /// same (setpts + atempo, same x264 preset and CRF) on the same input in the same run.
    Export {
        #[arg(long, default_value = "720p")]
        size: String,
        #[arg(long, default_value = "30")]
        seconds: u32,
        #[arg(long, default_value = "2")]
        speed: f64,
        #[arg(long)]
        json: bool,
    },
    /// Concurrent viewers reading ranged media from the share server, beside nginx serving the
    /// same file in the same run; and `reel share` → playable link.
    Serve {
        #[arg(long, default_value = "200")]
        clients: usize,
        #[arg(long, default_value = "10")]
        seconds: f64,
        /// Bytes per range request, in KiB (a player's typical read).
        #[arg(long, default_value = "256")]
        range_kib: u64,
        /// Idle and half-sent connections held open (from another client address) during the
        /// load, against both servers: the slowloris case.
        #[arg(long, default_value = "0")]
        idle: usize,
        #[arg(long)]
        json: bool,
    },
    /// The desktop app's live preview (demo deck, demo camera, bubble): one 960-wide JPEG frame,
    /// beside the way it was made before (composed at full size, then scaled down).
    Preview {
        #[arg(long, default_value = "1080p")]
        size: String,
        #[arg(long, default_value = "60")]
        frames: u32,
        #[arg(long)]
        json: bool,
    },
    /// Camera frames to RGBA per format and size (MJPEG with libjpeg-turbo and zune-jpeg,
    /// YUYV), beside ffmpeg's decoder and scaler on the same frames.
    Camera {
        #[arg(long, default_value = "120")]
        frames: u32,
        #[arg(long, default_value = "5")]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Stop → a playable, shareable link for recordings of several lengths, beside the old
    /// Stop (a faststart copy first) on the same files.
    Stop {
        /// Lengths in minutes, comma-separated.
        #[arg(long, default_value = "1,10,60", value_delimiter = ',')]
        minutes: Vec<f64>,
        #[arg(long, default_value = "480p")]
        size: String,
        #[arg(long, default_value = "3")]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Slide decks of 10, 100 and 1,000 1080p PNGs: time to the first frame, peak RSS, and what
    /// a slide change costs, each load in a fresh process.
    Deck {
        #[arg(long, default_value = "3")]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
    /// One deck load in this process (what `bench deck` runs in a child).
    #[command(hide = true)]
    DeckOnce {
        dir: PathBuf,
        #[arg(long, default_value = "1080p")]
        size: String,
    },
    /// `reel import` of a long file that must be re-encoded: time and peak RSS, beside the
    /// ffmpeg CLI doing the same conversion.
    Import {
        #[arg(long, default_value = "120")]
        minutes: f64,
        #[arg(long)]
        json: bool,
    },
    /// Encode unpaced and report frames per second, beside the ffmpeg CLI.
    Encode {
        #[arg(long, default_value = "720p")]
        size: String,
        #[arg(long, default_value = "30")]
        fps: String,
        #[arg(long, default_value = "10")]
        seconds: f64,
        #[arg(long)]
        json: bool,
    },
}

fn rss_mb() -> f64 {
    status_mb("VmRSS:")
}

/// A size line of /proc/self/status (`VmRSS:`, `VmHWM:`…), in MB.
pub(crate) fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

pub fn run(a: BenchArgs) -> Result<()> {
    match a.which {
        Which::Live { size, fps, seconds, keep, camera, mic, json } => live(size.parse()?, fps.parse()?, seconds, keep, camera.parse()?, mic.parse()?, json),
        Which::Camera { frames, runs, json } => crate::bench_camera::camera(frames.clamp(1, 3000), runs.clamp(1, 50), json),
        Which::Deck { runs, json } => crate::bench_durable::deck(runs.clamp(1, 20), json),
        Which::Stop { minutes, size, runs, json } => {
            let minutes: Vec<f64> = minutes.into_iter().filter(|m| m.is_finite() && *m > 0.0).map(|m| m.min(600.0)).collect();
            anyhow::ensure!(!minutes.is_empty(), "--minutes: give lengths in minutes, like 1,10,60");
            crate::bench_stop::stop(&minutes, size.parse()?, runs.clamp(1, 20), json)
        }
        Which::DeckOnce { dir, size } => crate::bench_durable::deck_once(&dir, size.parse()?),
        Which::Import { minutes, json } => crate::bench_durable::import(minutes.clamp(0.1, 600.0), json),
        Which::Encode { size, fps, seconds, json } => encode(size.parse()?, fps.parse()?, seconds, json),
        Which::Compose { size, frames, json } => compose(size.parse()?, frames, json),
        Which::Render { size, seconds, json } => render(size.parse()?, seconds, json),
        Which::Transcribe { minutes, models, runs, threads, python, json } => {
            crate::bench_transcribe::transcribe(minutes.clamp(0.1, 120.0), &models, runs.clamp(1, 20), threads.clamp(1, 64), &python, json)
        }
        Which::TranscribeChild { wav, model, threads } => crate::bench_transcribe::child(&wav, &model, threads),
        Which::Search { n, queries, spoken_minutes, json } => search(n, queries, spoken_minutes.clamp(0.0, 120.0), json),
        Which::Export { size, seconds, speed, json } => export(size.parse()?, seconds.clamp(1, 3600), speed, json),
        Which::Preview { size, frames, json } => preview(size, frames.max(1), json),
        Which::Serve { clients, seconds, range_kib, idle, json } => {
            crate::bench_serve::serve(clients.clamp(1, 2000), seconds.clamp(1.0, 600.0), range_kib.clamp(1, 16 << 10), idle.min(20_000), json)
        }
    }
}

pub(crate) fn opts(output: PathBuf, size: Size, fps: Fps, seconds: f64, clock: ClockMode) -> RecordOptions {
    RecordOptions {
        camera: CameraSpec::Synthetic,
        mic: MicSpec::Tone,
        size,
        fps,
        output,
        max_duration: Some(Duration::from_secs_f64(seconds)),
        title: None,
        clock,
        preset: None,
        scene: Default::default(),
        stage: Default::default(),
        finish_in_place: false,
    }
}

fn compose(size: Size, frames: u32, json: bool) -> Result<()> {
    use reel_app::{Layout, Scene};
    let tmp = tempfile::tempdir()?;
    // A slide with detail (a gradient) and a 720p camera: the common case.
    let slide = image::RgbaImage::from_fn(1600, 1200, |x, y| image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, 255]));
    slide.save(tmp.path().join("1.png"))?;
    let deck = reel_app::load_deck(tmp.path(), size, [24, 26, 32, 255])?;
    let cam_size = Size::new(1280, 720)?;
    let mut cam = vec![0u8; cam_size.pixels() * 4];
    reel_capture::synthetic::Pattern::new(cam_size).draw(10, Duration::from_millis(333), &mut cam);
    let cam = reel_media::VideoFrame::new(Duration::ZERO, 1280, 720, cam)?;
    let stage = reel_media::VideoFrame { ts: Duration::ZERO, width: size.width, height: size.height, data: deck.slide(0)? };
    let mut rows = serde_json::Map::new();
    // Mean and p99 of `f` over `frames` runs, in ms.
    let measure = |f: &mut dyn FnMut()| {
        let mut times: Vec<f64> = (0..frames.max(1))
            .map(|_| {
                let t0 = Instant::now();
                f();
                t0.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        (mean, times[((times.len() - 1) as f64 * 0.99) as usize])
    };
    for layout in [Layout::Bubble, Layout::Side, Layout::Pip, Layout::Camera, Layout::Slides] {
        let scene = Scene { layout, ..Scene::default() };
        let ts = Duration::from_millis(33);
        // What the recorder composes per frame (a picture the encoder's converter takes).
        let mut c = reel_compose::Compositor::new(size);
        let (mean, p99) = measure(&mut || drop(c.compose_picture(&scene, Some(&stage), Some(&cam), ts)));
        // Its conversion to YUV 4:2:0, the rest of the work before x264.
        let picture = c.compose_picture(&scene, Some(&stage), Some(&cam), ts);
        let mut yuv = reel_codec::ToYuv::new(size);
        let (yuv_mean, _) = measure(&mut || yuv.convert(&picture).expect("converting"));
        // The peer, as it was done before: a full RGBA canvas, then swscale.
        let mut old = reel_compose::Compositor::new(size);
        let mut sws = reel_codec::ToYuv::swscale_only(size);
        let (before, _) = measure(&mut || {
            let canvas = old.compose(&scene, Some(&stage), Some(&cam), ts);
            sws.convert(&canvas.into()).expect("converting");
        });
        rows.insert(format!("{layout}_mean_ms"), mean.into());
        rows.insert(format!("{layout}_p99_ms"), p99.into());
        rows.insert(format!("{layout}_to_yuv_ms"), yuv_mean.into());
        rows.insert(format!("{layout}_with_yuv_ms"), (mean + yuv_mean).into());
        rows.insert(format!("{layout}_canvas_swscale_ms"), before.into());
    }
    rows.insert("size".into(), size.to_string().into());
    print_report(&serde_json::Value::Object(rows), json)
}

fn render(size: Size, seconds: u32, json: bool) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let ff = |args: &[&str]| -> Result<()> {
        let st = Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args).status().context("running ffmpeg (install ffmpeg)")?;
        anyhow::ensure!(st.success(), "ffmpeg failed: {args:?}");
        Ok(())
    };
    // Inputs: a 720p camera clip and a one-slide deck at the output size.
    let cam = dir.join("cam.mp4");
    ff(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size=1280x720:rate=30:duration={seconds}"),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-pix_fmt",
        "yuv420p",
        cam.to_str().unwrap_or_default(),
    ])?;
    let deck = dir.join("deck");
    std::fs::create_dir_all(&deck)?;
    let slide = image::RgbaImage::from_fn(size.width, size.height, |x, y| image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, 255]));
    slide.save(deck.join("1.png"))?;
    let preset = reel_codec::Preset::live(size);
    // Ours.
    let out = dir.join("ours.mp4");
    let mut o = opts(out, size, Fps::new(30)?, seconds as f64, ClockMode::Virtual);
    o.camera = CameraSpec::File(cam.clone());
    o.mic = MicSpec::None;
    o.stage = reel_app::StageSpec::Slides(std::sync::Arc::new(reel_app::load_deck(&deck, size, [24, 26, 32, 255])?));
    o.scene = reel_app::Scene { layout: reel_app::Layout::Bubble, ..Default::default() };
    o.scene.bubble.mirror = false;
    o.preset = Some(preset);
    let t0 = Instant::now();
    let rec = reel_app::prepare_recording(o)?;
    rec.start();
    while !rec.is_stopped() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let s = rec.finish().map_err(reel_app::ApiError::from)?;
    let ours = t0.elapsed().as_secs_f64();
    // The ffmpeg CLI: same bubble (diameter, position), circular mask, same x264 settings.
    let d = ((size.height as f32 * 0.30) as u32) & !1;
    let m = (size.height as f32 * 0.04) as u32;
    let (x, y) = (size.width - d - m, size.height - d - m);
    let mask = dir.join("mask.png");
    let r = d as f32 / 2.0;
    image::GrayImage::from_fn(d, d, |px, py| {
        let dist = ((px as f32 + 0.5 - r).powi(2) + (py as f32 + 0.5 - r).powi(2)).sqrt();
        image::Luma([((r - dist + 0.75) / 1.5).clamp(0.0, 1.0).mul_add(255.0, 0.0) as u8])
    })
    .save(&mask)?;
    // The slide and the mask are decoded once and repeated by the loop filter, as Reel decodes
    // its deck once (`-loop 1` on the input would decode the PNGs again for every frame).
    let filter = format!(
        "[0:v]format=rgba,loop=loop=-1:size=1:start=0,fps=30[bg];[1:v]crop=ih:ih,scale={d}:{d},format=rgba[c];\
         [2:v]format=gray,loop=loop=-1:size=1:start=0,fps=30[m];[c][m]alphamerge[b];[bg][b]overlay={x}:{y}:shortest=1,format=yuv420p"
    );
    // Reel's x264 settings, for the peer and for the x264-alone ceiling.
    let x264: Vec<String> =
        ["-c:v", "libx264", "-preset", preset.x264, "-crf", &preset.crf.to_string(), "-g", "30", "-x264-params", "scenecut=0"].iter().map(|s| s.to_string()).collect();
    let t1 = Instant::now();
    ff(&[
        "-i",
        deck.join("1.png").to_str().unwrap_or_default(),
        "-i",
        cam.to_str().unwrap_or_default(),
        "-i",
        mask.to_str().unwrap_or_default(),
        "-filter_complex",
        &filter,
        "-t",
        &seconds.to_string(),
        "-r",
        "30",
    ]
    .into_iter()
    .chain(x264.iter().map(String::as_str))
    .chain([dir.join("peer.mp4").to_str().unwrap_or_default()])
    .collect::<Vec<_>>())?;
    let peer = t1.elapsed().as_secs_f64();
    // The ceiling: x264 alone with the same settings on the same frames, already decoded and
    // composed (raw YUV read from the page cache), so nothing else costs anything.
    let raw = dir.join("frames.yuv");
    ff(&["-i", dir.join("ours.mp4").to_str().unwrap_or_default(), "-f", "rawvideo", "-pix_fmt", "yuv420p", raw.to_str().unwrap_or_default()])?;
    let _ = std::fs::read(&raw); // into the page cache
    let t2 = Instant::now();
    ff(&["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", &format!("{}x{}", size.width, size.height), "-r", "30", "-i", raw.to_str().unwrap_or_default()]
        .into_iter()
        .chain(x264.iter().map(String::as_str))
        .chain([dir.join("x264.mp4").to_str().unwrap_or_default()])
        .collect::<Vec<_>>())?;
    let x264 = t2.elapsed().as_secs_f64();
    let frames = s.frames_encoded as f64;
    let report = serde_json::json!({
        "size": size.to_string(), "seconds": seconds, "preset": preset.x264, "frames": s.frames_encoded,
        "reel_wall_s": ours, "reel_fps": frames / ours, "ffmpeg_cli_wall_s": peer, "ffmpeg_cli_fps": frames / peer,
        "speedup_vs_ffmpeg_cli": peer / ours,
        "x264_alone_wall_s": x264, "x264_alone_fps": frames / x264, "reel_share_of_x264_alone": x264 / ours,
    });
    print_report(&report, json)
}

/// User + system CPU time of this process so far, in seconds (from /proc/self/stat).
fn cpu_s() -> f64 {
    let ticks = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| {
        // Fields after the command name (which may contain spaces) start after the last ')'.
        let rest = s.rsplit_once(')')?.1.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        Some(rest.get(11)?.parse::<f64>().ok()? + rest.get(12)?.parse::<f64>().ok()?)
    });
    // USER_HZ is 100 on Linux.
    ticks.unwrap_or(0.0) / 100.0
}

fn live(size: Size, fps: Fps, seconds: f64, keep: Option<PathBuf>, camera: CameraSpec, mic: MicSpec, json: bool) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let out = keep.unwrap_or_else(|| tmp.path().join("bench-live.mp4"));
    let mut o = opts(out.clone(), size, fps, seconds, ClockMode::Realtime);
    o.camera = camera.clone();
    o.mic = mic;
    let rec = reel_app::prepare_recording(o)?;
    let base_rss = rss_mb();
    let (cpu0, wall0) = (cpu_s(), Instant::now());
    rec.start();
    let mut samples = Vec::new();
    let bar = indicatif::ProgressBar::new(seconds as u64).with_message(format!("live {size}@{} for {seconds} s", fps.get()));
    while !rec.is_stopped() {
        std::thread::sleep(Duration::from_millis(500));
        samples.push((rec.elapsed().as_secs_f64(), rss_mb()));
        bar.set_position(rec.elapsed().as_secs());
    }
    bar.finish_and_clear();
    let cpu_percent = (cpu_s() - cpu0) / wall0.elapsed().as_secs_f64() * 100.0;
    let camera_mode = rec.camera().map(|d| d.status());
    let s = rec.finish().map_err(reel_app::ApiError::from)?;
    // The A/V offset is measured on the synthetic source's flashes and beeps only.
    let sync = if camera == CameraSpec::Synthetic { Some(reel_codec::analyze::sync_report(&out)?) } else { None };
    let peak = samples.iter().map(|x| x.1).fold(0.0, f64::max);
    let tenth = samples.get(samples.len() / 10).map(|x| x.1).unwrap_or(0.0);
    let last = samples.last().map(|x| x.1).unwrap_or(0.0);
    let report = serde_json::json!({
        "size": size.to_string(), "fps": fps.get(), "seconds": seconds,
        "frames_encoded": s.frames_encoded, "frames_dropped": s.frames_dropped, "frames_duplicated": s.frames_duplicated,
        "capture_jitter_p50_ms": s.health.capture_jitter_p50_ms, "capture_jitter_p99_ms": s.capture_jitter_p99_ms,
        "capture_jitter_max_ms": s.health.capture_jitter_max_ms,
        "av_offset_max_ms": sync.as_ref().map(|s| s.max_abs_offset_s * 1000.0), "av_offsets_checked": sync.as_ref().map(|s| s.offsets_s.len()),
        "cpu_percent": cpu_percent, "camera": camera_mode, "camera_disconnects": s.health.camera_disconnects,
        "rss_before_start_mb": base_rss, "rss_peak_mb": peak, "rss_at_10pct_mb": tenth, "rss_at_end_mb": last,
        "finalize_ms": s.finalize_ms, "bytes": s.bytes, "audio_underrun_ms": s.health.audio_underrun_ms,
        "video_queue_max": s.health.video_queue_max,
        "fsyncs": s.health.fsyncs, "fsync_mean_ms": s.health.fsync_mean_ms, "fsync_max_ms": s.health.fsync_max_ms,
    });
    print_report(&report, json)
}

fn encode(size: Size, fps: Fps, seconds: f64, json: bool) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("bench-encode.mp4");
    let t0 = Instant::now();
    let rec = reel_app::prepare_recording(opts(out, size, fps, seconds, ClockMode::Virtual))?;
    rec.start();
    while !rec.is_stopped() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let s = rec.finish().map_err(reel_app::ApiError::from)?;
    let ours = t0.elapsed().as_secs_f64();
    let preset = reel_codec::Preset::live(size);
    // Peer: the ffmpeg CLI encoding the same pictures (Reel's synthetic camera pattern, made
    // here frame by frame and piped in raw, as Reel makes them for itself) with the same size,
    // preset, CRF, keyframe interval and AAC settings.
    let frames = (seconds * fps.get() as f64).round() as u64;
    let t1 = Instant::now();
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", &format!("{}x{}", size.width, size.height), "-r", &fps.get().to_string(), "-i", "-"])
        .args(["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000"])
        .args(["-frames:v", &frames.to_string(), "-t", &seconds.to_string()])
        .args(["-c:v", "libx264", "-preset", preset.x264, "-crf", &preset.crf.to_string(), "-g", &fps.get().to_string()])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "1", "-b:a", "128k"])
        .arg(tmp.path().join("peer.mp4"))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("running the ffmpeg CLI as the peer (install ffmpeg)")?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        let pattern = reel_capture::synthetic::Pattern::new(size);
        let mut buf = vec![0u8; size.pixels() * 4];
        for i in 0..frames {
            pattern.draw(i, fps.slot_time(i), &mut buf);
            if stdin.write_all(&buf).is_err() {
                break;
            }
        }
    }
    let peer = child.wait()?;
    let peer_s = t1.elapsed().as_secs_f64();
    let report = serde_json::json!({
        "size": size.to_string(), "fps": fps.get(), "seconds_of_video": seconds, "preset": preset.x264,
        "frames": s.frames_encoded, "reel_wall_s": ours, "reel_fps": s.frames_encoded as f64 / ours,
        "ffmpeg_cli_ok": peer.success(), "ffmpeg_cli_wall_s": peer_s, "ffmpeg_cli_fps": frames as f64 / peer_s,
        "realtime_factor": seconds / ours,
    });
    print_report(&report, json)
}

fn export(size: Size, seconds: u32, speed: f64, json: bool) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("src.mp4");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", &format!("testsrc2=size={}x{}:rate=30:duration={seconds}", size.width, size.height)])
        .args(["-f", "lavfi", "-i", &format!("sine=frequency=1000:duration={seconds}"), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac"])
        .arg(&src)
        .status()
        .context("running ffmpeg (install ffmpeg)")?;
    anyhow::ensure!(st.success(), "ffmpeg could not make the test input");
    let lib = reel_app::open_library(Some(&tmp.path().join("lib")))?;
    let e = lib.import(&src, Some("bench"), &mut |_| true).map_err(reel_app::ApiError::from)?;
    let out = tmp.path().join("reel.mp4");
    let t = Instant::now();
    lib.export(&e.id, &out, speed, None, false, &mut |_| true).map_err(reel_app::ApiError::from)?;
    let ours = t.elapsed().as_secs_f64();
    let p = reel_codec::Preset::offline();
    // Two peers: the CLI's defaults (a keyframe every 250 frames), and the CLI told to use
    // reel's own x264 settings (a closed GOP every second, for quick seeks and cheap cuts).
    let peer = |name: &str, extra: &[&str]| -> Result<f64> {
        let t = Instant::now();
        let st = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&src)
            .args(["-filter:v", &format!("setpts=PTS/{speed}"), "-filter:a", &format!("atempo={speed}")])
            .args(["-c:v", "libx264", "-preset", p.x264, "-crf", &p.crf.to_string(), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k"])
            .args(extra)
            .arg(tmp.path().join(name))
            .status()?;
        anyhow::ensure!(st.success(), "the ffmpeg CLI failed");
        Ok(t.elapsed().as_secs_f64())
    };
    let defaults = peer("ffmpeg.mp4", &[])?;
    let same = peer("ffmpeg-same.mp4", &["-g", "30", "-flags", "+cgop", "-x264-params", "scenecut=0:rc-lookahead=10:b-pyramid=none"])?;
    let report = serde_json::json!({
        "size": size.to_string(), "source_s": seconds, "speed": speed, "preset": p.x264,
        "reel_wall_s": ours, "reel_realtime_factor": seconds as f64 / ours,
        "ffmpeg_cli_wall_s": defaults, "ffmpeg_cli_realtime_factor": seconds as f64 / defaults, "reel_vs_ffmpeg_cli": defaults / ours,
        "ffmpeg_cli_same_gop_wall_s": same, "reel_vs_ffmpeg_cli_same_gop": same / ours,
    });
    print_report(&report, json)
}

fn preview(size: String, frames: u32, json: bool) -> Result<()> {
    use reel_app::studio::{Studio, StudioConfig};
    let tmp = tempfile::tempdir()?;
    let lib = std::sync::Arc::new(reel_app::open_library(Some(&tmp.path().join("lib")))?);
    let studio = Studio::new(lib)?;
    let deck = reel_app::studio::demo_deck(tmp.path())?;
    let config = StudioConfig { size: size.clone(), deck: Some(deck.clone()), ..StudioConfig::default() };
    studio.configure(config.clone())?;
    let width = 960;
    let time = |f: &mut dyn FnMut(u32) -> Result<usize>| -> Result<(f64, usize)> {
        let t = Instant::now();
        let mut bytes = 0;
        for i in 0..frames {
            bytes = f(i)?;
        }
        Ok((t.elapsed().as_secs_f64() * 1000.0 / frames as f64, bytes))
    };
    let at = |i: u32| i as f64 / 10.0;
    let (ours, ours_bytes) = time(&mut |i| Ok(studio.preview_jpeg(0, at(i), width)?.len()))?;
    // The peer: the whole canvas at the output size, scaled down, then the same JPEG.
    let out: Size = size.parse()?;
    let stage = reel_app::StageSpec::Slides(std::sync::Arc::new(reel_app::load_deck(&deck, out, config.scene.background)?));
    let (before, _) = time(&mut |i| {
        let o = reel_app::PreviewOptions {
            camera: reel_capture::CameraSpec::Synthetic,
            size: out,
            scene: config.scene.clone(),
            stage: stage.clone(),
            slide: 0,
            at: Duration::from_secs_f64(at(i)),
        };
        let f = reel_app::preview_frame(&o)?;
        let h = (f.height * width / f.width) & !1;
        let small = reel_compose::deck::fit_onto(&f.data, f.width, f.height, Size { width, height: h }, [0, 0, 0, 255])?;
        Ok(reel_app::studio::jpeg(&small, width, h)?.len())
    })?;
    let report = serde_json::json!({
        "size": out.to_string(), "preview_width": width, "frames": frames,
        "preview_ms": ours, "full_size_then_scaled_ms": before, "speedup": before / ours, "jpeg_bytes": ours_bytes,
    });
    print_report(&report, json)
}

pub(crate) fn print_report(r: &serde_json::Value, json: bool) -> Result<()> {
    if json {
        println!("{r}");
    } else if let Some(m) = r.as_object() {
        for (k, v) in m {
            match v.as_f64() {
                Some(f) if v.is_f64() => println!("{k:>24}: {f:.2}"),
                _ => println!("{k:>24}: {v}"),
            }
        }
    }
    Ok(())
}

fn median_ms(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn reel_media_transcript_word(text: String, t: f64) -> serde_json::Value {
    serde_json::json!({"text": text, "start": t, "end": t + 0.3, "p": 0.9})
}

/// A made-up word for rank `k` of the spoken vocabulary (syllables, so prefixes share).
fn spoken_word(k: usize) -> String {
    const SYL: [&str; 20] = ["ka", "lo", "mi", "ren", "to", "sa", "vi", "dor", "nu", "pe", "qua", "bri", "zen", "ul", "fa", "go", "hy", "jo", "wex", "ti"];
    let mut w = String::new();
    let mut x = k + 20;
    while x > 0 {
        w.push_str(SYL[x % 20]);
        x /= 20;
    }
    w
}

fn search(n: usize, queries: usize, spoken_minutes: f64, json: bool) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path();
    let words = [
        "roadmap",
        "hiring",
        "budget",
        "design",
        "review",
        "launch",
        "customer",
        "onboarding",
        "incident",
        "postmortem",
        "quarterly",
        "planning",
        "demo",
        "feedback",
        "keyboard",
        "shortcuts",
        "pricing",
        "migration",
        "database",
        "latency",
        "mobile",
        "release",
    ];
    let t0 = Instant::now();
    for i in 0..n {
        let w = |k: usize| words[(i * 7 + k * 13) % words.len()];
        let id = format!("bench-{i:06}");
        let d = root.join("recordings").join(&id);
        std::fs::create_dir_all(&d)?;
        let meta = serde_json::json!({
            "version": 1, "id": id, "title": format!("{} {} #{i}", w(0), w(1)),
            "description": format!("Notes about {} and {} for the {} team", w(2), w(3), w(4)),
            "created": format!("2026-{:02}-{:02}T10:00:00Z", 1 + i % 12, 1 + i % 28), "duration_s": 60.0 + (i % 300) as f64,
            "chapters": [{"start_s": 0.0, "end_s": 10.0, "title": w(5)}, {"start_s": 10.0, "end_s": 20.0, "title": w(6)}],
            "slide_texts": [format!("{} {} {}", w(7), w(8), w(9))],
        });
        std::fs::write(d.join("meta.json"), serde_json::to_vec(&meta)?)?;
        std::fs::write(d.join("video.mp4"), b"")?;
        if spoken_minutes > 0.0 {
            // Zipf over 6,000 words: rank r with weight 1/r, drawn by a fixed LCG.
            let total = (spoken_minutes * 150.0) as usize;
            let mut seed = (i as u64 + 1).wrapping_mul(6364136223846793005);
            let mut words_out = Vec::with_capacity(total);
            for k in 0..total {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u = ((seed >> 11) as f64 / (1u64 << 53) as f64).max(1e-12);
                // Inverse of the Zipf CDF (approximately: ln(r)/ln(N)).
                let r = ((6000f64).powf(u) as usize).clamp(1, 6000) - 1;
                let mut text = spoken_word(r);
                if k % 12 == 11 {
                    text.push('.');
                }
                let t = k as f64 * 0.4;
                words_out.push(reel_media_transcript_word(text, t));
            }
            let tr = serde_json::json!({"model": "bench", "language": "en", "words": words_out});
            std::fs::write(d.join("transcript.json"), serde_json::to_vec(&tr)?)?;
        }
    }
    let made = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let lib = reel_app::open_library(Some(root))?;
    let indexed = t1.elapsed().as_secs_f64();
    // Titles and slides, then spoken words: the most common, a middling one, rare ones, a
    // prefix, a phrase of two.
    let (w1, w50, w900, w5000) = (spoken_word(0), spoken_word(49), spoken_word(899), spoken_word(4999));
    let (prefix, phrase) = (w900[..3].to_string(), format!("{} {}", spoken_word(3), spoken_word(120)));
    let mut qs: Vec<&str> = vec!["roadmap", "hir", "budget review", "board", "latenc", "quarterly planning", "zzz", "migr data", "custo", "demo"];
    if spoken_minutes > 0.0 {
        qs.extend([w1.as_str(), w50.as_str(), w900.as_str(), w5000.as_str(), prefix.as_str(), phrase.as_str()]);
    }
    let mut times = Vec::with_capacity(queries);
    let mut found = 0usize;
    let mut per_query: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for i in 0..queries {
        let q = qs[i % qs.len()];
        let t = Instant::now();
        let hits = lib.search(q, 20).map_err(reel_app::ApiError::from)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        per_query.entry(q).or_default().push(t.elapsed().as_secs_f64() * 1000.0);
        found += hits.len();
    }
    // Each query's median, to see which kind costs what.
    let per_query: serde_json::Map<String, serde_json::Value> = per_query.into_iter().map(|(q, mut v)| (q.to_string(), median_ms(&mut v).into())).collect();
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    let report = serde_json::json!({
        "recordings": n, "spoken_minutes_each": spoken_minutes, "queries": queries, "make_folders_s": made, "open_and_index_s": indexed,
        "search_p50_ms": pct(0.5), "search_p99_ms": pct(0.99), "search_max_ms": pct(1.0), "mean_hits": found as f64 / queries as f64,
        "median_ms_by_query": per_query,
    });
    print_report(&report, json)
}
