#!/usr/bin/env python3
"""Reference outputs of Ultralytics predict's `--save-txt` / `--save-conf` lines and `--save-crop`
rectangles, for crates/ghost-video/tests/predict_outputs.rs.

Ultralytics 8.4.190 writes a label line as `("%g " * len(line)).rstrip() % line` with
`line = (cls, *xywhn[, conf][, track_id])` (`Results.save_txt`), where `xywhn` is `xyxy2xywh` of the
float32 boxes divided in place by the image width / height (`Boxes.xywhn`), and crops with
`save_one_box(xyxy, im, gain=1.02, pad=10)`: `xywh`, `wh * gain + pad`, `xywh2xyxy`, `.long()`
(truncation), `clip_boxes` to [0, w] x [0, h], `im[y1:y2, x1:x2]`, saved as
`crops/<class name>/<label file stem>.jpg`. torch cannot be installed here (CPU-only wheels are not
on PyPI), so the float32 arithmetic is written with numpy float32 (the same IEEE single-precision
operations, in the same order: float32 scalars, as torch casts Python scalars for float32 tensors),
and the formatting is CPython's own `%g`.

Usage: .venv-video/bin/python tools/make_predict_output_fixtures.py
Writes fixtures/video/predict_outputs.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

F = np.float32


def xywhn(box, w, h):
    x1, y1, x2, y2 = (F(v) for v in box)
    cx, cy, bw, bh = (x1 + x2) / F(2), (y1 + y2) / F(2), x2 - x1, y2 - y1
    return [float(cx / F(w)), float(cy / F(h)), float(bw / F(w)), float(bh / F(h))]


def label_line(cls, box, conf, w, h, save_conf, track_id=None):
    line = (cls, *xywhn(box, w, h))
    line += (float(F(conf)),) * save_conf + (() if track_id is None else (track_id,))
    return ("%g " * len(line)).rstrip() % line


def crop_rect(box, w, h, gain=1.02, pad=10):
    x1, y1, x2, y2 = (F(v) for v in box)
    cx, cy, bw, bh = (x1 + x2) / F(2), (y1 + y2) / F(2), x2 - x1, y2 - y1
    bw, bh = bw * F(gain) + F(pad), bh * F(gain) + F(pad)
    hw, hh = bw / F(2), bh / F(2)
    r = [cx - hw, cy - hh, cx + hw, cy + hh]
    r = [int(np.trunc(v)) for v in r]  # torch .long() truncates toward zero
    return [min(max(r[0], 0), w), min(max(r[1], 0), h), min(max(r[2], 0), w), min(max(r[3], 0), h)]


def main() -> None:
    rng = np.random.default_rng(19)
    cases = []
    sizes = [(320, 256), (640, 480), (1280, 720), (17, 9)]
    specials = [
        (0, [0.0, 0.0, 320.0, 256.0], 1.0),  # whole frame: 0.5 0.5 1 1
        (5, [0.001, 0.002, 0.0031, 0.0049], 0.25),  # tiny: exponent form 1e-05 ...
        (2, [14.9, 53.7, 80.8, 123.7], 0.818),
        (1, [-3.5, -2.25, 10.0, 7.75], 0.30000001),  # partly outside: negative centre terms
        (3, [100.0, 100.0, 100.0, 100.0], 0.5),  # zero size
        (4, [319.99, 255.99, 320.0, 256.0], 0.999999),
        (1234565, [1.0, 2.0, 3.0, 4.0], 0.123456789),  # %g of a tie at 6 digits: 1.23456e+06
    ]
    for cls, box, conf in specials:
        cases.append((cls, box, conf, 320, 256))
    for _ in range(60):
        w, h = sizes[int(rng.integers(0, len(sizes)))]
        x1, x2 = sorted(rng.uniform(-0.1 * w, 1.1 * w, 2).astype(np.float32).tolist())
        y1, y2 = sorted(rng.uniform(-0.1 * h, 1.1 * h, 2).astype(np.float32).tolist())
        cases.append((int(rng.integers(0, 80)), [x1, y1, x2, y2], float(rng.random()), w, h))
    out = []
    for cls, box, conf, w, h in cases:
        box = [float(F(v)) for v in box]
        out.append({
            "class": cls, "box": box, "conf": float(F(conf)), "width": w, "height": h,
            "line": label_line(cls, box, conf, w, h, False),
            "line_conf": label_line(cls, box, conf, w, h, True),
            "line_conf_track": label_line(cls, box, conf, w, h, True, track_id=7),
            "crop": crop_rect(box, w, h),
        })
    g_values = [0.0, 1.0, 0.5, 1e-05, 1.5e-05, 0.0001, 0.00012345678, 123456.0, 1234565.0, 1234575.0, 999999.5,
                0.1, 1 / 3, 2 / 3, 100.0, 1e20, -0.25, -1234567.0, 3.0, 0.30000001192092896]
    dst = Path("fixtures/video/predict_outputs.json")
    dst.write_text(json.dumps({
        "made_by": "tools/make_predict_output_fixtures.py (Ultralytics 8.4.190 save_txt / save_one_box rules)",
        "g": [[v, "%g" % v] for v in g_values],
        "cases": out,
    }, indent=1) + "\n")
    print(f"wrote {dst}: {len(out)} boxes, {len(g_values)} %g values")


if __name__ == "__main__":
    main()
