// One request's two answers, compared as the contract says: the same status, the same main
// content type, the same `Allow` / `WWW-Authenticate` / `Retry-After`, the same JSON (clock fields
// aside, `error` texts included), the same image bytes, an empty body for HEAD, and for /metrics
// the family-by-family comparison of exposition.mjs.

import crypto from 'node:crypto';

import { compareExpositions } from './exposition.mjs';
import { canonical, jsonDiff, mainType, normalise } from './normalise.mjs';

/** Response headers compared by value (absent on one side is a difference too). */
const HEADERS = ['allow', 'www-authenticate', 'retry-after'];

const bytes = (b) => `${b.length} bytes, sha256 ${crypto.createHash('sha256').update(b).digest('hex').slice(0, 12)}`;
const show = (v) => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === undefined ? String(v) : s;
};

function parseJson(body) {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

/**
 * Mismatch rows `{what, host, npm}` for one request (`req` from requests.mjs; `h`, `n` from
 * client.send). Timestamp-like fields the normalisation does not know go to `unlisted`.
 */
export function compareResponses(req, h, n, unlisted) {
  if (h.error || n.error) {
    return h.error === n.error
      ? []
      : [{ what: 'connection', host: h.error || `answered ${h.status}`, npm: n.error || `answered ${n.status}` }];
  }
  const rows = [];
  if (h.status !== n.status) rows.push({ what: 'status', host: h.status, npm: n.status });
  const ht = mainType(h.headers['content-type']);
  const nt = mainType(n.headers['content-type']);
  if (ht !== nt) rows.push({ what: 'content-type', host: ht || '(none)', npm: nt || '(none)' });
  for (const name of HEADERS) {
    if (h.headers[name] !== n.headers[name])
      rows.push({ what: `header ${name}`, host: h.headers[name] ?? '(absent)', npm: n.headers[name] ?? '(absent)' });
  }
  if (req.method === 'HEAD') {
    if (h.body.length || n.body.length) rows.push({ what: 'HEAD body', host: bytes(h.body), npm: bytes(n.body) });
    return rows;
  }
  if (req.metrics && h.status === 200 && n.status === 200) {
    return rows.concat(compareExpositions(h.body.toString('utf8'), n.body.toString('utf8')));
  }
  const hj = ht === 'application/json' ? parseJson(h.body) : { ok: false };
  const nj = nt === 'application/json' ? parseJson(n.body) : { ok: false };
  if (hj.ok && nj.ok) {
    const hn = normalise(hj.value, unlisted, `${req.name}: body`);
    const nn = normalise(nj.value, unlisted, `${req.name}: body`);
    if (canonical(hn) !== canonical(nn)) {
      for (const d of jsonDiff(hn, nn)) rows.push({ what: `body ${d.path}`, host: show(d.host), npm: show(d.npm) });
    }
  } else if (!h.body.equals(n.body)) {
    rows.push({ what: `body (${ht || 'no type'})`, host: bytes(h.body), npm: bytes(n.body) });
  }
  return rows;
}
