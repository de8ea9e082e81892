'use strict';
// Splits createKeeper() options into the core's config and the shim's own settings.

const wasm = require('./wasm');
const { KeeperError, asKeeperError } = require('./errors');
const { isLogger } = require('./log');

/** Every key the core accepts (camelCase), read from the core itself. */
const CORE_KEYS = Object.freeze(wasm.WasmKeeper.configKeys());

/**
 * The options the shim handles itself (the core's come from the core): the one list the
 * README's table of them is generated from (`node scripts/options-docs.mjs`).
 */
const SHIM_OPTIONS = Object.freeze([
  { name: 'laravelApiUrl', type: 'string', default: '(required)', meaning: 'Backend base URL: requests go to `POST {laravelApiUrl}{path}` (`/qr`, `/status`, your own paths).' },
  { name: 'laravelApiToken', type: 'string', default: 'none', meaning: 'Sent as `Authorization: Bearer <token>`.' },
  { name: 'statePath', type: 'string', default: 'none', meaning: 'JSON file the state is saved to (autosave, `close()`, `save()`) and restored from on start; locked by `<statePath>.lock`. Keep it outside the folder where you list session folders.' },
  { name: 'autosaveInterval', type: 'number', default: '`5000`', meaning: 'With `statePath`: save at most this long (ms) after the state changes; `0` saves only on `close()` / `save()`.' },
  { name: 'requestTimeout', type: 'number', default: '`10000`', meaning: 'Per-request timeout (ms); a timeout is reported to the core as such.' },
  { name: 'signingSecret', type: 'string', default: 'none', meaning: 'Requests carry `X-Timestamp` and `X-Signature: sha256=<HMAC(timestamp.body)>`.' },
  { name: 'apiKey', type: 'string', default: 'none', meaning: '`handler()` requires `Authorization: Bearer <apiKey>` or `x-api-key` (not on `/health`).' },
  { name: 'qrImageFormat', type: '"png" | "svg"', default: '`png`', meaning: 'Format of the `qrImage` data URL in `/qr` bodies.' },
  { name: 'logger', type: 'Logger', default: 'none', meaning: 'A pino-compatible logger: breaker changes, dead letters, refused socket events, failed autosaves, lock take-overs.' },
  { name: 'fetch', type: 'function', default: 'global `fetch`', meaning: 'The HTTP client (a `fetch`-compatible function).' },
  { name: 'now', type: 'function', default: '`Date.now`', meaning: 'The clock (unix ms), for tests.' },
  { name: 'port', type: 'number', default: 'ignored', meaning: 'Accepted and ignored: the seed\'s config files carry it.' },
]);

/** Keys handled by the shim, not the core. */
const SHIM_KEYS = Object.freeze(SHIM_OPTIONS.map((o) => o.name));

function fail(key, reason) {
  return new KeeperError('Config', `sessionkeeper: option \`${key}\`: ${reason}`, { key });
}

/** How a value reads in a message: `the string "20"`, `an object`, `-1`. */
function describe(value) {
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value)}`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  return String(value);
}

/** The core's refusal of the config, in the shim's words (`option \`key\`: expected ..., got ...`). */
function configError(err) {
  const e = asKeeperError(err);
  if (e.code !== 'Config') return e;
  const reason = e.message.replace(/^sessionkeeper: /, '').replace(/^invalid config `[^`]*`: /, '');
  return e.key && e.key !== 'config' ? fail(e.key, reason) : new KeeperError('Config', `sessionkeeper: ${reason}`);
}

/**
 * The core's options as the JSON text the core reads: each value converted on its own, so a
 * value JSON cannot carry is reported by key. `seed` (64 bits) may be a BigInt or a decimal
 * string, written as a plain JSON integer.
 */
function coreJson(core) {
  const parts = [];
  for (const [key, value] of Object.entries(core)) {
    let text;
    if (key === 'seed' && (typeof value === 'bigint' || (typeof value === 'string' && /^\d{1,20}$/.test(value)))) {
      text = String(value);
    } else if (typeof value === 'number' && !Number.isFinite(value)) {
      throw fail(key, `expected a number, got ${value}`);
    } else {
      try {
        text = JSON.stringify(value);
      } catch {
        text = undefined;
      }
      if (text === undefined) throw fail(key, `expected a JSON value, got ${describe(value)}`);
    }
    parts.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${parts.join(',')}}`;
}

