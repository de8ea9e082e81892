'use strict';
// The `logger` option: any pino-compatible logger (`level(obj, msg)` methods). What the keeper
// decides in the background (breaker changes, dead letters, refused socket events, failed
// autosaves) reaches the gateway's logs, not only its event listeners. A logger that throws
// never breaks the keeper.

const LEVELS = ['debug', 'info', 'warn', 'error'];

/**
 * @param {unknown} logger the option's value (undefined: log nothing)
 * @returns {{ debug: Function, info: Function, warn: Function, error: Function }}
 */
function createLog(logger) {
  let target = logger;
  if (target && typeof target.child === 'function') {
    try {
      target = target.child({ component: 'sessionkeeper' });
    } catch {
      target = logger;
    }
  }
  const log = {};
  for (const level of LEVELS) {
    const method = target && typeof target[level] === 'function' ? target[level] : null;
    log[level] = method
      ? (obj, msg) => {
          try {
            method.call(target, obj, msg);
          } catch {
            // The gateway's logger failing is not the keeper's to report.
          }
        }
      : () => {};
  }
  return log;
}

/** Whether a value can serve as `logger`. */
function isLogger(value) {
  return value !== null && typeof value === 'object' && LEVELS.some((l) => typeof value[l] === 'function');
}

module.exports = { createLog, isLogger };
