//! Decoding: a video file as a stream of RGBA frames of a chosen size (the file camera, imports,
//! thumbnails), and decoded audio as mono f32 (analysis).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ff::{decoder, format, frame, media, software, Packet, Rational};
use ffmpeg_next as ff;
use reel_media::{Size, VideoFrame};

use crate::{init, CodecError, Ctx};

/// Decodes the best video stream of a file (or a capture device) into RGBA frames, scaled to
/// `size` if one is given, else at their own size; stamped from zero.
pub struct VideoFileReader {
    path: PathBuf,
    ictx: format::context::Input,
    stream: usize,
    dec: decoder::Video,
    tb: Rational,
    scaler: Option<ScalerBox>,
    size: Option<Size>,
    /// The stream's start time: frames are stamped from it, so stamps survive seeking.
    start_pts: i64,
    eof_sent: bool,
    done: bool,
}

struct ScalerBox(software::scaling::Context);
// SAFETY: an SwsContext has no thread affinity; it is only ever moved, never shared.
unsafe impl Send for ScalerBox {}

impl VideoFileReader {
    pub fn open(path: &Path, size: Option<Size>) -> Result<Self, CodecError> {
        init();
        let open_err = |reason: String| CodecError::Open { path: path.to_path_buf(), reason };
        if !path.exists() {
            return Err(open_err("no such file".into()));
        }
        let ictx = format::input(path).map_err(|e| open_err(format!("not a video ffmpeg can read ({e})")))?;
        Self::from_input(path, ictx, size)
    }

    /// Captures an X11 screen (`:0`, `:99.0`, or `:0+100,200` for an offset) through ffmpeg's
    /// x11grab device, at `fps`, optionally only a `region` of it.
    pub fn open_screen(display: &str, fps: u32, region: Option<Size>) -> Result<Self, CodecError> {
        init();
        ff::device::register_all();
        let path = PathBuf::from(display);
        let open_err = |reason: String| CodecError::Open { path: path.clone(), reason };
        let fmt = ff::device::input::video()
            .find(|f| matches!(f, ff::Format::Input(i) if i.name() == "x11grab"))
            .ok_or_else(|| open_err("this ffmpeg has no x11grab device; install ffmpeg with X11 capture".into()))?;
        let mut opts = ff::Dictionary::new();
        opts.set("framerate", &fps.to_string());
        opts.set("draw_mouse", "1");
        if let Some(r) = region {
            opts.set("video_size", &format!("{}x{}", r.width, r.height));
        }
        let ictx = format::open_with(&path, &fmt, opts).map_err(|e| open_err(format!("cannot capture X display '{display}' ({e}); is an X server running there?")))?.input();
        Self::from_input(&path, ictx, None)
    }

    fn from_input(path: &Path, ictx: format::context::Input, size: Option<Size>) -> Result<Self, CodecError> {
        let open_err = |reason: String| CodecError::Open { path: path.to_path_buf(), reason };
        let st = ictx.streams().best(media::Type::Video).ok_or(CodecError::NoStream { path: path.to_path_buf(), kind: "video" })?;
        let stream = st.index();
        let tb = st.time_base();
        let start_pts = if st.start_time() == ff::ffi::AV_NOPTS_VALUE { 0 } else { st.start_time() };
        let mut ctx = ff::codec::context::Context::from_parameters(st.parameters()).map_err(|e| open_err(format!("cannot decode its video ({e})")))?;
        // Frame threads on every core, as the ffmpeg CLI does by default (the library's default
        // is one thread): exports and edits decode about twice as fast on 2 cores.
        ctx.set_threading(ff::codec::threading::Config { kind: ff::codec::threading::Type::Frame, count: 0, ..Default::default() });
        let dec = ctx.decoder().video().map_err(|e| open_err(format!("cannot decode its video ({e})")))?;
        Ok(Self { path: path.to_path_buf(), ictx, stream, dec, tb, scaler: None, size, start_pts, eof_sent: false, done: false })
    }

    /// The stream's start time in seconds (frames are stamped relative to it).
    pub fn first_pts_s(&self) -> f64 {
        self.start_pts as f64 * self.tb.numerator() as f64 / self.tb.denominator() as f64
    }

    /// Same as [`Self::first_pts_s`]; usable before the first frame is read.
    pub fn first_pts_s_hint(&self) -> f64 {
        self.first_pts_s()
    }

