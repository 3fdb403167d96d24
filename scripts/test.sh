#!/usr/bin/env bash
# Installs what is missing, builds everything (the CLI and the desktop app), and runs every test:
# unit tests, then the end-to-end tests one at a time (they record in real time, and two 720p
# encodes at once on a 2-core machine would measure the machine, not Reel).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
# What review asks of every change: formatted, no clippy warnings, documentation that builds.
cargo fmt --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
cargo build --workspace --bins --locked
cargo test --workspace --exclude reel-tests --locked
cargo test -p reel-tests --locked -- --test-threads=1
