//! Reads the QR code in a photo or screenshot (PNG or JPEG) with `rqrr`, within limits on the
//! file's bytes, its pixels and the memory decoding may take.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use thiserror::Error;

/// Largest image file accepted.
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;
/// Largest side accepted, in pixels (a 48-megapixel phone photo is ~8,000 wide).
pub const MAX_SIDE: u32 = 10_000;
/// Photos are scaled down to at most this side before the QR search: faster, and plenty for a
/// code that fills a fair part of the picture.
const SEARCH_SIDE: u32 = 1_600;

/// Why no presentation text came out of an image.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ImageError {
    /// Larger than [`MAX_IMAGE_BYTES`].
    #[error("image is {len} bytes; at most {max} accepted")]
    TooLarge {
        /// Size given.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Not a PNG or JPEG, or damaged, or beyond the pixel limits.
    #[error("not a readable PNG or JPEG image: {0}")]
    Unreadable(String),
    /// No QR code was found.
    #[error("no QR code found in the image; hold the code flat, in focus, filling the frame")]
    NoCode,
    /// A QR code was found but not decoded.
    #[error("a QR code was found but could not be read: {0}")]
    Undecodable(String),
}

/// The text of the first QR code in the image.
pub fn decode_qr(bytes: &[u8]) -> Result<String, ImageError> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge {
            len: bytes.len(),
            max: MAX_IMAGE_BYTES,
        });
    }
    let format = image::guess_format(bytes).map_err(|e| ImageError::Unreadable(e.to_string()))?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg) {
        return Err(ImageError::Unreadable(format!(
            "{format:?} is not accepted"
        )));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| ImageError::Unreadable(e.to_string()))?;
    search(&img, SEARCH_SIDE).or_else(|e| {
        // A small code in a big photo may vanish when scaled; try once at full size.
        if img.width().max(img.height()) > SEARCH_SIDE {
            search(&img, MAX_SIDE)
        } else {
            Err(e)
        }
    })
}

fn search(img: &DynamicImage, side: u32) -> Result<String, ImageError> {
    let luma = if img.width().max(img.height()) > side {
        img.resize(side, side, image::imageops::FilterType::Triangle)
            .to_luma8()
    } else {
        img.to_luma8()
    };
    let (w, h) = luma.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            luma.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    let mut last = None;
    for g in grids {
        match g.decode() {
            Ok((_, text)) => return Ok(text),
            Err(e) => last = Some(e.to_string()),
        }
    }
    Err(match last {
        Some(e) => ImageError::Undecodable(e),
        None => ImageError::NoCode,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn png_of(text: &str, scale: u32) -> Vec<u8> {
        let code = qrcode::QrCode::new(text.as_bytes()).unwrap();
        let w = code.width() as u32;
        let colors = code.to_colors();
        let side = (w + 8) * scale;
        let img = image::GrayImage::from_fn(side, side, |x, y| {
            let (mx, my) = (x / scale, y / scale);
            let dark = mx >= 4
                && my >= 4
                && mx < w + 4
                && my < w + 4
                && colors[((my - 4) * w + (mx - 4)) as usize] == qrcode::Color::Dark;
            image::Luma([if dark { 0 } else { 255 }])
        });
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn a_png_qr_code_is_read() {
        let text = "CL1:TEST-PRESENTATION-TEXT";
        assert_eq!(decode_qr(&png_of(text, 6)).unwrap(), text);
    }

    #[test]
    fn a_big_photo_is_scaled_and_still_read() {
        let text = "cl1.abc";
        let png = png_of(text, 100);
        assert_eq!(decode_qr(&png).unwrap(), text);
    }

    #[test]
    fn bad_input_is_named() {
        assert!(matches!(
            decode_qr(b"GIF89a...."),
            Err(ImageError::Unreadable(_))
        ));
        assert!(matches!(
            decode_qr(b"hello"),
            Err(ImageError::Unreadable(_))
        ));
        let blank = {
            let img = image::GrayImage::from_pixel(50, 50, image::Luma([255]));
            let mut out = Vec::new();
            img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
                .unwrap();
            out
        };
        assert_eq!(decode_qr(&blank), Err(ImageError::NoCode));
        let big = vec![0u8; MAX_IMAGE_BYTES + 1];
        assert!(matches!(decode_qr(&big), Err(ImageError::TooLarge { .. })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn damaged_pngs_never_panic(cut in 0usize..400, flip in 0usize..400, byte in any::<u8>()) {
            let mut png = png_of("CL1:X", 3);
            let n = png.len();
            png[flip % n] ^= byte;
            png.truncate(n - cut.min(n - 1));
            let _ = decode_qr(&png);
        }
    }
}
