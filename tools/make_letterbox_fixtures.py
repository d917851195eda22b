#!/usr/bin/env python3
"""OpenCV resize / Ultralytics LetterBox reference fixtures -> fixtures/letterbox/letterbox.safetensors.

The Rust pre-processing (crates/yolo11-ghost/src/letterbox.rs) claims bit-exact parity with
`cv2.resize(..., interpolation=cv2.INTER_LINEAR)` on uint8 images (OpenCV's fixed-point path, including
its border rows) and with Ultralytics' `LetterBox` as `predict` builds it (scaleup, centred padding of
114, `auto` = pad to a multiple of the stride). This script records, from the reference libraries
themselves:

  src.{i}          uint8 [h, w, c] seeded noise images (RGB order; LetterBox and resize are
                   channel-order agnostic, so storing RGB avoids a flip on the Rust side)
  resize.{k}       uint8 [dh, dw, c] = cv2.resize(src, (dw, dh), INTER_LINEAR)
  letterbox.{k}    uint8 [H, W, 3]   = LetterBox(new_shape, auto, stride=32)(image=src)

and the per-case parameters (plus LetterBox.get_params' geometry) as JSON in the metadata key
`cases`. Noise images are the hardest case for exactness (every pixel differs from its neighbours).

Usage: .venv-ref/bin/python tools/make_letterbox_fixtures.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402  (sets offline env first)

fc.ultralytics_offline()

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from ultralytics.data.augment import LetterBox  # noqa: E402

OUT = fc.FIXTURES / "letterbox" / "letterbox.safetensors"

# (h, w, channels); seeded uniform noise.
SOURCES = [
    (37, 53, 3),  # 0 odd sizes
    (53, 37, 3),  # 1 portrait
    (1, 40, 3),  # 2 one row: the y filter only ever sees row 0
    (40, 1, 3),  # 3 one column
    (17, 23, 3),  # 4 small: upscaling path (clamped borders)
    (64, 96, 3),  # 5 exact 2x down to 32x48 (OpenCV swaps to INTER_AREA there)
    (2, 2, 3),  # 6 tiny upscale x16
    (64, 64, 3),  # 7 already the target size: no resize, pad only
    (35, 97, 3),  # 8 odd vertical padding (dh = 41)
    (128, 41, 3),  # 9 unpadded width 41 * 0.5 = 20.5 -> Python round half to even = 20
    (37, 53, 1),  # 10 single channel resize
]

# (src index, dst h, dst w)
RESIZES = [
    (0, 20, 29),
    (0, 61, 19),
    (4, 40, 31),
    (2, 3, 64),
    (3, 64, 3),
    (5, 32, 48),
    (5, 33, 47),
    (6, 32, 32),
    (1, 53, 37),
    (10, 61, 19),
    (10, 20, 29),
]

# (src index, new_shape (h, w), auto)
LETTERBOXES = [
    (0, (64, 64), False),
    (0, (32, 64), True),
    (1, (64, 96), False),
    (1, (64, 96), True),
    (2, (64, 64), False),
    (3, (64, 64), True),
    (4, (64, 64), False),
    (4, (64, 96), True),
    (5, (48, 48), False),
    (5, (32, 96), True),
    (6, (32, 32), False),
    (7, (64, 64), False),
    (7, (64, 96), True),
    (8, (64, 64), False),
    (8, (64, 64), True),
    (9, (64, 64), False),
]


def main() -> None:
    rng = np.random.default_rng(20240611)
    tensors: dict[str, torch.Tensor] = {}
    cases: dict[str, list] = {"sources": [], "resize": [], "letterbox": []}
    srcs = []
    for i, (h, w, c) in enumerate(SOURCES):
        img = rng.integers(0, 256, size=(h, w, c), dtype=np.uint8)
        srcs.append(img)
        tensors[f"src.{i}"] = torch.from_numpy(img.copy())
        cases["sources"].append({"name": f"src.{i}", "h": h, "w": w, "c": c})

    for k, (si, dh, dw) in enumerate(RESIZES):
        out = cv2.resize(srcs[si], (dw, dh), interpolation=cv2.INTER_LINEAR)
        if out.ndim == 2:
            out = out[..., None]
        tensors[f"resize.{k}"] = torch.from_numpy(np.ascontiguousarray(out))
        cases["resize"].append({"name": f"resize.{k}", "src": f"src.{si}", "h": dh, "w": dw})

    for k, (si, shape, auto) in enumerate(LETTERBOXES):
        lb = LetterBox(new_shape=shape, auto=auto, stride=32)  # scaleup=True, center=True, pad 114
        params = lb.get_params({"img": srcs[si]})
        out = lb(image=srcs[si].copy())
        tensors[f"letterbox.{k}"] = torch.from_numpy(np.ascontiguousarray(out))
        cases["letterbox"].append(
            {
                "name": f"letterbox.{k}",
                "src": f"src.{si}",
                "new_shape": list(shape),
                "auto": auto,
                "unpad_w": int(params["new_unpad"][0]),
                "unpad_h": int(params["new_unpad"][1]),
                "top": int(params["top"]),
                "bottom": int(params["bottom"]),
                "left": int(params["left"]),
                "right": int(params["right"]),
                "out_h": int(out.shape[0]),
                "out_w": int(out.shape[1]),
            }
        )

    meta = {
        "cases": cases,
        "generator": "tools/make_letterbox_fixtures.py",
        "opencv": cv2.__version__,
        "ultralytics": __import__("ultralytics").__version__,
    }
    size = fc.save_tensors(OUT, tensors, meta)
    OUT.chmod(0o644)
    print(f"wrote {fc.rel(OUT)} ({size} bytes, {len(tensors)} tensors)")


if __name__ == "__main__":
    main()
