//! Live encoding into fragmented MP4.
//!
//! Split in two so that the expensive part runs on its own thread: [`VideoEncoder`] converts
//! RGBA to YUV and runs libx264, producing [`EncodedPacket`]s; [`Mp4Writer`] owns the muxer and
//! the (cheap) AAC encoder and interleaves both streams into the file.

use std::path::{Path, PathBuf};

use ff::{codec, encoder, format, frame, software, ChannelLayout, Dictionary, Packet, Rational};
use ffmpeg_next as ff;
use reel_media::{Fps, Picture, Size, VideoFrame, AUDIO_RATE};

use crate::{init, yuv, CodecError, Ctx, Preset};

#[derive(Clone, Debug)]
pub struct WriterSettings {
    pub size: Size,
    pub fps: Fps,
    pub audio: bool,
    pub preset: Preset,
    /// Fragmented (crash-safe, for live recording) or plain with the index first.
    pub fragmented: bool,
}

/// An encoded video packet on its way from the encoder thread to the muxer.
pub struct EncodedPacket(Packet);

/// RGBA → YUV 4:2:0 → H.264.
pub struct VideoEncoder {
    enc: encoder::video::Encoder,
    conv: ToYuv,
    time_base: Rational,
}

/// Composed pictures into the encoder's YUV 4:2:0 frame: a base of the output size through
/// yuvutils-rs, a base of another size through swscale (which scales while it converts), then
/// the patch over it.
pub struct ToYuv {
    yuv: frame::Video,
    size: Size,
    /// Separate for base and patch, so neither is reshaped (and zeroed) every frame.
    planes: yuv::Planes,
    patch_planes: yuv::Planes,
    scaled: Option<ScaledInput>,
    swscale_only: bool,
}

struct ScaledInput {
    from: Size,
    sws: Scaler,
    rgba: frame::Video,
}

/// swscale's context is plain data owned by one thread at a time; ffmpeg-next only lacks the
/// marker. It is created on one thread and moved with its encoder to the video thread.
struct Scaler(software::scaling::Context);
// SAFETY: an SwsContext has no thread affinity; it is never shared, only moved.
unsafe impl Send for Scaler {}

impl ToYuv {
    pub fn new(size: Size) -> Self {
        ToYuv {
            yuv: frame::Video::new(format::Pixel::YUV420P, size.width, size.height),
            size,
            planes: Default::default(),
            patch_planes: Default::default(),
            scaled: None,
            swscale_only: false,
        }
    }

    /// The same conversion with swscale for every base, as it was done before: a peer for
    /// `reel bench compose`.
    pub fn swscale_only(size: Size) -> Self {
        ToYuv { swscale_only: true, ..Self::new(size) }
    }

    /// Converts `p` into the frame the encoder sends next.
    pub fn convert(&mut self, p: &Picture) -> Result<(), CodecError> {
        self.convert_base(&p.base)?;
        if let Some(patch) = &p.patch {
            let f = &patch.frame;
            let fits = patch.x.checked_add(f.width).is_some_and(|r| r <= self.size.width) && patch.y.checked_add(f.height).is_some_and(|b| b <= self.size.height);
            let even = (patch.x | patch.y | f.width | f.height) % 2 == 0;
            if !fits || !even || f.width == 0 || f.height == 0 {
                return Err(CodecError::Invalid {
                    path: PathBuf::new(),
                    reason: format!("a {}x{} patch at {},{} does not fit evenly on {}", f.width, f.height, patch.x, patch.y, self.size),
                });
            }
            self.patch_planes.convert_rgba(&f.data, f.width, f.height)?;
            self.patch_planes.place(&mut self.yuv, patch.x, patch.y);
        }
        Ok(())
    }

