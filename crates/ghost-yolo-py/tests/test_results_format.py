"""`Results` formats against Ultralytics' own `Results` for the same float32 box rows
(fixtures/python/results_formats.json, made by tools/make_python_fixtures.py with Ultralytics
8.4.190): xywh / xyxyn / xywhn exactly, `to_json()`, `verbose()` and `save_txt()` byte for byte."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import FIXTURES
from ghost_yolo import Results

DOC = json.loads((FIXTURES / "python" / "results_formats.json").read_text())
NAMES = dict(enumerate(DOC["names"]))


@pytest.mark.parametrize("case", DOC["cases"], ids=lambda c: c["path"].rsplit("/", 1)[-1])
def test_results_formats_equal_ultralytics(case, tmp_path):
    h, w = case["orig_shape"]
    rows = np.array(case["data"], dtype=np.float32).reshape(-1, 6)
    r = Results(np.zeros((h, w, 3), np.uint8), case["path"], NAMES, rows)
    assert r.boxes.data.dtype == np.float32 and r.boxes.xywhn.dtype == np.float32
    for name in ("xywh", "xyxyn", "xywhn"):
        expected = np.array(case[name], dtype=np.float64).reshape(-1, 4)
        # float32 results widened exactly: equality, not closeness
        assert getattr(r.boxes, name).astype(np.float64).tolist() == expected.tolist(), name
    assert r.to_json() == case["to_json"]
    assert r.tojson() == case["to_json"]
    assert r.to_json(normalize=True) == case["to_json_normalized"]
    assert r.verbose() == case["verbose"]
    for save_conf, key in ((False, "save_txt"), (True, "save_txt_conf")):
        f = tmp_path / f"labels_{save_conf}.txt"
        r.save_txt(f, save_conf=save_conf)
        assert (f.read_bytes().decode() if f.exists() else "") == case[key]
    assert len(r.boxes) == len(rows)


def test_save_txt_appends_like_ultralytics(tmp_path):
    case = next(c for c in DOC["cases"] if len(c["data"]) >= 2)
    h, w = case["orig_shape"]
    r = Results(np.zeros((h, w, 3), np.uint8), case["path"], NAMES, np.array(case["data"], np.float32))
    f = tmp_path / "sub" / "l.txt"
    r.save_txt(f)
    r.save_txt(f)
    assert f.read_text() == case["save_txt"] * 2
