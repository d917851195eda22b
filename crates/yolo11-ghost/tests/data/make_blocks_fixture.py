#!/usr/bin/env python3
"""Reference outputs for tests/forward_blocks.rs: Ultralytics 8.4.190 runs blocks_a.yaml (scale n)
and blocks_b.yaml (scale s) with every state_dict tensor from the team's seeded generator
(tools/seeded_weights.py; global seeds 0x5EEDA / 0x5EEDB), eval mode, BN eps 1e-3 (asserted).

Writes blocks.io.safetensors next to this file, f32:
  {a,b}/images   [2, 3, 64, 96]  numpy default_rng(7).random (a) / default_rng(8).random (b), in [0, 1)
  {a,b}/output0  [2, 4 + nc, 126]  Detect eval output model(images)[0]
  {a,b}/params   [layers]  per-layer parameter counts as parse_model prints them (int64)

Usage (repo root): .venv-ref/bin/python crates/yolo11-ghost/tests/data/make_blocks_fixture.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[3] / "tools"))

import fixture_common  # noqa: E402,F401  (offline Ultralytics settings; import before ultralytics)
import numpy as np  # noqa: E402
import seeded_weights as sw  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from ultralytics.nn.tasks import DetectionModel  # noqa: E402

MODELS = [("a", "blocks_a.yaml", "n", 0x5EEDA, 7), ("b", "blocks_b.yaml", "s", 0x5EEDB, 8)]


def main() -> None:
    out = {}
    for key, file, scale, seed, rng in MODELS:
        d = yaml.safe_load((HERE / file).read_text())
        d["scale"] = scale
        model = DetectionModel(d, ch=3, verbose=False).eval()
        sw.fill_module(model, seed)
        assert all(m.eps == 1e-3 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
        x = torch.from_numpy(np.random.default_rng(rng).random((2, 3, 64, 96), dtype=np.float32))
        with torch.no_grad():
            y = model(x)[0]
        out[f"{key}/images"] = x.contiguous()
        out[f"{key}/output0"] = y.contiguous()
        out[f"{key}/params"] = torch.tensor([layer.np for layer in model.model], dtype=torch.int64)
        print(key, tuple(y.shape), "legacy Detect" if model.model[-1].legacy else "DWConv Detect")
    save_file(out, str(HERE / "blocks.io.safetensors"), metadata={"ultralytics": "8.4.190"})


if __name__ == "__main__":
    main()
