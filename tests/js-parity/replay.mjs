#!/usr/bin/env node
// Replays recorded traces through the wasm core the npm package ships.
//
// The Rust parity suite runs a separately built guest crate under wasmtime; it proves the core
// compiles to wasm32 with the same behaviour, but not that the `.wasm` and the wasm-bindgen glue
// inside `js-shim/` (what `npm install sessionkeeper` gets) are that core. This script closes the
// gap: it loads `js-shim/lib/wasm.js` exactly as the package does and holds every step of every
// trace to the expectations the native core recorded.
//
//   node tests/js-parity/replay.mjs [--package DIR] <file-or-dir>...
//
// Directories are searched recursively for `*.jsonl` / `*.ndjson` (authoring sources such as
// `src/*.json` are not traces). `--package DIR` loads `DIR/lib/wasm.js` instead of the
// repository's `js-shim/` (e.g. an unpacked `npm pack` tarball). Exit status: 0 identical,
// 1 a difference (the first one is printed), 2 nothing to replay or a trace that cannot be read.
//
// Trace format (tests/src/traces.rs, tests/parity-guest/src/driver.rs): an optional header
// object without `now` whose `config` holds core config keys (others, such as `port`, are
// dropped), then one step per line:
//   {"now": u64, "input": <Input>}   handleJson(now, input)
//   {"now": u64, "timeout": true}    handleTimeout(now)
//   {"now": u64, "restart": true}    snapshot(), restore(snapshot), then the `restarted` input
//   {"now": u64, "peek": true}       nothing (views only); also any step without input or flag
// `input` wins over the flags, `restart` over `timeout`. A line that is not such a step (bad
// JSON, `now` not a u64, a flag that is not a boolean, a repeated step field) is refused as the
// native driver refuses it: nothing runs.
//
// A step's `expect` is checked as tests/src/replay.rs `check_expect` does: only the keys present
// among `result` (the ack, `{"error": <message>}`, or null for timeout, peek and refused lines),
// `outputs` (everything drained after the step) and `pollTimeout` (null when there is none), each
// compared as parsed JSON with deep equality. A header may carry `expect` too: `{"error": msg}`
// (the config must be refused with that message) or `{"config": {...}}` (the effective config).
//
// Numbers: the npm API takes `now` as a JS number, so a trace is replayed only up to its first
// call at a `now` above 2^53-1 (counted as stopped, not as a difference). Everything else keeps
// full u64/i64 precision: input lines go to `handleJson` as their original text, integer
// literals beyond 2^53 are read as BigInt on both sides of a comparison, and a config's 64-bit
// `seed` is handed to the constructor as a BigInt. What a JS caller cannot express stays
// unexpressed: a config goes in as a JS object, so an integer written as `5.0` there is the number
// 5 (natively a float, refused), and the native driver's message for a malformed input comes
// from serde reading a JSON value while `handleJson` reads text, so the text reader's wrapper
// (`invalid input: `) and position suffix (` at line 1 column N`) are removed before comparing.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_PACKAGE = path.resolve(HERE, '../../js-shim');
const U64_MAX = (1n << 64n) - 1n;
const STEP_FIELDS = ['now', 'input', 'timeout', 'restart', 'peek'];
const EXPECT_KEYS = ['result', 'outputs', 'pollTimeout'];
const RESTARTED = '{"type":"restarted"}';

// ---------------------------------------------------------------------------------------------
// JSON without precision loss.
//
// JSON.parse is exact for every float serde writes (shortest round-trip form) and for integers up
// to 2^53; only longer integer literals lose digits. Those are rare, so a line goes to the native
// parser unless it may hold a 16-digit number, and then to a strict parser that reads integers
// beyond 2^53 as BigInt. The choice depends only on the literal, so both sides of a comparison
// represent the same number the same way.

const MAYBE_BIG_NUMBER = /[:,[]\s*-?\d{16}/;

function parseJson(text) {
  return MAYBE_BIG_NUMBER.test(text) ? parseLossless(text) : JSON.parse(text);
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

function parseLossless(text) {
  let i = 0;
  const fail = (what) => {
    throw new SyntaxError(`${what} at position ${i}`);
  };
  const ws = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++i));
  };
  const string = () => {
    const end = stringEnd(text, i);
    if (end < 0) fail('unterminated string');
    const s = JSON.parse(text.slice(i, end)); // validates escapes and control characters
    i = end;
    return s;
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '"') return string();
    if (c === '{') {
      i++;
      const obj = {};
      ws();
      if (text[i] === '}') return i++, obj;
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        ws();
        if (text[i++] !== ':') fail('expected `:`');
        // defineProperty: a `__proto__` key is data, not the prototype.
        Object.defineProperty(obj, key, { value: value(), enumerable: true, writable: true, configurable: true });
        ws();
        const sep = text[i++];
        if (sep === '}') return obj;
        if (sep !== ',') fail('expected `,` or `}`');
      }
    }
    if (c === '[') {
      i++;
      const arr = [];
      ws();
      if (text[i] === ']') return i++, arr;
      for (;;) {
        arr.push(value());
        ws();
        const sep = text[i++];
        if (sep === ']') return arr;
        if (sep !== ',') fail('expected `,` or `]`');
      }
    }
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, i)) return (i += word.length), v;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) fail('unexpected character');
    i = NUMBER.lastIndex;
    if (m[1] !== undefined || m[2] !== undefined) return Number(m[0]);
    const n = Number(m[0]);
    return Number.isSafeInteger(n) ? n : BigInt(m[0]);
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

