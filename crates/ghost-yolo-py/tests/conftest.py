"""Shared fixtures of the ghost_yolo pytest suite (run by tools/ci_python.sh)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "fixtures"
# Every shipped image the default model was checked against Ultralytics on (68: the 4 sample
# images and the 64 of the synthetic val split), in a fixed order.
PREDICT_EXPECTED = json.loads((FIXTURES / "models" / "predict_expected.json").read_text())
SHIPPED = [str(REPO / im["file"]) for im in PREDICT_EXPECTED["images"]]


@pytest.fixture(scope="session")
def model():
    from ghost_yolo import YOLO

    return YOLO()


@pytest.fixture(scope="session")
def shipped():
    return list(SHIPPED)


def cli_binary() -> str:
    """The `ghost-yolo` CLI: $GHOST_YOLO_CLI, else the newest build under target/."""
    if os.environ.get("GHOST_YOLO_CLI"):
        return os.environ["GHOST_YOLO_CLI"]
    found = [p for p in (REPO / "target" / "release" / "ghost-yolo", REPO / "target" / "debug" / "ghost-yolo") if p.is_file()]
    if not found:
        on_path = shutil.which("ghost-yolo")
        if on_path:
            return on_path
        pytest.fail("no ghost-yolo binary: build it (cargo build --profile test --bin ghost-yolo) or set GHOST_YOLO_CLI")
    return str(max(found, key=lambda p: p.stat().st_mtime))


@pytest.fixture(scope="session")
def cli_json(tmp_path_factory):
    """`ghost-yolo detect --json` over the shipped images with the CLI's defaults."""
    out = tmp_path_factory.mktemp("cli") / "dets.json"
    subprocess.run([cli_binary(), "detect", "-q", *SHIPPED, "--json", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return {rec["path"]: rec["detections"] for rec in json.loads(out.read_text())}
