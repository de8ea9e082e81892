'use strict';
// One backend request for one `deliver` output, and its outcome in the core's terms.
// No policy: retries, backoff, breaker and pacing are the core's; this only performs the POST.

const crypto = require('node:crypto');
const { qrDataUrl } = require('./qr');

/** The host sends `sessionkeeper/<version>` too: a backend can tell its clients apart. */
const USER_AGENT = `sessionkeeper/${require('../package.json').version}`;

/** The request body: the core's body plus `qrImage`, rendered now (at dispatch) when asked for. */
function requestBody(delivery, qrImageFormat) {
  if (delivery.renderQr === undefined) return delivery.body;
  let qrImage = null;
  try {
    qrImage = qrDataUrl(delivery.renderQr, qrImageFormat);
  } catch {
    // A QR too long to encode: the backend gets the raw `qr` and decides.
  }
  return { ...delivery.body, qrImage };
}

/** `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, as the host signs. */
function sign(secret, timestamp, text) {
  return `sha256=${crypto.createHmac('sha256', secret).update(`${timestamp}.${text}`).digest('hex')}`;
}

function describe(err) {
  const cause = err && err.cause;
  const detail = cause && (cause.code || cause.message);
  const message = (err && err.message) || String(err);
  return detail ? `${message}: ${detail}` : message;
}

/** The most of an answer's body that is read (the host's cap): only the status counts. */
const ANSWER_BODY_CAP = 64 * 1024;

/**
 * Reads the answer's body so the connection can be reused, but no more than the cap: a backend
 * answering without end would otherwise be buffered whole. Past the cap the body is cancelled.
 */
async function drainCapped(res) {
  try {
    const body = res.body;
    if (!body || typeof body.getReader !== 'function') {
      if (typeof res.arrayBuffer === 'function') await res.arrayBuffer();
      return;
    }
    const reader = body.getReader();
    let read = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value ? value.byteLength : 0;
      if (read > ANSWER_BODY_CAP) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // the status is what counts
  }
}

/**
 * POSTs a delivery and resolves to its `DeliveryOutcome` (never rejects).
 * @param {object} shim settings from splitOptions
 * @param {object} delivery a `deliver` output
 * @param {number} nowMs unix ms, for the signature timestamp
 */
async function performDelivery(shim, delivery, nowMs) {
  const text = JSON.stringify(requestBody(delivery, shim.qrImageFormat));
  const headers = {
    'content-type': 'application/json',
    accept: 'application/json',
    'user-agent': USER_AGENT,
    'idempotency-key': delivery.idempotencyKey,
  };
  if (shim.token) headers.authorization = `Bearer ${shim.token}`;
  if (shim.signingSecret) {
    const timestamp = String(Math.floor(nowMs / 1000));
    headers['x-timestamp'] = timestamp;
    headers['x-signature'] = sign(shim.signingSecret, timestamp, text);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), shim.requestTimeout);
  try {
    const res = await shim.fetch(shim.baseUrl + delivery.path, {
      method: 'POST',
      headers,
      body: text,
      signal: controller.signal,
    });
    if (res === null || typeof res !== 'object' || !Number.isInteger(res.status) || res.status < 100 || res.status > 999) {
      return { kind: 'networkError', message: 'the fetch option resolved to something that is not a Response' };
    }
    const retryAfter = res.headers && typeof res.headers.get === 'function' ? res.headers.get('retry-after') : null;
    await drainCapped(res);
    const outcome = { kind: 'response', status: res.status };
    if (retryAfter !== null && retryAfter !== undefined) outcome.retryAfter = String(retryAfter);
    return outcome;
  } catch (err) {
    if (controller.signal.aborted) return { kind: 'timeout' };
    return { kind: 'networkError', message: describe(err) };
  } finally {
    clearTimeout(timer);
  }
}

module.exports = { performDelivery, requestBody, sign, ANSWER_BODY_CAP };
