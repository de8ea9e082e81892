'use strict';
// The keeper's lifecycle as a user sees it (issue 9): the start-up hold of restored outputs,
// ensureSession, the statePath lock, close(), config(), the logger option, and the wording
// of config and snapshot errors. Black-box: only the package's public API.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { spawn } = require('node:child_process');
const { createKeeper, KeeperError, CONFIG_KEYS } = require('..');
const { fakeBackend, fakeClock, waitFor, flush, fakeSocket, tmpDir, qrString } = require('./helpers');

const PACKAGE_DIR = path.join(__dirname, '..');
const NOWHERE = 'http://127.0.0.1:9';

/** Real time, briefly: for "a listener attached a few ms later". */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Asserts `err` is the package's KeeperError with `code` (and returns it for more checks). */
function assertKeeperError(err, code, what = 'the error') {
  assert.equal(typeof KeeperError, 'function', 'KeeperError is exported by the package');
  assert.ok(err instanceof KeeperError, `${what} is instanceof KeeperError (got ${err && err.name}: ${err && err.message})`);
  assert.equal(err.name, 'KeeperError');
  assert.equal(err.code, code, `${what}: code (message: ${err.message})`);
  return err;
}

/** Runs `fn` and returns what it threw (fails when it did not throw). */
function thrown(fn, what) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail(`${what}: expected a throw`);
}

