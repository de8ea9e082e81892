#!/usr/bin/env bash
# Runs every test from a fresh clone. Sets up what it needs by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== setup: wasm32 target"
rustup target add wasm32-unknown-unknown

echo "== setup: promtool (Debian package prometheus), Prometheus' own metrics linter"
if ! command -v promtool >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends prometheus >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends prometheus >/dev/null; }
fi

echo "== fmt + clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== core builds for wasm32 and stays pure"
cargo check -p sessionkeeper-core --target wasm32-unknown-unknown
banned=$(cargo tree -p sessionkeeper-core -e normal --prefix none --target all \
  | grep -E '^(tokio|reqwest|wasm-bindgen|js-sys|getrandom) ' || true)
if [ -n "$banned" ]; then
  echo "core must not depend on: $banned" >&2
  exit 1
fi

echo "== rust tests"
PROPTEST_CASES="${PROPTEST_CASES:-1000}" cargo test --workspace

echo "== generated docs and types are up to date (from the core's config key list)"
cargo run -q -p sessionkeeper-tests --example config_docs -- --check

echo "== js: wasm build + js-shim tests (node --test) + the shipped package replays the traces"
bash scripts/ci/js.sh

echo "== edge conformance: the host binary and the npm handler() answer alike (promtool included)"
cargo build -q -p sessionkeeper-host
SK_REQUIRE_PROMTOOL=1 node tests/conformance/run.mjs

echo "== soak, short: the host binary against a flapping backend and squatting connections; nothing acknowledged is lost"
cargo bench -q --profile dev -p sessionkeeper-host --bench soak -- --minutes 2 --rate 200 --sessions 200

echo "== sim smoke run"
cargo run -q -p sessionkeeper-sim -- --users 200 --hours 2 --json > /dev/null
