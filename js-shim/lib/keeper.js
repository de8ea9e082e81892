'use strict';
// SessionKeeper: drives the wasm core from Node. It owns the I/O only: one timer armed at the
// core's pollTimeout, backend deliveries with fetch, Baileys event plumbing, persistence.
// Every decision (pending expiry, reconnect backoff, breaker, pacing, retries) is the core's.

const { EventEmitter } = require('node:events');
const crypto = require('node:crypto');
const wasm = require('./wasm');
const { splitOptions, configError } = require('./options');
const { normalizeUpdate, flatUpdate, subscribe } = require('./baileys');
const { performDelivery } = require('./delivery');
const { createHandler } = require('./handler');
const { loadState, saveState } = require('./state');
const { KeeperError, asKeeperError, keeperCall, inputError } = require('./errors');
const { createLog } = require('./log');
const { acquireLock } = require('./lock');
const { Outbox } = require('./outbox');
const { payloadJson } = require('./payload');

const MAX_TIMER_MS = 2 ** 31 - 1;

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
 * from `attachBaileys`, delivery results, a failed autosave, a throwing listener), and `'saved'`
 * `{at}` after each autosave. Until `start()`, `command`, `session`, `breaker` and `deadLetter`
 * events are held for their first listener (see `Outbox`).
 */
class SessionKeeper extends EventEmitter {
  /** @param {object} options see `createKeeper` */
  constructor(options = {}) {
    super();
    const { core, shim } = splitOptions(options);
    this._shim = shim;
    this._log = createLog(shim.logger);
    // The keeper's own observers (metrics): they neither release held events nor count as the
    // gateway's listeners.
    this._taps = new EventEmitter();
    this._outbox = new Outbox(this, this._taps, this._log, (error, kind) => this._listenerFailed(error, kind));
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
    this._releaseLock = shim.statePath ? acquireLock(shim.statePath, this._log) : () => {};
    try {
      this._wasm = this._build(core);
    } catch (err) {
      this._releaseLock();
      throw err;
    }
    this._scheduleDrain();
  }

  _build(core) {
    let fresh;
    try {
      // A random incarnation: a keeper started without its old state never reuses an
      // idempotency key the backend has seen (a restored one keeps the saved incarnation).
      fresh = new wasm.WasmKeeper(core, crypto.randomBytes(8).toString('hex'));
    } catch (err) {
      throw configError(err);
    }
    const { statePath } = this._shim;
    const text = statePath ? loadState(statePath) : undefined;
    if (text === undefined) return fresh;
    fresh.free();
    let restored;
    try {
      // The options given now are the config, as on a fresh start; the state is the file's.
      restored = wasm.WasmKeeper.restoreWithConfig(text, core);
    } catch (err) {
      if (err && err.code === 'Config') throw configError(err);
      const e = asKeeperError(err);
      e.message = `sessionkeeper: cannot restore ${statePath}: ${e.message}`;
      throw e;
    }
    // Requests in flight when the state was saved never reported: the core sends them again.
    restored.handleJson(this._now(), '{"type":"restarted"}');
    const sessions = restored.sessions(this._now()).sessions.length;
    this._log.info({ statePath, sessions }, 'restored the keeper state');
    return restored;
  }

  _now() {
    return this._shim.now();
  }

  _open() {
    if (this._closed) throw new KeeperError('Closed', 'sessionkeeper: the keeper is closed', { status: 503 });
  }

  /** Whether `close()` was called. */
  get closed() {
    return this._closed;
  }

  /**
   * Feeds one input as JSON text (`payload`: the JSON text of its payload, spliced in); throws
   * a KeeperError (state unchanged) when refused, and answers the core's Ack.
   */
  _handle(input, payload) {
    this._open();
    let text;
    try {
      text = JSON.stringify(input);
    } catch (err) {
      throw inputError(`${input.type}: an argument cannot be read as JSON: ${err.message}`);
    }
    if (payload !== undefined) text = `${text.slice(0, -1)},"payload":${payload}}`;
    return this._handleText(text);
  }

