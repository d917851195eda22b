#!/usr/bin/env python3
"""ONNX Runtime static INT8 (QDQ) of a ghost-yolo model: the peer of `ghost-yolo quantize` (issue 20).

Exports the model to ONNX as tools/bench_peers.py does (Ultralytics build, BatchNorm folded,
`output0`, opset 17; `--dynamic` for symbolic batch / height / width so that Ultralytics'
validator keeps its `rect` letterbox), then runs `onnxruntime.quantization.quantize_static`:
  - QDQ format, weights s8 symmetric per output channel, activations u8 asymmetric per tensor,
    MinMax calibration (ORT's defaults for the rest: 8-bit weights, no `reduce_range`);
  - calibrated on the same images, with the same letterbox, as `ghost-yolo quantize`: the first
    `--images` files (sorted by name) of the data YAML's `--split`, square letterbox at `--imgsz`
    without upscaling, pad 114, centred (Ultralytics' `LetterBox(auto=False, scaleup=False)`, which
    ghost-yolo's `Letterbox` reproduces), RGB, /255; images decoded by OpenCV (ours: its own JPEG
    decoder, which may differ by a code value on some pixels).
Variants (`--variant`):
  conv       every Conv node INT8 (`op_types_to_quantize=["Conv"]`): ORT's INT8 of the whole model;
  like-ours  Conv nodes INT8 only where the `--ours` INT8 safetensors file quantized the same conv
             (it has `{conv}.weight_scale`); every other Conv (our FP32 layers: first conv, box
             branch, depthwise, Winograd, narrow, SE, DFL) is in `nodes_to_exclude`;
  all        `quantize_static`'s default op types (Conv, Mul, Add, Concat, Resize, MaxPool ...).
Either way ORT quantizes each INT8 Conv's output as well (QDQ on both sides, so that its CPU
provider can fuse DQ -> Conv -> Q into QLinearConv); ours dequantizes the output in the kernel's
epilogue. That is ORT's scheme, left as it is.

Usage (pins of tools/requirements.txt):
  .venv-ref/bin/python tools/ort_int8.py --imgsz 320 --data calib300/data.yaml --dynamic \\
      --variant like-ours --ours d8.safetensors -o n-like-ours.onnx --fp32-onnx n-fp32.onnx
  .venv-ref/bin/python tools/ort_int8.py -m yolo11m-ghost --imgsz 640 --images 4 \\
      --data fixtures/synthetic/data.yaml -o m-conv.onnx --seeded-out m.safetensors
Default model: the embedded weights (crates/yolo11-ghost/assets/yolo11n-ghost-shapes.safetensors).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

DEFAULT_WEIGHTS = REPO / "crates" / "yolo11-ghost" / "assets" / "yolo11n-ghost-shapes.safetensors"
IMAGE_EXTS = {".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"}


def calibration_images(data_yaml: Path, split: str, count: int) -> list[Path]:
    """The first `count` image files (sorted by path) of the YAML's split, as `ghost-yolo quantize`."""
    import yaml

    d = yaml.safe_load(data_yaml.read_text())
    root = Path(d.get("path") or data_yaml.parent)
    if not root.is_absolute():
        root = data_yaml.parent / root
    entries = d[split] if isinstance(d[split], list) else [d[split]]
    files: list[Path] = []
    for e in entries:
        p = Path(e) if Path(e).is_absolute() else root / e
        if p.is_dir():
            files += [f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTS]
        elif p.suffix == ".txt":
            files += [Path(line.strip()) if Path(line.strip()).is_absolute() else root / line.strip() for line in p.read_text().splitlines() if line.strip()]
        else:
            raise SystemExit(f"{data_yaml}: split {split!r} entry {e!r} is neither a directory nor a .txt list")
    files.sort()
    if not files:
        raise SystemExit(f"{data_yaml}: no images in split {split!r}")
    if len(files) < count:
        print(f"calibration: {len(files)} images < {count}: all used", file=sys.stderr)
    return files[:count]


def letterboxed(path: Path, imgsz: int):
    """One calibration input, 1x3xSxS float32 in [0, 1] (ghost-yolo quantize's letterbox)."""
    import cv2
    import numpy as np
    from ultralytics.data.augment import LetterBox

    bgr = cv2.imread(str(path))
    if bgr is None:
        raise SystemExit(f"{path}: cannot decode the image")
    boxed = LetterBox((imgsz, imgsz), auto=False, scaleup=False, center=True)(image=bgr)
    rgb = boxed[:, :, ::-1].transpose(2, 0, 1)
    return np.ascontiguousarray(rgb, dtype=np.float32)[None] / 255.0


