//! Slide decks: a folder of images (PNG, JPEG, WebP) or a PDF.
//!
//! Every slide is decoded and fitted to the output size once, at load (aspect kept, letterboxed
//! on the background colour), so that showing a slide costs a copy, never a rescale. PDF pages
//! are rendered by hayro (pure Rust) at the scale that fits, and their text is kept for chapter
//! titles and search.
//!
//! Bad input never panics and names the file: empty or truncated files, images larger than the
//! decoder limits (a 30000x30000 PNG is refused before any allocation), broken or encrypted
//! PDFs, folders with no slides.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

#[derive(Clone)]
pub struct Slide {
    /// RGBA at the deck's output size.
    pub pixels: Arc<Vec<u8>>,
    /// All text of the slide (PDF); empty for images.
    pub text: String,
    pub source: PathBuf,
}

impl Slide {
    /// The chapter title: the first line of text, else "Slide N" (1-based).
    pub fn title(&self, index: usize) -> String {
        self.text.lines().map(str::trim).find(|l| !l.is_empty()).map(|l| l.chars().take(80).collect()).unwrap_or_else(|| format!("Slide {}", index + 1))
    }
}

#[derive(Clone)]
pub struct Deck {
    pub slides: Vec<Slide>,
    pub size: Size,
}

impl std::fmt::Debug for Deck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Deck({} slides at {})", self.slides.len(), self.size)
    }
}

const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "webp"];

impl Deck {
    /// Loads a folder of images or a PDF, fitted to `size` on `background`.
    pub fn load(path: &Path, size: Size, background: [u8; 4]) -> Result<Deck, ComposeError> {
        let meta = std::fs::metadata(path).map_err(|e| ComposeError::file(path, format!("cannot open it ({e})")))?;
        let slides = if meta.is_dir() {
            load_folder(path, size, background)?
        } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("pdf")) {
            crate::pdf::load_pdf(path, size, background)?
        } else if is_image(path) {
            vec![load_image(path, size, background)?]
        } else {
            return Err(ComposeError::file(path, "is not a folder of images, an image or a PDF".into()));
        };
        Ok(Deck { slides, size })
    }

    pub fn len(&self) -> usize {
        self.slides.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slides.is_empty()
    }
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

fn load_folder(dir: &Path, size: Size, background: [u8; 4]) -> Result<Vec<Slide>, ComposeError> {
    let rd = std::fs::read_dir(dir).map_err(|e| ComposeError::file(dir, format!("cannot list it ({e})")))?;
    let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.is_file() && is_image(p)).collect();
    if files.is_empty() {
        return Err(ComposeError::file(dir, "has no slides (PNG, JPEG or WebP images)".into()));
    }
    if files.len() > MAX_SLIDES {
        return Err(ComposeError::file(dir, format!("has {} images; a deck has at most {MAX_SLIDES}", files.len())));
    }
    files.sort_by(|a, b| natural_cmp(&a.file_name().unwrap_or_default().to_string_lossy(), &b.file_name().unwrap_or_default().to_string_lossy()));
    files.iter().map(|f| load_image(f, size, background)).collect()
}

/// Decodes one image with the decoder limits; errors name the file and the problem.
fn decode_limited(path: &Path) -> Result<image::RgbaImage, ComposeError> {
    let len = std::fs::metadata(path).map(|m| m.len()).map_err(|e| ComposeError::file(path, format!("cannot open it ({e})")))?;
    if len == 0 {
        return Err(ComposeError::file(path, "is empty (0 bytes)".into()));
    }
    let mut reader = image::ImageReader::open(path).and_then(|r| r.with_guessed_format()).map_err(|e| ComposeError::file(path, format!("cannot read it ({e})")))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| {
        let why = match &e {
            image::ImageError::Limits(_) => format!("is too large to use as a slide (more than {MAX_SIDE} pixels a side or {} MB decoded)", MAX_ALLOC >> 20),
            image::ImageError::Unsupported(_) => "is not a PNG, JPEG or WebP image".to_string(),
            _ => format!("is corrupt or truncated ({e})"),
        };
        ComposeError::file(path, why)
    })?;
    Ok(img.into_rgba8())
}

/// Decodes one image with limits and fits it onto a canvas of `size`.
pub fn load_image(path: &Path, size: Size, background: [u8; 4]) -> Result<Slide, ComposeError> {
    let rgba = decode_limited(path)?;
    let (w, h) = rgba.dimensions();
    Ok(Slide { pixels: Arc::new(fit_onto(rgba.as_raw(), w, h, size, background)?), text: String::new(), source: path.to_path_buf() })
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
        let centre = |s: &Slide| s.pixels[(45 * 160 + 80) * 4..(45 * 160 + 80) * 4 + 3].to_vec();
        assert_eq!(centre(&deck.slides[0]), vec![255, 0, 0]);
        assert_eq!(centre(&deck.slides[1]), vec![0, 255, 0]);
        assert_eq!(centre(&deck.slides[2]), vec![0, 0, 255]);
        // 4:3 into 16:9: pillarboxed, the bars are background.
        assert_eq!(&deck.slides[0].pixels[(45 * 160 + 5) * 4..(45 * 160 + 5) * 4 + 3], &[9, 9, 9]);
        assert_eq!(deck.slides[2].title(2), "Slide 3");
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