  /**
   * Feeds many inputs in one crossing of the wasm boundary. Returns one entry per input: the
   * core's Ack or the KeeperError (not thrown) that input got.
   * @param {object[]} inputs core `Input` objects
   */
  handleBatch(inputs) {
    this._open();
    if (!keeperCall(() => Array.isArray(inputs))) throw inputError('handleBatch takes an array of inputs');
    const results = new Array(inputs.length);
    const texts = [];
    const slots = [];
    for (let i = 0; i < inputs.length; i++) {
      try {
        const input = inputs[i];
        // An enqueue's payload by the rules `enqueue` applies (JSON.stringify's conversion, text only).
        if (input && input.type === 'enqueue') payloadJson(input.payload, `input ${i}: payload`);
        const text = JSON.stringify(input);
        if (typeof text !== 'string' || text[0] !== '{') throw inputError(`input ${i} must be an object`);
        texts.push(text);
        slots.push(i);
      } catch (err) {
        results[i] =
          err instanceof KeeperError
            ? err
            : new KeeperError('InvalidItem', `sessionkeeper: input ${i} cannot be sent as JSON: ${err.message}`, { status: 400 });
      }
    }
    try {
      const answers = JSON.parse(this._wasm.handleBatchJson(this._now(), `[${texts.join(',')}]`));
      for (let j = 0; j < answers.length; j++) {
        const a = answers[j];
        results[slots[j]] = a.error
          ? new KeeperError(a.error.code, a.error.message, a.error.status === null ? {} : { status: a.error.status })
          : a.ok;
      }
    } catch (err) {
      throw asKeeperError(err);
    } finally {
      this._scheduleDrain();
    }
    return results;
  }

  /** Ends the start-up hold: events held for listeners are emitted now, in order. */
  start() {
    this._open();
    this._outbox.start();
    return this;
  }

  /**
   * Starts managing a session (before its socket's first event). `options.meta`: the
   * gateway's own flat fields (a phone number, a tenant) sent in every `/qr` and `/status`
   * body of the session as `meta`.
   */
  addSession(sessionId, options) {
    this._open();
    const input = { type: 'addSession', sessionId: sessionIdArg(sessionId) };
    if (options !== undefined && options !== null) {
      if (typeof options !== 'object') throw inputError('addSession options must be an object');
      const meta = keeperCall(() => options.meta);
      if (meta !== undefined) input.meta = JSON.parse(payloadJson(meta, 'meta'));
    }
    this._handle(input);
  }

  /**
   * Adds the session unless the keeper holds it already (restored from `statePath`): the call
   * for a boot loop that re-adds every session folder. Returns whether it added it.
   */
  ensureSession(sessionId, options) {
    this._open();
    if (this._wasm.hasSession(sessionIdArg(sessionId))) return false;
    this.addSession(sessionId, options);
    return true;
  }

  /** Removes a session: a `'close'` command follows and the backend is told `removed`. */
  removeSession(sessionId, reason) {
    this._open();
    if (reason !== undefined && typeof reason !== 'string') throw inputError('reason must be a string');
    this._detach(sessionIdArg(sessionId));
    this._handle({ type: 'removeSession', sessionId, reason });
  }

  /** Feeds a raw Baileys `connection.update` for a session's current socket. */
  connectionUpdate(sessionId, update) {
    this._open();
    sessionIdArg(sessionId);
    const f = keeperCall(() => flatUpdate(update));
    if (f === null) {
      this._handle({ type: 'connectionUpdate', sessionId, update: keeperCall(() => normalizeUpdate(update)) });
      return;
    }
    try {
      // The same input as above, as flat arguments: no object conversion at the boundary.
      this._wasm.connectionUpdate(this._now(), sessionId, f.connection, f.qr, f.isNewLogin, f.statusCode, f.message);
    } catch (err) {
      throw asKeeperError(err);
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
      throw new KeeperError('UnknownSession', `sessionkeeper: unknown session \`${sessionId}\` (addSession first)`, {
        status: 404,
      });
    }
    this._detach(sessionId);
    const entry = { sock, detach: null };
    entry.detach = keeperCall(() => subscribe(sock, (update) => {
      if (update && update.connection === 'close' && this._attached.get(sessionId) === entry) {
        this._attached.delete(sessionId);
      }
      if (this._closed) return;
      try {
        this.connectionUpdate(sessionId, update);
      } catch (error) {
        // A socket still reporting after its session was removed is expected; others are not.
        if (error.code !== 'UnknownSession' || (update && update.qr !== undefined)) {
          this._warn({ sessionId, error }, 'refused a socket event');
        }
      }
    }));
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
    this._open();
    if (item === null || typeof item !== 'object') throw inputError('enqueue takes {path, payload, key?, sessionId?}');
    const { path, payload, key, sessionId } = keeperCall(() => ({ ...item }));
    if (typeof path !== 'string') throw inputError('enqueue: path must be a string starting with `/`');
    if (payload === undefined) throw inputError('enqueue: payload is required (any JSON value)');
    if (key !== undefined && typeof key !== 'string') throw inputError('enqueue: key must be a string');
    if (sessionId !== undefined) sessionIdArg(sessionId);
    const ack = this._handle({ type: 'enqueue', path, key, sessionId }, payloadJson(payload, 'payload'));
    return { itemId: ack.itemId, idempotencyKey: ack.idempotencyKey };
  }

