//! QR codes of presentation texts, at error correction M (spec/presentations.md): PNG and SVG
//! files for printing, and a terminal rendering for the operator's screen.

use anyhow::{Context, Result};
use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

/// The QR code of `text` at ECC M.
pub fn code(text: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .context("the presentation does not fit in a QR code")
}

/// Whether `text` fits in a QR code at ECC M, without drawing one (drawing chooses among
/// eight masks, a thousand times the work).
pub fn fits(text: &str) -> Result<()> {
    qrcode::bits::encode_auto(text.as_bytes(), EcLevel::M)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("the presentation does not fit in a QR code: {e}"))
}

/// The QR version (1–40) `text` needs.
pub fn version(c: &QrCode) -> i16 {
    match c.version() {
        qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => v,
    }
}

/// A PNG: 8 pixels per module, with the 4-module quiet zone.
pub fn png(c: &QrCode) -> Result<Vec<u8>> {
    let img = c
        .render::<image::Luma<u8>>()
        .module_dimensions(8, 8)
        .quiet_zone(true)
        .build();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .context("cannot encode the PNG")?;
    Ok(out.into_inner())
}

/// An SVG.
pub fn svg(c: &QrCode) -> String {
    c.render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build()
}

/// Two modules per character cell, for a terminal.
pub fn terminal(c: &QrCode) -> String {
    c.render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_text_fits_exactly_when_a_code_can_be_drawn() {
        for len in [10, 3_000, 3_391, 3_392, 5_000] {
            let text = "A".repeat(len);
            assert_eq!(
                super::fits(&text).is_ok(),
                super::code(&text).is_ok(),
                "{len} characters"
            );
        }
        assert!(super::fits(&"A".repeat(5_000)).is_err());
    }
}
