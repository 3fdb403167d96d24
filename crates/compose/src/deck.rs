//! Slide decks: a folder of images (PNG, JPEG, WebP) or a PDF, loaded lazily.
//!
//! Loading lists the slides and checks them cheaply (image headers, the PDF's page tree), then
//! decodes only the first one: a 1,000-slide deck shows its first frame as fast as a one-slide
//! deck, and holds a few slides in memory, not a thousand. A worker thread decodes a slide and
//! fits it to the output size (aspect kept, letterboxed on the background colour) when it is
//! asked for, prefetches its neighbours, and keeps the most recent ones in a small cache (about
//! [`CACHE_BYTES`]); showing a cached slide costs a copy, never a rescale. The live pipeline
//! asks with [`Deck::try_slide`], which never waits: until the next slide is ready it keeps
//! showing the one before, so a slide change stays inside the frame budget.
//!
//! PDF pages are rendered by hayro (pure Rust) at the scale that fits, and their text (chapter
//! titles, search) is read page by page on demand and, when the worker is idle, ahead of time.
//!
//! Bad input never panics and names the file: empty or truncated files, images larger than the
//! decoder limits (a 30000x30000 PNG is refused from its header, before any allocation), broken
//! or encrypted PDFs, PDFs over [`MAX_PDF_BYTES`], folders with no slides. A slide that turns out
//! broken only when it is decoded (a truncated image in the middle of a deck) is an error from
//! [`Deck::slide`] and a background-coloured slide, with a warning, in a live recording.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

use fast_image_resize as fr;
use reel_media::Size;

use crate::{fit, ComposeError};

/// Largest side we decode. Slides are shown at most at 4K; anything beyond this is a mistake or
/// an attack (decompression bomb).
pub const MAX_SIDE: u32 = 16_384;
/// Largest decoded image in bytes.
pub const MAX_ALLOC: u64 = 512 * 1024 * 1024;
/// Largest deck.
pub const MAX_SLIDES: usize = 1000;
/// Largest PDF file: it is held in memory while the deck is open.
pub const MAX_PDF_BYTES: u64 = 200 * 1024 * 1024;
/// Largest image file in a deck.
pub const MAX_IMAGE_BYTES: u64 = 256 * 1024 * 1024;
/// About how many bytes of fitted slides the cache keeps (at least [`MIN_CACHED`] slides).
pub const CACHE_BYTES: usize = 96 * 1024 * 1024;
/// The cache always holds the slide shown and its neighbours.
pub const MIN_CACHED: usize = 4;

/// A deck: cheap to clone (clones share the cache and the worker).
#[derive(Clone)]
pub struct Deck {
    pub size: Size,
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Deck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Deck({} slides at {})", self.len(), self.size)
    }
}

/// Where the slides come from.
enum Source {
    Images(Vec<PathBuf>),
    Pdf { path: PathBuf, pdf: hayro::hayro_syntax::Pdf },
}

struct Shared {
    size: Size,
    background: [u8; 4],
    source: Source,
    /// Text of each page, read once (empty for images).
    texts: Vec<OnceLock<String>>,
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Most recently used first.
    cache: VecDeque<(usize, Arc<Vec<u8>>)>,
    /// Slides that could not be decoded, with why.
    failed: Vec<(usize, String)>,
    /// Failed slides already warned about.
    warned: Vec<usize>,
    /// Slides asked for, most urgent first.
    wanted: VecDeque<usize>,
    /// The slide the worker is decoding now.
    busy: Option<usize>,
    /// Pages whose text the worker reads ahead when idle.
    text_next: usize,
    stop: bool,
}

