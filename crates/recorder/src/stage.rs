//! The stage (slides or screen), live commands, and the recording's timeline.
//!
//! Commands (next/previous slide, go to slide N, switch layout, camera on/off) are stamped with
//! media time when given and applied by the video thread at the first frame slot at or after
//! that time. Every applied change is written at once, one JSON line each, to a sidecar beside
//! the partial file (so a crash keeps it), and on stop becomes `NAME.timeline.json` beside the
//! video; slide changes become chapters, in that file and in the MP4.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, TrySendError};
use reel_codec::decode::VideoFileReader;
use reel_codec::remux::Chapter;
use reel_compose::{Deck, Layout};
use reel_media::{Clock, Fps, VideoFrame};

use crate::RecordError;

/// What is on the stage.
#[derive(Clone, Debug, Default)]
pub enum StageSpec {
    #[default]
    None,
    Slides(Arc<Deck>),
    /// An X11 display (`:0`, `:99`, or `:0+X,Y` for a region's top-left corner) and optionally
    /// the region's size.
    Screen {
        display: String,
        region: Option<reel_media::Size>,
    },
}

/// A live change to the scene.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "action", content = "value")]
pub enum StageCommand {
    Next,
    Prev,
    /// 1-based slide number.
    Goto(usize),
    Layout(Layout),
    /// Camera on (true) or off.
    Camera(bool),
}

impl StageCommand {
    /// Parses a line typed while recording: `n`, `p`, a slide number, `l LAYOUT`, `c on|off`.
    pub fn parse_line(line: &str) -> Option<Result<StageCommand, String>> {
        let line = line.trim();
        let (head, rest) = line.split_once(' ').map(|(h, r)| (h, r.trim())).unwrap_or((line, ""));
        Some(match head {
            "n" | "next" => Ok(StageCommand::Next),
            "p" | "prev" | "previous" => Ok(StageCommand::Prev),
            "l" | "layout" => rest.parse::<Layout>().map(StageCommand::Layout),
            "c" | "camera" => match rest {
                "on" | "" => Ok(StageCommand::Camera(true)),
                "off" => Ok(StageCommand::Camera(false)),
                other => Err(format!("camera '{other}': use c on or c off")),
            },
            _ => match head.parse::<usize>() {
                Ok(n) => Ok(StageCommand::Goto(n)),
                Err(_) => return None,
            },
        })
    }

    /// Checks a command against the deck (slide numbers in range).
    pub fn validate(&self, slides: usize) -> Result<(), String> {
        match self {
            StageCommand::Goto(n) if *n == 0 || *n > slides => Err(if slides == 0 {
                format!("slide {n} is out of range: there is no slide deck (add one)")
            } else {
                format!("slide {n} is out of range: the deck has {slides} slide{}", if slides == 1 { "" } else { "s" })
            }),
            _ => Ok(()),
        }
    }
}

/// One applied change, at the media time of the first frame that shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimelineEvent {
    pub t: f64,
    pub action: String,
    pub value: serde_json::Value,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SlideInfo {
    pub number: usize,
    pub title: String,
    pub text: String,
}

/// `NAME.timeline.json`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Timeline {
    pub version: u32,
    pub duration_s: f64,
    pub events: Vec<TimelineEvent>,
    pub chapters: Vec<Chapter>,
    pub slides: Vec<SlideInfo>,
}

/// The sidecar of applied events beside a partial file.
pub fn events_path(partial: &Path) -> PathBuf {
    let name = partial.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    partial.with_file_name(format!("{name}.events.jsonl"))
}

/// Where the timeline of `output` is kept: `NAME.timeline.json` beside it.
pub fn timeline_path(output: &Path) -> PathBuf {
    let stem = output.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    output.with_file_name(format!("{stem}.timeline.json"))
}

pub(crate) struct EventLog {
    file: Option<std::fs::File>,
}

impl EventLog {
    pub fn create(path: &Path) -> Result<EventLog, RecordError> {
        let file = std::fs::File::create(path).map_err(|e| RecordError::Io { path: path.to_path_buf(), reason: e.to_string() })?;
        Ok(EventLog { file: Some(file) })
    }

    pub fn write(&mut self, e: &TimelineEvent) {
        if let Some(f) = &mut self.file {
            if let Ok(mut line) = serde_json::to_vec(e) {
                line.push(b'\n');
                // A lost event is not worth stopping a recording for; the video is what matters.
                if f.write_all(&line).is_err() {
                    self.file = None;
                }
            }
        }
    }
}

