#!/usr/bin/env bash
# Screenshots of the web client for the README (desktop, light desktop, phone width), made in
# headless Chromium. Needs chromium and chromium-driver (Debian: apt-get install chromium
# chromium-driver). Writes docs/screenshots/web-*.png.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet -p palaver-server --example screenshots -- docs/screenshots