    fn convert_base(&mut self, f: &VideoFrame) -> Result<(), CodecError> {
        if f.width == 0 || f.height == 0 || f.data.len() != f.size().pixels() * 4 {
            return Err(CodecError::Invalid { path: PathBuf::new(), reason: format!("a {}x{} frame with {} bytes of pixels", f.width, f.height, f.data.len()) });
        }
        // The encoder may still hold a reference to the previous picture.
        // SAFETY: `yuv` is a valid, allocated frame owned by us.
        let writable = unsafe { ff::ffi::av_frame_make_writable(self.yuv.as_mut_ptr()) };
        if writable < 0 {
            return Err(CodecError::Ffmpeg { what: "making the video frame writable".into(), source: ff::Error::from(writable) });
        }
        if f.size() == self.size && !self.swscale_only {
            self.planes.convert_rgba(&f.data, f.width, f.height)?;
            self.planes.place(&mut self.yuv, 0, 0);
            return Ok(());
        }
        let from = f.size();
        let s = match &mut self.scaled {
            Some(s) if s.from == from => s,
            slot => {
                let (w, h) = (self.size.width, self.size.height);
                let mut ctx = software::scaling::Context::get(format::Pixel::RGBA, from.width, from.height, format::Pixel::YUV420P, w, h, software::scaling::Flags::BILINEAR)
                    .ctx(|| format!("creating a scaler from {from} to {}", self.size))?;
                crate::set_colorspace(&mut ctx, true, true, false);
                slot.insert(ScaledInput { from, sws: Scaler(ctx), rgba: frame::Video::new(format::Pixel::RGBA, from.width, from.height) })
            }
        };
        // Copy rows into the RGBA frame (its stride may be padded).
        let stride = s.rgba.stride(0);
        let row = from.width as usize * 4;
        let dst = s.rgba.data_mut(0);
        for (y, src) in f.data.chunks_exact(row).enumerate() {
            dst[y * stride..y * stride + row].copy_from_slice(src);
        }
        s.sws.0.run(&s.rgba, &mut self.yuv).ctx(|| "converting a frame to YUV".into())
    }
}

impl VideoEncoder {
    /// Encodes one RGBA frame of exactly the output size into constant-frame-rate slot `slot`.
    pub fn encode(&mut self, f: &VideoFrame, slot: i64) -> Result<Vec<EncodedPacket>, CodecError> {
        if f.size() != self.conv.size {
            return Err(CodecError::Invalid { path: PathBuf::new(), reason: format!("frame is {}x{}, the encoder expects {}", f.width, f.height, self.conv.size) });
        }
        self.encode_picture(&Picture::from(f.clone()), slot)
    }

    /// As [`VideoEncoder::encode`], for a composed [`Picture`]: its base scaled to fill, then its
    /// patch over it.
    pub fn encode_picture(&mut self, p: &Picture, slot: i64) -> Result<Vec<EncodedPacket>, CodecError> {
        self.conv.convert(p)?;
        self.conv.yuv.set_pts(Some(slot));
        self.enc.send_frame(&self.conv.yuv).ctx(|| "encoding a video frame".into())?;
        Ok(self.drain())
    }

    /// Flushes the encoder's delayed frames (x264 looks ahead).
    pub fn flush(&mut self) -> Result<Vec<EncodedPacket>, CodecError> {
        self.enc.send_eof().ctx(|| "flushing the video encoder".into())?;
        Ok(self.drain())
    }

    fn drain(&mut self) -> Vec<EncodedPacket> {
        let mut out = Vec::new();
        let mut p = Packet::empty();
        while self.enc.receive_packet(&mut p).is_ok() {
            p.set_time_base(self.time_base);
            out.push(EncodedPacket(std::mem::replace(&mut p, Packet::empty())));
        }
        out
    }
}

struct AudioEncoder {
    enc: encoder::audio::Encoder,
    frame_size: usize,
    /// Mono 48 kHz samples waiting for a whole AAC frame.
    pending: Vec<f32>,
    next_pts: i64,
    resampler: Option<(u32, software::resampling::Context)>,
}

