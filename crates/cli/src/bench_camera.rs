//! `reel bench camera`: what a camera frame costs to turn into the compositor's RGBA, per
//! format and size, beside ffmpeg's own decoder and scaler doing the same on the same frames.
//!
//! The frames are made by the ffmpeg CLI from its `testsrc2` pattern (moving, detailed, the
//! kind of content that makes JPEG work): MJPEG at quality 5 (what webcams send is similar),
//! and raw YUYV. Reel converts each frame on one thread, as its camera thread does, with both
//! JPEG decoders it has (libjpeg-turbo and zune-jpeg). The peer is `ffmpeg -f mjpeg -i … -pix_fmt
//! rgba -f null -` (and `-f rawvideo -pix_fmt yuyv422` for YUYV) with `-threads 1`, timed by
//! its own `-benchmark` (utime: decode and convert, without process start-up).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use reel_capture::camera::convert::{to_rgba, Jpeg};
use reel_capture::camera::PixelFormat;

/// Splits an MJPEG stream (concatenated JPEGs) into frames at each start-of-image marker.
fn split_jpegs(data: &[u8]) -> Vec<&[u8]> {
    let mut starts: Vec<usize> = data.windows(3).enumerate().filter(|(_, w)| w == &[0xFF, 0xD8, 0xFF]).map(|(i, _)| i).collect();
    starts.push(data.len());
    starts.windows(2).map(|w| &data[w[0]..w[1]]).collect()
}

fn ffmpeg_make(dir: &Path, name: &str, w: u32, h: u32, frames: u32, args: &[&str]) -> Result<Vec<u8>> {
    let out = dir.join(name);
    let size = format!("testsrc2=size={w}x{h}:rate=30");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", &size, "-frames:v", &frames.to_string()])
        .args(args)
        .arg(&out)
        .status()
        .context("running ffmpeg (install it: scripts/setup.sh)")?;
    if !st.success() {
        bail!("ffmpeg could not make the test frames");
    }
    Ok(std::fs::read(&out)?)
}

/// ffmpeg's own per-frame time (user CPU, one thread) for decoding/converting `input`.
fn ffmpeg_per_frame(input: &Path, input_args: &[&str], frames: usize) -> Result<f64> {
    let out = Command::new("ffmpeg")
        // -benchmark reports at the info level.
        .args(["-hide_banner", "-nostats", "-benchmark", "-threads", "1"])
        .args(input_args)
        .arg("-i")
        .arg(input)
        .args(["-threads", "1", "-pix_fmt", "rgba", "-f", "null", "-"])
        .output()
        .context("running ffmpeg")?;
    if !out.status.success() {
        bail!("ffmpeg failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let utime = text.split("utime=").nth(1).and_then(|s| s.split('s').next()).and_then(|s| s.parse::<f64>().ok()).context("ffmpeg printed no -benchmark figures")?;
    Ok(utime * 1000.0 / frames as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Mean ms per frame converting every frame once, the median of `runs` passes.
fn time_ours(format: PixelFormat, w: u32, h: u32, frames: &[&[u8]], jpeg: Jpeg, runs: usize) -> Result<f64> {
    let mut dst = vec![0u8; w as usize * h as usize * 4];
    let mut passes = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        for f in frames {
            to_rgba(format, w, h, f, &mut dst, jpeg)?;
        }
        passes.push(t.elapsed().as_secs_f64() * 1000.0 / frames.len() as f64);
    }
    Ok(median(passes))
}

pub fn camera(frames: u32, runs: usize, json: bool) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let mut rows = Vec::new();
    for (w, h) in [(1280u32, 720u32), (1920, 1080)] {
        let mjpeg = ffmpeg_make(tmp.path(), &format!("{w}.mjpeg"), w, h, frames, &["-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj422p", "-f", "mjpeg"])?;
        let jpegs = split_jpegs(&mjpeg);
        let turbo = time_ours(PixelFormat::Mjpeg, w, h, &jpegs, Jpeg::Turbo, runs)?;
        let zune = time_ours(PixelFormat::Mjpeg, w, h, &jpegs, Jpeg::Zune, runs)?;
        let peer = median((0..runs).map(|_| ffmpeg_per_frame(&tmp.path().join(format!("{w}.mjpeg")), &["-f", "mjpeg"], jpegs.len())).collect::<Result<Vec<_>>>()?);
        rows.push(serde_json::json!({
            "format": "MJPEG", "size": format!("{w}x{h}"), "frames": jpegs.len(),
            "turbo_ms": turbo, "zune_ms": zune, "ffmpeg_ms": peer,
            "reel_vs_ffmpeg": peer / turbo.min(zune),
        }));
        let yuyv = ffmpeg_make(tmp.path(), &format!("{w}.yuyv"), w, h, frames, &["-pix_fmt", "yuyv422", "-f", "rawvideo"])?;
        let frame_len = (w * h * 2) as usize;
        let raw: Vec<&[u8]> = yuyv.chunks_exact(frame_len).collect();
        let ours = time_ours(PixelFormat::Yuyv, w, h, &raw, Jpeg::default(), runs)?;
        let size = format!("{w}x{h}");
        let peer = median(
            (0..runs)
                .map(|_| ffmpeg_per_frame(&tmp.path().join(format!("{w}.yuyv")), &["-f", "rawvideo", "-pix_fmt", "yuyv422", "-s", &size], raw.len()))
                .collect::<Result<Vec<_>>>()?,
        );
        rows.push(serde_json::json!({
            "format": "YUYV", "size": size, "frames": raw.len(), "reel_ms": ours, "ffmpeg_ms": peer, "reel_vs_ffmpeg": peer / ours,
        }));
    }
    if json {
        println!("{}", serde_json::json!({"runs": runs, "rows": rows}));
    } else {
        println!("per-frame conversion to RGBA on one thread (median of {runs} runs; ffmpeg -threads 1, its own -benchmark utime)");
        for r in &rows {
            let f = |k: &str| r[k].as_f64().map(|x| format!("{x:.2}")).unwrap_or_default();
            if r["format"] == "MJPEG" {
                println!(
                    "  MJPEG {:>9}: libjpeg-turbo {} ms, zune-jpeg {} ms, ffmpeg {} ms  (reel {}x ffmpeg)",
                    r["size"].as_str().unwrap_or(""),
                    f("turbo_ms"),
                    f("zune_ms"),
                    f("ffmpeg_ms"),
                    f("reel_vs_ffmpeg")
                );
            } else {
                println!(
                    "  YUYV  {:>9}: reel {} ms, ffmpeg (swscale) {} ms  (reel {}x ffmpeg)",
                    r["size"].as_str().unwrap_or(""),
                    f("reel_ms"),
                    f("ffmpeg_ms"),
                    f("reel_vs_ffmpeg")
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mjpeg_streams_split_at_each_start_of_image() {
        let s = [0xFF, 0xD8, 0xFF, 1, 2, 0xFF, 0xD9, 0xFF, 0xD8, 0xFF, 3, 0xFF, 0xD9];
        let parts = split_jpegs(&s);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1], &[0xFF, 0xD8, 0xFF, 3, 0xFF, 0xD9]);
    }
}
