// Types of the ESM entry (index.mjs re-exports the CommonJS implementation). Re-exporting the CJS
// declarations keeps one `KeeperError` / `SessionKeeper` type for `import` and `require` alike.
export * from "./index.js";
import cjs from "./index.js";
export default cjs;
