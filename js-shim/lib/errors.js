'use strict';
// KeeperError: the one error class every method of the package throws. The wasm core builds
// its errors as plain `Error`s named `KeeperError` (with the core's `code` and HTTP `status`);
// they are given this class's prototype where they cross into the shim, so `instanceof` works.

/** An error of the keeper; `code` names the cause, `status` the HTTP status both edges answer. */
class KeeperError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{ status?: number, key?: string, cause?: unknown }} [extra]
   */
  constructor(code, message, extra = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.key !== undefined) this.key = extra.key;
  }
}
Object.defineProperty(KeeperError.prototype, 'name', { value: 'KeeperError', writable: true, configurable: true });

/**
 * `err` as a KeeperError: a wasm error keeps its message, code, status and stack; anything
 * else (a bug, a throwing user callback) is wrapped as `InvalidInput` with the cause attached.
 */
function asKeeperError(err) {
  if (err instanceof KeeperError) return err;
  if (err instanceof Error && err.name === 'KeeperError' && typeof err.code === 'string') {
    // The core's message as it is: the host answers the same words.
    Object.setPrototypeOf(err, KeeperError.prototype);
    return err;
  }
  const message = err instanceof Error ? err.message : String(err);
  return new KeeperError('InvalidInput', `sessionkeeper: ${message}`, { cause: err });
}

/** Runs `fn`, turning whatever it throws into a KeeperError. */
function keeperCall(fn) {
  try {
    return fn();
  } catch (err) {
    throw asKeeperError(err);
  }
}

/** An argument of the wrong type. */
function inputError(message) {
  return new KeeperError('InvalidInput', `sessionkeeper: ${message}`, { status: 400 });
}

module.exports = { KeeperError, asKeeperError, keeperCall, inputError };
