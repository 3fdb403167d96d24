//! Turns any iterator of timed frames (a decoded file, a slide show) into a camera-like source:
//! each frame is delivered when media time reaches its timestamp and stamped with it. When the
//! iterator ends it starts over (a looped demo camera) if it can be restarted.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reel_media::{Clock, Fps, VideoFrame, Wait};

use crate::{CaptureError, Out, Pushed};

/// A restartable supply of frames: `open()` gives a fresh pass, frames stamped from zero.
pub trait FrameSupply: Send + 'static {
    type Iter: Iterator<Item = Result<VideoFrame, String>> + Send;
    fn open(&mut self) -> Result<Self::Iter, String>;
    fn name(&self) -> String;
}

/// Starts the source. Errors while reading end the source (the recorder then repeats the last
/// frame); they are reported through `on_error`.
pub fn spawn<S: FrameSupply>(
    mut supply: S,
    fps: Fps,
    clock: Clock,
    out: Out<VideoFrame>,
    until: Option<Duration>,
    on_error: impl Fn(String) + Send + 'static,
) -> Result<JoinHandle<()>, CaptureError> {
    let mut first = supply.open().map_err(|reason| CaptureError::CameraOpen { name: supply.name(), reason })?;
    std::thread::Builder::new()
        .name("reel-paced-source".into())
        .spawn(move || {
            let mut base = Duration::ZERO;
            let mut n_in_pass = 0u64;
            let mut last_wake: Option<Instant> = None;
            let mut last_ts = Duration::ZERO;
            loop {
                let next = match first.next() {
                    Some(Ok(f)) => f,
                    Some(Err(e)) => return on_error(e),
                    None if n_in_pass == 0 => return on_error(format!("{} has no frames", supply.name())),
                    None => {
                        // Loop: the next pass starts one frame after the last one.
                        base = last_ts + fps.period();
                        n_in_pass = 0;
                        match supply.open() {
                            Ok(it) => first = it,
                            Err(e) => return on_error(e),
                        }
                        continue;
                    }
                };
                n_in_pass += 1;
                let ts = base + next.ts;
                last_ts = ts;
                if until.is_some_and(|u| ts >= u) {
                    return;
                }
                match clock.wait_until(ts) {
                    Wait::Stopped => return,
                    Wait::Reached(late) if late > fps.period() * 2 => continue, // fell behind: skip
                    Wait::Reached(_) => {}
                }
                let woke = Instant::now();
                if let Some(prev) = last_wake {
                    out.health().note_interval(woke - prev);
                }
                last_wake = Some(woke);
                let frame = VideoFrame { ts, data: Arc::clone(&next.data), ..next };
                if out.push(frame) == Pushed::Closed {
                    return;
                }
            }
        })
        .map_err(|e| CaptureError::Thread(e.to_string()))
}
