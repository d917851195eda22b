"""The rest of the Ultralytics-shaped API: loading variants, names, info, val, plot, save."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from PIL import Image

from conftest import FIXTURES, SHIPPED, cli_binary
from ghost_yolo import YOLO

NAMES = {0: "circle", 1: "square", 2: "triangle", 3: "star", 4: "cross", 5: "ring"}


def test_default_and_safetensors_models_are_the_same(model):
    assert model.names == NAMES
    from_file = YOLO(str(FIXTURES.parent / "crates" / "yolo11-ghost" / "assets" / "yolo11n-ghost-shapes.safetensors"))
    assert from_file.names == NAMES
    assert from_file.trained_imgsz == 320
    a = model(SHIPPED[:4])
    b = from_file(SHIPPED[:4])
    assert [r.boxes.data.tolist() for r in a] == [r.boxes.data.tolist() for r in b]


@pytest.mark.parametrize("name", ["yolo11n-ghost", "yolo11n-ghost.yaml", "yolo11n"])
def test_builtin_models_load_with_seeded_weights(name):
    with pytest.warns(UserWarning, match="seeded random weights"):
        m = YOLO(name)
    assert len(m.names) == 80
    assert m.names[0] == "class0"
    r = m(SHIPPED[0], imgsz=64)[0]  # runs; detections of random weights mean nothing
    assert r.boxes.data.shape[1] == 6


def test_model_yaml_file(tmp_path):
    src = next(p for p in (FIXTURES.parent / "crates" / "yolo11-ghost" / "models").glob("yolo11-ghost.yaml"))
    own = tmp_path / "yolo11s-ghost.yaml"  # the scale comes from the file name, as in Ultralytics
    own.write_text(src.read_text())
    with pytest.warns(UserWarning):
        m = YOLO(str(own))
    _, layers, params, _ = m._model.info((640, 640))
    # yolo11s-ghost at nc=80 (README table, equal to Ultralytics' model.info())
    assert params == 6_225_172


def test_info_prints_the_cli_table(model, capsys):
    layers, params, grads, gflops = model.info()
    printed = capsys.readouterr().out
    assert params == grads and params > 0 and gflops > 0 and layers > 0
    cli = subprocess.run(
        [cli_binary(), "info", "-m", str(FIXTURES.parent / "crates" / "yolo11-ghost" / "models" / "yolo11-ghost.yaml")],
        check=True, capture_output=True, text=True,
    ).stdout
    # Same layout as `ghost-yolo info`: header line and column names.
    assert printed.splitlines()[0] == cli.splitlines()[0]
    assert f"{params:,}" in printed


@pytest.mark.parametrize("run", ["batch1", "batch16"])
def test_val_equals_ultralytics(model, run):
    """P, R, mAP50, mAP50-95 within 1e-4 of Ultralytics val (measured: 1e-5, README; the same
    library code as `ghost-yolo val`, so the bound only covers float summation order)."""
    ref = json.loads((FIXTURES / "models" / "val_expected.json").read_text())["runs"][run]
    m = model.val(data=str(FIXTURES / "synthetic" / "data.yaml"), batch=ref["settings"]["batch"])
    assert m.imgsz == ref["settings"]["imgsz"] == 320  # the training size by default
    assert (m.seen, m.nt) == (ref["images"], ref["instances"])
    for ours, key in ((m.box.mp, "precision"), (m.box.mr, "recall"), (m.box.map50, "map50"), (m.box.map, "map50_95")):
        assert abs(ours - ref[key]) <= 1e-4, (key, ours, ref[key])
    assert m.results_dict["metrics/mAP50-95(B)"] == m.box.map
    assert len(m.box.maps) == 6


def test_plot_and_save(model, tmp_path):
    r = model(SHIPPED[0])[0]
    assert len(r) > 0
    plotted = r.plot()
    assert plotted.shape == r.orig_img.shape and plotted.dtype == np.uint8
    changed = (plotted != r.orig_img).any(axis=2)
    x1, y1, x2, y2 = r.boxes.xyxy[0].astype(int)
    assert changed.any() and changed[y1:y2 + 1, x1:x2 + 1].any()
    assert not changed[r.orig_shape[0] // 2 - 2 : r.orig_shape[0] // 2 + 2, :].all()
    out = tmp_path / "annotated.png"
    assert r.save(out) == str(out)
    saved = np.asarray(Image.open(out).convert("RGB"))[..., ::-1]
    np.testing.assert_array_equal(saved, plotted)  # PNG is lossless
    # The same drawing as `ghost-yolo detect --save` (same engine, same encoder).
    d = tmp_path / "cli"
    subprocess.run([cli_binary(), "detect", "-q", SHIPPED[0], "--save", str(d)], check=True, stdout=subprocess.DEVNULL)
    jpg = tmp_path / "a.jpg"
    r.save(jpg)
    assert jpg.read_bytes() == (d / "shapes_val_0.jpg").read_bytes()


def test_boxes_and_results_shapes(model):
    r = model(SHIPPED[0])[0]
    b = r.boxes
    n = len(b)
    for name in ("xyxy", "xywh", "xyxyn", "xywhn"):
        a = getattr(b, name)
        assert a.shape == (n, 4) and a.dtype == np.float32, name
    assert b.conf.shape == (n,) and b.cls.shape == (n,) and b.data.shape == (n, 6)
    assert ((b.xyxyn >= 0) & (b.xyxyn <= 1)).all()
    assert r.orig_shape == (272, 320) and r.path == SHIPPED[0]
    assert set(r.speed) == {"preprocess", "inference", "postprocess"}
    assert r.speed["inference"] > 0
    assert len(b[0]) == 1 and b[0].data.shape == (1, 6)
    assert r.names == NAMES
