'use strict';
// The statePath file: the core's snapshot, written atomically (tmp file + rename).

const fs = require('node:fs');
const path = require('node:path');
const { KeeperError } = require('./errors');

/** The snapshot text, or undefined when there is no file yet. */
function loadState(statePath) {
  try {
    return fs.readFileSync(statePath, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw new KeeperError('Snapshot', `sessionkeeper: cannot read state file ${statePath}: ${err.message}`, { cause: err });
  }
}

/** Writes `text` to `statePath` atomically: a crash leaves the old or the new file, never half. */
async function saveState(statePath, text) {
  const dir = path.dirname(statePath);
  await fs.promises.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(statePath)}.${process.pid}.${Date.now()}.tmp`);
  const handle = await fs.promises.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.promises.rename(tmp, statePath);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}

module.exports = { loadState, saveState };
