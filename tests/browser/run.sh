#!/usr/bin/env bash
# Builds the app (`aftercall` and the window `aftercall-window` beside it) and the relay
# and runs the browser end-to-end tests (liveview in Debian's Chromium at 390×844 and
# 1280×800) and the desktop smoke test under Xvfb.
# Usage: tests/browser/run.sh [node --test options or test files]
# Screenshots land in tests/browser/screenshots/. Run .ci/setup once first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"
cargo build -p aftercall-app -p aftercall-window
cargo build -p aftercall-sync-server
target="${CARGO_TARGET_DIR:-$repo/target}"
export AFTERCALL_BIN="${AFTERCALL_BIN:-$target/debug/aftercall}"
cd "$here"
if [ ! -d node_modules/playwright-core ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
if [ "$#" -gt 0 ]; then
  exec node --test --test-concurrency=1 "$@"
fi
exec node --test --test-concurrency=1 app.test.mjs typing.test.mjs twodevice.test.mjs desktop.test.mjs