/// Stops the worker when the last clone of the deck is dropped.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.lock().stop = true;
        self.0.wake.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind: keep going with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn len(&self) -> usize {
        match &self.source {
            Source::Images(files) => files.len(),
            Source::Pdf { pdf, .. } => pdf.pages().len(),
        }
    }

    fn capacity(&self) -> usize {
        (CACHE_BYTES / (self.size.pixels() * 4).max(1)).max(MIN_CACHED)
    }

    /// Decodes and fits slide `i` (no lock held).
    fn render(&self, i: usize) -> Result<Vec<u8>, ComposeError> {
        match &self.source {
            Source::Images(files) => {
                let rgba = decode_limited(&files[i])?;
                let (w, h) = rgba.dimensions();
                fit_onto(rgba.as_raw(), w, h, self.size, self.background)
            }
            Source::Pdf { path, pdf } => crate::pdf::render_page(pdf, i, path, self.size, self.background),
        }
    }

    fn text(&self, i: usize) -> &str {
        match &self.source {
            Source::Images(_) => "",
            Source::Pdf { pdf, .. } => self.texts.get(i).map_or("", |t| t.get_or_init(|| crate::pdf::page_text(pdf, i)).as_str()),
        }
    }

    fn store(&self, st: &mut State, i: usize, r: Result<Vec<u8>, ComposeError>) {
        match r {
            Ok(px) => {
                st.cache.retain(|(j, _)| *j != i);
                st.cache.push_front((i, Arc::new(px)));
                let cap = self.capacity();
                st.cache.truncate(cap);
            }
            Err(e) => {
                if !st.failed.iter().any(|(j, _)| *j == i) {
                    st.failed.push((i, e.to_string()));
                }
            }
        }
    }

    fn worker(self: Arc<Self>) {
        let mut st = self.lock();
        loop {
            if st.stop {
                return;
            }
            if let Some(i) = st.wanted.pop_front() {
                if st.cache.iter().any(|(j, _)| *j == i) || st.failed.iter().any(|(j, _)| *j == i) {
                    continue;
                }
                st.busy = Some(i);
                drop(st);
                // A decoder that panics on a hostile file fails this slide, not the deck (a
                // dead worker would leave `slide` waiting for ever).
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let r = self.render(i);
                    // The text comes with the page, so a title asked for next does not wait.
                    self.text(i);
                    r
                }))
                .unwrap_or_else(|_| Err(ComposeError::Render(format!("slide {} could not be decoded (the decoder failed)", i + 1))));
                st = self.lock();
                st.busy = None;
                self.store(&mut st, i, r);
                self.wake.notify_all();
                continue;
            }
            if matches!(self.source, Source::Pdf { .. }) && st.text_next < self.texts.len() {
                let i = st.text_next;
                st.text_next += 1;
                drop(st);
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.text(i)));
                st = self.lock();
                continue;
            }
            st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }
}

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp"];

impl Deck {
    /// Opens a folder of images or a PDF for output `size` on `background`, and decodes the
    /// first slide (its errors are the deck's).
    pub fn load(path: &Path, size: Size, background: [u8; 4]) -> Result<Deck, ComposeError> {
        let meta = std::fs::metadata(path).map_err(|e| ComposeError::file(path, format!("cannot open it ({e})")))?;
        let source = if meta.is_dir() {
            Source::Images(list_folder(path)?)
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf")) {
            let pdf = crate::pdf::open(path, meta.len())?;
            Source::Pdf { path: path.to_path_buf(), pdf }
        } else if is_image(path) {
            check_image(path)?;
            Source::Images(vec![path.to_path_buf()])
        } else {
            return Err(ComposeError::file(path, "is not a folder of images, an image or a PDF".into()));
        };
        let n = match &source {
            Source::Images(f) => f.len(),
            Source::Pdf { pdf, .. } => pdf.pages().len(),
        };
        let texts = (0..if matches!(source, Source::Pdf { .. }) { n } else { 0 }).map(|_| OnceLock::new()).collect();
        let shared = Arc::new(Shared { size, background, source, texts, state: Mutex::new(State::default()), wake: Condvar::new() });
        let first = shared.render(0)?;
        shared.store(&mut shared.lock(), 0, Ok(first));
        let worker = shared.clone();
        std::thread::Builder::new().name("reel-deck".into()).spawn(move || worker.worker()).map_err(|e| ComposeError::Render(format!("cannot start the slide loader ({e})")))?;
        let deck = Deck { size, handle: Arc::new(Handle(shared)) };
        deck.prefetch(0);
        Ok(deck)
    }