  /** `GET /sessions`: `{sessions, pendingSessions, pendingCount}`. */
  sessions() {
    this._open();
    return keeperCall(() => this._wasm.sessions(this._now()));
  }

  /** `GET /health`: `{status, activeSessions, pendingCount, circuitBreaker, queue, alerts, ...}`. */
  health() {
    this._open();
    return keeperCall(() => this._wasm.health(this._now()));
  }

  /** `health()` as a caller without the API key sees it: counts only. */
  _healthCountsOnly() {
    this._open();
    return keeperCall(() => this._wasm.health(this._now(), true));
  }

  /**
   * The effective config: every core key with its value (defaults filled in; `seed` as a
   * decimal string, since it does not fit a JS number) and the shim's options, secrets left out.
   */
  config() {
    this._open();
    const core = JSON.parse(this._wasm.configJson().replace(/"seed":(\d+)/, '"seed":"$1"'));
    const { baseUrl, statePath, autosaveInterval, requestTimeout, qrImageFormat } = this._shim;
    return { ...core, laravelApiUrl: baseUrl, statePath, autosaveInterval, requestTimeout, qrImageFormat };
  }

  /** The kept dead letters (items the backend refused or that ran out of attempts) with their bodies, oldest first. */
  deadLetters() {
    this._open();
    return JSON.parse(this._wasm.deadLettersJson());
  }

  /** Sends a kept dead letter again, under the idempotency key the backend saw. */
  retryDeadLetter(itemId) {
    this._handleText(`{"type":"retryDeadLetter","itemId":${itemIdArg(itemId)}}`);
  }

  /** Forgets a kept dead letter. */
  discardDeadLetter(itemId) {
    this._handleText(`{"type":"discardDeadLetter","itemId":${itemIdArg(itemId)}}`);
  }

  /** Feeds an input given as JSON text. */
  _handleText(text) {
    this._open();
    try {
      return JSON.parse(this._wasm.handleJson(this._now(), text));
    } catch (err) {
      throw asKeeperError(err);
    } finally {
      this._scheduleDrain();
    }
  }

  /** Whether the keeper holds the session. */
  hasSession(sessionId) {
    this._open();
    return this._wasm.hasSession(sessionIdArg(sessionId));
  }

  /** The last QR string of a pending session, or undefined. */
  qr(sessionId) {
    this._open();
    return this._wasm.qr(sessionIdArg(sessionId));
  }

  /** Removes sessions neither connected nor pending, idle at least `idleForMs` (default: `inactiveSessionTimeout`). */
  cleanupInactiveSessions(options) {
    const idleForMs = cleanupArg(options, 'idleForMs');
    const ack = this._handle({ type: 'cleanupInactive', idleForMs });
    return { removed: ack.removed, count: ack.count };
  }

  /** Expires pending sessions whose episode is at least `olderThanMs` old (default: `pendingSessionTimeout`). */
  cleanupPendingSessions(options) {
    const olderThanMs = cleanupArg(options, 'olderThanMs');
    const ack = this._handle({ type: 'cleanupPending', olderThanMs });
    return { removed: ack.removed, count: ack.count };
  }

  /** A Node `(req, res, next?)` handler for the management endpoints. */
  handler() {
    this._open();
    return createHandler(this, { apiKey: this._shim.apiKey });
  }

  /** The Prometheus text of the keeper's own families (for `handler()`'s `/metrics`). */
  _metricsText() {
    this._open();
    return this._wasm.metricsText(this._now());
  }

  /** Runs due timers now (the keeper's own timer does this by itself). */
  tick() {
    this._open();
    keeperCall(() => this._wasm.handleTimeout(this._now()));
    this._drain();
  }

  /** Resolves when no delivery is in flight. */
  async idle() {
    this._open();
    await this._settled();
  }

  async _settled() {
    while (this._inFlight.size > 0) await Promise.allSettled([...this._inFlight]);
  }

  /** Writes the state to `statePath` (atomically); a no-op without `statePath`. */
  async save() {
    this._open();
    await this._save();
  }

