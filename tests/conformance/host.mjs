// The host edge: the real `sessionkeeper serve` binary as a child process, on port 0 (it prints
// "sessionkeeper listening on http://ADDR ..." once bound), with a fresh data directory. Stopped
// by pid: SIGTERM (graceful), SIGKILL if it lingers, and SIGKILL from an exit handler should the
// suite itself die first.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { SHARED } from './config.mjs';

const LISTENING = /sessionkeeper listening on (http:\/\/\S+)/;

/**
 * @param {string} bin path of the `sessionkeeper` binary
 * @param {string} backendUrl
 * @returns {Promise<{base: string, pid: number, stop: () => Promise<void>, log: () => string}>}
 */
export async function startHost(bin, backendUrl) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sk-conformance-host-'));
  const args = ['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--laravel-api-url', backendUrl];
  for (const [k, v] of Object.entries(SHARED)) args.push('--set', `${k}=${v}`);
  // Only this suite's settings: an SK_* variable of the caller's shell must not change the host.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SK_')));
  env.RUST_LOG = env.RUST_LOG || 'warn';
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // Interrupted: the host goes down with the suite, not orphaned.
  const interrupted = (signal) => {
    kill();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', kill);
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not report its address in 30 s:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk;
      const m = LISTENING.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ''));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => {
      output += c;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`host exited (${signal || code}) before listening:\n${output}`));
    });
  });

  let base;
  try {
    base = await started;
  } catch (err) {
    kill();
    process.off('exit', kill);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const late = setTimeout(kill, 5_000);
      await exited;
      clearTimeout(late);
    }
    process.off('exit', kill);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  return { base, pid: child.pid, stop, log: () => output };
}
