'use strict';
// Splits createKeeper() options into the core's config and the shim's own settings.

const wasm = require('./wasm');

/** Every key the core accepts (camelCase), read from the core itself. */
const CORE_KEYS = Object.freeze(wasm.WasmKeeper.configKeys());

/** Keys handled by the shim, not the core. `port` is accepted (and ignored) for seed configs. */
const SHIM_KEYS = Object.freeze([
  'laravelApiUrl',
  'laravelApiToken',
  'statePath',
  'autosaveInterval',
  'fetch',
  'requestTimeout',
  'signingSecret',
  'now',
  'qrImageFormat',
  'apiKey',
  'port',
]);

function fail(key, reason) {
  const err = new TypeError(`sessionkeeper: invalid option \`${key}\`: ${reason}`);
  err.code = 'InvalidOption';
  return err;
}

function optionalString(options, key) {
  const v = options[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw fail(key, 'must be a string');
  return v;
}

/**
 * @param {object} options
 * @returns {{ core: object, shim: object }}
 */
function splitOptions(options = {}) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw fail('options', 'must be an object');
  }
  const core = {};
  for (const [key, value] of Object.entries(options)) {
    if (CORE_KEYS.includes(key)) {
      if (value !== undefined) core[key] = value;
    } else if (!SHIM_KEYS.includes(key)) {
      throw fail(key, 'unknown option');
    }
  }

  const url = optionalString(options, 'laravelApiUrl');
  if (url === undefined) throw fail('laravelApiUrl', 'is required (the backend base URL)');
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw fail('laravelApiUrl', `not a URL: ${url}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw fail('laravelApiUrl', 'must be http or https');
  }

  const fetchFn = options.fetch === undefined ? globalThis.fetch : options.fetch;
  if (typeof fetchFn !== 'function') throw fail('fetch', 'must be a function (Node 18+ has a global fetch)');
  const now = options.now === undefined ? Date.now : options.now;
  if (typeof now !== 'function') throw fail('now', 'must be a function returning unix milliseconds');

  const requestTimeout = options.requestTimeout === undefined ? 10_000 : options.requestTimeout;
  if (!Number.isInteger(requestTimeout) || requestTimeout < 1 || requestTimeout > 600_000) {
    throw fail('requestTimeout', 'must be an integer from 1 to 600000 (ms)');
  }
  const autosaveInterval = options.autosaveInterval === undefined ? 5_000 : options.autosaveInterval;
  if (!Number.isInteger(autosaveInterval) || autosaveInterval < 0 || autosaveInterval > 86_400_000) {
    throw fail('autosaveInterval', 'must be an integer from 0 (off) to 86400000 (ms)');
  }
  const qrImageFormat = options.qrImageFormat === undefined ? 'png' : options.qrImageFormat;
  if (qrImageFormat !== 'png' && qrImageFormat !== 'svg') throw fail('qrImageFormat', 'must be "png" or "svg"');

  return {
    core,
    shim: {
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

module.exports = { splitOptions, CORE_KEYS, SHIM_KEYS };
