#!/usr/bin/env bash
# The JS side from a fresh clone: build the wasm core into js-shim/wasm/, install js-shim's
# dev dependencies from its lockfile, run its node --test suite.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/build-wasm.sh

echo "== js-shim: npm ci"
cd js-shim
# Quiet, reproducible, no audit/fund chatter; install scripts of dev deps are not needed.
npm ci --no-audit --no-fund --ignore-scripts

echo "== js-shim: README table of the shim's options is up to date (from lib/options.js)"
node scripts/options-docs.mjs --check

echo "== js-shim: node --test"
node --test test/*.test.js
cd ..

echo "== js parity: the shipped package (js-shim + its wasm) against the native core"
traces="$(mktemp -d)"
trap 'rm -rf "$traces"' EXIT
cargo run -q -p sessionkeeper-tests --example js_traces -- "$traces" 1000
node tests/js-parity/replay.mjs tests/traces "$traces"
