// ESM entry of sessionkeeper (the implementation is CommonJS: one module instance, so classes such
// as KeeperError are the same object for `import` and `require`).
import cjs from './index.js';

export const {
  createKeeper,
  SessionKeeper,
  KeeperError,
  normalizeUpdate,
  qrDataUrl,
  qrPng,
  qrSvg,
  sign,
  CONFIG_KEYS,
} = cjs;
export default cjs;