    /// Seeks to the keyframe at or before `secs` (stream time); decoding resumes there.
    pub fn seek(&mut self, secs: f64) -> Result<(), CodecError> {
        let ts = ((secs + self.first_pts_s()) * 1_000_000.0) as i64;
        self.ictx.seek(ts, ..ts).ctx(|| format!("seeking in {}", self.path.display()))?;
        self.dec.flush();
        self.eof_sent = false;
        self.done = false;
        Ok(())
    }

    fn convert(&mut self, f: &frame::Video) -> Result<VideoFrame, CodecError> {
        let (w, h) = self.size.map(|s| (s.width, s.height)).unwrap_or((f.width(), f.height()));
        let pts = f.timestamp().or(f.pts()).unwrap_or(self.start_pts);
        let secs = (pts - self.start_pts).max(0) as f64 * self.tb.numerator() as f64 / self.tb.denominator() as f64;
        let ts = Duration::from_secs_f64(secs);
        // The common case (H.264 4:2:0 at the size wanted) takes the SIMD converter; swscale
        // handles scaling and every other format.
        let yuv420 = matches!(f.format(), format::Pixel::YUV420P | format::Pixel::YUVJ420P);
        if yuv420 && (w, h) == (f.width(), f.height()) {
            // Zeroed by the allocator (fresh pages), not by a pass over 8 MB.
            let mut data = vec![0u8; w as usize * h as usize * 4];
            crate::yuv::yuv420_to_rgba(f, f.color_space() == ff::color::Space::BT709, full_range(f), &mut data)?;
            return Ok(VideoFrame { ts, width: w, height: h, data: Arc::new(data) });
        }
        if self.scaler.is_none() {
            let mut s = software::scaling::Context::get(f.format(), f.width(), f.height(), format::Pixel::RGBA, w, h, software::scaling::Flags::BILINEAR)
                .ctx(|| format!("creating a scaler for {}", self.path.display()))?;
            let name = f.format().descriptor().map(|d| d.name().to_string()).unwrap_or_default();
            let is_yuv = ["yuv", "nv", "yuyv", "uyvy", "p01"].iter().any(|p| name.starts_with(p));
            if is_yuv {
                crate::set_colorspace(&mut s, false, f.color_space() == ff::color::Space::BT709, full_range(f));
            }
            self.scaler = Some(ScalerBox(s));
        }
        let mut out = frame::Video::new(format::Pixel::RGBA, w, h);
        if let Some(s) = self.scaler.as_mut() {
            s.0.run(f, &mut out).ctx(|| format!("scaling a frame of {}", self.path.display()))?;
        }
        let stride = out.stride(0);
        let row = w as usize * 4;
        let mut data = Vec::with_capacity(row * h as usize);
        for y in 0..h as usize {
            data.extend_from_slice(&out.data(0)[y * stride..y * stride + row]);
        }
        Ok(VideoFrame { ts, width: w, height: h, data: Arc::new(data) })
    }
}

impl Iterator for VideoFileReader {
    type Item = Result<VideoFrame, CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut decoded = frame::Video::empty();
        loop {
            if self.done {
                return None;
            }
            if self.dec.receive_frame(&mut decoded).is_ok() {
                return Some(self.convert(&decoded));
            }
            if self.eof_sent {
                self.done = true;
                return None;
            }
            let mut p = Packet::empty();
            match p.read(&mut self.ictx) {
                Ok(()) if p.stream() == self.stream => {
                    if let Err(e) = self.dec.send_packet(&p) {
                        // One corrupt packet is not the end of the file.
                        if matches!(e, ff::Error::InvalidData) {
                            continue;
                        }
                        self.done = true;
                        return Some(Err(CodecError::Ffmpeg { what: format!("decoding {}", self.path.display()), source: e }));
                    }
                }
                Ok(()) => {}
                Err(ff::Error::Other { errno: ff::util::error::EAGAIN }) => {}
                Err(_) => {
                    let _ = self.dec.send_eof();
                    self.eof_sent = true;
                }
            }
        }
    }
}

