#!/usr/bin/env bash
# Runs every test of the project: installs what the tests need (idempotently),
# then the Rust tests of every crate, the mobile build check, the phone web app's
# build, and the browser, desktop and web app end-to-end tests.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

bash .ci/setup

echo "== Rust tests (every crate)"
cargo test --workspace --no-fail-fast

echo "== The benchmarks compile (they run with cargo bench; see README)"
cargo build --workspace --benches

echo "== The mobile build compiles on this host"
cargo check -p aftercall-app --no-default-features --features mobile

echo "== The phone web app builds: the screens and the store for wasm32-unknown-unknown"
web_dist="${CARGO_TARGET_DIR:-$repo/target}/web-dist"
built=0
bash app/web/build.sh "$web_dist" || built=$?
case "$built" in
  0) export AFTERCALL_WEB_DIR="$web_dist" ;;
  2) echo "NOT RUN: the web build (see the line above and .ci/setup's message)" ;;
  *) exit "$built" ;;
esac

if [ -x tests/browser/run.sh ]; then
  echo "== Browser and desktop end-to-end tests"
  bash tests/browser/run.sh
fi
