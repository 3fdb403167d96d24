//! Library tests on real SQLite files and real folders (no video needed for these).

use super::*;

fn meta(id: &str, title: &str, desc: &str, chapters: &[&str], slides: &[&str]) -> Meta {
    Meta {
        version: META_VERSION,
        id: id.into(),
        title: title.into(),
        description: desc.into(),
        created: format!("2026-11-{:02}T10:00:00Z", 1 + id.len() % 28),
        duration_s: 60.0,
        size_bytes: 0,
        width: 1280,
        height: 720,
        chapters: chapters.iter().enumerate().map(|(i, t)| Chapter { start_s: i as f64, end_s: i as f64 + 1.0, title: t.to_string() }).collect(),
        slide_texts: slides.iter().map(|s| s.to_string()).collect(),
        timeline: vec![],
        edits: vec![],
        source: None,
        optimized: None,
        captions_from: None,
    }
}

fn put(root: &Path, m: &Meta) {
    let d = root.join("recordings").join(&m.id);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("meta.json"), serde_json::to_vec(m).unwrap()).unwrap();
    std::fs::write(d.join("video.mp4"), b"stand-in").unwrap();
}

fn library() -> (tempfile::TempDir, Library) {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("recordings")).unwrap();
    put(d.path(), &meta("a1", "Quarterly roadmap review", "Where we are going in Q3", &["Intro", "Hiring plan"], &["Roadmap 2027"]));
    put(d.path(), &meta("b22", "Bug report: keyboard shortcuts", "The shortcut for next slide is broken", &[], &[]));
    put(d.path(), &meta("c333", "Design crit", "Roadmap colours and the new logo", &[], &["Café au lait palette"]));
    let lib = Library::open(d.path()).unwrap();
    (d, lib)
}

#[test]
fn search_prefix_ranked_and_substring() {
    let (_d, lib) = library();
    let ids = |q: &str| lib.search(q, 10).unwrap().into_iter().map(|h| h.id).collect::<Vec<_>>();
    // Title matches outrank description matches.
    assert_eq!(ids("roadmap"), vec!["a1", "c333"]);
    // Prefix matching.
    assert_eq!(ids("quart"), vec!["a1"]);
    assert_eq!(ids("hiring"), vec!["a1"], "chapter titles are searched");
    assert_eq!(ids("2027"), vec!["a1"], "slide text is searched");
    assert_eq!(ids("cafe"), vec!["c333"], "diacritics folded");
    // Substring fallback: "board" is inside "keyboard".
    assert_eq!(ids("board"), vec!["b22"]);
    assert!(ids("zebra").is_empty());
    assert!(ids("  ").is_empty());
    assert!(ids("\"*(").is_empty(), "FTS syntax in a query is not an error");
}

#[test]
fn index_is_a_cache_rebuilt_from_folders() {
    let (d, lib) = library();
    drop(lib);
    // Corrupt the index: it is set aside and rebuilt.
    std::fs::write(d.path().join("index.sqlite"), b"this is not a database").unwrap();
    let _ = std::fs::remove_file(d.path().join("index.sqlite-wal"));
    let lib = Library::open(d.path()).unwrap();
    assert_eq!(lib.list().unwrap().len(), 3);
    assert_eq!(lib.search("roadmap", 10).unwrap().len(), 2);
    // Delete it: rebuilt too.
    drop(lib);
    std::fs::remove_file(d.path().join("index.sqlite")).unwrap();
    let lib = Library::open(d.path()).unwrap();
    assert_eq!(lib.list().unwrap().len(), 3);
}

#[test]
fn corrupt_meta_still_lists_with_a_warning_and_nothing_is_deleted() {
    let (d, lib) = library();
    drop(lib);
    let bad = d.path().join("recordings/b22/meta.json");
    std::fs::write(&bad, b"{ not json").unwrap();
    std::fs::remove_file(d.path().join("index.sqlite")).unwrap();
    let lib = Library::open(d.path()).unwrap();
    let list = lib.list().unwrap();
    let e = list.iter().find(|e| e.id == "b22").expect("still listed");
    assert_eq!(e.status, "metadata_unreadable");
    assert!(e.warning.as_deref().unwrap_or("").contains("meta.json is unreadable"));
    assert!(d.path().join("recordings/b22/video.mp4").exists(), "nothing deleted");
    // Missing video: listed as broken with the way out.
    std::fs::remove_file(d.path().join("recordings/a1/video.mp4")).unwrap();
    let (e, _) = lib.show("a1").unwrap();
    assert_eq!(e.status, "video_missing");
    assert!(e.warning.unwrap().contains("delete the recording"));
}

