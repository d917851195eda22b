#!/usr/bin/env python3
"""Fixture for `ghost-yolo val`'s metrics: Ultralytics' own matching and AP code on seeded cases.

For each case a random set of ground-truth boxes and predictions (some near-copies of a target,
some background, several classes, confidences with deliberate ties) is run through the exact
Ultralytics 8.4 functions the detection validator uses:
  - `ultralytics.utils.metrics.box_iou` (f32) and `BaseValidator.match_predictions` (greedy, per
    IoU threshold of `torch.linspace(0.5, 0.95, 10)`), image by image;
  - `ultralytics.utils.metrics.ap_per_class` over all images (101-point COCO AP, max-F1 P and R);
  - `DetMetrics`-style means: mp, mr, map50, map.
Writes fixtures/metrics/metrics_cases.json: per case the inputs (per image: target classes and
xyxy boxes, prediction xyxy boxes, confidences and classes in descending-confidence order) and the
outputs (the tp matrix, per-class p, r, ap[10], unique classes, and the four means), plus under
"stable" the AP results with confidence ties broken by input position (see make_case).

Usage: .venv-ref/bin/python tools/make_metrics_fixtures.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402

fc.ultralytics_offline()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from ultralytics.engine.validator import BaseValidator  # noqa: E402
from ultralytics.utils.metrics import ap_per_class, box_iou  # noqa: E402

IOUV = torch.linspace(0.5, 0.95, 10)


class _Matcher:
    """Just enough of a validator to call BaseValidator.match_predictions unbound."""

    iouv = IOUV


def make_case(rng: np.random.Generator, n_images: int, nc: int, tie_step: float | None) -> dict:
    images = []
    for _ in range(n_images):
        nt = int(rng.integers(0, 7))
        t_cls = rng.integers(0, nc, size=nt)
        xy = rng.uniform(0, 280, size=(nt, 2))
        wh = rng.uniform(12, 120, size=(nt, 2))
        t_box = np.concatenate([xy, xy + wh], 1).astype(np.float32)
        preds = []
        for k in range(nt):
            for _ in range(int(rng.integers(0, 3))):  # near-copies, possibly of the wrong class
                jitter = rng.normal(0, rng.choice([1.0, 4.0, 10.0]), size=4)
                c = t_cls[k] if rng.random() < 0.85 else rng.integers(0, nc)
                preds.append((t_box[k] + jitter, c))
        for _ in range(int(rng.integers(0, 4))):  # background
            xy = rng.uniform(0, 280, size=2)
            wh = rng.uniform(8, 90, size=2)
            preds.append((np.concatenate([xy, xy + wh]), rng.integers(0, nc)))
        n = len(preds)
        conf = rng.uniform(0.001, 1.0, size=n)
        if tie_step:
            conf = np.maximum(np.round(conf / tie_step) * tie_step, tie_step)
        order = np.argsort(-conf, kind="stable")
        p_box = np.array([preds[i][0] for i in order], dtype=np.float32).reshape(-1, 4)
        p_cls = np.array([preds[i][1] for i in order], dtype=np.int64)
        p_conf = conf[order].astype(np.float32)
        if nt and n:
            iou = box_iou(torch.from_numpy(t_box), torch.from_numpy(p_box))
            tp = BaseValidator.match_predictions(
                _Matcher(), torch.from_numpy(p_cls), torch.from_numpy(t_cls), iou
            ).numpy()
        else:
            tp = np.zeros((n, 10), dtype=bool)
        images.append(
            {
                "target_cls": t_cls.tolist(),
                "target_boxes": t_box.tolist(),
                "pred_boxes": p_box.tolist(),
                "pred_conf": p_conf.tolist(),
                "pred_cls": p_cls.tolist(),
                "tp": tp.astype(int).tolist(),
            }
        )
    tp = np.concatenate([np.array(im["tp"], dtype=bool).reshape(-1, 10) for im in images])
    conf = np.concatenate([np.array(im["pred_conf"], dtype=np.float32) for im in images])
    pcls = np.concatenate([np.array(im["pred_cls"], dtype=np.int64) for im in images])
    tcls = np.concatenate([np.array(im["target_cls"], dtype=np.int64) for im in images])
    _, _, p, r, _, ap, uc, *_ = ap_per_class(tp, conf, pcls, tcls)
    # Equal confidences: NumPy's argsort(-conf) (not stable) decides their order, so the result
    # above is implementation-defined. The stable reference breaks every tie by input position
    # with a 1e-9 nudge in f64 (well below any curve feature), which makes argsort's order unique.
    nudged = conf.astype(np.float64) - np.arange(len(conf)) * 1e-9
    _, _, sp, sr, _, sap, _, *_ = ap_per_class(tp, nudged, pcls, tcls)
    return {
        "nc": nc,
        "tie_step": tie_step,
        "images": images,
        "unique_classes": uc.tolist(),
        "p": p.tolist(),
        "r": r.tolist(),
        "ap": ap.tolist(),
        "mp": float(p.mean()) if len(p) else 0.0,
        "mr": float(r.mean()) if len(r) else 0.0,
        "map50": float(ap[:, 0].mean()) if len(ap) else 0.0,
        "map": float(ap.mean()) if len(ap) else 0.0,
        "stable": {
            "p": sp.tolist(),
            "r": sr.tolist(),
            "ap": sap.tolist(),
            "map50": float(sap[:, 0].mean()) if len(sap) else 0.0,
            "map": float(sap.mean()) if len(sap) else 0.0,
        },
    }


def main() -> None:
    rng = np.random.default_rng(20261128)
    cases = [
        make_case(rng, n_images=1, nc=1, tie_step=None),
        make_case(rng, n_images=6, nc=3, tie_step=None),
        make_case(rng, n_images=20, nc=5, tie_step=None),
        make_case(rng, n_images=40, nc=6, tie_step=None),
        make_case(rng, n_images=15, nc=4, tie_step=0.05),
    ]
    out = fc.FIXTURES / "metrics" / "metrics_cases.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "about": __doc__.strip().splitlines()[0],
        "command": ".venv-ref/bin/python tools/make_metrics_fixtures.py",
        "ultralytics": __import__("ultralytics").__version__,
        "iou_thresholds": IOUV.tolist(),
        "cases": cases,
    }
    out.write_text(json.dumps(doc))
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
