#!/usr/bin/env bash
# Upload throughput of `reel publish` against boto3 (the AWS SDK for Python, default transfer
# settings) uploading the same file to the same s3s-fs server in the same run; and the time from
# stop to a working link when uploading while recording. Prints figures; asserts nothing.
# Usage: scripts/bench-publish.sh [SIZE_MB]
# (needs a release build: cargo build --release -p reel-cli -p reel-tests --bins)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-200}
bin=target/release
[ -x $bin/reel ] && [ -x $bin/reel-test-s3 ] || { echo "build first: cargo build --release -p reel-cli -p reel-tests --bins" >&2; exit 1; }
python3 -c 'import boto3' 2>/dev/null || pip install -q boto3 >/dev/null
work=$(mktemp -d); s3pid=""
trap '[ -n "$s3pid" ] && kill $s3pid 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/s3/bench"
$bin/reel-test-s3 "$work/s3" 0 benchkey benchsecret0123456789 > "$work/s3.out" & s3pid=$!
for _ in $(seq 50); do grep -q listening "$work/s3.out" 2>/dev/null && break; sleep 0.1; done
AWS_ENDPOINT_URL=$(sed 's/listening on //' "$work/s3.out")
export AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=benchsecret0123456789 AWS_REGION=us-east-1
export REEL_LIBRARY="$work/lib" REEL_STATE_DIR="$work/state"
# Incompressible video-like bytes in an MP4 container, about $size_mb MB.
secs=$(( size_mb / 5 ))
ffmpeg -v error -f lavfi -i "nullsrc=s=640x360:r=30,geq=random(1)*255:128:128" -t "$secs" -c:v libx264 -preset ultrafast -b:v 40M -maxrate 40M -bufsize 40M "$work/big.mp4"
id=$($bin/reel import --json "$work/big.mp4" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
file="$work/lib/recordings/$id/video.mp4"
bytes=$(stat -c %s "$file")
t0=$(date +%s.%N); $bin/reel publish "$id" --to s3://bench/reel --json > "$work/pub.json" 2>/dev/null; t1=$(date +%s.%N)
python3 - "$file" > "$work/boto.txt" <<'PY'
import boto3, sys, time, os
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
t = time.time(); s3.upload_file(sys.argv[1], "bench", "boto3/video.mp4"); print(time.time() - t)
PY
python3 - "$bytes" "$t0" "$t1" "$(cat "$work/boto.txt")" <<'PY'
import sys
b, t0, t1, boto = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
reel = t1 - t0
print(f"file: {b/1e6:.1f} MB")
print(f"reel publish (whole command, incl. poster/page): {reel:.2f} s  {b/1e6/reel:.1f} MB/s")
print(f"boto3 upload_file (defaults):                   {boto:.2f} s  {b/1e6/boto:.1f} MB/s")
print(f"ratio reel/boto3 throughput: {boto/reel:.2f}")
PY
for _ in 1 2 3; do
  $bin/reel record --camera synthetic --mic tone --size 1280x720 --duration 10 --json --publish s3://bench/live 2>/dev/null \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print("live: stop -> link %.0f ms (library %.0f ms, live=%s, %d parts, %.1f MB)" % (d["publish_ready_ms"], d["library_ms"], d["publish_live"], d["publish_parts"], d["bytes"]/1e6))'
done
