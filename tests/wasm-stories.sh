#!/usr/bin/env bash
# Runs the domain's store and search stories (shared/src/tests) on wasm: built for
# wasm32-unknown-unknown and run by wasm-bindgen-test-runner in headless Chromium
# (through chromedriver; shared/webdriver.json gives its flags), in a dedicated
# worker. Exits 2 when a tool is missing (bash .ci/setup installs them).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
for tool in wasm-bindgen-test-runner chromedriver clang; do
  if ! command -v "$tool" >/dev/null; then
    echo "wasm stories: $tool is not installed (bash .ci/setup installs it)" >&2
    exit 2
  fi
done
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "wasm stories: the wasm32-unknown-unknown target is not installed (bash .ci/setup adds it)" >&2
  exit 2
fi
export CC_wasm32_unknown_unknown="${CC_wasm32_unknown_unknown:-clang}"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}"
exec cargo test -p aftercall-shared --features device --target wasm32-unknown-unknown --lib "$@"
