'use strict';
// A gateway's own values (an `enqueue` payload, session `meta`) as the JSON text the core
// reads. The conversion is `JSON.stringify`'s, exactly (Date -> ISO string, `toJSON`, functions
// and `undefined` dropped from objects), and it runs here, in JS: a circular value, a BigInt or
// a throwing getter fails before anything crosses into wasm, where a JS exception would leave
// the keeper unusable.

const wasm = require('./wasm');
const { KeeperError, asKeeperError } = require('./errors');

const LIMIT = wasm.payloadLimit();
const LONE_SURROGATE = /(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;

/**
 * @param {unknown} value
 * @param {string} what the argument, for the message
 * @returns {string} JSON text
 */
function payloadJson(value, what) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new KeeperError('InvalidItem', `sessionkeeper: ${what} cannot be sent as JSON: ${err.message}`, {
      status: 400,
      cause: err,
    });
  }
  if (text === undefined) {
    throw new KeeperError('InvalidItem', `sessionkeeper: ${what} must be a JSON value, got ${typeof value}`, { status: 400 });
  }
  // Well-formed JSON.stringify writes a lone surrogate, and only a lone one, as a `\udXXX`
  // escape (after an odd run of backslashes): text no UTF-8 reader can decode.
  if (LONE_SURROGATE.test(text)) {
    throw new KeeperError('InvalidItem', `sessionkeeper: ${what} has a string with a lone UTF-16 surrogate, which is not text`, {
      status: 400,
    });
  }
  // UTF-8 takes at least one byte per UTF-16 unit: longer text is over the limit for sure.
  if (text.length > LIMIT) throw asKeeperError(wasm.payloadTooLarge());
  return text;
}

module.exports = { payloadJson };
