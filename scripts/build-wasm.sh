#!/usr/bin/env bash
# Builds the wasm core into js-shim/wasm/ (shipped inside the `sessionkeeper` npm package).
# One command, from a fresh clone: adds the wasm32 target, installs the wasm-bindgen CLI of the
# exact version the crate pins (unless already installed), builds, generates the nodejs glue.
# Works with any CARGO_TARGET_DIR (the target dir is asked from cargo metadata).
set -euo pipefail
cd "$(dirname "$0")/.."

# The CLI must be the exact version of the `wasm-bindgen` crate pinned in wasm-pkg/Cargo.toml.
version="$(sed -n 's/^wasm-bindgen *= *"=\([0-9.]*\)".*/\1/p' wasm-pkg/Cargo.toml)"
if [ -z "$version" ]; then
  echo "build-wasm: wasm-pkg/Cargo.toml must pin wasm-bindgen exactly (\"=X.Y.Z\")" >&2
  exit 1
fi

echo "== build-wasm: wasm32 target"
rustup target add wasm32-unknown-unknown

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$cargo_bin:$PATH"
installed="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$installed" != "$version" ]; then
  echo "== build-wasm: installing wasm-bindgen-cli $version (found: ${installed:-none})"
  # Not --locked: one dependency locked by the CLI's lockfile is missing from the registry.
  cargo install wasm-bindgen-cli --version "$version"
fi

echo "== build-wasm: cargo build (wasm32-unknown-unknown, profile wasm-release)"
cargo build -p sessionkeeper-wasm --target wasm32-unknown-unknown --profile wasm-release

target_dir="$(cargo metadata --format-version 1 --no-deps \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
wasm="$target_dir/wasm32-unknown-unknown/wasm-release/sessionkeeper_wasm.wasm"
[ -f "$wasm" ] || { echo "build-wasm: $wasm not found" >&2; exit 1; }

echo "== build-wasm: wasm-bindgen --target nodejs -> js-shim/wasm/"
out="js-shim/wasm"
tmp="$(mktemp -d js-shim/.wasm-build.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
# No name or producers sections: they are debugging aids a user never loads.
wasm-bindgen --target nodejs --remove-name-section --remove-producers-section --out-dir "$tmp" "$wasm"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
ls -l "$out"
