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

use ff::{filter, format, frame, media, ChannelLayout, Dictionary, Packet, Rational};
use ffmpeg_next as ff;
use reel_media::{Fps, Size, AUDIO_RATE};

use crate::decode::{AudioReader, VideoFileReader};
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
    probe_with(path, true)
}

/// As [`probe`], from the file's header alone, in constant time whatever its length: no
/// keyframe list, and the duration as the container states it (0 when it does not). For a
/// recording just stopped, whose length the recorder knows.
pub fn probe_header(path: &Path) -> Result<MediaInfo, CodecError> {
    probe_with(path, false)
}

fn probe_with(path: &Path, scan: bool) -> Result<MediaInfo, CodecError> {
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
    // The base rate, not the average: a cut that drops a frame changes the average slightly.
    let rate = if v.rate().denominator() != 0 && v.rate().numerator() > 0 { v.rate() } else { v.avg_frame_rate() };
    let fps = if rate.denominator() != 0 { rate.numerator() as f64 / rate.denominator() as f64 } else { 0.0 };
    let video_codec = params.id().name().to_string();
    let has_audio = ictx.streams().best(media::Type::Audio).is_some();
    let tbs: Vec<Rational> = ictx.streams().map(|s| s.time_base()).collect();
    let mut info = MediaInfo { width, height, fps, has_audio, video_codec, ..Default::default() };
    if !scan {
        info.duration_s = (ictx.duration().max(0) as f64 / 1e6).max(0.0);
        return Ok(info);
    }
    let mut p = Packet::empty();
    let mut end = 0f64;
    let mut got_any = false;
    while next_packet(&mut ictx, &mut p) {
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

/// How a splice was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpliceMode {
    /// Every cut on a keyframe: packets copied, nothing decoded.
    Copy,
    /// Only the partial GOPs at the cuts re-encoded (with Reel's own encoder settings, so the
    /// parameter sets match); everything between copied.
    Edges,
    /// Everything re-encoded (inputs from other encoders, or mixed sizes).
    Reencode,
}

/// Keeps `segments` in order: by stream copy if every cut is on a keyframe, else by re-encoding
/// only the edges when the inputs came from Reel's encoder, else by re-encoding it all.
pub fn splice(segments: &[Segment], dst: &Path, chapters: &[Chapter], progress: Progress<'_>) -> Result<(Finalized, SpliceMode), CodecError> {
    validate(segments)?;
    if can_copy(segments)? {
        return Ok((atomic(dst, |tmp| copy_segments(segments, tmp, chapters, progress))?, SpliceMode::Copy));
    }
    let mut smart_result = None;
    let r = atomic(dst, |tmp| match smart_splice(segments, tmp, chapters, progress)? {
        Some(f) => {
            smart_result = Some(());
            Ok(f)
        }
        None => Err(CodecError::Invalid { path: tmp.to_path_buf(), reason: "edges cannot be matched".into() }),
    });
    match (r, smart_result) {
        (Ok(f), Some(())) => return Ok((f, SpliceMode::Edges)),
        // Cancelled stays cancelled; anything else falls back to re-encoding it all.
        (Err(CodecError::Invalid { reason, .. }), _) if reason == "cancelled" => return Err(cancelled(dst)),
        (Err(e), _) if std::env::var_os("REEL_DEBUG").is_some() => {
            eprintln!("edges-only splice not possible ({e}); re-encoding everything");
        }
        _ => {}
    }
    let info = probe(&segments[0].path)?;
    let fps = Fps::new((info.fps.round() as u32).clamp(1, 120)).unwrap_or_else(|_| Fps::new(30).unwrap_or_else(|_| unreachable!()));
    let o = ExportOptions { speed: 1.0, size: None, fps, preset: Preset::offline() };
    Ok((atomic(dst, |tmp| transcode(segments, tmp, &o, chapters, progress))?, SpliceMode::Reencode))
}

/// The video stream's parameters and extradata of a file.
fn video_params(path: &Path) -> Result<(ff::codec::Parameters, Vec<u8>, Rational), CodecError> {
    let ictx = format::input(path).map_err(|e| CodecError::Open { path: path.to_path_buf(), reason: e.to_string() })?;
    let v = ictx.streams().best(media::Type::Video).ok_or(CodecError::NoStream { path: path.to_path_buf(), kind: "video" })?;
    let params = v.parameters();
    // SAFETY: reading the stream's extradata buffer, owned by its parameters.
    let extra = unsafe {
        let p = params.as_ptr();
        if (*p).extradata.is_null() {
            Vec::new()
        } else {
            std::slice::from_raw_parts((*p).extradata, (*p).extradata_size as usize).to_vec()
        }
    };
    Ok((params, extra, v.time_base()))
}

/// The SPS and PPS NAL units of H.264 extradata, whether in avcC form (as MP4 stores it) or
/// Annex B (as x264 emits it), so two streams' parameter sets can be compared.
pub(crate) fn param_sets(extra: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if extra.first() == Some(&1) && extra.len() > 6 {
        let mut i = 5;
        let mut read_sets = |count: usize, i: &mut usize| {
            for _ in 0..count {
                if *i + 2 > extra.len() {
                    return;
                }
                let n = u16::from_be_bytes([extra[*i], extra[*i + 1]]) as usize;
                *i += 2;
                if *i + n > extra.len() {
                    return;
                }
                out.push(extra[*i..*i + n].to_vec());
                *i += n;
            }
        };
        let sps = (extra[5] & 0x1f) as usize;
        i += 1;
        read_sets(sps, &mut i);
        if i < extra.len() {
            let pps = extra[i] as usize;
            i += 1;
            read_sets(pps, &mut i);
        }
    } else {
        // Annex B: NAL units after 00 00 01 start codes; keep SPS (7) and PPS (8).
        let mut starts = Vec::new();
        let mut k = 0;
        while k + 3 <= extra.len() {
            if extra[k] == 0 && extra[k + 1] == 0 && extra[k + 2] == 1 {
                starts.push(k + 3);
                k += 3;
            } else {
                k += 1;
            }
        }
        for (j, &st) in starts.iter().enumerate() {
            let mut end = starts.get(j + 1).map(|n| n - 3).unwrap_or(extra.len());
            while end > st && extra[end - 1] == 0 {
                end -= 1;
            }
            let nal = &extra[st..end];
            if matches!(nal.first().map(|b| b & 0x1f), Some(7) | Some(8)) {
                out.push(nal.to_vec());
            }
        }
    }
    out.sort();
    out
}

/// x264 emits Annex B (start codes); MP4 samples are length-prefixed. Converts one packet,
/// dropping in-band SPS/PPS (the track's header already has the identical ones).
fn to_length_prefixed(p: Packet) -> Packet {
    let Some(data) = p.data() else { return p };
    if !(data.starts_with(&[0, 0, 1]) || data.starts_with(&[0, 0, 0, 1])) {
        return p;
    }
    let mut starts = Vec::new();
    let mut k = 0;
    while k + 3 <= data.len() {
        if data[k] == 0 && data[k + 1] == 0 && data[k + 2] == 1 {
            starts.push(k + 3);
            k += 3;
        } else {
            k += 1;
        }
    }
    let mut out = Vec::with_capacity(data.len() + 16);
    for (j, &st) in starts.iter().enumerate() {
        let mut end = starts.get(j + 1).map(|n| n - 3).unwrap_or(data.len());
        while end > st && data[end - 1] == 0 && j + 1 < starts.len() {
            end -= 1;
        }
        let nal = &data[st..end];
        if nal.is_empty() || matches!(nal[0] & 0x1f, 7 | 8) {
            continue;
        }
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    let mut q = Packet::copy(&out);
    q.set_pts(p.pts());
    q.set_dts(p.dts());
    q.set_duration(p.duration());
    q.set_flags(p.flags());
    q
}

fn edge_packets(p: Vec<crate::writer::EncodedPacket>) -> Vec<Packet> {
    crate::writer::VideoEncoder::into_packets(p).into_iter().map(to_length_prefixed).collect()
}

/// Re-encodes the source frames in [from, to) into slots starting at `*next`, with a fresh
/// encoder (so the piece starts with its own keyframe), all packets flushed.
#[allow(clippy::too_many_arguments)]
fn encode_edge(path: &Path, from: f64, to: f64, size: Size, fps: Fps, preset: Preset, writer: &mut Mp4Writer, next: &mut u64) -> Result<(), CodecError> {
    if to - from < 0.5 / fps.get() as f64 {
        return Ok(());
    }
    let (mut enc, _) = crate::writer::VideoEncoder::standalone(size, fps, preset)?;
    let mut reader = VideoFileReader::open(path, Some(size))?;
    if from > 0.5 {
        reader.seek(from)?;
    }
    let base = reader.first_pts_s_hint();
    let want = ((to - from) * fps.get() as f64).round() as u64;
    let mut done = 0u64;
    let mut last = None;
    for f in reader {
        let f = f?;
        let t = base + f.ts.as_secs_f64();
        if t < from - 1e-3 {
            continue;
        }
        if t >= to - 1e-3 || done >= want {
            break;
        }
        let pk = enc.encode(&f, *next as i64)?;
        writer.write_video_raw(edge_packets(pk), Rational(1, fps.get() as i32))?;
        *next += 1;
        done += 1;
        last = Some(f);
    }
    // A short source: hold its last picture for the slots the range promises.
    if let Some(l) = last {
        while done < want {
            let pk = enc.encode(&l, *next as i64)?;
            writer.write_video_raw(edge_packets(pk), Rational(1, fps.get() as i32))?;
            *next += 1;
            done += 1;
        }
    }
    let tail = enc.flush()?;
    writer.write_video_raw(edge_packets(tail), Rational(1, fps.get() as i32))
}

/// Edges re-encoded, middles copied. `Ok(None)` when the inputs' parameter sets do not match
/// Reel's encoder (other encoders' files): the caller re-encodes everything instead.
fn smart_splice(segments: &[Segment], dst: &Path, chapters: &[Chapter], progress: Progress<'_>) -> Result<Option<Finalized>, CodecError> {
    init();
    let first = probe(&segments[0].path)?;
    if first.video_codec != "h264" || first.fps <= 0.0 {
        return Ok(None);
    }
    let fps = match Fps::new(first.fps.round() as u32) {
        Ok(f) if (first.fps - f.get() as f64).abs() < 0.01 => f,
        _ => return Ok(None),
    };
    let size = match Size::new(first.width, first.height) {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let preset = Preset::live(size);
    let (_, our_extra) = crate::writer::VideoEncoder::standalone(size, fps, preset)?;
    let ours = param_sets(&our_extra);
    let (src_params, src_extra, _) = video_params(&segments[0].path)?;
    if ours.is_empty() || param_sets(&src_extra) != ours {
        return Ok(None);
    }
    let mut infos = Vec::new();
    for s in segments {
        let (_, extra, _) = video_params(&s.path)?;
        if param_sets(&extra) != ours {
            return Ok(None);
        }
        infos.push(probe(&s.path)?);
    }
    let has_audio = infos.iter().all(|i| i.has_audio);
    let mut writer = Mp4Writer::create_copying(dst, src_params, fps, has_audio, chapters)?;
    let total: f64 = segments.iter().map(|s| s.end - s.start).sum();
    let mut next: u64 = 0;
    let tol = 0.5 / fps.get() as f64;
    for (seg, info) in segments.iter().zip(&infos) {
        let end = seg.end.min(info.duration_s);
        let k_a = info.keyframes.iter().copied().find(|k| *k >= seg.start - tol).unwrap_or(end);
        let k_b = if (end - info.duration_s).abs() <= tol { end } else { info.keyframes.iter().copied().rfind(|k| *k <= end + tol).unwrap_or(seg.start) };
        if k_a >= k_b - tol {
            // The whole range lies within one GOP: re-encode it.
            encode_edge(&seg.path, seg.start, end, size, fps, preset, &mut writer, &mut next)?;
        } else {
            encode_edge(&seg.path, seg.start, k_a, size, fps, preset, &mut writer, &mut next)?;
            // The middle: whole GOPs copied, re-stamped onto the output's slots.
            let mut ictx = format::input(&seg.path).map_err(|e| CodecError::Open { path: seg.path.clone(), reason: e.to_string() })?;
            let v = ictx.streams().best(media::Type::Video).ok_or(CodecError::NoStream { path: seg.path.clone(), kind: "video" })?;
            let (vi, tb) = (v.index(), v.time_base());
            let to_tb = |secs: f64| (secs * tb.denominator() as f64 / tb.numerator() as f64).round() as i64;
            let shift = to_tb(next as f64 / fps.get() as f64) - to_tb(k_a);
            let mut gop_start = f64::NEG_INFINITY;
            let mut p = Packet::empty();
            let mut batch = Vec::new();
            // Frames decoded after the keyframe at k_b but shown before it depend on it: they
            // are left out of the copy and re-encoded with the tail.
            let mut tail_start = k_b;
            let mut past_end = 0;
            while next_packet(&mut ictx, &mut p) {
                if p.stream() != vi {
                    continue;
                }
                let Some(pts) = p.pts() else { continue };
                let t = pts as f64 * tb.numerator() as f64 / tb.denominator() as f64;
                if p.is_key() {
                    gop_start = t;
                }
                if gop_start >= k_b - tol {
                    if t < k_b - tol {
                        tail_start = tail_start.min(t);
                    }
                    past_end += 1;
                    if past_end > 16 {
                        break;
                    }
                    continue;
                }
                // Only whole GOPs from k_a, and only frames shown from k_a on (a B-frame shown
                // before k_a but decoded after it belongs to the head, which is re-encoded).
                if gop_start < k_a - tol || t < k_a - tol {
                    continue;
                }
                let mut q = std::mem::replace(&mut p, Packet::empty());
                q.set_pts(Some(pts + shift));
                q.set_dts(q.dts().map(|d| d + shift));
                batch.push((t, q));
            }
            let copied: Vec<Packet> = batch.into_iter().filter(|(t, _)| *t < tail_start - tol).map(|(_, q)| q).collect();
            writer.write_video_raw(copied, tb)?;
            next += ((tail_start - k_a) * fps.get() as f64).round() as u64;
            let k_b = tail_start;
            encode_edge(&seg.path, k_b, end, size, fps, preset, &mut writer, &mut next)?;
        }
        if has_audio {
            let want = ((next as f64 / fps.get() as f64) * AUDIO_RATE as f64).round() as u64;
            AudioPump::open(&seg.path, seg.start, end, 1.0)?.fill(&mut writer, want, true)?;
        }
        if !progress((next as f64 / fps.get() as f64 / total.max(1e-9)).min(0.99)) {
            return Err(cancelled(dst));
        }
    }
    writer.finish(Vec::new())?;
    progress(1.0);
    Ok(Some(Finalized { duration_s: next as f64 / fps.get() as f64, video_packets: next, audio_packets: 0, bytes: 0 }))
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
            // Durable before it replaces anything: the old version is moved away next.
            if let Err(source) = reel_media::durable::commit(&tmp, dst) {
                let _ = std::fs::remove_file(&tmp);
                return Err(CodecError::Io { path: dst.to_path_buf(), source });
            }
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

use crate::remux::{add_chapters, next_packet};

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
        crate::remux::add_copy_stream(&mut octx, &ist)?;
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
        while next_packet(&mut ictx, &mut p) {
            let Some(Some(o)) = map.get(p.stream()).copied() else {
                continue;
            };
            let itb = tbs[p.stream()];
            let secs = |ts: i64| ts as f64 * itb.numerator() as f64 / itb.denominator() as f64;
            let Some(pts) = p.pts() else { continue };
            let t = secs(pts);
            let keep = if kinds[o] == media::Type::Video {
                if p.is_key() {
                    gop_start = t;
                }
                // Whole GOPs, and only frames shown inside the range (a B-frame shown before a
                // keyframe but decoded after it would land before the start).
                gop_start >= seg.start - 1e-3 && gop_start < seg.end - 1e-3 && t >= seg.start - 1e-3
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

/// Time-stretches mono 48 kHz audio by `speed` with atempo (pitch kept), a chunk at a time.
struct Stretcher {
    graph: filter::Graph,
    pts: i64,
}

impl Stretcher {
    fn new(speed: f64) -> Result<Self, CodecError> {
        let mut g = filter::Graph::new();
        let abuffer = filter::find("abuffer").ok_or(CodecError::MissingEncoder("abuffer filter"))?;
        let sink = filter::find("abuffersink").ok_or(CodecError::MissingEncoder("abuffersink filter"))?;
        g.add(&abuffer, "in", &format!("time_base=1/{AUDIO_RATE}:sample_rate={AUDIO_RATE}:sample_fmt=flt:channel_layout=mono")).ctx(|| "creating the audio filter input".into())?;
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
        g.output("in", 0).and_then(|p| p.input("out", 0)).and_then(|p| p.parse(&chain.join(","))).ctx(|| "building the atempo filter".into())?;
        g.validate().ctx(|| "validating the atempo filter".into())?;
        Ok(Self { graph: g, pts: 0 })
    }

    fn drain(&mut self, out: &mut Vec<f32>) {
        let mut f = frame::Audio::empty();
        if let Some(mut s) = self.graph.get("out") {
            while s.sink().frame(&mut f).is_ok() {
                let n = f.samples();
                out.extend_from_slice(&f.plane::<f32>(0)[..n]);
            }
        }
    }

    /// Feeds `samples`, appending what comes out to `out`.
    fn feed(&mut self, samples: &[f32], out: &mut Vec<f32>) -> Result<(), CodecError> {
        let packed = format::Sample::F32(format::sample::Type::Packed);
        for chunk in samples.chunks(4096) {
            let mut f = frame::Audio::new(packed, chunk.len(), ChannelLayout::MONO);
            f.set_rate(AUDIO_RATE);
            f.plane_mut::<f32>(0)[..chunk.len()].copy_from_slice(chunk);
            f.set_pts(Some(self.pts));
            self.pts += chunk.len() as i64;
            if let Some(mut s) = self.graph.get("in") {
                s.source().add(&f).ctx(|| "feeding the atempo filter".into())?;
            }
            self.drain(out);
        }
        Ok(())
    }

    fn flush(&mut self, out: &mut Vec<f32>) -> Result<(), CodecError> {
        if let Some(mut s) = self.graph.get("in") {
            s.source().flush().ctx(|| "flushing the atempo filter".into())?;
        }
        self.drain(out);
        Ok(())
    }
}

/// One segment's audio, streamed into the writer alongside its video: decoded (any format and
/// layout, see [`AudioReader`]), cut to the segment, stretched to the speed, a frame at a time.
/// Memory stays at a few frames' worth however long the segment is.
struct AudioPump {
    reader: AudioReader,
    to: f64,
    stretch: Option<Stretcher>,
    /// Output samples (48 kHz mono) ready to write.
    ready: Vec<f32>,
    /// Source time the next kept sample stands for.
    at: f64,
    ended: bool,
}

impl AudioPump {
    fn open(path: &Path, from: f64, to: f64, speed: f64) -> Result<Self, CodecError> {
        let mut reader = AudioReader::open(path)?;
        if from > 1.0 {
            reader.seek(from - 1.0)?;
        }
        let stretch = if (speed - 1.0).abs() < 1e-9 { None } else { Some(Stretcher::new(speed)?) };
        Ok(Self { reader, to, stretch, ready: Vec::new(), at: from, ended: false })
    }

    /// Decodes one more run of the segment's samples into `ready`; false at the segment's end.
    fn step(&mut self) -> Result<bool, CodecError> {
        if self.ended {
            return Ok(false);
        }
        let rate = AUDIO_RATE as f64;
        let mut kept = Vec::new();
        match self.reader.next_chunk()? {
            Some((t, samples)) => {
                let end = t + samples.len() as f64 / rate;
                if end > self.at {
                    // A gap in the source before this run: silence, so later audio stays in sync.
                    let gap = ((t - self.at) * rate).round();
                    if gap >= 1.0 {
                        let until = t.min(self.to);
                        kept.resize(((until - self.at) * rate).round().max(0.0) as usize, 0.0);
                    }
                    let skip = ((self.at - t) * rate).round().max(0.0) as usize;
                    let stop = (((self.to - t) * rate).round().max(0.0) as usize).min(samples.len());
                    if skip < stop {
                        kept.extend_from_slice(&samples[skip..stop]);
                    }
                    self.at = self.at.max(t + stop as f64 / rate);
                }
                if end >= self.to {
                    self.ended = true;
                }
            }
            None => self.ended = true,
        }
        match self.stretch.as_mut() {
            Some(s) => {
                s.feed(&kept, &mut self.ready)?;
                if self.ended {
                    s.flush(&mut self.ready)?;
                }
            }
            None => self.ready.extend_from_slice(&kept),
        }
        Ok(!self.ended)
    }

    /// Writes audio until the file holds `want` samples, decoding as needed. With `last`, the
    /// segment is over: what it lacks is filled with silence, what it has beyond is dropped.
    fn fill(&mut self, writer: &mut Mp4Writer, want: u64, last: bool) -> Result<(), CodecError> {
        loop {
            let need = want.saturating_sub(writer.audio_samples()) as usize;
            if need == 0 {
                break;
            }
            if !self.ready.is_empty() {
                let take = need.min(self.ready.len());
                writer.write_audio(&self.ready[..take], AUDIO_RATE, 1)?;
                self.ready.drain(..take);
                continue;
            }
            if !self.step()? && self.ready.is_empty() {
                if last {
                    writer.write_silence(need)?;
                }
                break;
            }
        }
        if last {
            self.ready.clear();
        }
        Ok(())
    }
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
        // The audio follows the video every half second, so the file is interleaved as it
        // is written and no track is ever held whole in memory.
        let mut pump = if has_audio { Some(AudioPump::open(&seg.path, seg.start, seg.end, o.speed)?) } else { None };
        let audio_want = |slots: u64| ((slots as f64 / o.fps.get() as f64) * AUDIO_RATE as f64).round() as u64;
        let half_second = (o.fps.get() as u64 / 2).max(1);
        for f in reader.by_ref() {
            let f = f?;
            let t = base + f.ts.as_secs_f64();
            if t < seg.start - 1e-3 {
                continue;
            }
            if t >= seg.end - 1e-3 {
                break;
            }
            if let Some(p) = pump.as_mut().filter(|_| next.is_multiple_of(half_second)) {
                p.fill(&mut writer, audio_want(next), false)?;
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
        if let Some(p) = pump.as_mut() {
            // Keep audio exactly as long as this segment's video.
            p.fill(&mut writer, audio_want(next), true)?;
        }
        offset += seg_out_len;
    }
    writer.finish(venc.flush()?)?;
    progress(1.0);
    Ok(Finalized { duration_s: next as f64 / o.fps.get() as f64, video_packets: next, audio_packets: 0, bytes: 0 })
}
