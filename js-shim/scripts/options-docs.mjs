// Writes the README's table of the shim's own options from `SHIM_OPTIONS` (lib/options.js),
// between its markers; `--check` writes nothing and fails when the table is stale. The core's
// options have their own table, generated from the core (tests/examples/config_docs.rs).
//
//   node scripts/options-docs.mjs [--check]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const { SHIM_OPTIONS } = createRequire(import.meta.url)(path.join(root, 'lib', 'options.js'));
const START = '<!-- shim-options:start -->';
const END = '<!-- shim-options:end -->';

const table = [
  '| option | type | default | meaning |',
  '| --- | --- | --- | --- |',
  ...SHIM_OPTIONS.map((o) => `| \`${o.name}\` | \`${o.type.replace(/\|/g, '\\|')}\` | ${o.default} | ${o.meaning} |`),
].join('\n');

const readme = path.join(root, 'README.md');
const text = fs.readFileSync(readme, 'utf8');
const a = text.indexOf(START);
const b = text.indexOf(END);
if (a < 0 || b < a) {
  console.error(`options-docs: markers ${START} / ${END} missing in README.md`);
  process.exit(1);
}
const fresh = `${text.slice(0, a + START.length)}\n${table}\n${text.slice(b)}`;
if (fresh === text) process.exit(0);
if (process.argv.includes('--check')) {
  console.error('options-docs: README.md table of shim options is stale; run `node js-shim/scripts/options-docs.mjs`');
  process.exit(1);
}
fs.writeFileSync(readme, fresh);
console.error('options-docs: wrote README.md');