def our_int8_convs(int8_file: Path) -> set[str]:
    """The convs (state_dict prefixes) the ghost-yolo INT8 file runs in INT8."""
    from safetensors import safe_open

    with safe_open(str(int8_file), "np") as f:
        if "quantization" not in (f.metadata() or {}):
            raise SystemExit(f"{int8_file}: not a ghost-yolo INT8 file (no `quantization` metadata)")
        return {k.removesuffix(".weight_scale") for k in f.keys() if k.endswith(".weight_scale")}


def conv_name(node) -> str:
    """A Conv node's module path from its weight's name (the TorchScript exporter keeps parameter
    names): `inner.model.2.cv1.conv.weight` -> `model.2.cv1.conv`."""
    w = node.input[1]
    if not w.endswith(".weight"):
        raise SystemExit(f"Conv node {node.name}: weight {w!r} has no parameter name to match ours by")
    return w.removeprefix("inner.").removesuffix(".weight")


def quantize(fp32_onnx: Path, out: Path, images: list[Path], imgsz: int, variant: str, ours: Path | None, keep_fp32: tuple[str, ...] | list[str] = ()) -> dict:
    """quantize_static as described above; returns counts for the report."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(images)

        def get_next(self):
            p = next(self.it, None)
            return None if p is None else {"images": letterboxed(p, imgsz)}

    convs = [n for n in onnx.load(str(fp32_onnx)).graph.node if n.op_type == "Conv"]
    exclude: list[str] = []
    if variant == "like-ours":
        if ours is None:
            raise SystemExit("--variant like-ours needs --ours INT8_FILE")
        keep = our_int8_convs(ours)
        exclude = [n.name for n in convs if conv_name(n) not in keep]
        missing = keep - {conv_name(n) for n in convs}
        if missing:
            raise SystemExit(f"{ours}: INT8 convs with no Conv node in the ONNX graph: {sorted(missing)[:5]} ...")
    # `--keep-fp32`: Conv nodes whose module path contains one of these strings stay FP32 too.
    exclude += [n.name for n in convs if any(k in conv_name(n) for k in keep_fp32) and n.name not in exclude]
    quantize_static(
        str(fp32_onnx),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=None if variant == "all" else ["Conv"],
        per_channel=True,
        reduce_range=False,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=exclude,
        calibrate_method=CalibrationMethod.MinMax,
    )
    q = onnx.load(str(out))
    meta = {p.key: p.value for p in onnx.load(str(fp32_onnx)).metadata_props}
    for k, v in {**meta, "quantization": f"onnxruntime quantize_static QDQ {variant}: weights s8 per channel, activations u8 per tensor, MinMax over {len(images)} image(s) at imgsz {imgsz}"}.items():
        q.metadata_props.add(key=k, value=v)
    onnx.save(q, str(out))
    return {"convs": len(convs), "int8_convs": len(convs) - len(exclude), "images": len(images)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", default="yolo11n-ghost")
    ap.add_argument("-w", "--weights", help=f"safetensors weights (default: {DEFAULT_WEIGHTS.name} for yolo11n-ghost, else the seeded weights)")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--data", type=Path, required=True, help="data YAML of the calibration images")
    ap.add_argument("--split", default="val")
    ap.add_argument("--images", type=int, default=300, help="calibration images (ghost-yolo quantize's default 300)")
    ap.add_argument("--variant", choices=["conv", "like-ours", "all"], default="conv")
    ap.add_argument("--ours", type=Path, help="ghost-yolo INT8 file whose INT8 convs `like-ours` copies")
    ap.add_argument("--keep-fp32", nargs="+", default=[], metavar="SUBSTR", help="also keep Conv nodes whose module path contains SUBSTR in FP32 (e.g. dfl .se.)")
    ap.add_argument("--dynamic", action="store_true", help="symbolic batch/height/width (for Ultralytics' val)")
    ap.add_argument("-o", "--output", type=Path, required=True, help="the QDQ model")
    ap.add_argument("--fp32-onnx", type=Path, help="also keep the FP32 ONNX export here")
    ap.add_argument("--seeded-out", type=Path, help="where the seeded weights go (models without --weights)")
    args = ap.parse_args()

    import bench_peers

    weights = args.weights or (str(DEFAULT_WEIGHTS) if args.model == "yolo11n-ghost" else None)
    images = calibration_images(args.data, args.split, args.images)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = args.fp32_onnx or Path(tmp) / "fp32.onnx"
        seeded = args.seeded_out or Path(tmp) / "seeded.safetensors"
        bench_peers.export_onnx(args.model, weights, args.imgsz, fp32, seeded, dynamic=args.dynamic)
        r = quantize(fp32, args.output, images, args.imgsz, args.variant, args.ours, args.keep_fp32)
    print(f"{args.output}: {args.variant}, {r['int8_convs']} of {r['convs']} Conv nodes INT8, MinMax over {r['images']} image(s) at imgsz {args.imgsz}")


if __name__ == "__main__":
    main()
