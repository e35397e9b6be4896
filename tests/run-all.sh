#!/usr/bin/env bash
# Runs every test of the project: installs what the tests need (idempotently),
# then the Rust tests of every crate, the mobile build check, the phone web app's
# build, the domain's stories on wasm, and the browser, desktop and web app
# end-to-end tests.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
# Each step says when it started, so a slow run shows where its time went.
step() { echo "== $(date -u +%H:%M:%S) $*"; }

bash .ci/setup

step "Rust tests (every crate)"
cargo test --workspace --no-fail-fast

step "The benchmarks compile (they run with cargo bench; see README)"
cargo build --workspace --benches

step "The mobile build compiles on this host"
cargo check -p aftercall-app --no-default-features --features mobile

step "The phone web app builds: the screens and the store for wasm32-unknown-unknown"
web_dist="${CARGO_TARGET_DIR:-$repo/target}/web-dist"
built=0
bash app/web/build.sh "$web_dist" || built=$?
case "$built" in
  0) export AFTERCALL_WEB_DIR="$web_dist" ;;
  2) echo "NOT RUN: the web build (see the line above and .ci/setup's message)" ;;
  *) exit "$built" ;;
esac

step "The domain's stories on wasm, in a worker in headless Chromium"
ran=0
bash tests/wasm-stories.sh || ran=$?
case "$ran" in
  0) ;;
  2) echo "NOT RUN: the domain's stories on wasm (see the line above and .ci/setup's message)" ;;
  *) exit "$ran" ;;
esac

if [ -x tests/browser/run.sh ]; then
  step "Browser and desktop end-to-end tests"
  bash tests/browser/run.sh
fi
