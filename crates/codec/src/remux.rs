//! Stream-copy remuxing: fragmented recording → final MP4 with the index first, chapters and
//! title included. Used on every stop and by `reel recover` on files left by a crash (a
//! truncated fragmented file is read up to its last complete fragment).
//!
//! The result is written to a temporary name beside the destination and renamed into place,
//! so a crash or a full disk never leaves a half-written final file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ff::{format, media, Dictionary, Packet, Rational};
use ffmpeg_next as ff;

use crate::{init, CodecError, Ctx};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Chapter {
    pub start_s: f64,
    pub end_s: f64,
    pub title: String,
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Finalized {
    /// Duration of the longest stream, from the packets copied.
    pub duration_s: f64,
    pub video_packets: u64,
    pub audio_packets: u64,
    pub bytes: u64,
}

/// Adds an output stream that copies `ist` as it is (stream copy).
pub(crate) fn add_copy_stream(octx: &mut format::context::Output, ist: &ff::format::stream::Stream) -> Result<(), CodecError> {
    let mut ost = octx.add_stream(ff::encoder::find(ff::codec::Id::None)).ctx(|| "adding a stream".into())?;
    ost.set_parameters(ist.parameters());
    // SAFETY: parameters belong to the stream just added; a zero tag lets the muxer choose.
    unsafe {
        (*ost.parameters().as_mut_ptr()).codec_tag = 0;
    }
    ost.set_time_base(ist.time_base());
    Ok(())
}

/// Writes chapters (millisecond precision) into an output before its header.
pub(crate) fn add_chapters(octx: &mut format::context::Output, chapters: &[Chapter]) -> Result<(), CodecError> {
    for (i, c) in chapters.iter().enumerate() {
        let ms = |s: f64| (s * 1000.0).round() as i64;
        octx.add_chapter(i as i64, Rational(1, 1000), ms(c.start_s), ms(c.end_s), &c.title).ctx(|| "adding a chapter".into())?;
    }
    Ok(())
}

/// Reads the next packet; false at the end of the file or at the first unreadable byte (a
/// truncated file ends where its last complete packet does).
pub(crate) fn next_packet(ictx: &mut format::context::Input, p: &mut Packet) -> bool {
    // av_read_frame does not release what the packet held: without this, every packet read
    // into a reused one stayed in memory (a 2-hour import held over a gigabyte).
    *p = Packet::empty();
    loop {
        match p.read(ictx) {
            Ok(()) => return true,
            Err(ff::Error::Other { errno: ff::util::error::EAGAIN }) => continue,
            Err(_) => return false,
        }
    }
}

/// Copies `src` into `dst` (faststart MP4) with chapters and an optional title.
pub fn finalize(src: &Path, dst: &Path, chapters: &[Chapter], title: Option<&str>) -> Result<Finalized, CodecError> {
    init();
    let tmp = tmp_path(dst);
    let r = copy(src, &tmp, chapters, title);
    match r {
        Ok(mut info) => {
            // Synced before the rename and the folder after it: the caller deletes the
            // crash-safe partial next, so the final file must survive a power cut first.
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

/// Makes `src` (a complete fragmented MP4, playable as it is) the final file `dst` without a
/// copy: synced, renamed, its folder synced. What finishing a recording does when the disk has
/// no room for a second copy, and what a recording into the library does at Stop (the link is
/// ready at once; `Library::optimize` makes the faststart copy with chapters afterwards). The
/// chapters and title are not embedded then (the timeline keeps them). `duration_s`: the
/// recorder's own figure (in constant time), else the packets are scanned.
pub fn finalize_in_place(src: &Path, dst: &Path, duration_s: Option<f64>) -> Result<Finalized, CodecError> {
    init();
    let duration_s = match duration_s {
        Some(d) => d,
        None => scan_duration(src)?,
    };
    reel_media::durable::commit(src, dst).map_err(|source| CodecError::Io { path: dst.to_path_buf(), source })?;
    let bytes = std::fs::metadata(dst).map(|m| m.len()).unwrap_or(0);
    Ok(Finalized { duration_s, video_packets: 0, audio_packets: 0, bytes })
}

/// Bytes free for this user on the filesystem holding `path` (`None`: unknown).
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let dir = if path.is_dir() { path } else { path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")) };
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct it is given and reads the path.
    unsafe {
        let mut s: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(c.as_ptr(), &mut s) == 0).then(|| s.f_bavail as u64 * s.f_frsize as u64)
    }
}

/// The top-level boxes of an MP4 (type, offset, size), from their headers alone: up to `max`
/// of them, none starting past `until` bytes. A damaged size ends the list.
fn top_boxes(f: &mut std::fs::File, max: usize, until: u64) -> std::io::Result<Vec<([u8; 4], u64, u64)>> {
    use std::io::{Read, Seek, SeekFrom};
    let len = f.metadata()?.len();
    let mut at = 0u64;
    let mut out = Vec::new();
    while out.len() < max && at <= until && at.saturating_add(8) <= len {
        f.seek(SeekFrom::Start(at))?;
        let mut h = [0u8; 16];
        f.read_exact(&mut h[..8])?;
        let kind: [u8; 4] = [h[4], h[5], h[6], h[7]];
        let size = match u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64 {
            1 => {
                if f.read_exact(&mut h[8..16]).is_err() {
                    break;
                }
                match u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]) {
                    s if s >= 16 => s,
                    _ => break,
                }
            }
            0 => len - at,
            s => s,
        };
        if size < 8 {
            break;
        }
        out.push((kind, at, size.min(len - at)));
        at = at.saturating_add(size);
    }
    Ok(out)
}

/// Whether `path` is a fragmented MP4 (movie fragments after the header, as a recording is
/// written) rather than one whole movie: read from the top-level box headers alone.
pub fn is_fragmented(path: &Path) -> std::io::Result<bool> {
    let mut f = std::fs::File::open(path)?;
    // A handful of boxes come before the media (ftyp, moov, free…); a fragment says so at once.
    for (kind, _, _) in top_boxes(&mut f, 64, u64::MAX)? {
        match &kind {
            b"moof" | b"sidx" | b"mfra" => return Ok(true),
            b"mdat" => return Ok(false),
            _ => {}
        }
    }
    Ok(false)
}

/// Copies the start of the fragmented MP4 `src` into `dst`: its header and its first
/// fragments, about `max_bytes` of them (a fragmented file cut after any fragment is whole).
/// Reading a long recording's header and first picture from this costs the same whatever its
/// length (ffmpeg reads every fragment's header when it opens the whole file).
pub fn write_head(src: &Path, dst: &Path, max_bytes: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(src)?;
    let mut end = 0u64;
    let mut fragments = 0;
    for (kind, at, size) in top_boxes(&mut f, 4096, max_bytes)? {
        if &kind == b"mfra" {
            break;
        }
        if &kind == b"moof" {
            if fragments > 0 && at + size > max_bytes {
                break;
            }
            fragments += 1;
        }
        end = at + size;
    }
    f.seek(SeekFrom::Start(0))?;
    let mut out = std::fs::File::create(dst)?;
    std::io::copy(&mut f.take(end), &mut out)?;
    Ok(())
}

/// The temporary name used while writing `dst` (hidden, same folder, so the rename is atomic).
pub fn tmp_path(dst: &Path) -> PathBuf {
    let name = dst.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dst.with_file_name(format!(".{name}.reel-tmp.mp4"))
}

fn copy(src: &Path, dst: &Path, chapters: &[Chapter], title: Option<&str>) -> Result<Finalized, CodecError> {
    let mut ictx = format::input(src).map_err(|e| CodecError::Open { path: src.to_path_buf(), reason: e.to_string() })?;
    let mut octx = format::output_as(dst, "mp4").map_err(|e| CodecError::Create { path: dst.to_path_buf(), reason: e.to_string() })?;
    let mut map: Vec<Option<usize>> = Vec::new();
    let mut kinds = Vec::new();
    for ist in ictx.streams() {
        let kind = ist.parameters().medium();
        if kind != media::Type::Video && kind != media::Type::Audio {
            map.push(None);
            continue;
        }
        add_copy_stream(&mut octx, &ist)?;
        map.push(Some(kinds.len()));
        kinds.push(kind);
    }
    if kinds.is_empty() {
        return Err(CodecError::NoStream { path: src.to_path_buf(), kind: "audio or video" });
    }
    add_chapters(&mut octx, chapters)?;
    if let Some(t) = title {
        let mut md = Dictionary::new();
        md.set("title", t);
        octx.set_metadata(md);
    }
    let mut opts = Dictionary::new();
    opts.set("movflags", "faststart");
    octx.write_header_with(opts).map_err(|e| CodecError::Create { path: dst.to_path_buf(), reason: e.to_string() })?;

    let in_tbs: Vec<Rational> = ictx.streams().map(|s| s.time_base()).collect();
    let out_tbs: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();
    let mut info = Finalized::default();
    let mut end = vec![0f64; kinds.len()];
    let mut packet = Packet::empty();
    // A truncated (crashed) fragmented file ends in a partial fragment: keep what came before.
    while next_packet(&mut ictx, &mut packet) {
        let ist = packet.stream();
        let Some(Some(ost)) = map.get(ist).copied() else { continue };
        let itb = in_tbs[ist];
        if let Some(pts) = packet.pts() {
            let t = (pts + packet.duration()) as f64 * itb.numerator() as f64 / itb.denominator() as f64;
            end[ost] = end[ost].max(t);
        }
        packet.rescale_ts(itb, out_tbs[ost]);
        packet.set_position(-1);
        packet.set_stream(ost);
        packet.write_interleaved(&mut octx).ctx(|| format!("writing {}", dst.display()))?;
        match kinds[ost] {
            media::Type::Video => info.video_packets += 1,
            _ => info.audio_packets += 1,
        }
    }
    if info.video_packets + info.audio_packets == 0 {
        return Err(CodecError::Invalid { path: src.to_path_buf(), reason: "no complete fragment: nothing was recorded".into() });
    }
    octx.write_trailer().ctx(|| format!("closing {}", dst.display()))?;
    info.duration_s = end.iter().cloned().fold(0.0, f64::max);
    Ok(info)
}

/// Duration from the packets themselves (works on truncated fragmented files, whose container
/// header knows no duration). Reads packets only; decodes nothing.
pub fn scan_duration(path: &Path) -> Result<f64, CodecError> {
    init();
    let mut ictx = format::input(path).map_err(|e| CodecError::Open { path: path.to_path_buf(), reason: e.to_string() })?;
    let tbs: Vec<Rational> = ictx.streams().map(|s| s.time_base()).collect();
    let mut end = 0f64;
    let mut packet = Packet::empty();
    while next_packet(&mut ictx, &mut packet) {
        if let (Some(pts), Some(tb)) = (packet.pts(), tbs.get(packet.stream())) {
            end = end.max((pts + packet.duration()) as f64 * tb.numerator() as f64 / tb.denominator() as f64);
        }
    }
    Ok(end)
}

/// Container duration as ffmpeg reports it.
pub fn duration(path: &Path) -> Result<Duration, CodecError> {
    init();
    let ictx = format::input(path).map_err(|e| CodecError::Open { path: path.to_path_buf(), reason: e.to_string() })?;
    let d = ictx.duration();
    Ok(Duration::from_micros(d.max(0) as u64))
}

#[cfg(test)]
mod tests {
    /// Box headers from any bytes: an answer, never a panic or an endless walk.
    #[test]
    fn box_walking_survives_damaged_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.mp4");
        let cases: [&[u8]; 6] = [
            b"",
            b"garbage that is not an mp4 at all",
            &[0, 0, 0, 1, b'm', b'o', b'o', b'v', 0, 0, 0, 0, 0, 0, 0, 9],
            &[0, 0, 0, 1, b'f', b't', b'y', b'p', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 8, b'm', b'o', b'o', b'f'],
            &[0, 0, 0, 0, b'm', b'd', b'a', b't', 1, 2, 3],
            &[0, 0, 0, 8, b'f', b't', b'y', b'p', 0, 0, 0, 8, b'm', b'o', b'o', b'v', 0, 0, 0, 8, b'm', b'o', b'o', b'f'],
        ];
        for (i, bytes) in cases.iter().enumerate() {
            std::fs::write(&p, bytes).unwrap();
            let frag = super::is_fragmented(&p).unwrap();
            assert_eq!(frag, i == 5, "case {i}");
            super::write_head(&p, &d.path().join("head.mp4"), 1 << 20).unwrap();
            assert!(std::fs::metadata(d.path().join("head.mp4")).unwrap().len() <= bytes.len() as u64);
        }
    }
}
