#!/usr/bin/env python3
"""Ultralytics reference results of the shipped default model on the shipped images.

Inputs (all committed):
  crates/yolo11-ghost/assets/yolo11n-ghost-shapes.safetensors   trained yolo11n-ghost, 6 shape classes (docs/training.md)
  fixtures/synthetic/                                 held-out val split (data.yaml, images/val, labels/val)
  fixtures/images/shapes/shapes_val_*.jpg                 showcase copies of a few of those images
Outputs:
  fixtures/models/predict_expected.json   Ultralytics predict per image (imgsz 320, conf 0.25, iou 0.7, max_det 300)
  fixtures/models/val_expected.json       Ultralytics val on fixtures/synthetic (batch 1 and batch 16)

The model is rebuilt from the safetensors file (its `model_yaml` metadata, nc, names), the stored f16 tensors
are upcast to f32 (exact) and loaded: Ultralytics runs on exactly the values the file holds, in f32 on CPU.
Predict and val go through `YOLO.predict` / `YOLO.val` (AutoBackend fuses the BNs, like the .pt path).
Val runs on a temporary copy of fixtures/synthetic so Ultralytics' label cache (labels/val.cache) never
lands in the repository.

Usage: .venv-ref/bin/python tools/make_default_model_fixtures.py [--full-val /work/train/val400/data.yaml]
(--full-val only prints the metrics of another split for docs/training.md; nothing is written for it)
"""

from __future__ import annotations

import argparse
import os
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import fixture_common as fc  # noqa: E402

ultralytics = fc.ultralytics_offline()

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors import safe_open  # noqa: E402
from ultralytics import YOLO  # noqa: E402
from ultralytics.nn.tasks import DetectionModel  # noqa: E402

import ghost_ultralytics  # noqa: E402

ghost_ultralytics.register()

WEIGHTS = fc.REPO / "crates" / "yolo11-ghost" / "assets" / "yolo11n-ghost-shapes.safetensors"
SYNTH = fc.FIXTURES / "synthetic"
SHOWCASE = sorted((fc.FIXTURES / "images" / "shapes").glob("shapes_val_*.jpg"))
OUT = fc.FIXTURES / "models"
CONF, IOU, MAX_DET = 0.25, 0.7, 300


def load_model() -> tuple[YOLO, dict]:
    with safe_open(str(WEIGHTS), "pt") as f:
        meta = f.metadata()
        stored = {k: f.get_tensor(k) for k in f.keys()}
    d = json.loads(meta["model_yaml"])
    names = json.loads(meta["names"])
    assert int(meta["nc"]) == len(names) == d["nc"], meta
    m = DetectionModel(d, nc=len(names), verbose=False)
    fc.load_rounded(m, stored)
    m.names = dict(enumerate(names))
    m.args = {"imgsz": int(meta["imgsz"])}
    m.eval()
    y = YOLO(str(fc.MODELS_DIR / "yolo11-ghost.yaml"), task="detect")
    y.model = m
    y.model.yaml["yaml_file"] = meta["yaml_file"]
    return y, meta


def predict_all(y: YOLO, imgsz: int, names: list[str]) -> list[dict]:
    from ultralytics.data.augment import LetterBox

    captured = {}

    def hook(_m, inp, out):
        captured["im"] = inp[0].detach().clone()

    files = list(SHOWCASE) + sorted((SYNTH / "images" / "val").glob("*.jpg"))
    out, handle = [], None
    for p in files:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)  # what Ultralytics' LoadImagesAndVideos does (imdecode, BGR)
        kw = dict(imgsz=imgsz, conf=CONF, iou=IOU, max_det=MAX_DET, verbose=False, save=False, device="cpu")
        r = y.predict(source=str(p), **kw)[0]
        if handle is None:
            pm = y.predictor.model.model
            assert pm.is_fused(), "predict is expected to run the fused model"
            handle = pm.register_forward_hook(hook)
            r = y.predict(source=str(p), **kw)[0]
        # the model input equals a direct LetterBox(imgsz, auto=True, stride=32) of the cv2-decoded image
        lb = LetterBox(imgsz, auto=True, stride=32)
        params = lb.get_params({"img": bgr})
        ref = lb(image=bgr)
        ref_t = torch.from_numpy(np.ascontiguousarray(ref[..., ::-1].transpose(2, 0, 1))).float()[None] / 255
        assert torch.equal(ref_t, captured["im"]), f"{p.name}: letterbox mismatch"
        b = r.boxes
        dets = [
            dict(**{"class": int(k)}, name=names[int(k)], confidence=float(c), box=[float(v) for v in xyxy])
            for xyxy, c, k in zip(b.xyxy.tolist(), b.conf.tolist(), b.cls.tolist())
        ]
        out.append(
            dict(
                file=fc.rel(p),
                orig_shape_hw=list(bgr.shape[:2]),
                input_shape=list(captured["im"].shape),
                letterbox=dict(new_unpad_wh=list(params["new_unpad"]), top=params["top"], bottom=params["bottom"],
                               left=params["left"], right=params["right"]),
                detections=dets,
            )
        )
    handle.remove()
    return out