/// Appends the mono mix (the mean of the channels) of a decoded frame to `out`, from any
/// sample format, packed (interleaved) or planar, with any number of channels: 8-bit unsigned,
/// 16/32/64-bit signed (24-bit audio arrives as 32), 32/64-bit float. Read from the frame's
/// bytes with their lengths checked, never indexed past them.
pub(crate) fn mix_to_mono(f: &frame::Audio, out: &mut Vec<f32>) -> Result<(), String> {
    use format::sample::Type;
    use format::Sample as S;
    let (kind, layout) = match f.format() {
        S::U8(t) => (0, t),
        S::I16(t) => (1, t),
        S::I32(t) => (2, t),
        S::I64(t) => (3, t),
        S::F32(t) => (4, t),
        S::F64(t) => (5, t),
        S::None => return Err("the audio has no sample format".into()),
    };
    let width = [1usize, 2, 4, 8, 4, 8][kind];
    let read = |b: &[u8]| -> f32 {
        match kind {
            0 => (b[0] as f32 - 128.0) / 128.0,
            1 => i16::from_ne_bytes([b[0], b[1]]) as f32 / 32768.0,
            2 => (i32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as f64 / 2_147_483_648.0) as f32,
            3 => (i64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f64 / 9_223_372_036_854_775_808.0) as f32,
            4 => f32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            _ => f64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32,
        }
    };
    let ch = (f.channels() as usize).max(1);
    let n = f.samples();
    let scale = 1.0 / ch as f32;
    match layout {
        Type::Packed => {
            let d = f.data(0);
            if d.len() < n * ch * width {
                return Err(format!("an audio frame holds {} bytes, not the {} its {n} samples need", d.len(), n * ch * width));
            }
            out.extend(d[..n * ch * width].chunks_exact(ch * width).map(|frame| frame.chunks_exact(width).map(read).sum::<f32>() * scale));
        }
        Type::Planar => {
            if f.planes() < ch {
                return Err(format!("an audio frame has {} planes for {ch} channels", f.planes()));
            }
            let base = out.len();
            out.resize(base + n, 0.0);
            for c in 0..ch {
                let d = f.data(c);
                if d.len() < n * width {
                    return Err(format!("an audio plane holds {} bytes, not the {} its {n} samples need", d.len(), n * width));
                }
                for (o, b) in out[base..].iter_mut().zip(d[..n * width].chunks_exact(width)) {
                    *o += read(b) * scale;
                }
            }
        }
    }
    Ok(())
}

/// Decodes the best audio stream to mono f32 at its own rate: (samples, rate, start time of the
/// first sample in seconds).
pub fn decode_audio_mono(path: &Path) -> Result<(Vec<f32>, u32, f64), CodecError> {
    init();
    let mut ictx = format::input(path).map_err(|e| CodecError::Open { path: path.to_path_buf(), reason: e.to_string() })?;
    let st = ictx.streams().best(media::Type::Audio).ok_or(CodecError::NoStream { path: path.to_path_buf(), kind: "audio" })?;
    let idx = st.index();
    let tb = st.time_base();
    let mut dec =
        ff::codec::context::Context::from_parameters(st.parameters()).and_then(|c| c.decoder().audio()).ctx(|| format!("opening the audio decoder for {}", path.display()))?;
    let mut out = Vec::new();
    let mut start: Option<f64> = None;
    let mut rate = 0;
    let mut f = frame::Audio::empty();
    let take = |f: &frame::Audio, out: &mut Vec<f32>, start: &mut Option<f64>, rate: &mut u32| -> Result<(), CodecError> {
        *rate = f.rate();
        if start.is_none() {
            let pts = f.timestamp().or(f.pts()).unwrap_or(0);
            *start = Some(pts as f64 * tb.numerator() as f64 / tb.denominator() as f64);
        }
        mix_to_mono(f, out).map_err(|reason| CodecError::Invalid { path: path.to_path_buf(), reason })
    };
    loop {
        let mut p = Packet::empty();
        match p.read(&mut ictx) {
            Ok(()) if p.stream() == idx => {
                if dec.send_packet(&p).is_ok() {
                    while dec.receive_frame(&mut f).is_ok() {
                        take(&f, &mut out, &mut start, &mut rate)?;
                    }
                }
            }
            Ok(()) => {}
            Err(ff::Error::Other { errno: ff::util::error::EAGAIN }) => {}
            Err(_) => break,
        }
    }
    let _ = dec.send_eof();
    while dec.receive_frame(&mut f).is_ok() {
        take(&f, &mut out, &mut start, &mut rate)?;
    }
    Ok((out, rate, start.unwrap_or(0.0)))
}

/// Streams the best audio stream of a file as mono f32 at 48 kHz, a decoded frame at a time:
/// every sample format and channel layout goes through swresample (its downmix, its
/// resampler), so memory stays bounded however long the file is. Times are the file's own
/// (presentation time in seconds, as the video frames' are), so audio that starts after the
/// picture stays where it is; a jump in the stamps (a gap in the recording) is followed.
pub struct AudioReader {
    path: PathBuf,
    ictx: format::context::Input,
    stream: usize,
    tb: Rational,
    dec: decoder::Audio,
    /// (input format, layout, rate) it was made for, and the context.
    swr: Option<((format::Sample, u64, u32), ResamplerBox)>,
    /// The stream's start (seconds), the origin of the times given out.
    origin: Option<f64>,
    /// Time of the next output sample, once known.
    cursor: Option<f64>,
    eof: bool,
    flushed: bool,
    /// Samples per second given out.
    rate: u32,
}

