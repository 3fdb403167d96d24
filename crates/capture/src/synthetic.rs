//! The synthetic camera: a moving pattern with the frame number and media time burned in, and a
//! sync flash: the whole frame is white for 100 ms starting at every whole second (1 s, 2 s, …).
//! No other frame is mostly white (the pattern stays below mid-grey on average), so a checker
//! can find the flashes in an encoded file and compare them with the tone's beeps.
//!
//! Frame `n` is made when media time reaches `n / fps` and stamped exactly `n / fps`, like a
//! camera that exposes and delivers on time. If the thread falls behind (a starved CPU), it
//! skips the frames it missed rather than delivering them late, and counts them as dropped.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reel_media::{Clock, Fps, Health, Size, VideoFrame, Wait};

use crate::{CaptureError, Out, Pushed};

/// Is frame time `t` inside a sync flash? `[k, k + 100 ms)` for every whole second k ≥ 1.
pub fn is_flash(t: Duration) -> bool {
    t >= Duration::from_secs(1) && t.subsec_millis() < 100
}

pub struct Pattern {
    size: Size,
    /// A background twice as wide as the frame; each frame copies a sliding window of it.
    background: Vec<u8>,
}

impl Pattern {
    pub fn new(size: Size) -> Self {
        let (w, h) = (size.width as usize, size.height as usize);
        let bw = w * 2;
        let mut background = vec![0u8; bw * h * 4];
        for y in 0..h {
            for x in 0..bw {
                // Diagonal colour bands, all dark enough that the mean stays far from white.
                let band = ((x + y) / (w / 8).max(1)) % 6;
                let (r, g, b) = [(40, 60, 140), (30, 110, 90), (120, 50, 90), (60, 60, 60), (20, 90, 130), (110, 90, 30)][band];
                let shade = (y * 40 / h.max(1)) as u8;
                let i = (y * bw + x) * 4;
                background[i..i + 4].copy_from_slice(&[r + shade, g + shade, b + shade, 255]);
            }
        }
        Self { size, background }
    }

    /// Draws frame `n` at media time `t` into `out` (RGBA, `size` pixels).
    pub fn draw(&self, n: u64, t: Duration, out: &mut [u8]) {
        let (w, h) = (self.size.width as usize, self.size.height as usize);
        if is_flash(t) {
            out.fill(255);
            return;
        }
        let bw = w * 2;
        let shift = (n as usize * 4) % w;
        for y in 0..h {
            let src = (y * bw + shift) * 4;
            out[y * w * 4..(y + 1) * w * 4].copy_from_slice(&self.background[src..src + w * 4]);
        }
        // A box that moves one way per second and back, so motion is visible in any still.
        let side = (h / 6).max(4);
        let phase = (t.as_millis() % 2000) as usize;
        let travel = w.saturating_sub(side);
        let bx = if phase < 1000 { travel * phase / 1000 } else { travel * (2000 - phase) / 1000 };
        let by = h / 2 - side / 2;
        fill_rect(out, w, bx, by, side, side, [230, 120, 40, 255]);
        // Burned-in frame number and time (seconds with milliseconds).
        let scale = (h / 90).max(1);
        let text = format!("{n:06} {}.{:03}", t.as_secs(), t.subsec_millis());
        let (tx, ty) = (scale * 4, scale * 4);
        fill_rect(out, w, tx - scale * 2, ty - scale * 2, (text.len() * 4 + 3) * scale, 9 * scale, [0, 0, 0, 255]);
        draw_text(out, w, tx, ty, scale, &text, [240, 240, 240, 255]);
    }
}

fn fill_rect(out: &mut [u8], w: usize, x: usize, y: usize, rw: usize, rh: usize, c: [u8; 4]) {
    let h = out.len() / (w * 4);
    for yy in y..(y + rh).min(h) {
        for xx in x..(x + rw).min(w) {
            let i = (yy * w + xx) * 4;
            out[i..i + 4].copy_from_slice(&c);
        }
    }
}