function optionalString(options, key) {
  const v = options[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw fail(key, `expected a string, got ${describe(v)}`);
  return v;
}

/**
 * @param {object} options
 * @returns {{ core: string, shim: object }} the core's config as JSON text, and the shim's settings
 */
function splitOptions(options = {}) {
  try {
    return readOptions(options);
  } catch (err) {
    // A revoked Proxy, a throwing getter: the options cannot be read.
    if (err instanceof KeeperError) throw err;
    throw new KeeperError('Config', `sessionkeeper: createKeeper options cannot be read: ${err.message}`, { cause: err });
  }
}

function readOptions(options) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new KeeperError('Config', `sessionkeeper: createKeeper options must be an object, got ${describe(options)}`);
  }
  let entries;
  try {
    entries = Object.entries(options);
  } catch (err) {
    throw new KeeperError('Config', `sessionkeeper: createKeeper options cannot be read: ${err.message}`, { cause: err });
  }
  options = Object.fromEntries(entries);
  const core = {};
  for (const [key, value] of entries) {
    if (CORE_KEYS.includes(key)) {
      if (value !== undefined) core[key] = value;
    } else if (!SHIM_KEYS.includes(key)) {
      throw fail(key, 'unknown option');
    }
  }

  const url = optionalString(options, 'laravelApiUrl');
  if (url === undefined) throw fail('laravelApiUrl', 'is required (the backend base URL, e.g. "https://backend.example/api/whatsapp")');
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw fail('laravelApiUrl', `expected an http(s) URL, got ${describe(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw fail('laravelApiUrl', `expected an http(s) URL, got ${describe(url)}`);
  }

  const fetchFn = options.fetch === undefined ? globalThis.fetch : options.fetch;
  if (typeof fetchFn !== 'function') throw fail('fetch', `expected a function (Node 18+ has a global fetch), got ${describe(fetchFn)}`);
  const now = options.now === undefined ? Date.now : options.now;
  if (typeof now !== 'function') throw fail('now', `expected a function returning unix milliseconds, got ${describe(now)}`);

  const requestTimeout = options.requestTimeout === undefined ? 10_000 : options.requestTimeout;
  if (!Number.isInteger(requestTimeout) || requestTimeout < 1 || requestTimeout > 600_000) {
    throw fail('requestTimeout', `expected a whole number of milliseconds from 1 to 600000, got ${describe(requestTimeout)}`);
  }
  const autosaveInterval = options.autosaveInterval === undefined ? 5_000 : options.autosaveInterval;
  if (!Number.isInteger(autosaveInterval) || autosaveInterval < 0 || autosaveInterval > 86_400_000) {
    throw fail('autosaveInterval', `expected a whole number of milliseconds from 0 (off) to 86400000, got ${describe(autosaveInterval)}`);
  }
  const qrImageFormat = options.qrImageFormat === undefined ? 'png' : options.qrImageFormat;
  if (qrImageFormat !== 'png' && qrImageFormat !== 'svg') throw fail('qrImageFormat', `expected "png" or "svg", got ${describe(qrImageFormat)}`);
  const logger = options.logger === null ? undefined : options.logger;
  if (logger !== undefined && !isLogger(logger)) {
    throw fail('logger', `expected a pino-compatible logger (an object with debug/info/warn/error methods), got ${describe(logger)}`);
  }

  return {
    core: coreJson(core),
    shim: {
      logger,
      baseUrl: url.replace(/\/+$/, ''),
      token: optionalString(options, 'laravelApiToken'),
      statePath: optionalString(options, 'statePath'),
      autosaveInterval,
      signingSecret: optionalString(options, 'signingSecret'),
      apiKey: optionalString(options, 'apiKey'),
      fetch: fetchFn,
      now,
      requestTimeout,
      qrImageFormat,
    },
  };
}

module.exports = { splitOptions, configError, CORE_KEYS, SHIM_KEYS, SHIM_OPTIONS };
