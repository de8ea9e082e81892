// Making two answers comparable: the edges run on their own clocks and answer at slightly
// different moments, so every value that is a unix-ms timestamp or a duration measured up to
// "now" is replaced by a marker. The list is explicit; any other number that looks like a unix-ms
// timestamp is reported, so a new clock field is added here on purpose rather than making the
// suite flaky or hiding a real difference. The one random part, the keeper incarnation inside
// idempotency keys (16 hex digits, drawn at each start so keys never repeat across restarts),
// is marked the same way; the rest of the key (kind, session, item id) is compared.

/** Keys whose number is read off a clock (timestamps) or measured against one (durations). */
export const CLOCK_FIELDS = Object.freeze([
  'now', // health: the keeper's now
  'at', // backend status bodies, dead letters, commands
  'createdAt', // sessions[]
  'lastEventAt', // sessions[]
  'notConnectedSince', // sessions[]
  'inactiveAt', // sessions[]: notConnectedSince + inactiveSessionTimeout
  'reconnectAt', // sessions[]: when the backoff ends
  'since', // pendingSessions[]: start of the pending episode
  'ageMs', // pendingSessions[]: now - since
  'expiresAt', // pendingSessions[]: since + pendingSessionTimeout
  'openedAt', // circuitBreaker
  'openForMs', // circuitBreaker: now - openedAt
  'nextAttemptAt', // circuitBreaker
  'pausedUntil', // queue: end of a Retry-After pause
]);

const CLOCK = new Set(CLOCK_FIELDS);
/** `sk-<incarnation>-<kind>-<session>-<id>`: the incarnation differs per keeper start. */
const INCARNATION = /^sk-[0-9a-f]{16}-/;

/** An idempotency key with its incarnation marked. */
export const normaliseKey = (key) => (typeof key === 'string' ? key.replace(INCARNATION, 'sk-<incarnation>-') : key);
const MARK = '<clock>';
/** Unix ms between 2001 and 2286: what an unlisted timestamp looks like. */
const looksLikeUnixMs = (v) => Number.isInteger(v) && v >= 1e12 && v < 1e13;

/**
 * A copy of a JSON value with clock fields marked (`null` stays `null`: absence and presence are
 * still compared). Unlisted timestamp-like numbers are pushed to `unlisted` as paths.
 */
export function normalise(value, unlisted = [], path = '') {
  if (Array.isArray(value)) return value.map((v, i) => normalise(v, unlisted, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') {
    if (looksLikeUnixMs(value)) unlisted.push(path || '(top)');
    return value;
  }
  const out = {};
  for (const [k, v] of Object.entries(value)) {
    const p = path ? `${path}.${k}` : k;
    if (CLOCK.has(k) && typeof v === 'number') out[k] = MARK;
    else if (k === 'idempotencyKey') out[k] = normaliseKey(v);
    else out[k] = normalise(v, unlisted, p);
  }
  return out;
}

/** JSON with sorted keys: equal values print equally whatever the key order. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  return `{${Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
    .join(',')}}`;
}

/** The first differences between two JSON values, as `{path, host, npm}`. */
export function jsonDiff(host, npm, path = '', out = [], limit = 12) {
  if (out.length >= limit) return out;
  const bothObjects = host && npm && typeof host === 'object' && typeof npm === 'object';
  if (!bothObjects || Array.isArray(host) !== Array.isArray(npm)) {
    if (canonical(host) !== canonical(npm)) out.push({ path: path || '(body)', host, npm });
    return out;
  }
  if (Array.isArray(host) && host.length !== npm.length) {
    out.push({ path: `${path}.length`, host: host.length, npm: npm.length });
  }
  const keys = Array.isArray(host)
    ? [...Array(Math.min(host.length, npm.length)).keys()]
    : [...new Set([...Object.keys(host), ...Object.keys(npm)])].sort();
  for (const k of keys) {
    const p = Array.isArray(host) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
    if (!(k in host) || !(k in npm)) {
      out.push({ path: p, host: k in host ? host[k] : '(absent)', npm: k in npm ? npm[k] : '(absent)' });
    } else jsonDiff(host[k], npm[k], p, out, limit);
    if (out.length >= limit) break;
  }
  return out;
}

/** `image/svg+xml; charset=utf-8` -> `image/svg+xml`. */
export function mainType(contentType) {
  return (contentType || '').split(';')[0].trim().toLowerCase();
}
