//! Editing: keep time ranges of one or more files (trim, cut, concat) and export at a speed.
//!
//! Two paths, chosen per job:
//! - **Stream copy** when every range starts and ends on a keyframe (Reel records one a second,
//!   so whole-second cuts qualify) and all inputs share codec parameters: packets are copied
//!   whole GOPs at a time and re-stamped; nothing is decoded. Fast and lossless.
//! - **Transcode** otherwise: decode, place frames on a constant-rate output timeline (dropping or
//!   repeating as the speed needs), and re-encode; audio goes through libavfilter's `atempo`, so
//!   at 2x the voice keeps its pitch (the 1 kHz test beep stays 1 kHz).
//!
//! Both write to a temporary name and rename into place; a cancelled or failed job leaves
//! nothing at the destination.

use std::path::{Path, PathBuf};

use ffmpeg_next as ff;
use ff::{filter, format, frame, media, ChannelLayout, Dictionary, Packet, Rational};
use reel_media::{Fps, Size, AUDIO_RATE};

use crate::decode::{decode_audio_mono, VideoFileReader};
use crate::remux::{tmp_path, Chapter, Finalized};
use crate::writer::{Mp4Writer, WriterSettings};
use crate::{init, CodecError, Ctx, Preset};

/// A time range of a source file, in seconds of its own timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub path: PathBuf,
    pub start: f64,
    pub end: f64,
}

#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// 0.5 to 4.0; 1.0 keeps time as it is.
    pub speed: f64,
    /// Output size; `None` keeps the first input's size.
    pub size: Option<Size>,
    pub fps: Fps,
    pub preset: Preset,
}

/// What a job reports as it goes: a fraction 0..1. Returning false cancels the job.
pub type Progress<'a> = &'a mut dyn FnMut(f64) -> bool;

#[derive(Clone, Debug, Default)]
pub struct MediaInfo {
    pub duration_s: f64,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub has_audio: bool,
    pub video_codec: String,
    /// Keyframe presentation times (seconds).
    pub keyframes: Vec<f64>,
}

/// Reads stream facts and keyframe times (packets only, no decoding).
pub fn probe(path: &Path) -> Result<MediaInfo, CodecError> {
    init();
    let open_err = |reason: String| CodecError::Open { path: path.to_path_buf(), reason };
    if !path.exists() {
        return Err(open_err("no such file".into()));
    }
    let mut ictx = format::input(path).map_err(|e| open_err(format!("not a video ffmpeg can read ({e})")))?;
    let v = ictx.streams().best(media::Type::Video).ok_or(CodecError::NoStream { path: path.to_path_buf(), kind: "video" })?;
    let vi = v.index();
    let vtb = v.time_base();
    let params = v.parameters();
    // SAFETY: reading plain fields of the stream's codec parameters.
    let (width, height) = unsafe { ((*params.as_ptr()).width as u32, (*params.as_ptr()).height as u32) };
    let rate = v.avg_frame_rate();
    let fps = if rate.denominator() != 0 { rate.numerator() as f64 / rate.denominator() as f64 } else { 0.0 };
    let video_codec = params.id().name().to_string();
    let has_audio = ictx.streams().best(media::Type::Audio).is_some();
    let tbs: Vec<Rational> = ictx.streams().map(|s| s.time_base()).collect();
    let mut info = MediaInfo { width, height, fps, has_audio, video_codec, ..Default::default() };
    let mut p = Packet::empty();
    let mut end = 0f64;
    let mut got_any = false;
    loop {
        match p.read(&mut ictx) {
            Ok(()) => {}
            Err(ff::Error::Other { errno: ff::util::error::EAGAIN }) => continue,
            Err(_) => break,
        }
        got_any = true;
        let tb = tbs[p.stream()];
        let secs = |ts: i64| ts as f64 * tb.numerator() as f64 / tb.denominator() as f64;
        if let Some(pts) = p.pts() {
            end = end.max(secs(pts + p.duration()));
            if p.stream() == vi && p.is_key() {
                info.keyframes.push(secs(pts));
            }
        }
    }
    if !got_any {
        return Err(open_err("it has no readable packets (truncated or empty)".into()));
    }
    let _ = vtb;
    info.keyframes.sort_by(f64::total_cmp);
    info.duration_s = end;
    Ok(info)
}

