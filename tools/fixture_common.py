"""Shared helpers for the fixture scripts: offline Ultralytics settings, dtype rounding, file I/O.

Import this module BEFORE importing ultralytics: it sets the environment so that Ultralytics never
tries the network (no weight/font downloads, no pip auto-install, no settings sync) and keeps its
settings file out of the home directory.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
MODELS_DIR = REPO / "crates" / "yolo11-ghost" / "models"

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
os.environ.setdefault("ULTRALYTICS_SKIP_REQUIREMENTS_CHECKS", "1")
os.environ.setdefault("YOLO_VERBOSE", "false")
os.environ.setdefault("YOLO_CONFIG_DIR", str(Path(tempfile.gettempdir()) / "yolo11-ghost-ultralytics-cfg"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def ultralytics_offline():
    """Import ultralytics with settings that never reach the network; returns the module."""
    import ultralytics
    from ultralytics.utils import SETTINGS

    SETTINGS.update({"sync": False})
    return ultralytics


def round_state_dict(sd: dict, dtype: str) -> dict:
    """Storage copy of a state_dict: floating tensors cast to `dtype`, others (int64 counters) as is."""
    out = {}
    for k, v in sd.items():
        v = v.detach().cpu().contiguous()
        out[k] = v.to(DTYPES[dtype]).contiguous() if v.is_floating_point() else v.clone()
    return out


def load_rounded(model: torch.nn.Module, stored: dict) -> None:
    """Load the stored (possibly f16/bf16) tensors back into a float32 model: the reference then runs
    on exactly the values the file holds (upcast is exact)."""
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in stored.items()}
    model.load_state_dict(sd, strict=True)


def save_tensors(path: Path, tensors: dict, metadata: dict | None = None) -> int:
    """safetensors file; metadata values are JSON-encoded when not already strings. Returns bytes."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in (metadata or {}).items()}
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(path), metadata=meta)
    return path.stat().st_size


def seeded_input(shape, seed: int) -> torch.Tensor:
    """Standard-normal f32 input (numpy PCG64 `default_rng(seed)`); stored in the fixtures, so the
    Rust side never needs to reproduce it."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal(size=tuple(shape)).astype(np.float32))


def rel(path: Path) -> str:
    return str(Path(path).resolve().relative_to(REPO))
