//! The watch page: one renderer for the share server and for pages published to S3, so a
//! viewer gets the same player wherever the link points. The HTML works before any script
//! runs (a plain `<video controls>` with its poster and tracks); `ui/player.js` enhances it.
//! Every user text is escaped here; URLs come from the caller (relative on the share server,
//! presigned or public on S3) and are escaped too.

use crate::feedback::Feedback;

pub static PLAYER_JS: &str = include_str!("../../../ui/player.js");
pub static PLAYER_CSS: &str = include_str!("../../../ui/player.css");

/// Where the page finds everything. `None`: that part is left out.
pub struct PageUrls {
    /// The page's own absolute address (Open Graph).
    pub page: String,
    pub media: String,
    pub poster: String,
    /// Absolute poster and media addresses for link unfurlers.
    pub og_poster: String,
    /// Left out when downloads are discouraged (`--no-download`): an unfurler's `og:video` is
    /// a download link by another name.
    pub og_media: Option<String>,
    /// `None`: downloads are discouraged (no button, `controlslist="nodownload"`, no
    /// context-menu "Save video as"). Discouraged, not prevented: whatever plays can be saved.
    pub download: Option<String>,
    pub chapters_vtt: Option<String>,
    pub captions_vtt: Option<String>,
    pub player_js: String,
    pub player_css: String,
    /// The comments/reactions/views endpoints (share server only).
    pub api: Option<String>,
}

/// HTML-escapes user text (titles, names, comments) and URLs in attributes.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

pub fn fmt_t(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// Renders the watch page. `feedback` is shown (comments, views) when the page has an API.
pub fn render(meta: &reel_library::Meta, u: &PageUrls, default_speed: f64, feedback: Option<&Feedback>, extra_head: &str) -> String {
    let title = esc(&meta.title);
    let desc = esc(if meta.description.is_empty() { "A video message recorded with Reel" } else { &meta.description });
    let chapters: String = meta
        .chapters
        .iter()
        .map(|c| format!("<li><button type=\"button\" data-t=\"{:.3}\">{} <span>{}</span></button></li>", c.start_s, esc(&c.title), fmt_t(c.start_s)))
        .collect();
    let chapters = if chapters.is_empty() { String::new() } else { format!("<nav aria-label=\"Chapters\"><ol class=\"chapters\">{chapters}</ol></nav>") };
    let mut tracks = String::new();
    if let (false, Some(src)) = (meta.chapters.is_empty(), &u.chapters_vtt) {
        tracks.push_str(&format!("<track kind=\"chapters\" srclang=\"en\" label=\"Chapters\" src=\"{}\">", esc(src)));
    }
    if let Some(src) = &u.captions_vtt {
        tracks.push_str(&format!("<track kind=\"captions\" srclang=\"en\" label=\"Captions\" src=\"{}\" default>", esc(src)));
    }
    let (views, comments) = match (feedback, &u.api) {
        (Some(f), Some(_)) => {
            // Rendered here so comments read without script; the player script takes the list over.
            let list: String = f
                .comments
                .iter()
                .map(|c| {
                    format!(
                        "<li><button type=\"button\" class=\"at\" data-t=\"{:.3}\">{}</button> <b class=\"name\">{}</b><p class=\"body\">{}</p></li>",
                        c.at_s,
                        fmt_t(c.at_s),
                        esc(&c.name),
                        esc(&c.body)
                    )
                })
                .collect();
            let n = if f.views == 1 { "1 view".to_string() } else { format!("{} views", f.views) };
            (
                format!(" · <span class=\"views\">{n}</span>"),
                format!("<section class=\"feedback\" aria-labelledby=\"comments-h\"><h2 id=\"comments-h\">Comments</h2><ol class=\"comments\">{list}</ol></section>"),
            )
        }
        _ => (String::new(), String::new()),
    };
    let download = u.download.as_ref().map(|d| format!(" · <a class=\"download\" href=\"{}\" download>Download</a>", esc(d))).unwrap_or_default();
    let api = u.api.as_ref().map(|a| format!(" data-api=\"{}\"", esc(a))).unwrap_or_default();
    let (page, og_poster) = (esc(&u.page), esc(&u.og_poster));
    let og_video =
        u.og_media.as_ref().map(|m| format!("<meta property=\"og:video\" content=\"{}\"><meta property=\"og:video:type\" content=\"video/mp4\">", esc(m))).unwrap_or_default();
    let nodownload = if u.download.is_none() { " controlslist=\"nodownload\" data-no-download" } else { "" };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">{extra_head}\
         <title>{title}</title>\
         <meta property=\"og:type\" content=\"video.other\"><meta property=\"og:title\" content=\"{title}\">\
         <meta property=\"og:description\" content=\"{desc}\">\
         <meta property=\"og:url\" content=\"{page}\">\
         <meta property=\"og:image\" content=\"{og_poster}\">{og_video}\
         <meta name=\"twitter:card\" content=\"player\"><meta name=\"twitter:title\" content=\"{title}\">\
         <meta name=\"twitter:image\" content=\"{og_poster}\"><meta name=\"twitter:player\" content=\"{page}\">\
         <link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body><main><h1>{title}</h1>\
         <div class=\"player\" data-default-speed=\"{speed}\" data-duration=\"{dur:.3}\"{api}>\
         <video controls{nodownload} preload=\"metadata\" playsinline src=\"{media}\" poster=\"{poster}\">{tracks}</video></div>\
         <p class=\"meta\">{len}{views}{download}</p>{chapters}{comments}</main>\
         <script type=\"module\" src=\"{js}\"></script></body></html>",
        css = esc(&u.player_css),
        js = esc(&u.player_js),
        media = esc(&u.media),
        poster = esc(&u.poster),
        speed = default_speed,
        dur = meta.duration_s,
        len = fmt_t(meta.duration_s),
    )
}
