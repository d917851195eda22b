#!/usr/bin/env bash
# CI part for video and streams (docs/video.md): installs FFmpeg and GStreamer's RTSP server
# (idempotently, quietly), then runs the video tests with GHOST_REQUIRE_FFMPEG=1 and
# GHOST_REQUIRE_RTSP=1, so a missing ffmpeg or RTSP server fails them instead of skipping them.
#
# Usage: tools/ci_video.sh                 install, then run the video tests
#        tools/ci_video.sh --install-only  install only: .ci/run does this and runs the video tests
#                                          once, inside `cargo test --workspace` with the same
#                                          GHOST_REQUIRE_* variables (not a second time here)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
packages=(ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "ci_video: installing ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ "${1:-}" == --install-only ]]; then
    echo "ci_video: packages ready in $((SECONDS - start)) s"
    exit 0
fi
GHOST_REQUIRE_FFMPEG=1 GHOST_REQUIRE_RTSP=1 cargo test -p ghost-video
GHOST_REQUIRE_FFMPEG=1 cargo test -p ghost-yolo-cli --test video_cli
# `ghost-yolo track` on the clip, on two videos and on the RTSP stream (about 10 s of tests)
GHOST_REQUIRE_FFMPEG=1 GHOST_REQUIRE_RTSP=1 cargo test -p ghost-yolo-cli --test track_video_cli
echo "ci_video: done in $((SECONDS - start)) s"