/** Index just past the string starting at `i` (a `"`), or -1. */
function stringEnd(text, i) {
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q < 0) return -1;
    let slashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === 92; k--) slashes++;
    if (slashes % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** Index just past the (valid) JSON value starting at `i`. */
function valueEnd(text, i) {
  const c = text.charCodeAt(i);
  if (c === 34) return stringEnd(text, i);
  if (c === 123 || c === 91) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === 34) j = stringEnd(text, j) - 1;
      else if (d === 123 || d === 91) depth++;
      else if ((d === 125 || d === 93) && --depth === 0) return j + 1;
    }
    return text.length;
  }
  let j = i;
  for (let d = text.charCodeAt(j); j < text.length && d !== 44 && d !== 125 && d !== 93 && d > 32; d = text.charCodeAt(++j));
  return j;
}

function skipWs(text, i) {
  for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; c = text.charCodeAt(++i));
  return i;
}

/**
 * The source text of each top-level member of a line already known to be a JSON object (last
 * one wins, like serde's `Value`), and the keys that occur more than once: serde refuses a
 * repeated field of the step struct, and `handleJson` must get an input's exact text.
 */
function members(text) {
  const spans = new Map();
  const repeated = new Set();
  let i = skipWs(text, skipWs(text, 0) + 1);
  if (text[i] === '}') return { spans, repeated };
  for (;;) {
    const keyEnd = stringEnd(text, i);
    const key = JSON.parse(text.slice(i, keyEnd));
    const start = skipWs(text, skipWs(text, keyEnd) + 1);
    const end = valueEnd(text, start);
    if (spans.has(key)) repeated.add(key);
    spans.set(key, [start, end]);
    i = skipWs(text, end);
    if (text[i] !== ',') return { spans, repeated };
    i = skipWs(text, i + 1);
  }
}

/** First path where `a` and `b` differ, or null when they are equal JSON values. */
function difference(a, b, at = '$') {
  if (a === b) return null;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return at;
  if (Array.isArray(a) !== Array.isArray(b)) return at;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return `${at} (length ${a.length} vs ${b.length})`;
    for (let k = 0; k < a.length; k++) {
      const d = difference(a[k], b[k], `${at}[${k}]`);
      if (d) return d;
    }
    return null;
  }
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return `${at} (keys ${toJson(Object.keys(a))} vs ${toJson(Object.keys(b))})`;
  for (const k of keys) {
    if (!Object.hasOwn(b, k)) return `${at}.${k} (missing)`;
    const d = difference(a[k], b[k], `${at}.${k}`);
    if (d) return d;
  }
  return null;
}

/** Compact JSON that prints BigInts as the integers they are. */
function toJson(v) {
  if (typeof v === 'bigint') return String(v);
  if (v === undefined) return 'undefined';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${toJson(v[k])}`).join(',')}}`;
}

// ---------------------------------------------------------------------------------------------
// Traces.

function collectFiles(arg, out) {
  let st;
  try {
    st = statSync(arg);
  } catch (err) {
    throw new Error(`${arg}: ${err.code || err.message}`);
  }
  if (st.isFile()) {
    out.push(arg);
    return;
  }
  for (const entry of readdirSync(arg, { withFileTypes: true })) {
    const p = path.join(arg, entry.name);
    if (entry.isDirectory()) collectFiles(p, out);
    else if (/\.(jsonl|ndjson)$/.test(entry.name)) out.push(p);
  }
}

/** `{file, header, config, steps: [{text, line}]}`; throws on a header the Rust loader refuses. */
function readTrace(file, coreKeys) {
  const steps = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, n) => {
      const text = raw.trim();
      if (text !== '') steps.push({ text, line: n + 1 });
    });
  let header = null;
  let config = {};
  if (steps.length > 0) {
    let first;
    try {
      first = parseJson(steps[0].text);
    } catch (err) {
      throw new Error(`${file}: bad header: ${err.message}`);
    }
    const isObject = first !== null && typeof first === 'object' && !Array.isArray(first);
    if (!isObject || !Object.hasOwn(first, 'now')) {
      if (!isObject) throw new Error(`${file}: bad header: the first line is neither a header object nor a step`);
      header = first;
      steps.shift();
      if (Object.hasOwn(header, 'config')) {
        const c = header.config;
        if (c === null || typeof c !== 'object' || Array.isArray(c)) {
          throw new Error(`${file}: bad header: \`config\` must be an object`);
        }
        config = {};
        for (const k of Object.keys(c)) if (coreKeys.has(k)) config[k] = c[k];
      }
    }
  }
  return { file, header, config, steps };
}