#[test]
fn rename_describe_delete_restore_empty() {
    let (d, lib) = library();
    lib.rename("a1", "Roadmap, final").unwrap();
    assert_eq!(lib.search("final", 10).unwrap()[0].id, "a1");
    lib.describe("c3", "about the zeppelin").unwrap();
    assert_eq!(lib.search("zeppelin", 10).unwrap()[0].id, "c333", "unique id prefixes resolve");
    assert!(matches!(lib.rename("zz", "x"), Err(LibraryError::NotFound(_))));
    assert!(matches!(lib.rename("a1", "  "), Err(LibraryError::Invalid(_))));
    assert!(matches!(lib.rename("../etc", "x"), Err(LibraryError::NotFound(_))));
    lib.delete("a1").unwrap();
    assert!(lib.search("roadmap", 10).unwrap().iter().all(|h| h.id != "a1"));
    assert_eq!(lib.trash().len(), 1);
    assert!(d.path().join("trash/a1/video.mp4").exists(), "delete goes to the trash");
    lib.restore("a1").unwrap();
    assert_eq!(lib.show("a1").unwrap().0.title, "Roadmap, final");
    lib.delete("b22").unwrap();
    assert_eq!(lib.empty_trash().unwrap(), 1);
    assert!(lib.trash().is_empty());
}

#[test]
fn interrupted_jobs_are_cleaned_on_open() {
    let (d, lib) = library();
    let (_, job) = lib.job_dir("import").unwrap();
    std::fs::write(job.join("video.mp4"), b"half").unwrap();
    // Pretend it belonged to a process that died.
    std::fs::write(job.join("job.json"), br#"{"pid": 4000000, "kind": "import"}"#).unwrap();
    drop(lib);
    let lib = Library::open(d.path()).unwrap();
    assert!(!job.exists(), "a dead import's temp folder is removed");
    assert_eq!(lib.list().unwrap().len(), 3, "nothing half-imported is visible");
}

#[test]
fn chapters_follow_cuts() {
    let ch = vec![Chapter { start_s: 0.0, end_s: 4.0, title: "A".into() }, Chapter { start_s: 4.0, end_s: 10.0, title: "B".into() }];
    let c = shift_chapters(&ch, &[(0.0, 2.0), (6.0, 10.0)]);
    assert_eq!(c.len(), 2);
    assert_eq!((c[0].title.as_str(), c[0].start_s, c[0].end_s), ("A", 0.0, 2.0));
    assert_eq!((c[1].title.as_str(), c[1].start_s, c[1].end_s), ("B", 2.0, 6.0));
}

/// Regression: an edit kept the replaced version in `trash/ID@SECOND`; a second edit in the same
/// second reused the folder and overwrote the first kept version.
#[test]
fn two_kept_versions_in_the_same_second_get_their_own_trash_folders() {
    let d = tempfile::tempdir().unwrap();
    let lib = Library::open(d.path()).unwrap();
    let (a, pa) = lib.new_trash_dir("abc@20261125-120000").unwrap();
    let (b, pb) = lib.new_trash_dir("abc@20261125-120000").unwrap();
    assert_eq!(a, "abc@20261125-120000");
    assert_eq!(b, "abc@20261125-120000~2");
    assert!(pa.is_dir() && pb.is_dir() && pa != pb);
}

/// A version an edit replaced (`trash/ID@STAMP`) comes back as a recording of its own with a
/// proper id, not one named after the trash folder.
#[test]
fn a_replaced_version_is_restored_under_a_new_id() {
    let (d, lib) = library();
    let kept = d.path().join("trash/a1@20261125-120000~2");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::copy(d.path().join("recordings/a1/meta.json"), kept.join("meta.json")).unwrap();
    std::fs::write(kept.join("video.mp4"), b"stand-in").unwrap();
    let id = lib.restore("a1@20261125-120000~2").unwrap();
    assert!(id != "a1" && !id.contains(['@', '~']), "a fresh id: {id}");
    assert_eq!(lib.show(&id).unwrap().0.id, id, "its metadata carries the new id");
    assert!(lib.show("a1").is_ok(), "the edited recording stays");
}

/// A rename made while a trim runs is kept (the edit re-reads the metadata under the lock
/// before it swaps the new version in), captions are shifted, other files come along, and
/// the old version is whole in the trash.
#[test]
fn a_rename_made_while_a_trim_runs_is_kept() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("recordings/r1");
    std::fs::create_dir_all(&dir).unwrap();
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=4", "-f", "lavfi", "-i", "sine=frequency=440:duration=4"])
        .args(["-c:v", "libx264", "-g", "25", "-c:a", "aac", "-shortest"])
        .arg(dir.join("video.mp4"))
        .status()
        .expect("ffmpeg");
    assert!(st.success());
    let mut m = meta("r1", "Before", "", &[], &[]);
    m.duration_s = 4.0;
    std::fs::write(dir.join("meta.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    std::fs::write(dir.join("captions.vtt"), "WEBVTT\n\n00:00:02.000 --> 00:00:02.500\nhello\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "kept").unwrap();
    let lib = Library::open(d.path()).unwrap();
    let mut renamed = false;
    let out = lib
        .trim("r1", 1.0, 3.0, &mut |_| {
            if !renamed {
                lib.rename("r1", "Renamed while trimming").unwrap();
                renamed = true;
            }
            true
        })
        .unwrap();
    assert!(renamed, "the trim reported progress, and the rename happened during it");
    assert_eq!(out.title, "Renamed while trimming");
    let now = read_meta(&dir).unwrap();
    assert_eq!(now.title, "Renamed while trimming", "the rename is not lost");
    assert_eq!(now.edits.len(), 1);
    assert!((now.duration_s - 2.0).abs() < 0.2, "{}", now.duration_s);
    assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "kept", "other files come along");
    assert!(std::fs::read_to_string(dir.join("captions.vtt")).unwrap().contains("00:00:01.000 --> 00:00:01.500"), "captions shifted");
    assert!(!dir.join("job.json").exists());
    let trash = lib.trash();
    assert_eq!(trash.len(), 1);
    let kept = d.path().join("trash").join(&trash[0].0);
    assert!(kept.join("video.mp4").exists() && kept.join("meta.json").exists() && kept.join("notes.txt").exists(), "the old version is whole in the trash");
    assert_eq!(std::fs::read_dir(d.path().join("tmp")).unwrap().count(), 0, "no job left behind");
}