/// Reads the events sidecar (tolerating a torn last line after a crash).
pub fn read_events(path: &Path) -> Vec<TimelineEvent> {
    std::fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// Chapters from slide events: each slide change starts one, titled by the slide.
pub fn chapters(events: &[TimelineEvent], duration_s: f64) -> Vec<Chapter> {
    let starts: Vec<(f64, String)> =
        events.iter().filter(|e| e.action == "slide").map(|e| (e.t, e.value.get("title").and_then(|t| t.as_str()).unwrap_or("Slide").to_string())).collect();
    let mut out: Vec<Chapter> = Vec::new();
    for (i, (t, title)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map(|s| s.0).unwrap_or(duration_s).min(duration_s);
        if end > *t {
            out.push(Chapter { start_s: *t, end_s: end, title: title.clone() });
        }
    }
    out
}

/// Writes the timeline JSON durably.
pub fn write_timeline(path: &Path, tl: &Timeline) -> Result<(), RecordError> {
    reel_media::durable::write_json(path, tl).map_err(|e| RecordError::Io { path: path.to_path_buf(), reason: e.to_string() })
}

/// Screen capture on its own thread: keeps only the newest frames (a bounded queue of 2 where a
/// full queue drops the oldest), since the compositor only ever shows the latest.
pub(crate) fn spawn_screen(display: &str, region: Option<reel_media::Size>, fps: Fps, clock: Clock) -> Result<(JoinHandle<()>, Receiver<VideoFrame>), RecordError> {
    let mut reader = VideoFileReader::open_screen(display, fps.get(), region)?;
    let (tx, rx) = bounded::<VideoFrame>(2);
    let drain = rx.clone();
    let h = std::thread::Builder::new()
        .name("reel-screen".into())
        .spawn(move || {
            while !clock.is_stopped() {
                let Some(Ok(frame)) = reader.next() else { break };
                let mut f = frame;
                loop {
                    match tx.try_send(f) {
                        Ok(()) => break,
                        Err(TrySendError::Full(back)) => {
                            let _ = drain.try_recv();
                            f = back;
                        }
                        Err(TrySendError::Disconnected(_)) => return,
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
        .map_err(|e| RecordError::Pipeline(e.to_string()))?;
    Ok((h, rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_commands_parse() {
        assert_eq!(StageCommand::parse_line("n"), Some(Ok(StageCommand::Next)));
        assert_eq!(StageCommand::parse_line("p"), Some(Ok(StageCommand::Prev)));
        assert_eq!(StageCommand::parse_line("3"), Some(Ok(StageCommand::Goto(3))));
        assert_eq!(StageCommand::parse_line("l side"), Some(Ok(StageCommand::Layout(Layout::Side))));
        assert_eq!(StageCommand::parse_line("c off"), Some(Ok(StageCommand::Camera(false))));
        assert!(matches!(StageCommand::parse_line("l grid"), Some(Err(_))));
        assert_eq!(StageCommand::parse_line("pause"), None);
        assert!(StageCommand::Goto(9).validate(5).unwrap_err().contains("5 slides"));
        assert!(StageCommand::Goto(0).validate(5).is_err());
        assert!(StageCommand::Goto(5).validate(5).is_ok());
    }

    #[test]
    fn chapters_follow_slide_changes() {
        let ev = |t: f64, n: usize, title: &str| TimelineEvent { t, action: "slide".into(), value: serde_json::json!({"slide": n, "title": title}) };
        let events = vec![ev(0.0, 1, "Intro"), TimelineEvent { t: 0.5, action: "layout".into(), value: "side".into() }, ev(2.0, 2, "Numbers"), ev(5.0, 3, "End")];
        let c = chapters(&events, 6.0);
        assert_eq!(c.len(), 3);
        assert_eq!((c[1].start_s, c[1].end_s, c[1].title.as_str()), (2.0, 5.0, "Numbers"));
        assert_eq!(c[2].end_s, 6.0);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever is typed while recording: a command or a clear error, never a panic.
        #[test]
        fn any_typed_line_is_a_command_or_an_error(line in "\\PC{0,30}|(n|p|l|c|layout|camera|[0-9]{1,6}) ?\\PC{0,10}") {
            if let Some(Ok(c)) = StageCommand::parse_line(&line) {
                let _ = c.validate(10);
            }
        }
    }
}