struct ResamplerBox(software::resampling::Context);
// SAFETY: a SwrContext has no thread affinity; it is only ever moved, never shared.
unsafe impl Send for ResamplerBox {}

impl AudioReader {
    pub fn open(path: &Path) -> Result<Self, CodecError> {
        Self::open_at(path, reel_media::AUDIO_RATE)
    }

    /// As [`AudioReader::open`], giving out `rate` samples a second (16 kHz for speech to text).
    pub fn open_at(path: &Path, rate: u32) -> Result<Self, CodecError> {
        init();
        let ictx = format::input(path).map_err(|e| CodecError::Open { path: path.to_path_buf(), reason: e.to_string() })?;
        let st = ictx.streams().best(media::Type::Audio).ok_or(CodecError::NoStream { path: path.to_path_buf(), kind: "audio" })?;
        let stream = st.index();
        let tb = st.time_base();
        let origin = (st.start_time() != ff::ffi::AV_NOPTS_VALUE).then(|| st.start_time() as f64 * tb.numerator() as f64 / tb.denominator() as f64);
        let dec =
            ff::codec::context::Context::from_parameters(st.parameters()).and_then(|c| c.decoder().audio()).ctx(|| format!("opening the audio decoder for {}", path.display()))?;
        Ok(Self { path: path.to_path_buf(), ictx, stream, tb, dec, swr: None, origin, cursor: None, eof: false, flushed: false, rate: rate.max(1) })
    }

    /// Seeks to at or before `secs` (file time); samples before it may follow.
    pub fn seek(&mut self, secs: f64) -> Result<(), CodecError> {
        let ts = (secs.max(0.0) * 1_000_000.0) as i64;
        self.ictx.seek(ts, ..ts).ctx(|| format!("seeking in {}", self.path.display()))?;
        self.dec.flush();
        // What the resampler still held belongs to the old position.
        self.swr = None;
        self.cursor = None;
        self.eof = false;
        self.flushed = false;
        Ok(())
    }

    fn secs(&self, pts: i64) -> f64 {
        pts as f64 * self.tb.numerator() as f64 / self.tb.denominator() as f64
    }

    /// Converts one decoded frame to mono 48 kHz.
    fn convert(&mut self, f: &mut frame::Audio) -> Result<(f64, Vec<f32>), CodecError> {
        let channels = f.channels().max(1);
        if f.channel_layout().is_empty() {
            f.set_channel_layout(ff::ChannelLayout::default(channels as i32));
        }
        let key = (f.format(), f.channel_layout().bits(), f.rate());
        if self.swr.as_ref().is_none_or(|(k, _)| *k != key) {
            let packed = format::Sample::F32(format::sample::Type::Packed);
            let ctx = software::resampling::Context::get(f.format(), f.channel_layout(), f.rate(), packed, ff::ChannelLayout::MONO, self.rate)
                .ctx(|| format!("converting the audio of {} ({} channels at {} Hz)", self.path.display(), channels, f.rate()))?;
            self.swr = Some((key, ResamplerBox(ctx)));
        }
        let pts = f.timestamp().or(f.pts()).map(|p| self.secs(p));
        let origin = *self.origin.get_or_insert(pts.unwrap_or(0.0));
        // Counted on from the previous frame, unless the stamps say the stream jumped.
        let at = match (self.cursor, pts) {
            (Some(c), Some(p)) if (p - c).abs() > 0.02 => p,
            (Some(c), _) => c,
            (None, Some(p)) => p,
            (None, None) => origin,
        };
        let cap = f.samples() * self.rate as usize / f.rate().max(1) as usize + 256;
        let mut out = frame::Audio::new(format::Sample::F32(format::sample::Type::Packed), cap, ff::ChannelLayout::MONO);
        out.set_rate(self.rate);
        if let Some((_, s)) = self.swr.as_mut() {
            s.0.run(f, &mut out).ctx(|| format!("converting the audio of {}", self.path.display()))?;
        }
        let n = out.samples();
        let samples = out.plane::<f32>(0)[..n].to_vec();
        self.cursor = Some(at + n as f64 / self.rate as f64);
        Ok((at, samples))
    }