/** A temp dir removed after the test, and keepers closed after the test. */
function scratch(t) {
  const dir = tmpDir();
  const keepers = [];
  t.after(async () => {
    for (const k of keepers) {
      try {
        await k.close();
      } catch {
        // already failed the test elsewhere
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const keep = (k) => {
    keepers.push(k);
    return k;
  };
  return { dir, keep };
}

/**
 * A state file whose restore produces a `close` command: keeper 1 (its clock at `clock`) adds a
 * pending session `p1` with a QR and closes; the clock is then moved past pendingSessionTimeout.
 */
async function expiredPendingState(statePath, clock, backendUrl) {
  const options = { laravelApiUrl: backendUrl, statePath, pendingSessionTimeout: 5_000, autosaveInterval: 0, syncSpacing: 0, now: clock.now };
  const first = createKeeper(options);
  first.addSession('p1');
  first.connectionUpdate('p1', { qr: qrString(1) });
  await flush();
  await first.idle();
  await first.close();
  clock.advance(5_001);
  return options;
}

/** A logger that records its calls: `calls` is [[level, args]]. */
function recordingLogger() {
  const calls = [];
  const logger = { calls };
  for (const level of ['debug', 'info', 'warn', 'error']) logger[level] = (...args) => calls.push([level, args]);
  logger.at = (level) => calls.filter(([l]) => l === level).map(([, args]) => args);
  /** A call at `level` whose object or message matches `re`. */
  logger.find = (level, re) => logger.at(level).find((args) => re.test(`${args[1]} ${safeJson(args[0])}`));
  return logger;
}

/** Waits for a log line; on timeout, fails showing everything logged. */
async function waitLogged(logger, predicate, what) {
  try {
    await waitFor(predicate, what, 3_000);
  } catch {
    assert.fail(`${what}; logged: ${safeJson(logger.calls)}`);
  }
}

function safeJson(v) {
  try {
    return JSON.stringify(v, (k, x) => (x instanceof Error ? { name: x.name, message: x.message, code: x.code } : x));
  } catch {
    return String(v);
  }
}

/** The pid of a process that has exited. */
async function deadPid() {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid;
}

/** A child node process holding a keeper on `statePath`; resolves once it has created it. */
async function holder(t, statePath) {
  const script = `
    const { createKeeper } = require(${JSON.stringify(PACKAGE_DIR)});
    try {
      createKeeper({ laravelApiUrl: ${JSON.stringify(NOWHERE)}, statePath: process.argv[1], autosaveInterval: 0 });
      process.stdout.write('ready\\n');
    } catch (err) {
      process.stdout.write('failed ' + err.message + '\\n');
    }
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script, statePath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let out = '';
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve();
    });
    child.on('exit', () => reject(new Error(`the holder exited early: ${out}`)));
  });
  assert.equal(out.trim(), 'ready', 'the child process created its keeper');
  return { child, exited };
}

async function serve(handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const get = async (p) => {
    const res = await fetch(base + p);
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, body };
  };
  const close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { get, close };
}

// (a) start-up hold ---------------------------------------------------------------------------

test('start-up hold: a close command produced while restoring reaches a listener attached later', async (t) => {
  const { dir, keep } = scratch(t);
  const backend = await fakeBackend();
  t.after(() => backend.close());
  const clock = fakeClock();
  const options = await expiredPendingState(path.join(dir, 'keeper.json'), clock, backend.url);

  const keeper = keep(createKeeper(options));
  assert.equal(keeper.hasSession('p1'), false, 'the pending session expired while the keeper was down');
  // Deliveries are never held: the backend is told `expired` before anyone listens.
  await waitFor(() => backend.requests.some((r) => r.body && r.body.status === 'expired' && r.body.sessionId === 'p1'), 'the expired status');

  await sleep(20);
  const commands = [];
  keeper.on('command', (c) => commands.push(c));
  const sessions = [];
  keeper.on('session', (s) => sessions.push(s));
  await flush();
  assert.deepEqual(
    commands.map((c) => [c.type, c.sessionId, c.reason]),
    [['close', 'p1', 'pending_timeout']],
    'the held close command is released to the first command listener',
  );
  assert.equal(commands[0].at, clock.t);
  assert.ok(sessions.some((s) => s.sessionId === 'p1'), `the held session events are released too: ${JSON.stringify(sessions)}`);

  // Released once: a second listener does not get it again.
  const late = [];
  keeper.on('command', (c) => late.push(c));
  await flush();
  assert.deepEqual(late, []);
  assert.equal(commands.length, 1);
});

test('start-up hold: start() returns the keeper and releases the hold; unheard events are then dropped', async (t) => {
  const { dir, keep } = scratch(t);
  const backend = await fakeBackend();
  t.after(() => backend.close());
  const clock = fakeClock();
  const options = await expiredPendingState(path.join(dir, 'keeper.json'), clock, backend.url);

  const keeper = keep(createKeeper(options));
  assert.equal(typeof keeper.start, 'function', 'keeper.start exists');
  assert.equal(keeper.start(), keeper, 'start() returns the keeper');
  await waitFor(() => backend.requests.some((r) => r.body && r.body.status === 'expired'), 'the expired status');
  await sleep(20);
  const commands = [];
  keeper.on('command', (c) => commands.push(c));
  const sessions = [];
  keeper.on('session', (s) => sessions.push(s));
  await flush();
  await sleep(5);
  assert.deepEqual(commands, [], 'after start(), a command nobody listened to is gone');
  assert.deepEqual(sessions, []);

  // Steady state: a listener gets what happens after it was attached.
  keeper.addSession('fresh');
  await flush();
  assert.deepEqual(
    sessions.map((s) => [s.sessionId, s.state]),
    [['fresh', 'new']],
  );
});

// (b) ensureSession ---------------------------------------------------------------------------

test('ensureSession: false for a restored session, true for a new one, never SessionExists', async (t) => {
  const { dir, keep } = scratch(t);
  const statePath = path.join(dir, 'keeper.json');
  const clock = fakeClock();
  const options = { laravelApiUrl: NOWHERE, statePath, autosaveInterval: 0, syncSpacing: 60_000, now: clock.now };
  const first = createKeeper(options);
  first.addSession('restored');
  await first.close();

  const keeper = keep(createKeeper(options));
  assert.equal(typeof keeper.ensureSession, 'function', 'keeper.ensureSession exists');
  assert.equal(keeper.hasSession('restored'), true);
  assert.equal(keeper.ensureSession('restored'), false, 'a restored session is not added again');
  assert.equal(keeper.ensureSession('brand-new'), true, 'a new session is added');
  assert.equal(keeper.hasSession('brand-new'), true);
  assert.equal(keeper.ensureSession('brand-new'), false, 'a second call finds it');
  assert.equal(keeper.ensureSession('with-meta', { meta: { phone: '4915112345678' } }), true);
  assert.equal(keeper.ensureSession('with-meta', { meta: { phone: '4915112345678' } }), false);
  assert.deepEqual(
    keeper.sessions().sessions.map((s) => s.sessionId).sort(),
    ['brand-new', 'restored', 'with-meta'],
  );
  // Bad ids are still refused, as by addSession.
  assertKeeperError(thrown(() => keeper.ensureSession('bad id!'), 'a bad id'), 'InvalidSessionId');
});

// (c) the statePath lock ----------------------------------------------------------------------

test('lock: a second keeper on the same statePath fails with Locked naming the pid; close() releases it', async (t) => {
  const { dir, keep } = scratch(t);
  const statePath = path.join(dir, 'keeper.json');
  const options = { laravelApiUrl: NOWHERE, statePath, autosaveInterval: 0 };
  const first = keep(createKeeper(options));

  const lockPath = `${statePath}.lock`;
  assert.ok(fs.existsSync(lockPath), `${lockPath} exists while the keeper is open`);
  const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
  assert.equal(lock.pid, process.pid);
  assert.equal(lock.hostname, os.hostname());
  assert.ok('at' in lock, 'the lock says since when');

  const err = thrown(() => keep(createKeeper(options)), 'a second keeper on the same statePath');
  assertKeeperError(err, 'Locked');
  assert.match(err.message, new RegExp(`\\b${process.pid}\\b`), 'the message names the holder pid');

  await first.close();
  const second = keep(createKeeper(options));
  second.addSession('after-close');
  assert.equal(second.hasSession('after-close'), true);
});

test('lock: a lock file left by a dead process is taken over (with a warn line)', async (t) => {
  const { dir, keep } = scratch(t);
  const statePath = path.join(dir, 'keeper.json');
  const lockPath = `${statePath}.lock`;
  const pid = await deadPid();
  fs.writeFileSync(lockPath, JSON.stringify({ pid, hostname: os.hostname(), at: Date.now() - 1_000 }));
  const logger = recordingLogger();

  const keeper = keep(createKeeper({ laravelApiUrl: NOWHERE, statePath, autosaveInterval: 0, logger }));
  keeper.addSession('alive');
  assert.equal(JSON.parse(fs.readFileSync(lockPath, 'utf8')).pid, process.pid, 'the lock now names this process');
  assert.ok(logger.at('warn').length >= 1, `a warn line for the takeover: ${safeJson(logger.calls)}`);
});

test('lock: across processes, Locked while a child holds it; taken over once the child is SIGKILLed', async (t) => {
  const { dir, keep } = scratch(t);
  const statePath = path.join(dir, 'keeper.json');
  const { child, exited } = await holder(t, statePath);

  const err = thrown(() => keep(createKeeper({ laravelApiUrl: NOWHERE, statePath, autosaveInterval: 0 })), 'a keeper while the child holds the lock');
  assertKeeperError(err, 'Locked');
  assert.match(err.message, new RegExp(`\\b${child.pid}\\b`), "the message names the child's pid");

  child.kill('SIGKILL');
  await exited;
  const keeper = keep(createKeeper({ laravelApiUrl: NOWHERE, statePath, autosaveInterval: 0 }));
  keeper.addSession('mine-now');
  assert.equal(JSON.parse(fs.readFileSync(`${statePath}.lock`, 'utf8')).pid, process.pid);
});

// (d) after close() ---------------------------------------------------------------------------

test('after close(): every method throws Closed (503), close() returns the same promise, handler() answers 503', async (t) => {
  const keeper = createKeeper({ laravelApiUrl: NOWHERE, autosaveInterval: 0 });
  const api = await serve(keeper.handler());
  t.after(() => api.close());
  keeper.addSession('alice');
  assert.equal((await api.get('/health')).status, 200, 'open: /health answers 200');

  const closing = keeper.close();
  assert.equal(keeper.close(), closing, 'close() again returns the same promise');
  await closing;
  assert.equal(keeper.close(), closing);

  const calls = {
    addSession: () => keeper.addSession('bob'),
    ensureSession: () => keeper.ensureSession('bob'),
    removeSession: () => keeper.removeSession('alice'),
    connectionUpdate: () => keeper.connectionUpdate('alice', { connection: 'open' }),
    attachBaileys: () => keeper.attachBaileys('alice', fakeSocket()),
    enqueue: () => keeper.enqueue({ path: '/custom', payload: { n: 1 } }),
    handleBatch: () => keeper.handleBatch([{ type: 'addSession', sessionId: 'bob' }]),
    sessions: () => keeper.sessions(),
    health: () => keeper.health(),
    hasSession: () => keeper.hasSession('alice'),
    qr: () => keeper.qr('alice'),
    cleanupInactiveSessions: () => keeper.cleanupInactiveSessions(),
    cleanupPendingSessions: () => keeper.cleanupPendingSessions(),
    tick: () => keeper.tick(),
    start: () => keeper.start(),
    config: () => keeper.config(),
  };
  const wrong = [];
  for (const [name, call] of Object.entries(calls)) {
    let err;
    try {
      call();
    } catch (e) {
      err = e;
    }
    const ok = typeof KeeperError === 'function' && err instanceof KeeperError && err.code === 'Closed' && err.status === 503;
    if (!ok) wrong.push(`${name}: ${err === undefined ? 'did not throw' : `${err.name} code=${err.code} status=${err.status}: ${err.message}`}`);
  }
  assert.deepEqual(wrong, [], 'every method throws KeeperError code Closed status 503');

  for (const route of ['/health', '/sessions', '/metrics']) {
    const res = await api.get(route);
    assert.equal(res.status, 503, `GET ${route} after close()`);
    assert.match(String(res.body && res.body.error), /closed/i, `GET ${route}: {"error": "...closed..."}`);
  }
});

// (e) config() --------------------------------------------------------------------------------

test('config(): every core key with defaults filled in, given options reflected, seed a string, no secrets', async (t) => {
  const { dir, keep } = scratch(t);
  const statePath = path.join(dir, 'keeper.json');
  const secrets = { laravelApiToken: 'tok-SECRET-4711', signingSecret: 'sig-SECRET-0815', apiKey: 'api-SECRET-1234' };
  const keeper = keep(
    createKeeper({
      laravelApiUrl: 'http://127.0.0.1:9/api',
      statePath,
      autosaveInterval: 0,
      requestTimeout: 1_234,
      qrImageFormat: 'svg',
      pendingSessionTimeout: 123_456,
      ...secrets,
    }),
  );
  assert.equal(typeof keeper.config, 'function', 'keeper.config exists');
  const config = keeper.config();
  assert.ok(config && typeof config === 'object');
  const missing = CONFIG_KEYS.filter((k) => config[k] === undefined || config[k] === null);
  assert.deepEqual(missing, [], 'every key in CONFIG_KEYS has its effective value');
  assert.equal(config.pendingSessionTimeout, 123_456, 'a given option is reflected');
  assert.equal(typeof config.circuitBreakerThreshold, 'number', 'a default is filled in');
  assert.equal(typeof config.seed, 'string', 'seed is a string (64 bits do not fit a JS number)');
  assert.match(config.seed, /^\d+$/, 'seed in decimal');

  assert.equal(config.laravelApiUrl, 'http://127.0.0.1:9/api');
  assert.equal(config.statePath, statePath);
  assert.equal(config.autosaveInterval, 0);
  assert.equal(config.requestTimeout, 1_234);
  assert.equal(config.qrImageFormat, 'svg');

  const text = JSON.stringify(config);
  for (const [key, value] of Object.entries(secrets)) {
    assert.equal(key in config, false, `${key} is not returned`);
    assert.equal(text.includes(value), false, `the ${key} value appears nowhere in config()`);
  }

  // Defaults on a keeper given nothing but the URL: the same keys.
  const plain = keep(createKeeper({ laravelApiUrl: NOWHERE }));
  const defaults = plain.config();
  assert.deepEqual(CONFIG_KEYS.filter((k) => defaults[k] === undefined || defaults[k] === null), []);
  assert.notEqual(defaults.pendingSessionTimeout, 123_456);
  assert.equal(typeof defaults.seed, 'string');
});

// (f) logger ----------------------------------------------------------------------------------

test('logger: breaker opening is a warn line, a dead letter an error line, a refused socket event a warn line', async (t) => {
  const logger = recordingLogger();
  let answer = 500;
  const backend = await fakeBackend(() => ({ status: answer }));
  let keeper;
  t.after(async () => {
    if (keeper) await keeper.close();
    await backend.close();
  });
  const clock = fakeClock();
  keeper = createKeeper({
    laravelApiUrl: backend.url,
    logger,
    now: clock.now,
    syncSpacing: 0,
    maxAttempts: 5,
    retryBaseDelay: 1,
    retryMaxDelay: 5,
    circuitBreakerThreshold: 1,
    circuitBreakerResetTimeout: 1_000,
    pendingSessionTimeout: 60_000,
  });
  const breaker = [];
  keeper.on('breaker', (b) => breaker.push(b));
  const deadLetters = [];
  keeper.on('deadLetter', (d) => deadLetters.push(d));
  const warnings = [];
  keeper.on('warning', (w) => warnings.push(w));

  // 1. A 500 with threshold 1: the breaker opens.
  keeper.enqueue({ path: '/breaker-probe', payload: { n: 1 } });
  await waitFor(() => breaker.some((b) => b.to === 'OPEN'), 'the breaker to open');
  await waitLogged(logger, () => logger.find('warn', /OPEN|breaker|circuit/i), 'a warn line for the breaker opening');

  // 2. Back to CLOSED (the item, retried as the half-open probe, succeeds), then a 400: a
  // dead letter.
  answer = 200;
  clock.advance(1_000);
  keeper.tick();
  await waitFor(() => breaker.some((b) => b.to === 'CLOSED'), 'the breaker to close again');
  assert.equal(deadLetters.length, 0);
  const errorsBefore = logger.at('error').length;
  answer = 400;
  keeper.enqueue({ path: '/dead-letter-probe', payload: { n: 2 } });
  await waitFor(() => deadLetters.length > 0, 'the dead letter');
  await waitLogged(
    logger,
    () => logger.at('error').length > errorsBefore && logger.find('error', /dead|dead-letter-probe/i),
    'an error line for the dead letter',
  );

  // 3. A socket still reporting a QR after its session was removed: refused, a warn line.
  answer = 200;
  keeper.addSession('ghost-sock');
  const sock = fakeSocket();
  keeper.attachBaileys('ghost-sock', sock);
  sock.qr(qrString(1));
  assert.equal(keeper.cleanupPendingSessions({ olderThanMs: 0 }).count, 1, 'the pending session is removed');
  const warnsBefore = logger.at('warn').length;
  sock.qr(qrString(2));
  await flush();
  assert.ok(warnings.some((w) => w.sessionId === 'ghost-sock'), 'the refused event is a warning event');
  assert.ok(logger.at('warn').length > warnsBefore, `a warn line for the refused socket event: ${safeJson(logger.calls)}`);
  assert.ok(logger.find('warn', /ghost-sock|unknown session/i), 'the warn line names the session or the cause');

  // Every line: (object, message string).
  const bad = logger.calls.filter(([, args]) => !(args[0] !== null && typeof args[0] === 'object' && typeof args[1] === 'string'));
  assert.deepEqual(bad, [], 'logger methods receive (object, message-string)');
});

// (g) config errors ---------------------------------------------------------------------------

test('config errors: code Config, the key, and a message in JS words', () => {
  const err = thrown(() => createKeeper({ laravelApiUrl: NOWHERE, pendingSessionTimeout: '20' }), 'a string pendingSessionTimeout');
  assertKeeperError(err, 'Config');
  assert.equal(err.key, 'pendingSessionTimeout');
  assert.match(err.message, /pendingSessionTimeout/, 'names the key');
  assert.match(err.message, /"20"/, 'quotes the value');
  assert.match(err.message, /integer|number/i, 'says what type was expected');
  assert.doesNotMatch(err.message, /\b[ui](8|16|32|64|size)\b/, 'no Rust type names');
  assert.doesNotMatch(err.message, /invalid type: string/, "not serde's wording");
});

// (h) snapshot errors -------------------------------------------------------------------------

test('a statePath file containing {} fails with code Snapshot in plain words', async (t) => {
  const { dir, keep } = scratch(t);
  const statePath = path.join(dir, 'keeper.json');
  fs.writeFileSync(statePath, '{}');
  const err = thrown(() => keep(createKeeper({ laravelApiUrl: NOWHERE, statePath, autosaveInterval: 0 })), 'restoring {}');
  assertKeeperError(err, 'Snapshot');
  assert.ok(err.message.includes(statePath), `names the file: ${err.message}`);
  assert.match(err.message, /state file/i, `says what is wrong in plain words: ${err.message}`);
  assert.doesNotMatch(err.message, /missing field/, "not serde's wording");
  assert.doesNotMatch(err.message, /line \d+ column \d+/, "not serde's position");
  // The failed createKeeper holds no lock: the same error again, not Locked.
  assertKeeperError(thrown(() => keep(createKeeper({ laravelApiUrl: NOWHERE, statePath, autosaveInterval: 0 })), 'again'), 'Snapshot');
  assert.equal(fs.readFileSync(statePath, 'utf8'), '{}', 'the file is left as it was');
});
