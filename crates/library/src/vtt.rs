//! WebVTT: chapters made from a recording's slide changes, and captions the creator attaches
//! (`reel captions ID FILE`, WebVTT or SRT). Players read both as `<track>`s; published pages
//! carry them as files.
//!
//! Captions follow edits: a trim or cut maps every cue through the kept ranges (cues in a
//! removed part go, cues across a cut are clipped), as chapters and timeline events are.

use reel_codec::remux::Chapter;

/// Captions larger than this are not subtitles.
pub const MAX_CAPTIONS_BYTES: usize = 4 << 20;

pub fn timestamp(t: f64) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// `HH:MM:SS.mmm` or `MM:SS.mmm` (and SRT's comma) → seconds.
fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.trim().replace(',', ".");
    let (hms, frac) = s.split_once('.')?;
    if frac.len() != 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parts: Vec<u64> = hms.split(':').map(|p| if p.is_empty() || p.len() > 3 { None } else { p.parse().ok() }).collect::<Option<_>>()?;
    let (h, m, sec) = match parts.as_slice() {
        [m, s] => (0, *m, *s),
        [h, m, s] => (*h, *m, *s),
        _ => return None,
    };
    if m >= 60 || sec >= 60 {
        return None;
    }
    Some((h * 3600 + m * 60 + sec) as f64 + frac.parse::<f64>().ok()? / 1000.0)
}

/// A timing line: start, end, and the cue settings after them.
fn parse_timing(line: &str) -> Option<(f64, f64, &str)> {
    let (a, rest) = line.split_once("-->")?;
    let rest = rest.trim_start();
    let (b, settings) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    Some((parse_timestamp(a)?, parse_timestamp(b)?, settings.trim()))
}

/// The chapters track: one cue per chapter, titled by its slide.
pub fn chapters_vtt(chapters: &[Chapter]) -> String {
    let mut o = String::from("WEBVTT\n");
    for (i, c) in chapters.iter().enumerate() {
        // A title cannot hold a blank line or "-->", which would end or confuse the cue.
        let title = c.title.replace("-->", "→").lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
        o.push_str(&format!("\n{}\n{} --> {}\n{}\n", i + 1, timestamp(c.start_s), timestamp(c.end_s), title));
    }
    o
}

/// Checks captions (WebVTT, or SRT which is converted) and returns them as WebVTT.
pub fn normalize_captions(bytes: &[u8]) -> Result<String, String> {
    if bytes.len() > MAX_CAPTIONS_BYTES {
        return Err(format!("it is {} MB; captions files are far smaller (limit {} MB)", bytes.len() >> 20, MAX_CAPTIONS_BYTES >> 20));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 text; save it as UTF-8 WebVTT (.vtt) or SRT (.srt)".to_string())?;
    let text = text.trim_start_matches('\u{feff}').replace("\r\n", "\n").replace('\r', "\n");
    let is_vtt = text.starts_with("WEBVTT") && text[6..].starts_with([' ', '\t', '\n']) || text == "WEBVTT";
    let mut cues = 0;
    let mut out = String::new();
    if is_vtt {
        for line in text.lines() {
            if line.contains("-->") {
                parse_timing(line).ok_or_else(|| format!("'{line}' is not a cue timing like 00:00:01.000 --> 00:00:03.500"))?;
                cues += 1;
            }
        }
        out = text.clone();
    } else {
        // SRT: numbered cues with comma decimals; WebVTT wants a header and dots.
        out.push_str("WEBVTT\n");
        for line in text.lines() {
            if line.contains("-->") {
                let (a, b, _) = parse_timing(line).ok_or_else(|| format!("'{line}' is not a cue timing like 00:00:01,000 --> 00:00:03,500"))?;
                out.push_str(&format!("{} --> {}\n", timestamp(a), timestamp(b)));
                cues += 1;
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if cues == 0 {
        return Err("it has no cues; expected WebVTT (starting with WEBVTT) or SRT".into());
    }
    Ok(out)
}

/// Maps captions through kept ranges (source seconds) onto the edited timeline.
pub fn shift_captions(vtt: &str, keep: &[(f64, f64)]) -> String {
    // Blocks are separated by blank lines; the header block (and NOTE/STYLE blocks) stay.
    let mut out = String::new();
    for block in vtt.split("\n\n") {
        let lines: Vec<&str> = block.lines().collect();
        let Some(ti) = lines.iter().position(|l| l.contains("-->")) else {
            if !block.trim().is_empty() {
                out.push_str(block.trim_end_matches('\n'));
                out.push_str("\n\n");
            }
            continue;
        };
        let Some((s, e, settings)) = parse_timing(lines[ti]) else { continue };
        let mut offset = 0.0;
        for &(a, b) in keep {
            let (cs, ce) = (s.max(a), e.min(b));
            if ce - cs > 0.05 {
                let mut cue: Vec<String> = lines[..ti].iter().map(|l| l.to_string()).collect();
                let timing = format!("{} --> {}", timestamp(offset + cs - a), timestamp(offset + ce - a));
                cue.push(if settings.is_empty() { timing } else { format!("{timing} {settings}") });
                cue.extend(lines[ti + 1..].iter().map(|l| l.to_string()));
                out.push_str(&cue.join("\n"));
                out.push_str("\n\n");
            }
            offset += b - a;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapters_become_cues() {
        let v = chapters_vtt(&[Chapter { start_s: 0.0, end_s: 4.0, title: "Intro".into() }, Chapter { start_s: 4.0, end_s: 3725.5, title: "Roadmap\n\n--> Q3".into() }]);
        assert_eq!(v, "WEBVTT\n\n1\n00:00:00.000 --> 00:00:04.000\nIntro\n\n2\n00:00:04.000 --> 01:02:05.500\nRoadmap → Q3\n");
    }

    #[test]
    fn srt_is_converted_and_nonsense_refused() {
        let v = normalize_captions(b"1\r\n00:00:01,000 --> 00:00:02,500\r\nHello\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nWorld\r\n").unwrap();
        assert!(v.starts_with("WEBVTT\n1\n00:00:01.000 --> 00:00:02.500\nHello\n"), "{v}");
        assert!(normalize_captions(b"WEBVTT\n\n00:01.000 --> 00:02.000 line:0\nHi\n").is_ok());
        assert!(normalize_captions(b"\xff\xfe\x00").unwrap_err().contains("UTF-8"));
        assert!(normalize_captions(b"WEBVTT\n\n").unwrap_err().contains("no cues"));
        assert!(normalize_captions(b"WEBVTT\n\n00:01 --> soon\nHi\n").unwrap_err().contains("not a cue timing"));
        assert!(normalize_captions(b"just some text").unwrap_err().contains("no cues"));
        assert!(normalize_captions(&vec![b'a'; MAX_CAPTIONS_BYTES + 1]).unwrap_err().contains("limit"));
    }

    #[test]
    fn captions_follow_a_cut() {
        let v = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\none\n\n00:00:04.000 --> 00:00:07.000 align:start\ntwo\n\n00:00:08.000 --> 00:00:09.000\nthree\n";
        // Keep 0–5 and 6–10: "two" is clipped into two cues around the cut, "three" moves 1 s earlier.
        let s = shift_captions(v, &[(0.0, 5.0), (6.0, 10.0)]);
        assert_eq!(
            s,
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\none\n\n00:00:04.000 --> 00:00:05.000 align:start\ntwo\n\n\
             00:00:05.000 --> 00:00:06.000 align:start\ntwo\n\n00:00:07.000 --> 00:00:08.000\nthree\n\n"
        );
    }
}
