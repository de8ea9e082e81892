'use strict';
// Renders QR strings for `body.qrImage` (at dispatch) and for `GET /sessions/{id}/qr`, with the
// host's renderer compiled into the wasm core: the same bytes from either edge.

const wasm = require('./wasm');

/** PNG bytes of a QR string. */
function qrPng(qr) {
  return Buffer.from(wasm.renderQrPng(qr));
}

/** SVG document of a QR string. */
function qrSvg(qr) {
  return wasm.renderQrSvg(qr);
}

/**
 * A data URL of the QR: `data:image/png;base64,...` (what the seed's backend and the host send)
 * or `data:image/svg+xml;base64,...`.
 * @param {string} qr
 * @param {'png'|'svg'} [format]
 */
function qrDataUrl(qr, format = 'png') {
  if (format === 'svg') return `data:image/svg+xml;base64,${Buffer.from(qrSvg(qr)).toString('base64')}`;
  return `data:image/png;base64,${qrPng(qr).toString('base64')}`;
}

module.exports = { qrPng, qrSvg, qrDataUrl };
