'use strict';
// A pure-JavaScript baseline of the seed gateway's design, for bench.js only: a LaravelSync
// p-queue (concurrency 1, one request per 400 ms) behind an opossum circuit breaker, a
// QrController-style `pending` Map with timestamps and QR counts, a `setInterval` sweep of
// stale pending sessions, and reconnect timers on close. It is what sessionkeeper replaces.

const CircuitBreaker = require('opossum');

const TERMINAL = new Set([401, 403, 402, 405, 406, 411]);

class SeedGateway {
  /** @param {{ PQueue: any, send: (path: string, body: object) => Promise<unknown> }} deps */
  constructor({ PQueue, send }, config = {}) {
    this.config = { pendingSessionTimeout: 120_000, syncSpacing: 400, maxQrCodes: 6, ...config };
    this.queue = new PQueue({ concurrency: 1, interval: this.config.syncSpacing, intervalCap: 1 });
    this.breaker = new CircuitBreaker(send, {
      timeout: 10_000,
      errorThresholdPercentage: 50,
      resetTimeout: 180_000,
      volumeThreshold: 20,
    });
    this.sessions = new Map(); // id -> { state, lastEventAt, reconnectTimer }
    this.pending = new Map(); // id -> { since, qrCount }
    this.lastQr = new Map(); // id -> qr
    this.sweep = setInterval(() => this.cleanupPending(Date.now()), 30_000);
    this.sweep.unref();
  }

  sync(path, body) {
    this.queue.add(() => this.breaker.fire(path, body)).catch(() => {});
  }

  addSession(id) {
    if (this.sessions.has(id)) throw new Error(`session ${id} exists`);
    this.sessions.set(id, { state: 'new', lastEventAt: Date.now(), reconnectTimer: null, attempt: 0 });
  }

  connectionUpdate(id, update) {
    const s = this.sessions.get(id);
    if (!s) {
      if (update.qr) return; // dropped
      throw new Error(`unknown session ${id}`);
    }
    const now = Date.now();
    s.lastEventAt = now;
    if (update.isNewLogin) {
      this.pending.delete(id);
      s.state = 'scanned';
    }
    if (update.qr) {
      let p = this.pending.get(id);
      if (!p) {
        p = { since: now, qrCount: 0 };
        this.pending.set(id, p);
        this.sync('/status', { sessionId: id, status: 'pending', at: now });
      }
      p.qrCount += 1;
      if (p.qrCount > this.config.maxQrCodes) return this.remove(id, 'expired', now);
      this.lastQr.set(id, update.qr);
      s.state = 'pending';
      this.sync('/qr', { sessionId: id, qr: update.qr, at: now });
    }
    if (update.connection === 'open') {
      this.pending.delete(id);
      s.state = 'connected';
      s.attempt = 0;
      this.sync('/status', { sessionId: id, status: 'connected', at: now });
    } else if (update.connection === 'close') {
      const err = update.lastDisconnect && update.lastDisconnect.error;
      const code = err && err.output && err.output.statusCode;
      if (code === 401) return this.remove(id, 'logged_out', now);
      if (TERMINAL.has(code)) return this.remove(id, 'removed', now);
      if (s.state === 'connected') this.sync('/status', { sessionId: id, status: 'disconnected', at: now });
      s.state = 'reconnecting';
      clearTimeout(s.reconnectTimer);
      const delay = code === 515 ? 0 : Math.min(60_000, 1_000 * 2 ** s.attempt++);
      s.reconnectTimer = setTimeout(() => {}, delay);
      s.reconnectTimer.unref();
    } else if (update.connection === 'connecting' && !this.pending.has(id)) {
      s.state = 'connecting';
    }
  }

  remove(id, status, now) {
    const s = this.sessions.get(id);
    if (s) clearTimeout(s.reconnectTimer);
    this.sessions.delete(id);
    this.pending.delete(id);
    this.lastQr.delete(id);
    this.sync('/status', { sessionId: id, status, at: now });
  }

  cleanupPending(now) {
    const removed = [];
    for (const [id, p] of this.pending) {
      if (now - p.since > this.config.pendingSessionTimeout) {
        removed.push(id);
        this.remove(id, 'expired', now);
      }
    }
    return removed;
  }

  close() {
    clearInterval(this.sweep);
    for (const s of this.sessions.values()) clearTimeout(s.reconnectTimer);
    this.queue.clear();
    this.breaker.shutdown();
  }
}

module.exports = { SeedGateway };
