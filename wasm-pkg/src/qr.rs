//! QR images for the JS side, from the one renderer the host uses too (`sessionkeeper-qr`), so
//! `qrImage` and `GET /sessions/{id}/qr` are the same bytes from either edge.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::convert::{js_error, INVALID_INPUT};

/// `renderQrPng(qr)`: the PNG bytes of a QR string.
#[wasm_bindgen(js_name = renderQrPng)]
pub fn render_qr_png_js(qr: &str) -> Result<Vec<u8>, JsValue> {
    sessionkeeper_qr::png(qr).map_err(|e| js_error(INVALID_INPUT, &e.to_string()))
}

/// `renderQrSvg(qr)`: the SVG document of a QR string.
#[wasm_bindgen(js_name = renderQrSvg)]
pub fn render_qr_svg_js(qr: &str) -> Result<String, JsValue> {
    sessionkeeper_qr::svg(qr).map_err(|e| js_error(INVALID_INPUT, &e.to_string()))
}