/**
 * What a step line asks for, decided as serde decides it for the driver's `Step`: null when the
 * line is refused; `now` is a number, or a BigInt above 2^53-1.
 */
function readStep(text, parsed) {
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const { spans, repeated } = members(text);
  if (STEP_FIELDS.some((f) => repeated.has(f))) return null;
  const nowSpan = spans.get('now');
  if (!nowSpan) return null;
  const nowText = text.slice(nowSpan[0], nowSpan[1]);
  if (!/^(?:0|[1-9]\d*)$/.test(nowText)) return null;
  const big = BigInt(nowText);
  if (big > U64_MAX) return null;
  for (const flag of ['timeout', 'restart', 'peek']) {
    if (Object.hasOwn(parsed, flag) && typeof parsed[flag] !== 'boolean') return null;
  }
  const now = big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  if (Object.hasOwn(parsed, 'input') && parsed.input !== null) {
    const [start, end] = spans.get('input');
    return { kind: 'input', now, input: text.slice(start, end) };
  }
  if (parsed.restart) return { kind: 'restart', now };
  if (parsed.timeout) return { kind: 'timeout', now };
  return { kind: 'peek', now };
}

/**
 * The `result` of a refused call, as the native driver records it: `{"error": <Display of the
 * error>}`. A malformed input's message is serde's for the input value; `handleJson` reads text,
 * so its wrapper and position suffix are removed. Anything that is not a KeeperError (a panic is
 * a `RuntimeError: unreachable`) is a crash of the core and is thrown on.
 */
function errorResult(err) {
  if (!err || err.name !== 'KeeperError') throw err;
  let message = String(err.message);
  if (err.code === 'InvalidInput' && message.startsWith('invalid input: ')) {
    message = message.slice('invalid input: '.length).replace(/ at line \d+ column \d+$/, '');
  }
  return { error: message };
}

class Mismatch extends Error {
  constructor(trace, step, key, expected, actual, detail) {
    super('mismatch');
    Object.assign(this, { trace, step, key, expected, actual, detail });
  }
}

/** Compares a step's (or header's) `expect` with what happened; throws the first difference. */
function check(trace, step, expect, got, keys) {
  if (expect === null || typeof expect !== 'object' || Array.isArray(expect)) return;
  for (const key of keys) {
    if (!Object.hasOwn(expect, key)) continue;
    let expected = expect[key];
    const actual = got[key];
    // The npm API hands deadlines out as JS numbers; past 2^53 they are compared as such.
    if (key === 'pollTimeout' && typeof expected === 'bigint' && typeof actual === 'number') expected = Number(expected);
    const at = difference(expected, actual);
    if (at !== null) throw new Mismatch(trace, step, key, expected, actual, at);
  }
}

/** Replays one trace; adds to `stats`; throws a Mismatch (or the core's crash). */
function replayTrace(core, trace, stats) {
  stats.traces++;
  const headerExpect = trace.header && trace.header.expect;
  let keeper;
  try {
    keeper = new core.Keeper(trace.config);
  } catch (err) {
    const got = errorResult(err);
    if (headerExpect && Object.hasOwn(headerExpect, 'error')) {
      check(trace, null, headerExpect, got, ['error']);
    } else if (trace.steps.length > 0) {
      // The native driver records no steps after refusing a config: it accepted this one.
      throw new Mismatch(trace, null, 'config', 'accepted', got, 'the config was refused');
    }
    stats.refusedConfigs++;
    return;
  }
  try {
    if (headerExpect && Object.hasOwn(headerExpect, 'config')) {
      check(trace, null, headerExpect, { config: parseJson(keeper.configJson()) }, ['config']);
    }
    if (headerExpect && Object.hasOwn(headerExpect, 'error')) {
      throw new Mismatch(trace, null, 'error', headerExpect.error, null, 'the config was accepted');
    }
    for (let index = 0; index < trace.steps.length; index++) {
      const { text } = trace.steps[index];
      let parsed;
      try {
        parsed = parseJson(text);
      } catch {
        stats.steps++; // not JSON: the native driver refuses it and checks nothing
        continue;
      }
      const step = readStep(text, parsed);
      const got = { result: null, outputs: null, pollTimeout: null };
      if (step !== null) {
        if (step.kind !== 'peek' && typeof step.now === 'bigint') {
          stats.stopped++;
          return;
        }
        if (step.kind === 'input') {
          try {
            got.result = parseJson(keeper.handleJson(step.now, step.input));
          } catch (err) {
            got.result = errorResult(err);
          }
        } else if (step.kind === 'timeout') {
          keeper.handleTimeout(step.now);
        } else if (step.kind === 'restart') {
          let restored = null;
          try {
            restored = core.Keeper.restore(keeper.snapshot());
          } catch (err) {
            got.result = errorResult(err);
          }
          if (restored !== null) {
            keeper.free();
            keeper = restored;
            try {
              got.result = parseJson(keeper.handleJson(step.now, RESTARTED));
            } catch (err) {
              got.result = errorResult(err);
            }
          }
        }
        got.outputs = parseJson(keeper.pollOutputsJson());
        const deadline = keeper.pollTimeout();
        got.pollTimeout = deadline === undefined ? null : deadline;
      }
      stats.steps++;
      if (Object.hasOwn(parsed ?? {}, 'expect')) check(trace, index, parsed.expect, got, EXPECT_KEYS);
    }
  } finally {
    keeper.free();
  }
}

