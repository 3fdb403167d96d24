//! Microphones through cpal.
//!
//! cpal's own PulseAudio host is preferred where a PulseAudio (or PipeWire-Pulse) server runs:
//! it takes 48 kHz mono f32 directly and, with a fixed 960-frame buffer, delivers its first data
//! at once (with the default buffer the first data came after about two seconds). Otherwise the
//! default host (ALSA) is used with the device's own format and a larger buffer, and the encoder
//! converts.
//!
//! Timing: a chunk delivered at instant `i` was captured during the `len / rate` before it, so
//! it is stamped `media_time_of(i - len / rate)`. The recorder aligns audio to those stamps, so
//! a device whose crystal runs slightly fast or slow cannot drift away from the video.
//!
//! The data callback never blocks: a full queue drops the chunk and counts it.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use reel_media::{AudioChunk, Clock, AUDIO_RATE};

use crate::{CaptureError, Out};

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct MicInfo {
    /// Human name (what `--mic NAME` matches).
    pub name: String,
    /// The host's stable id.
    pub id: String,
    pub host: String,
    pub is_default: bool,
    /// A loopback of an output ("Monitor of …" in PulseAudio): records what the speakers
    /// play, not a voice. Listed last and never picked by default.
    #[serde(default)]
    pub is_monitor: bool,
}

/// PulseAudio (and PipeWire-Pulse) names a sink's loopback source `SINK.monitor` and describes
/// it as "Monitor of …"; cpal exposes only the name and the description.
fn is_monitor(id: &str, name: &str) -> bool {
    id.ends_with(".monitor") || name.starts_with("Monitor of ")
}

/// The order people pick from: the system default first (unless it is a monitor), then the
/// other microphones, then monitors.
fn rank(m: &MicInfo) -> u8 {
    match (m.is_monitor, m.is_default) {
        (false, true) => 0,
        (false, false) => 1,
        (true, _) => 2,
    }
}

fn hosts() -> Vec<cpal::Host> {
    let mut hosts = Vec::new();
    #[cfg(target_os = "linux")]
    if let Ok(h) = cpal::host_from_id(cpal::HostId::PulseAudio) {
        hosts.push(h);
    }
    if hosts.is_empty() {
        hosts.push(cpal::default_host());
    }
    hosts
}

/// ALSA lists its conversion plugins as "devices"; none of them is a microphone.
fn is_alsa_plugin(id: &str) -> bool {
    const PLUGINS: &[&str] = &["null", "lavrate", "samplerate", "speexrate", "jack", "oss", "speex", "upmix", "vdownmix", "dmix"];
    id.strip_prefix("alsa:").is_some_and(|pcm| PLUGINS.contains(&pcm))
}

/// Lists input devices of the preferred audio host. No audio system is an empty list.
pub fn list_mics() -> Vec<MicInfo> {
    let mut out = Vec::new();
    for host in hosts() {
        let default_id = host.default_input_device().and_then(|d| d.id().ok()).map(|id| id.to_string());
        let Ok(devices) = host.input_devices() else {
            continue;
        };
        for d in devices {
            let id = d.id().map(|i| i.to_string()).unwrap_or_default();
            if is_alsa_plugin(&id) {
                continue;
            }
            let name = d.to_string();
            out.push(MicInfo { is_default: Some(&id) == default_id.as_ref(), is_monitor: is_monitor(&id, &name), name, id, host: format!("{:?}", host.id()) });
        }
    }
    out.sort_by_key(rank);
    out
}

fn find_device(wanted: Option<&str>) -> Result<(cpal::Host, cpal::Device), CaptureError> {
    let mut available = Vec::new();
    for host in hosts() {
        match wanted {
            None => {
                // The system default, unless it is a speaker monitor (PulseAudio makes one the
                // default when no microphone is plugged in): then the first real microphone.
                if let Some(d) = host.default_input_device() {
                    let id = d.id().map(|i| i.to_string()).unwrap_or_default();
                    if !is_monitor(&id, &d.to_string()) {
                        return Ok((host, d));
                    }
                    let real = host.input_devices().ok().and_then(|mut ds| {
                        ds.find(|x| {
                            let xid = x.id().map(|i| i.to_string()).unwrap_or_default();
                            !is_alsa_plugin(&xid) && !is_monitor(&xid, &x.to_string())
                        })
                    });
                    return Ok((host, real.unwrap_or(d)));
                }
            }
            Some(w) => {
                let w = w.to_lowercase();
                if let Ok(devices) = host.input_devices() {
                    for d in devices {
                        let name = d.to_string();
                        let id = d.id().map(|i| i.to_string()).unwrap_or_default();
                        if is_alsa_plugin(&id) {
                            continue;
                        }
                        if name.to_lowercase().contains(&w) || id.to_lowercase().contains(&w) {
                            return Ok((host, d));
                        }
                        available.push(name);
                    }
                }
            }
        }
    }
    Err(CaptureError::NoMic { wanted: wanted.map(str::to_string), available })
}

/// What was opened.
#[derive(Clone, Debug)]
pub struct MicOpened {
    pub name: String,
    pub rate: u32,
    pub channels: u16,
}

