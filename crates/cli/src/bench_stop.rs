//! `reel bench stop`: from Stop to a playable, shareable link, for recordings of 1, 10 and 60
//! minutes, beside the previous Stop (a faststart copy of the whole file, then the library)
//! on the same file. The recordings are made first (unpaced synthetic camera and tone), laid
//! out as a live recording is (fragments of 250 ms, by the ffmpeg CLI's stream copy: unpaced,
//! the recorder writes a plain MP4); each trial then starts from a fresh copy of the file in a
//! fresh library job, so both ways find it in the page cache alike.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use reel_app::{ClockMode, Fps, Size};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// One Stop from a finished fragmented recording at `partial`: to the final file (in place, or
/// the old way by a faststart copy), into the library (poster; the preview too on the old
/// way), and a share link. Returns milliseconds.
fn stop_once(lib: &reel_app::Library, partial: &Path, duration_s: f64, in_place: bool) -> Result<f64> {
    let (_, job) = lib.job_dir("record")?;
    let staged = job.join(".video.mp4.reel-partial.mp4");
    std::fs::copy(partial, &staged)?;
    std::fs::File::open(&staged)?.sync_all()?;
    // What the recorder writes beside its output at Stop: the timeline, with the length.
    let timeline = serde_json::json!({"version": 1, "duration_s": duration_s, "events": [], "chapters": [], "slides": []});
    std::fs::write(job.join("video.timeline.json"), serde_json::to_vec(&timeline)?)?;
    let t0 = Instant::now();
    let out = job.join("video.mp4");
    if in_place {
        reel_codec::remux::finalize_in_place(&staged, &out, Some(duration_s))?;
    } else {
        reel_codec::remux::finalize(&staged, &out, &[], Some("Bench"))?;
        std::fs::remove_file(&staged)?;
    }
    let e = lib.adopt(&job, Some("Bench"), None)?;
    reel_app::share(lib, &e.id, &Default::default(), "http://127.0.0.1:8787")?;
    Ok(t0.elapsed().as_secs_f64() * 1000.0)
}

pub fn stop(minutes: &[f64], size: Size, runs: usize, json: bool) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let lib = reel_app::open_library(Some(&tmp.path().join("lib")))?;
    let fps = Fps::new(30)?;
    let mut rows = Vec::new();
    for &m in minutes {
        let src = tmp.path().join(format!("rec-{m}.mp4"));
        let bar = indicatif::ProgressBar::new((m * 60.0) as u64).with_message(format!("recording {m} min at {size} (unpaced)"));
        let plain = tmp.path().join(format!("plain-{m}.mp4"));
        let rec = reel_app::prepare_recording(super::bench::opts(plain.clone(), size, fps, m * 60.0, ClockMode::Virtual))?;
        rec.start();
        while !rec.is_stopped() {
            std::thread::sleep(Duration::from_millis(200));
            bar.set_position(rec.elapsed().as_secs());
        }
        let s = rec.finish().map_err(reel_app::ApiError::from)?;
        bar.finish_and_clear();
        let st = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&plain)
            .args(["-c", "copy", "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "250000"])
            .arg(&src)
            .status()?;
        anyhow::ensure!(st.success(), "ffmpeg could not lay out the fragmented recording");
        std::fs::remove_file(&plain)?;
        let (mut now, mut before) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            now.push(stop_once(&lib, &src, s.duration_s, true)?);
            before.push(stop_once(&lib, &src, s.duration_s, false)?);
        }
        let (n, b) = (median(&mut now), median(&mut before));
        let mb = std::fs::metadata(&src).map(|x| x.len()).unwrap_or(0) as f64 / 1e6;
        if !json {
            println!("{m:>5} min ({mb:.0} MB): stop → link {n:.0} ms (before: faststart copy first, {b:.0} ms; {:.1}x faster)", b / n.max(1e-9));
        }
        rows.push(serde_json::json!({"minutes": m, "mb": mb, "stop_to_link_ms": n, "faststart_first_ms": b, "ratio": b / n.max(1e-9), "runs": runs}));
        std::fs::remove_file(&src)?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"size": size.to_string(), "results": rows}))?);
    } else {
        println!("(medians of {runs} runs; the recording's frames were synced as it was written, as live)");
    }
    Ok(())
}
