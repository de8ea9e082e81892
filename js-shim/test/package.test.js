'use strict';
// The package as users get it: what `npm pack` ships, the tarball installed into empty CJS and ESM
// projects (runtime and TypeScript in every resolution mode), attw's verdict, and the typed
// Baileys gateway in test/types. Nothing listens; the keepers made here point at 127.0.0.1:9.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'node_modules', '.bin');
const TSC = path.join(BIN, 'tsc');
const ATTW = path.join(BIN, 'attw');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const EXPORTS = [
  'CONFIG_KEYS', 'KeeperError', 'SessionKeeper', 'createKeeper', 'normalizeUpdate', 'qrDataUrl',
  'qrPng', 'qrSvg', 'sign',
];

// Child npm must not inherit the lifecycle variables of an `npm test` around us (local prefix,
// package path): they would point it back at js-shim. Cache, registry and user config stay.
const KEEP_NPM = /^npm_config_(cache|registry|userconfig|globalconfig)$/i;
const ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) || KEEP_NPM.test(k)));

/** Runs a command; resolves with its exit code and output (a non-zero exit is not a rejection). */
function run(cmd, args, cwd, timeout = 120_000) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: ENV, timeout, maxBuffer: 64 << 20, shell: process.platform === 'win32' },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? err.code : 0, stdout, stderr, output: `${stdout}\n${stderr}`.trim() });
      });
  });
}

/** Starts work now, awaited by a test later; a failure is reported there, not as unhandled. */
function early(promise) {
  promise.catch(() => {});
  return promise;
}

let tmp;
let pack;
let tarball;
let probes;
let tscRuns;
let attw;
let typesGateway;

// Loaded by both projects' probe scripts with the CJS and the ESM view of the installed package.
// Each step is reported on its own, so a failure names the part of the API it concerns.
const PROBE = `'use strict';
module.exports = async function probe(c, e) {
  const out = {};
  const step = async (name, fn) => {
    try { out[name] = { ok: true, value: await fn() }; }
    catch (err) { out[name] = { ok: false, error: String((err && err.stack) || err) }; }
  };
  await step('names', () => ({
    cjs: Object.keys(c).sort(),
    esm: Object.keys(e).filter((k) => k !== 'default').sort(),
    defaultIsCjs: e.default === c,
  }));
  await step('keeper', async () => {
    const k = c.createKeeper({ laravelApiUrl: 'http://127.0.0.1:9' });
    const status = k.health().status;
    k.addSession('u1');
    const has = k.hasSession('u1');
    await k.close();
    return { status, has };
  });
  await step('keeperError', () => {
    const err = new e.KeeperError('Closed', 'probe');
    return {
      sameClass: e.KeeperError === c.KeeperError,
      instanceofCjs: err instanceof c.KeeperError,
      instanceofError: err instanceof Error,
      name: err.name,
    };
  });
  await step('newApi', async () => {
    const k = e.createKeeper({ laravelApiUrl: 'http://127.0.0.1:9', laravelApiToken: 'secret-token' });
    const started = k.start() === k;
    const first = k.ensureSession('u1');
    const second = k.ensureSession('u1');
    let exists;
    try { k.addSession('u1'); } catch (err) { exists = { cjs: err instanceof c.KeeperError, esm: err instanceof e.KeeperError, code: err.code }; }
    const cfg = k.config();
    await k.close();
    let closed;
    try { k.sessions(); } catch (err) { closed = { cjs: err instanceof c.KeeperError, esm: err instanceof e.KeeperError, code: err.code, status: err.status }; }
    return {
      started, first, second, exists, closed,
      url: cfg.laravelApiUrl, seed: typeof cfg.seed, spacing: cfg.syncSpacing,
      secrets: JSON.stringify(cfg).includes('secret-token'),
    };
  });
  return out;
};
`;
const PROBE_CJS = `'use strict';
const c = require('sessionkeeper');
import('sessionkeeper')
  .then((e) => require('./probe.cjs')(c, e))
  .then((out) => console.log('PROBE ' + JSON.stringify(out)));
`;
const PROBE_ESM = `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const c = require('sessionkeeper');
const e = await import('sessionkeeper');
const out = await require('./probe.cjs')(c, e);
console.log('PROBE ' + JSON.stringify(out));
`;

