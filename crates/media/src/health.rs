//! Health counters of a recording: what was captured, composed, encoded, dropped or duplicated,
//! how deep the queues got, and how regular capture was. Every stage bumps its own counters
//! (relaxed atomics: these are statistics, not synchronisation); anyone may read a snapshot.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
pub struct Health {
    pub frames_captured: AtomicU64,
    pub frames_composed: AtomicU64,
    pub frames_encoded: AtomicU64,
    /// Frames thrown away: a full queue after its wait budget, or a late frame whose slot was
    /// already filled.
    pub frames_dropped: AtomicU64,
    /// Slots filled by repeating the previous frame because no new frame arrived in time.
    pub frames_duplicated: AtomicU64,
    pub audio_chunks: AtomicU64,
    /// Audio chunks thrown away because the audio queue stayed full past its budget.
    pub audio_chunks_dropped: AtomicU64,
    /// Silence inserted where the microphone delivered late or nothing (microseconds).
    pub audio_underrun_us: AtomicU64,
    /// Samples skipped where the microphone delivered more than the clock allows (microseconds).
    pub audio_overrun_us: AtomicU64,
    pub video_queue_max: AtomicU64,
    pub audio_queue_max: AtomicU64,
    /// Times the camera was lost (unplugged, failed, or silent for a second) while recording.
    pub camera_disconnects: AtomicU64,
    /// Frame slots filled with the "camera disconnected" card.
    pub camera_lost_frames: AtomicU64,
    /// The camera is gone right now (set by its device thread or by the video thread when it
    /// stops delivering; cleared when frames come again).
    pub camera_down: AtomicBool,
    /// Seconds of recording the disk still holds at the current rate, plus one (0: not known
    /// yet); see [`Health::set_disk_left`].
    disk_left_s: AtomicU64,
    /// The recording was stopped because the disk was nearly full.
    pub stopped_for_space: AtomicBool,
    /// Syncs of the partial file to disk (once a second), their total and longest time (µs):
    /// what durability costs on the live path (they run on a thread of their own).
    pub fsyncs: AtomicU64,
    pub fsync_us_total: AtomicU64,
    pub fsync_us_max: AtomicU64,
    /// Audio level of the last chunk, as f32 bits (RMS and peak, 0..1).
    level_rms: AtomicU64,
    level_peak: AtomicU64,
    /// Intervals between consecutive captured frames (µs), for jitter statistics.
    intervals_us: Mutex<Vec<u32>>,
}

impl Health {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn note_depth(counter: &AtomicU64, depth: usize) {
        counter.fetch_max(depth as u64, Relaxed);
    }

    /// How many seconds of recording the disk still holds at the current rate.
    pub fn set_disk_left(&self, seconds: u64) {
        self.disk_left_s.store(seconds.saturating_add(1), Relaxed);
    }

    pub fn set_level(&self, rms: f32, peak: f32) {
        self.level_rms.store(rms.to_bits() as u64, Relaxed);
        self.level_peak.store(peak.to_bits() as u64, Relaxed);
    }

    /// (rms, peak) of the most recent audio, each in 0..1.
    pub fn level(&self) -> (f32, f32) {
        (f32::from_bits(self.level_rms.load(Relaxed) as u32), f32::from_bits(self.level_peak.load(Relaxed) as u32))
    }

    pub fn note_interval(&self, d: Duration) {
        let us = d.as_micros().min(u32::MAX as u128) as u32;
        let mut v = self.intervals_us.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: one hour at 60 fps; later intervals are not kept.
        if v.len() < 216_000 {
            v.push(us);
        }
    }

    pub fn snapshot(&self, nominal_interval: Duration) -> HealthSnapshot {
        let nominal = nominal_interval.as_micros() as i64;
        let mut dev: Vec<u32> = self.intervals_us.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|&us| (us as i64 - nominal).unsigned_abs() as u32).collect();
        dev.sort_unstable();
        let p = |q: f64| -> f64 {
            if dev.is_empty() {
                return 0.0;
            }
            let i = ((dev.len() - 1) as f64 * q).round() as usize;
            dev[i] as f64 / 1000.0
        };
        let l = |c: &AtomicU64| c.load(Relaxed);
        HealthSnapshot {
            frames_captured: l(&self.frames_captured),
            frames_composed: l(&self.frames_composed),
            frames_encoded: l(&self.frames_encoded),
            frames_dropped: l(&self.frames_dropped),
            frames_duplicated: l(&self.frames_duplicated),
            audio_chunks: l(&self.audio_chunks),
            audio_chunks_dropped: l(&self.audio_chunks_dropped),
            audio_underrun_ms: l(&self.audio_underrun_us) as f64 / 1000.0,
            audio_overrun_ms: l(&self.audio_overrun_us) as f64 / 1000.0,
            video_queue_max: l(&self.video_queue_max),
            audio_queue_max: l(&self.audio_queue_max),
            capture_jitter_p50_ms: p(0.5),
            capture_jitter_p99_ms: p(0.99),
            capture_jitter_max_ms: p(1.0),
            camera_disconnects: l(&self.camera_disconnects),
            camera_lost_ms: (l(&self.camera_lost_frames) as f64 * nominal_interval.as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
            camera_down: self.camera_down.load(Relaxed),
            disk_left_s: match l(&self.disk_left_s) {
                0 => None,
                v => Some((v - 1) as f64),
            },
            stopped_for_space: self.stopped_for_space.load(Relaxed),
            fsyncs: l(&self.fsyncs),
            fsync_mean_ms: l(&self.fsync_us_total) as f64 / 1000.0 / l(&self.fsyncs).max(1) as f64,
            fsync_max_ms: l(&self.fsync_us_max) as f64 / 1000.0,
        }
    }
}

/// A point-in-time copy of [`Health`], serialisable for `--json` and the app.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct HealthSnapshot {
    pub frames_captured: u64,
    pub frames_composed: u64,
    pub frames_encoded: u64,
    pub frames_dropped: u64,
    pub frames_duplicated: u64,
    pub audio_chunks: u64,
    pub audio_chunks_dropped: u64,
    pub audio_underrun_ms: f64,
    pub audio_overrun_ms: f64,
    pub video_queue_max: u64,
    pub audio_queue_max: u64,
    /// Deviation of capture intervals from the nominal frame interval.
    pub capture_jitter_p50_ms: f64,
    pub capture_jitter_p99_ms: f64,
    pub capture_jitter_max_ms: f64,
    /// Times the camera was lost during the recording (see [`Health::camera_disconnects`]).
    #[serde(default)]
    pub camera_disconnects: u64,
    /// Recording time that shows the "camera disconnected" card instead of the camera.
    #[serde(default)]
    pub camera_lost_ms: f64,
    /// The camera is gone at the moment of the snapshot.
    #[serde(default)]
    pub camera_down: bool,
    /// Seconds of recording the disk still holds at the current rate, once known.
    #[serde(default)]
    pub disk_left_s: Option<f64>,
    /// The recording was stopped because the disk was nearly full.
    #[serde(default)]
    pub stopped_for_space: bool,
    /// Syncs of the partial file so far, and their mean and longest time.
    #[serde(default)]
    pub fsyncs: u64,
    #[serde(default)]
    pub fsync_mean_ms: f64,
    #[serde(default)]
    pub fsync_max_ms: f64,
}
