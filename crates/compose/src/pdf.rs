//! PDF slide decks through hayro (pure Rust): a page is rendered when the deck asks for it, at
//! the scale that fits the output, and its text collected by a small interpreter device for
//! chapter titles and search.

use std::path::Path;

use hayro::hayro_interpret::font::GlyphRun;
use hayro::hayro_interpret::{interpret_page, BlendMode, ClipPath, Context, Device, DrawMode, DrawProps, Image, ImageDrawProps, InterpreterCache, InterpreterSettings, SoftMask};
use hayro::hayro_syntax::{LoadPdfError, Pdf};
use hayro::kurbo::{Affine, BezPath, Rect};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{render, PixmapSettings, RenderCache, RenderSettings};
use reel_media::Size;

use crate::deck::{fit_onto, MAX_PDF_BYTES, MAX_SLIDES};
use crate::ComposeError;

/// Collects the text a page draws, a line break wherever the baseline moves.
#[derive(Default)]
struct TextCollector {
    text: String,
    last_y: Option<f64>,
}

impl<'a> Device<'a> for TextCollector {
    fn draw_path(&mut self, _: &BezPath, _: DrawProps<'a>, _: &DrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'a>>, _: BlendMode) {}
    fn draw_glyph_run(&mut self, run: &GlyphRun<'_, 'a>, _: DrawProps<'a>, _: &DrawMode) {
        for g in run.glyphs() {
            let y = g.transform().translation().y;
            if let Some(last) = self.last_y {
                if (y - last).abs() > 1.0 && !self.text.ends_with('\n') {
                    self.text.push('\n');
                }
            }
            self.last_y = Some(y);
            match g.as_unicode() {
                Some(hayro::hayro_interpret::hayro_cmap::BfString::Char(c)) => self.text.push(c),
                Some(hayro::hayro_interpret::hayro_cmap::BfString::String(s)) => self.text.push_str(&s),
                None => {}
            }
        }
    }
    fn draw_image(&mut self, _: Image<'a, '_>, _: ImageDrawProps<'a>) {}
    fn pop_clip(&mut self) {}
    fn pop_transparency_group(&mut self) {}
}

/// Opens a PDF deck (`len` bytes): the file is read whole and its page tree checked.
pub(crate) fn open(path: &Path, len: u64) -> Result<Pdf, ComposeError> {
    if len > MAX_PDF_BYTES {
        return Err(ComposeError::file(path, format!("is {} MB; a PDF deck is at most {} MB (export it with smaller images)", len >> 20, MAX_PDF_BYTES >> 20)));
    }
    let data = std::fs::read(path).map_err(|e| ComposeError::file(path, format!("cannot read it ({e})")))?;
    if data.is_empty() {
        return Err(ComposeError::file(path, "is empty (0 bytes)".into()));
    }
    let pdf = Pdf::new(data).map_err(|e| match e {
        LoadPdfError::Decryption(_) => ComposeError::file(path, "is encrypted; export it again without a password".into()),
        LoadPdfError::Invalid => ComposeError::file(path, "is not a valid PDF (broken or truncated)".into()),
    })?;
    let pages = pdf.pages();
    if pages.is_empty() {
        return Err(ComposeError::file(path, "has no pages".into()));
    }
    if pages.len() > MAX_SLIDES {
        return Err(ComposeError::file(path, format!("has {} pages; a deck has at most {MAX_SLIDES}", pages.len())));
    }
    Ok(pdf)
}

/// Renders page `i` at the scale that fits `size`, fitted onto it.
pub(crate) fn render_page(pdf: &Pdf, i: usize, path: &Path, size: Size, background: [u8; 4]) -> Result<Vec<u8>, ComposeError> {
    let page = pdf.pages().get(i).ok_or_else(|| ComposeError::file(path, format!("has no page {}", i + 1)))?;
    let (pw, ph) = page.render_dimensions();
    if !(pw.is_finite() && ph.is_finite()) || pw < 1.0 || ph < 1.0 {
        return Err(ComposeError::file(path, format!("page {} has no usable size", i + 1)));
    }
    let scale = (size.width as f32 / pw).min(size.height as f32 / ph);
    let pixmap =
        render(page, &RenderCache::new(), &InterpreterSettings::default(), &RenderSettings::default(), &PixmapSettings { x_scale: scale, y_scale: scale, bg_color: WHITE });
    let (w, h) = (pixmap.width() as u32, pixmap.height() as u32);
    fit_onto(pixmap.data_as_u8_slice(), w, h, size, background)
}

/// The text page `i` draws, a line break wherever the baseline moves.
pub(crate) fn page_text(pdf: &Pdf, i: usize) -> String {
    let Some(page) = pdf.pages().get(i) else {
        return String::new();
    };
    let (pw, ph) = page.render_dimensions();
    let cache = InterpreterCache::new();
    let mut ctx = Context::new(Affine::IDENTITY, Rect::new(0.0, 0.0, pw as f64, ph as f64), &cache, page.xref(), InterpreterSettings::default());
    let mut collector = TextCollector::default();
    interpret_page(page, &mut ctx, &mut collector);
    collector.text.trim().to_string()
}

/// A minimal valid PDF with one line of Helvetica text per page (tests and demos).
pub fn tiny_pdf(pages: &[&str]) -> Vec<u8> {
    let mut objs: Vec<String> = Vec::new();
    let n = pages.len();
    // 1: catalog, 2: pages, 3: font, then (page, content) pairs.
    objs.push("<< /Type /Catalog /Pages 2 0 R >>".into());
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", 4 + i * 2)).collect();
    objs.push(format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" ")));
    objs.push("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".into());
    for (i, text) in pages.iter().enumerate() {
        let safe: String = text.chars().filter(|c| c.is_ascii() && !matches!(c, '(' | ')' | '\\')).collect();
        let content = format!("BT /F1 36 Tf 60 300 Td ({safe}) Tj ET");
        objs.push(format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 640 480] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>", 5 + i * 2));
        objs.push(format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objs.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objs.len() + 1).as_bytes());
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objs.len() + 1).as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deck::Deck;

    #[test]
    fn pdf_pages_render_with_their_text() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("deck.pdf");
        std::fs::write(&p, tiny_pdf(&["Quarterly results", "Next steps"])).unwrap();
        let size = Size::new(320, 180).unwrap();
        let deck = Deck::load(&p, size, [0, 0, 0, 255]).unwrap();
        assert_eq!(deck.len(), 2);
        assert_eq!(deck.title(0), "Quarterly results");
        assert_eq!(deck.title(1), "Next steps");
        // A white page, pillarboxed (4:3 in 16:9) on black, with dark text somewhere.
        let first = deck.slide(0).unwrap();
        let px = |x: usize, y: usize| first[(y * 320 + x) * 4];
        assert_eq!(px(5, 90), 0, "bar");
        assert_eq!(px(160, 20), 255, "page");
        assert!(first.chunks(4).any(|p| p[0] < 100), "text drawn");
        assert!(deck.slide(1).unwrap().chunks(4).any(|p| p[0] < 100), "the second page, rendered on demand");
    }

    #[test]
    fn broken_pdf_is_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("broken.pdf");
        std::fs::write(&p, b"%PDF-1.4\nthis is not really a pdf").unwrap();
        let e = Deck::load(&p, Size::new(320, 180).unwrap(), [0; 4]).unwrap_err().to_string();
        assert!(e.contains("broken.pdf") && e.contains("not a valid PDF"), "{e}");
        let t = d.path().join("truncated.pdf");
        let full = tiny_pdf(&["Hello"]);
        std::fs::write(&t, &full[..full.len() / 3]).unwrap();
        // Truncated: either refused, or (if hayro repairs it) a deck; never a panic.
        let _ = Deck::load(&t, Size::new(320, 180).unwrap(), [0; 4]);
    }
}
