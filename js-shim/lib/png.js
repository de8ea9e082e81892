'use strict';
// QR modules (from the wasm core) to a PNG data URL, with node:zlib only.

const zlib = require('node:zlib');

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A grayscale PNG of square QR modules (1 = dark), `scale` pixels per module and a 4-module
 * quiet zone.
 * @param {Uint8Array} modules
 * @param {number} [scale]
 * @returns {Buffer}
 */
function modulesToPng(modules, scale = 8) {
  const side = Math.round(Math.sqrt(modules.length));
  if (side * side !== modules.length || side === 0) throw new Error('QR modules must form a square');
  const quiet = 4;
  const px = (side + 2 * quiet) * scale;
  const row = Buffer.alloc(1 + px); // filter byte 0 + one byte per pixel
  const rows = [];
  for (let y = 0; y < px; y++) {
    const my = Math.floor(y / scale) - quiet;
    row.fill(255, 1);
    row[0] = 0;
    if (my >= 0 && my < side) {
      for (let mx = 0; mx < side; mx++) {
        if (modules[my * side + mx]) row.fill(0, 1 + (mx + quiet) * scale, 1 + (mx + quiet + 1) * scale);
      }
    }
    rows.push(Buffer.from(row));
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(px, 0);
  ihdr.writeUInt32BE(px, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

module.exports = { modulesToPng, crc32 };