  async _save() {
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
      try {
        await this._settled();
        if (this._saving) await this._saving;
        // Outputs produced by the last results are not executed: deliveries among them are put
        // back by the core (`restarted`) on the next start.
        this._wasm.pollOutputsJson(0);
        await this._save();
      } finally {
        this._releaseLock();
      }
    })();
    return this._closing;
  }

  _scheduleDrain() {
    if (this._drainScheduled) return;
    this._drainScheduled = true;
    queueMicrotask(() => this._drain());
  }

  /**
   * Executes every pending output, then arms the timer. It runs from microtasks and timers, so
   * nothing may escape it: a failure becomes a `warning` and a log line.
   */
  _drain() {
    this._drainScheduled = false;
    if (this._closed) return;
    try {
      // JSON text + JSON.parse is the cheapest way to move many outputs across the boundary;
      // the kinds nobody will see are dropped inside wasm (emitting them would do nothing).
      const outputs = JSON.parse(this._wasm.pollOutputsJson(this._outbox.skipMask()));
      for (let i = 0; i < outputs.length; i++) this._execute(outputs[i]);
      this._autosave();
      this._arm();
    } catch (error) {
      this._warn({ error }, 'the keeper\'s background work failed', 'error');
    }
  }

  /** Emits a `warning` and logs it; never throws. */
  _warn(warning, message, level = 'warn') {
    this._log[level]({ sessionId: warning.sessionId, err: warning.error }, message);
    this._outbox.emit('warning', warning);
  }

  /** A gateway listener threw: the keeper goes on with the next event. */
  _listenerFailed(error, kind) {
    if (kind === 'warning') {
      this._log.error({ err: error }, 'a warning listener threw');
      return;
    }
    this._warn({ error }, `a ${kind} listener threw`, 'error');
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
    this._saving = this._save()
      .then(() => this._outbox.emit('saved', { at: now }))
      .catch((error) => this._warn({ error }, 'autosave failed', 'error'))
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
        this._outbox.emit('command', { type: out.command, sessionId: out.sessionId, reason: out.reason, at: out.at });
        break;
      case 'sessionChanged': {
        const { type, ...change } = out;
        this._outbox.emit('session', change);
        break;
      }
      case 'breakerChanged': {
        const change = { from: out.from, to: out.to, at: out.at };
        if (out.to === 'OPEN') this._log.warn(change, 'circuit breaker opened: deliveries are held');
        else this._log.info(change, `circuit breaker ${out.to}`);
        this._outbox.emit('breaker', change);
        break;
      }
      case 'deadLettered': {
        const { type, ...dead } = out;
        this._log.error(dead, 'delivery dead-lettered');
        this._outbox.emit('deadLetter', dead);
        break;
      }
      default:
        this._warn({ error: new Error(`unknown output type ${out.type}`) }, 'unknown output');
    }
  }

  _deliver(delivery) {
    const p = performDelivery(this._shim, delivery, this._now()).then((outcome) => {
      this._inFlight.delete(p);
      try {
        this._outbox.emit('delivery', { delivery, outcome, outcomeClass: wasm.outcomeClass(outcome) });
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
        this._warn({ sessionId: delivery.sessionId, error }, 'a delivery result was refused');
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
      try {
        this._wasm.handleTimeout(this._now());
      } catch (error) {
        this._warn({ error: asKeeperError(error) }, 'the keeper\'s timer failed', 'error');
      }
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

/** A dead letter's item id: a whole number (or its decimal text, for ids past 2^53). */
function itemIdArg(id) {
  if (Number.isSafeInteger(id) && id >= 0) return String(id);
  if (typeof id === 'string' && /^\d{1,20}$/.test(id)) return id;
  throw inputError(`itemId must be a whole number, got ${typeof id === 'string' ? JSON.stringify(id) : String(id)}`);
}

/** `{idleForMs}` / `{olderThanMs}` of the cleanup methods: a whole number of ms, or nothing. */
function cleanupArg(options, name) {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object') throw inputError(`cleanup options must be an object like {${name}}`);
  const ms = keeperCall(() => options[name]);
  if (ms === undefined) return undefined;
  if (!Number.isSafeInteger(ms) || ms < 0) throw inputError(`${name} must be a whole number of milliseconds >= 0`);
  return ms;
}

/**
 * Creates a keeper. Options: the core's config keys (DESIGN.md: `circuitBreakerThreshold`,
 * `pendingSessionTimeout`, `syncSpacing`, ...) plus `laravelApiUrl` (required),
 * `laravelApiToken`, `statePath`, `autosaveInterval` (ms, default 5000, 0 = only on close/save),
 * `fetch`, `requestTimeout` (ms, default 10000), `signingSecret`, `apiKey`, `qrImageFormat`
 * ('png'|'svg'), `logger` (pino-compatible) and `now` (a clock, for tests).
 * @returns {SessionKeeper}
 */
function createKeeper(options) {
  return new SessionKeeper(options);
}

module.exports = { SessionKeeper, createKeeper, KeeperError };