    pub fn len(&self) -> usize {
        self.handle.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks the worker for slide `i` and its neighbours (`i` first), without waiting.
    pub fn prefetch(&self, i: usize) {
        let s = &self.handle.0;
        let n = s.len();
        let mut st = s.lock();
        for j in [Some(i), i.checked_add(1), i.checked_sub(1), i.checked_add(2)].into_iter().flatten().rev() {
            if j < n {
                st.wanted.retain(|&k| k != j);
                st.wanted.push_front(j);
            }
        }
        st.wanted.truncate(16);
        s.wake.notify_all();
    }

    /// Slide `i` fitted to the deck's size (RGBA), decoding it if needed: waits for the worker.
    pub fn slide(&self, i: usize) -> Result<Arc<Vec<u8>>, ComposeError> {
        let s = &self.handle.0;
        if i >= s.len() {
            return Err(ComposeError::Render(format!("slide {} is out of range: the deck has {} slides", i + 1, s.len())));
        }
        self.prefetch(i);
        let mut st = s.lock();
        loop {
            if let Some(px) = touch(&mut st, i) {
                return Ok(px);
            }
            if let Some((_, why)) = st.failed.iter().find(|(j, _)| *j == i) {
                return Err(ComposeError::Render(why.clone()));
            }
            if !st.wanted.contains(&i) && st.busy != Some(i) {
                // Evicted between the request and now: ask again.
                st.wanted.push_front(i);
                s.wake.notify_all();
            }
            st = s.wake.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Slide `i` if it is ready, without waiting; otherwise asks for it and returns `None`. A
    /// slide that cannot be decoded is the background colour (the error is printed once).
    pub fn try_slide(&self, i: usize) -> Option<Arc<Vec<u8>>> {
        let s = &self.handle.0;
        {
            let mut st = s.lock();
            if let Some(px) = touch(&mut st, i) {
                return Some(px);
            }
            if let Some(why) = st.failed.iter().find(|(j, _)| *j == i).map(|(_, w)| w.clone()) {
                if !st.warned.contains(&i) {
                    st.warned.push(i);
                    eprintln!("warning: {why}; the slide is shown blank");
                }
                // Not cached: `slide` still reports the error.
                let mut blank = vec![0u8; s.size.pixels() * 4];
                crate::fill(&mut blank, s.background);
                return Some(Arc::new(blank));
            }
        }
        if i < s.len() {
            self.prefetch(i);
        }
        None
    }

    /// All text of slide `i` (PDF); empty for images. Read on first use.
    pub fn text(&self, i: usize) -> String {
        self.handle.0.text(i).to_string()
    }

    /// The chapter title of slide `i`: its first line of text, else "Slide N" (1-based).
    pub fn title(&self, i: usize) -> String {
        slide_title(self.handle.0.text(i), i)
    }

    /// How many fitted slides are in memory now (for tests and benchmarks).
    pub fn cached(&self) -> usize {
        self.handle.0.lock().cache.len()
    }
}

/// The slide's cached pixels, marked most recently used.
fn touch(st: &mut State, i: usize) -> Option<Arc<Vec<u8>>> {
    let pos = st.cache.iter().position(|(j, _)| *j == i)?;
    let item = st.cache.remove(pos)?;
    let px = item.1.clone();
    st.cache.push_front(item);
    Some(px)
}

/// A chapter title from a slide's text: the first non-empty line (80 characters at most), else
/// "Slide N" (1-based).
pub fn slide_title(text: &str, index: usize) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).map(|l| l.chars().take(80).collect()).unwrap_or_else(|| format!("Slide {}", index + 1))
}

fn is_image(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Natural order: "2.png" before "10.png", case-insensitive otherwise. (A dozen lines; the
/// crates for this are unmaintained.)
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let num = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut s = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        s.push(c);
                        it.next();
                    }
                    s
                };
                let (na, nb) = (num(&mut a), num(&mut b));
                let (ta, tb) = (na.trim_start_matches('0'), nb.trim_start_matches('0'));
                let o = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if o != Ordering::Equal {
                    return o;
                }
            }
            (Some(x), Some(y)) => {
                let o = x.to_lowercase().cmp(y.to_lowercase());
                if o != Ordering::Equal {
                    return o;
                }
                a.next();
                b.next();
            }
        }
    }
}

