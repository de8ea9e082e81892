'use strict';
// SessionKeeper: drives the wasm core from Node. It owns the I/O only: one timer armed at the
// core's pollTimeout, backend deliveries with fetch, Baileys event plumbing, persistence.
// Every decision (pending expiry, reconnect backoff, breaker, pacing, retries) is the core's.

const { EventEmitter } = require('node:events');
const crypto = require('node:crypto');
const wasm = require('./wasm');
const { splitOptions } = require('./options');
const { normalizeUpdate, flatUpdate, subscribe } = require('./baileys');
const { performDelivery } = require('./delivery');
const { createHandler } = require('./handler');
const { loadState, saveState } = require('./state');

const MAX_TIMER_MS = 2 ** 31 - 1;

function inputError(message) {
  const err = new TypeError(`sessionkeeper: ${message}`);
  err.name = 'KeeperError';
  err.code = 'InvalidInput';
  return err;
}

function sessionIdArg(id) {
  if (typeof id !== 'string') throw inputError(`sessionId must be a string, got ${id === null ? 'null' : typeof id}`);
  return id;
}

/**
 * The keeper. Create it with `createKeeper(options)`.
 *
 * Events: `'command'` `{type: 'close'|'reconnect', sessionId, reason, at}`, `'breaker'`
 * `{from, to, at}`, `'session'` `{sessionId, state, reason?, at}`, `'deadLetter'` (the item given
 * up on), `'delivery'` `{delivery, outcome, outcomeClass}` after each backend request (the class is the
 * core's: `success`, `failure`, `throttled` or `rejected`, as the host's metrics count it), and `'warning'`
 * `{sessionId?, error}` for inputs refused on paths that cannot throw to the caller (socket events
 * from `attachBaileys`, delivery results, a failed autosave), and `'saved'` `{at}` after each
 * autosave.
 */
class SessionKeeper extends EventEmitter {
  /** @param {object} options see `createKeeper` */
  constructor(options = {}) {
    super();
    const { core, shim } = splitOptions(options);
    this._shim = shim;
    this._inFlight = new Set();
    this._attached = new Map();
    this._timer = null;
    this._timerAt = null;
    this._drainScheduled = false;
    this._closed = false;
    this._closing = null;
    // Autosave: when the state first changed since the last save (keeper time), and the save
    // under way. Every state change is followed by a drain, which marks the state dirty.
    this._dirtySince = null;
    this._saving = null;
    this._wasm = this._build(core);
    this._scheduleDrain();
  }

  _build(core) {
    let fresh;
    try {
      // A random incarnation: a keeper started without its old state never reuses an
      // idempotency key the backend has seen (a restored one keeps the saved incarnation).
      fresh = new wasm.WasmKeeper(core, crypto.randomBytes(8).toString('hex'));
    } catch (err) {
      throw Object.assign(new TypeError(`sessionkeeper: ${err.message}`), { name: 'KeeperError', code: err.code || 'Config' });
    }
    const text = this._shim.statePath ? loadState(this._shim.statePath) : undefined;
    if (text === undefined) return fresh;
    fresh.free();
    let restored;
    try {
      // The options given now are the config, as on a fresh start; the state is the file's.
      restored = wasm.WasmKeeper.restoreWithConfig(text, core);
    } catch (err) {
      err.message = `sessionkeeper: cannot restore ${this._shim.statePath}: ${err.message}`;
      throw err;
    }
    // Requests in flight when the state was saved never reported: the core sends them again.
    restored.handle(this._now(), { type: 'restarted' });
    return restored;
  }

  _now() {
    return this._shim.now();
  }

  _open() {
    if (this._closed) throw new Error('sessionkeeper: the keeper is closed');
  }

  /** Feeds one input; throws the core's KeeperError (state unchanged) when refused. */
  _handle(input) {
    this._open();
    try {
      return this._wasm.handle(this._now(), input);
    } finally {
      this._scheduleDrain();
    }
  }

  /**
   * Feeds many inputs in one crossing of the wasm boundary. Returns one entry per input: the
   * core's Ack or the KeeperError (not thrown) that input got.
   * @param {object[]} inputs core `Input` objects
   */
  handleBatch(inputs) {
    this._open();
    if (!Array.isArray(inputs)) throw inputError('handleBatch takes an array of inputs');
    try {
      return this._wasm.handleBatch(this._now(), inputs);
    } finally {
      this._scheduleDrain();
    }
  }

  /**
   * Starts managing a session (before its socket's first event). `options.meta`: the
   * gateway's own flat fields (a phone number, a tenant) sent in every `/qr` and `/status`
   * body of the session as `meta`.
   */
  addSession(sessionId, options) {
    const input = { type: 'addSession', sessionId: sessionIdArg(sessionId) };
    if (options !== undefined && options !== null) {
      if (typeof options !== 'object') throw inputError('addSession options must be an object');
      if (options.meta !== undefined) input.meta = options.meta;
    }
    this._handle(input);
  }

