//! The two pipeline threads behind a recording.
//!
//! ```text
//!  video source ──[frames, 8, wait ≤ 2 frame periods then drop]──> VIDEO THREAD
//!      place each frame in its constant-frame-rate slot (late: drop; gap: repeat last)
//!      compose ─> swscale + libx264 ──[packets, 64, lossless]──┐
//!                                                             ├─> MUX THREAD ─> fragmented MP4
//!  audio source ──[chunks, 256, never waits in a callback]────┘    align audio to the clock:
//!                                                                  silence for gaps, skip overlaps
//! ```
//! A live camera that is unplugged (flagged by its device thread) or silent for a second shows
//! its last picture dimmed under "Camera disconnected" in the slots it misses, counted in the
//! health counters; the recording goes on, and the camera's frames take over again when it
//! comes back.
//!
//! Stop is a drain: the clock stops, sources finish and drop their senders, each thread empties
//! its queue, the video encoder is flushed, the muxer writes its last fragment and closes the
//! file. Only then does the recorder remux the file into its final form.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::Ordering::Relaxed;

use crossbeam_channel::{never, select, Receiver, RecvTimeoutError, Sender};
use reel_codec::{EncodedPacket, Mp4Writer, VideoEncoder};
use reel_compose::{Compositor, Deck, Scene};
use reel_media::{AudioChunk, Clock, ClockMode, Fps, Health, VideoFrame, Wait, AUDIO_RATE};

use crate::stage::{EventLog, StageCommand, TimelineEvent};
use crate::RecordError;

pub(crate) enum VideoMsg {
    Packets(Vec<EncodedPacket>),
    /// The video stream is complete: this many constant-rate slots were encoded.
    End {
        slots: u64,
    },
}

/// A live camera silent for this long (of recording time) counts as disconnected: its card is
/// shown and the health counters say so. The device thread flags an unplug at once; this
/// catches cameras that just stop sending.
const STALL: Duration = Duration::from_secs(1);

/// The camera's last picture dimmed under "Camera disconnected" (see `reel_compose::text`).
fn lost_card(last: Option<&VideoFrame>, ts: Duration) -> VideoFrame {
    let (size, px) = reel_compose::text::camera_lost_card(last.map(|f| (f.data.as_slice(), f.size())));
    VideoFrame { ts, width: size.width, height: size.height, data: Arc::new(px) }
}

/// Audio is corrected only when it is off the clock by more than this: device buffers make
/// stamps wobble by a few milliseconds, which is not drift.
const AUDIO_TOLERANCE: Duration = Duration::from_millis(20);

pub(crate) struct VideoStage {
    pub fps: Fps,
    pub clock: Clock,
    pub health: Arc<Health>,
    pub until: Option<Duration>,
    pub compositor: Compositor,
    pub encoder: VideoEncoder,
    /// `None`: no camera; slots are produced on the clock with the stage alone.
    pub input: Option<Receiver<VideoFrame>>,
    pub out: Sender<VideoMsg>,
    pub scene: Scene,
    pub deck: Option<Arc<Deck>>,
    pub screen: Option<Receiver<VideoFrame>>,
    pub commands: Receiver<(Duration, StageCommand)>,
    pub events: EventLog,
}

/// What the video thread keeps between slots.
struct Live {
    slide: usize,
    /// The slide's pixels last shown.
    slide_px: Option<Arc<Vec<u8>>>,
    screen: Option<VideoFrame>,
    pending: VecDeque<(Duration, StageCommand)>,
    started: bool,
}

