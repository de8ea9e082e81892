// What the edges sent to their backends for the same story, request by request: method and
// path, the JSON body (clock fields aside; `qrImage` byte for byte: one QR renderer), the headers
// a backend relies on, and a valid signature on both sides.

import crypto from 'node:crypto';

import { SHARED } from './config.mjs';
import { canonical, jsonDiff, normalise, normaliseKey } from './normalise.mjs';

/** Headers compared by value (same on both edges by contract). */
const SAME_VALUE = ['authorization', 'idempotency-key', 'content-type', 'accept'];
/** Headers that must be present on both, with a per-request value (checked for validity). */
const PRESENT = ['x-timestamp', 'x-signature'];

const short = (s) =>
  typeof s === 'string' && s.length > 60 ? `${s.slice(0, 40)}... (${s.length} chars, sha256 ${sha(s)})` : s;
const sha = (s) => crypto.createHash('sha256').update(s).digest('hex').slice(0, 12);

function parse(body) {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return `(not JSON: ${body.toString('utf8').slice(0, 60)})`;
  }
}

function signatureOk(r) {
  const ts = r.headers['x-timestamp'];
  const sig = r.headers['x-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string') return false;
  const mac = crypto.createHmac('sha256', SHARED.signingSecret).update(`${ts}.`).update(r.body).digest('hex');
  return sig === `sha256=${mac}` && Math.abs(Number(ts) - Date.now() / 1000) < 300;
}

/**
 * Compares the requests two backends received during one step. Returns mismatch rows
 * `{what, host, npm}`; `unlisted` collects timestamp-like fields the normalisation does not know.
 */
export function compareDeliveries(hostSent, npmSent, unlisted) {
  const rows = [];
  const line = (r) => `${r.method} ${r.path} -> ${r.answered}`;
  if (hostSent.length !== npmSent.length) {
    rows.push({
      what: 'requests sent',
      host: hostSent.map(line).join(', ') || '(none)',
      npm: npmSent.map(line).join(', ') || '(none)',
    });
  }
  for (let i = 0; i < Math.min(hostSent.length, npmSent.length); i++) {
    const h = hostSent[i];
    const n = npmSent[i];
    const at = `#${i + 1} ${h.path.replace(/^\/api/, '')}`;
    if (line(h) !== line(n)) rows.push({ what: `${at}: request line`, host: line(h), npm: line(n) });
    const hb = parse(h.body);
    const nb = parse(n.body);
    // The image is compared on its own (byte for byte) and shown by size and hash.
    const image = (b) => (b && typeof b === 'object' && 'qrImage' in b ? b.qrImage : '(absent)');
    if (image(hb) !== image(nb))
      rows.push({ what: `${at}: body qrImage`, host: short(image(hb)), npm: short(image(nb)) });
    for (const b of [hb, nb]) if (b && typeof b === 'object') delete b.qrImage;
    const hn = normalise(hb, unlisted, `${at} body`);
    const nn = normalise(nb, unlisted, `${at} body`);
    if (canonical(hn) !== canonical(nn)) {
      for (const d of jsonDiff(hn, nn))
        rows.push({
          what: `${at}: body ${d.path}`,
          host: short(JSON.stringify(d.host)),
          npm: short(JSON.stringify(d.npm)),
        });
    }
    for (const name of SAME_VALUE) {
      if (normaliseKey(h.headers[name]) !== normaliseKey(n.headers[name])) {
        rows.push({
          what: `${at}: header ${name}`,
          host: normaliseKey(h.headers[name]) ?? '(absent)',
          npm: normaliseKey(n.headers[name]) ?? '(absent)',
        });
      }
    }
    for (const name of PRESENT) {
      if (name in h.headers !== name in n.headers) {
        rows.push({
          what: `${at}: header ${name}`,
          host: name in h.headers ? 'present' : '(absent)',
          npm: name in n.headers ? 'present' : '(absent)',
        });
      }
    }
    const hs = signatureOk(h);
    const ns = signatureOk(n);
    if (!hs || !ns) rows.push({ what: `${at}: X-Signature valid`, host: hs, npm: ns });
  }
  return rows;
}
