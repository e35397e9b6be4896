#!/usr/bin/env bash
# Starts the Aftercall desktop app, installing the system libraries it builds
# against if they are missing (Debian/Ubuntu). Builds the command line `aftercall`
# and the window `aftercall-window` beside it, then runs `aftercall`, which with no
# subcommand opens the window. Extra arguments go to `aftercall`,
# e.g. `bash app/run.sh --data-dir /tmp/aftercall-demo`.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

packages=(libwebkit2gtk-4.1-dev libgtk-3-dev libxdo-dev libsoup-3.0-dev libssl-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing the libraries the app needs: ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

cd "$repo"
cargo build --release -p aftercall-app -p aftercall-window
exec "${CARGO_TARGET_DIR:-$repo/target}/release/aftercall" "$@"
