//! What a publication is: the objects of one recording under `PREFIX/<publication>/`, a link,
//! and a record of it in the recording's folder.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reel_library::{vtt, Library, Meta};
use reel_share::page::{self, PageUrls};

use crate::client::{Client, Target};
use crate::upload::{Progress, Uploaded};
use crate::{random_id, write_json_atomic, PublishError, MAX_PRESIGN};

#[derive(Clone, Debug, Default)]
pub struct PublishOptions {
    /// How long presigned links work (default 7 days, the most S3 allows).
    pub expires: Option<Duration>,
    /// A CDN or public bucket address in front of the target: links are plain URLs under it
    /// (`<base>/<prefix>/<publication>/index.html`) and never expire.
    pub public_base_url: Option<String>,
    /// Upload rate limit, bytes per second.
    pub max_rate: Option<u64>,
    pub default_speed: Option<f64>,
}

/// One recording published to one place; kept in the recording's `published.json`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Publication {
    pub id: String,
    pub target: Target,
    pub endpoint: String,
    pub region: String,
    pub url: String,
    /// Unix seconds; `None` for public links.
    pub expires: Option<i64>,
    pub objects: Vec<String>,
    pub bytes: u64,
    /// Parts of the video an earlier, interrupted run had already stored.
    #[serde(default)]
    pub resumed_parts: usize,
    /// Parts the video went up in (1: a single PUT).
    #[serde(default)]
    pub parts: usize,
    /// Unix seconds.
    pub created: i64,
}

fn published_path(dir: &Path) -> PathBuf {
    dir.join("published.json")
}

/// The publications of a recording (from its folder).
pub fn publications(lib: &Library, id: &str) -> Result<Vec<Publication>, PublishError> {
    let dir = rec_dir(lib, id)?;
    Ok(read_publications(&dir))
}

