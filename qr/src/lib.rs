//! # sessionkeeper-qr
//!
//! The one QR renderer both edges use, so the backend's `qrImage` and `GET /sessions/{id}/qr`
//! are the same bytes whether the host or the npm package produced them. Pure Rust (no I/O),
//! deterministic on every target: the same QR string always gives the same bytes.
//!
//! The image: error-correction level M, [`MODULE_PX`] pixels per module, a [`QUIET_ZONE`]-module
//! light border (the standard's minimum), 8-bit grayscale PNG; SVG with the same geometry.

use base64::Engine as _;
use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};

/// Pixels per QR module.
pub const MODULE_PX: u32 = 4;
/// Light modules around the symbol.
pub const QUIET_ZONE: u32 = 4;
/// Error-correction level: M survives a smudged phone screen and keeps Baileys' QRs small.
pub const EC_LEVEL: EcLevel = EcLevel::M;

/// Why a QR string cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// Empty input: there is nothing to show.
    #[error("qr must not be empty")]
    Empty,
    /// Too long for any QR version at level M.
    #[error("cannot encode qr: {0}")]
    Encode(String),
    /// The PNG encoder failed (it writes to memory, so only on impossible sizes).
    #[error("cannot encode png: {0}")]
    Png(String),
}

fn encode(qr: &str) -> Result<QrCode, RenderError> {
    if qr.is_empty() {
        return Err(RenderError::Empty);
    }
    QrCode::with_error_correction_level(qr.as_bytes(), EC_LEVEL)
        .map_err(|e| RenderError::Encode(e.to_string()))
}

/// The grayscale pixels of the symbol with its quiet zone, row by row, and the side in pixels.
fn pixels(code: &QrCode) -> (Vec<u8>, u32) {
    let modules = code.width() as u32;
    let side_modules = modules + 2 * QUIET_ZONE;
    let side = side_modules * MODULE_PX;
    let colors = code.to_colors();
    let mut out = Vec::with_capacity((side * side) as usize);
    for my in 0..side_modules {
        let mut row = Vec::with_capacity(side as usize);
        for mx in 0..side_modules {
            let dark = (QUIET_ZONE..QUIET_ZONE + modules).contains(&mx)
                && (QUIET_ZONE..QUIET_ZONE + modules).contains(&my)
                && colors[((my - QUIET_ZONE) * modules + (mx - QUIET_ZONE)) as usize] == Color::Dark;
            let value = if dark { 0u8 } else { 255u8 };
            row.extend(std::iter::repeat_n(value, MODULE_PX as usize));
        }
        for _ in 0..MODULE_PX {
            out.extend_from_slice(&row);
        }
    }
    (out, side)
}

/// PNG bytes of the QR.
pub fn png(qr: &str) -> Result<Vec<u8>, RenderError> {
    let code = encode(qr)?;
    let (pixels, side) = pixels(&code);
    let mut out = Vec::with_capacity(8 * 1024);
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    // Fast deflate with the Sub filter: QR images are large flat areas, so this is many times
    // cheaper than adaptive filtering for a few KiB more.
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::Filter::Sub);
    let png_err = |e: png::EncodingError| RenderError::Png(e.to_string());
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(&pixels).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(out)
}

/// `data:image/png;base64,...` of the QR: the backend's `qrImage`.
pub fn png_data_url(qr: &str) -> Result<String, RenderError> {
    let bytes = png(qr)?;
    let mut url = String::from("data:image/png;base64,");
    base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut url);
    Ok(url)
}

/// An SVG document of the QR, with the PNG's geometry.
pub fn svg(qr: &str) -> Result<String, RenderError> {
    let code = encode(qr)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(MODULE_PX, MODULE_PX)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAILEYS_LIKE: &str = "2@abcdefghijklmnopqrstuvwxyz0123456789,ABCDEFGHIJ==,KLMNOP==,QRSTUV==";

    #[test]
    fn png_has_the_documented_geometry() {
        let bytes = png(BAILEYS_LIKE).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        let modules = encode(BAILEYS_LIKE).unwrap().width() as u32;
        assert_eq!(width, (modules + 2 * QUIET_ZONE) * MODULE_PX);
        assert_eq!(width, height);
        assert_eq!(bytes[24], 8, "bit depth");
        assert_eq!(bytes[25], 0, "grayscale");
    }

    #[test]
    fn same_input_same_bytes() {
        assert_eq!(png(BAILEYS_LIKE).unwrap(), png(BAILEYS_LIKE).unwrap());
        assert_eq!(svg(BAILEYS_LIKE).unwrap(), svg(BAILEYS_LIKE).unwrap());
        assert!(png_data_url(BAILEYS_LIKE).unwrap().starts_with("data:image/png;base64,iVBORw0KGgo"));
    }

    #[test]
    fn pixels_follow_the_modules() {
        let code = encode("2@abc").unwrap();
        let (px, side) = pixels(&code);
        assert_eq!(px.len(), (side * side) as usize);
        let q = (QUIET_ZONE * MODULE_PX) as usize;
        let side = side as usize;
        assert_eq!(px[0], 255, "quiet zone is light");
        assert_eq!(px[q * side + q], 0, "the finder pattern's corner is dark");
    }

    #[test]
    fn svg_is_a_document_with_both_colours() {
        let s = svg(BAILEYS_LIKE).unwrap();
        assert!(s.starts_with("<?xml") && s.contains("<svg") && s.contains("#000000"), "{s}");
    }

    #[test]
    fn refuses_what_cannot_be_encoded() {
        assert_eq!(png(""), Err(RenderError::Empty));
        assert!(matches!(svg(&"x".repeat(5_000)), Err(RenderError::Encode(_))));
    }
}
