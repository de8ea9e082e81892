// The session story both edges live through before the requests are compared: sessions in every
// state the request list needs (pending with a QR, connected, reconnecting, idle, removed), a QR
// for an unknown session, refused inputs, session meta, and one delivery per backend outcome
// class (throttled, failed, rejected). The host takes it over HTTP, the npm keeper through its
// JS API. After every operation both edges are let settle (queue empty, nothing in flight): an
// input that arrives while an earlier item is still queued can coalesce or purge it, and whether
// it does would then depend on HTTP latency, not on the edges. What each sent to its backend
// during a step is then compared item for item.

import { sendJson } from './client.mjs';
import { AUTH } from './config.mjs';

/** A Baileys-sized QR string (the renderer sees realistic input). */
export const qrString = (n) => `2@${'Q'.repeat(140)}${n},${'k'.repeat(44)},${'i'.repeat(44)},${'a'.repeat(24)}`;

const close = (statusCode, message) => ({
  connection: 'close',
  lastDisconnect: { error: { message, output: { statusCode } } },
});

/**
 * Steps: `ops` are `['add', id, meta?]` or `['event', id, update]`; `backend` answers queued on
 * both recorders before the step (the rest get 200).
 */
export const STORY = [
  { name: 'add six sessions', ops: ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'].map((id) => ['add', id]) },
  {
    name: 'alice: connecting, first QR',
    ops: [
      ['event', 'alice', { connection: 'connecting' }],
      ['event', 'alice', { qr: qrString(1) }],
    ],
  },
  { name: 'alice: second QR', ops: [['event', 'alice', { qr: qrString(2) }]] },
  {
    name: 'bob: connecting, open',
    ops: [
      ['event', 'bob', { connection: 'connecting' }],
      ['event', 'bob', { connection: 'open' }],
    ],
  },
  {
    name: 'carol: QR, scanned, 515',
    ops: [
      ['event', 'carol', { qr: qrString(3) }],
      ['event', 'carol', { isNewLogin: true }],
      ['event', 'carol', close(515, 'Stream Errored (restart required)')],
    ],
  },
  { name: 'dave: connection lost (428)', ops: [['event', 'dave', close(428, 'Connection Closed')]] },
  {
    name: 'erin: QR, then logged out (401)',
    ops: [
      ['event', 'erin', { qr: qrString(4) }],
      ['event', 'erin', close(401, 'Connection Failure')],
    ],
  },
  { name: 'ghost: QR for an unknown session', ops: [['event', 'ghost', { qr: qrString(5) }]] },
  { name: 'alice added again', ops: [['add', 'alice']] },
  { name: 'an invalid session id', ops: [['add', 'bad id']] },
  {
    name: 'grace: first delivery throttled (503, Retry-After: 1)',
    backend: [{ status: 503, headers: { 'retry-after': '1' } }],
    ops: [
      ['add', 'grace'],
      ['event', 'grace', { qr: qrString(6) }],
    ],
  },
  {
    name: 'heidi: first delivery fails (500)',
    backend: [{ status: 500 }],
    ops: [
      ['add', 'heidi'],
      ['event', 'heidi', { connection: 'open' }],
    ],
  },
  {
    name: 'kate: meta carried in every body',
    ops: [
      ['add', 'kate', { tenant: 't-1', phone: '+15550100', seats: 3, vip: true, note: null }],
      ['event', 'kate', { qr: qrString(8) }],
      ['event', 'kate', { connection: 'open' }],
    ],
  },
  { name: 'an invalid meta', ops: [['add', 'liam', { 'bad key': 'x' }]] },
  {
    name: 'judy: first delivery 503 without Retry-After',
    backend: [{ status: 503 }],
    ops: [
      ['add', 'judy'],
      ['event', 'judy', { connection: 'open' }],
    ],
  },
  {
    name: 'ivan: first delivery rejected (422)',
    backend: [{ status: 422 }],
    ops: [
      ['add', 'ivan'],
      ['event', 'ivan', { qr: qrString(7) }],
    ],
  },
];

/** The keeper's error codes as the host answers them (the handler's table, DESIGN's error classes). */
const STATUS_BY_CODE = {
  UnknownSession: 404,
  SessionExists: 409,
  InvalidSessionId: 400,
  InvalidInput: 400,
  InvalidItem: 400,
  QueueFull: 503,
};

/** One operation on the host: `{status, error?}`. */
async function hostOp(base, [kind, id, arg]) {
  const req =
    kind === 'add'
      ? { method: 'POST', path: '/sessions', body: JSON.stringify({ sessionId: id, ...(arg ? { meta: arg } : {}) }) }
      : { method: 'POST', path: `/sessions/${encodeURIComponent(id)}/events`, body: JSON.stringify(arg) };
  const res = await sendJson(base, { ...req, headers: { ...AUTH, 'content-type': 'application/json' } });
  return res.status < 300 ? { status: res.status } : { status: res.status, error: res.json && res.json.error };
}

/** The same operation on the npm keeper, its outcome in the host's terms. */
function npmOp(keeper, [kind, id, arg]) {
  try {
    if (kind === 'add') keeper.addSession(id, arg ? { meta: arg } : undefined);
    else keeper.connectionUpdate(id, arg);
    return { status: kind === 'add' ? 201 : 200 };
  } catch (err) {
    return { status: STATUS_BY_CODE[err.code] || 500, error: err.message, code: err.code };
  }
}

/** Whether an edge has nothing queued and nothing in flight. */
const quiet = (h) => h.queue.depth === 0 && h.queue.inFlight === 0;

/**
 * Waits until both edges are quiet (polling, no fixed sleeps). Resolves to undefined, or to a
 * description of the edge that did not settle within `timeoutMs`.
 */
export async function settle(host, npm, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const h = (await sendJson(host.base, { method: 'GET', path: '/health' })).json;
    const n = npm.keeper.health();
    if (quiet(h) && quiet(n)) return undefined;
    if (Date.now() > deadline) {
      return `did not settle in ${timeoutMs} ms: host queue ${JSON.stringify(h.queue.depth)}/${h.queue.inFlight}, npm ${n.queue.depth}/${n.queue.inFlight}`;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Runs the story on both edges. `onStep(step, {hostSent, npmSent})` receives what each backend
 * got during the step. Returns the operation mismatches as `{step, op, host, npm}` rows.
 */
export async function runStory(host, npm, onStep) {
  const mismatches = [];
  for (const step of STORY) {
    const hostFrom = host.backend.requests.length;
    const npmFrom = npm.backend.requests.length;
    for (const answer of step.backend || []) {
      host.backend.answerNext(answer);
      npm.backend.answerNext(answer);
    }
    for (const op of step.ops) {
      const h = await hostOp(host.base, op);
      const n = npmOp(npm.keeper, op);
      const label = `${op[0]} ${op[1]}${op[2] ? ` ${JSON.stringify(op[2]).slice(0, 40)}` : ''}`;
      if (h.status !== n.status)
        mismatches.push({ step: step.name, what: `${label}: status`, host: h.status, npm: n.status });
      if (h.error !== n.error)
        mismatches.push({ step: step.name, what: `${label}: error`, host: h.error, npm: n.error });
      const late = await settle(host, npm);
      if (late) mismatches.push({ step: step.name, what: `${label}: settle`, host: late, npm: late });
    }
    onStep(step, { hostSent: host.backend.requests.slice(hostFrom), npmSent: npm.backend.requests.slice(npmFrom) });
  }
  return mismatches;
}
