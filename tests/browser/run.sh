#!/usr/bin/env bash
# Builds the app (`aftercall` and the window `aftercall-window` beside it) and the relay
# and runs the browser end-to-end tests (liveview in Debian's Chromium at 390×844 and
# 1280×800), the desktop smoke test under Xvfb, and the phone web app's tests (built
# with app/web/build.sh into $CARGO_TARGET_DIR/web-dist).
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
# The phone web app, when its tools are here (bash .ci/setup installs them).
web_tests=()
if [ -z "${AFTERCALL_WEB_DIR:-}" ]; then
  export AFTERCALL_WEB_DIR="$target/web-dist"
  built=0
  bash app/web/build.sh "$AFTERCALL_WEB_DIR" || built=$?
  case "$built" in
    0) web_tests=(web.test.mjs) ;;
    # Exit status 2: a tool is missing (the build says which); anything else is a failure.
    2) echo "NOT RUN: the phone web app's tests (its build needs the wasm32 target and wasm-bindgen-cli)" ;;
    *) exit "$built" ;;
  esac
elif [ -f "$AFTERCALL_WEB_DIR/index.html" ]; then
  web_tests=(web.test.mjs)
fi
cd "$here"
if [ ! -d node_modules/playwright-core ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi
if [ "$#" -gt 0 ]; then
  exec node --test --test-concurrency=1 "$@"
fi
exec node --test --test-concurrency=1 app.test.mjs typing.test.mjs twodevice.test.mjs desktop.test.mjs "${web_tests[@]}"
