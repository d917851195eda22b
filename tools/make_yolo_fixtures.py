#!/usr/bin/env python3
"""Detector reference fixtures -> fixtures/yolo/ (run tools/make_test_images.py first).

Part A, Detect outputs. Models built from crates/yolo11-ghost/models/*.yaml (nothing downloaded),
every state_dict tensor from the seeded generator (Detect class biases -6 + 8u so real detections
appear; the DFL conv keeps its fixed arange(16)), eval mode, BN eps 1e-3 (Ultralytics'
initialize_weights; asserted). If the weight file is stored in f16, the reference is computed from
the rounded weights. Per model `<key>.io.safetensors`:
  images                 [N, 3, 128, 160] f32 input (numpy default_rng(seed).random, in [0, 1))
  output0                [N, 4 + nc, 420] Detect eval output (xywh in input pixels, sigmoid scores)
  debug/feats.{0,1,2}    Detect inputs P3/P4/P5 (layers 12/15/18 ghost, 16/19/22 yolo11)
  debug/backbone.{1..4}  ghost models only: layer outputs 1-4 (GhostNet strides 4/8/16/32)
  debug/boxes, debug/scores   raw Detect logits before DFL/sigmoid: [N, 64, 420], [N, nc, 420]
and for the models with a real weight file `<key>.<dtype>.safetensors` written by
tools/export_ultralytics.py (Ultralytics state_dict names + metadata).

Part B, predict. Ultralytics `YOLO(...).predict` of yolo11n-ghost (same seeded weights) on every
image in fixtures/images at default settings (conf 0.25, iou 0.7, imgsz 640, rect letterbox) and at
imgsz 160 -> predict_yolo11n-ghost.json (boxes xyxy in original pixels, conf, cls), plus
predict_yolo11n-ghost.safetensors: the OpenCV-decoded images (what Ultralytics reads, RGB uint8 HWC),
the letterboxed input tensors and the raw model outputs (output0 of the fused model predict runs).

Usage: .venv-ref/bin/python tools/make_yolo_fixtures.py
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402

fc.ultralytics_offline()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import ultralytics  # noqa: E402
import yaml  # noqa: E402
from torch import nn  # noqa: E402
from ultralytics import YOLO  # noqa: E402
from ultralytics.nn.tasks import DetectionModel  # noqa: E402

import export_ultralytics as ex  # noqa: E402
import ghost_ultralytics  # noqa: E402
import seeded_weights as sw  # noqa: E402

ghost_ultralytics.register()

OUT = fc.FIXTURES / "yolo"
IMAGES = fc.FIXTURES / "images"
INPUT_HW = (128, 160)

MODELS = [
    # key, family yaml, scale, nc, global seed, weight file dtype (None: Rust regenerates from the seed),
    # input batch sizes
    dict(key="yolo11n", yaml="yolo11.yaml", scale="n", nc=80, seed=0x6057_1100, weights="f16", batches=(1,)),
    dict(key="yolo11n-ghost", yaml="yolo11-ghost.yaml", scale="n", nc=80, seed=0x6057_1101, weights="f32", batches=(1, 2)),
    dict(key="yolo11m-ghost", yaml="yolo11-ghost.yaml", scale="m", nc=80, seed=0x6057_1102, weights=None, batches=(1,)),
]
INPUT_SEEDS = {1: 2001, 2: 2002}
PREDICT_MODEL = "yolo11n-ghost"
PREDICT_IMGSZ = (640, 160)
# letterboxed tensors and raw outputs stored for every image at 160, and at 640 for this one only
FULL_TENSORS_640 = "gray_97x131.png"


def model_dict(cfg) -> dict:
    d = yaml.safe_load((fc.MODELS_DIR / cfg["yaml"]).read_text())
    d["scale"] = cfg["scale"]
    d["yaml_file"] = f"{cfg['key']}.yaml"
    d["nc"] = cfg["nc"]
    return d


def build(cfg) -> tuple[DetectionModel, dict, str]:
    """Seeded model (weights rounded to the storage dtype), its stored tensors, storage dtype."""
    torch.manual_seed(0)
    m = DetectionModel(model_dict(cfg), ch=3, verbose=False)
    m.names = {i: f"class{i}" for i in range(cfg["nc"])}
    sw.fill_module(m, cfg["seed"])
    dtype = cfg["weights"] or "f32"
    stored = fc.round_state_dict(m.state_dict(), dtype)
    fc.load_rounded(m, stored)
    eps = {b.eps for b in m.modules() if isinstance(b, nn.BatchNorm2d)}
    assert eps == {1e-3}, f"BN eps {eps}"
    dfl = m.model[-1].dfl.conv.weight.view(-1)
    assert torch.equal(dfl, torch.arange(16, dtype=torch.float32)), "DFL conv must stay arange(16)"
    return m.eval(), stored, dtype


def detect_io(m: DetectionModel, x: torch.Tensor) -> dict:
    """output0 and debug tensors for one input."""
    det = m.model[-1]
    cap = {}
    hooks = [det.register_forward_hook(lambda _m, i, o: cap.__setitem__("feats", [t.detach().clone() for t in i[0]]))]
    ghost = isinstance(m.model[0], ghost_ultralytics.GhostNet)
    if ghost:
        for k in range(1, 5):
            hooks.append(m.model[k].register_forward_hook(lambda _m, _i, o, k=k: cap.__setitem__(f"b{k}", o.detach().clone())))
    try:
        with torch.no_grad():
            y, preds = m(x)
    finally:
        for h in hooks:
            h.remove()
    out = {"output0": y.detach().clone()}
    for i, t in enumerate(cap["feats"]):
        out[f"debug/feats.{i}"] = t
    if ghost:
        for k in range(1, 5):
            out[f"debug/backbone.{k}"] = cap[f"b{k}"]
    out["debug/boxes"] = preds["boxes"].detach().clone()
    out["debug/scores"] = preds["scores"].detach().clone()
    return out


def make_detect_fixtures(manifest: dict) -> dict:
    models = {}
    for cfg in MODELS:
        m, stored, dtype = build(cfg)
        m64 = copy.deepcopy(m).double()
        entry = dict(
            key=cfg["key"],
            yaml=f"crates/yolo11-ghost/models/{cfg['yaml']}",
            scale=cfg["scale"],
            nc=cfg["nc"],
            global_seed=cfg["seed"],
            global_seed_hex=f"0x{cfg['seed']:x}",
            bn_eps=1e-3,
            weights_dtype=dtype,
            weights_file=None,
            params=sum(p.numel() for p in m.parameters()),
            state_dict_tensors=len(stored),
            files={},
        )
        if cfg["weights"]:
            wpath = OUT / f"{cfg['key']}.{dtype}.safetensors"
            meta = ex.export_model(m, wpath, dtype=dtype, imgsz=640)
            entry["weights_file"] = fc.rel(wpath)
            entry["weights_file_bytes"] = wpath.stat().st_size
            entry["weights_metadata_keys"] = sorted(meta)
        for n in cfg["batches"]:
            x = torch.from_numpy(np.random.default_rng(INPUT_SEEDS[n]).random((n, 3, *INPUT_HW), dtype=np.float32))
            res = detect_io(m, x)
            res64 = detect_io(m64, x.double())
            tensors = {"images": x, **{k: v.float() for k, v in res.items()}}
            name = f"{cfg['key']}.io.safetensors" if n == 1 else f"{cfg['key']}.b{n}.io.safetensors"
            path = OUT / name
            fc.save_tensors(
                path,
                tensors,
                {
                    "model": cfg["key"],
                    "yaml": entry["yaml"],
                    "scale": cfg["scale"],
                    "nc": str(cfg["nc"]),
                    "global_seed": str(cfg["seed"]),
                    "weights_dtype": dtype,
                    "input_numpy_seed": str(INPUT_SEEDS[n]),
                },
            )
            y, y64 = res["output0"], res64["output0"]
            scores = y[:, 4:]
            entry["files"][name] = dict(
                bytes=path.stat().st_size,
                input_numpy_seed=INPUT_SEEDS[n],
                shapes={k: list(v.shape) for k, v in tensors.items()},
                f32_vs_f64_max_abs={
                    "output0_boxes": (y[:, :4].double() - y64[:, :4]).abs().max().item(),
                    "output0_scores": (scores.double() - y64[:, 4:]).abs().max().item(),
                    "debug/feats.2": (res["debug/feats.2"].double() - res64["debug/feats.2"]).abs().max().item(),
                },
                max_abs={"output0_boxes": y[:, :4].abs().max().item(), "debug/feats.2": res["debug/feats.2"].abs().max().item()},
                anchors_with_best_score_gt_0_25=int((scores.amax(1) > 0.25).sum().item()),
                score_quantiles={q: float(scores.flatten().quantile(q)) for q in (0.5, 0.9, 0.99, 1.0)},
            )
            print(f"{cfg['key']} N={n}: output0 {list(y.shape)}, candidates {entry['files'][name]['anchors_with_best_score_gt_0_25']}")
        models[cfg["key"]] = (m, entry)
        manifest["models"].append(entry)
    return models


# ---------------------------------------------------------------------------------------------
# predict


def nms_margins(out: torch.Tensor, conf: float = 0.25, iou: float = 0.7, max_det: int = 300, max_wh: float = 7680.0) -> dict:
    """How close this prediction is to a decision boundary (guides the Rust test tolerances).

    Replays Ultralytics' NMS (best class per anchor, score > conf, class offset max_wh, greedy
    NMS keeping IoU <= iou in descending score order, then max_det) on one [4+nc, A] output and
    reports the smallest distances to each decision: score vs conf, pair IoU vs iou for every pair
    the greedy pass compares, score gaps between consecutive candidates, and the score gap at the
    max_det cut. A Rust result computed within a smaller error than these must reproduce the
    detections exactly.
    """
    from ultralytics.utils.metrics import box_iou
    from ultralytics.utils.ops import xywh2xyxy

    x = out.float()  # float32 like Ultralytics: xywh2xyxy and the class offset are rounded as it rounds them
    best, cls = x[4:].max(0)
    margins = {"score_vs_conf": float((best.double() - conf).abs().min())}
    keep_mask = best > conf
    boxes = xywh2xyxy(x[:4].T[keep_mask])
    scores, cls = best[keep_mask], cls[keep_mask].float()
    # torchvision's CPU nms sorts stably: equal scores keep anchor order (lower index first)
    order = torch.sort(scores, descending=True, stable=True)[1]
    anchors = keep_mask.nonzero().view(-1)[order]
    boxes, scores, cls = boxes[order], scores[order], cls[order]
    margins["candidates"] = int(scores.numel())
    if scores.numel() < 2:
        return margins
    margins["min_consecutive_score_gap"] = float((scores[:-1].double() - scores[1:].double()).min())
    off = (boxes + cls[:, None] * max_wh).double()  # offset in float32 (coarse for high class ids), IoU in f64
    ious = box_iou(off, off)
    kept = []
    closest = 1.0
    for j in range(scores.numel()):
        if kept:
            v = ious[j, kept]
            closest = min(closest, float((v - iou).abs().min()))
            if bool((v > iou).any()):
                continue
        kept.append(j)
    margins["pair_iou_vs_iou_thres"] = closest
    margins["kept_before_max_det"] = len(kept)
    margins["kept_anchors"] = anchors[kept[:max_det]].tolist()
    if len(kept) > max_det:
        margins["score_gap_at_max_det_cut"] = float(scores[kept[max_det - 1]] - scores[kept[max_det]])
    return margins


def make_predict_fixtures(m: DetectionModel, entry: dict, manifest: dict) -> None:
    import cv2
    from ultralytics.data.augment import LetterBox
    from ultralytics.utils.patches import imread

    y = YOLO(str(fc.MODELS_DIR / "yolo11-ghost.yaml"), task="detect")
    y.model = copy.deepcopy(m)  # the seeded (unfused) model; predict's AutoBackend fuses its own copy
    y.model.yaml["yaml_file"] = "yolo11n-ghost.yaml"

    captured = {}

    def hook(_m, inp, out):
        captured["im"] = inp[0].detach().clone()
        captured["out"] = (out[0] if isinstance(out, (list, tuple)) else out).detach().clone()

    images = sorted(p for p in IMAGES.iterdir() if p.suffix in (".png", ".jpg"))
    tensors = {}
    doc_images = []
    handle = None
    for p in images:
        bgr = imread(str(p))  # exactly how LoadImagesAndVideos reads it (IMREAD_COLOR: gray -> 3ch, alpha dropped)
        tensors[f"decoded/{p.name}"] = torch.from_numpy(np.ascontiguousarray(bgr[..., ::-1]))
        rec = dict(file=f"fixtures/images/{p.name}", orig_shape_hw=list(bgr.shape[:2]), runs={})
        for imgsz in PREDICT_IMGSZ:
            results = y.predict(source=str(p), imgsz=imgsz, conf=0.25, iou=0.7, verbose=False, save=False)
            if handle is None:  # first call set up the predictor: hook its (fused) model, then redo the call
                pm = y.predictor.model.model
                assert pm.is_fused(), "predict is expected to run the fused model"
                handle = pm.register_forward_hook(hook)
                results = y.predict(source=str(p), imgsz=imgsz, conf=0.25, iou=0.7, verbose=False, save=False)
            r = results[0]
            im, out = captured["im"], captured["out"]
            # our own LetterBox call must give the same tensor predict used
            lb = LetterBox(imgsz, auto=True, stride=32)
            params = lb.get_params({"img": bgr})
            if p.name == "tie_320x213.png" and imgsz == 160:  # 213 * 0.5 = 106.5: Python round() is half-to-even
                assert tuple(params["new_unpad"]) == (160, 106), params["new_unpad"]
            ref = lb(image=bgr)
            ref_t = torch.from_numpy(np.ascontiguousarray(ref[..., ::-1].transpose(2, 0, 1))).float()[None] / 255
            assert torch.equal(ref_t, im), f"{p.name}@{imgsz}: letterbox mismatch"
            boxes = r.boxes
            dets = [
                dict(xyxy=[float(v) for v in b], conf=float(c), cls=int(k))
                for b, c, k in zip(boxes.xyxy.tolist(), boxes.conf.tolist(), boxes.cls.tolist())
            ]
            run = dict(
                imgsz=imgsz,
                input_shape=list(im.shape),
                letterbox=dict(
                    new_unpad_wh=list(params["new_unpad"]),
                    ratio=list(params["ratio"]),
                    top=params["top"],
                    bottom=params["bottom"],
                    left=params["left"],
                    right=params["right"],
                ),
                candidates_best_score_gt_conf=int((out[0, 4:].amax(0) > 0.25).sum().item()),
                num_detections=len(dets),
                decision_margins=nms_margins(out[0]),
                detections=dets,
                to_json=json.loads(r.to_json()),
            )
            anchors = run["decision_margins"].pop("kept_anchors", [])
            assert len(anchors) == len(dets), "NMS replay differs"
            for det, a in zip(dets, anchors):  # the replay found the same detections, in the same order
                assert det["conf"] == float(out[0, 4:, a].max()) and det["cls"] == int(out[0, 4:, a].argmax()), "NMS replay differs"
                det["anchor"] = a
            rec["runs"][str(imgsz)] = run
            if imgsz == 160 or p.name == FULL_TENSORS_640:
                tensors[f"images/{p.name}@{imgsz}"] = im
                tensors[f"output0/{p.name}@{imgsz}"] = out
            print(f"predict {p.name} @{imgsz}: input {list(im.shape)}, {len(dets)} detections, {run['candidates_best_score_gt_conf']} candidates")
        doc_images.append(rec)
    handle.remove()

    path = OUT / f"predict_{PREDICT_MODEL}.safetensors"
    fc.save_tensors(path, tensors, {"model": PREDICT_MODEL, "global_seed": str(entry["global_seed"])})
    doc = dict(
        about="Ultralytics predict of yolo11n-ghost with seeded weights (see fixtures/README.md).",
        command=".venv-ref/bin/python tools/make_yolo_fixtures.py",
        ultralytics=ultralytics.__version__,
        torch=torch.__version__,
        opencv=cv2.__version__,
        model=PREDICT_MODEL,
        yaml=entry["yaml"],
        global_seed=entry["global_seed"],
        weights_file=entry["weights_file"],
        settings=dict(conf=0.25, iou=0.7, max_det=300, agnostic_nms=False, classes=None, rect=True, half=False,
                      fused=True, imgsz=list(PREDICT_IMGSZ)),
        tensors_file=fc.rel(path),
        tensors_note="decoded/<file>: uint8 [h,w,3] RGB as Ultralytics' imread decodes it (BGR flipped); "
        "images/<file>@<imgsz>: f32 [1,3,H,W] model input; output0/<file>@<imgsz>: f32 [1,84,A] raw fused-model "
        f"output for that input. images/output0 stored for every image at 160 and for {FULL_TENSORS_640} at 640.",
        images=doc_images,
    )
    (OUT / f"predict_{PREDICT_MODEL}.json").write_text(json.dumps(doc, indent=1) + "\n")
    manifest["predict"] = dict(json=f"fixtures/yolo/predict_{PREDICT_MODEL}.json", tensors=fc.rel(path))


def main() -> None:
    torch.use_deterministic_algorithms(True)
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = dict(
        about="YOLO11 / YOLO11-GhostNet reference fixtures; see fixtures/README.md",
        command=".venv-ref/bin/python tools/make_yolo_fixtures.py",
        ultralytics=ultralytics.__version__,
        torch=torch.__version__,
        input_hw=list(INPUT_HW),
        input_numpy_seeds=INPUT_SEEDS,
        models=[],
    )
    models = make_detect_fixtures(manifest)
    m, entry = models[PREDICT_MODEL]
    make_predict_fixtures(m, entry, manifest)
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for p in OUT.iterdir():
        p.chmod(0o644)
    total = sum(p.stat().st_size for p in OUT.iterdir()) + sum(p.stat().st_size for p in IMAGES.iterdir())
    print(f"fixtures/yolo + fixtures/images total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
