#!/usr/bin/env bash
# Builds the phone web app into a folder of static files (default app/web/dist):
# the wasm module (page and store worker), its JavaScript glue, the page, the web
# manifest and icons, and the service worker with this build's file list.
# Serve it with `sync-server --web DIR`. Needs the wasm32-unknown-unknown target,
# clang and wasm-bindgen-cli at the version in Cargo.lock (bash .ci/setup installs them).
# Usage: bash app/web/build.sh [--release] [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
profile=debug
flags=()
if [ "${1:-}" = "--release" ]; then
  # Cargo.toml's `web-release`: release, optimised as one unit, without debug lines.
  profile=web-release
  flags=(--profile web-release)
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
cp -r "$here/static/"* "$out/"

# The service worker keeps exactly this build: its file list, and a version that
# changes whenever a byte of it does.
cd "$out"
files="$(find . -type f ! -name sw.js | sed 's|^\./||' | LC_ALL=C sort)"
version="$(for f in $files; do sha256sum "$f"; done | sha256sum | cut -c1-16)"
list="$( { echo './'; echo "$files"; } | sed 's/.*/"&"/' | paste -sd, -)"
sed -i "s|__VERSION__|$version|; s|__FILES__|[$list]|" sw.js
# Compressed copies for the relay to send to browsers that take gzip.
gzip -9 -k -f pkg/aftercall_web_bg.wasm pkg/aftercall_web.js
echo "web build: $out (version $version)"
