'use strict';
// Property-style fuzzing of the public API, reproducible from a seed.
//
//   node --test test/fuzz.test.js                        a random seed (printed)
//   SK_FUZZ_SEED=1234 node --test test/fuzz.test.js      replay a seed
//   SK_FUZZ_CASES=20000 node --test test/fuzz.test.js    more calls (default 2000)
//
// Random JS values (circular, BigInt, Date, functions, Symbols, NaN, -0, 1 MB strings, nesting
// to depth 10,000, Map/Set, typed arrays, toJSON (throwing too), throwing getters, Proxies,
// null-prototype objects, sparse arrays, lone surrogates...) are thrown at every public method
// and argument position. Each call must succeed or throw a KeeperError with a string `code`;
// nothing may escape as an uncaught exception or unhandled rejection. A payload JSON.stringify
// accepts is accepted (up to 64 KiB of JSON and depth 64) and reaches the backend as
// JSON.stringify renders it; circular and BigInt payloads are refused with InvalidItem. After
// the random phase the keeper still works.
//
// Violations are collected (grouped by method and kind of failure) and reported together with
// the seed, so one run shows every kind of failure.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const crypto = require('node:crypto');
const { EventEmitter } = require('node:events');
const pkg = require('..');
const { fakeBackend, waitFor, flush, fakeSocket, tmpDir, qrString } = require('./helpers');

const { createKeeper, KeeperError, CONFIG_KEYS } = pkg;

const SEED = process.env.SK_FUZZ_SEED !== undefined && process.env.SK_FUZZ_SEED !== '' ? Number(process.env.SK_FUZZ_SEED) >>> 0 : crypto.randomInt(2 ** 32);
const CASES = process.env.SK_FUZZ_CASES ? Math.max(100, Number(process.env.SK_FUZZ_CASES) | 0) : 2_000;
/** Of the cases: createKeeper option sets (each keeper gets a few calls and is closed). */
const OPTION_CASES = Math.round(CASES * 0.15);
const CALL_CASES = CASES - OPTION_CASES;
const REPLAY = `seed ${SEED} (replay: SK_FUZZ_SEED=${SEED} node --test test/fuzz.test.js)`;

const MAX_PAYLOAD_BYTES = 65_536;
const MAX_PAYLOAD_DEPTH = 64;
/** Bytes around the size limit where either answer is fine (number formatting may differ). */
const SIZE_MARGIN = 1_024;
/**
 * Strings with lone surrogates: JSON.stringify writes them as `\udXXX` escapes, which no UTF-8
 * JSON reader (the backend's included) can turn back into text, so the package refuses such
 * payloads ('refuse': KeeperError InvalidItem); 'preserve' would expect them delivered unchanged.
 */
const LONE_SURROGATES = 'refuse';

// --- PRNG -----------------------------------------------------------------------------------

function mulberry32(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng = {
    next,
    int: (n) => Math.floor(next() * n),
    range: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    chance: (p) => next() < p,
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    /** Picks from [[weight, value], ...]. */
    weighted: (pairs) => {
      const total = pairs.reduce((s, [w]) => s + w, 0);
      let r = next() * total;
      for (const [w, v] of pairs) {
        if ((r -= w) < 0) return v;
      }
      return pairs[pairs.length - 1][1];
    },
  };
  return rng;
}

// --- random values --------------------------------------------------------------------------

/** What user code throws (from getters, toJSON, Proxy traps, sockets). */
class FuzzBoom extends Error {
  constructor(where) {
    super(`fuzz: boom from ${where}`);
    this.name = 'FuzzBoom';
  }
}

const HUGE = 'h'.repeat(1 << 20); // 1 MiB
const SESSION_POOL = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'];

/**
 * A generator of random values. `gen.value(flags)` returns a value and records in `flags`:
 * `thrower` (may throw user errors when read or serialised), `circular`, `bigint`, `kinds`.
 */
