//! Finds the synthetic sync signal in an encoded file: white flashes in the video and 1 kHz
//! beeps in the audio, both of which start at every whole second of the recording. The offset
//! between each flash and its beep is the A/V sync error. Used by tests and `reel bench`.

use std::path::Path;

use reel_media::Size;

use crate::decode::{decode_audio_mono, VideoFileReader};
use crate::CodecError;

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SyncReport {
    /// Start of each run of white frames (seconds, presentation time).
    pub flashes_s: Vec<f64>,
    /// Onset of each beep (seconds).
    pub beeps_s: Vec<f64>,
    /// beep − flash for each flash that has a beep within half a second (seconds).
    pub offsets_s: Vec<f64>,
    /// Largest |offset| (seconds).
    pub max_abs_offset_s: f64,
    pub frames: u64,
}

pub fn sync_report(path: &Path) -> Result<SyncReport, CodecError> {
    // Small frames are plenty to tell white from pattern, and decode fast.
    let mut reader = VideoFileReader::open(path, Some(Size { width: 64, height: 36 }))?;
    let mut flashes = Vec::new();
    let mut prev_white = false;
    let mut frames = 0u64;
    while let Some(f) = reader.next() {
        let f = f?;
        frames += 1;
        let mean = f.data.chunks_exact(4).map(|p| (p[0] as u32 + p[1] as u32 + p[2] as u32) as f64 / 3.0).sum::<f64>() / (f.data.len() / 4) as f64;
        let white = mean > 200.0;
        if white && !prev_white {
            flashes.push(reader.first_pts_s() + f.ts.as_secs_f64());
        }
        prev_white = white;
    }
    let (samples, rate, start) = decode_audio_mono(path)?;
    let beeps = beep_onsets(&samples, rate).into_iter().map(|i| start + i as f64 / rate as f64).collect::<Vec<_>>();
    let mut offsets = Vec::new();
    for &f in &flashes {
        if let Some(b) = beeps.iter().copied().min_by(|a, b| (a - f).abs().total_cmp(&(b - f).abs())) {
            if (b - f).abs() < 0.5 {
                offsets.push(b - f);
            }
        }
    }
    let max_abs_offset_s = offsets.iter().fold(0.0f64, |m, o| m.max(o.abs()));
    Ok(SyncReport { flashes_s: flashes, beeps_s: beeps, offsets_s: offsets, max_abs_offset_s, frames })
}

/// Sample indices where a loud stretch begins after at least 50 ms of quiet. The onset is
/// placed where the envelope first crosses a small threshold, refined back to the first sample
/// that rises above the noise floor.
pub fn beep_onsets(samples: &[f32], rate: u32) -> Vec<usize> {
    let quiet_needed = rate as usize / 20;
    let mut onsets = Vec::new();
    let mut quiet_run = quiet_needed;
    for (i, &s) in samples.iter().enumerate() {
        if s.abs() > 0.05 {
            if quiet_run >= quiet_needed {
                // Walk back over the rising edge (the sine starts at zero phase).
                let mut j = i;
                while j > 0 && samples[j - 1].abs() > 0.002 && i - j < rate as usize / 1000 {
                    j -= 1;
                }
                onsets.push(j);
            }
            quiet_run = 0;
        } else {
            quiet_run += 1;
        }
    }
    onsets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onsets_of_two_bursts() {
        let rate = 48_000;
        let mut s = vec![0.0f32; rate * 3];
        for start in [rate, 2 * rate] {
            for i in 0..4800 {
                s[start + i] = 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin();
            }
        }
        let on = beep_onsets(&s, rate as u32);
        assert_eq!(on.len(), 2);
        assert!(on[0].abs_diff(rate) <= 2 && on[1].abs_diff(2 * rate) <= 2, "{on:?}");
    }
}