  /** Removes a session: a `'close'` command follows and the backend is told `removed`. */
  removeSession(sessionId, reason) {
    if (reason !== undefined && typeof reason !== 'string') throw inputError('reason must be a string');
    this._detach(sessionIdArg(sessionId));
    this._handle({ type: 'removeSession', sessionId, reason });
  }

  /** Feeds a raw Baileys `connection.update` for a session's current socket. */
  connectionUpdate(sessionId, update) {
    sessionIdArg(sessionId);
    const f = flatUpdate(update);
    if (f === null) {
      this._handle({ type: 'connectionUpdate', sessionId, update: normalizeUpdate(update) });
      return;
    }
    this._open();
    try {
      // The same input as above, as flat arguments: no object conversion at the boundary.
      this._wasm.connectionUpdate(this._now(), sessionId, f.connection, f.qr, f.isNewLogin, f.statusCode, f.message);
    } finally {
      this._scheduleDrain();
    }
  }

  /**
   * Forwards a Baileys socket's `connection.update` events until it closes. A new socket for the
   * same session replaces the previous one. Returns a function that detaches.
   */
  attachBaileys(sessionId, sock) {
    this._open();
    sessionIdArg(sessionId);
    if (!this._wasm.hasSession(sessionId)) {
      throw Object.assign(new Error(`unknown session \`${sessionId}\` (addSession first)`), {
        name: 'KeeperError',
        code: 'UnknownSession',
      });
    }
    this._detach(sessionId);
    const entry = { sock, detach: null };
    entry.detach = subscribe(sock, (update) => {
      if (update && update.connection === 'close' && this._attached.get(sessionId) === entry) {
        this._attached.delete(sessionId);
      }
      if (this._closed) return;
      try {
        this.connectionUpdate(sessionId, update);
      } catch (error) {
        // A socket still reporting after its session was removed is expected; others are not.
        if (error.code !== 'UnknownSession' || (update && update.qr !== undefined)) {
          this.emit('warning', { sessionId, error });
        }
      }
    });
    this._attached.set(sessionId, entry);
    return () => this._detach(sessionId, entry);
  }

  _detach(sessionId, only) {
    const entry = this._attached.get(sessionId);
    if (!entry || (only && entry !== only)) return;
    this._attached.delete(sessionId);
    entry.detach();
  }

  /**
   * Queues one of the gateway's own backend calls (paced, retried, coalesced by `key`).
   * @returns {{ itemId: number, idempotencyKey: string }}
   */
  enqueue(item) {
    if (item === null || typeof item !== 'object') throw inputError('enqueue takes {path, payload, key?, sessionId?}');
    const { path, payload, key, sessionId } = item;
    if (typeof path !== 'string') throw inputError('enqueue: path must be a string starting with `/`');
    if (payload === undefined) throw inputError('enqueue: payload is required (any JSON value)');
    const ack = this._handle({ type: 'enqueue', path, payload, key, sessionId });
    return { itemId: ack.itemId, idempotencyKey: ack.idempotencyKey };
  }

  /** `GET /sessions`: `{sessions, pendingSessions, pendingCount}`. */
  sessions() {
    return this._wasm.sessions(this._now());
  }

  /** `GET /health`: `{status, activeSessions, pendingCount, circuitBreaker, queue, alerts, ...}`. */
  health() {
    return this._wasm.health(this._now());
  }

  /** Whether the keeper holds the session. */
  hasSession(sessionId) {
    return this._wasm.hasSession(sessionIdArg(sessionId));
  }

  /** The last QR string of a pending session, or undefined. */
  qr(sessionId) {
    return this._wasm.qr(sessionIdArg(sessionId));
  }

  /** Removes sessions neither connected nor pending (idle at least `idleForMs`, default 0). */
  cleanupInactiveSessions({ idleForMs } = {}) {
    const ack = this._handle({ type: 'cleanupInactive', idleForMs });
    return { removed: ack.removed, count: ack.count };
  }

  /** Expires pending sessions (episode at least `olderThanMs` old, default 0). */
  cleanupPendingSessions({ olderThanMs } = {}) {
    const ack = this._handle({ type: 'cleanupPending', olderThanMs });
    return { removed: ack.removed, count: ack.count };
  }

  /** A Node `(req, res, next?)` handler for the management endpoints. */
  handler() {
    return createHandler(this, { apiKey: this._shim.apiKey });
  }

  /** Runs due timers now (the keeper's own timer does this by itself). */
  tick() {
    this._open();
    this._wasm.handleTimeout(this._now());
    this._drain();
  }

  /** Resolves when no delivery is in flight. */
  async idle() {
    while (this._inFlight.size > 0) await Promise.allSettled([...this._inFlight]);
  }

  /** Writes the state to `statePath` (atomically); a no-op without `statePath`. */
  async save() {
    if (this._shim.statePath) await saveState(this._shim.statePath, this._wasm.snapshot());
  }

  /**
   * Stops the timer, detaches sockets, waits for in-flight deliveries (their results are
   * recorded), and saves the state. Deliveries not started yet stay queued in the saved state.
   */
  close() {
    if (this._closing) return this._closing;
    this._drain(); // emit what is due before closing
    this._closed = true;
    this._clearTimer();
    for (const id of [...this._attached.keys()]) this._detach(id);
    this._closing = (async () => {
      await this.idle();
      if (this._saving) await this._saving;
      // Outputs produced by the last results are not executed: deliveries among them are put
      // back by the core (`restarted`) on the next start.
      this._wasm.pollOutputs();
      await this.save();
    })();
    return this._closing;
  }

