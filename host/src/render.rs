//! QR rendering with the `qrcode` crate: PNG bytes, PNG data URLs (for `body.qrImage` at
//! dispatch) and SVG (for `GET /sessions/{id}/qr`).

use base64::Engine as _;
use image::codecs::png::{CompressionType, FilterType};
use image::{ImageEncoder, Luma};
use qrcode::render::svg;
use qrcode::QrCode;

/// A QR string that cannot be encoded.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Too long or otherwise not encodable.
    #[error("cannot encode QR: {0}")]
    Encode(#[from] qrcode::types::QrError),
    /// PNG encoding failed.
    #[error("cannot encode PNG: {0}")]
    Png(#[from] image::ImageError),
}

/// Pixels per QR module in data URLs sent to the backend (the npm `qrcode` default is 4).
pub const DATA_URL_MODULE_PX: u32 = 4;

/// A grayscale PNG of the QR, `module_px` pixels per module, with the standard quiet zone.
pub fn png(qr: &str, module_px: u32) -> Result<Vec<u8>, RenderError> {
    let code = QrCode::new(qr.as_bytes())?;
    let img = code.render::<Luma<u8>>().module_dimensions(module_px, module_px).build();
    let mut out = Vec::with_capacity(16 * 1024);
    // Fast deflate with the Sub filter: ~20x cheaper than the adaptive default for a few KiB
    // more (QR images are large flat areas either way).
    image::codecs::png::PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::L8)?;
    Ok(out)
}

/// `data:image/png;base64,...` of the QR, as the seed's backend expects in `qrImage`.
pub fn png_data_url(qr: &str) -> Result<String, RenderError> {
    let bytes = png(qr, DATA_URL_MODULE_PX)?;
    Ok(format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// An SVG document of the QR.
pub fn svg(qr: &str) -> Result<String, RenderError> {
    let code = QrCode::new(qr.as_bytes())?;
    Ok(code.render::<svg::Color<'_>>().min_dimensions(256, 256).build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_png_svg_and_data_url() {
        let qr = "2@abcdefghijklmnopqrstuvwxyz0123456789,ABCDEFGHIJ==,KLMNOP==,QRSTUV==";
        let png = png(qr, 4).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert!(png_data_url(qr).unwrap().starts_with("data:image/png;base64,iVBOR"));
        assert!(svg(qr).unwrap().contains("<svg"));
    }
}