function loadCore(packageDir) {
  const require = createRequire(import.meta.url);
  const wasm = require(path.join(packageDir, 'lib', 'wasm.js'));
  const Keeper = wasm.Keeper || wasm.WasmKeeper;
  if (typeof Keeper !== 'function') throw new Error(`${packageDir}: lib/wasm.js exports no Keeper class`);
  return { Keeper, coreKeys: new Set(Keeper.configKeys()) };
}

/** The step line without its (long) `expect`, for messages. */
function withoutExpect(text) {
  try {
    const { spans } = members(text);
    const kept = [...spans].filter(([k]) => k !== 'expect').map(([k, [a, b]]) => `${JSON.stringify(k)}:${text.slice(a, b)}`);
    return `{${kept.join(',')}}`;
  } catch {
    return text;
  }
}

function report(m) {
  const where = m.step === null ? 'header' : `step ${m.step} (line ${m.trace.steps[m.step].line})`;
  const lines = [`replay: ${m.trace.file}: ${where}: \`expect.${m.key}\` differs at ${m.detail}`];
  if (m.step !== null) lines.push(`  step:     ${withoutExpect(m.trace.steps[m.step].text)}`);
  lines.push(`  expected: ${toJson(m.expected)}`, `  actual:   ${toJson(m.actual)}`);
  process.stderr.write(`${lines.join('\n')}\n`);
}

function main(argv) {
  // Refused inputs are ordinary steps and every one builds a KeeperError; without stack traces
  // that costs a tenth as much. Messages and codes are all a replay compares.
  Error.stackTraceLimit = 0;
  let packageDir = REPO_PACKAGE;
  const inputs = [];
  for (let k = 0; k < argv.length; k++) {
    if (argv[k] === '--package') packageDir = path.resolve(argv[++k] ?? '');
    else if (argv[k] === '-h' || argv[k] === '--help') {
      process.stdout.write('usage: node tests/js-parity/replay.mjs [--package DIR] <file-or-dir>...\n');
      return 0;
    } else inputs.push(argv[k]);
  }
  if (inputs.length === 0) {
    process.stderr.write('replay: give trace files or folders (e.g. tests/traces)\n');
    return 2;
  }
  const started = performance.now();
  let core;
  const files = [];
  try {
    core = loadCore(packageDir);
    for (const arg of inputs) collectFiles(arg, files);
  } catch (err) {
    process.stderr.write(`replay: ${err.message}\n`);
    return 2;
  }
  const unique = [...new Set(files.map((f) => path.resolve(f)))].sort();
  if (unique.length === 0) {
    process.stderr.write(`replay: no *.jsonl traces in ${inputs.join(' ')}\n`);
    return 2;
  }
  const stats = { traces: 0, steps: 0, refusedConfigs: 0, stopped: 0 };
  for (const file of unique) {
    let trace;
    try {
      trace = readTrace(file, core.coreKeys);
    } catch (err) {
      process.stderr.write(`replay: ${err.message}\n`);
      return 2;
    }
    try {
      replayTrace(core, trace, stats);
    } catch (err) {
      if (!(err instanceof Mismatch)) {
        process.stderr.write(`replay: ${file}: the wasm core crashed: ${err && err.stack ? err.stack : err}\n`);
        return 1;
      }
      report(err);
      return 1;
    }
  }
  const notes = [`${Math.round(performance.now() - started)} ms`];
  if (stats.refusedConfigs) notes.push(`${stats.refusedConfigs} refused configs`);
  if (stats.stopped) notes.push(`${stats.stopped} stopped at a now above 2^53-1, which the npm API cannot take`);
  process.stdout.write(`${stats.traces} traces, ${stats.steps} steps, identical (${notes.join('; ')})\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