fn on_keyframe(t: f64, info: &MediaInfo, tolerance: f64) -> bool {
    t <= tolerance || (t - info.duration_s).abs() <= tolerance || info.keyframes.iter().any(|k| (k - t).abs() <= tolerance)
}

/// Can these segments be stream-copied? (Every cut on a keyframe, one codec setup.)
pub fn can_copy(segments: &[Segment]) -> Result<bool, CodecError> {
    let mut first: Option<MediaInfo> = None;
    for s in segments {
        let info = probe(&s.path)?;
        let tol = if info.fps > 0.0 { 0.5 / info.fps } else { 0.02 };
        if !on_keyframe(s.start, &info, tol) || !on_keyframe(s.end.min(info.duration_s), &info, tol) {
            return Ok(false);
        }
        if let Some(f) = &first {
            if (f.width, f.height, &f.video_codec, f.has_audio) != (info.width, info.height, &info.video_codec, info.has_audio) {
                return Ok(false);
            }
        } else {
            first = Some(info);
        }
    }
    Ok(true)
}

/// Keeps `segments` in order, by stream copy if possible, else by re-encoding at speed 1.
/// Returns the result and whether it was copied.
pub fn splice(segments: &[Segment], dst: &Path, chapters: &[Chapter], progress: Progress<'_>) -> Result<(Finalized, bool), CodecError> {
    validate(segments)?;
    if can_copy(segments)? {
        return Ok((atomic(dst, |tmp| copy_segments(segments, tmp, chapters, progress))?, true));
    }
    let info = probe(&segments[0].path)?;
    let fps = Fps::new((info.fps.round() as u32).clamp(1, 120)).unwrap_or_else(|_| Fps::new(30).unwrap_or_else(|_| unreachable!()));
    let o = ExportOptions { speed: 1.0, size: None, fps, preset: Preset::offline() };
    Ok((atomic(dst, |tmp| transcode(segments, tmp, &o, chapters, progress))?, false))
}

/// Exports at a speed (pitch kept) and size.
pub fn export(segments: &[Segment], dst: &Path, o: &ExportOptions, chapters: &[Chapter], progress: Progress<'_>) -> Result<Finalized, CodecError> {
    validate(segments)?;
    if !(0.5..=4.0).contains(&o.speed) || !o.speed.is_finite() {
        return Err(CodecError::Invalid { path: dst.to_path_buf(), reason: format!("speed {} is outside 0.5–4", o.speed) });
    }
    atomic(dst, |tmp| transcode(segments, tmp, o, chapters, progress))
}

fn validate(segments: &[Segment]) -> Result<(), CodecError> {
    if segments.is_empty() {
        return Err(CodecError::Invalid { path: PathBuf::new(), reason: "nothing to keep".into() });
    }
    for s in segments {
        if !(s.start.is_finite() && s.end.is_finite()) || s.start < 0.0 || s.end <= s.start {
            return Err(CodecError::Invalid { path: s.path.clone(), reason: format!("range {:.3}–{:.3} s is empty or invalid", s.start, s.end) });
        }
    }
    Ok(())
}

