#!/usr/bin/env bash
# Live recording from the test camera (tests/fakecam: a V4L2 device streaming MJPEG at the
# chosen size and rate) for SECONDS at 720p30 and 1080p30: Reel (`reel bench live --camera 0`,
# test tone as the microphone) beside the ffmpeg CLI capturing the same camera in the same mode
# and encoding it with the same x264 preset and CRF (Reel's live presets: veryfast up to 720p,
# ultrafast above). Reports frames, drops, capture jitter, CPU and peak memory of each.
# Prints figures; asserts nothing. Then one conversion pass (`reel bench camera`).
# Usage: scripts/bench-camera.sh [SECONDS] [BINDIR]   (default 120 s, target/release)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
bin=${2:-target/release}
[ -x "$bin/reel" ] || { echo "build first: cargo build --release -p reel-cli (or pass target/debug)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -shared -fPIC -o "$work/libfakecam.so" tests/fakecam/fakecam.c -ldl -lpthread -ljpeg
export REEL_STATE_DIR="$work/state"

cam() { env LD_PRELOAD="$work/libfakecam.so" REEL_FAKECAM_FORMATS=mjpeg REEL_FAKECAM_SIZES="$1" REEL_FAKECAM_FPS=30 "${@:2}"; }

for mode in "1280x720 veryfast" "1920x1080 ultrafast"; do
  set -- $mode
  size=$1 preset=$2
  echo "== $size at 30 fps, $secs s, MJPEG camera, x264 $preset CRF 23"
  cam "$size" /usr/bin/time -f "%M" -o "$work/reel.rss" "$bin/reel" bench live --camera 0 --mic tone --size "$size" --fps 30 --seconds "$secs" --json > "$work/reel.json"
  python3 - "$work/reel.json" "$work/reel.rss" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); rss = int(open(sys.argv[2]).read().split()[-1]) / 1024
print(f"  reel:   {r['frames_encoded']} frames, dropped {r['frames_dropped']}, duplicated {r['frames_duplicated']}, "
      f"jitter p99 {r['capture_jitter_p99_ms']:.1f} ms, CPU {r['cpu_percent']:.0f} %, peak RSS {rss:.0f} MB, "
      f"camera {r['camera']['mode']['format']} {r['camera']['mode']['width']}x{r['camera']['mode']['height']}")
PY
  cam "$size" /usr/bin/time -f "%e %U %S %M" -o "$work/ff.time" ffmpeg -hide_banner -nostats -y -f v4l2 -input_format mjpeg -video_size "$size" -framerate 30 -i /dev/video0 \
    -f lavfi -i "sine=frequency=1000:sample_rate=48000" -t "$secs" -c:v libx264 -preset "$preset" -crf 23 -pix_fmt yuv420p -c:a aac -movflags +frag_keyframe+empty_moov+default_base_moof "$work/ff.mp4" 2> "$work/ff.log" || true
  frames=$(ffprobe -v error -select_streams v -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$work/ff.mp4" 2>/dev/null || echo 0)
  read -r wall user sys rss < "$work/ff.time"
  python3 -c "import sys; w,u,s,m,f=map(float,sys.argv[1:]); print(f'  ffmpeg: {int(f)} frames, CPU {(u+s)/w*100:.0f} %, peak RSS {m/1024:.0f} MB (wall {w:.0f} s)')" "$wall" "$user" "$sys" "$rss" "$frames"
done
echo "== conversion per frame"
"$bin/reel" bench camera --runs 5
