#!/usr/bin/env python3
"""Seeded synthetic test images -> fixtures/images/ (shapes on textured backgrounds).

  shapes_200x150.jpg  RGB JPEG (quality 90, 4:2:0), 200 wide x 150 high
  gray_97x131.png     8-bit grayscale PNG (mode L), 97 wide x 131 high
  rgba_171x256.png    RGBA PNG with a varying alpha channel, 171 wide x 256 high
  rgb_333x250.png     RGB PNG, 333 wide x 250 high
  tie_320x213.png     RGB PNG, 320 wide x 213 high: at imgsz 160 the letterbox scale is exactly 0.5 and
                      213 * 0.5 = 106.5 is a rounding tie; Python's round() (half to even) gives 106,
                      round-half-away-from-zero would give 107

Deterministic: numpy PCG64 seeds below + Pillow drawing (no fonts, no antialiasing). Re-running
rewrites byte-identical PNGs; the JPEG depends on Pillow's libjpeg (bytes may change with another
Pillow build, which is why the fixtures also store the decoded pixels, see make_yolo_fixtures.py).

Usage: .venv-ref/bin/python tools/make_test_images.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

OUT = fc.FIXTURES / "images"

# file, (width, height), PIL mode, seed
IMAGES = [
    ("shapes_200x150.jpg", (200, 150), "RGB", 11),
    ("gray_97x131.png", (97, 131), "L", 12),
    ("rgba_171x256.png", (171, 256), "RGBA", 13),
    ("rgb_333x250.png", (333, 250), "RGB", 14),
    ("tie_320x213.png", (320, 213), "RGB", 15),
]


def background(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Textured RGB background: two sinusoid gratings + a colour gradient + pixel noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((h, w, 3))
    for c in range(3):
        fx, fy = rng.uniform(0.02, 0.25, size=2)
        ph = rng.uniform(0, 2 * np.pi)
        base = rng.uniform(60, 190)
        out[..., c] = (
            base
            + 35 * np.sin(fx * x + fy * y + ph)
            + 20 * np.sin(0.5 * fy * x - 1.3 * fx * y)
            + 40 * (x / max(w - 1, 1) - 0.5) * (1 if c % 2 else -1)
            + rng.normal(0, 12, size=(h, w))
        )
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def draw_shapes(img: Image.Image, rng: np.random.Generator, n: int) -> None:
    d = ImageDraw.Draw(img)
    w, h = img.size
    for _ in range(n):
        kind = rng.integers(0, 4)
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        rw, rh = rng.uniform(0.06, 0.3) * w, rng.uniform(0.06, 0.3) * h
        box = [cx - rw / 2, cy - rh / 2, cx + rw / 2, cy + rh / 2]
        col = tuple(int(v) for v in rng.integers(0, 256, size=3))
        if kind == 0:
            d.rectangle(box, fill=col, outline=(0, 0, 0), width=2)
        elif kind == 1:
            d.ellipse(box, fill=col)
        elif kind == 2:
            d.polygon([(box[0], box[3]), ((box[0] + box[2]) / 2, box[1]), (box[2], box[3])], fill=col)
        else:
            d.line([(box[0], box[1]), (box[2], box[3])], fill=col, width=int(rng.integers(2, 6)))


def make(name: str, size: tuple[int, int], mode: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    w, h = size
    img = Image.fromarray(background(w, h, rng), "RGB")
    draw_shapes(img, rng, n=6)
    path = OUT / name
    if mode == "L":
        img.convert("L").save(path, optimize=False)
    elif mode == "RGBA":
        alpha = np.clip(np.linspace(40, 255, w)[None, :] + np.zeros((h, 1)), 0, 255).astype(np.uint8)
        alpha[h // 3 : h // 2, :] = 255
        rgba = np.dstack([np.asarray(img), alpha])
        Image.fromarray(rgba, "RGBA").save(path, optimize=False)
    elif name.endswith(".jpg"):
        img.save(path, quality=90, subsampling=2, optimize=False)
    else:
        img.save(path, optimize=False)
    path.chmod(0o644)
    return path


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, size, mode, seed in IMAGES:
        p = make(name, size, mode, seed)
        with Image.open(p) as im:
            print(f"{p.relative_to(fc.REPO)}: {im.size[0]}x{im.size[1]} {im.mode}, {p.stat().st_size} bytes")


if __name__ == "__main__":
    main()
