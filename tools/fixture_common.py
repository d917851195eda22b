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


_ST_DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def save_tensors(path: Path, tensors: dict, metadata: dict | None = None) -> int:
    """Write a safetensors file with byte-for-byte reproducible layout; returns its size.

    (safetensors' own writer serialises `__metadata__` from a hash map, so its key order - and the
    file bytes - change from run to run; this writer sorts metadata keys, and tensors by element size
    then name. The data section starts 8-byte aligned.)
    Metadata values are JSON-encoded when not already strings. Little-endian host assumed.
    """
    meta = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in sorted((metadata or {}).items())}
    header: dict = {"__metadata__": meta} if meta else {}
    blobs = []
    offset = 0
    # larger element sizes first (as safetensors' own writer does): every tensor stays aligned to its element
    # size, so a memory-mapped reader can view the bytes in place
    for name in sorted(tensors, key=lambda n: (-tensors[n].element_size(), n)):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in _ST_DTYPES:
            raise TypeError(f"{name}: unsupported dtype {t.dtype}")
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little"))
        f.write(head)
        for b in blobs:
            f.write(b)
    path.chmod(0o644)
    # read back through the reference library: names, dtypes, shapes, values and metadata
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        assert set(f.keys()) == set(tensors), path
        assert (f.metadata() or {}) == meta, path
        for name in tensors:
            a, b = f.get_tensor(name), tensors[name].detach().cpu()
            assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), f"{path}: {name} round trip"
    return path.stat().st_size


def seeded_input(shape, seed: int) -> torch.Tensor:
    """Standard-normal f32 input (numpy PCG64 `default_rng(seed)`); stored in the fixtures, so the
    Rust side never needs to reproduce it."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.standard_normal(size=tuple(shape)).astype(np.float32))


def rel(path: Path) -> str:
    return str(Path(path).resolve().relative_to(REPO))