fn read_publications(dir: &Path) -> Vec<Publication> {
    std::fs::read(published_path(dir)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn rec_dir(lib: &Library, id: &str) -> Result<PathBuf, PublishError> {
    let (entry, _) = lib.show(id).map_err(|e| PublishError::Invalid(e.to_string()))?;
    if entry.status != "ok" {
        return Err(PublishError::Invalid(format!("{} cannot be published: {}", entry.id, entry.warning.unwrap_or_default())));
    }
    entry.path.parent().map(Path::to_path_buf).ok_or_else(|| PublishError::Io("a recording without a folder".into()))
}

fn check_options(o: &PublishOptions) -> Result<(), PublishError> {
    if let Some(e) = o.expires {
        if o.public_base_url.is_none() && e > MAX_PRESIGN {
            return Err(PublishError::Invalid("S3 presigned links last at most 7 days; give a public base URL (a CDN or public bucket) for links that last".into()));
        }
    }
    if let Some(b) = &o.public_base_url {
        if !(b.starts_with("https://") || b.starts_with("http://")) || b.chars().any(|c| c.is_whitespace() || c == '"' || c == '<') {
            return Err(PublishError::Invalid(format!("the public base URL '{b}' is not a URL like https://videos.example.com")));
        }
    }
    if let Some(s) = o.default_speed {
        if !(0.5..=3.0).contains(&s) {
            return Err(PublishError::Invalid(format!("links cannot start at {s}x: use a speed from 0.5 to 3")));
        }
    }
    Ok(())
}

/// Publishes a recording: checks the bucket, uploads everything, writes the page last, and
/// records the publication. Progress covers the video upload (the rest is small).
pub fn publish(lib: &Library, id: &str, client: &Client, o: &PublishOptions, progress: Progress<'_>) -> Result<Publication, PublishError> {
    check_options(o)?;
    let dir = rec_dir(lib, id)?;
    client.check()?;
    // An interrupted run of the same publish left a state file naming its publication: resume
    // that one rather than starting a second copy.
    let pending = dir.join(".publish-state.json");
    let pub_id = std::fs::read(dir.join(".publish-id")).ok().and_then(|b| String::from_utf8(b).ok()).filter(|s| s.len() == 22).map(Ok).unwrap_or_else(random_id)?;
    std::fs::write(dir.join(".publish-id"), &pub_id).map_err(|e| PublishError::Io(e.to_string()))?;
    let up = client.upload_file(&format!("{pub_id}/video.mp4"), &dir.join("video.mp4"), "video/mp4", &pending, o.max_rate, progress)?;
    let p = publish_uploaded(lib, id, client, o, &pub_id, up)?;
    let _ = std::fs::remove_file(dir.join(".publish-id"));
    Ok(p)
}

/// Everything but the video (already at `<pub_id>/video.mp4`, e.g. uploaded while recording):
/// poster, preview, tracks, metadata, player, and the page last. Records the publication.
pub fn publish_uploaded(lib: &Library, id: &str, client: &Client, o: &PublishOptions, pub_id: &str, video: Uploaded) -> Result<Publication, PublishError> {
    check_options(o)?;
    let (entry, meta) = lib.show(id).map_err(|e| PublishError::Invalid(e.to_string()))?;
    let meta = meta.ok_or_else(|| PublishError::Invalid(format!("{}: {}", entry.id, entry.warning.clone().unwrap_or_default())))?;
    let dir = rec_dir(lib, id)?;
    let rel = |name: &str| format!("{pub_id}/{name}");
    let mut objects = vec![rel("video.mp4")];
    let mut put = |name: &str, bytes: Vec<u8>, ct: &str| -> Result<(), PublishError> {
        client.put(&rel(name), bytes, ct)?;
        objects.push(rel(name));
        Ok(())
    };
    let read = |name: &str| std::fs::read(dir.join(name)).ok();
    if let Some(b) = read("poster.jpg") {
        put("poster.jpg", b, "image/jpeg")?;
    }
    if let Some(b) = read("preview.gif") {
        put("preview.gif", b, "image/gif")?;
    }
    put("chapters.vtt", vtt::chapters_vtt(&meta.chapters).into_bytes(), "text/vtt; charset=utf-8")?;
    let captions = read("captions.vtt");
    if let Some(b) = captions.clone() {
        put("captions.vtt", b, "text/vtt; charset=utf-8")?;
    }
    put("meta.json", public_meta(&meta), "application/json")?;
    put("player.js", page::PLAYER_JS.as_bytes().to_vec(), "text/javascript; charset=utf-8")?;
    put("player.css", page::PLAYER_CSS.as_bytes().to_vec(), "text/css; charset=utf-8")?;

    let expires = o.expires.unwrap_or(MAX_PRESIGN);
    let now = chrono::Utc::now().timestamp();
    let url_of = |name: &str| -> Result<String, PublishError> {
        match &o.public_base_url {
            Some(base) => Ok(format!("{}/{}", base.trim_end_matches('/'), client.key(&rel(name)))),
            None => client.presign(&rel(name), expires),
        }
    };
    let urls = PageUrls {
        page: url_of("index.html")?,
        media: url_of("video.mp4")?,
        poster: url_of("poster.jpg")?,
        og_poster: url_of("poster.jpg")?,
        og_media: Some(url_of("video.mp4")?),
        download: Some(url_of("video.mp4")?),
        chapters_vtt: Some(url_of("chapters.vtt")?),
        captions_vtt: captions.is_some().then(|| url_of("captions.vtt")).transpose()?,
        player_js: url_of("player.js")?,
        player_css: url_of("player.css")?,
        api: None,
    };
    // No server sends headers for a bucket page: the policy travels in the page itself.
    let csp =
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; base-uri 'none'\">";
    let html = page::render(&meta, &urls, o.default_speed.unwrap_or(1.0), None, csp);
    // The page goes last: once the link works, everything it points to is there.
    put("index.html", html.into_bytes(), "text/html; charset=utf-8")?;
    let p = Publication {
        id: pub_id.to_string(),
        target: client.target.clone(),
        endpoint: client.endpoint.clone(),
        region: client.region.clone(),
        url: urls.page,
        expires: o.public_base_url.is_none().then_some(now + expires.as_secs() as i64),
        objects,
        bytes: video.bytes,
        resumed_parts: video.resumed_parts,
        parts: video.parts,
        created: now,
    };
    let mut all = read_publications(&dir);
    all.push(p.clone());
    write_json_atomic(&published_path(&dir), &all)?;
    Ok(p)
}

/// What a viewer may see of the metadata: no local paths, no edit history.
fn public_meta(m: &Meta) -> Vec<u8> {
    serde_json::to_vec_pretty(&serde_json::json!({
        "title": m.title, "description": m.description, "created": m.created,
        "duration_s": m.duration_s, "width": m.width, "height": m.height, "chapters": m.chapters,
    }))
    .unwrap_or_default()
}

/// Deletes every publication of a recording from its storage (or one, by publication id).
/// `connect` opens a client for a publication's target. Returns how many objects went.
pub fn unpublish(lib: &Library, id: &str, only: Option<&str>, connect: &dyn Fn(&Publication) -> Result<Client, PublishError>) -> Result<usize, PublishError> {
    let dir = rec_dir(lib, id)?;
    let all = read_publications(&dir);
    if all.is_empty() {
        return Err(PublishError::Invalid(format!("{id} has not been published")));
    }
    let mut kept = Vec::new();
    let mut deleted = 0;
    let mut first_error = None;
    for p in all {
        if only.is_some_and(|o| o != p.id) {
            kept.push(p);
            continue;
        }
        match connect(&p).and_then(|c| c.delete_all(&p.id)) {
            Ok(n) => deleted += n,
            Err(e) => {
                first_error.get_or_insert(e);
                kept.push(p);
            }
        }
    }
    write_json_atomic(&published_path(&dir), &kept)?;
    match first_error {
        Some(e) => Err(e),
        None => Ok(deleted),
    }
}
