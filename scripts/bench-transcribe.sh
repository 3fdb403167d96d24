#!/usr/bin/env bash
# Transcription speed, memory and accuracy of Reel beside faster-whisper (its peer: the same
# CTranslate2 engine and model files) in the same run. Makes a Python environment for the peer
# under target/ (pinned faster-whisper from PyPI), then runs `reel bench transcribe`.
# Usage: scripts/bench-transcribe.sh [MINUTES] (needs: cargo build --release -p reel-cli)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x target/release/reel ] || { echo "build first: cargo build --release -p reel-cli" >&2; exit 1; }
venv=target/bench-venv
[ -x $venv/bin/python ] || python3 -m venv $venv
$venv/bin/python -c 'import faster_whisper, requests' 2>/dev/null || $venv/bin/pip install -q faster-whisper==1.1.1 requests
target/release/reel bench transcribe --minutes "${1:-10}" --python $venv/bin/python
