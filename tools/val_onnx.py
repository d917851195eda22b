#!/usr/bin/env python3
"""mAP50 / mAP50-95 of ONNX models (FP32 exports and ORT QDQ INT8 of tools/ort_int8.py) with
Ultralytics' own validator running them on ONNX Runtime's CPU provider (issue 20's peer accuracy).

`YOLO(model, task="detect").val(data=..., imgsz=..., batch=1)`: conf 0.001, iou 0.7, max_det 300,
Ultralytics' defaults, the ones `ghost-yolo val` uses. With a model exported `--dynamic` (symbolic
batch/height/width) the validator keeps `rect=True`, so each image is letterboxed to its own
stride-32 rectangle exactly as `ghost-yolo val --batch 1` does; a fixed-shape export would make it
pad every image to a square imgsz x imgsz instead (a different input, not the same comparison).

Usage (pins of tools/requirements.txt):
  .venv-ref/bin/python tools/val_onnx.py --data val400/data.yaml --imgsz 320 n-fp32.onnx n-int8.onnx [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402

fc.ultralytics_offline()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--data", required=True)
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    import onnxruntime as ort
    from ultralytics import YOLO

    rows = []
    for m in args.models:
        sess = ort.InferenceSession(str(m), providers=["CPUExecutionProvider"])
        if not isinstance(sess.get_outputs()[0].shape[0], str):
            print(f"warning: {m} has a fixed input shape: Ultralytics will letterbox square (rect off)", file=sys.stderr)
        del sess
        r = YOLO(str(m), task="detect").val(data=args.data, imgsz=args.imgsz, batch=args.batch, device="cpu", plots=False, verbose=False)
        row = {"model": str(m), "map50": float(r.box.map50), "map50_95": float(r.box.map), "precision": float(r.box.mp), "recall": float(r.box.mr)}
        rows.append(row)
        print(f"{m}: mAP50 {row['map50']:.4f}  mAP50-95 {row['map50_95']:.4f}  P {row['precision']:.4f}  R {row['recall']:.4f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"data": args.data, "imgsz": args.imgsz, "batch": args.batch, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
