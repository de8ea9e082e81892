'use strict';
// The keeper's events to the gateway, and the start-up hold. Until the gateway is ready, the
// events it must act on (a `close` for a session that expired while it was down, a
// `reconnect`) would reach nobody: listeners are attached a moment after `createKeeper`, which
// already restored the state. So until `start()`, each kind is held and released, in order, to
// its first listener, and whatever is still held at `start()` goes out then. After that an event
// nobody listens to is dropped, as in any EventEmitter.

/** The kinds that are held, and the `pollOutputsJson` skip bit of each. */
const HELD_KINDS = { command: 1, session: 2, breaker: 4, deadLetter: 8 };

/** Held events at most: a gateway that never calls `start()` ends the hold by reaching it. */
const HOLD_LIMIT = 10_000;

class Outbox {
  /**
   * @param {import('node:events').EventEmitter} emitter the keeper
   * @param {import('node:events').EventEmitter} taps the keeper's own observers (metrics)
   * @param {{ warn: Function }} log
   * @param {(error: unknown) => void} onListenerError
   */
  constructor(emitter, taps, log, onListenerError) {
    this._emitter = emitter;
    this._taps = taps;
    this._log = log;
    this._onListenerError = onListenerError;
    this._started = false;
    this._released = new Set();
    this._held = [];
    emitter.on('newListener', (kind) => {
      if (this._started || !(kind in HELD_KINDS) || this._released.has(kind)) return;
      this._released.add(kind);
      // `newListener` fires before the listener is added: release once it is.
      queueMicrotask(() => this._flush((k) => k === kind));
    });
  }

  /** Ends the hold: everything still held is emitted, in order. */
  start() {
    if (this._started) return;
    this._started = true;
    this._flush(() => true);
  }

  /** The `pollOutputsJson` skip mask: kinds nobody will see (held kinds are never skipped). */
  skipMask() {
    let mask = 0;
    for (const [kind, bit] of Object.entries(HELD_KINDS)) {
      const open = this._started || this._released.has(kind);
      if (open && this._emitter.listenerCount(kind) === 0 && this._taps.listenerCount(kind) === 0) mask |= bit;
    }
    return mask;
  }

  /** Emits an event, or holds it. A throwing listener never stops the others' events. */
  emit(kind, event) {
    this._safely(this._taps, kind, event);
    if (kind in HELD_KINDS && !this._started && !this._released.has(kind)) {
      this._held.push([kind, event]);
      if (this._held.length >= HOLD_LIMIT) {
        this._log.warn({ limit: HOLD_LIMIT }, 'keeper.start() was never called: the start-up hold ends now');
        this.start();
      }
      return;
    }
    this._safely(this._emitter, kind, event);
  }

  _flush(matches) {
    const rest = [];
    for (const entry of this._held) {
      if (matches(entry[0])) this._safely(this._emitter, entry[0], entry[1]);
      else rest.push(entry);
    }
    this._held = rest;
  }

  _safely(target, kind, event) {
    try {
      target.emit(kind, event);
    } catch (error) {
      this._onListenerError(error, kind);
    }
  }
}

module.exports = { Outbox, HELD_KINDS };
