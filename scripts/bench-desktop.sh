#!/usr/bin/env bash
# Desktop app figures under Xvfb (prints; asserts nothing): cold start to the first preview
# frame, preview latency (request → composed → JPEG → decoded in the webview), CPU while
# previewing and while idle on the library view (no polling: should be near zero), and memory
# (app + WebKit processes) after MINUTES of live preview.
# Usage: scripts/bench-desktop.sh [MINUTES] [BINARY]   (default 30, target/release/reel-desktop)
# With CAMERA=1 the app sees the test camera (tests/fakecam, MJPEG 1280x720 at 30 fps) and
# previews it instead of the demo pattern.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
app=$(realpath "${2:-target/release/reel-desktop}")
[ -x "$app" ] || { echo "build first: cargo build --release -p reel-desktop" >&2; exit 1; }
work=$(mktemp -d); disp=:97; port=4797
if [ "${CAMERA:-0}" = 1 ]; then
  cc -O2 -shared -fPIC -o "$work/libfakecam.so" tests/fakecam/fakecam.c -ldl -lpthread -ljpeg
  printf '#!/bin/sh\nexport LD_PRELOAD=%s REEL_FAKECAM_FORMATS=mjpeg REEL_FAKECAM_SIZES=1280x720 REEL_FAKECAM_FPS=30\nexec %s "$@"\n' "$work/libfakecam.so" "$app" > "$work/app.sh"
  chmod +x "$work/app.sh"; app="$work/app.sh"
fi
Xvfb $disp -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & xpid=$!
trap 'kill $dpid $xpid 2>/dev/null; rm -rf "$work"' EXIT
sleep 1
DISPLAY=$disp TAURI_WEBVIEW_AUTOMATION=true REEL_LIBRARY="$work/lib" REEL_STATE_DIR="$work/state" HOME="$work" \
  WebKitWebDriver --port=$port > "$work/driver.log" 2>&1 & dpid=$!
for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/status" >/dev/null && break; sleep 0.1; done
sid=$(curl -s -X POST -H 'content-type: application/json' "http://127.0.0.1:$port/session" \
  -d "{\"capabilities\":{\"alwaysMatch\":{\"webkitgtk:browserOptions\":{\"binary\":\"$app\",\"args\":[]}}}}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"]["sessionId"])')
js() { curl -s -X POST -H 'content-type: application/json' "http://127.0.0.1:$port/session/$sid/execute/sync" -d "{\"script\":\"$1\",\"args\":[]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])'; }
# The app and its WebKit processes: every descendant of this run's driver, nothing else.
pids() { local all=" $dpid " changed=1; while [ $changed = 1 ]; do changed=0; for s in /proc/[0-9]*/stat; do
  read -r pid _ _ ppid _ < "$s" 2>/dev/null || continue
  case "$all" in *" $ppid "*) case "$all" in *" $pid "*) ;; *) all="$all$pid "; changed=1;; esac;; esac; done; done
  echo $all | tr ' ' '\n' | grep -v "^$dpid$"; }
ticks() { local t=0; for p in $(pids); do set -- $(cut -d' ' -f14,15 /proc/$p/stat 2>/dev/null || echo "0 0"); t=$((t + $1 + $2)); done; echo $t; }
rss_mb() { local k=0; for p in $(pids); do k=$((k + $(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null || echo 0))); done; echo $((k / 1024)); }
cpu_pct() { local a b hz; hz=$(getconf CLK_TCK); a=$(ticks); sleep "$1"; b=$(ticks); python3 -c "print(f'{($b-$a)/$hz/$1*100:.1f}')"; }
sleep 10
grep -h "first preview frame" "$work/driver.log" || echo "first preview frame: not seen"
echo "preview latency: $(js 'const s = window.reelPreviewStats; return s ? `${(s.total_ms / s.frames).toFixed(1)} ms mean, ${s.max_ms.toFixed(1)} ms max over ${s.frames} frames` : \"no frames\"')"
echo "CPU while previewing (15 fps): $(cpu_pct 10) % of one core"
js "document.querySelector('[data-view=library]').click(); return 0" >/dev/null
sleep 3
echo "CPU idle on the library view: $(cpu_pct 20) % of one core"
js "document.querySelector('[data-view=record]').click(); return 0" >/dev/null
echo "memory at start of preview: $(rss_mb) MB (app + WebKit processes)"
for m in $(seq "$minutes"); do sleep 60; [ $((m % 5)) -eq 0 ] && echo "memory after $m min of preview: $(rss_mb) MB"; done
echo "memory after $minutes min of preview: $(rss_mb) MB"
