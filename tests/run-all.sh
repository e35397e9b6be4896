#!/usr/bin/env bash
# Runs every test of the project: installs what the tests need (idempotently),
# then the Rust tests of every crate, the mobile build check, and the browser and
# desktop end-to-end tests.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

bash .ci/setup

echo "== Rust tests (every crate)"
cargo test --workspace --no-fail-fast

echo "== The mobile build compiles on this host"
cargo check -p aftercall-app --no-default-features --features mobile

echo "== The screens compile for the browser (wasm32-unknown-unknown)"
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  cargo check -p aftercall-app --lib --target wasm32-unknown-unknown
else
  echo "NOT RUN: the wasm32-unknown-unknown target is not installed (see .ci/setup's message)"
fi

if [ -x tests/browser/run.sh ]; then
  echo "== Browser and desktop end-to-end tests"
  bash tests/browser/run.sh
fi