#[test]
fn optimize_makes_the_download_copy_and_a_trim_begun_before_it_still_applies() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("recordings/r1");
    std::fs::create_dir_all(&dir).unwrap();
    // As a recording is at Stop: fragments, no animated preview yet.
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=6", "-f", "lavfi", "-i", "sine=frequency=440:duration=6"])
        .args(["-c:v", "libx264", "-g", "25", "-c:a", "aac", "-shortest", "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "250000"])
        .arg(d.path().join("as-recorded.mp4"))
        .status()
        .expect("ffmpeg");
    assert!(st.success());
    std::fs::copy(d.path().join("as-recorded.mp4"), dir.join("video.mp4")).unwrap();
    let mut m = meta("r1", "Stopped just now", "", &["Intro", "Demo"], &[]);
    m.duration_s = 6.0;
    m.chapters = vec![Chapter { start_s: 0.0, end_s: 3.0, title: "Intro".into() }, Chapter { start_s: 3.0, end_s: 6.0, title: "Demo".into() }];
    std::fs::write(dir.join("meta.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let video = dir.join("video.mp4");
    assert!(reel_codec::remux::is_fragmented(&video).unwrap());
    let lib = Library::open(d.path()).unwrap();
    // The download copy swaps in while a trim runs: the trim, begun from the file as recorded,
    // still applies (same pictures and sound), and nothing is lost.
    let mut optimized = None;
    let out = lib
        .trim("r1", 1.0, 5.0, &mut |_| {
            if optimized.is_none() {
                optimized = Some(lib.optimize("r1", &mut |_| true).unwrap());
                assert!(!reel_codec::remux::is_fragmented(&video).unwrap(), "one movie now");
                assert!(dir.join("preview.gif").exists(), "with its animated preview");
            }
            true
        })
        .unwrap();
    assert_eq!(optimized, Some(true), "the optimize swapped the file in");
    assert!((out.duration_s - 4.0).abs() < 0.2, "the trim applied: {}", out.duration_s);
    assert_eq!(lib.trash().len(), 1, "the version before the trim is in the trash");
    // Optimizing what is already one movie changes nothing.
    assert!(!lib.optimize("r1", &mut |_| true).unwrap());
    // A recording as recorded, optimized alone: faststart, the chapters and title inside, the
    // size in its metadata; the replaced file kept aside.
    let dir2 = d.path().join("recordings/r2");
    std::fs::create_dir_all(&dir2).unwrap();
    std::fs::copy(d.path().join("as-recorded.mp4"), dir2.join("video.mp4")).unwrap();
    let mut m2 = m.clone();
    m2.id = "r2".into();
    std::fs::write(dir2.join("meta.json"), serde_json::to_vec(&m2).unwrap()).unwrap();
    assert!(lib.optimize("r2", &mut |_| true).unwrap());
    let probe = std::process::Command::new("ffprobe").args(["-v", "error", "-show_chapters", "-of", "json"]).arg(dir2.join("video.mp4")).output().unwrap();
    let probe: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    assert_eq!(probe["chapters"].as_array().map(Vec::len), Some(2), "{probe}");
    assert_eq!(read_meta(&dir2).unwrap().size_bytes, std::fs::metadata(dir2.join("video.mp4")).unwrap().len());
    assert!(read_meta(&dir2).unwrap().optimized.is_some(), "the swap is noted");
    assert_eq!(std::fs::read_dir(&dir2).unwrap().count(), 3, "video, meta, preview and nothing else (no temporary, no copy kept)");
    assert_eq!(std::fs::read_dir(d.path().join("tmp")).unwrap().count(), 0, "no job left in tmp/");
}

#[test]
fn an_export_replaces_a_file_only_when_asked_and_only_when_done() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("recordings/r1");
    std::fs::create_dir_all(&dir).unwrap();
    let st = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=25:duration=2", "-f", "lavfi", "-i", "sine=frequency=440:duration=2"])
        .args(["-c:v", "libx264", "-g", "25", "-c:a", "aac", "-shortest"])
        .arg(dir.join("video.mp4"))
        .status()
        .expect("ffmpeg");
    assert!(st.success());
    let mut m = meta("r1", "Export me", "", &[], &[]);
    m.duration_s = 2.0;
    std::fs::write(dir.join("meta.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let lib = Library::open(d.path()).unwrap();
    let out = d.path().join("out.mp4");
    std::fs::write(&out, b"an older file").unwrap();
    match lib.export("r1", &out, 2.0, None, false, &mut |_| true) {
        Err(LibraryError::Exists(p)) => assert_eq!(p, out),
        other => panic!("not replaced unless asked: {:?}", other.map(|_| ())),
    }
    assert_eq!(std::fs::read(&out).unwrap(), b"an older file");
    // Cancelled half-way: the old file is untouched.
    assert!(lib.export("r1", &out, 2.0, None, true, &mut |f| f < 0.3).is_err());
    assert_eq!(std::fs::read(&out).unwrap(), b"an older file", "a cancelled export leaves the old file whole");
    lib.export("r1", &out, 2.0, None, true, &mut |_| true).unwrap();
    let info = reel_codec::edit::probe(&out).unwrap();
    assert!((info.duration_s - 1.0).abs() < 0.15, "replaced by the 2x export: {} s", info.duration_s);
    assert!(lib.export("r1", d.path(), 2.0, None, true, &mut |_| true).is_err(), "a folder is never replaced");
    assert!(
        matches!(lib.export("r1", &dir.join("copy.mp4"), 2.0, None, true, &mut |_| true), Err(LibraryError::Invalid(m)) if m.contains("inside the library")),
        "never into a recording's own folder"
    );
}

mod properties {
    //! The parsers users feed, on any input: an answer or a clear error, never a panic.
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

        #[test]
        fn captions_of_any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            if let Ok(vtt) = vtt::normalize_captions(&bytes) {
                prop_assert!(vtt.starts_with("WEBVTT"));
                let _ = vtt::shift_captions(&vtt, &[(0.5, 1.5), (2.0, 9.0)]);
            }
        }

        #[test]
        fn caption_like_text_is_read_or_refused(text in "(WEBVTT\n\n)?([0-9]{1,3}\n)?[0-9:.,]{0,14} --> [0-9:.,]{0,14}( [a-z:%0-9]{0,12})?\n[^\u{0}]{0,40}\n\n?") {
            if let Ok(vtt) = vtt::normalize_captions(text.as_bytes()) {
                let _ = vtt::shift_captions(&vtt, &[(0.0, 1.0)]);
            }
        }

        #[test]
        fn meta_json_of_any_shape_is_read_or_refused(json in "\\{(\"[a-z_]{1,12}\": ?(-?[0-9]{1,6}(\\.[0-9]{1,3})?|\"[^\"\\\\]{0,12}\"|\\[\\]|null|true), ?){0,6}\"id\": \"x\"\\}") {
            let d = tempfile::tempdir().unwrap();
            std::fs::write(d.path().join("meta.json"), json.as_bytes()).unwrap();
            let _ = read_meta(d.path());
        }

        #[test]
        fn shifting_chapters_through_any_ranges_never_panics(
            starts in proptest::collection::vec(-10.0f64..100.0, 0..8),
            keep in proptest::collection::vec((-10.0f64..100.0, -10.0f64..100.0), 0..5),
        ) {
            let chapters: Vec<Chapter> = starts.iter().enumerate().map(|(i, &s)| Chapter { start_s: s, end_s: s + 1.0, title: format!("c{i}") }).collect();
            let _ = shift_chapters(&chapters, &keep);
        }
    }
}
