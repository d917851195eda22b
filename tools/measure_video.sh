#!/usr/bin/env bash
# Measurements behind docs/video.md ("Measurements"); needs ffmpeg and a release build
# (cargo build --release -p ghost-yolo-cli). Nothing it makes is committed: the videos go to $TMP.
#  1. throughput: `ghost-yolo detect` on the committed clip looped 8 times (600 frames, -c copy)
#     against `ghost-yolo bench` at the same input size (the clip letterboxed: 256x320) and threads,
#     ROUNDS rounds interleaved (the machine is shared: the spread is reported);
#  2. memory: peak RSS of ghost-yolo plus its ffmpeg child (sampled from /proc every 50 ms) on a
#     10-minute and a 10-second 720p video (testsrc2, x264 High), --vid-stride 30.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/ghost-yolo}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
TMP=${TMP:-/tmp/ghost-video-measure}
mkdir -p "$TMP"

ffmpeg -nostdin -v error -y -stream_loop 7 -i fixtures/video/shapes_clip.mp4 -c copy "$TMP/clip8.mp4"
echo "== throughput, $THREADS threads"
for r in $(seq "$ROUNDS"); do
    bench=$("$BIN" bench --imgsz 256,320 --threads "$THREADS" --runs 100 --warmup 10 | grep -o 'median [0-9.]* ms' | grep -o '[0-9.]*')
    detect=$("$BIN" detect "$TMP/clip8.mp4" --threads "$THREADS" -q 2>&1 >/dev/null | grep -o '[0-9.]* frames/s' | grep -o '^[0-9.]*')
    python3 -c "b=1000/$bench; print(f'round $r: bench median $bench ms = {b:.1f} frames/s; detect on the clip {float(\"$detect\"):.1f} frames/s = {100*$detect/b:.1f}% of bench')"
done

peak_rss() { # peak of (ghost-yolo + children) RSS in MiB while "$@" runs
    python3 - "$@" <<'PY'
import os, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def rss(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0
def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []
peak_total = peak_self = 0
while p.poll() is None:
    own = rss(p.pid)
    peak_self = max(peak_self, own)
    peak_total = max(peak_total, own + sum(rss(c) for c in children(p.pid)))
    time.sleep(0.05)
print(f"peak RSS ghost-yolo {peak_self / 1024:.1f} MiB, with ffmpeg {peak_total / 1024:.1f} MiB, exit {p.returncode}")
PY
}
echo "== memory, 720p, --vid-stride 30"
for secs in 10 600; do
    v="$TMP/720p_${secs}s.mp4"
    [ -s "$v" ] || ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=s=1280x720:r=30:d=$secs" -c:v libx264 -preset veryfast -pix_fmt yuv420p "$v"
    start=$SECONDS
    echo "$secs s video: $(peak_rss "$BIN" detect "$v" --vid-stride 30 --threads "$THREADS" -q) in $((SECONDS - start)) s"
done