impl VideoStage {
    pub fn run(mut self) -> Result<(), RecordError> {
        let mut live = Live { slide: 0, slide_px: None, screen: None, pending: VecDeque::new(), started: false };
        let mut next: u64 = 0;
        let mut last: Option<VideoFrame> = None;
        let end_slot = |until: Option<Duration>, fps: Fps| until.map(|u| fps.slot_of(u));
        match self.input.take() {
            Some(rx) => {
                // While the camera is gone: its "camera disconnected" card, made once per outage.
                let mut lost: Option<VideoFrame> = None;
                // Media time of the last frame that arrived: a live camera that sends nothing
                // while the clock runs on for STALL is as good as unplugged.
                let mut heard = self.clock.elapsed();
                let live_clock = self.clock.mode() == ClockMode::Realtime;
                loop {
                    let frame = match rx.recv_timeout(self.fps.period()) {
                        Ok(f) => f,
                        Err(RecvTimeoutError::Disconnected) => break,
                        Err(RecvTimeoutError::Timeout) => {
                            let now = self.clock.elapsed();
                            let flagged = self.health.camera_down.load(Relaxed);
                            // Only once the take runs: a camera lost during a countdown is the
                            // preview's business, not this recording's.
                            if !live_clock || !self.clock.is_started() || self.clock.is_stopped() || !(flagged || now.saturating_sub(heard) > STALL) {
                                continue;
                            }
                            let card = match &lost {
                                Some(c) => c.clone(),
                                None => {
                                    let c = lost_card(last.as_ref(), now);
                                    Health::add(&self.health.camera_disconnects, 1);
                                    self.health.camera_down.store(true, Relaxed);
                                    lost = Some(c.clone());
                                    last = Some(c.clone());
                                    c
                                }
                            };
                            let upto = end_slot(self.until, self.fps).unwrap_or(u64::MAX).min(self.fps.slot_of(now));
                            while next < upto {
                                self.emit(&mut live, next, Some(&card))?;
                                Health::add(&self.health.camera_lost_frames, 1);
                                next += 1;
                            }
                            continue;
                        }
                    };
                    heard = frame.ts;
                    let back = lost.take().is_some();
                    if back {
                        self.health.camera_down.store(false, Relaxed);
                    }
                    Health::note_depth(&self.health.video_queue_max, rx.len());
                    if self.until.is_some_and(|u| frame.ts >= u) {
                        continue;
                    }
                    let slot = self.fps.slot_of(frame.ts);
                    if slot < next {
                        // Its slot is already encoded: a late or doubled frame (or, the first
                        // one back from an outage, a slot the card already filled).
                        if !back {
                            Health::add(&self.health.frames_dropped, 1);
                        }
                        continue;
                    }
                    while next < slot {
                        // No frame for this slot: hold the previous picture (or, before the
                        // first frame, show the first one early).
                        let hold = last.as_ref().unwrap_or(&frame).clone();
                        self.emit(&mut live, next, Some(&hold))?;
                        Health::add(&self.health.frames_duplicated, 1);
                        next += 1;
                    }
                    self.emit(&mut live, slot, Some(&frame))?;
                    next = slot + 1;
                    last = Some(frame);
                }
                // A camera that stopped delivering long before the end: hold its last picture
                // up to the end of the recording.
                let end = end_slot(self.until, self.fps).unwrap_or(u64::MAX).min(self.fps.slot_of(self.clock.elapsed()));
                if let Some(hold) = last.clone() {
                    if end > next + 2 {
                        while next < end {
                            self.emit(&mut live, next, Some(&hold))?;
                            Health::add(&self.health.frames_duplicated, 1);
                            next += 1;
                        }
                    }
                }
            }
            None => loop {
                if end_slot(self.until, self.fps).is_some_and(|e| next >= e) {
                    break;
                }
                if self.clock.wait_until(self.fps.slot_time(next)) == Wait::Stopped {
                    break;
                }
                self.emit(&mut live, next, None)?;
                next += 1;
            },
        }
        let tail = self.encoder.flush()?;
        let _ = self.out.send(VideoMsg::Packets(tail));
        let _ = self.out.send(VideoMsg::End { slots: next });
        Ok(())
    }

    fn slide_event(&self, t: f64, slide: usize) -> TimelineEvent {
        let title = self.deck.as_ref().map(|d| d.title(slide)).unwrap_or_default();
        TimelineEvent { t, action: "slide".into(), value: serde_json::json!({"slide": slide + 1, "title": title}) }
    }

    /// Applies every command given at or before media time `t`, logging what changed.
    fn apply_commands(&mut self, live: &mut Live, t: Duration) {
        let ts = t.as_secs_f64();
        if !live.started {
            live.started = true;
            let e = TimelineEvent { t: 0.0, action: "layout".into(), value: serde_json::json!(self.scene.layout) };
            self.events.write(&e);
            if self.deck.is_some() {
                let e = self.slide_event(0.0, 0);
                self.events.write(&e);
            }
        }
        live.pending.extend(self.commands.try_iter());
        while live.pending.front().is_some_and(|(at, _)| *at <= t) {
            let Some((_, cmd)) = live.pending.pop_front() else {
                break;
            };
            let slides = self.deck.as_ref().map_or(0, |d| d.len());
            let event = match cmd {
                StageCommand::Next | StageCommand::Prev | StageCommand::Goto(_) if slides > 0 => {
                    let to = match cmd {
                        StageCommand::Next => (live.slide + 1).min(slides - 1),
                        StageCommand::Prev => live.slide.saturating_sub(1),
                        StageCommand::Goto(n) => n.clamp(1, slides) - 1,
                        _ => live.slide,
                    };
                    if to == live.slide {
                        None
                    } else {
                        // The slide and its neighbours start decoding now, off this thread.
                        if let Some(d) = &self.deck {
                            d.prefetch(to);
                        }
                        live.slide = to;
                        Some(self.slide_event(ts, to))
                    }
                }
                StageCommand::Layout(l) if l != self.scene.layout => {
                    self.scene.layout = l;
                    Some(TimelineEvent { t: ts, action: "layout".into(), value: serde_json::json!(l) })
                }
                StageCommand::Camera(on) if on == self.scene.camera_off => {
                    self.scene.camera_off = !on;
                    Some(TimelineEvent { t: ts, action: "camera".into(), value: serde_json::json!(if on { "on" } else { "off" }) })
                }
                _ => None,
            };
            if let Some(e) = event {
                self.events.write(&e);
            }
        }
    }

