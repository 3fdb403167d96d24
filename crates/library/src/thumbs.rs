//! Pictures of a recording: a JPEG poster and an animated GIF of its first seconds (for chat and
//! e-mail embeds, kept under 1 MB).

use std::path::Path;

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbaImage};
use reel_codec::decode::VideoFileReader;
use reel_media::Size;

use crate::LibraryError;

pub const PREVIEW_MAX_BYTES: usize = 1024 * 1024;

fn even_size(w: u32, h: u32, max_w: u32) -> Size {
    let w2 = w.min(max_w).max(16) & !1;
    let h2 = ((h as u64 * w2 as u64 / w.max(1) as u64) as u32).max(16) & !1;
    Size { width: w2, height: h2 }
}

/// Writes `poster.jpg`: the frame at `at` seconds (or the last one before it), at most 1280 wide.
pub fn poster(video: &Path, at: f64, out: &Path, width: u32, height: u32) -> Result<(), LibraryError> {
    let size = even_size(width, height, 1280);
    let mut reader = VideoFileReader::open(video, Some(size))?;
    let mut chosen = None;
    for f in reader.by_ref() {
        let f = f?;
        let t = f.ts.as_secs_f64();
        chosen = Some(f);
        if t >= at {
            break;
        }
    }
    let f = chosen.ok_or_else(|| LibraryError::Media(format!("{} has no frames", video.display())))?;
    let img = RgbaImage::from_raw(f.width, f.height, f.data.to_vec()).ok_or_else(|| LibraryError::Media("frame size".into()))?;
    let rgb = image::DynamicImage::ImageRgba8(img).into_rgb8();
    save_jpeg(&rgb, out)
}

/// Encodes `rgb` as JPEG into `out`, durably.
fn save_jpeg(rgb: &image::RgbImage, out: &Path) -> Result<(), LibraryError> {
    let mut bytes = Vec::new();
    rgb.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Jpeg).map_err(|e| LibraryError::Media(e.to_string()))?;
    reel_media::durable::write(out, &bytes).map_err(|e| LibraryError::io(out, e))
}

/// Writes `preview.gif`: the first `seconds` at a few frames a second, small enough for embeds.
pub fn preview(video: &Path, seconds: f64, out: &Path, width: u32, height: u32) -> Result<(), LibraryError> {
    // Try smaller and sparser until it fits in 1 MB.
    for (max_w, fps) in [(320u32, 8.0f64), (240, 6.0), (160, 5.0)] {
        let size = even_size(width, height, max_w);
        let bytes = render_gif(video, seconds, fps, size)?;
        if bytes.len() <= PREVIEW_MAX_BYTES {
            reel_media::durable::write(out, &bytes).map_err(|e| LibraryError::io(out, e))?;
            return Ok(());
        }
    }
    Err(LibraryError::Media("the animated preview does not fit in 1 MB".into()))
}

fn render_gif(video: &Path, seconds: f64, fps: f64, size: Size) -> Result<Vec<u8>, LibraryError> {
    let reader = VideoFileReader::open(video, Some(size))?;
    let mut buf = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut buf, 20);
        enc.set_repeat(Repeat::Infinite).map_err(|e| LibraryError::Media(e.to_string()))?;
        let step = 1.0 / fps;
        let mut next = 0.0;
        for f in reader {
            let f = f?;
            let t = f.ts.as_secs_f64();
            if t >= seconds {
                break;
            }
            if t + 1e-6 < next {
                continue;
            }
            next += step;
            let img = RgbaImage::from_raw(f.width, f.height, f.data.to_vec()).ok_or_else(|| LibraryError::Media("frame size".into()))?;
            let frame = Frame::from_parts(img, 0, 0, Delay::from_numer_denom_ms((step * 1000.0) as u32, 1));
            enc.encode_frame(frame).map_err(|e| LibraryError::Media(e.to_string()))?;
        }
    }
    Ok(buf)
}

/// Writes `strip.jpg`: `n` frames spread evenly over the video, side by side, each 160 px wide
/// (the editor's timeline). One decoding pass at the small size.
pub fn filmstrip(video: &Path, duration_s: f64, n: u32, out: &Path, width: u32, height: u32) -> Result<(), LibraryError> {
    let n = n.clamp(1, 40);
    let size = even_size(width, height, 160);
    let mut strip = RgbaImage::new(size.width * n, size.height);
    let mut next = 0u32;
    let mut last = None;
    for f in VideoFileReader::open(video, Some(size))? {
        let f = f?;
        // Frame i shows the middle of the i-th of n equal parts.
        while next < n && f.ts.as_secs_f64() >= duration_s * (next as f64 + 0.5) / n as f64 {
            let img = RgbaImage::from_raw(f.width, f.height, f.data.to_vec()).ok_or_else(|| LibraryError::Media("frame size".into()))?;
            image::imageops::replace(&mut strip, &img, (next * size.width) as i64, 0);
            next += 1;
        }
        last = Some(f);
    }
    // A short video may end before the last slot: repeat its last frame.
    if let Some(f) = last {
        let img = RgbaImage::from_raw(f.width, f.height, f.data.to_vec()).ok_or_else(|| LibraryError::Media("frame size".into()))?;
        while next < n {
            image::imageops::replace(&mut strip, &img, (next * size.width) as i64, 0);
            next += 1;
        }
    }
    let rgb = image::DynamicImage::ImageRgba8(strip).into_rgb8();
    // Two jobs on one recording (a reopen right after a trim) never share a temp file.
    save_jpeg(&rgb, out)
}
