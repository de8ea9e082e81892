// ESM entry of sessionkeeper (the implementation is CommonJS).
import cjs from './index.js';

export const { createKeeper, SessionKeeper, normalizeUpdate, qrDataUrl, qrPng, qrSvg, sign, CONFIG_KEYS } = cjs;
export default cjs;
