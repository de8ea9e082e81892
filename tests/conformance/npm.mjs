// The npm edge: `createKeeper` from js-shim (the wasm core) with the shared configuration, and a
// node:http server on 127.0.0.1:0 around `keeper.handler()` alone (no `next`: what it does not
// serve answers as a standalone handler would).

import http from 'node:http';
import { createRequire } from 'node:module';

import { SHARED } from './config.mjs';

const require = createRequire(import.meta.url);

/**
 * @param {string} backendUrl
 * @returns {Promise<{base: string, keeper: object, stop: () => Promise<void>}>}
 */
export async function startNpm(backendUrl) {
  const { createKeeper } = require('../../js-shim');
  const keeper = createKeeper({ ...SHARED, laravelApiUrl: backendUrl });
  // Refused inputs on paths that cannot throw (delivery results) must not go unseen.
  const warnings = [];
  keeper.on('warning', (w) => warnings.push(w));
  const handle = keeper.handler();
  const server = http.createServer((req, res) => handle(req, res));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    keeper,
    warnings,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await keeper.close();
    },
  };
}