/// Opens libx264 with Reel's settings for `size`/`fps`/`preset`. Two encoders opened with the
/// same arguments produce the same parameter sets, which is what lets an edit re-encode only
/// the edges of a cut and copy the rest.
fn open_x264(size: Size, fps: Fps, preset: Preset, global: bool, live: bool) -> Result<(encoder::video::Encoder, Rational), CodecError> {
    let h264 = encoder::find_by_name("libx264").ok_or(CodecError::MissingEncoder("libx264"))?;
    let mut venc = codec::context::Context::new_with_codec(h264).encoder().video().ctx(|| "creating the video encoder".into())?;
    let tb = Rational(1, fps.get() as i32);
    venc.set_width(size.width);
    venc.set_height(size.height);
    venc.set_format(format::Pixel::YUV420P);
    venc.set_time_base(tb);
    venc.set_frame_rate(Some(Rational(fps.get() as i32, 1)));
    venc.set_gop(fps.get()); // a keyframe every second: quick seeks, cheap cuts
    venc.set_colorspace(ff::color::Space::BT709);
    venc.set_color_range(ff::color::Range::MPEG);
    // Closed GOPs: libavcodec's x264 wrapper makes open GOPs unless told otherwise, and then
    // only the first keyframe is an IDR; every later "keyframe" leans on the frames before it,
    // so a cut or a crash-recovered fragment there decodes with errors.
    let mut flags = codec::Flags::CLOSED_GOP;
    if global {
        flags |= codec::Flags::GLOBAL_HEADER;
    }
    venc.set_flags(flags);
    let mut opts = Dictionary::new();
    opts.set("preset", preset.x264);
    opts.set("crf", &preset.crf.to_string());
    // Keyframes only where we put them (fragments and cuts stay predictable); no B-pyramid, so
    // every GOP decodes on its own after a cut.
    // Live, the lookahead runs in the encoding thread (no extra frames of delay at stop);
    // offline it gets its own thread, which made exports 1.4x faster on 2 cores. Neither
    // changes the parameter sets.
    let sync = if live { ":sync-lookahead=0" } else { "" };
    opts.set("x264-params", &format!("scenecut=0{sync}:rc-lookahead=10:b-pyramid=none"));
    let venc = venc.open_as_with(h264, opts).ctx(|| format!("opening libx264 (preset {})", preset.x264))?;
    Ok((venc, tb))
}

fn video_encoder(enc: encoder::video::Encoder, size: Size, tb: Rational) -> VideoEncoder {
    VideoEncoder { enc, conv: ToYuv::new(size), time_base: tb }
}

impl VideoEncoder {
    /// An encoder on its own (for the re-encoded edges of a cut) and its parameter sets.
    pub(crate) fn standalone(size: Size, fps: Fps, preset: Preset) -> Result<(VideoEncoder, Vec<u8>), CodecError> {
        let (enc, tb) = open_x264(size, fps, preset, true, false)?;
        // SAFETY: reading the opened context's extradata buffer, which it owns.
        let extradata = unsafe {
            let c = enc.as_ptr();
            if (*c).extradata.is_null() {
                Vec::new()
            } else {
                std::slice::from_raw_parts((*c).extradata, (*c).extradata_size as usize).to_vec()
            }
        };
        Ok((video_encoder(enc, size, tb), extradata))
    }

    pub(crate) fn into_packets(p: Vec<EncodedPacket>) -> Vec<Packet> {
        p.into_iter().map(|EncodedPacket(p)| p).collect()
    }
}

/// The muxer and the audio encoder.
pub struct Mp4Writer {
    octx: format::context::Output,
    path: PathBuf,
    video_tb_enc: Rational,
    audio: Option<AudioEncoder>,
    video_packets: u64,
    audio_samples: u64,
    /// Last video dts written (stream time base), to keep spliced pieces strictly increasing.
    last_video_dts: Option<i64>,
}

impl Mp4Writer {
    /// Creates the file and its encoders; the header is written before returning, so an
    /// unwritable path fails here, before anything is captured.
    pub fn create(path: &Path, s: &WriterSettings) -> Result<(Mp4Writer, VideoEncoder), CodecError> {
        Self::create_with_chapters(path, s, &[])
    }

    /// As [`Mp4Writer::create`], with chapters in the file's header.
    pub fn create_with_chapters(path: &Path, s: &WriterSettings, chapters: &[crate::remux::Chapter]) -> Result<(Mp4Writer, VideoEncoder), CodecError> {
        init();
        let mut octx = format::output_as(path, "mp4").map_err(|e| CodecError::Create { path: path.to_path_buf(), reason: e.to_string() })?;
        let global = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);