/// The images of a folder in natural order, each checked from its header.
fn list_folder(dir: &Path) -> Result<Vec<PathBuf>, ComposeError> {
    let rd = std::fs::read_dir(dir).map_err(|e| ComposeError::file(dir, format!("cannot list it ({e})")))?;
    let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.is_file() && is_image(p)).collect();
    if files.is_empty() {
        return Err(ComposeError::file(dir, "has no slides (PNG, JPEG or WebP images)".into()));
    }
    if files.len() > MAX_SLIDES {
        return Err(ComposeError::file(dir, format!("has {} images; a deck has at most {MAX_SLIDES}", files.len())));
    }
    files.sort_by(|a, b| natural_cmp(&a.file_name().unwrap_or_default().to_string_lossy(), &b.file_name().unwrap_or_default().to_string_lossy()));
    for f in &files {
        check_image(f)?;
    }
    Ok(files)
}

/// Opens an image with the decoder limits, its format guessed from its bytes.
fn open_limited(path: &Path) -> Result<image::ImageReader<std::io::BufReader<std::fs::File>>, ComposeError> {
    let len = std::fs::metadata(path).map(|m| m.len()).map_err(|e| ComposeError::file(path, format!("cannot open it ({e})")))?;
    if len == 0 {
        return Err(ComposeError::file(path, "is empty (0 bytes)".into()));
    }
    if len > MAX_IMAGE_BYTES {
        return Err(ComposeError::file(path, format!("is {} MB; a slide image is at most {} MB", len >> 20, MAX_IMAGE_BYTES >> 20)));
    }
    let mut reader = image::ImageReader::open(path).and_then(|r| r.with_guessed_format()).map_err(|e| ComposeError::file(path, format!("cannot read it ({e})")))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    Ok(reader)
}

fn image_error(path: &Path, e: image::ImageError) -> ComposeError {
    let why = match &e {
        image::ImageError::Limits(_) => format!("is too large to use as a slide (more than {MAX_SIDE} pixels a side or {} MB decoded)", MAX_ALLOC >> 20),
        image::ImageError::Unsupported(_) => "is not a PNG, JPEG or WebP image".to_string(),
        _ => format!("is corrupt or truncated ({e})"),
    };
    ComposeError::file(path, why)
}

/// Checks an image from its header alone: readable, a known format, within the size limits.
fn check_image(path: &Path) -> Result<(), ComposeError> {
    let (w, h) = open_limited(path)?.into_dimensions().map_err(|e| image_error(path, e))?;
    if w > MAX_SIDE || h > MAX_SIDE || w as u64 * h as u64 * 4 > MAX_ALLOC {
        return Err(image_error(path, image::ImageError::Limits(image::error::LimitError::from_kind(image::error::LimitErrorKind::DimensionError))));
    }
    Ok(())
}

/// Decodes one image with the decoder limits; errors name the file and the problem.
fn decode_limited(path: &Path) -> Result<image::RgbaImage, ComposeError> {
    let img = open_limited(path)?.decode().map_err(|e| image_error(path, e))?;
    Ok(img.into_rgba8())
}

/// Loads a picture scaled to cover `size` (aspect kept, centre-cropped): backgrounds.
pub fn load_image_cover(path: &Path, size: Size) -> Result<Arc<Vec<u8>>, ComposeError> {
    let img = decode_limited(path)?;
    let (w, h) = img.dimensions();
    let target = size.width as f64 / size.height as f64;
    let (cx, cy, cw, ch) = if w as f64 / h as f64 > target {
        let cw = h as f64 * target;
        ((w as f64 - cw) / 2.0, 0.0, cw, h as f64)
    } else {
        let ch = w as f64 / target;
        (0.0, (h as f64 - ch) / 2.0, w as f64, ch)
    };
    let src = fr::images::ImageRef::new(w, h, img.as_raw(), fr::PixelType::U8x4).map_err(|e| ComposeError::Render(e.to_string()))?;
    let mut dst = fr::images::Image::new(size.width, size.height, fr::PixelType::U8x4);
    let opts = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3)).crop(cx, cy, cw, ch);
    fr::Resizer::new().resize(&src, &mut dst, &opts).map_err(|e| ComposeError::Render(e.to_string()))?;
    let mut px = dst.into_vec();
    for p in px.chunks_exact_mut(4) {
        p[3] = 255;
    }
    Ok(Arc::new(px))
}

