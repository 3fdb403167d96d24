//! Camera pixels to the compositor's RGBA, without per-pixel scalar loops on the common paths:
//! YUYV and NV12 through yuvutils-rs (AVX2 on x86), MJPEG through zune-jpeg (pure Rust, SIMD)
//! or libjpeg-turbo's SIMD decoder (the `mozjpeg` crate nokhwa already builds). Both JPEG
//! decoders write RGBA straight into the caller's buffer; `reel bench camera` measures them
//! against each other and against ffmpeg's own MJPEG decoder, and [`Jpeg::default`] is the
//! faster here.
//!
//! Raw formats are taken as V4L2 defines them: YUYV and NV12 in BT.601 limited range (what
//! UVC webcams send), JPEG frames as JFIF (full range, the decoder's business).

use yuvutils_rs::{YuvBiPlanarImage, YuvConversionMode, YuvPackedImage, YuvRange, YuvStandardMatrix};

use super::mode::PixelFormat;

/// Which JPEG decoder turns MJPEG frames into RGBA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Jpeg {
    /// libjpeg-turbo (as built by the `mozjpeg` crate, with its NASM SIMD when nasm is
    /// installed at build time: setup.sh installs it).
    Turbo,
    /// zune-jpeg, pure Rust with SIMD IDCT and colour conversion.
    Zune,
}

impl Default for Jpeg {
    /// zune-jpeg: in a release build it is the faster of the two on webcam-style MJPEG here
    /// (`reel bench camera`, median of 7: 720p 1.77 against libjpeg-turbo's 1.82 ms, 1080p
    /// 3.38 against 3.76 ms; ffmpeg's decoder 2.58 and 5.71 ms), and being Rust, a torn frame
    /// cannot take the process down.
    fn default() -> Self {
        Jpeg::Zune
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConvertError {
    #[error("a {format} frame of {got} bytes is too short for {width}x{height} (needs {want})")]
    Short { format: &'static str, width: u32, height: u32, got: usize, want: usize },
    #[error("a broken MJPEG frame: {0}")]
    Jpeg(String),
    #[error("a {format} frame could not be converted: {reason}")]
    Yuv { format: &'static str, reason: String },
    #[error("an MJPEG frame of {got_w}x{got_h} where the camera said {width}x{height}")]
    JpegSize { width: u32, height: u32, got_w: u32, got_h: u32 },
}

/// Converts one frame of `format` at `width`x`height` into `dst` (RGBA, `width * height * 4`
/// bytes, rows packed). A frame that does not fit is an error, never a panic: cameras do send
/// torn and truncated frames, and the caller skips them.
pub fn to_rgba(format: PixelFormat, width: u32, height: u32, src: &[u8], dst: &mut [u8], jpeg: Jpeg) -> Result<(), ConvertError> {
    let (w, h) = (width as usize, height as usize);
    let px = w * h;
    debug_assert_eq!(dst.len(), px * 4);
    let short = |want: usize| ConvertError::Short { format: format.name(), width, height, got: src.len(), want };
    let yuv_err = |e: yuvutils_rs::YuvError| ConvertError::Yuv { format: format.name(), reason: e.to_string() };
    match format {
        PixelFormat::Yuyv => {
            let want = px * 2;
            let src = src.get(..want).ok_or_else(|| short(want))?;
            let img = YuvPackedImage { yuy: src, yuy_stride: width * 2, width, height };
            yuvutils_rs::yuyv422_to_rgba(&img, dst, width * 4, YuvRange::Limited, YuvStandardMatrix::Bt601).map_err(yuv_err)
        }
        PixelFormat::Nv12 => {
            let want = px + w.div_ceil(2) * 2 * h.div_ceil(2);
            if src.len() < want {
                return Err(short(want));
            }
            let (y, uv) = src.split_at(px);
            let img = YuvBiPlanarImage { y_plane: y, y_stride: width, uv_plane: &uv[..want - px], uv_stride: width.div_ceil(2) * 2, width, height };
            yuvutils_rs::yuv_nv12_to_rgba(&img, dst, width * 4, YuvRange::Limited, YuvStandardMatrix::Bt601, YuvConversionMode::Balanced).map_err(yuv_err)
        }
        // Rare on webcams (some industrial and IR cameras): plain loops are fine here.
        PixelFormat::Rgb | PixelFormat::Bgr => {
            let src = src.get(..px * 3).ok_or_else(|| short(px * 3))?;
            let bgr = format == PixelFormat::Bgr;
            for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(3)) {
                let (r, b) = if bgr { (s[2], s[0]) } else { (s[0], s[2]) };
                d.copy_from_slice(&[r, s[1], b, 255]);
            }
            Ok(())
        }
        PixelFormat::Gray => {
            let src = src.get(..px).ok_or_else(|| short(px))?;
            for (d, &g) in dst.chunks_exact_mut(4).zip(src) {
                d.copy_from_slice(&[g, g, g, 255]);
            }
            Ok(())
        }
        PixelFormat::Mjpeg => match jpeg {
            Jpeg::Turbo => turbo(width, height, src, dst),
            Jpeg::Zune => zune(width, height, src, dst),
        },
    }
}

fn turbo(width: u32, height: u32, src: &[u8], dst: &mut [u8]) -> Result<(), ConvertError> {
    // libjpeg reports fatal errors by unwinding out of its error handler; the mozjpeg crate
    // turns most into `io::Error`s, and catch_unwind keeps any other from ending the camera.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), ConvertError> {
        let bad = |e: std::io::Error| ConvertError::Jpeg(e.to_string());
        let d = mozjpeg::Decompress::new_mem(src).map_err(bad)?;
        let (w, h) = (d.width() as u32, d.height() as u32);
        if (w, h) != (width, height) {
            return Err(ConvertError::JpegSize { width, height, got_w: w, got_h: h });
        }
        let mut started = d.rgba().map_err(bad)?;
        started.read_scanlines_into::<u8>(dst).map_err(bad)?;
        // Trailing garbage after the image (the rest of the camera's buffer) is not an error.
        let _ = started.finish();
        Ok(())
    }));
    r.unwrap_or_else(|_| Err(ConvertError::Jpeg("the JPEG decoder gave up on this frame".into())))
}