        // Video: libx264.
        // A fragmented file is a live recording; a plain one is offline work (exports, edits).
        let (venc, tb) = open_x264(s.size, s.fps, s.preset, global, s.fragmented)?;
        let h264 = encoder::find_by_name("libx264").ok_or(CodecError::MissingEncoder("libx264"))?;
        let mut ost = octx.add_stream(h264).ctx(|| "adding the video stream".into())?;
        ost.set_parameters(&venc);
        ost.set_time_base(tb);

        // Audio: AAC, mono, 48 kHz.
        let audio = if s.audio { Some(add_aac(&mut octx, global)?) } else { None };

        crate::remux::add_chapters(&mut octx, chapters)?;
        let mut mux_opts = Dictionary::new();
        if s.fragmented {
            mux_opts.set("movflags", "frag_keyframe+delay_moov+default_base_moof");
            mux_opts.set("frag_duration", "250000");
            mux_opts.set("flush_packets", "1");
        } else {
            mux_opts.set("movflags", "faststart");
        }
        octx.write_header_with(mux_opts).map_err(|e| CodecError::Create { path: path.to_path_buf(), reason: e.to_string() })?;

        let video = video_encoder(venc, s.size, tb);
        Ok((Mp4Writer { octx, path: path.to_path_buf(), video_tb_enc: tb, audio, video_packets: 0, audio_samples: 0, last_video_dts: None }, video))
    }

    /// A plain MP4 whose video stream takes `src`'s parameters (packets are copied in with
    /// [`Mp4Writer::write_video_raw`]) and whose audio is encoded fresh.
    pub(crate) fn create_copying(path: &Path, src_params: ff::codec::Parameters, fps: Fps, audio: bool, chapters: &[crate::remux::Chapter]) -> Result<Mp4Writer, CodecError> {
        init();
        let mut octx = format::output_as(path, "mp4").map_err(|e| CodecError::Create { path: path.to_path_buf(), reason: e.to_string() })?;
        let global = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
        let tb = Rational(1, fps.get() as i32);
        {
            let mut ost = octx.add_stream(ff::encoder::find(ff::codec::Id::None)).ctx(|| "adding the video stream".into())?;
            ost.set_parameters(src_params);
            // SAFETY: parameters of the stream just added; a zero tag lets the muxer choose.
            unsafe {
                (*ost.parameters().as_mut_ptr()).codec_tag = 0;
            }
            ost.set_time_base(tb);
        }
        let audio = if audio { Some(add_aac(&mut octx, global)?) } else { None };
        crate::remux::add_chapters(&mut octx, chapters)?;
        let mut mux_opts = Dictionary::new();
        mux_opts.set("movflags", "faststart");
        octx.write_header_with(mux_opts).map_err(|e| CodecError::Create { path: path.to_path_buf(), reason: e.to_string() })?;
        Ok(Mp4Writer { octx, path: path.to_path_buf(), video_tb_enc: tb, audio, video_packets: 0, audio_samples: 0, last_video_dts: None })
    }

    /// Writes packets whose timestamps are in `in_tb` (copied or from a standalone encoder).
    pub(crate) fn write_video_raw(&mut self, packets: Vec<Packet>, in_tb: Rational) -> Result<(), CodecError> {
        let stb = self.octx.stream(0).map(|s| s.time_base()).unwrap_or(self.video_tb_enc);
        for mut p in packets {
            p.set_stream(0);
            p.set_position(-1);
            p.rescale_ts(in_tb, stb);
            // Where two pieces meet, the second's first decode time may equal the first's last
            // (a B-frame left out at the cut). One tick later keeps decode order strict; it can
            // never pass the presentation time, which is refused as an error instead.
            if let (Some(last), Some(dts)) = (self.last_video_dts, p.dts()) {
                if dts <= last {
                    let bumped = last + 1;
                    if p.pts().is_some_and(|pts| bumped > pts) {
                        return Err(CodecError::Invalid { path: self.path.clone(), reason: "spliced pieces overlap in decode order".into() });
                    }
                    p.set_dts(Some(bumped));
                }
            }
            self.last_video_dts = p.dts().or(self.last_video_dts);
            p.write_interleaved(&mut self.octx).ctx(|| format!("writing video to {}", self.path.display()))?;
            self.video_packets += 1;
        }
        Ok(())
    }

    pub fn has_audio(&self) -> bool {
        self.audio.is_some()
    }

    /// Samples (48 kHz) accepted so far.
    pub fn audio_samples(&self) -> u64 {
        self.audio_samples
    }

    pub fn write_video(&mut self, packets: Vec<EncodedPacket>) -> Result<(), CodecError> {
        let stb = self.octx.stream(0).map(|s| s.time_base()).unwrap_or(self.video_tb_enc);
        for EncodedPacket(mut p) in packets {
            p.set_stream(0);
            p.rescale_ts(self.video_tb_enc, stb);
            p.write_interleaved(&mut self.octx).ctx(|| format!("writing video to {}", self.path.display()))?;
            self.video_packets += 1;
        }
        Ok(())
    }

    /// Appends interleaved samples at any rate and channel count; they are downmixed to mono and
    /// resampled to 48 kHz as needed, then encoded in whole AAC frames.
    pub fn write_audio(&mut self, samples: &[f32], rate: u32, channels: u16) -> Result<(), CodecError> {
        let Some(a) = self.audio.as_mut() else {
            return Ok(());
        };
        let ch = channels.max(1) as usize;
        let mono: Vec<f32> = if ch == 1 { samples.to_vec() } else { samples.chunks_exact(ch).map(|f| f.iter().sum::<f32>() / ch as f32).collect() };
        let mono = if rate == AUDIO_RATE { mono } else { a.resample(&mono, rate)? };
        self.audio_samples += mono.len() as u64;
        a.pending.extend_from_slice(&mono);
        self.encode_audio(false)
    }

    /// Appends `n` samples of silence (to fill a gap the microphone left).
    pub fn write_silence(&mut self, n: usize) -> Result<(), CodecError> {
        let Some(a) = self.audio.as_mut() else {
            return Ok(());
        };
        a.pending.resize(a.pending.len() + n, 0.0);
        self.audio_samples += n as u64;
        self.encode_audio(false)
    }

    fn encode_audio(&mut self, last: bool) -> Result<(), CodecError> {
        let Some(a) = self.audio.as_mut() else {
            return Ok(());
        };
        let mut packets = Vec::new();
        while a.pending.len() >= a.frame_size || (last && !a.pending.is_empty()) {
            let n = a.frame_size.min(a.pending.len());
            let mut f = frame::Audio::new(format::Sample::F32(format::sample::Type::Planar), n, ChannelLayout::MONO);
            f.set_rate(AUDIO_RATE);
            f.plane_mut::<f32>(0)[..n].copy_from_slice(&a.pending[..n]);
            a.pending.drain(..n);
            f.set_pts(Some(a.next_pts));
            a.next_pts += n as i64;
            a.enc.send_frame(&f).ctx(|| "encoding audio".into())?;
            packets.extend(drain_audio(&mut a.enc));
        }
        if last {
            a.enc.send_eof().ctx(|| "flushing the audio encoder".into())?;
            packets.extend(drain_audio(&mut a.enc));
        }
        self.write_audio_packets(packets)
    }

    fn write_audio_packets(&mut self, packets: Vec<Packet>) -> Result<(), CodecError> {
        let stb = self.octx.stream(1).map(|s| s.time_base()).unwrap_or(Rational(1, AUDIO_RATE as i32));
        for mut p in packets {
            p.set_stream(1);
            p.rescale_ts(Rational(1, AUDIO_RATE as i32), stb);
            p.write_interleaved(&mut self.octx).ctx(|| format!("writing audio to {}", self.path.display()))?;
        }
        Ok(())
    }

    /// Flushes the audio encoder, writes the video encoder's tail and closes the file.
    pub fn finish(mut self, video_tail: Vec<EncodedPacket>) -> Result<(), CodecError> {
        self.encode_audio(true)?;
        self.write_video(video_tail)?;
        self.octx.write_trailer().ctx(|| format!("closing {}", self.path.display()))
    }
}