/// 3x5 glyphs for digits, '.', ':' and ' ' (one row a nibble, top bit first).
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        ':' => [0, 2, 0, 2, 0],
        _ => [0; 5],
    }
}

fn draw_text(out: &mut [u8], w: usize, x: usize, y: usize, scale: usize, text: &str, c: [u8; 4]) {
    for (i, ch) in text.chars().enumerate() {
        let g = glyph(ch);
        for (row, bits) in g.iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) != 0 {
                    let px = x + (i * 4 + col) * scale;
                    fill_rect(out, w, px, y + row * scale, scale, scale, c);
                }
            }
        }
    }
}

/// Starts the synthetic camera on its own thread. It stops when the clock stops, when media
/// time reaches `until`, or when the consumer goes away.
pub fn spawn(size: Size, fps: Fps, clock: Clock, out: Out<VideoFrame>, until: Option<Duration>) -> Result<JoinHandle<()>, CaptureError> {
    std::thread::Builder::new().name("reel-synthetic-camera".into()).spawn(move || run(size, fps, clock, out, until)).map_err(|e| CaptureError::Thread(e.to_string()))
}

fn run(size: Size, fps: Fps, clock: Clock, out: Out<VideoFrame>, until: Option<Duration>) {
    let pattern = Pattern::new(size);
    let health: Arc<Health> = out.health().clone();
    let mut n: u64 = 0;
    let mut last_wake: Option<Instant> = None;
    loop {
        let t = fps.slot_time(n);
        if until.is_some_and(|u| t >= u) {
            return;
        }
        match clock.wait_until(t) {
            Wait::Stopped => return,
            Wait::Reached(late) if late >= fps.period() => {
                // Fell behind by a whole frame or more: skip to the present, count the loss.
                let now = t + late;
                let skip_to = fps.slot_of(now).max(n + 1);
                Health::add(&health.frames_dropped, skip_to - n);
                n = skip_to;
                last_wake = None;
                continue;
            }
            Wait::Reached(_) => {}
        }
        let woke = Instant::now();
        if let Some(prev) = last_wake {
            health.note_interval(woke - prev);
        }
        last_wake = Some(woke);
        let mut data = vec![0u8; size.pixels() * 4];
        pattern.draw(n, t, &mut data);
        let frame = VideoFrame { ts: t, width: size.width, height: size.height, data: Arc::new(data) };
        if out.push(frame) == Pushed::Closed {
            return;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean(buf: &[u8]) -> f64 {
        buf.chunks(4).map(|p| (p[0] as u64 + p[1] as u64 + p[2] as u64) as f64 / 3.0).sum::<f64>() / (buf.len() / 4) as f64
    }

    #[test]
    fn flashes_only_at_whole_seconds() {
        let size = Size::new(320, 180).unwrap();
        let p = Pattern::new(size);
        let fps = Fps::new(30).unwrap();
        let mut buf = vec![0u8; size.pixels() * 4];
        let mut white = vec![];
        for n in 0..95 {
            let t = fps.slot_time(n);
            p.draw(n, t, &mut buf);
            let m = mean(&buf);
            if m > 200.0 {
                white.push(n);
            } else {
                assert!(m < 150.0, "frame {n} is too bright: {m}");
            }
        }
        assert_eq!(white, vec![30, 31, 32, 60, 61, 62, 90, 91, 92]);
    }

    #[test]
    fn consecutive_frames_differ() {
        let size = Size::new(320, 180).unwrap();
        let p = Pattern::new(size);
        let (mut a, mut b) = (vec![0u8; size.pixels() * 4], vec![0u8; size.pixels() * 4]);
        p.draw(3, Duration::from_millis(100), &mut a);
        p.draw(4, Duration::from_millis(133), &mut b);
        assert_ne!(a, b);
    }
}
