#!/usr/bin/env bash
# Installs what is missing, then starts the Reel desktop app. With no display it says so and
# shows the command-line equivalent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  cargo build --release -p reel-cli --locked
  cat >&2 <<TXT
No display found, so the desktop app cannot open a window.
The command line does the same work; for example, a 10 s recording with the test pattern and tone:
  target/release/reel record --camera synthetic --mic tone --duration 10 --output hello.mp4
and with your own camera and microphone:
  target/release/reel devices
  target/release/reel record --camera 0 --mic default --output hello.mp4
Under a virtual display:  xvfb-run -a scripts/app.sh
TXT
  exit 0
fi
exec cargo run --release -p reel-desktop --locked