/// Scales RGBA `src` (w x h) into a `size` canvas, aspect kept, centred on `background`.
pub fn fit_onto(src: &[u8], w: u32, h: u32, size: Size, background: [u8; 4]) -> Result<Vec<u8>, ComposeError> {
    let mut canvas = vec![0u8; size.pixels() * 4];
    crate::fill(&mut canvas, background);
    if w == 0 || h == 0 {
        return Ok(canvas);
    }
    let r = fit(Size { width: w, height: h }, size);
    let src_img = fr::images::ImageRef::new(w, h, src, fr::PixelType::U8x4).map_err(|e| ComposeError::Render(e.to_string()))?;
    let mut dst = fr::images::Image::new(r.w, r.h, fr::PixelType::U8x4);
    let opts = fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
    fr::Resizer::new().resize(&src_img, &mut dst, &opts).map_err(|e| ComposeError::Render(e.to_string()))?;
    // Transparent parts of a slide show the background.
    let row = r.w as usize * 4;
    let px = dst.buffer();
    for y in 0..r.h as usize {
        for x in 0..r.w as usize {
            let s = &px[y * row + x * 4..y * row + x * 4 + 4];
            let d = ((r.y as usize + y) * size.width as usize + r.x as usize + x) * 4;
            let a = s[3] as u32;
            for c in 0..3 {
                canvas[d + c] = ((s[c] as u32 * a + background[c] as u32 * (255 - a)) / 255) as u8;
            }
            canvas[d + 3] = 255;
        }
    }
    Ok(canvas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["10.png", "2.png", "1.png", "Slide 3.png", "slide 20.png", "a.png"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, vec!["1.png", "2.png", "10.png", "a.png", "Slide 3.png", "slide 20.png"]);
        assert_eq!(natural_cmp("007", "7"), Ordering::Equal);
    }

    fn png(path: &Path, w: u32, h: u32, c: [u8; 4]) {
        image::RgbaImage::from_pixel(w, h, image::Rgba(c)).save(path).unwrap();
    }

    #[test]
    fn folder_is_sorted_and_fitted_once() {
        let d = tempfile::tempdir().unwrap();
        png(&d.path().join("10.png"), 40, 30, [0, 0, 255, 255]);
        png(&d.path().join("2.png"), 40, 30, [0, 255, 0, 255]);
        png(&d.path().join("1.png"), 40, 30, [255, 0, 0, 255]);
        std::fs::write(d.path().join("notes.txt"), "not a slide").unwrap();
        let size = Size::new(160, 90).unwrap();
        let deck = Deck::load(d.path(), size, [9, 9, 9, 255]).unwrap();
        assert_eq!(deck.len(), 3);
        let centre = |px: Arc<Vec<u8>>| px[(45 * 160 + 80) * 4..(45 * 160 + 80) * 4 + 3].to_vec();
        assert_eq!(centre(deck.slide(0).unwrap()), vec![255, 0, 0]);
        assert_eq!(centre(deck.slide(1).unwrap()), vec![0, 255, 0]);
        assert_eq!(centre(deck.slide(2).unwrap()), vec![0, 0, 255]);
        // 4:3 into 16:9: pillarboxed, the bars are background.
        assert_eq!(&deck.slide(0).unwrap()[(45 * 160 + 5) * 4..(45 * 160 + 5) * 4 + 3], &[9, 9, 9]);
        assert_eq!(deck.title(2), "Slide 3");
        assert!(deck.slide(3).unwrap_err().to_string().contains("out of range"));
    }

    #[test]
    fn a_big_deck_is_decoded_on_demand_and_only_a_few_slides_stay_in_memory() {
        let d = tempfile::tempdir().unwrap();
        let n = 40;
        for i in 0..n {
            png(&d.path().join(format!("{i}.png")), 32, 18, [i as u8 * 6, 100, 200, 255]);
        }
        // The middle of the deck is broken, which only decoding can tell.
        let good = std::fs::read(d.path().join("20.png")).unwrap();
        std::fs::write(d.path().join("20.png"), &good[..good.len() - 20]).unwrap();
        let size = Size::new(1920, 1080).unwrap();
        let deck = Deck::load(d.path(), size, [9, 9, 9, 255]).unwrap();
        assert_eq!(deck.len(), n);
        let cap = CACHE_BYTES / (1920 * 1080 * 4);
        assert!(deck.cached() <= 4, "loading decodes the first slide and its neighbours, not {}", deck.cached());
        let red = |px: &Arc<Vec<u8>>| px[(540 * 1920 + 960) * 4];
        for i in (0..n).filter(|&i| i != 20) {
            assert_eq!(red(&deck.slide(i).unwrap()), i as u8 * 6, "slide {i}");
            assert!(deck.cached() <= cap.max(MIN_CACHED), "{} slides cached", deck.cached());
        }
        let e = deck.slide(20).unwrap_err().to_string();
        assert!(e.contains("20.png") && e.contains("corrupt or truncated"), "{e}");
        // Live: a slide not decoded yet is not waited for; a broken one is the background.
        let far = (0..n).find(|&i| deck.handle.0.lock().cache.iter().all(|(j, _)| *j != i) && i != 20).unwrap();
        let _ = deck.try_slide(far);
        let t = std::time::Instant::now();
        let got = loop {
            if let Some(px) = deck.try_slide(far) {
                break px;
            }
            assert!(t.elapsed().as_secs() < 20, "slide {far} never became ready");
            std::thread::sleep(std::time::Duration::from_millis(2));
        };
        assert_eq!(red(&got), far as u8 * 6);
        let blank = deck.try_slide(20).unwrap();
        assert_eq!(&blank[..3], &[9, 9, 9]);
        // Clones share the cache; dropping them all stops the worker (no hang, no leak).
        let clone = deck.clone();
        drop(deck);
        assert_eq!(red(&clone.slide(1).unwrap()), 6);
    }

    #[test]
    fn bad_slides_are_clear_errors() {
        let d = tempfile::tempdir().unwrap();
        let size = Size::new(160, 90).unwrap();
        let empty = d.path().join("empty.png");
        std::fs::write(&empty, b"").unwrap();
        let e = Deck::load(&empty, size, [0; 4]).unwrap_err().to_string();
        assert!(e.contains("empty.png") && e.contains("empty (0 bytes)"), "{e}");

        let good = d.path().join("good.png");
        png(&good, 64, 64, [1, 2, 3, 255]);
        let bytes = std::fs::read(&good).unwrap();
        let cut = d.path().join("cut.png");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let e = Deck::load(&cut, size, [0; 4]).unwrap_err().to_string();
        assert!(e.contains("cut.png") && e.contains("corrupt or truncated"), "{e}");

        let junk = d.path().join("junk.png");
        std::fs::write(&junk, b"this is not an image at all").unwrap();
        let e = Deck::load(&junk, size, [0; 4]).unwrap_err().to_string();
        assert!(e.contains("junk.png"), "{e}");

        // A PNG header that claims 30000x30000: refused from the header, nothing allocated.
        let huge = d.path().join("huge.png");
        let mut h = bytes[..8].to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&30000u32.to_be_bytes());
        ihdr.extend_from_slice(&30000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        h.extend_from_slice(&13u32.to_be_bytes());
        h.extend_from_slice(&ihdr);
        h.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        std::fs::write(&huge, &h).unwrap();
        let e = Deck::load(&huge, size, [0; 4]).unwrap_err().to_string();
        assert!(e.contains("huge.png") && e.contains("too large"), "{e}");

        let none = tempfile::tempdir().unwrap();
        let e = Deck::load(none.path(), size, [0; 4]).unwrap_err().to_string();
        assert!(e.contains("has no slides"), "{e}");
        let e = Deck::load(Path::new("/no/such/deck"), size, [0; 4]).unwrap_err().to_string();
        assert!(e.contains("/no/such/deck"), "{e}");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
            }
        }
        !c
    }
}
