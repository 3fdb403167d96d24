//! Whisper's input: the log-mel spectrogram of a 30 s window, computed as Whisper's own
//! reference does (periodic Hann window of 400 samples, hop 160, centred frames with reflected
//! edges, power spectrum, Slaney mel filters, log10, clamped to 8 below the window's maximum,
//! scaled to about ±1), padded with silence to 3000 frames.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
/// Frames in a 30 s window.
const FRAMES: usize = 3000;

pub struct Mel {
    pub n_mels: usize,
    /// n_mels × (N_FFT/2 + 1), row-major.
    filters: Vec<f32>,
    window: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
}

impl Mel {
    pub fn new(n_mels: usize) -> Mel {
        let f = mel_spec::mel::mel(super::RATE as f64, N_FFT, n_mels, None, None, false, true);
        let filters = f.iter().map(|&v| v as f32).collect();
        let window = (0..N_FFT).map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos()) as f32).collect();
        let fft = FftPlanner::new().plan_fft_forward(N_FFT);
        Mel { n_mels, filters, window, fft }
    }

    /// Features of up to 30 s of samples: n_mels × 3000, row-major (one row per mel band).
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let n = samples.len().min(FRAMES * HOP);
        let bins = N_FFT / 2 + 1;
        // The window padded with silence to 30 s, then reflected by N_FFT/2 at both ends.
        let total = FRAMES * HOP;
        let half = N_FFT / 2;
        let at = |i: isize| -> f32 {
            // Index into the zero-padded signal of length `total`, reflected at its edges.
            let len = total as isize;
            let j = if i < 0 {
                -i
            } else if i >= len {
                2 * (len - 1) - i
            } else {
                i
            };
            let j = j as usize;
            if j < n {
                samples[j]
            } else {
                0.0
            }
        };
        let mut out = vec![0f32; self.n_mels * FRAMES];
        let mut buf = vec![Complex::new(0f32, 0f32); N_FFT];
        let mut scratch = vec![Complex::new(0f32, 0f32); self.fft.get_inplace_scratch_len()];
        let mut power = vec![0f32; bins];
        // Frames past the samples' end (plus the window's reach) are silence: their power is 0.
        let live = (n + half).div_ceil(HOP).min(FRAMES);
        for t in 0..live {
            let start = (t * HOP) as isize - half as isize;
            for (k, c) in buf.iter_mut().enumerate() {
                *c = Complex::new(at(start + k as isize) * self.window[k], 0.0);
            }
            self.fft.process_with_scratch(&mut buf, &mut scratch);
            for (p, c) in power.iter_mut().zip(&buf[..bins]) {
                *p = c.norm_sqr();
            }
            for m in 0..self.n_mels {
                let row = &self.filters[m * bins..(m + 1) * bins];
                let e: f32 = row.iter().zip(&power).map(|(a, b)| a * b).sum();
                out[m * FRAMES + t] = e.max(1e-10).log10();
            }
        }
        for m in 0..self.n_mels {
            for t in live..FRAMES {
                out[m * FRAMES + t] = -10.0;
            }
        }
        let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for v in &mut out {
            *v = (v.max(max - 8.0) + 4.0) / 4.0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_lights_its_band_and_silence_is_the_floor() {
        let m = Mel::new(80);
        let tone: Vec<f32> = (0..16_000).map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin() * 0.5).collect();
        let f = m.compute(&tone);
        assert_eq!(f.len(), 80 * FRAMES);
        // Frame 50 (0.5 s): the loudest band is the one around 1 kHz, well above the floor.
        let col: Vec<f32> = (0..80).map(|b| f[b * FRAMES + 50]).collect();
        let (band, &top) = col.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).expect("bands");
        assert!((25..45).contains(&band), "band {band}");
        let floor = f[FRAMES - 1];
        assert!(top - floor > 1.5, "{top} vs {floor}");
        assert!(f.iter().all(|v| v.is_finite()));
    }
}