fn atomic(dst: &Path, f: impl FnOnce(&Path) -> Result<Finalized, CodecError>) -> Result<Finalized, CodecError> {
    let tmp = tmp_path(dst);
    match f(&tmp) {
        Ok(mut info) => {
            std::fs::rename(&tmp, dst).map_err(|source| CodecError::Io { path: dst.to_path_buf(), source })?;
            info.bytes = std::fs::metadata(dst).map(|m| m.len()).unwrap_or(0);
            Ok(info)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn cancelled(dst: &Path) -> CodecError {
    CodecError::Invalid { path: dst.to_path_buf(), reason: "cancelled".into() }
}

fn add_chapters(octx: &mut format::context::Output, chapters: &[Chapter]) -> Result<(), CodecError> {
    for (i, c) in chapters.iter().enumerate() {
        let ms = |s: f64| (s * 1000.0).round() as i64;
        octx.add_chapter(i as i64, Rational(1, 1000), ms(c.start_s), ms(c.end_s), &c.title).ctx(|| "adding a chapter".into())?;
    }
    Ok(())
}

fn copy_segments(segments: &[Segment], dst: &Path, chapters: &[Chapter], progress: Progress<'_>) -> Result<Finalized, CodecError> {
    init();
    let first = format::input(&segments[0].path).map_err(|e| CodecError::Open { path: segments[0].path.clone(), reason: e.to_string() })?;
    let mut octx = format::output_as(dst, "mp4").map_err(|e| CodecError::Create { path: dst.to_path_buf(), reason: e.to_string() })?;
    let mut kinds = Vec::new();
    for ist in first.streams() {
        let kind = ist.parameters().medium();
        if kind != media::Type::Video && kind != media::Type::Audio {
            continue;
        }
        let mut ost = octx.add_stream(ff::encoder::find(ff::codec::Id::None)).ctx(|| "adding a stream".into())?;
        ost.set_parameters(ist.parameters());
        // SAFETY: parameters of the stream just added; a zero tag lets the muxer choose.
        unsafe {
            (*ost.parameters().as_mut_ptr()).codec_tag = 0;
        }
        ost.set_time_base(ist.time_base());
        kinds.push(kind);
    }
    drop(first);
    add_chapters(&mut octx, chapters)?;
    let mut opts = Dictionary::new();
    opts.set("movflags", "faststart");
    octx.write_header_with(opts).map_err(|e| CodecError::Create { path: dst.to_path_buf(), reason: e.to_string() })?;
    let out_tbs: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();
    let total: f64 = segments.iter().map(|s| s.end - s.start).sum();
    let mut offset = 0f64; // output time where this segment starts
    let mut info = Finalized::default();
    for seg in segments {
        let mut ictx = format::input(&seg.path).map_err(|e| CodecError::Open { path: seg.path.clone(), reason: e.to_string() })?;
        let map: Vec<Option<usize>> = {
            let mut next = 0;
            ictx.streams()
                .map(|s| {
                    let k = s.parameters().medium();
                    if (k == media::Type::Video || k == media::Type::Audio) && next < kinds.len() && kinds[next] == k {
                        next += 1;
                        Some(next - 1)
                    } else {
                        None
                    }
                })
                .collect()
        };
        let tbs: Vec<Rational> = ictx.streams().map(|s| s.time_base()).collect();
        let mut gop_start = f64::NEG_INFINITY;
        let mut p = Packet::empty();
        let mut last_report = 0.0;
        loop {
            match p.read(&mut ictx) {
                Ok(()) => {}
                Err(ff::Error::Other { errno: ff::util::error::EAGAIN }) => continue,
                Err(_) => break,
            }
            let Some(Some(o)) = map.get(p.stream()).copied() else { continue };
            let itb = tbs[p.stream()];
            let secs = |ts: i64| ts as f64 * itb.numerator() as f64 / itb.denominator() as f64;
            let Some(pts) = p.pts() else { continue };
            let t = secs(pts);
            let keep = if kinds[o] == media::Type::Video {
                if p.is_key() {
                    gop_start = t;
                }
                gop_start >= seg.start - 1e-3 && gop_start < seg.end - 1e-3
            } else {
                t >= seg.start - 1e-3 && t < seg.end - 1e-3
            };
            if !keep {
                continue;
            }
            let shift = ((offset - seg.start) * itb.denominator() as f64 / itb.numerator() as f64).round() as i64;
            p.set_pts(Some(pts + shift));
            p.set_dts(p.dts().map(|d| d + shift));
            p.rescale_ts(itb, out_tbs[o]);
            p.set_position(-1);
            p.set_stream(o);
            p.write_interleaved(&mut octx).ctx(|| format!("writing {}", dst.display()))?;
            match kinds[o] {
                media::Type::Video => info.video_packets += 1,
                _ => info.audio_packets += 1,
            }
            let done = (offset + (t - seg.start)) / total.max(1e-9);
            if done - last_report > 0.01 {
                last_report = done;
                if !progress(done.clamp(0.0, 1.0)) {
                    return Err(cancelled(dst));
                }
            }
        }
        offset += seg.end - seg.start;
    }
    octx.write_trailer().ctx(|| format!("closing {}", dst.display()))?;
    progress(1.0);
    info.duration_s = offset;
    Ok(info)
}

/// Time-stretches mono 48 kHz audio by `speed` with atempo (pitch kept).
fn stretch(samples: &[f32], speed: f64) -> Result<Vec<f32>, CodecError> {
    if (speed - 1.0).abs() < 1e-9 {
        return Ok(samples.to_vec());
    }
    let mut g = filter::Graph::new();
    let abuffer = filter::find("abuffer").ok_or(CodecError::MissingEncoder("abuffer filter"))?;
    let sink = filter::find("abuffersink").ok_or(CodecError::MissingEncoder("abuffersink filter"))?;
    g.add(&abuffer, "in", &format!("time_base=1/{AUDIO_RATE}:sample_rate={AUDIO_RATE}:sample_fmt=flt:channel_layout=mono"))
        .ctx(|| "creating the audio filter input".into())?;
    g.add(&sink, "out", "").ctx(|| "creating the audio filter output".into())?;
    // atempo takes 0.5..2 per instance in older ffmpeg; chain instances for larger factors.
    let mut chain = Vec::new();
    let mut left = speed;
    while left > 2.0 {
        chain.push("atempo=2.0".to_string());
        left /= 2.0;
    }
    while left < 0.5 {
        chain.push("atempo=0.5".to_string());
        left /= 0.5;
    }
    chain.push(format!("atempo={left:.6}"));
    chain.push(format!("aformat=sample_fmts=flt:channel_layouts=mono:sample_rates={AUDIO_RATE}"));
    g.output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(&chain.join(",")))
        .ctx(|| "building the atempo filter".into())?;
    g.validate().ctx(|| "validating the atempo filter".into())?;
    let mut out = Vec::with_capacity((samples.len() as f64 / speed) as usize + 4096);
    let packed = format::Sample::F32(format::sample::Type::Packed);
    let mut pts = 0i64;
    let drain = |g: &mut filter::Graph, out: &mut Vec<f32>| {
        let mut f = frame::Audio::empty();
        if let Some(mut s) = g.get("out") {
            while s.sink().frame(&mut f).is_ok() {
                let n = f.samples();
                out.extend_from_slice(&f.plane::<f32>(0)[..n]);
            }
        }
    };
    for chunk in samples.chunks(4096) {
        let mut f = frame::Audio::new(packed, chunk.len(), ChannelLayout::MONO);
        f.set_rate(AUDIO_RATE);
        f.plane_mut::<f32>(0)[..chunk.len()].copy_from_slice(chunk);
        f.set_pts(Some(pts));
        pts += chunk.len() as i64;
        if let Some(mut s) = g.get("in") {
            s.source().add(&f).ctx(|| "feeding the atempo filter".into())?;
        }
        drain(&mut g, &mut out);
    }
    if let Some(mut s) = g.get("in") {
        s.source().flush().ctx(|| "flushing the atempo filter".into())?;
    }
    drain(&mut g, &mut out);
    Ok(out)
}

fn transcode(segments: &[Segment], dst: &Path, o: &ExportOptions, chapters: &[Chapter], progress: Progress<'_>) -> Result<Finalized, CodecError> {
    init();
    let first = probe(&segments[0].path)?;
    let size = match o.size {
        Some(s) => s,
        None => Size::new(first.width.max(16) & !1, first.height.max(16) & !1).map_err(|e| CodecError::Invalid { path: segments[0].path.clone(), reason: e.to_string() })?,
    };
    let has_audio = segments.iter().all(|s| probe(&s.path).map(|i| i.has_audio).unwrap_or(false));
    let settings = WriterSettings { size, fps: o.fps, audio: has_audio, preset: o.preset, fragmented: false };
    let out_chapters: Vec<Chapter> = chapters.iter().map(|c| Chapter { start_s: c.start_s / o.speed, end_s: c.end_s / o.speed, title: c.title.clone() }).collect();
    let (mut writer, mut venc) = Mp4Writer::create_with_chapters(dst, &settings, &out_chapters)?;
    let total: f64 = segments.iter().map(|s| s.end - s.start).sum::<f64>() / o.speed;
    let total_slots = o.fps.slot_of(std::time::Duration::from_secs_f64(total)).max(1);
    let mut next: u64 = 0;
    let mut offset = 0f64; // output seconds where this segment starts
    let mut last_report = 0.0;
    for seg in segments {
        let mut reader = VideoFileReader::open(&seg.path, Some(size))?;
        if seg.start > 0.5 {
            reader.seek(seg.start)?;
        }
        let base = reader.first_pts_s_hint();
        let seg_out_len = (seg.end - seg.start) / o.speed;
        let seg_end_slot = o.fps.slot_of(std::time::Duration::from_secs_f64(offset + seg_out_len));
        let mut last: Option<reel_media::VideoFrame> = None;
        for f in reader.by_ref() {
            let f = f?;
            let t = base + f.ts.as_secs_f64();
            if t < seg.start - 1e-3 {
                continue;
            }
            if t >= seg.end - 1e-3 {
                break;
            }
            let out_t = offset + (t - seg.start) / o.speed;
            // Sample and hold: slot k shows the latest frame whose output time is at or before
            // k/fps. Slots before this frame's time still show the previous one; at speeds
            // above 1 the frames that fall between slots are skipped.
            while next < seg_end_slot && o.fps.slot_time(next).as_secs_f64() < out_t - 1e-6 {
                let pk = venc.encode(last.as_ref().unwrap_or(&f), next as i64)?;
                writer.write_video(pk)?;
                next += 1;
            }
            last = Some(f);
            let done = next as f64 / total_slots as f64;
            if done - last_report > 0.01 {
                last_report = done;
                if !progress(done.min(0.99)) {
                    return Err(cancelled(dst));
                }
            }
        }
        // Hold the last picture to the end of the segment (slower than 1x, or a short tail).
        if let Some(l) = last {
            while next < seg_end_slot {
                let pk = venc.encode(&l, next as i64)?;
                writer.write_video(pk)?;
                next += 1;
            }
        }
        if has_audio {
            let (samples, rate, start) = decode_audio_mono(&seg.path)?;
            let idx = |t: f64| (((t - start) * rate as f64).round().max(0.0) as usize).min(samples.len());
            let part = &samples[idx(seg.start)..idx(seg.end)];
            let part = if rate != AUDIO_RATE { crate::writer::resample_mono(part, rate)? } else { part.to_vec() };
            let stretched = stretch(&part, o.speed)?;
            // Keep audio exactly as long as this segment's video.
            let want = ((next as f64 / o.fps.get() as f64) * AUDIO_RATE as f64).round() as u64;
            let have = writer.audio_samples();
            let take = (want.saturating_sub(have) as usize).min(stretched.len());
            writer.write_audio(&stretched[..take], AUDIO_RATE, 1)?;
            let still = want.saturating_sub(writer.audio_samples());
            if still > 0 {
                writer.write_silence(still as usize)?;
            }
        }
        offset += seg_out_len;
    }
    writer.finish(venc.flush()?)?;
    progress(1.0);
    Ok(Finalized { duration_s: next as f64 / o.fps.get() as f64, video_packets: next, audio_packets: 0, bytes: 0 })
}