function makeGen(rng, { throwers = true } = {}) {
  const note = (flags, kind) => {
    if (flags.kinds.length < 8) flags.kinds.push(kind);
  };

  function string(flags = newFlags()) {
    return rng.weighted([
      [3, () => ''],
      [6, () => rng.pick(SESSION_POOL)],
      [4, () => `id-${rng.int(1000)}`],
      [4, () => 'hello world'],
      [3, () => {
        note(flags, 'lone-surrogate');
        return rng.pick(['\ud800', 'a\udc00b', '\udfff\ud800', `x${'\ud83d'}`]);
      }],
      [2, () => '\ud83d\ude00 ünïcødé ✓'],
      [2, () => '\u0000\u0001\n\t"\\\u2028\u2029\u007f'],
      [2, () => rng.pick(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype'])],
      [3, () => `/path/${rng.int(100)}`],
      [1, () => rng.pick(['../../etc/passwd', '//evil.example/x', '/a b?c=d#e', '/%00', '/\u0000', 'http://x/y'])],
      [1, () => {
        note(flags, '1MB-string');
        return HUGE;
      }],
      [1, () => {
        note(flags, 'near-64KiB-string');
        return 'x'.repeat(MAX_PAYLOAD_BYTES - 2 + rng.pick([-5_000, -1_100, -2, 0, 1, 1_100, 5_000]));
      }],
      [4, () => {
        let s = '';
        const n = rng.int(24);
        for (let i = 0; i < n; i++) s += String.fromCharCode(rng.chance(0.1) ? rng.int(0x10000) : 32 + rng.int(95));
        return s;
      }],
    ])();
  }

  function number() {
    return rng.pick([
      0, -0, 1, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e21, 1e300, -1e-300,
      Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, 65_535, 65_536, 400, 500, 515, 401, 428, 440,
      rng.int(1_000_000), rng.next() * 1e6 - 5e5,
    ]);
  }

  function fn(flags) {
    return rng.weighted([
      [3, () => function plain() {}],
      [3, () => () => 42],
      [2, () => async () => 1],
      [1, () => class Klass {}],
      [1, () => function* gen() {}],
      [1, () => Object.assign(() => 1, { a: 1, toJSON: undefined })],
      [throwers ? 1 : 0, () => {
        flags.thrower = true;
        return () => {
          throw new FuzzBoom('a function');
        };
      }],
    ])();
  }

  function deep(flags) {
    const d = rng.pick([10, 32, 63, 64, 65, 66, 100, 1_000, 10_000]);
    note(flags, `deep(${d})`);
    let v = rng.chance(0.5) ? number() : 'leaf';
    const asArray = rng.chance(0.5);
    for (let i = 0; i < d; i++) v = asArray ? [v] : { a: v };
    return v;
  }

  function value(flags = newFlags(), depth = 0) {
    const container = depth < 4 ? 1 : 0.15;
    const kind = rng.weighted([
      [10, 'scalar'],
      [3, 'bigint'],
      [2, 'symbol'],
      [3, 'function'],
      [3, 'date'],
      [3, 'builtin'],
      [2, 'typed'],
      [2, 'boxed'],
      [14 * container, 'object'],
      [10 * container, 'array'],
      [2 * container, 'nullproto'],
      [2 * container, 'sparse'],
      [3 * container, 'toJSON'],
      [throwers ? 2 : 0, 'throwingToJSON'],
      [2 * container, 'getter'],
      [throwers ? 2 : 0, 'throwingGetter'],
      [2 * container, 'proxy'],
      [throwers ? 1 : 0, 'throwingProxy'],
      [throwers ? 1 : 0, 'revokedProxy'],
      [3, 'circular'],
      [1 * container, 'shared'],
      [2, 'deep'],
      [1, 'wide'],
      [1, 'protoKey'],
      [1, 'instance'],
      [1, 'thenable'],
      [1, 'hidden'],
    ]);
    if (depth === 0 || rng.chance(0.3)) note(flags, kind);
    switch (kind) {
      case 'scalar':
        return rng.weighted([
          [2, () => undefined],
          [2, () => null],
          [2, () => rng.chance(0.5)],
          [5, () => number()],
          [6, () => string(flags)],
        ])();
      case 'bigint':
        flags.bigint = true;
        return rng.pick([0n, 1n, -1n, 2n ** 64n, 10n ** 30n]);
      case 'symbol':
        return rng.pick([Symbol('fuzz'), Symbol.iterator, Symbol.for('sk')]);
      case 'function':
        return fn(flags);
      case 'date':
        return rng.pick([new Date(0), new Date(1_700_000_000_123), new Date(NaN), new Date(8.64e15)]);
      case 'builtin':
        return rng.weighted([
          [1, () => /re(g)ex/gi],
          [1, () => new Error('an error')],
          [2, () => new Map([[1, 'one'], ['k', value(flags, depth + 1)]])],
          [2, () => new Set([1, 'two', value(flags, depth + 1)])],
          [1, () => new WeakMap()],
          [1, () => Promise.resolve(7)],
          [1, () => new ArrayBuffer(8)],
          [1, () => new DataView(new ArrayBuffer(4))],
          [1, () => new URL('http://example.com/a?b=c')],
          [1, () => (function args() { return arguments; })(1, 'a', null)], // eslint-disable-line prefer-rest-params
        ])();
      case 'typed':
        return rng.weighted([
          [2, () => new Uint8Array([1, 2, 3])],
          [1, () => new Float64Array([NaN, -0, Infinity])],
          [1, () => Buffer.from('buf')],
          [1, () => {
            flags.bigint = true;
            return new BigInt64Array([1n, -1n]);
          }],
        ])();
      case 'boxed':
        return rng.weighted([
          [1, () => new Number(NaN)], // eslint-disable-line no-new-wrappers
          [1, () => new String('boxed')], // eslint-disable-line no-new-wrappers
          [1, () => new Boolean(false)], // eslint-disable-line no-new-wrappers
          [1, () => Object(Symbol('boxed'))],
          [1, () => {
            flags.bigint = true;
            return Object(5n);
          }],
        ])();
      case 'object': {
        const o = {};
        const n = rng.int(5);
        for (let i = 0; i < n; i++) {
          // An own data property even for `__proto__` (as JSON.parse makes it), not a prototype.
          const key = rng.chance(0.8) ? `k${rng.int(10)}` : string();
          Object.defineProperty(o, key, { value: value(flags, depth + 1), enumerable: true, writable: true, configurable: true });
        }
        if (rng.chance(0.1)) o[Symbol('key')] = 'symbol-keyed';
        if (rng.chance(0.1)) Object.defineProperty(o, 'hiddenProp', { value: 'not enumerable', enumerable: false });
        if (rng.chance(0.1)) Object.freeze(o);
        return o;
      }
      case 'array': {
        const n = rng.int(5);
        const a = [];
        for (let i = 0; i < n; i++) a.push(value(flags, depth + 1));
        if (rng.chance(0.1)) a.extra = 'named';
        return a;
      }
      case 'nullproto': {
        const o = Object.create(null);
        o.a = value(flags, depth + 1);
        o.b = 'x';
        return o;
      }
      case 'sparse': {
        const a = new Array(rng.range(1, 6));
        a[rng.int(a.length)] = value(flags, depth + 1);
        return a;
      }
      case 'toJSON': {
        const inner = value(flags, depth + 1);
        return { ignored: 'yes', toJSON: () => inner };
      }
      case 'throwingToJSON':
        flags.thrower = true;
        return {
          toJSON() {
            throw new FuzzBoom('toJSON');
          },
        };
      case 'getter': {
        const inner = value(flags, depth + 1);
        const o = { plain: 1 };
        Object.defineProperty(o, 'got', { get: () => inner, enumerable: true });
        return o;
      }
      case 'throwingGetter': {
        flags.thrower = true;
        const o = { before: 1 };
        Object.defineProperty(o, 'boom', {
          get() {
            throw new FuzzBoom('a getter');
          },
          enumerable: true,
        });
        return o;
      }
      case 'proxy': {
        const target = rng.chance(0.5) ? { p: value(flags, depth + 1), q: 2 } : [1, value(flags, depth + 1)];
        return new Proxy(target, {});
      }
      case 'throwingProxy': {
        flags.thrower = true;
        const trap = rng.pick(['get', 'ownKeys', 'getOwnPropertyDescriptor', 'has']);
        return new Proxy(
          { a: 1 },
          {
            [trap]() {
              throw new FuzzBoom(`a Proxy ${trap} trap`);
            },
          },
        );
      }
      case 'revokedProxy': {
        flags.thrower = true;
        const { proxy, revoke } = Proxy.revocable({ a: 1 }, {});
        revoke();
        return proxy;
      }
      case 'circular': {
        flags.circular = true;
        return rng.weighted([
          [1, () => {
            const o = { name: 'self' };
            o.self = o;
            return o;
          }],
          [1, () => {
            const a = [1];
            a.push(a);
            return a;
          }],
          [1, () => {
            const a = { name: 'a' };
            const b = { name: 'b', a };
            a.b = [b];
            return { wrapper: a };
          }],
          [1, () => {
            const o = { level: { deeper: { deepest: {} } } };
            o.level.deeper.deepest.back = o.level;
            return [o];
          }],
        ])();
      }
      case 'shared': {
        const child = { shared: true, v: value(flags, depth + 1) };
        return { left: child, right: child, list: [child, child] };
      }
      case 'deep':
        return deep(flags);
      case 'wide': {
        // Arrays of small numbers around the 64 KiB limit: 2 bytes each ("7,"), 2n+1 in all.
        const n = rng.pick([1_000, 32_000, 32_767, 32_768, 33_500, 40_000]);
        note(flags, `wide(${n})`);
        return new Array(n).fill(7);
      }
      case 'protoKey':
        return JSON.parse('{"__proto__": {"polluted": true}, "a": 1, "constructor": {"prototype": {"x": 1}}}');
      case 'instance': {
        class Point {
          #secret = 1;
          constructor() {
            this.x = 1;
            this.y = value(flags, depth + 1);
          }
          method() {
            return this.#secret;
          }
        }
        return new Point();
      }
      case 'thenable':
        return { then: (resolve) => resolve && resolve(1), v: 1 };
      case 'hidden': {
        // Things JSON.stringify never reads: a circle behind a Map and behind toJSON, a
        // throwing getter that is not enumerable.
        const circle = {};
        circle.circle = circle;
        const o = { map: new Map([['c', circle]]), viaToJSON: { toJSON: () => 'replaced', circle } };
        Object.defineProperty(o, 'quiet', {
          get() {
            throw new FuzzBoom('a non-enumerable getter');
          },
          enumerable: false,
        });
        return o;
      }
      default:
        throw new Error(`unknown kind ${kind}`);
    }
  }

  return { value, string, number, fn, deep };
}

function newFlags() {
  return { thrower: false, circular: false, bigint: false, kinds: [] };
}

/** Depth of a JSON value (scalar 0, [] 1), iteratively. */
function jsonDepth(v) {
  let deepest = 0;
  const stack = [[v, 0]];
  while (stack.length) {
    const [x, outer] = stack.pop();
    if (x === null || typeof x !== 'object') continue;
    deepest = Math.max(deepest, outer + 1);
    for (const child of Array.isArray(x) ? x : Object.values(x)) stack.push([child, outer + 1]);
  }
  return deepest;
}

/** What JSON.stringify makes of a payload, and so what the keeper must do with it. */
function expectation(payload, flags) {
  let text;
  try {
    text = JSON.stringify(payload);
  } catch (error) {
    // Circular, BigInt, too deep for V8 itself: InvalidItem. A user error (getter, toJSON,
    // Proxy trap) may be reported under another code.
    return { kind: 'refuse', code: flags.thrower ? undefined : 'InvalidItem', why: `JSON.stringify throws ${error.name}: ${error.message.slice(0, 80)}` };
  }
  if (text === undefined) return { kind: 'refuse', code: undefined, why: 'JSON.stringify gives undefined' };
  const parsed = JSON.parse(text);
  const bytes = Buffer.byteLength(text);
  const depth = jsonDepth(parsed);
  // JSON.stringify writes a lone surrogate as a \udXXX escape (well-formed JSON.stringify).
  const also = /\\ud[89a-f][0-9a-f]{2}/i.test(text) ? ', with lone surrogates' : '';
  if (depth > MAX_PAYLOAD_DEPTH) return { kind: 'refuse', code: 'InvalidItem', why: `depth ${depth} > ${MAX_PAYLOAD_DEPTH}${also}` };
  if (also && LONE_SURROGATES === 'refuse') return { kind: 'refuse', code: 'InvalidItem', why: 'lone surrogates' };
  if (bytes > MAX_PAYLOAD_BYTES + SIZE_MARGIN) return { kind: 'refuse', code: 'InvalidItem', why: `${bytes} bytes of JSON${also}` };
  return { kind: bytes <= MAX_PAYLOAD_BYTES - SIZE_MARGIN ? 'accept' : 'either', text, parsed, bytes, depth, also };
}

// --- checking -------------------------------------------------------------------------------

function describeValue(v) {
  try {
    const s = util.inspect(v, { depth: 2, breakLength: Infinity, maxArrayLength: 4, maxStringLength: 40 });
    return s.length > 160 ? `${s.slice(0, 160)}...` : s;
  } catch {
    return `<${typeof v}>`;
  }
}

function describeError(err) {
  if (err === null || typeof err !== 'object') return `a non-object ${typeof err}: ${describeValue(err)}`;
  const ctor = err.constructor && err.constructor.name;
  return `${ctor}${err.name && err.name !== ctor ? ` (name ${err.name})` : ''} code=${describeValue(err.code)}: ${String(err.message).slice(0, 160)}`;
}

/** A stable label for grouping: the error's class, name and the message without numbers. */
function errorKind(err) {
  if (err === null || typeof err !== 'object') return `non-Error ${typeof err}`;
  const message = String(err.message)
    .replace(/\d+/g, 'N')
    .replace(/`[^`]*`|"[^"]*"/g, 'Q')
    .slice(0, 70);
  return `${err.constructor && err.constructor.name}/${err.name}: ${message}`;
}

function isKeeperError(err) {
  if (err === null || typeof err !== 'object') return false;
  if (typeof err.code !== 'string') return false;
  if (typeof KeeperError === 'function') return err instanceof KeeperError;
  return err.name === 'KeeperError'; // reported once as "KeeperError is not exported"
}

class Violations {
  constructor() {
    this.groups = new Map();
    this.total = 0;
  }

  add(category, detail) {
    this.total++;
    const g = this.groups.get(category);
    if (g) g.count++;
    else this.groups.set(category, { count: 1, first: detail });
  }

  report() {
    const lines = [`${this.total} violation(s) in ${this.groups.size} group(s); ${REPLAY}`];
    for (const [category, { count, first }] of this.groups) lines.push(`  [${count}x] ${category}\n      first: ${first}`);
    return lines.join('\n');
  }
}

/**
 * Records uncaught exceptions and unhandled rejections during a test. The runner's own
 * listeners are set aside meanwhile: they would end the test at once while its loop still runs
 * (and its after-hooks would then clean up under it); the test fails at its end instead, with
 * the seed. `seen.restore()` puts them back (also done after the test).
 */
function watchProcess(t) {
  const seen = [];
  const events = ['uncaughtException', 'unhandledRejection'];
  const saved = Object.fromEntries(events.map((e) => [e, process.listeners(e)]));
  const mine = {
    uncaughtException: (err) => seen.push(`uncaughtException: ${describeError(err)}\n${err && err.stack}`),
    unhandledRejection: (reason) => seen.push(`unhandledRejection: ${describeError(reason)}\n${reason && reason.stack}`),
  };
  for (const e of events) {
    process.removeAllListeners(e);
    process.on(e, mine[e]);
  }
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    for (const e of events) {
      process.off(e, mine[e]);
      for (const listener of saved[e]) process.on(e, listener);
    }
  };
  Object.defineProperty(seen, 'restore', { value: restore });
  t.after(restore);
  return seen;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn`; a throw must be a KeeperError with a string code. Returns {ok, value} or {ok:false, err}.
 */
function attempt(violations, label, caseNo, args, fn) {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (!isKeeperError(err)) {
      const shown = typeof args === 'function' ? args() : args;
      violations.add(`${label}: threw ${errorKind(err)}`, `case ${caseNo}: ${label}(${shown}) threw ${describeError(err)}`);
    }
    return { ok: false, err };
  }
}

/** Checks an enqueue result against the payload's expectation; records what must be delivered. */
function checkPayloadOutcome(ctx, label, caseNo, payload, flags, exp, outcome) {
  const { violations, expected } = ctx;
  let memo;
  const shown = {
    toString: () => (memo === undefined ? (memo = `payload ${describeValue(payload)} [${flags.kinds.join(',')}]`) : memo),
  };
  if (outcome.ok) {
    const ack = outcome.value;
    if (exp.kind === 'refuse') {
      violations.add(`${label}: accepted a payload it must refuse (${exp.why.replace(/\d+/g, 'N')})`, `case ${caseNo}: ${shown}: ${exp.why}`);
      return;
    }
    if (!ack || typeof ack.idempotencyKey !== 'string') {
      violations.add(`${label}: accepted without an idempotencyKey`, `case ${caseNo}: answer ${describeValue(ack)}`);
      return;
    }
    expected.set(ack.idempotencyKey, { caseNo, label, parsed: exp.parsed, text: exp.text, shown });
    return;
  }
  const { err } = outcome;
  if (!isKeeperError(err)) return; // already reported by attempt()
  if (exp.kind === 'accept') {
    violations.add(
      `${label}: refused a payload JSON.stringify accepts${exp.also} (${err.code}: ${errorKind(err)})`,
      `case ${caseNo}: ${shown} (${exp.bytes} bytes, depth ${exp.depth}) refused: ${describeError(err)}`,
    );
  } else if (exp.kind === 'refuse' && exp.code && err.code !== exp.code) {
    violations.add(`${label}: refused with code ${err.code}, not ${exp.code} (${exp.why.replace(/\d+/g, 'N')})`, `case ${caseNo}: ${shown}: ${describeError(err)}`);
  } else if (exp.kind === 'either' && err.code !== 'InvalidItem') {
    violations.add(`${label}: a payload at the size limit refused with code ${err.code}`, `case ${caseNo}: ${describeError(err)}`);
  }
}

// --- the keeper under test ------------------------------------------------------------------

const FAST = {
  syncSpacing: 1,
  maxConcurrentMessages: 4,
  retryBaseDelay: 1,
  retryMaxDelay: 5,
  maxAttempts: 2,
  circuitBreakerThreshold: 20,
  circuitBreakerResetTimeout: 20,
  circuitBreakerMaxResetTimeout: 50,
  reconnectBaseDelay: 1,
  reconnectMaxDelay: 5,
  pendingSessionTimeout: 60_000,
  requestTimeout: 2_000,
};

/** A plausible-or-random value for each argument position. */
function argGen(rng, gen) {
  const any = () => gen.value(newFlags());
  const p = (plausible) => (rng.chance(0.6) ? plausible() : any());
  const sessionId = () => p(() => (rng.chance(0.85) ? rng.pick(SESSION_POOL) : gen.string()));
  const update = () =>
    p(() => {
      const u = {};
      if (rng.chance(0.5)) u.connection = rng.chance(0.8) ? rng.pick(['open', 'close', 'connecting']) : any();
      if (rng.chance(0.4)) u.qr = rng.chance(0.7) ? qrString(rng.int(50)) : any();
      if (rng.chance(0.2)) u.isNewLogin = rng.chance(0.8) ? rng.chance(0.5) : any();
      if (rng.chance(0.3)) {
        const statusCode = rng.chance(0.8) ? rng.pick([401, 403, 408, 411, 428, 440, 500, 503, 515]) : any();
        const error = rng.chance(0.5) ? Object.assign(new Error('Connection Failure'), { output: { statusCode } }) : { output: { statusCode }, message: any() };
        u.lastDisconnect = rng.chance(0.85) ? { error, date: new Date() } : any();
      }
      if (rng.chance(0.1)) u.receivedPendingNotifications = any();
      if (rng.chance(0.05)) {
        Object.defineProperty(u, 'qr', {
          get() {
            throw new FuzzBoom('an update getter');
          },
          enumerable: true,
        });
      }
      return u;
    });
  const meta = () =>
    p(() => {
      const m = {};
      const n = rng.int(4);
      for (let i = 0; i < n; i++) {
        const key = rng.chance(0.9) ? rng.pick(['phone', 'tenant', 'name', 'n']) : gen.string();
        const value = rng.chance(0.7) ? rng.pick(['491511234', 42, true, null]) : any();
        Object.defineProperty(m, key, { value, enumerable: true, writable: true, configurable: true });
      }
      return m;
    });
  const sessionOptions = () => p(() => (rng.chance(0.3) ? undefined : { meta: meta() }));
  const reason = () => p(() => (rng.chance(0.5) ? undefined : rng.pick(['operator', 'logout', gen.string()])));
  const ms = () => p(() => rng.pick([undefined, 0, 1, 1_000, 60_000, 2 ** 53]));
  const cleanup = (key) => p(() => (rng.chance(0.2) ? undefined : { [key]: ms() }));
  const input = () =>
    p(() => {
      const type = rng.chance(0.9)
        ? rng.pick(['addSession', 'removeSession', 'connectionUpdate', 'enqueue', 'cleanupInactive', 'cleanupPending', 'restarted', 'deliveryResult'])
        : any();
      const i = { type };
      if (rng.chance(0.8)) i.sessionId = sessionId();
      if (type === 'connectionUpdate' || rng.chance(0.05)) i.update = update();
      if (type === 'enqueue' || rng.chance(0.05)) {
        i.path = p(() => `/batch/${rng.int(100)}`);
        i.payload = any();
        if (rng.chance(0.3)) i.key = p(() => `bk${rng.int(5)}`);
      }
      if (type === 'deliveryResult') {
        // Never a real delivery id: a forged result for one in flight would change what the
        // backend receives.
        i.deliveryId = p(() => 1e12 + rng.int(1e6));
        i.outcome = p(() => rng.pick([{ kind: 'response', status: 200 }, { kind: 'timeout' }, { kind: 'networkError', message: 'x' }, { kind: 'response', status: 99999 }]));
      }
      if (rng.chance(0.1)) i.meta = meta();
      return i;
    });
  const inputs = () => p(() => Array.from({ length: rng.int(4) }, input));
  return { any, sessionId, update, meta, sessionOptions, reason, ms, cleanup, input, inputs };
}

/** A bogus or real socket for attachBaileys. Real ones (EventEmitter-backed) are returned in `live`. */
function socketGen(rng, gen) {
  return () =>
    rng.weighted([
      [4, () => ({ sock: fakeSocket(), live: true })],
      [2, () => ({ sock: gen.value(newFlags()) })],
      [1, () => ({ sock: {} })],
      [1, () => ({ sock: { ev: null } })],
      [1, () => ({ sock: { ev: {} } })],
      [1, () => ({ sock: { ev: { on: 5, off: 5 } } })],
      [1, () => ({ sock: { ev: { on() {}, off() {} } } })],
      [1, () => ({ sock: { ev: new EventEmitter() } })],
      [1, () => ({ sock: { ev: { on() { throw new FuzzBoom('ev.on'); }, off() {} } } })],
      [1, () => ({ sock: { ev: { on() {}, off() { throw new FuzzBoom('ev.off'); } } } })],
      [1, () => ({ sock: { ev: new Proxy({}, { get() { throw new FuzzBoom('an ev Proxy'); } }) } })],
      [1, () => ({ sock: { get ev() { throw new FuzzBoom('an ev getter'); } } })],
      [1, () => ({
        // Emits an update synchronously while being attached.
        sock: { ev: { on: (name, listener) => listener(rng.chance(0.5) ? { qr: qrString(1) } : gen.value(newFlags())), off() {} } },
      })],
    ])();
}

test('fuzz: createKeeper options', async (t) => {
  t.diagnostic(`${OPTION_CASES} option sets; ${REPLAY}`);
  const seen = watchProcess(t);
  const rng = mulberry32(SEED ^ 0x9e3779b9);
  const gen = makeGen(rng);
  const calm = makeGen(rng, { throwers: false }); // for callbacks: a clock that throws is the caller's bug
  const violations = new Violations();
  if (typeof KeeperError !== 'function') violations.add('KeeperError is not exported by the package', 'require("sessionkeeper").KeeperError is undefined');
  const backend = await fakeBackend();
  const dir = tmpDir();
  const cwd = process.cwd();
  // Relative statePaths (and any value wrongly used as a file name) land in `dir`. The
  // working dir is restored only once every keeper made here is closed (`cases` settled).
  process.chdir(dir);
  let ended = false;
  let cases = Promise.resolve();
  t.after(async () => {
    ended = true;
    await Promise.race([cases.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
    process.chdir(cwd);
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const relativeNames = new Set();
  const any = () => gen.value(newFlags());
  const p = (plausible) => (rng.chance(0.85) ? plausible() : any());

  const callback = () => {
    const v = calm.value(newFlags());
    return rng.pick([() => v, async () => v, function f() { return v; }]);
  };
  const optionValue = {
    laravelApiUrl: () => p(() => (rng.chance(0.93) ? rng.pick([backend.url, `${backend.url}/`, 'http://127.0.0.1:9']) : rng.pick(['ftp://x', 'http://', 'not a url', '']))),
    laravelApiToken: () => p(() => gen.string()),
    signingSecret: () => p(() => gen.string()),
    apiKey: () => p(() => gen.string()),
    statePath: () =>
      rng.weighted([
        [3, () => path.join(dir, `state-${rng.int(20)}.json`)],
        [1, () => path.join(dir, 'sub', 'dir', `s${rng.int(5)}.json`)],
        [1, () => {
          const name = `rel-${rng.int(10)}.json`;
          relativeNames.add(name);
          return name;
        }],
        [1, () => rng.pick([undefined, null, ''])],
        // Non-strings only: a random string could name any path on this machine.
        [2, () => {
          const v = any();
          let pathLike;
          try {
            pathLike = typeof v === 'string' || ArrayBuffer.isView(v) || v instanceof URL;
          } catch {
            pathLike = false; // a revoked Proxy: no path
          }
          return pathLike ? 42 : v;
        }],
      ])(),
    autosaveInterval: () => p(() => rng.pick([0, 1, 5, 1_000, -1, 1.5, '5000', 86_400_001])),
    requestTimeout: () => p(() => rng.pick([1, 50, 1_000, 0, 600_001, '10'])),
    qrImageFormat: () => p(() => rng.pick(['png', 'svg', 'PNG', 'jpeg'])),
    fetch: () =>
      p(() =>
        rng.weighted([
          [3, () => globalThis.fetch],
          [2, () => callback()],
          [1, () => async () => ({ status: 200, headers: new Headers(), arrayBuffer: async () => new ArrayBuffer(0) })],
          [1, () => () => {
            throw new FuzzBoom('fetch');
          }],
          [1, () => async () => {
            throw new FuzzBoom('an async fetch');
          }],
        ])(),
      ),
    now: () => p(() => rng.weighted([[3, () => Date.now], [2, () => () => 1_700_000_000_000 + rng.int(1e6)], [2, () => callback()]])()),
    logger: () =>
      p(() =>
        rng.weighted([
          [2, () => ({ debug() {}, info() {}, warn() {}, error() {} })],
          [1, () => ({ warn() {} })],
          [1, () => ({})],
          [1, () => ({ info: 5, warn: 'no', error: null })],
        ])(),
      ),
    port: () => p(() => rng.pick([3000, 0, '3000'])),
  };
  const coreValue = (key) =>
    p(() => {
      if (key === 'seed') return rng.pick([0, 1, 12345, '12345', '18446744073709551615', '18446744073709551616', 2n ** 64n - 1n, -1, 1.5]);
      if (key === 'pacing') return rng.pick(['fixed', 'adaptive', 'off', 'FIXED']);
      if (/Rate$/.test(key)) return rng.pick([0, 0.5, 1, 1.5, -0.1]);
      if (rng.chance(0.7)) return rng.pick([1, 2, 5, 100, 1_000, 60_000]);
      return rng.pick([0, 2 ** 32, 2 ** 53, -1, 1.5, '20', NaN, Infinity, null, true, 10n]);
    });

  const keys = [...CONFIG_KEYS, ...Object.keys(optionValue)];
  const counts = { created: 0, refused: 0 };
  const refusedBy = {};
  const runCases = async () => {
    for (let c = 0; c < OPTION_CASES && !ended; c++) {
      let options;
      if (rng.chance(0.1)) {
        options = any();
      } else {
        options = {};
        if (rng.chance(0.95)) options.laravelApiUrl = optionValue.laravelApiUrl();
        const n = rng.int(4);
        for (let i = 0; i < n; i++) {
          const key = rng.chance(0.97) ? rng.pick(keys) : rng.pick(['circuitBreakerTreshold', 'bogus', '__proto__', gen.string()]);
          const value = Object.hasOwn(optionValue, key) ? optionValue[key]() : CONFIG_KEYS.includes(key) ? coreValue(key) : any();
          // An own property even for `__proto__`, not a prototype.
          Object.defineProperty(options, key, { value, enumerable: true, writable: true, configurable: true });
        }
        if (rng.chance(0.05)) {
          Object.defineProperty(options, 'syncSpacing', {
            get() {
              throw new FuzzBoom('an option getter');
            },
            enumerable: true,
          });
        }
        if (rng.chance(0.05)) options = new Proxy(options, {});
      }
      const shown = () => describeValue(options);
      const made = attempt(violations, 'createKeeper', c, shown, () => createKeeper(options));
      if (!made.ok) {
        counts.refused++;
        const why = isKeeperError(made.err) ? `${made.err.code}${made.err.key ? `:${made.err.key}` : ''}` : 'other';
        refusedBy[why] = (refusedBy[why] || 0) + 1;
        continue;
      }
      counts.created++;
      const k = made.value;
      if (!k || typeof k.addSession !== 'function') {
        violations.add('createKeeper: returned something that is not a keeper', `case ${c}: ${shown()}`);
        continue;
      }
      k.on('warning', () => {});
      // A few calls through the options just given (the clock, fetch, logger...).
      const id = `opt-${c}`;
      attempt(violations, 'createKeeper+addSession', c, shown, () => k.addSession(id));
      attempt(violations, 'createKeeper+connectionUpdate', c, shown, () => k.connectionUpdate(id, { qr: qrString(c) }));
      attempt(violations, 'createKeeper+enqueue', c, shown, () => k.enqueue({ path: '/opt', payload: { c } }));
      attempt(violations, 'createKeeper+health', c, shown, () => k.health());
      attempt(violations, 'createKeeper+config', c, shown, () => k.config());
      if (rng.chance(0.3)) await flush();
      let closed;
      const closing = attempt(violations, 'createKeeper+close', c, shown, () => k.close());
      if (closing.ok) {
        closed = await Promise.race([
          Promise.resolve(closing.value).then(
            () => 'closed',
            (err) => (isKeeperError(err) ? 'closed' : `rejected: ${describeError(err)}`),
          ),
          new Promise((resolve) => setTimeout(resolve, 5_000).unref()).then(() => 'hung'),
        ]);
        if (closed !== 'closed') violations.add(`createKeeper+close: close() ${closed.split(':')[0]}`, `case ${c}: ${shown()}: ${closed}`);
      }
    }
  };
  cases = runCases();
  await cases;
  await sleep(20);
  seen.restore();

  // Nothing but the relative statePaths given may have been written into the working dir.
  const stray = fs
    .readdirSync(dir)
    .filter((name) => !/^state-\d+\.json/.test(name) && name !== 'sub' && ![...relativeNames].some((r) => name === r || name.startsWith(`${r}.`) || name.startsWith(`.${r}.`)));
  if (stray.length) violations.add('createKeeper: a non-string statePath was used as a file name', `files written: ${stray.join(', ')}`);

  const top = Object.entries(refusedBy)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([why, n]) => `${why} ${n}`)
    .join(', ');
  t.diagnostic(`createKeeper: ${counts.created} created, ${counts.refused} refused (most: ${top})`);
  for (const entry of seen) violations.add(`process: ${entry.split(':')[0]} (${entry.split('\n')[0].slice(0, 120).replace(/\d+/g, 'N')})`, entry);
  assert.equal(violations.total, 0, violations.report());
});

test('fuzz: every method and argument position; payloads as JSON.stringify renders them; the keeper still works', async (t) => {
  t.diagnostic(`${CALL_CASES} calls; ${REPLAY}`);
  const seen = watchProcess(t);
  const rng = mulberry32(SEED ^ 0x85ebca6b);
  const gen = makeGen(rng);
  const args = argGen(rng, gen);
  const nextSocket = socketGen(rng, gen);
  const violations = new Violations();
  if (typeof KeeperError !== 'function') violations.add('KeeperError is not exported by the package', 'require("sessionkeeper").KeeperError is undefined');
  const backend = await fakeBackend();
  const keeper = createKeeper({ laravelApiUrl: backend.url, ...FAST });
  t.after(async () => {
    try {
      await keeper.close();
    } finally {
      await backend.close();
    }
  });
  const heard = { command: 0, session: 0, breaker: 0, deadLetter: 0, delivery: 0, warning: 0, saved: 0 };
  for (const name of Object.keys(heard)) keeper.on(name, () => heard[name]++);

  /** idempotencyKey -> what the backend must receive. */
  const expected = new Map();
  const ctx = { violations, expected };
  const live = []; // attached EventEmitter sockets, to emit random updates on
  const detachers = [];
  const counts = {};
  const payloadStats = { accept: 0, refuse: 0, either: 0 };

  const show = (...values) => values.map(describeValue).join(', ');
  const call = (name, caseNo, argv, fn) => {
    counts[name] = (counts[name] || 0) + 1;
    return attempt(violations, name, caseNo, () => show(...argv), fn);
  };

  const payloadCase = (name, c, makeCall) => {
    const flags = newFlags();
    const payload = rng.chance(0.35) ? makeGen(rng, { throwers: false }).value(flags) : gen.value(flags);
    const exp = expectation(payload, flags);
    payloadStats[exp.kind]++;
    const outcome = makeCall(payload);
    checkPayloadOutcome(ctx, name, c, payload, flags, exp, outcome);
  };

  const actions = [
    [6, 'addSession', (c) => {
      const a = [args.sessionId(), args.sessionOptions()];
      call('addSession', c, a, () => keeper.addSession(...a));
    }],
    [5, 'ensureSession', (c) => {
      const a = [args.sessionId(), args.sessionOptions()];
      const r = call('ensureSession', c, a, () => keeper.ensureSession(...a));
      if (r.ok && typeof r.value !== 'boolean') violations.add('ensureSession: answered a non-boolean', `case ${c}: ${describeValue(r.value)}`);
      if (!r.ok && r.err && r.err.code === 'SessionExists') violations.add('ensureSession: threw SessionExists', `case ${c}: ${show(...a)}`);
    }],
    [4, 'removeSession', (c) => {
      const a = [args.sessionId(), args.reason()];
      call('removeSession', c, a, () => keeper.removeSession(...a));
    }],
    [10, 'connectionUpdate', (c) => {
      const a = [args.sessionId(), args.update()];
      call('connectionUpdate', c, a, () => keeper.connectionUpdate(...a));
    }],
    [4, 'attachBaileys', (c) => {
      const id = args.sessionId();
      const { sock, live: isLive } = nextSocket();
      const r = call('attachBaileys', c, [id, sock], () => keeper.attachBaileys(id, sock));
      if (r.ok) {
        if (typeof r.value !== 'function') violations.add('attachBaileys: did not return a detach function', `case ${c}: ${describeValue(r.value)}`);
        else detachers.push(r.value);
        if (isLive) live.push(sock);
      }
    }],
    [6, 'socket event', (c) => {
      if (live.length === 0) return;
      const sock = rng.pick(live);
      const update = rng.chance(0.3) ? null : args.update();
      counts['socket event'] = (counts['socket event'] || 0) + 1;
      try {
        if (update === null) sock.close(rng.pick([401, 408, 428, 440, 500, 515]));
        else sock.ev.emit('connection.update', update);
      } catch (err) {
        // Whatever the keeper thinks of an event, it must not throw into the socket's emitter.
        violations.add(`socket connection.update listener threw ${errorKind(err)}`, `case ${c}: update ${describeValue(update)}: ${describeError(err)}`);
      }
    }],
    [1, 'detach', (c) => {
      if (detachers.length === 0) return;
      const d = detachers.splice(rng.int(detachers.length), 1)[0];
      const a = [args.any()];
      counts.detach = (counts.detach || 0) + 1;
      try {
        d(...a);
      } catch (err) {
        if (!isKeeperError(err)) violations.add(`detach function threw ${errorKind(err)}`, `case ${c}: ${describeError(err)}`);
      }
    }],
    [14, 'enqueue payload', (c) => {
      // The verified shape: a fresh path, no key, no session, a random payload.
      payloadCase('enqueue', c, (payload) => call('enqueue', c, [{ path: `/fuzz/${c}`, payload }], () => keeper.enqueue({ path: `/fuzz/${c}`, payload })));
    }],
    [6, 'enqueue', (c) => {
      const item = rng.chance(0.25)
        ? args.any()
        : {
            path: rng.chance(0.6) ? `/any/${rng.int(20)}` : args.any(),
            payload: rng.chance(0.5) ? { n: c } : args.any(),
            ...(rng.chance(0.4) ? { key: rng.chance(0.6) ? `key-${rng.int(5)}` : args.any() } : {}),
            ...(rng.chance(0.4) ? { sessionId: args.sessionId() } : {}),
          };
      if (item && typeof item === 'object' && rng.chance(0.05)) {
        try {
          Object.defineProperty(item, 'path', {
            get() {
              throw new FuzzBoom('an item getter');
            },
            enumerable: true,
          });
        } catch {
          // A frozen object or a revoked Proxy takes no getter: it is thrown as it is.
        }
      }
      const r = call('enqueue', c, [item], () => keeper.enqueue(item));
      if (r.ok && !(r.value && typeof r.value.idempotencyKey === 'string')) violations.add('enqueue: accepted without an idempotencyKey', `case ${c}`);
    }],
    [3, 'handleBatch payload', (c) => {
      payloadCase('handleBatch enqueue', c, (payload) => {
        const r = call('handleBatch', c, [[{ type: 'enqueue', path: `/fuzzb/${c}`, payload }]], () => keeper.handleBatch([{ type: 'enqueue', path: `/fuzzb/${c}`, payload }]));
        if (!r.ok) return r;
        const entry = Array.isArray(r.value) ? r.value[0] : undefined;
        if (entry instanceof Error) {
          if (!isKeeperError(entry)) violations.add(`handleBatch: an error entry that is not a KeeperError (${errorKind(entry)})`, `case ${c}: ${describeError(entry)}`);
          return { ok: false, err: entry };
        }
        return { ok: true, value: entry };
      });
    }],
    [5, 'handleBatch', (c) => {
      const inputs = args.inputs();
      const r = call('handleBatch', c, [inputs], () => keeper.handleBatch(inputs));
      if (r.ok) {
        if (!Array.isArray(r.value)) {
          violations.add('handleBatch: did not answer an array', `case ${c}: ${describeValue(r.value)}`);
        } else {
          if (Array.isArray(inputs) && r.value.length !== inputs.length) violations.add('handleBatch: not one answer per input', `case ${c}: ${inputs.length} inputs, ${r.value.length} answers`);
          for (const entry of r.value) {
            if (entry instanceof Error && !isKeeperError(entry)) violations.add(`handleBatch: an error entry that is not a KeeperError (${errorKind(entry)})`, `case ${c}: ${describeError(entry)}`);
          }
        }
      }
    }],
    [3, 'hasSession', (c) => {
      const a = [args.sessionId()];
      const r = call('hasSession', c, a, () => keeper.hasSession(...a));
      if (r.ok && typeof r.value !== 'boolean') violations.add('hasSession: answered a non-boolean', `case ${c}: ${describeValue(r.value)}`);
    }],
    [3, 'qr', (c) => {
      const a = [args.sessionId()];
      const r = call('qr', c, a, () => keeper.qr(...a));
      if (r.ok && r.value !== undefined && typeof r.value !== 'string') violations.add('qr: answered neither a string nor undefined', `case ${c}: ${describeValue(r.value)}`);
    }],
    [2, 'cleanupInactiveSessions', (c) => {
      const a = rng.chance(0.2) ? [] : [args.cleanup('idleForMs')];
      call('cleanupInactiveSessions', c, a, () => keeper.cleanupInactiveSessions(...a));
    }],
    [2, 'cleanupPendingSessions', (c) => {
      const a = rng.chance(0.2) ? [] : [args.cleanup('olderThanMs')];
      call('cleanupPendingSessions', c, a, () => keeper.cleanupPendingSessions(...a));
    }],
    [2, 'sessions', (c) => {
      const a = rng.chance(0.5) ? [] : [args.any()];
      call('sessions', c, a, () => keeper.sessions(...a));
    }],
    [2, 'health', (c) => {
      const a = rng.chance(0.5) ? [] : [args.any()];
      call('health', c, a, () => keeper.health(...a));
    }],
    [2, 'config', (c) => {
      const a = rng.chance(0.5) ? [] : [args.any()];
      call('config', c, a, () => keeper.config(...a));
    }],
    [1, 'start', (c) => {
      const r = call('start', c, [], () => keeper.start());
      if (r.ok && r.value !== keeper) violations.add('start: did not return the keeper', `case ${c}`);
    }],
    [1, 'tick', (c) => call('tick', c, [], () => keeper.tick())],
  ];

  const started = Date.now();
  for (let c = 0; c < CALL_CASES; c++) {
    const run = rng.weighted(actions.map(([w, , f]) => [w, f]));
    run(c);
    // Let deliveries, timers and socket plumbing run between bursts of calls.
    if (c % 25 === 24) await flush();
    if (c % 200 === 199) await sleep(2);
  }
  const randomMs = Date.now() - started;

  // Every accepted payload reaches the backend as JSON.stringify renders it.
  const settle = await waitFor(
    () => {
      const got = new Set(backend.requests.map((r) => r.headers['idempotency-key']));
      return [...expected.keys()].every((k) => got.has(k));
    },
    'every accepted payload delivered',
    8_000,
  ).then(
    () => true,
    () => false,
  );
  const byKey = new Map();
  for (const r of backend.requests) {
    const k = r.headers['idempotency-key'];
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k).push(r);
  }
  let verified = 0;
  for (const [key, want] of expected) {
    const got = byKey.get(key);
    if (!got) {
      violations.add(`${want.label}: an accepted payload was never delivered`, `case ${want.caseNo}: ${want.shown} (key ${key})${settle ? '' : '; the queue did not settle'}`);
      continue;
    }
    for (const r of got) {
      let body;
      try {
        body = JSON.parse(r.text);
      } catch {
        body = Symbol('unparsable');
      }
      if (!util.isDeepStrictEqual(body, want.parsed)) {
        const loneSurrogate = /\\ud[89a-f][0-9a-f]{2}/i.test(want.text) ? ' (lone surrogates)' : '';
        violations.add(
          `${want.label}: delivered body differs from JSON.stringify${loneSurrogate}`,
          `case ${want.caseNo}: ${want.shown}\n        expected ${want.text.slice(0, 200)}\n        received ${r.text.slice(0, 200)}`,
        );
        break;
      }
    }
    verified++;
  }

  // The keeper still works: a new session's QR and status reach the backend, and an item.
  const before = backend.requests.length;
  const alive = [
    ['addSession', () => keeper.addSession('after-fuzz')],
    ['connectionUpdate', () => keeper.connectionUpdate('after-fuzz', { qr: 'x' })],
    ['enqueue', () => keeper.enqueue({ path: '/after-fuzz', payload: { still: 'working' } })],
  ];
  let works = true;
  for (const [name, fn] of alive) {
    try {
      fn();
    } catch (err) {
      works = false;
      violations.add(`after the random phase, ${name} fails`, describeError(err));
    }
  }
  if (works) {
    const fresh = () => backend.requests.slice(before);
    const delivered = await waitFor(
      () =>
        fresh().some((r) => r.path === '/api/qr' && r.body && r.body.sessionId === 'after-fuzz' && r.body.qr === 'x') &&
        fresh().some((r) => r.path === '/api/status' && r.body && r.body.sessionId === 'after-fuzz') &&
        fresh().some((r) => r.path === '/api/after-fuzz' && r.body && r.body.still === 'working'),
      'the post-fuzz deliveries',
      5_000,
    ).then(
      () => true,
      () => false,
    );
    if (!delivered) violations.add('after the random phase, the /qr, /status and custom deliveries do not all arrive', `got: ${fresh().map((r) => r.path).join(', ')}`);
  }
  try {
    await keeper.idle();
  } catch (err) {
    violations.add(`idle() rejected: ${errorKind(err)}`, describeError(err));
  }
  await sleep(20);
  seen.restore();

  t.diagnostic(`calls: ${JSON.stringify(counts)}`);
  t.diagnostic(
    `payloads: ${JSON.stringify(payloadStats)}; ${expected.size} accepted, ${verified} delivered and compared; ` +
      `${backend.requests.length} backend requests; events ${JSON.stringify(heard)}; random phase ${randomMs} ms`,
  );
  for (const entry of seen) violations.add(`process: ${entry.split(':')[0]} (${entry.split('\n')[0].slice(0, 120).replace(/\d+/g, 'N')})`, entry);
  assert.equal(violations.total, 0, violations.report());
});
