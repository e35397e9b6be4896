#!/usr/bin/env bash
# Builds the phone web app into a folder of static files (default app/web/dist):
# the wasm module (page and store worker), its JavaScript glue, and the page.
# Serve it with `sync-server --web DIR`. Needs the wasm32-unknown-unknown target,
# clang and wasm-bindgen-cli at the version in Cargo.lock (bash .ci/setup installs them).
# Usage: bash app/web/build.sh [--release] [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
profile=debug
flags=()
if [ "${1:-}" = "--release" ]; then
  profile=release
  flags=(--release)
  shift
fi
out="${1:-$here/dist}"
target="${CARGO_TARGET_DIR:-$repo/target}"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "web build: the wasm32-unknown-unknown target is not installed (bash .ci/setup adds it)" >&2
  exit 2
fi
want="$(grep -A1 '^name = "wasm-bindgen"$' "$repo/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')"
if [ "$have" != "$want" ]; then
  echo "web build: wasm-bindgen-cli $want is needed (found '${have:-none}'; bash .ci/setup installs it)" >&2
  exit 2
fi

cd "$repo"
CC_wasm32_unknown_unknown="${CC_wasm32_unknown_unknown:-clang}" \
  cargo build "${flags[@]}" -p aftercall-web --lib --target wasm32-unknown-unknown
rm -rf "$out"
mkdir -p "$out/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$out/pkg" \
  "$target/wasm32-unknown-unknown/$profile/aftercall_web.wasm"
cp "$here/static/"* "$out/"
echo "web build: $out"