/// Opens the microphone (`None`: the default one) and delivers stamped chunks until the clock
/// stops. Returns once the stream runs, or with the error that prevented it.
pub fn spawn(wanted: Option<String>, clock: Clock, out: Out<AudioChunk>) -> Result<(JoinHandle<()>, MicOpened), CaptureError> {
    let (ready_tx, ready_rx) = mpsc::channel::<Result<MicOpened, CaptureError>>();
    let handle = std::thread::Builder::new()
        .name("reel-mic".into())
        .spawn(move || {
            let stream = match open(wanted.as_deref(), clock.clone(), out) {
                Ok((stream, opened)) => {
                    let _ = ready_tx.send(Ok(opened));
                    stream
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            // The stream lives on this thread (cpal streams are not `Send` everywhere) until
            // the recording stops.
            clock.wait_stopped();
            drop(stream);
        })
        .map_err(|e| CaptureError::Thread(e.to_string()))?;
    match ready_rx.recv() {
        Ok(Ok(opened)) => Ok((handle, opened)),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => Err(CaptureError::MicOpen { name: "?".into(), reason: "the microphone thread ended while opening".into() }),
    }
}

fn open(wanted: Option<&str>, clock: Clock, out: Out<AudioChunk>) -> Result<(cpal::Stream, MicOpened), CaptureError> {
    let (host, device) = find_device(wanted)?;
    let name = device.to_string();
    let err = |e: cpal::Error| CaptureError::MicOpen { name: name.clone(), reason: e.to_string() };
    let pulse = format!("{:?}", host.id()) == "PulseAudio";
    let config = if pulse {
        cpal::StreamConfig { channels: 1, sample_rate: AUDIO_RATE, buffer_size: cpal::BufferSize::Fixed(960) }
    } else {
        let def = device.default_input_config().map_err(err)?;
        cpal::StreamConfig { channels: def.channels(), sample_rate: def.sample_rate(), buffer_size: cpal::BufferSize::Fixed(4800) }
    };
    let (rate, channels) = (config.sample_rate, config.channels);
    let on_error = {
        let name = name.clone();
        move |e: cpal::Error| eprintln!("microphone '{name}': {e}")
    };
    let deliver = move |samples: &[f32]| {
        let at = Instant::now();
        let (rms, peak) = crate::level(samples);
        out.health().set_level(rms, peak);
        let frames = samples.len() / channels.max(1) as usize;
        let span = Duration::from_secs_f64(frames as f64 / rate as f64);
        let Some(ts) = clock.media_time_of(at.checked_sub(span).unwrap_or(at)) else {
            return;
        };
        out.push(AudioChunk { ts, rate, channels, samples: samples.to_vec() });
    };
    let stream = {
        let deliver = deliver.clone();
        device.build_input_stream::<f32, _, _>(config, move |data, _| deliver(data), on_error.clone(), Some(Duration::from_secs(5)))
    };
    let stream = match stream {
        Ok(s) => s,
        // Devices that cannot give f32 (some raw ALSA hardware) can give i16.
        Err(_) => device
            .build_input_stream::<i16, _, _>(
                config,
                move |data, _| {
                    let f: Vec<f32> = data.iter().map(|&s| s as f32 / 32768.0).collect();
                    deliver(&f)
                },
                on_error,
                Some(Duration::from_secs(5)),
            )
            .map_err(err)?,
    };
    stream.play().map_err(err)?;
    Ok((stream, MicOpened { name, rate, channels }))
}

/// A microphone opened only for its level: the recorder's meter before a take, so a silent or
/// wrong microphone is seen before recording. Its chunks go to a one-slot queue nobody reads
/// (dropped at once, as a device callback must never wait); the level is taken before that.
/// Closed when dropped.
pub struct LevelMeter {
    clock: Clock,
    health: std::sync::Arc<reel_media::Health>,
    thread: Option<JoinHandle<()>>,
    _queue: crossbeam_channel::Receiver<AudioChunk>,
    pub opened: MicOpened,
}

impl LevelMeter {
    pub fn open(wanted: Option<String>) -> Result<LevelMeter, CaptureError> {
        let clock = Clock::new(reel_media::ClockMode::Realtime);
        clock.start();
        let health = std::sync::Arc::new(reel_media::Health::default());
        let (tx, rx) = crossbeam_channel::bounded(1);
        let (thread, opened) = spawn(wanted, clock.clone(), Out::new(tx, Some(Duration::ZERO), health.clone()))?;
        Ok(LevelMeter { clock, health, thread: Some(thread), _queue: rx, opened })
    }

    /// (rms, peak) of the latest audio, each 0..1.
    pub fn level(&self) -> (f32, f32) {
        self.health.level()
    }
}

impl Drop for LevelMeter {
    fn drop(&mut self) {
        self.clock.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitors_are_recognised_and_ranked_last() {
        assert!(is_monitor("alsa_output.pci.analog-stereo.monitor", "Monitor of Built-in Audio"));
        assert!(is_monitor("x", "Monitor of Speakers"));
        assert!(!is_monitor("alsa_input.usb-mic", "USB Microphone"));
        let m = |name: &str, is_default, is_monitor| MicInfo { name: name.into(), id: name.into(), host: "PulseAudio".into(), is_default, is_monitor };
        let mut v = [m("Monitor of Speakers", false, true), m("Webcam mic", false, false), m("Headset", true, false)];
        v.sort_by_key(rank);
        let names: Vec<&str> = v.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["Headset", "Webcam mic", "Monitor of Speakers"]);
    }

    #[test]
    fn unknown_mic_is_a_clear_error() {
        let err = find_device(Some("no-such-microphone-xyz")).err().expect("no such mic").to_string();
        assert!(err.contains("no microphone found matching 'no-such-microphone-xyz'"), "{err}");
        assert!(err.contains("pick another microphone, or record without sound"), "{err}");
        assert!(!err.contains("--"), "the core names no command-line flag (the CLI adds them): {err}");
    }
}
