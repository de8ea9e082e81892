'use strict';
// The Baileys adapter: raw `connection.update` objects to the core's plain shape, and
// attaching to a socket's event emitter. No policy: the core decides what an update means.

const { inputError } = require('./errors');

/**
 * A Baileys `connection.update` as plain data. Baileys puts a Boom `Error` in
 * `lastDisconnect.error`, whose `message` is not enumerable: it is read explicitly here. Values
 * of the wrong type are passed through unchanged so the core can refuse them by name.
 * @param {unknown} update
 */
function normalizeUpdate(update) {
  if (update === null || typeof update !== 'object' || Array.isArray(update)) {
    throw inputError(
      `a connection.update must be an object, got ${update === null ? 'null' : Array.isArray(update) ? 'an array' : typeof update}`,
    );
  }
  const out = {};
  if (update.connection !== undefined) out.connection = update.connection;
  if (update.qr !== undefined) out.qr = update.qr;
  if (update.isNewLogin !== undefined) out.isNewLogin = update.isNewLogin;
  const last = update.lastDisconnect;
  if (last !== undefined && last !== null) {
    if (typeof last !== 'object') {
      out.lastDisconnect = last;
    } else {
      out.lastDisconnect = {};
      const e = last.error;
      if (e !== undefined && e !== null) {
        if (typeof e !== 'object') {
          out.lastDisconnect.error = { message: String(e) };
        } else {
          const error = {};
          if (typeof e.message === 'string') error.message = e.message;
          const statusCode = e.output && e.output.statusCode;
          if (statusCode !== undefined) error.output = { statusCode };
          out.lastDisconnect.error = error;
        }
      }
    }
  }
  return out;
}

/**
 * The fields of a well-typed update as flat values for the core's fast path, or `null` when
 * something has an unexpected type (then the generic path reports it precisely).
 * @param {unknown} u
 */
function flatUpdate(u) {
  if (u === null || typeof u !== 'object' || Array.isArray(u)) return null;
  const { connection, qr, isNewLogin, lastDisconnect } = u;
  if (connection !== undefined && typeof connection !== 'string') return null;
  if (qr !== undefined && typeof qr !== 'string') return null;
  if (isNewLogin !== undefined && typeof isNewLogin !== 'boolean') return null;
  let statusCode;
  let message;
  if (lastDisconnect !== undefined && lastDisconnect !== null) {
    if (typeof lastDisconnect !== 'object') return null;
    const e = lastDisconnect.error;
    if (e !== undefined && e !== null) {
      if (typeof e !== 'object') return null;
      message = e.message;
      if (message !== undefined && typeof message !== 'string') return null;
      statusCode = e.output ? e.output.statusCode : undefined;
      if (statusCode !== undefined && !(Number.isInteger(statusCode) && statusCode >= 0 && statusCode <= 65535)) {
        return null;
      }
    }
  }
  return { connection, qr, isNewLogin, statusCode, message };
}

/**
 * Subscribes `onUpdate` to a Baileys socket's `connection.update` events until the socket
 * reports `connection: 'close'` (one socket is one lifecycle) or the returned function is called.
 * @param {{ ev: { on: Function, off: Function } }} sock
 * @param {(update: object) => void} onUpdate
 * @returns {() => void} detach
 */
function subscribe(sock, onUpdate) {
  const ev = sock && sock.ev;
  if (!ev || typeof ev.on !== 'function' || typeof ev.off !== 'function') {
    throw inputError('attachBaileys needs a Baileys socket (an object whose `ev` has on/off)');
  }
  let attached = true;
  const detach = () => {
    if (!attached) return;
    attached = false;
    try {
      ev.off('connection.update', listener);
    } catch {
      // A socket whose emitter is broken: the listener ignores it from now on anyway.
    }
  };
  function listener(update) {
    if (!attached) return;
    try {
      onUpdate(update);
    } finally {
      if (update && update.connection === 'close') detach();
    }
  }
  ev.on('connection.update', listener);
  return detach;
}

module.exports = { normalizeUpdate, flatUpdate, subscribe };
