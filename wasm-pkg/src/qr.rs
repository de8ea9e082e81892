//! QR strings to SVG, so the JS side can fill `body.qrImage` at dispatch without JS deps.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::convert::{js_error, INVALID_INPUT};

/// Renders a QR string (as Baileys emits it) as a standalone SVG document, 256 px at least.
pub fn render_qr_svg(qr: &str) -> Result<String, String> {
    if qr.is_empty() {
        return Err("qr must not be empty".into());
    }
    let code = QrCode::with_error_correction_level(qr.as_bytes(), EcLevel::L)
        .map_err(|e| format!("cannot encode qr: {e}"))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// The QR's modules row by row (1 dark, 0 light), without quiet zone; the side is
/// `sqrt(len)`. The JS side turns them into a PNG with `node:zlib` (the seed's backend expects
/// `data:image/png` URLs, like the host sends).
pub fn qr_modules(qr: &str) -> Result<Vec<u8>, String> {
    if qr.is_empty() {
        return Err("qr must not be empty".into());
    }
    let code = QrCode::with_error_correction_level(qr.as_bytes(), EcLevel::L)
        .map_err(|e| format!("cannot encode qr: {e}"))?;
    Ok(code.to_colors().into_iter().map(|c| u8::from(c == qrcode::Color::Dark)).collect())
}

/// `renderQrModules(qr)`: a `Uint8Array` of the QR's modules (see [`qr_modules`]).
#[wasm_bindgen(js_name = renderQrModules)]
pub fn qr_modules_js(qr: &str) -> Result<Vec<u8>, JsValue> {
    qr_modules(qr).map_err(|m| js_error(INVALID_INPUT, &m))
}

/// `renderQrSvg(qr)`: the SVG document of a QR string.
#[wasm_bindgen(js_name = renderQrSvg)]
pub fn render_qr_svg_js(qr: &str) -> Result<String, JsValue> {
    render_qr_svg(qr).map_err(|m| js_error(INVALID_INPUT, &m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_baileys_sized_qr() {
        let qr = format!("2@{},{},{},{}", "A".repeat(150), "b".repeat(44), "c".repeat(44), "d".repeat(24));
        let svg = render_qr_svg(&qr).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("#000000"));
        assert_eq!(svg, render_qr_svg(&qr).unwrap(), "deterministic");
    }

    #[test]
    fn modules_form_a_square() {
        let m = qr_modules("2@abc,def").unwrap();
        let side = (m.len() as f64).sqrt() as usize;
        assert_eq!(side * side, m.len());
        assert!(side >= 21);
        assert_eq!(m[0], 1, "finder pattern corner is dark");
        assert!(m.iter().all(|v| *v <= 1));
        assert!(qr_modules("").is_err());
    }

    #[test]
    fn refuses_empty_and_oversized() {
        assert!(render_qr_svg("").is_err());
        assert!(render_qr_svg(&"x".repeat(5_000)).is_err());
    }
}
