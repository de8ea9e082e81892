'use strict';
// Loads the generated wasm package (scripts/build-wasm.sh writes it into ../wasm/).

let wasm;
try {
  wasm = require('../wasm/sessionkeeper_wasm.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && /sessionkeeper_wasm/.test(err.message)) {
    throw new Error(
      'sessionkeeper: the wasm core is not built; run `bash scripts/build-wasm.sh` in the repository',
    );
  }
  throw err;
}

module.exports = wasm;
