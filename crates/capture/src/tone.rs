//! The synthetic microphone: silence with a 1 kHz beep of 100 ms starting exactly at every whole
//! second of media time (1 s, 2 s, …), the audio half of the synthetic camera's sync flash.
//!
//! It delivers 10 ms chunks (48 kHz mono) when media time reaches the end of each chunk, as a
//! real device does, and stamps each with the media time of its first sample. The waveform is a
//! function of the sample's position on the media timeline, so a beep always starts on a whole
//! second however the thread is scheduled.

use std::thread::JoinHandle;
use std::time::Duration;

use reel_media::{AudioChunk, Clock, Wait, AUDIO_RATE};

use crate::{CaptureError, Out, Pushed};

pub const CHUNK_FRAMES: u64 = 480;
pub const BEEP_HZ: f64 = 1000.0;
pub const AMPLITUDE: f32 = 0.5;

/// Sample value at absolute sample position `s` (48 kHz).
pub fn sample_at(s: u64) -> f32 {
    let rate = AUDIO_RATE as u64;
    if s >= rate && s % rate < rate / 10 {
        let t = s as f64 / rate as f64;
        AMPLITUDE * (2.0 * std::f64::consts::PI * BEEP_HZ * t).sin() as f32
    } else {
        0.0
    }
}

pub fn spawn(clock: Clock, out: Out<AudioChunk>, until: Option<Duration>) -> Result<JoinHandle<()>, CaptureError> {
    std::thread::Builder::new().name("reel-tone".into()).spawn(move || run(clock, out, until)).map_err(|e| CaptureError::Thread(e.to_string()))
}

fn run(clock: Clock, out: Out<AudioChunk>, until: Option<Duration>) {
    let rate = AUDIO_RATE as u64;
    let limit = until.map(|u| (u.as_nanos() * rate as u128 / 1_000_000_000) as u64);
    let mut pos: u64 = 0;
    loop {
        let len = match limit {
            Some(l) if pos >= l => return,
            Some(l) => CHUNK_FRAMES.min(l - pos),
            None => CHUNK_FRAMES,
        };
        let end = Duration::from_nanos((pos + len) * 1_000_000_000 / rate);
        if clock.wait_until(end) == Wait::Stopped {
            return;
        }
        let samples: Vec<f32> = (pos..pos + len).map(sample_at).collect();
        let (rms, peak) = crate::level(&samples);
        out.health().set_level(rms, peak);
        let chunk = AudioChunk { ts: Duration::from_nanos(pos * 1_000_000_000 / rate), rate: AUDIO_RATE, channels: 1, samples };
        if out.push(chunk) == Pushed::Closed {
            return;
        }
        pos += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beeps_start_on_whole_seconds() {
        assert_eq!(sample_at(47_999), 0.0, "silent before the first second");
        assert!((sample_at(48_012) - AMPLITUDE).abs() < 1e-3, "a quarter period in, the sine peaks");
        assert!(sample_at(48_000 + 4_790).abs() > 0.0);
        assert_eq!(sample_at(48_000 + 4_800), 0.0, "beep lasts 100 ms");
        assert_eq!(sample_at(12), 0.0, "no beep at time zero");
        assert!((sample_at(96_012) - AMPLITUDE).abs() < 1e-3);
    }
}