    /// The next run of samples: (its time, mono 48 kHz samples), or `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<(f64, Vec<f32>)>, CodecError> {
        let mut f = frame::Audio::empty();
        loop {
            if self.dec.receive_frame(&mut f).is_ok() {
                return self.convert(&mut f).map(Some);
            }
            if self.eof {
                if self.flushed {
                    return Ok(None);
                }
                self.flushed = true;
                // What the resampler still holds.
                let Some((_, s)) = self.swr.as_mut() else { return Ok(None) };
                let mut out = frame::Audio::new(format::Sample::F32(format::sample::Type::Packed), 4096, ff::ChannelLayout::MONO);
                out.set_rate(self.rate);
                if s.0.flush(&mut out).is_err() {
                    return Ok(None);
                }
                let n = out.samples();
                let at = self.cursor.unwrap_or(0.0);
                return Ok((n > 0).then(|| (at, out.plane::<f32>(0)[..n].to_vec())));
            }
            let mut p = Packet::empty();
            match p.read(&mut self.ictx) {
                Ok(()) if p.stream() == self.stream => {
                    // One corrupt packet is not the end of the file.
                    let _ = self.dec.send_packet(&p);
                }
                Ok(()) => {}
                Err(ff::Error::Other { errno: ff::util::error::EAGAIN }) => {}
                Err(_) => {
                    let _ = self.dec.send_eof();
                    self.eof = true;
                }
            }
        }
    }
}

/// Whether a decoded frame uses the full 0–255 range (JPEG-style) rather than video's 16–235.
fn full_range(f: &frame::Video) -> bool {
    matches!(f.format(), format::Pixel::YUVJ420P | format::Pixel::YUVJ422P | format::Pixel::YUVJ444P) || f.color_range() == ff::color::Range::JPEG
}

#[cfg(test)]
mod mono_tests {
    use super::*;
    use ff::ChannelLayout;
    use format::sample::Type;

    fn frame(fmt: format::Sample, layout: ChannelLayout, samples: usize) -> frame::Audio {
        init();
        frame::Audio::new(fmt, samples, layout)
    }

    #[test]
    fn every_sample_format_packed_or_planar_mixes_to_the_mean_of_its_channels() {
        // Packed stereo s16: L = 0.5, R = -0.25 → 0.125; the panic of old was here.
        let mut f = frame(format::Sample::I16(Type::Packed), ChannelLayout::STEREO, 3);
        for b in f.data_mut(0).chunks_exact_mut(4).take(3) {
            b[..2].copy_from_slice(&16384i16.to_ne_bytes());
            b[2..].copy_from_slice(&(-8192i16).to_ne_bytes());
        }
        let mut out = Vec::new();
        mix_to_mono(&f, &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|v| (v - 0.125).abs() < 1e-4), "{out:?}");
        // Planar float 5.1: every channel 0.6 → 0.6.
        let mut f = frame(format::Sample::F32(Type::Planar), ChannelLayout::_5POINT1, 4);
        for c in 0..6 {
            for b in f.data_mut(c).chunks_exact_mut(4).take(4) {
                b.copy_from_slice(&0.6f32.to_ne_bytes());
            }
        }
        let mut out = vec![9.0];
        mix_to_mono(&f, &mut out).unwrap();
        assert_eq!(out.len(), 5, "appended after what was there");
        assert!(out[1..].iter().all(|v| (v - 0.6).abs() < 1e-5), "{out:?}");
        // 24-bit audio as 32-bit packed stereo, mono u8 and packed f64.
        let mut f = frame(format::Sample::I32(Type::Packed), ChannelLayout::STEREO, 2);
        for b in f.data_mut(0).chunks_exact_mut(4).take(4) {
            b.copy_from_slice(&(1i32 << 30).to_ne_bytes());
        }
        let mut out = Vec::new();
        mix_to_mono(&f, &mut out).unwrap();
        assert!(out.iter().all(|v| (v - 0.5).abs() < 1e-5), "{out:?}");
        let mut f = frame(format::Sample::U8(Type::Packed), ChannelLayout::MONO, 2);
        f.data_mut(0)[..2].copy_from_slice(&[192, 64]);
        let mut out = Vec::new();
        mix_to_mono(&f, &mut out).unwrap();
        assert_eq!(out, [0.5, -0.5]);
        let mut f = frame(format::Sample::F64(Type::Packed), ChannelLayout::STEREO, 1);
        f.data_mut(0)[..8].copy_from_slice(&1.0f64.to_ne_bytes());
        f.data_mut(0)[8..16].copy_from_slice(&0.0f64.to_ne_bytes());
        let mut out = Vec::new();
        mix_to_mono(&f, &mut out).unwrap();
        assert_eq!(out, [0.5]);
    }
}