  _scheduleDrain() {
    if (this._drainScheduled) return;
    this._drainScheduled = true;
    queueMicrotask(() => this._drain());
  }

  /** Executes every pending output, then arms the timer. */
  _drain() {
    this._drainScheduled = false;
    if (this._closed) return;
    // JSON text + JSON.parse is the cheapest way to move many outputs across the boundary; the
    // kinds nobody listens to are dropped inside wasm (emitting them would do nothing).
    const skip =
      (this.listenerCount('command') === 0 ? 1 : 0) |
      (this.listenerCount('session') === 0 ? 2 : 0) |
      (this.listenerCount('breaker') === 0 ? 4 : 0) |
      (this.listenerCount('deadLetter') === 0 ? 8 : 0);
    const outputs = JSON.parse(this._wasm.pollOutputsJson(skip));
    for (let i = 0; i < outputs.length; i++) this._execute(outputs[i]);
    this._autosave();
    this._arm();
  }

  /** The next autosave time (keeper time), or undefined when there is nothing to save. */
  _autosaveAt() {
    if (this._dirtySince === null) return undefined;
    return this._dirtySince + this._shim.autosaveInterval;
  }

  /**
   * Saves the state once `autosaveInterval` has passed since it first changed, so a crash loses
   * at most that much (in-flight deliveries are sent again on restore). One save at a time.
   */
  _autosave() {
    if (!this._shim.statePath || this._shim.autosaveInterval === 0) return;
    const now = this._now();
    if (this._dirtySince === null) this._dirtySince = now;
    if (this._saving || now < this._autosaveAt()) return;
    this._dirtySince = null;
    this._saving = this.save()
      .then(() => this.emit('saved', { at: now }))
      .catch((error) => this.emit('warning', { error }))
      .finally(() => {
        this._saving = null;
      });
  }

  _execute(out) {
    switch (out.type) {
      case 'deliver':
        this._deliver(out);
        break;
      case 'command':
        this.emit('command', { type: out.command, sessionId: out.sessionId, reason: out.reason, at: out.at });
        break;
      case 'sessionChanged': {
        const { type, ...change } = out;
        this.emit('session', change);
        break;
      }
      case 'breakerChanged':
        this.emit('breaker', { from: out.from, to: out.to, at: out.at });
        break;
      case 'deadLettered': {
        const { type, ...dead } = out;
        this.emit('deadLetter', dead);
        break;
      }
      default:
        this.emit('warning', { error: new Error(`unknown output type ${out.type}`) });
    }
  }

  _deliver(delivery) {
    const p = performDelivery(this._shim, delivery, this._now()).then((outcome) => {
      this._inFlight.delete(p);
      this.emit('delivery', { delivery, outcome, outcomeClass: wasm.outcomeClass(outcome) });
      try {
        const o = outcome;
        this._wasm.deliveryResult(
          this._now(),
          delivery.deliveryId,
          o.kind === 'response' ? o.status : undefined,
          o.kind === 'response' ? o.retryAfter : undefined,
          o.kind === 'timeout',
          o.kind === 'networkError' ? o.message : undefined,
        );
      } catch (error) {
        this.emit('warning', { sessionId: delivery.sessionId, error });
      }
      this._scheduleDrain();
    });
    this._inFlight.add(p);
  }

  _arm() {
    const core = this._wasm.pollTimeout();
    const save = this._autosaveAt();
    const at = core === undefined || core === null ? save : save === undefined ? core : Math.min(core, save);
    if (at === this._timerAt) return;
    this._clearTimer();
    if (at === undefined || at === null) return;
    const delay = Math.min(Math.max(0, at - this._now()), MAX_TIMER_MS);
    this._timerAt = at;
    this._timer = setTimeout(() => {
      this._timer = null;
      this._timerAt = null;
      if (this._closed) return;
      this._wasm.handleTimeout(this._now());
      this._drain();
    }, delay);
    if (typeof this._timer.unref === 'function') this._timer.unref();
  }

  _clearTimer() {
    if (this._timer) clearTimeout(this._timer);
    this._timer = null;
    this._timerAt = null;
  }
}

/**
 * Creates a keeper. Options: the core's config keys (DESIGN.md: `circuitBreakerThreshold`,
 * `pendingSessionTimeout`, `syncSpacing`, ...) plus `laravelApiUrl` (required),
 * `laravelApiToken`, `statePath`, `autosaveInterval` (ms, default 5000, 0 = only on close/save),
 * `fetch`, `requestTimeout` (ms, default 10000),
 * `signingSecret`, `apiKey`, `qrImageFormat` ('png'|'svg') and `now` (a clock, for tests).
 * @returns {SessionKeeper}
 */
function createKeeper(options) {
  return new SessionKeeper(options);
}

module.exports = { SessionKeeper, createKeeper };
