#!/usr/bin/env python3
"""Short synthetic video of moving shapes, with its true per-frame boxes and track identities.

Drawn with the shapes generator's own pieces (tools/make_synthetic_dataset.py: its textured
background, shape geometry and contrast-checked colours), so the default model (trained on that
generator) finds the objects. One static background; four objects, one per horizontal lane, each
moving in a straight line across the frame (some left to right, some right to left) while
rotating slowly, so every object has one known identity for the whole clip and no two objects
ever overlap (lanes are 64 px apart, objects at most 56 px across). Mild pixel noise per frame.

The frames are piped as raw RGB to the `ffmpeg` program (Debian's package) and encoded with x264's
defaults (`-c:v libx264 -pix_fmt yuv420p`: High profile, CRF 23, preset medium), `-threads 1` so the
bytes are reproducible; the MP4 is what phones and cameras write.

Writes OUT_DIR/shapes_clip.mp4 and OUT_DIR/shapes_clip.truth.json:
    {"width", "height", "fps", "frames", "names", "encoder": "ffmpeg -version first line",
     "tracks": [{"id", "class", "name"}],
     "boxes": [[{"id", "class", "box": [x1, y1, x2, y2]}, ...] per frame]}
Boxes are in pixels, the tight axis-aligned box of the drawn geometry clipped to the frame, as in
the dataset's labels. Track ids start at 1.

Usage (tools/requirements-video.txt, Debian ffmpeg 5.1): .venv-video/bin/python tools/make_video_fixture.py [OUT_DIR=fixtures/video] [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_synthetic_dataset import NAMES, _background, _contrast_colour, _shape_polys  # noqa: E402

W, H, FPS = 320, 256, 25
SEED = 4  # background, colours and shape proportions: the first seed whose every frame the default model reads as exactly the four objects
# (class, radius, lane centre y, x at start, x at end, turns over the clip)
OBJECTS = [
    (3, 26.0, 34.0, 40.0, 280.0, 0.25),  # star, left -> right
    (0, 24.0, 98.0, 285.0, 50.0, 0.0),  # circle, right -> left
    (2, 27.0, 160.0, 60.0, 250.0, -0.2),  # triangle, left -> right
    (4, 26.0, 222.0, 270.0, 45.0, 0.3),  # cross, right -> left
]


def draw_frame(bg: np.ndarray, t: float, colours, shape_rng_states):
    """(RGB uint8 [H, W, 3], [(track id, class, box)]) at clip time t in [0, 1]."""
    img = bg.copy()
    boxes = []
    for k, (cls, r, cy, x0, x1, turns) in enumerate(OBJECTS):
        cx = x0 + (x1 - x0) * t
        angle = 2 * math.pi * turns * t
        # the same star/cross proportions every frame: replay the object's own rng state
        polys = _shape_polys(cls, r, angle, np.random.Generator(np.random.PCG64(shape_rng_states[k])))
        m = Image.new("L", (W, H), 0)
        d = ImageDraw.Draw(m)
        if polys is None:
            bx1, by1, bx2, by2 = cx - r, cy - r, cx + r, cy + r
            d.ellipse([bx1, by1, bx2, by2], fill=255)
        else:
            pts = polys[0] + [cx, cy]
            (bx1, by1), (bx2, by2) = pts.min(0), pts.max(0)
            d.polygon([tuple(p) for p in pts.tolist()], fill=255)
        mk = np.asarray(m, dtype=np.float32)[..., None] / 255.0
        img = img * (1 - mk) + colours[k] * mk
        box = [max(0.0, float(bx1)), max(0.0, float(by1)), min(float(W), float(bx2)), min(float(H), float(by2))]
        boxes.append({"id": k + 1, "class": cls, "box": [round(v, 3) for v in box]})
    return img, boxes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, nargs="?", default=Path("fixtures/video"))
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    bg = _background(rng, H, W)
    colours = []
    for cls, r, cy, x0, x1, _ in OBJECTS:
        lane = bg[int(cy - r) : int(cy + r)]
        colours.append(_contrast_colour(rng, lane.reshape(-1, 3).mean(0), low=False))
    shape_rng_states = [int(s) for s in rng.integers(0, 2**63, len(OBJECTS))]
    n = int(round(a.seconds * FPS))
    mp4 = a.out / "shapes_clip.mp4"
    enc = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{W}x{H}", "-r", str(FPS),
         "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-threads", "1", "-map_metadata", "-1",
         "-fflags", "+bitexact", "-flags:v", "+bitexact", str(mp4)],
        stdin=subprocess.PIPE,
    )
    per_frame = []
    for i in range(n):
        img, boxes = draw_frame(bg, i / max(1, n - 1), colours, shape_rng_states)
        img = img + rng.normal(0, 3.0, img.shape)
        enc.stdin.write(np.clip(img, 0, 255).round().astype(np.uint8).tobytes())
        per_frame.append(boxes)
    enc.stdin.close()
    if enc.wait() != 0:
        sys.exit("ffmpeg failed")
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    truth = {
        "width": W, "height": H, "fps": FPS, "frames": n, "names": NAMES, "encoder": version,
        "tracks": [{"id": k + 1, "class": o[0], "name": NAMES[o[0]]} for k, o in enumerate(OBJECTS)],
        "boxes": per_frame,
    }
    (a.out / "shapes_clip.truth.json").write_text(json.dumps(truth, separators=(",", ":")) + "\n")
    print(f"wrote {mp4} ({mp4.stat().st_size} bytes, {n} frames) and its truth")


if __name__ == "__main__":
    main()
