#!/usr/bin/env python3
"""Smoke test: the stock Ultralytics trainer trains yolo11n-ghost.yaml with the ghost_ultralytics plugin,
saves a real .pt checkpoint, and tools/export_ultralytics.py converts it to safetensors.

Uses a tiny synthetic dataset written to a temporary directory (8 seeded images with one box each),
CPU, imgsz 64, 1 epoch, plots off (no font download). Nothing is written into the repository.

Checks: training runs; last.pt loads back (ghost classes unpickle); the exported safetensors holds
`model.0.<timm name>` tensors in f16 (Ultralytics saves the EMA in half precision) whose values equal
the checkpoint's; the native multi-output YAML form builds the same state_dict names as the
single-row form; every BN in the trained model has eps 1e-3.

Usage: .venv-ref/bin/python tools/smoke_train_ghost.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402

fc.ultralytics_offline()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors import safe_open  # noqa: E402
from torch import nn  # noqa: E402
from ultralytics import YOLO  # noqa: E402
from ultralytics.nn.tasks import DetectionModel  # noqa: E402

import export_ultralytics as ex  # noqa: E402
import ghost_ultralytics  # noqa: E402

ghost_ultralytics.register()


def make_dataset(root: Path) -> Path:
    rng = np.random.default_rng(5)
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for i in range(8):
            img = rng.integers(0, 255, size=(64, 80, 3), dtype=np.uint8)
            x0, y0 = rng.integers(5, 30, size=2)
            img[y0 : y0 + 25, x0 : x0 + 30] = (255, 0, 0)
            Image.fromarray(img).save(root / "images" / split / f"{i}.png")
            (root / "labels" / split / f"{i}.txt").write_text(
                f"0 {(x0 + 15) / 80:.4f} {(y0 + 12.5) / 64:.4f} {30 / 80:.4f} {25 / 64:.4f}\n"
            )
    data = root / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val", "names": {0: "box"}}))
    return data


def native_form_check() -> None:
    """The native form (GhostNet + 4 Index rows written out) gives the same model."""
    d = yaml.safe_load((fc.MODELS_DIR / "yolo11-ghost.yaml").read_text())
    d["scale"] = "n"
    native = dict(d)
    native["backbone"] = [
        [-1, 1, "GhostNet", [1.0]],
        *[[0, 1, "Index", [c, k]] for k, c in enumerate(ghost_ultralytics.ghostnet_feature_channels(0.25))],
        *d["backbone"][1:],
    ]
    a = DetectionModel(d, verbose=False).state_dict()
    b = DetectionModel(native, verbose=False).state_dict()
    assert list(a) == list(b) and all(a[k].shape == b[k].shape for k in a), "native form differs"
    print(f"native multi-output form: same {len(a)} state_dict tensors as the single-row form")


def main() -> None:
    native_form_check()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = make_dataset(tmp / "ds")
        model = YOLO(str(fc.MODELS_DIR / "yolo11n-ghost.yaml"))
        model.train(data=str(data), epochs=1, imgsz=64, batch=4, device="cpu", workers=0, plots=False,
                    project=str(tmp / "runs"), name="smoke", amp=False, val=True, verbose=False)
        last = next((tmp / "runs").rglob("last.pt"))
        m, ckpt = ex.load_pt(last)
        assert isinstance(m.model[0], ghost_ultralytics.GhostNet)
        eps = {b.eps for b in m.modules() if isinstance(b, nn.BatchNorm2d)}
        assert eps == {1e-3}, eps
        out = tmp / "last.safetensors"
        meta = ex.export_pt(last, out)
        with safe_open(str(out), "pt") as f:
            keys = list(f.keys())
            sd = m.state_dict()
            assert set(keys) == set(sd), "exported names differ from the checkpoint state_dict"
            for k in keys:
                assert torch.equal(f.get_tensor(k), sd[k]), k
            assert f.get_tensor("model.0.conv_stem.weight").dtype == torch.float16
            fmeta = f.metadata()
        assert fmeta["names"] == '["box"]' and fmeta["nc"] == "1" and fmeta["imgsz"] == "64", fmeta
        print(f"trained 1 epoch, exported {last.name}: {len(keys)} tensors, metadata {sorted(meta)}")
        print(f"  yaml_file={fmeta['yaml_file']} scale={fmeta['scale']} dtype={fmeta['dtype']} bn_eps={fmeta['bn_eps']}")
    print("smoke test OK")


if __name__ == "__main__":
    main()