    fn emit(&mut self, live: &mut Live, slot: u64, presenter: Option<&VideoFrame>) -> Result<(), RecordError> {
        let t = self.fps.slot_time(slot);
        self.apply_commands(live, t);
        if let Some(rx) = &self.screen {
            if let Some(f) = rx.try_iter().last() {
                live.screen = Some(f);
            }
        }
        let slide_frame;
        let stage = match (&self.deck, &live.screen) {
            (Some(d), _) => {
                let s = d.size;
                // A slide not decoded yet is not waited for: the one before stays up a frame or two.
                if let Some(px) = d.try_slide(live.slide) {
                    live.slide_px = Some(px);
                }
                slide_frame = live.slide_px.clone().map(|px| VideoFrame { ts: t, width: s.width, height: s.height, data: px });
                slide_frame.as_ref()
            }
            (None, Some(f)) => Some(f),
            (None, None) => None,
        };
        let picture = self.compositor.compose_picture(&self.scene, stage, presenter, t);
        Health::add(&self.health.frames_composed, 1);
        let packets = self.encoder.encode_picture(&picture, slot as i64)?;
        if !packets.is_empty() {
            self.out.send(VideoMsg::Packets(packets)).map_err(|_| RecordError::Pipeline("the muxer stopped".into()))?;
        }
        Ok(())
    }
}

pub(crate) struct MuxStage {
    pub writer: Mp4Writer,
    pub fps: Fps,
    pub health: Arc<Health>,
    pub until: Option<Duration>,
    pub video: Receiver<VideoMsg>,
    pub audio: Option<Receiver<AudioChunk>>,
}

impl MuxStage {
    pub fn run(mut self) -> Result<(), RecordError> {
        let mut video = Some(self.video.clone());
        let mut audio = self.audio.take();
        let mut slots = 0u64;
        let none_v = never::<VideoMsg>();
        let none_a = never::<AudioChunk>();
        while video.is_some() || audio.is_some() {
            select! {
                recv(video.as_ref().unwrap_or(&none_v)) -> m => match m {
                    Ok(VideoMsg::Packets(p)) => {
                        Health::add(&self.health.frames_encoded, p.len() as u64);
                        self.writer.write_video(p)?;
                    }
                    Ok(VideoMsg::End { slots: s }) => { slots = s; video = None; }
                    Err(_) => video = None,
                },
                recv(audio.as_ref().unwrap_or(&none_a)) -> c => match c {
                    Ok(chunk) => self.write_chunk(chunk)?,
                    Err(_) => audio = None,
                },
            }
        }
        // Audio as long as the video: a microphone that went quiet is silence, not a short track.
        if self.writer.has_audio() {
            let video_samples = slots * AUDIO_RATE as u64 / self.fps.get() as u64;
            let have = self.writer.audio_samples();
            if video_samples > have + AUDIO_RATE as u64 / 50 {
                let n = video_samples - have;
                Health::add(&self.health.audio_underrun_us, n * 1_000_000 / AUDIO_RATE as u64);
                self.writer.write_silence(n as usize)?;
            }
        }
        self.writer.finish(Vec::new())?;
        Ok(())
    }

    fn write_chunk(&mut self, mut chunk: AudioChunk) -> Result<(), RecordError> {
        if let Some(u) = self.until {
            if chunk.ts >= u {
                return Ok(());
            }
            let keep = ((u - chunk.ts).as_secs_f64() * chunk.rate as f64) as usize * chunk.channels as usize;
            chunk.samples.truncate(keep.min(chunk.samples.len()));
        }
        let have = Duration::from_nanos(self.writer.audio_samples() * 1_000_000_000 / AUDIO_RATE as u64);
        if chunk.ts > have + AUDIO_TOLERANCE {
            // The device delivered late or lost data: keep the timeline with silence.
            let gap = chunk.ts - have;
            let n = (gap.as_nanos() * AUDIO_RATE as u128 / 1_000_000_000) as usize;
            Health::add(&self.health.audio_underrun_us, gap.as_micros() as u64);
            self.writer.write_silence(n)?;
        } else if chunk.ts + AUDIO_TOLERANCE < have {
            // The device runs ahead of the clock: skip what would overlap.
            let over = have - chunk.ts;
            let frames = ((over.as_secs_f64() * chunk.rate as f64) as usize).min(chunk.frames());
            Health::add(&self.health.audio_overrun_us, over.as_micros() as u64);
            chunk.samples.drain(..frames * chunk.channels as usize);
        }
        if !chunk.samples.is_empty() {
            self.writer.write_audio(&chunk.samples, chunk.rate, chunk.channels)?;
        }
        Ok(())
    }
}
