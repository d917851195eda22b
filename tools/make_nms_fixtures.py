#!/usr/bin/env python3
"""Ultralytics NMS / scale_boxes reference fixtures -> fixtures/nms/nms.safetensors.

Synthetic raw predictions in the layout of a YOLO11 `output0` item ([1, 4 + nc, anchors]: cx, cy, w, h
in input pixels, then sigmoid class scores) designed to stress the decisions that must match exactly:
clusters of heavily overlapping boxes on integer / half-pixel coordinates (IoU ties near the
threshold), scores quantised to a few levels (exact score ties, ties between classes), scores on both
sides of the confidence threshold, several classes per cluster (class-aware vs agnostic).

Each case runs `ultralytics.utils.nms.non_max_suppression` exactly as `DetectionPredictor.postprocess`
calls it (torchvision imported, as it is during predict), then `ops.scale_boxes` to a few original image
shapes. Stored:

  pred.{p}                 f32 [1, 4 + nc, A]   the raw prediction
  out.{k}                  f32 [n, 6]           NMS rows (x1, y1, x2, y2, conf, cls), kept order
  scaled.{k}.{s}           f32 [n, 4]           out.{k} boxes after scale_boxes(input_hw, ., orig_hw)

and the case parameters as JSON in the metadata key `cases`.

Usage: .venv-ref/bin/python tools/make_nms_fixtures.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402  (sets offline env first)

fc.ultralytics_offline()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402,F401  (predict imports it; non_max_suppression then uses torchvision.ops.nms)
from ultralytics.utils import nms, ops  # noqa: E402

OUT = fc.FIXTURES / "nms" / "nms.safetensors"


def clustered_prediction(rng, nc: int, anchors: int, input_hw, levels: int | None) -> np.ndarray:
    """[1, 4 + nc, anchors]: boxes jittered around a few cluster centres, quantised to 0.5 px."""
    h, w = input_hw
    n_clusters = max(anchors // 40, 2)
    centres = np.stack([rng.uniform(0, w, n_clusters), rng.uniform(0, h, n_clusters)], 1)
    sizes = np.stack([rng.uniform(8, w / 3, n_clusters), rng.uniform(8, h / 3, n_clusters)], 1)
    which = rng.integers(0, n_clusters, anchors)
    cxcy = centres[which] + rng.normal(0, 1, (anchors, 2)) * sizes[which] * 0.08
    wh = sizes[which] * rng.uniform(0.8, 1.25, (anchors, 2))
    boxes = np.round(np.concatenate([cxcy, wh], 1) * 2) / 2  # half-pixel grid: exact IoU ties happen
    scores = rng.uniform(0, 1, (anchors, nc)) ** 3  # most low, a tail above conf
    if levels:
        scores = np.round(scores * levels) / levels  # exact ties within and across classes
    pred = np.concatenate([boxes, scores], 1).T[None].astype(np.float32)
    return np.ascontiguousarray(pred)


PREDICTIONS = [
    # name, nc, anchors, input (h, w), score levels (None: continuous), seed
    ("p0", 3, 1200, (640, 640), 40, 11),
    ("p1", 80, 300, (480, 640), 20, 12),
    ("p2", 5, 900, (384, 640), None, 13),
]

CASES = [
    # pred, conf, iou, classes, agnostic, max_det, max_nms (None: Ultralytics default 30000)
    ("p0", 0.25, 0.7, None, False, 300, None),
    ("p0", 0.25, 0.7, None, True, 300, None),
    ("p0", 0.1, 0.45, [0, 2], False, 300, None),
    ("p0", 0.3, 0.5, None, False, 7, None),
    ("p1", 0.25, 0.7, None, False, 300, None),
    ("p1", 0.05, 0.3, None, False, 300, None),
    ("p1", 0.05, 0.6, [1, 5, 79], True, 300, None),
    ("p2", 0.25, 0.7, None, False, 300, None),
    ("p2", 0.2, 0.5, None, False, 300, 40),
]

# original (h, w) shapes each case's boxes are scaled back to
ORIG_SHAPES = {
    (640, 640): [(480, 640), (640, 427), (1080, 1920), (3, 1000)],
    (480, 640): [(480, 640), (720, 1280), (375, 500)],
    (384, 640): [(360, 640), (1080, 1920), (405, 677)],
}


def main() -> None:
    tensors: dict[str, torch.Tensor] = {}
    cases = {"predictions": [], "nms": []}
    preds = {}
    for name, nc, anchors, hw, levels, seed in PREDICTIONS:
        pred = clustered_prediction(np.random.default_rng(seed), nc, anchors, hw, levels)
        preds[name] = (torch.from_numpy(pred), hw)
        tensors[f"pred.{name}"] = torch.from_numpy(pred)
        cases["predictions"].append({"name": f"pred.{name}", "nc": nc, "anchors": anchors, "input_hw": list(hw)})

    for k, (p, conf, iou, classes, agnostic, max_det, max_nms) in enumerate(CASES):
        pred, hw = preds[p]
        kwargs = {} if max_nms is None else {"max_nms": max_nms}
        (out,) = nms.non_max_suppression(
            pred.clone(), conf, iou, classes, agnostic, max_det=max_det, nc=0, **kwargs
        )
        tensors[f"out.{k}"] = out.contiguous()
        scaled = []
        for s, orig in enumerate(ORIG_SHAPES[hw]):
            boxes = ops.scale_boxes(hw, out[:, :4].clone(), orig)
            tensors[f"scaled.{k}.{s}"] = boxes.contiguous()
            scaled.append({"name": f"scaled.{k}.{s}", "orig_hw": list(orig)})
        cases["nms"].append(
            {
                "name": f"out.{k}",
                "pred": f"pred.{p}",
                "input_hw": list(hw),
                "conf": conf,
                "iou": iou,
                "classes": classes,
                "agnostic": agnostic,
                "max_det": max_det,
                "max_nms": max_nms if max_nms is not None else 30000,
                "kept": int(out.shape[0]),
                "scaled": scaled,
            }
        )
        print(f"case {k}: {p} conf={conf} iou={iou} classes={classes} agnostic={agnostic} -> {out.shape[0]} kept")

    meta = {
        "cases": cases,
        "generator": "tools/make_nms_fixtures.py",
        "ultralytics": __import__("ultralytics").__version__,
        "torchvision": torchvision.__version__,
    }
    size = fc.save_tensors(OUT, tensors, meta)
    OUT.chmod(0o644)
    print(f"wrote {fc.rel(OUT)} ({size} bytes, {len(tensors)} tensors)")


if __name__ == "__main__":
    main()
