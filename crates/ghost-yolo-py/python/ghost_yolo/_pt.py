"""``YOLO("best.pt")``: an Ultralytics checkpoint converted to safetensors on load, by the same
code as ``tools/export_ultralytics.py`` (shipped in ``ghost_yolo/_ultralytics/``, links to the
repository's ``tools/``). Needs ``torch`` and ``ultralytics``; the converted file goes to a temporary
directory removed when the process exits."""

from __future__ import annotations

import atexit
import importlib
import shutil
import sys
import tempfile
from pathlib import Path

_HERE = Path(__file__).resolve().parent / "_ultralytics"
_TMP: list = []


def _missing() -> list:
    missing = []
    for module in ("torch", "ultralytics"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    return missing


def convert(pt: str) -> str:
    """Export ``pt`` to a temporary ``.safetensors`` file and return its path."""
    if not Path(pt).is_file():
        raise FileNotFoundError(f"checkpoint {pt} does not exist")
    missing = _missing()
    if missing:
        raise ImportError(
            f"loading a .pt checkpoint needs the packages 'torch' and 'ultralytics' "
            f"({' and '.join(repr(m) for m in missing)} not importable here): pip install torch ultralytics, "
            f"or export it once elsewhere with tools/export_ultralytics.py best.pt best.safetensors "
            f"and load the .safetensors file"
        )
    if str(_HERE) not in sys.path:
        sys.path.insert(0, str(_HERE))
    export = importlib.import_module("export_ultralytics")
    if not _TMP:
        _TMP.append(tempfile.mkdtemp(prefix="ghost_yolo_pt_"))
        atexit.register(shutil.rmtree, _TMP[0], True)
    out = Path(_TMP[0]) / (Path(pt).stem + ".safetensors")
    export.export_pt(pt, out)
    return str(out)