fn add_aac(octx: &mut format::context::Output, global: bool) -> Result<AudioEncoder, CodecError> {
    let aac = encoder::find(codec::Id::AAC).ok_or(CodecError::MissingEncoder("aac"))?;
    let mut ost = octx.add_stream(aac).ctx(|| "adding the audio stream".into())?;
    let mut aenc = codec::context::Context::new_with_codec(aac).encoder().audio().ctx(|| "creating the audio encoder".into())?;
    aenc.set_rate(AUDIO_RATE as i32);
    aenc.set_channel_layout(ChannelLayout::MONO);
    aenc.set_channels(1);
    aenc.set_format(format::Sample::F32(format::sample::Type::Planar));
    aenc.set_bit_rate(128_000);
    aenc.set_time_base(Rational(1, AUDIO_RATE as i32));
    if global {
        aenc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let aenc = aenc.open_as(aac).ctx(|| "opening the AAC encoder".into())?;
    ost.set_parameters(&aenc);
    ost.set_time_base(Rational(1, AUDIO_RATE as i32));
    let frame_size = (aenc.frame_size() as usize).max(1);
    Ok(AudioEncoder { enc: aenc, frame_size, pending: Vec::with_capacity(4096), next_pts: 0, resampler: None })
}

fn drain_audio(enc: &mut encoder::audio::Encoder) -> Vec<Packet> {
    let mut out = Vec::new();
    let mut p = Packet::empty();
    while enc.receive_packet(&mut p).is_ok() {
        out.push(std::mem::replace(&mut p, Packet::empty()));
    }
    out
}

/// Resamples a whole mono buffer to 48 kHz (offline work).
pub fn resample_mono(mono: &[f32], rate: u32) -> Result<Vec<f32>, CodecError> {
    let mut ctx = new_resampler(rate)?;
    run_resampler(&mut ctx, mono, rate)
}

fn new_resampler(rate: u32) -> Result<software::resampling::Context, CodecError> {
    let packed = format::Sample::F32(format::sample::Type::Packed);
    software::resampling::Context::get(packed, ChannelLayout::MONO, rate, packed, ChannelLayout::MONO, AUDIO_RATE).ctx(|| format!("creating a resampler from {rate} Hz"))
}

impl AudioEncoder {
    fn resample(&mut self, mono: &[f32], rate: u32) -> Result<Vec<f32>, CodecError> {
        if self.resampler.as_ref().is_none_or(|(r, _)| *r != rate) {
            self.resampler = Some((rate, new_resampler(rate)?));
        }
        let Some((_, ctx)) = self.resampler.as_mut() else {
            return Ok(Vec::new());
        };
        run_resampler(ctx, mono, rate)
    }
}

fn run_resampler(ctx: &mut software::resampling::Context, mono: &[f32], rate: u32) -> Result<Vec<f32>, CodecError> {
    {
        let packed = format::Sample::F32(format::sample::Type::Packed);
        let mut input = frame::Audio::new(packed, mono.len(), ChannelLayout::MONO);
        input.set_rate(rate);
        input.plane_mut::<f32>(0)[..mono.len()].copy_from_slice(mono);
        let cap = mono.len() * AUDIO_RATE as usize / rate as usize + 64;
        let mut output = frame::Audio::new(packed, cap, ChannelLayout::MONO);
        output.set_rate(AUDIO_RATE);
        ctx.run(&input, &mut output).ctx(|| "resampling audio".into())?;
        let n = output.samples();
        Ok(output.plane::<f32>(0)[..n].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings(size: Size, preset: Preset) -> WriterSettings {
        WriterSettings { size, fps: Fps::new(30).unwrap(), audio: true, preset, fragmented: true }
    }

    /// Every live preset must really open (an ffmpeg without it fails here, not mid-recording).
    #[test]
    fn every_live_preset_opens() {
        let dir = tempfile::tempdir().unwrap();
        for (i, (_, preset)) in crate::preset::LIVE.iter().enumerate() {
            let p = dir.path().join(format!("{i}.mp4"));
            let (w, v) = Mp4Writer::create(&p, &settings(Size::new(320, 240).unwrap(), *preset)).unwrap();
            drop(v);
            w.finish(vec![]).unwrap();
        }
    }

    #[test]
    fn resampling_keeps_duration() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mp4");
        let (mut w, mut v) = Mp4Writer::create(&p, &settings(Size::new(64, 64).unwrap(), Preset::offline())).unwrap();
        let one_second_stereo_44k: Vec<f32> = (0..44_100 * 2).map(|i| ((i / 2) as f32 * 0.05).sin() * 0.3).collect();
        for chunk in one_second_stereo_44k.chunks(882) {
            w.write_audio(chunk, 44_100, 2).unwrap();
        }
        let got = w.audio_samples() as i64;
        assert!((got - 48_000).abs() < 200, "{got} samples for one second");
        let f = VideoFrame::new(Duration::ZERO, 64, 64, vec![128; 64 * 64 * 4]).unwrap();
        let pk = v.encode(&f, 0).unwrap();
        w.write_video(pk).unwrap();
        w.finish(v.flush().unwrap()).unwrap();
    }

    /// A small base is enlarged to fill and the patch lands where it was put, in its colours.
    #[test]
    fn picture_base_scaled_and_patch_placed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pic.mp4");
        let size = Size::new(192, 108).unwrap();
        let s = WriterSettings { audio: false, ..settings(size, Preset::offline()) };
        let (mut w, mut v) = Mp4Writer::create(&p, &s).unwrap();
        let solid = |w: u32, h: u32, c: [u8; 4]| VideoFrame::new(Duration::ZERO, w, h, c.repeat((w * h) as usize)).unwrap();
        let pic = Picture { base: solid(128, 72, [200, 30, 30, 255]), patch: Some(reel_media::Patch { x: 100, y: 50, frame: solid(40, 30, [20, 40, 220, 255]) }) };
        for slot in 0..3 {
            let pk = v.encode_picture(&pic, slot).unwrap();
            w.write_video(pk).unwrap();
        }
        w.write_video(v.flush().unwrap()).unwrap();
        w.finish(vec![]).unwrap();
        let f = crate::decode::VideoFileReader::open(&p, None).unwrap().next().unwrap().unwrap();
        assert_eq!((f.width, f.height), (192, 108), "the base fills the output");
        let px = |x: u32, y: u32| -> [i32; 3] {
            let i = ((y * f.width + x) * 4) as usize;
            [f.data[i] as i32, f.data[i + 1] as i32, f.data[i + 2] as i32]
        };
        let near = |a: [i32; 3], b: [i32; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 12);
        for (x, y) in [(2, 2), (190, 2), (2, 105), (98, 48), (190, 105)] {
            assert!(near(px(x, y), [200, 30, 30]), "base at {x},{y}: {:?}", px(x, y));
        }
        for (x, y) in [(101, 51), (138, 78), (120, 65)] {
            assert!(near(px(x, y), [20, 40, 220]), "patch at {x},{y}: {:?}", px(x, y));
        }
        // A patch that does not fit, or sits on odd coordinates, is refused with a reason.
        let (_, mut v) = Mp4Writer::create(&dir.path().join("bad.mp4"), &s).unwrap();
        for (x, y) in [(180, 0), (1, 0)] {
            let bad = Picture { patch: Some(reel_media::Patch { x, y, frame: solid(40, 30, [0, 0, 0, 255]) }), ..pic.clone() };
            let e = v.encode_picture(&bad, 0).err().expect("refused").to_string();
            assert!(e.contains("does not fit evenly"), "{e}");
        }
        // A bare frame must be the output size (edits pass decoded frames already scaled).
        let e = v.encode(&solid(128, 72, [0, 0, 0, 255]), 0).err().expect("refused").to_string();
        assert!(e.contains("the encoder expects 192x108"), "{e}");
        // A frame whose pixels do not match its size is refused, not read out of bounds.
        let short = VideoFrame { ts: Duration::ZERO, width: 128, height: 72, data: std::sync::Arc::new(vec![0; 100]) };
        let e = v.encode_picture(&short.into(), 0).err().expect("refused").to_string();
        assert!(e.contains("128x72 frame with 100 bytes"), "{e}");
    }

    #[test]
    fn unwritable_path_fails_at_create() {
        let err = Mp4Writer::create(Path::new("/nonexistent-dir/x.mp4"), &settings(Size::new(64, 64).unwrap(), Preset::offline())).err().expect("must fail");
        assert!(err.to_string().contains("/nonexistent-dir/x.mp4"), "{err}");
    }
}
