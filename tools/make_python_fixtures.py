#!/usr/bin/env python3
"""Ultralytics' own output formats for known detections -> fixtures/python/results_formats.json.

The Python package's `Results` re-implements Ultralytics' `Results` formatting (`boxes.xywh`,
`xyxyn`, `xywhn`, `to_json()`, `save_txt()`); this fixture holds what Ultralytics itself produces
for the same float32 box rows, so tests/test_results_format.py can compare byte for byte.

The rows are Ultralytics' own predictions of the default model on the shipped images
(fixtures/models/predict_expected.json), cast to float32 as Ultralytics held them, plus a
hand-made row set with edge values (boxes on the border, tiny and huge coordinates).

Run: .venv-ref/bin/python tools/make_python_fixtures.py   (seconds; byte-identical on rerun)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402

fc.ultralytics_offline()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from ultralytics.engine.results import Results  # noqa: E402

OUT = fc.FIXTURES / "python" / "results_formats.json"


def case(path: str, orig_hw, rows, names: dict) -> dict:
    data = torch.tensor(np.asarray(rows, dtype=np.float32).reshape(-1, 6))
    img = np.zeros((orig_hw[0], orig_hw[1], 3), dtype=np.uint8)
    r = Results(img, path=path, names=names, boxes=data)
    texts = {}
    for save_conf in (False, True):
        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / "labels.txt"
            r.save_txt(f, save_conf=save_conf)
            texts[str(save_conf).lower()] = f.read_text() if f.exists() else ""
    b = r.boxes
    return {
        "path": path,
        "orig_shape": list(orig_hw),
        # float32 values written as their exact float64 widening (repr round-trips)
        "data": b.data.numpy().astype(np.float64).tolist(),
        "xywh": b.xywh.numpy().astype(np.float64).tolist(),
        "xyxyn": b.xyxyn.numpy().astype(np.float64).tolist(),
        "xywhn": b.xywhn.numpy().astype(np.float64).tolist(),
        "to_json": r.to_json(),
        "to_json_normalized": r.to_json(normalize=True),
        "verbose": r.verbose(),
        "save_txt": texts["false"],
        "save_txt_conf": texts["true"],
    }


def main() -> None:
    import ultralytics

    pred = json.loads((fc.FIXTURES / "models" / "predict_expected.json").read_text())
    names = dict(enumerate(pred["names"]))
    cases = []
    for im in pred["images"]:
        rows = [[*d["box"], d["confidence"], d["class"]] for d in im["detections"]]
        cases.append(case(im["file"], im["orig_shape_hw"], rows, names))
    edge = [
        [0.0, 0.0, 320.0, 272.0, 0.25000001, 0.0],
        [319.99997, 271.99997, 320.0, 272.0, 0.99999994, 5.0],
        [1e-07, 3.3333333, 7.0000005, 100.125, 0.5, 2.0],
        [12.5, 12.5, 12.5, 12.5, 0.30000001, 3.0],
    ]
    cases.append(case("edge.jpg", (272, 320), edge, names))
    cases.append(case("empty.jpg", (100, 50), [], names))
    doc = {
        "about": "Ultralytics Results formatting for given float32 box rows (see the script's docstring)",
        "command": ".venv-ref/bin/python tools/make_python_fixtures.py",
        "ultralytics": ultralytics.__version__,
        "torch": torch.__version__,
        "names": pred["names"],
        "cases": cases,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()
