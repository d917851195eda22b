#!/usr/bin/env python3
"""Seeded synthetic detection dataset ("shapes") in YOLO format; PIL + numpy only, no downloads.

Six classes drawn as filled, randomly rotated shapes on textured, noisy backgrounds:
    0 circle  1 square  2 triangle  3 star  4 cross  5 ring
Per image: 1-6 objects (natural box side ~20..130 px), random colour with a contrast check against the local
background (a few low-contrast objects on purpose), random rotation, partial overlap allowed (box IoU
with earlier objects <= 0.35; later objects are drawn on top). Backgrounds: linear gradients, sinusoidal
stripes, smooth value noise, soft (blurred) distractor blobs and lines, then pixel noise; every image is
finally blurred a little or not at all. Frames are non-square: width and height in [200, 320] with the long
side scaled to `--long-side` when given (the shipped val split uses exactly 320 so Ultralytics' val loader
never resizes), otherwise each side drawn independently in [200, 320].

Labels are the tight axis-aligned box of the drawn (rotated) geometry: polygon vertices for the polygonal
shapes, centre +- radius for circle and ring, clipped to the frame; YOLO txt `cls cx cy w h` normalised.

Deterministic: image i of split s depends only on (seed, split, i) (numpy PCG64 seeded with
[seed, split_id, i]), so `--n-val 64` and `--n-val 600` share their first 64 images.

Usage:
  .venv-ref/bin/python tools/make_synthetic_dataset.py OUT_DIR --n-train 4000 --n-val 400 [--seed 0]
      [--val-offset 0] [--long-side 320] [--format jpg|png] [--quality 90] [--data-path abs|rel]
Writes OUT_DIR/images/{train,val}/*.jpg, OUT_DIR/labels/{train,val}/*.txt and OUT_DIR/data.yaml.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

NAMES = ["circle", "square", "triangle", "star", "cross", "ring"]
SPLIT_IDS = {"train": 1, "val": 2}


# ---------------------------------------------------------------------------------------------
# backgrounds


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """[h, w, 3] float in 0..1: bilinear upsampling of a coarse random grid (value noise)."""
    gh, gw = max(2, h * cells // max(h, w)), max(2, w * cells // max(h, w))
    grid = (rng.random((gh, gw, 3)) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(grid).resize((w, h), Image.BILINEAR), dtype=np.float32) / 255.0


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """[h, w, 3] float32 0..255."""
    kind = rng.integers(0, 4)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c1, c2 = rng.random(3) * 255, rng.random(3) * 255
    if kind == 0:  # linear gradient
        a = rng.random() * 2 * math.pi
        t = (xx * math.cos(a) + yy * math.sin(a))
        t = (t - t.min()) / max(1e-6, t.max() - t.min())
        img = c1 + (c2 - c1) * t[..., None]
    elif kind == 1:  # stripes
        a = rng.random() * math.pi
        period = rng.uniform(6, 40)
        t = 0.5 + 0.5 * np.sin((xx * math.cos(a) + yy * math.sin(a)) * 2 * math.pi / period)
        if rng.random() < 0.5:
            t = (t > 0.5).astype(np.float32)
        img = c1 + (c2 - c1) * t[..., None] * rng.uniform(0.3, 1.0)
    elif kind == 2:  # smooth value noise
        n = _smooth_noise(rng, h, w, int(rng.integers(3, 12)))
        img = c1 * (1 - n) + c2 * n
    else:  # flat colour
        img = np.broadcast_to(c1, (h, w, 3)).astype(np.float32)
    img = np.array(img, dtype=np.float32)
    if rng.random() < 0.5:  # a second, fine noise layer
        img += (_smooth_noise(rng, h, w, int(rng.integers(15, 40))) - 0.5) * rng.uniform(20, 80)
    # soft distractors: blurred ellipses and lines (never labelled)
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    over = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = ImageDraw.Draw(over)
    for _ in range(int(rng.integers(0, 6))):
        cx, cy = rng.random() * w, rng.random() * h
        rx, ry = rng.uniform(8, 60), rng.uniform(8, 60)
        col = tuple(int(v) for v in rng.integers(0, 256, 3)) + (int(rng.integers(60, 180)),)
        d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=col)
    for _ in range(int(rng.integers(0, 4))):
        p = [float(rng.random() * w), float(rng.random() * h), float(rng.random() * w), float(rng.random() * h)]
        col = tuple(int(v) for v in rng.integers(0, 256, 3)) + (int(rng.integers(80, 200)),)
        d.line(p, fill=col, width=int(rng.integers(1, 4)))
    over = over.filter(ImageFilter.GaussianBlur(float(rng.uniform(2.0, 5.0))))
    pil = Image.alpha_composite(pil.convert("RGBA"), over).convert("RGB")
    return np.asarray(pil, dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# shapes


def _rot(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]], dtype=np.float64)


def _shape_polys(cls: int, r: float, angle: float, rng: np.random.Generator):
    """(list of (polygon [n,2] relative to centre, fill bool), extent half-sizes (hx, hy)).

    Circle (0) and ring (5) are returned as None (drawn as ellipses)."""
    if cls == 1:  # square
        p = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * r / math.sqrt(2)
        return [_rot(p, angle)]
    if cls == 2:  # triangle (equilateral, circumradius r)
        a = np.array([-math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)])
        p = np.stack([np.cos(a), np.sin(a)], 1) * r
        return [_rot(p, angle)]
    if cls == 3:  # 5-point star
        inner = rng.uniform(0.38, 0.5)
        a = np.array([-math.pi / 2 + k * math.pi / 5 for k in range(10)])
        rad = np.where(np.arange(10) % 2 == 0, 1.0, inner) * r
        p = np.stack([np.cos(a) * rad, np.sin(a) * rad], 1)
        return [_rot(p, angle)]
    if cls == 4:  # plus / cross (12-gon), arm half-width t*r
        t = rng.uniform(0.22, 0.34)
        p = np.array([[-t, -1], [t, -1], [t, -t], [1, -t], [1, t], [t, t], [t, 1], [-t, 1], [-t, t], [-1, t],
                      [-1, -t], [-t, -t]], dtype=np.float64) * r
        return [_rot(p, angle)]
    return None


def _contrast_colour(rng: np.random.Generator, bg_mean: np.ndarray, low: bool) -> np.ndarray:
    best, best_d = None, -1.0
    for _ in range(30):
        c = rng.integers(0, 256, 3).astype(np.float32)
        dist = float(np.linalg.norm(c - bg_mean))
        if low:
            if 35 < dist < 70:
                return c
        elif dist > 120:
            return c
        if dist > best_d:
            best, best_d = c, dist
    return best


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / u if u > 0 else 0.0


def make_image(seed: int, split: str, index: int, long_side: int | None = None):
    """(RGB uint8 array [h, w, 3], labels [(cls, x1, y1, x2, y2)] in pixels)."""
    rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
    w, h = int(rng.integers(200, 321)), int(rng.integers(200, 321))
    if long_side is not None:
        s = long_side / max(w, h)
        w, h = max(1, round(w * s)), max(1, round(h * s))
        if max(w, h) != long_side:  # rounding guard
            w, h = (long_side, h) if w >= h else (w, long_side)
    img = _background(rng, h, w)
    mask_all = Image.new("L", (w, h), 0)
    labels: list = []
    n_obj = int(rng.integers(1, 7))
    tries = 0
    while len(labels) < n_obj and tries < 60:
        tries += 1
        cls = int(rng.integers(0, len(NAMES)))
        # object "radius" (half the side of its natural box): sizes 16..~130 px, more small/medium ones
        r = float(np.exp(rng.uniform(math.log(10), math.log(min(65, 0.42 * min(w, h))))))
        angle = float(rng.uniform(0, 2 * math.pi))
        polys = _shape_polys(cls, r, angle, rng)
        if polys is None:
            ext = np.array([r, r])
        else:
            ext = np.abs(np.concatenate(polys)).max(0)
        # centre: mostly inside, sometimes cut by the frame edge (at most ~35% outside)
        mx, my = ext * 0.3
        cx = float(rng.uniform(ext[0] - 2 * mx if rng.random() < 0.15 else ext[0], w - ext[0] + (2 * mx if rng.random() < 0.15 else 0)))
        cy = float(rng.uniform(ext[1] - 2 * my if rng.random() < 0.15 else ext[1], h - ext[1] + (2 * my if rng.random() < 0.15 else 0)))
        if polys is None:
            x1, y1, x2, y2 = cx - r, cy - r, cx + r, cy + r
        else:
            pts = np.concatenate(polys) + [cx, cy]
            x1, y1 = pts.min(0)
            x2, y2 = pts.max(0)
        box = (max(0.0, x1), max(0.0, y1), min(float(w), x2), min(float(h), y2))
        bw, bh = box[2] - box[0], box[3] - box[1]
        if bw < 12 or bh < 12 or bw * bh < 0.55 * (x2 - x1) * (y2 - y1):
            continue
        if any(_iou(box, b[1:]) > 0.35 for b in labels):
            continue
        # covered by later objects: reject if an earlier object would be hidden too much
        m = Image.new("L", (w, h), 0)
        d = ImageDraw.Draw(m)
        if cls == 0:
            d.ellipse([x1, y1, x2, y2], fill=255)
        elif cls == 5:
            d.ellipse([x1, y1, x2, y2], fill=255)
            t = rng.uniform(0.45, 0.7)
            d.ellipse([cx - r * t, cy - r * t, cx + r * t, cy + r * t], fill=0)
        else:
            d.polygon([tuple(p) for p in (polys[0] + [cx, cy]).tolist()], fill=255)
        ys0, ye0 = int(box[1]), int(math.ceil(box[3]))
        xs0, xe0 = int(box[0]), int(math.ceil(box[2]))
        region = img[ys0:ye0, xs0:xe0]
        bg_mean = region.reshape(-1, 3).mean(0) if region.size else np.full(3, 128.0)
        col = _contrast_colour(rng, bg_mean, low=rng.random() < 0.08)
        mk = np.asarray(m, dtype=np.float32)[..., None] / 255.0
        # fill: solid or with a mild internal shading
        fill = np.broadcast_to(col, img.shape).astype(np.float32)
        if rng.random() < 0.4:
            fill = fill + (_smooth_noise(rng, h, w, 6) - 0.5) * 50
        img = img * (1 - mk) + fill * mk
        if rng.random() < 0.3:  # dark or light outline, inside the shape (the box stays the geometry's)
            edge = mk - np.asarray(m.filter(ImageFilter.MinFilter(3)), dtype=np.float32)[..., None] / 255.0
            ocol = np.zeros(3) if col.mean() > 128 else np.full(3, 255.0)
            img = img * (1 - edge) + ocol * edge
        labels.append((cls, *box))
    # pixel noise, optional blur
    sigma = rng.choice([0.0, 4.0, 8.0, 14.0], p=[0.2, 0.35, 0.3, 0.15])
    if sigma:
        img = img + rng.normal(0, sigma, img.shape)
    out = Image.fromarray(np.clip(img, 0, 255).round().astype(np.uint8))
    if rng.random() < 0.25:
        out = out.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 1.0))))
    return np.asarray(out), labels


def yolo_lines(labels, w: int, h: int) -> str:
    out = []
    for cls, x1, y1, x2, y2 in labels:
        out.append(f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
    return "\n".join(out) + ("\n" if out else "")


def write_split(root: Path, split: str, n: int, seed: int, offset: int, long_side, fmt: str, quality: int) -> int:
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    n_inst = 0
    for i in range(offset, offset + n):
        arr, labels = make_image(seed, split, i, long_side)
        stem = f"{split}_{i:05d}"
        p = root / "images" / split / f"{stem}.{fmt}"
        if fmt == "jpg":
            Image.fromarray(arr).save(p, quality=quality, subsampling=0 if quality >= 95 else 2)
        else:
            Image.fromarray(arr).save(p, optimize=True)
        (root / "labels" / split / f"{stem}.txt").write_text(yolo_lines(labels, arr.shape[1], arr.shape[0]))
        n_inst += len(labels)
    return n_inst


def write_data_yaml(root: Path, rel_path: bool, splits) -> Path:
    # rel: no `path:` key, so Ultralytics' check_det_dataset falls back to the YAML's own directory.
    # (`path: .` would NOT work from another directory: 8.4.190 keeps a relative `path` that exists as is,
    # i.e. resolves it against the current working directory.)
    lines = [
        "# synthetic shapes dataset, written by tools/make_synthetic_dataset.py",
        *([] if rel_path else [f"path: {root.resolve()}"]),
        f"train: {'images/train' if 'train' in splits else 'images/val'}",
        "val: images/val",
        "names:",
        *[f"  {i}: {n}" for i, n in enumerate(NAMES)],
    ]
    p = root / "data.yaml"
    p.write_text("\n".join(lines) + "\n")
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--n-train", type=int, default=4000)
    ap.add_argument("--n-val", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-offset", type=int, default=0, help="first val image index")
    ap.add_argument("--long-side", type=int, default=None, help="scale every frame so its long side is exactly this")
    ap.add_argument("--format", default="jpg", choices=["jpg", "png"])
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--data-path", default="abs", choices=["abs", "rel"], help="data.yaml `path:` absolute, or rel = no `path:` (train/val relative to the YAML's directory)")
    a = ap.parse_args()
    splits = []
    if a.n_train:
        n = write_split(a.out, "train", a.n_train, a.seed, 0, a.long_side, a.format, a.quality)
        print(f"train: {a.n_train} images, {n} instances")
        splits.append("train")
    if a.n_val:
        n = write_split(a.out, "val", a.n_val, a.seed, a.val_offset, a.long_side, a.format, a.quality)
        print(f"val: {a.n_val} images, {n} instances")
        splits.append("val")
    print(f"wrote {write_data_yaml(a.out, a.data_path == 'rel', splits)}")


if __name__ == "__main__":
    main()
