//! Library commands: list, search, show, rename, describe, delete, trash, import, open, trim,
//! cut, concat, export, library reindex. Long jobs show a progress bar and stop cleanly on
//! Ctrl-C (nothing half-made stays visible).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use reel_app::Library;

#[derive(Subcommand)]
pub enum LibCmd {
    /// List recordings, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Search titles, descriptions, chapters, slide text and what was said (prefixes and parts
    /// of words match); a hit in what was said comes with its moment and line.
    Search {
        query: String,
        #[arg(long, default_value = "20")]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show one recording (metadata, chapters, edits, comments).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    Rename {
        id: String,
        title: String,
    },
    Describe {
        id: String,
        text: String,
    },
    /// Move a recording to the trash.
    Delete {
        id: String,
    },
    /// The trash: list (default), restore NAME, or empty it for good.
    Trash {
        #[arg(default_value = "list")]
        action: String,
        name: Option<String>,
    },
    /// Import any video ffmpeg can read.
    Import {
        file: PathBuf,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Open a recording in the system's video player.
    Open {
        id: String,
    },
    /// Keep only START..END (seconds). The previous version goes to the trash.
    Trim {
        id: String,
        #[arg(long)]
        start: f64,
        #[arg(long)]
        end: f64,
    },
    /// Remove FROM..TO (seconds), or the words "FIRST…LAST" as the transcript has them (cut on
    /// word boundaries). The previous version goes to the trash.
    Cut {
        id: String,
        #[arg(long, required_unless_present = "words", requires = "to")]
        from: Option<f64>,
        #[arg(long)]
        to: Option<f64>,
        /// "the words" or "first words…last words" (also "...").
        #[arg(long, conflicts_with_all = ["from", "to"])]
        words: Option<String>,
    },
    /// Cut filler words ("um", "uh", a word said twice) and shorten long pauses, from the
    /// transcript; --dry-run lists what would go.
    Tidy {
        id: String,
        #[arg(long)]
        fillers: bool,
        /// Shorten pauses longer than this many seconds to it.
        #[arg(long)]
        silences: Option<f64>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Join recordings into a new one (the originals stay).
    Concat {
        #[arg(required = true, num_args = 2..)]
        ids: Vec<String>,
        #[arg(long)]
        title: String,
    },
    /// Export with the speed baked in (pitch kept), for players without a speed control.
    Export {
        id: String,
        #[arg(long, default_value = "1")]
        speed: f64,
        /// 480p, 720p, 1080p or WxH.
        #[arg(long)]
        size: Option<String>,
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Transcribe a recording on this machine (Whisper; recordings and imports are transcribed
    /// by themselves): its captions, its words in search, its transcript.
    Transcribe {
        id: String,
        /// tiny.en (English, fastest) or base (99 languages, more accurate).
        #[arg(long, default_value = "tiny.en")]
        model: String,
        /// auto, or a two-letter code (en, de, fr…).
        #[arg(long, default_value = "auto")]
        language: String,
        #[arg(long)]
        json: bool,
    },
    /// Print or save a recording's transcript: txt (lines with times), srt, vtt or json (words
    /// with times).
    Transcript {
        id: String,
        #[arg(long, default_value = "txt")]
        format: String,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Attach captions (WebVTT or SRT) to a recording; share pages offer them (key: c).
    Captions {
        id: String,
        file: PathBuf,
    },
    /// Library maintenance: `reindex` rebuilds the search index from the folders; `optimize
    /// [ID]` makes the download copy (faststart, chapters inside) of recordings still as
    /// recorded (all of them without an ID).
    Library {
        action: String,
        id: Option<String>,
    },
}

fn bar(what: &str) -> ProgressBar {
    ProgressBar::new(1000)
        .with_style(ProgressStyle::with_template("{msg} [{bar:30}] {percent}% {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "))
        .with_message(what.to_string())
}

/// Runs a job with a progress bar; Ctrl-C cancels it.
pub(crate) fn with_progress<T, E>(what: &str, f: impl FnOnce(&mut dyn FnMut(f64) -> bool) -> Result<T, E>) -> Result<T>
where
    reel_app::ApiError: From<E>,
{
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
    }
    let b = bar(what);
    let mut cb = |x: f64| {
        b.set_position((x * 1000.0) as u64);
        !stop.load(Ordering::SeqCst)
    };
    let r = f(&mut cb);
    b.finish_and_clear();
    Ok(r.map_err(reel_app::ApiError::from)?)
}

/// After a recording or an import: its transcript, with a progress bar (Ctrl-C skips it). The
/// recording is saved either way; a failure (no model installed) only warns.
pub(crate) fn transcribe_after(lib: &Library, id: &str) {
    if let Err(e) = with_progress("transcribing", |p| reel_app::transcribe::transcribe(lib, id, "tiny.en", "auto", p)) {
        eprintln!("warning: {id} was not transcribed ({e:#}); `reel transcribe {id}` tries again");
    }
}

fn fmt_dur(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

pub fn run(cmd: LibCmd, root: Option<&Path>) -> Result<()> {
    let lib: Library = reel_app::open_library(root)?;
    match cmd {
        LibCmd::List { json } => {
            let list = lib.list().map_err(reel_app::ApiError::from)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                eprintln!("The library is empty. Record with `reel record` (no --output) or `reel import FILE`.");
            } else {
                for e in &list {
                    println!("{}  {:>6}  {}  {}", e.id, fmt_dur(e.duration_s), &e.created[..e.created.len().min(10)], e.title);
                    if let Some(w) = &e.warning {
                        println!("    warning: {w}");
                    }
                }
            }
        }
        LibCmd::Search { query, limit, json } => {
            let hits = lib.search(&query, limit.clamp(1, 1000)).map_err(reel_app::ApiError::from)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&hits)?);
            } else if hits.is_empty() {
                eprintln!("Nothing matches '{query}'.");
            } else {
                for h in &hits {
                    println!("{}  {:>6}  {}", h.id, fmt_dur(h.duration_s), h.title);
                    if let (Some(at), Some(snippet)) = (h.at, &h.snippet) {
                        println!("    at {}  {snippet}", fmt_dur(at));
                    }
                }
            }
        }
        LibCmd::Show { id, json } => {
            let (e, meta) = lib.show(&id).map_err(reel_app::ApiError::from)?;
            let fb = reel_app::feedback(&lib, &e.id)?;
            let published = reel_app::publications(&lib, &e.id).unwrap_or_default();
            if json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"entry": e, "meta": meta, "feedback": fb, "published": published}))?);
            } else {
                println!("{}\n  id       {}\n  created  {}\n  length   {}\n  file     {}", e.title, e.id, e.created, fmt_dur(e.duration_s), e.path.display());
                if let Some(w) = &e.warning {
                    println!("  warning  {w}");
                }
                if let Some(m) = meta {
                    if !m.description.is_empty() {
                        println!("  about    {}", m.description);
                    }
                    for c in &m.chapters {
                        println!("  chapter  {}  {}", fmt_dur(c.start_s), c.title);
                    }
                    for ed in &m.edits {
                        println!("  edit     {} {} ({}; previous version in the trash as {})", ed.at, ed.op, ed.params, ed.previous.as_deref().unwrap_or("-"));
                    }
                }
                for p in &published {
                    let until = p.expires.map(|x| format!(", until {}", reel_app::format_time(x))).unwrap_or_default();
                    println!("  published {} ({}{until}) {}", p.target, p.id, p.url);
                }
                println!("  views    {}", fb.views);
                for c in &fb.comments {
                    let via = c.link.as_deref().map(|l| format!(" (link {l})")).unwrap_or_default();
                    println!("  comment  {}  {}{via}: {}", fmt_dur(c.at_s), c.name, c.body.replace('\n', "\n           "));
                }
                if !fb.reactions.is_empty() {
                    let r: Vec<String> = fb.reactions.iter().map(|r| format!("{} {}", fmt_dur(r.at_s), r.emoji)).collect();
                    println!("  reacted  {}", r.join(", "));
                }
            }
        }
        LibCmd::Captions { id, file } => {
            let p = reel_app::set_captions(&lib, &id, &file)?;
            eprintln!("captions attached: {}", p.display());
        }
        LibCmd::Rename { id, title } => {
            let m = lib.rename(&id, &title).map_err(reel_app::ApiError::from)?;
            eprintln!("renamed {} to \"{}\"", m.id, m.title);
        }
        LibCmd::Describe { id, text } => {
            let m = lib.describe(&id, &text).map_err(reel_app::ApiError::from)?;
            eprintln!("described {}", m.id);
        }
        LibCmd::Delete { id } => {
            let id = reel_app::delete_recording(&lib, &id)?;
            eprintln!("moved {id} to the trash and revoked its links (`reel trash restore {id}` brings the recording back, not the links)");
        }
        LibCmd::Trash { action, name } => match (action.as_str(), name) {
            ("list", _) => {
                let t = lib.trash();
                if t.is_empty() {
                    eprintln!("The trash is empty.");
                }
                for (n, m) in t {
                    println!("{n}  {}", m.map(|m| m.title).unwrap_or_else(|| "(unreadable metadata)".into()));
                }
            }
            ("restore", Some(n)) => {
                let id = lib.restore(&n).map_err(reel_app::ApiError::from)?;
                eprintln!("restored as {id}");
            }
            ("empty", _) => {
                let n = lib.empty_trash().map_err(reel_app::ApiError::from)?;
                eprintln!("deleted {n} item(s) for good");
            }
            (other, _) => anyhow::bail!("trash '{other}': use `reel trash`, `reel trash restore NAME` or `reel trash empty`"),
        },
        LibCmd::Import { file, title, json } => {
            let e = with_progress("importing", |p| lib.import(&file, title.as_deref(), p))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&e)?);
            } else {
                eprintln!("imported as {} \"{}\" ({})", e.id, e.title, fmt_dur(e.duration_s));
            }
            transcribe_after(&lib, &e.id);
        }
        LibCmd::Transcribe { id, model, language, json } => {
            let id = lib.resolve(&id).map_err(reel_app::ApiError::from)?;
            let t0 = std::time::Instant::now();
            let t = with_progress(&format!("transcribing {id}"), |p| reel_app::transcribe::transcribe(&lib, &id, &model, &language, p))?;
            let wall = t0.elapsed().as_secs_f64();
            if json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({"id": id, "model": t.model, "language": t.language, "words": t.words.len(), "seconds": wall}))?);
            } else {
                eprintln!("transcribed {id}: {} words ({}, {}) in {wall:.1} s", t.words.len(), t.model, t.language);
            }
        }
        LibCmd::Transcript { id, format, output } => {
            let t = lib.transcript(&id).map_err(reel_app::ApiError::from)?;
            let Some(t) = t else {
                anyhow::bail!("{id} has no transcript yet; `reel transcribe {id}` makes it");
            };
            let text = match format.as_str() {
                "txt" => t.to_txt(),
                "srt" => t.to_srt(),
                "vtt" => t.to_vtt(),
                "json" => serde_json::to_string_pretty(&t)?,
                other => anyhow::bail!("--format {other}: use txt, srt, vtt or json"),
            };
            match output {
                Some(o) => {
                    reel_app::durable::write(&o, text.as_bytes()).map_err(|e| anyhow::anyhow!("{}: {e}", o.display()))?;
                    eprintln!("wrote {}", o.display());
                }
                None => print!("{text}"),
            }
        }
        LibCmd::Open { id } => {
            let (e, _) = lib.show(&id).map_err(reel_app::ApiError::from)?;
            let opened = std::process::Command::new("xdg-open").arg(&e.path).status().map(|s| s.success()).unwrap_or(false);
            if !opened {
                println!("{}", e.path.display());
                eprintln!("(no desktop opener found; the file is above)");
            }
        }
        LibCmd::Trim { id, start, end } => {
            let m = with_progress("trimming", |p| lib.trim(&id, start, end, p))?;
            eprintln!("trimmed {} to {} (the previous version is in the trash)", m.id, fmt_dur(m.duration_s));
        }
        LibCmd::Cut { id, from, to, words } => {
            let (from, to) = match (words, from, to) {
                (Some(w), _, _) => {
                    let (a, b) = w.split_once('…').or_else(|| w.split_once("...")).unwrap_or((w.as_str(), ""));
                    let span = lib.find_words(&id, a, b, 0.0).map_err(reel_app::ApiError::from)?;
                    eprintln!("the words are at {:.2}–{:.2} s", span.0, span.1);
                    span
                }
                (None, Some(f), Some(t)) => (f, t),
                _ => anyhow::bail!("give --from and --to (seconds), or --words \"FIRST…LAST\""),
            };
            let m = with_progress("cutting", |p| lib.cut(&id, from, to, p))?;
            eprintln!("cut {}: now {} (the previous version is in the trash)", m.id, fmt_dur(m.duration_s));
        }
        LibCmd::Tidy { id, fillers, silences, dry_run } => {
            anyhow::ensure!(fillers || silences.is_some(), "say what to tidy: --fillers, --silences SECONDS, or both");
            let ranges = lib.tidy_ranges(&id, fillers, silences).map_err(reel_app::ApiError::from)?;
            let total: f64 = ranges.iter().map(|(a, b)| b - a).sum();
            for (a, b) in &ranges {
                eprintln!("  {:.2}–{:.2} s", a, b);
            }
            if ranges.is_empty() {
                eprintln!("nothing to tidy");
            } else if dry_run {
                eprintln!("{} cut(s), {total:.1} s in all (nothing changed: --dry-run)", ranges.len());
            } else {
                let m = with_progress("tidying", |p| lib.cut_ranges(&id, &ranges, "tidy", p))?;
                eprintln!("tidied {}: {} cut(s), {total:.1} s shorter, now {} (the previous version is in the trash)", m.id, ranges.len(), fmt_dur(m.duration_s));
            }
        }
        LibCmd::Concat { ids, title } => {
            let e = with_progress("joining", |p| lib.concat(&ids, &title, p))?;
            eprintln!("joined into {} \"{}\" ({})", e.id, e.title, fmt_dur(e.duration_s));
        }
        LibCmd::Export { id, speed, size, output } => {
            let size = size.map(|s| s.parse::<reel_app::Size>()).transpose()?;
            let t0 = std::time::Instant::now();
            let r = with_progress(&format!("exporting at {speed}x"), |p| lib.export(&id, &output, speed, size, false, p))?;
            let wall = t0.elapsed().as_secs_f64();
            eprintln!("wrote {} ({}, {:.1}x real time)", output.display(), fmt_dur(r.duration_s), r.duration_s * speed / wall.max(1e-9));
        }
        LibCmd::Library { action, id } => match action.as_str() {
            "reindex" => {
                let n = lib.reindex().map_err(reel_app::ApiError::from)?;
                eprintln!("index rebuilt: {n} recording(s)");
            }
            "optimize" => {
                let ids = match id {
                    Some(id) => vec![id],
                    None => reel_app::unoptimized(&lib),
                };
                let (mut n, mut failed) = (0, 0);
                for id in &ids {
                    match with_progress(&format!("optimizing {id}"), |p| lib.optimize(id, p)) {
                        Ok(done) => n += usize::from(done),
                        Err(e) => {
                            failed += 1;
                            eprintln!("error: {id}: {e:#}");
                        }
                    }
                }
                eprintln!("{n} of {} recording(s) made faststart with chapters", ids.len());
                anyhow::ensure!(failed == 0, "{failed} recording(s) could not be optimized");
            }
            other => anyhow::bail!("library '{other}': the actions are `reel library reindex` and `reel library optimize [ID]`"),
        },
    }
    Ok(())
}
