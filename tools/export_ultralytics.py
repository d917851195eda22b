#!/usr/bin/env python3
"""Ultralytics detection checkpoint (.pt) or model object -> safetensors with Ultralytics state_dict names.

Works for stock YOLO11 and for the YOLO11-GhostNet models of tools/ghost_ultralytics.py (a ghost
checkpoint pickles `ghost_ultralytics.GhostNet`; this script imports it, so run it from this repo's
tools/ or put tools/ on PYTHONPATH).

Tensors: `model.state_dict()` as is (`model.{i}.<...>` names, NCHW / PyTorch OIHW weights), floating
tensors stored in the chosen dtype, integer tensors (`*.num_batches_tracked`, I64) unchanged. The
Detect DFL conv (`model.{last}.dfl.conv.weight`, fixed arange(16)) is included as Ultralytics stores it.
Fused models are refused (their BN tensors are gone and conv biases appear): export the trained model.

Metadata (all strings, as safetensors requires):
  format          "pt"
  producer        "tools/export_ultralytics.py"
  ultralytics     Ultralytics version used for the export
  task            "detect"
  nc              number of classes, e.g. "80"
  names           JSON list of the class names, index = class id, e.g. ["person", "bicycle", ...]
  imgsz           training image size (checkpoint train_args.imgsz, else --imgsz, else 640), e.g. "640"
  stride          JSON list of the Detect strides, e.g. [8.0, 16.0, 32.0]
  yaml_file       model YAML name with its scale letter, e.g. "yolo11n-ghost.yaml"
  scale           "n" | "s" | "m" | "l" | "x" (or "" when the YAML has no scales)
  model_yaml      JSON of the model dict (model.yaml: nc, scales, backbone, head ...; the form the user
                  wrote: for ghost models the single GhostNet row)
  bn_eps          JSON number: the BatchNorm eps every BN of the model has (1e-3 in Ultralytics);
                  the export fails if the BNs disagree
  dtype           storage dtype of the floating tensors: "f32" | "f16" | "bf16"

Usage:
  .venv-ref/bin/python tools/export_ultralytics.py best.pt best.safetensors [--dtype keep|f32|f16|bf16]
  from export_ultralytics import export_model; export_model(model_or_yolo, "out.safetensors", dtype="f16")
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402

fc.ultralytics_offline()

import torch  # noqa: E402
from torch import nn  # noqa: E402

import ghost_ultralytics  # noqa: E402

ghost_ultralytics.register()

_DTYPE_NAMES = {torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16"}


def _unwrap(model):
    """YOLO wrapper -> DetectionModel."""
    from ultralytics.nn.tasks import DetectionModel

    if hasattr(model, "model") and isinstance(model.model, DetectionModel):
        model = model.model
    if not isinstance(model, DetectionModel):
        raise TypeError(f"expected an Ultralytics DetectionModel (or YOLO wrapper), got {type(model).__name__}")
    return model


def load_pt(path: str | Path):
    """(model, ckpt) from an Ultralytics checkpoint; never downloads (the file must exist)."""
    from ultralytics.nn.tasks import torch_safe_load

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    ckpt, _ = torch_safe_load(str(path))
    model = ckpt.get("ema") or ckpt.get("model")
    if not isinstance(model, nn.Module):
        raise TypeError(f"{path}: no model object under 'ema' or 'model'")
    return model, ckpt


def metadata_for(model, dtype_name: str, imgsz: int | None = None, train_args: dict | None = None) -> dict:
    import ultralytics

    model = _unwrap(model)
    head = model.model[-1]
    names = getattr(model, "names", None) or {i: str(i) for i in range(head.nc)}
    if isinstance(names, dict):
        if sorted(int(k) for k in names) != list(range(head.nc)):
            raise ValueError(f"class names keys {sorted(names)} are not 0..{head.nc - 1}")
        names = [names[k] for k in sorted(names, key=int)]
    if len(names) != head.nc:
        raise ValueError(f"{len(names)} class names for nc={head.nc}")
    args = dict(train_args or {})
    if not args and isinstance(getattr(model, "args", None), dict):
        args = model.args
    size = args.get("imgsz") or imgsz or 640
    if isinstance(size, (list, tuple)):
        size = max(size)
    eps = {m.eps for m in model.modules() if isinstance(m, nn.BatchNorm2d)}
    if len(eps) > 1:
        raise ValueError(f"BatchNorm eps differ inside the model: {sorted(eps)}")
    y = model.yaml
    return {
        "format": "pt",
        "producer": "tools/export_ultralytics.py",
        "ultralytics": ultralytics.__version__,
        "task": "detect",
        "nc": str(head.nc),
        "names": json.dumps(names),
        "imgsz": str(int(size)),
        "stride": json.dumps([float(s) for s in head.stride]),
        "yaml_file": Path(str(y.get("yaml_file", ""))).name,
        "scale": str(y.get("scale", "") or ""),
        "model_yaml": json.dumps({k: v for k, v in y.items() if k != "yaml_file"}),
        "bn_eps": json.dumps(eps.pop() if eps else None),
        "dtype": dtype_name,
    }


def state_dict_for(model, dtype: str = "keep") -> tuple[dict, str]:
    """(tensors, dtype name) with every floating tensor in one dtype."""
    model = _unwrap(model)
    if model.is_fused():
        raise ValueError("model is fused (BN folded): export the trained, unfused model")
    sd = model.state_dict()
    float_dtypes = {v.dtype for v in sd.values() if v.is_floating_point()}
    if dtype == "keep":
        if len(float_dtypes) != 1:
            raise ValueError(f"mixed floating dtypes {float_dtypes}; pass --dtype")
        dtype = _DTYPE_NAMES[float_dtypes.pop()]
    tensors = fc.round_state_dict(sd, dtype)
    return tensors, dtype


def export_model(model, out: str | Path, dtype: str = "keep", imgsz: int | None = None, train_args=None) -> dict:
    """Write `model` (DetectionModel or YOLO) to `out`; returns the metadata written."""
    tensors, dtype_name = state_dict_for(model, dtype)
    meta = metadata_for(model, dtype_name, imgsz, train_args)
    fc.save_tensors(Path(out), tensors, meta)
    Path(out).chmod(0o644)
    return meta


def export_pt(pt: str | Path, out: str | Path, dtype: str = "keep", imgsz: int | None = None) -> dict:
    model, ckpt = load_pt(pt)
    return export_model(model, out, dtype, imgsz, ckpt.get("train_args"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="Ultralytics .pt checkpoint (local file)")
    ap.add_argument("out", help="output .safetensors")
    ap.add_argument("--dtype", default="keep", choices=["keep", "f32", "f16", "bf16"],
                    help="storage dtype of floating tensors (keep = as in the checkpoint; trained .pt hold f16)")
    ap.add_argument("--imgsz", type=int, default=None, help="imgsz when the checkpoint has no train_args")
    a = ap.parse_args()
    meta = export_pt(a.checkpoint, a.out, a.dtype, a.imgsz)
    print(f"wrote {a.out}: {meta['yaml_file']} nc={meta['nc']} imgsz={meta['imgsz']} dtype={meta['dtype']}")


if __name__ == "__main__":
    main()
