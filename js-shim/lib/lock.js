'use strict';
// The `statePath` lock: one keeper per state file. Two gateways on one file (a rolling restart
// that starts the new process before the old one stopped) would each overwrite the other's
// state, so the second fails fast. `<statePath>.lock` holds the holder's pid and host; a lock
// whose process is gone (same host, pid not running) is taken over.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { KeeperError } = require('./errors');

/** Whether a process with this pid runs on this host (EPERM: it runs, as another user). */
function running(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function readHolder(lockPath) {
  try {
    const holder = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
    return holder && Number.isInteger(holder.pid) ? holder : null;
  } catch {
    return null;
  }
}

/** The locks this process holds: a lock naming this pid that is not among them was left by an
 * earlier process that had the same pid (a container restarted after a crash runs as pid 1). */
const HELD = new Set();

/** A lock file nobody could be writing any more: unreadable and older than this (ms). */
const UNREADABLE_GRACE = 10_000;

/**
 * Takes the lock of `statePath` or throws a KeeperError (`Locked`).
 * @param {string} statePath
 * @param {{ warn: Function }} log
 * @returns {() => void} release (idempotent; also runs when the process exits)
 */
function acquireLock(statePath, log) {
  const lockPath = `${statePath}.lock`;
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  const mine = { pid: process.pid, hostname: os.hostname(), at: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(lockPath, JSON.stringify(mine), { flag: 'wx', mode: 0o600 });
      break;
    } catch (err) {
      if (err.code !== 'EEXIST' || attempt >= 2) {
        throw new KeeperError('Locked', `sessionkeeper: cannot lock ${statePath}: ${err.message}`, { cause: err });
      }
    }
    const holder = readHolder(lockPath);
    if (holder === null) {
      let age = 0;
      try {
        age = Date.now() - fs.statSync(lockPath).mtimeMs;
      } catch {
        continue; // gone meanwhile: try again
      }
      if (age < UNREADABLE_GRACE) {
        throw new KeeperError('Locked', `sessionkeeper: ${statePath} is being locked by another keeper right now (${lockPath})`);
      }
    } else if (holder.hostname !== mine.hostname || (holder.pid === process.pid ? HELD.has(lockPath) : running(holder.pid))) {
      const where = holder.hostname === mine.hostname ? '' : ` on host ${holder.hostname}`;
      throw new KeeperError(
        'Locked',
        `sessionkeeper: ${statePath} is in use by another keeper (pid ${holder.pid}${where}, since ${holder.at}); ` +
          `stop it first, or delete ${lockPath} if that process is gone`,
      );
    }
    log.warn({ statePath, stale: holder }, 'taking over the lock of a keeper that is no longer running');
    fs.rmSync(lockPath, { force: true });
  }

  HELD.add(lockPath);
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    HELD.delete(lockPath);
    process.removeListener('exit', release);
    const holder = readHolder(lockPath);
    if (holder && holder.pid === mine.pid && holder.at === mine.at) fs.rmSync(lockPath, { force: true });
  };
  process.on('exit', release);
  return release;
}

module.exports = { acquireLock };