fn zune(width: u32, height: u32, src: &[u8], dst: &mut [u8]) -> Result<(), ConvertError> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;
    let opts = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGBA).set_strict_mode(false);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(src), opts);
    d.decode_headers().map_err(|e| ConvertError::Jpeg(format!("{e:?}")))?;
    let (w, h) = d.dimensions().map(|(w, h)| (w as u32, h as u32)).unwrap_or((0, 0));
    if (w, h) != (width, height) {
        return Err(ConvertError::JpegSize { width, height, got_w: w, got_h: h });
    }
    d.decode_into(dst).map_err(|e| ConvertError::Jpeg(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BT.601 limited range: (Y, U, V) of a few colours, and the RGB they stand for.
    const SAMPLES: [([u8; 3], [u8; 3]); 4] = [([235, 128, 128], [255, 255, 255]), ([16, 128, 128], [0, 0, 0]), ([81, 90, 240], [255, 0, 0]), ([41, 240, 110], [0, 0, 255])];

    fn close(a: &[u8], b: [u8; 3], tol: i32) -> bool {
        a.iter().zip(b).all(|(x, y)| (*x as i32 - y as i32).abs() <= tol)
    }

    #[test]
    fn yuyv_and_nv12_are_bt601_limited_range() {
        let (w, h) = (16u32, 2u32);
        for (yuv, rgb) in SAMPLES {
            let yuyv: Vec<u8> = (0..w * h / 2).flat_map(|_| [yuv[0], yuv[1], yuv[0], yuv[2]]).collect();
            let mut dst = vec![0; (w * h * 4) as usize];
            to_rgba(PixelFormat::Yuyv, w, h, &yuyv, &mut dst, Jpeg::Turbo).expect("yuyv");
            assert!(close(&dst[..3], rgb, 3) && dst[3] == 255, "YUYV {yuv:?} -> {:?}, want {rgb:?}", &dst[..4]);
            let mut nv12 = vec![yuv[0]; (w * h) as usize];
            nv12.extend((0..w * h / 4).flat_map(|_| [yuv[1], yuv[2]]));
            to_rgba(PixelFormat::Nv12, w, h, &nv12, &mut dst, Jpeg::Turbo).expect("nv12");
            assert!(close(&dst[(w * h * 4 - 4) as usize..][..3], rgb, 3), "NV12 {yuv:?} -> {:?}, want {rgb:?}", &dst[..4]);
        }
    }

    #[test]
    fn both_jpeg_decoders_read_a_frame_and_refuse_broken_ones() {
        let (w, h) = (64u32, 48u32);
        let rgb: Vec<u8> = (0..w * h).flat_map(|i| if (i % w) < w / 2 { [200, 30, 30] } else { [20, 40, 220] }).collect();
        let mut jpg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 90).encode(&rgb, w, h, image::ExtendedColorType::Rgb8).expect("encode");
        // The camera's buffer is larger than the JPEG in it: zeros after the end.
        let mut padded = jpg.clone();
        padded.resize(jpg.len() + 4096, 0);
        for dec in [Jpeg::Turbo, Jpeg::Zune] {
            let mut dst = vec![0; (w * h * 4) as usize];
            to_rgba(PixelFormat::Mjpeg, w, h, &padded, &mut dst, dec).expect("decode");
            assert!(close(&dst[..3], [200, 30, 30], 12), "{dec:?} left: {:?}", &dst[..4]);
            assert!(close(&dst[(w * 4 - 4) as usize..][..3], [20, 40, 220], 12), "{dec:?} right");
            assert_eq!(dst[3], 255);
            let e = to_rgba(PixelFormat::Mjpeg, w * 2, h, &padded, &mut vec![0; (w * h * 8) as usize], dec).unwrap_err();
            assert!(matches!(e, ConvertError::JpegSize { .. }), "{dec:?}: {e}");
            // A torn frame (the camera's transfer cut short) may decode partly or fail; it
            // must not panic.
            let _ = to_rgba(PixelFormat::Mjpeg, w, h, &jpg[..jpg.len() / 3], &mut dst, dec);
            let garbage = vec![0x55u8; 1000];
            assert!(to_rgba(PixelFormat::Mjpeg, w, h, &garbage, &mut dst, dec).is_err(), "{dec:?} garbage");
        }
    }

    #[test]
    fn short_frames_are_errors_not_panics() {
        let mut dst = vec![0; 16 * 16 * 4];
        for f in [PixelFormat::Yuyv, PixelFormat::Nv12, PixelFormat::Rgb, PixelFormat::Gray] {
            let e = to_rgba(f, 16, 16, &[0; 10], &mut dst, Jpeg::Turbo).unwrap_err();
            assert!(e.to_string().contains("too short"), "{e}");
        }
    }
}