// The same use of the API under every resolution mode; `head` is the mode's way to import it.
// Checking @types/node costs ~10 s of CPU per run, so only the nodenext ESM run (which loads all
// three of our declaration files) checks the .d.ts files themselves; the others skip lib checks
// and rely on the `@ts-expect-error` lines to notice a type that silently became `any`.
const TS_BODY = `
const keeper = createKeeper({ laravelApiUrl: "http://127.0.0.1:9", logger: console });
keeper.start().on("command", (e: CommandEvent) => {
  const type: "close" | "reconnect" = e.type;
  void type;
});
export const added: boolean = keeper.ensureSession("u1");
const update: ConnectionUpdate = { connection: "close", lastDisconnect: { error: new Error("x"), date: new Date() } };
keeper.connectionUpdate("u1", update);
try {
  keeper.addSession("u1");
} catch (err) {
  if (err instanceof KeeperError && err.code === "SessionExists") {
    const status: number | undefined = err.status;
    void status;
  }
}
export const seed: string = keeper.config().seed;
// @ts-expect-error the types are not \`any\`: "opened" is not a connection state
keeper.connectionUpdate("u1", { connection: "opened" });
`;
// `sk` is the whole module (ESM default / `import = require`): typed, not `any`, in every mode.
const TS_SK = `// @ts-expect-error laravelApiUrl is required
sk.createKeeper({});
`;
const TS_HEAD_ESM = `import sk, { createKeeper, KeeperError, type CommandEvent, type ConnectionUpdate } from "sessionkeeper";
export const viaDefault: typeof createKeeper = sk.createKeeper;
${TS_SK}`;
const TS_HEAD_CJS = `import { createKeeper, KeeperError, type CommandEvent, type ConnectionUpdate } from "sessionkeeper";
import sk = require("sessionkeeper");
export const viaRequire: typeof createKeeper = sk.createKeeper;
${TS_SK}`;
const TS_MODES = [
  { name: 'nodenext, ESM project', project: 'esm', file: 'nodenext.ts', head: TS_HEAD_ESM, flags: ['--module', 'nodenext', '--moduleResolution', 'nodenext'], types: 'index.d.mts', libCheck: true },
  { name: 'nodenext, CJS project', project: 'cjs', file: 'nodenext.ts', head: TS_HEAD_CJS, flags: ['--module', 'nodenext', '--moduleResolution', 'nodenext'], types: 'index.d.ts' },
  { name: 'node10 (module commonjs)', project: 'cjs', file: 'node10.ts', head: TS_HEAD_CJS, flags: ['--module', 'commonjs', '--moduleResolution', 'node10'], types: 'index.d.ts' },
  { name: 'bundler (module esnext)', project: 'esm', file: 'bundler.ts', head: TS_HEAD_ESM, flags: ['--module', 'esnext', '--moduleResolution', 'bundler'], types: 'index.d.mts' },
];

async function install(dir, manifest, probeName, probeSource) {
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  // No runtime dependencies: the tarball installs from disk alone.
  const r = await run(NPM, ['install', '--no-audit', '--no-fund', '--offline', '--ignore-scripts', tarball], dir);
  if (r.code !== 0) throw new Error(`npm install in ${dir} failed:\n${r.output}`);
  fs.writeFileSync(path.join(dir, 'probe.cjs'), PROBE);
  fs.writeFileSync(path.join(dir, probeName), probeSource);
  return dir;
}

async function probe(dir, script) {
  const r = await run(process.execPath, [script], dir, 30_000);
  assert.equal(r.code, 0, `node ${script} exited ${r.code} (a keeper left running would time out):\n${r.output}`);
  const line = r.stdout.split('\n').find((l) => l.startsWith('PROBE '));
  assert.ok(line, `no probe result:\n${r.output}`);
  return JSON.parse(line.slice('PROBE '.length));
}

function tsc(mode) {
  const dir = path.join(tmp, mode.project);
  fs.writeFileSync(path.join(dir, mode.file), mode.head + TS_BODY);
  return run(TSC, [
    '--noEmit', '--strict', '--target', 'es2022', '--lib', 'es2022', ...mode.flags,
    '--types', 'node', '--typeRoots', path.join(ROOT, 'node_modules', '@types'), '--listFiles',
    ...(mode.libCheck ? [] : ['--skipLibCheck']), mode.file,
  ], dir);
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sessionkeeper-pack-'));
  // Independent of the tarball: start it first.
  typesGateway = early(run(TSC, ['--noEmit', '-p', path.join('test', 'types')], ROOT));
  const r = await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT);
  assert.equal(r.code, 0, `npm pack failed:\n${r.output}`);
  pack = JSON.parse(r.stdout)[0];
  tarball = path.join(tmp, pack.filename);
  attw = early(run(ATTW, [tarball, '--format', 'json'], tmp));
  const installed = {
    esm: early(install(path.join(tmp, 'esm'), { name: 'esm-app', private: true, type: 'module' }, 'probe.js', PROBE_ESM)),
    cjs: early(install(path.join(tmp, 'cjs'), { name: 'cjs-app', private: true }, 'probe.js', PROBE_CJS)),
  };
  // Each check settles on its own, so one failure does not hide the others' results.
  probes = ['esm', 'cjs'].map((p) => early(installed[p].then((dir) => probe(dir, 'probe.js'))));
  tscRuns = TS_MODES.map((mode) => early(installed[mode.project].then(() => tsc(mode))));
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the tarball ships the licenses, README, wasm, both declarations and the example, nothing else', (t) => {
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  t.diagnostic(`${pack.filename}: packed ${kib(pack.size)}, unpacked ${kib(pack.unpackedSize)}, ${pack.entryCount} files`);
  const files = pack.files.map((f) => f.path.replace(/\\/g, '/'));
  for (const f of [
    'package.json', 'README.md', 'LICENSE-MIT', 'LICENSE-APACHE', 'index.js', 'index.mjs', 'index.d.ts',
    'index.d.mts', 'lib/keeper.js', 'wasm/sessionkeeper_wasm.js', 'wasm/sessionkeeper_wasm.d.ts',
    'wasm/sessionkeeper_wasm_bg.wasm',
  ]) {
    assert.ok(files.includes(f), `${f} missing from the tarball: ${files.join(', ')}`);
  }
  assert.ok(files.some((f) => f.startsWith('examples/gateway/')), `no examples/gateway/ in ${files.join(', ')}`);
  const stray = files.filter((f) =>
    /^(test|bench)\//.test(f) || /(^|\/)node_modules\//.test(f) || /(^|\/)(auth|data)\//.test(f) ||
    /\.(tgz|lock|tmp)$/.test(f));
  assert.deepEqual(stray, []);
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(manifest.license, 'MIT OR Apache-2.0');
});