def run_val(y: YOLO, data_yaml: Path, imgsz: int, batch: int, names: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = dict(imgsz=imgsz, batch=batch, conf=0.001, iou=0.7, max_det=300, plots=False, rect=True,
                        half=False, device="cpu", split="val", save_json=False, verbose=False)
        # what YOLO.val does (args = {**overrides, rect=True, **kwargs, mode=val}; validator(model=model)),
        # keeping the validator to read its dataset and per-class counts
        from ultralytics.models.yolo.detect import DetectionValidator

        args = {**y.overrides, "rect": True, **settings, "data": str(data_yaml), "project": tmp, "name": "val",
                "mode": "val"}
        v = DetectionValidator(args=args, _callbacks=y.callbacks)
        v(model=y.model)
        m = v.metrics
        ds = v.dataloader.dataset
        box = m.box
        per_class = {}
        for i, c in enumerate(box.ap_class_index.tolist()):
            per_class[names[int(c)]] = dict(ap50=float(box.ap50[i]), ap50_95=float(box.ap[i]),
                                            p=float(box.p[i]), r=float(box.r[i]),
                                            instances=int(v.metrics.nt_per_class[int(c)]))
        shapes = sorted({tuple(int(s) for s in bs) for bs in ds.batch_shapes.tolist()}) if ds.rect else []
        # per image: the letterboxed input [H, W] it was evaluated at (rect: its batch's shape), in file-name order
        per_image = {Path(f).name: [int(x) for x in ds.batch_shapes[ds.batch[i]]] for i, f in enumerate(ds.im_files)}
        return dict(
            settings=dict(settings, data=fc.rel(data_yaml) if str(data_yaml).startswith(str(fc.REPO)) else str(data_yaml)),
            images=len(ds),
            instances=int(v.metrics.nt_per_class.sum()),
            precision=float(box.mp),
            recall=float(box.mr),
            map50=float(box.map50),
            map50_95=float(box.map),
            fitness=float(m.fitness),
            per_class=per_class,
            rect_batch_shapes_hw=[list(s) for s in shapes],
            input_shape_hw_per_image=dict(sorted(per_image.items())),
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full-val", type=Path, default=None, help="also print val metrics of this data.yaml (not stored)")
    ap.add_argument("--skip-predict", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)  # single-threaded: reproducible float reductions
    y, meta = load_model()
    names = json.loads(meta["names"])
    imgsz = int(meta["imgsz"])
    common = dict(
        ultralytics=ultralytics.__version__, torch=torch.__version__, opencv=cv2.__version__,
        command=".venv-ref/bin/python tools/make_default_model_fixtures.py",
        weights_file=fc.rel(WEIGHTS), weights_dtype=meta["dtype"], names=names, imgsz=imgsz,
    )
    if not a.skip_predict:
        images = predict_all(y, imgsz, names)
        doc = dict(
            about="Ultralytics YOLO.predict of the shipped default model (fused, f32 on CPU, one image per call; "
            "images read by OpenCV as BGR like Ultralytics' loader; boxes xyxy in original-image pixels). "
            "See fixtures/README.md.",
            **common,
            settings=dict(imgsz=imgsz, conf=CONF, iou=IOU, max_det=MAX_DET, agnostic_nms=False, classes=None,
                          letterbox="LetterBox(imgsz, auto=True, stride=32): long side to imgsz, pad to a multiple "
                          "of 32 (centered, value 114)", half=False, fused=True),
            images=images,
        )
        (OUT / "predict_expected.json").write_text(json.dumps(doc, indent=1) + "\n")
        n = sum(len(i["detections"]) for i in images)
        print(f"predict_expected.json: {len(images)} images, {n} detections")

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "synthetic"
        shutil.copytree(SYNTH, copy, ignore=shutil.ignore_patterns("*.cache"))
        runs = {f"batch{b}": run_val(y, copy / "data.yaml", imgsz, b, names) for b in (1, 16)}
    for r in runs.values():
        r["settings"]["data"] = fc.rel(SYNTH / "data.yaml")
    doc = dict(
        about="Ultralytics YOLO.val of the shipped default model on fixtures/synthetic (held-out images, long side "
        "= imgsz so load_image does not resize). box.mp/mr/map50/map = precision/recall/map50/map50_95. "
        "See docs/training.md for the val letterbox shape rule.",
        **common,
        runs=runs,
    )
    (OUT / "val_expected.json").write_text(json.dumps(doc, indent=1) + "\n")
    for k, r in runs.items():
        print(f"val {k}: {r['images']} images {r['instances']} instances P {r['precision']:.4f} R {r['recall']:.4f} "
              f"mAP50 {r['map50']:.4f} mAP50-95 {r['map50_95']:.4f}; batch shapes {r['rect_batch_shapes_hw']}")
    if a.full_val:
        r = run_val(y, a.full_val, imgsz, 16, names)
        r.pop("rect_batch_shapes_hw")
        r.pop("input_shape_hw_per_image")
        print(f"full val {a.full_val}: {json.dumps(r, indent=1)}")


if __name__ == "__main__":
    main()
