//! `reel bench deck` and `reel bench import`: the memory and time of the two jobs that used to
//! grow with their input (every slide decoded up front; a whole audio track in memory), each
//! measured in a child process of its own so that its peak RSS is its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use reel_app::Size;

/// Peak RSS of the process so far (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    super::bench::status_mb("VmHWM:")
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Runs `command` to its end and returns (wall seconds, peak RSS in MB) from the kernel's own
/// accounting of that child (wait4), so a peer is measured exactly as Reel is.
fn run_measured(command: &mut Command) -> Result<(f64, f64)> {
    let t0 = Instant::now();
    let child = command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().with_context(|| format!("starting {command:?}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet waited for; both pointers are valid for the call.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = t0.elapsed().as_secs_f64();
    if r != pid || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        bail!("{command:?} failed (status {status}): {}", err.trim());
    }
    Ok((secs, usage.ru_maxrss as f64 / 1024.0))
}

/// One deck load, in this (child) process: the figures as JSON on stdout.
pub fn deck_once(dir: &Path, size: Size) -> Result<()> {
    let t0 = Instant::now();
    let deck = reel_app::load_deck(dir, size, [24, 26, 32, 255])?;
    let first = deck.slide(0)?;
    let first_ms = t0.elapsed().as_secs_f64() * 1000.0;
    drop(first);
    // Stepping through slides as a presenter does, each one waited for: what a slide change
    // costs when its neighbour was not prefetched in time (the live path never waits).
    let mut steps = Vec::new();
    for i in 1..deck.len().min(40) {
        let t = Instant::now();
        deck.slide(i)?;
        steps.push(t.elapsed().as_secs_f64() * 1000.0);
        // A presenter's pace is seconds; a short pause lets the prefetch of the next one start.
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let step_p50 = median(&mut steps.clone());
    steps.sort_by(f64::total_cmp);
    let step_max = steps.last().copied().unwrap_or(0.0);
    // Far jumps (Goto): not prefetched, decoded on demand.
    let mut jumps = Vec::new();
    for k in 0..10usize {
        let i = (k * 97 + 500) % deck.len();
        let t = Instant::now();
        deck.slide(i)?;
        jumps.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let report = serde_json::json!({
        "slides": deck.len(), "first_frame_ms": first_ms, "step_p50_ms": step_p50, "step_max_ms": step_max,
        "jump_p50_ms": median(&mut jumps), "cached_slides": deck.cached(), "peak_rss_mb": peak_rss_mb(),
    });
    println!("{report}");
    Ok(())
}

/// A folder of `n` distinct 1920x1080 PNG slides (made once, kept in the temp folder).
fn make_deck(n: usize) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("reel-bench-deck-{n}"));
    let done = dir.join(".complete");
    if done.exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir)?;
    let bar = indicatif::ProgressBar::new(n as u64).with_message(format!("making a {n}-slide deck"));
    let make = |i: usize| -> Result<()> {
        let img = image::RgbaImage::from_fn(1920, 1080, |x, y| {
            let band = ((x / 60 + y / 60 + i as u32) % 7) as u8;
            image::Rgba([(x / 8) as u8 ^ (band * 30), (y / 5) as u8, (i * 37 % 256) as u8, 255])
        });
        let f = std::io::BufWriter::new(std::fs::File::create(dir.join(format!("{:04}.png", i + 1)))?);
        let enc = image::codecs::png::PngEncoder::new_with_quality(f, image::codecs::png::CompressionType::Fast, image::codecs::png::FilterType::Sub);
        img.write_with_encoder(enc)?;
        Ok(())
    };
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let (make, bar) = (&make, &bar);
                s.spawn(move || -> Result<()> {
                    for i in (t..n).step_by(2) {
                        make(i)?;
                        bar.inc(1);
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("a slide maker panicked"))??;
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    std::fs::write(&done, b"")?;
    Ok(dir)
}

/// Deck load at 10, 100 and 1,000 slides of 1080p PNG, each in a fresh process.
pub fn deck(runs: usize, json: bool) -> Result<()> {
    let exe = std::env::current_exe()?;
    let mut rows = serde_json::Map::new();
    for n in [10usize, 100, 1000] {
        let dir = make_deck(n)?;
        let mut first = Vec::new();
        let mut rss = Vec::new();
        let mut last = serde_json::Value::Null;
        for _ in 0..runs {
            let o = Command::new(&exe).args(["bench", "deck-once", "--size", "1080p"]).arg(&dir).output()?;
            if !o.status.success() {
                bail!("the deck load failed: {}", String::from_utf8_lossy(&o.stderr));
            }
            let v: serde_json::Value = serde_json::from_slice(&o.stdout)?;
            first.push(v["first_frame_ms"].as_f64().unwrap_or(0.0));
            rss.push(v["peak_rss_mb"].as_f64().unwrap_or(0.0));
            last = v;
        }
        rows.insert(format!("{n}_first_frame_ms_median"), median(&mut first).into());
        rows.insert(format!("{n}_peak_rss_mb_median"), median(&mut rss).into());
        rows.insert(format!("{n}_step_p50_ms"), last["step_p50_ms"].clone());
        rows.insert(format!("{n}_jump_p50_ms"), last["jump_p50_ms"].clone());
        rows.insert(format!("{n}_cached_slides"), last["cached_slides"].clone());
    }
    rows.insert("runs".into(), runs.into());
    rows.insert("goal".into(), "1000 slides: first frame < 1000 ms, peak RSS < 300 MB".into());
    super::bench::print_report(&serde_json::Value::Object(rows), json)
}

/// `reel import` of a long file that must be re-encoded (MPEG-4 video, stereo MP3), beside the
/// ffmpeg CLI doing the same conversion (x264 with Reel's offline settings, AAC mono 48 kHz).
pub fn import(minutes: f64, json: bool) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let src = tmp.path().join("long.mkv");
    let secs = format!("{}", minutes * 60.0);
    eprintln!("making a {minutes}-minute source (small picture, stereo sound)…");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", &format!("testsrc2=size=160x90:rate=5:duration={secs}")])
        .args(["-f", "lavfi", "-i", &format!("sine=frequency=440:sample_rate=48000:duration={secs}")])
        .args(["-c:v", "mpeg4", "-q:v", "8", "-c:a", "libmp3lame", "-ac", "2", "-b:a", "64k", "-shortest"])
        .arg(&src)
        .status()?;
    if !st.success() {
        bail!("ffmpeg could not make the source");
    }
    let lib = tmp.path().join("lib");
    let exe = std::env::current_exe()?;
    let (reel_s, reel_rss) = run_measured(Command::new(&exe).env("REEL_LIBRARY", &lib).env("REEL_STATE_DIR", tmp.path().join("state")).arg("import").arg(&src))?;
    let p = reel_codec::Preset::offline();
    let out = tmp.path().join("peer.mp4");
    let (peer_s, peer_rss) = run_measured(
        Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&src)
            .args(["-c:v", "libx264", "-preset", p.x264, "-crf", &p.crf.to_string(), "-pix_fmt", "yuv420p"])
            .args(["-c:a", "aac", "-ac", "1", "-ar", "48000", "-b:a", "128k"])
            .arg(&out),
    )?;
    let report = serde_json::json!({
        "source_minutes": minutes,
        "reel_import_s": reel_s, "reel_peak_rss_mb": reel_rss,
        "ffmpeg_cli_s": peer_s, "ffmpeg_cli_peak_rss_mb": peer_rss,
        "speed_vs_ffmpeg": peer_s / reel_s.max(1e-9),
        "goal": "a 2-hour import under 300 MB peak RSS",
    });
    super::bench::print_report(&report, json)
}