test('require and import export the same names; the ESM default is the CJS module', async () => {
  const [esm, cjs] = await Promise.all(probes);
  for (const out of [esm, cjs]) {
    assert.ok(out.names.ok, out.names.error);
    assert.deepEqual(out.names.value.cjs, EXPORTS);
    assert.deepEqual(out.names.value.esm, EXPORTS);
    assert.equal(out.names.value.defaultIsCjs, true);
  }
});

test('createKeeper works and closes from the installed package (both projects)', async () => {
  const [esm, cjs] = await Promise.all(probes);
  for (const out of [esm, cjs]) {
    assert.ok(out.keeper.ok, out.keeper.error);
    assert.deepEqual(out.keeper.value, { status: 'ok', has: true });
  }
});

test('KeeperError is one class for require and import', async () => {
  const [esm, cjs] = await Promise.all(probes);
  for (const out of [esm, cjs]) {
    assert.ok(out.keeperError.ok, out.keeperError.error);
    assert.deepEqual(out.keeperError.value, { sameClass: true, instanceofCjs: true, instanceofError: true, name: 'KeeperError' });
  }
});

test('start, ensureSession, config and the closed keeper, from the installed package', async () => {
  const [esm, cjs] = await Promise.all(probes);
  for (const out of [esm, cjs]) {
    assert.ok(out.newApi.ok, out.newApi.error);
    assert.deepEqual(out.newApi.value, {
      started: true, first: true, second: false,
      exists: { cjs: true, esm: true, code: 'SessionExists' },
      closed: { cjs: true, esm: true, code: 'Closed', status: 503 },
      url: 'http://127.0.0.1:9', seed: 'string', spacing: 400, secrets: false,
    });
  }
});

for (const [i, mode] of TS_MODES.entries()) {
  test(`tsc --strict against the installed package: ${mode.name}`, async () => {
    const r = await tscRuns[i];
    assert.equal(r.code, 0, `tsc failed:\n${r.output}`);
    const ours = r.stdout.split('\n').map((l) => l.trim().replace(/\\/g, '/')).filter((l) => l.includes('/node_modules/sessionkeeper/'));
    assert.ok(ours.some((l) => l.endsWith(`/node_modules/sessionkeeper/${mode.types}`)), `expected ${mode.types} in:\n${ours.join('\n')}`);
    if (mode.types === 'index.d.ts') assert.ok(!ours.some((l) => l.endsWith('.d.mts')), ours.join('\n'));
  });
}

test('attw finds no problem in the tarball', async () => {
  const r = await attw;
  let report;
  try {
    report = JSON.parse(r.stdout);
  } catch {
    assert.fail(`attw printed no JSON (exit ${r.code}):\n${r.output}`);
  }
  assert.deepEqual(report.analysis.problems, []);
  assert.equal(r.code, 0, r.output);
  const resolved = Object.fromEntries(Object.entries(report.analysis.entrypoints['.'].resolutions)
    .map(([kind, res]) => [kind, path.posix.basename(res.resolution.fileName)]));
  assert.deepEqual(resolved, { node10: 'index.d.ts', 'node16-cjs': 'index.d.ts', 'node16-esm': 'index.d.mts', bundler: 'index.d.mts' });
});

test('the typed Baileys gateway in test/types compiles (strict), and its must-fail lines do fail', async () => {
  const r = await typesGateway;
  assert.equal(r.code, 0, `tsc -p test/types failed:\n${r.output}`);
});
