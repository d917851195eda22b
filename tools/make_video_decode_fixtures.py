#!/usr/bin/env python3
"""Per-frame checksums of the committed clip as FFmpeg and OpenCV decode it, for tests/decode.rs.

- `yuv420p_md5`: FFmpeg's own `-f framemd5 -pix_fmt yuv420p` (the decoder's planes, Y then U then V);
- `bgr24_md5_opencv`: MD5 of each frame `cv2.VideoCapture` returns (BGR, [h, w, 3] C order), i.e.
  what Ultralytics reads;
- `bgr_max_abs_diff_ffmpeg_vs_opencv`: the largest |difference| between `ffmpeg -pix_fmt bgr24`'s
  frames and OpenCV's over the whole clip (the bound tests/decode.rs asserts);
- `float_bt601_max_abs_diff_vs_opencv`: the same for an exact-arithmetic BT.601 limited-range
  conversion with nearest chroma (what a hand-written YUV -> BGR would start from), for docs/video.md.

Usage (tools/requirements-video.txt, Debian ffmpeg 5.1):
    .venv-video/bin/python tools/make_video_decode_fixtures.py [fixtures/video/shapes_clip.mp4]
Writes fixtures/video/shapes_clip.decode.json beside the clip.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np


def ffmpeg_raw(path: Path, pix_fmt: str) -> bytes:
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", pix_fmt, "-"],
                          capture_output=True, check=True).stdout


def bt601_nearest(frame: np.ndarray, w: int, h: int) -> np.ndarray:
    y = frame[: w * h].reshape(h, w).astype(np.float64)
    u = frame[w * h : w * h + w * h // 4].reshape(h // 2, w // 2)
    v = frame[w * h + w * h // 4 :].reshape(h // 2, w // 2)
    up = lambda p: np.repeat(np.repeat(p, 2, 0), 2, 1).astype(np.float64) - 128  # noqa: E731
    u, v = up(u), up(v)
    y = (y - 16) * 255 / 219
    r = y + 1.402 * 255 / 224 * v
    g = y - 0.344136 * 255 / 224 * u - 0.714136 * 255 / 224 * v
    b = y + 1.772 * 255 / 224 * u
    return np.clip(np.round(np.stack([b, g, r], -1)), 0, 255).astype(np.uint8)


def main() -> None:
    clip = Path(sys.argv[1] if len(sys.argv) > 1 else "fixtures/video/shapes_clip.mp4")
    cap = cv2.VideoCapture(str(clip))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cv_frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        cv_frames.append(np.ascontiguousarray(f))
    lines = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-f", "framemd5", "-pix_fmt", "yuv420p", "-"],
                           capture_output=True, text=True, check=True).stdout.splitlines()
    yuv_md5 = [ln.split(",")[-1].strip() for ln in lines if ln and not ln.startswith("#")]
    ff_bgr = np.frombuffer(ffmpeg_raw(clip, "bgr24"), np.uint8).reshape(-1, h, w, 3)
    yuv = np.frombuffer(ffmpeg_raw(clip, "yuv420p"), np.uint8).reshape(-1, w * h * 3 // 2)
    assert len(cv_frames) == len(ff_bgr) == len(yuv) == len(yuv_md5), (len(cv_frames), len(ff_bgr), len(yuv_md5))
    diff = max(int(np.abs(a.astype(np.int16) - b).max()) for a, b in zip(ff_bgr, cv_frames))
    diff_f = max(int(np.abs(bt601_nearest(y, w, h).astype(np.int16) - c).max()) for y, c in zip(yuv, cv_frames))
    out = {
        "clip": clip.name,
        "ffmpeg": subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0],
        "opencv": cv2.__version__,
        "width": w,
        "height": h,
        "frames": len(cv_frames),
        "yuv420p_md5": yuv_md5,
        "bgr24_md5_opencv": [hashlib.md5(f.tobytes()).hexdigest() for f in cv_frames],
        "bgr_max_abs_diff_ffmpeg_vs_opencv": diff,
        "float_bt601_max_abs_diff_vs_opencv": diff_f,
    }
    dst = clip.with_suffix(".decode.json")
    dst.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {dst}: {len(cv_frames)} frames, ffmpeg bgr24 vs OpenCV max |diff| {diff}, float BT.601 {diff_f}")


if __name__ == "__main__":
    main()
