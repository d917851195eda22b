#!/usr/bin/env python3
"""Throughput of the Python package against the Rust engine, in one run (docs/python.md).

1. Python layer cost: `YOLO()(path)` per image vs the `ghost-yolo detect` CLI's own per-image
   time (decode + Detector::detect_rgb, printed per image), both 1 thread, over the 68 shipped
   images, alternating ROUNDS rounds.
2. Scale-out: images/s of Ray Data with 2 actors x 1 thread, 1 actor x 1 thread, and one
   `ghost-yolo detect --threads 2` process, over the shipped images repeated REPEAT times.

Needs: the package and ray[data] installed in this interpreter, a release CLI
(cargo build --release --bin ghost-yolo). Run from the repository root:
    python tools/bench_python.py [--rounds 5] [--repeat 4] [--cli target/release/ghost-yolo]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGES = [str(REPO / im["file"]) for im in json.loads((REPO / "fixtures/models/predict_expected.json").read_text())["images"]]


def cli_per_image_ms(cli: str, threads: int) -> list:
    out = subprocess.run([cli, "detect", "-q", "--threads", str(threads), *IMAGES], check=True,
                         capture_output=True, text=True).stdout
    return [float(m) for m in re.findall(r", ([0-9.]+) ms$", out, flags=re.M)]


def python_per_image_ms(model, threads: int) -> list:
    times = []
    for p in IMAGES:
        t = time.perf_counter()
        model(p, threads=threads)
        times.append((time.perf_counter() - t) * 1e3)
    return times


def spread(xs):
    return f"median {statistics.median(xs):.2f}, min {min(xs):.2f}, max {max(xs):.2f}"


def bench_overhead(cli: str, rounds: int) -> dict:
    from ghost_yolo import YOLO

    model = YOLO(threads=1)
    python_per_image_ms(model, 1)  # warm-up (pools, page cache)
    rust, py = [], []
    for _ in range(rounds):
        rust.append(sum(cli_per_image_ms(cli, 1)) / len(IMAGES))
        py.append(sum(python_per_image_ms(model, 1)) / len(IMAGES))
    ratios = [p / r for p, r in zip(py, rust)]
    print(f"per image, 1 thread, {len(IMAGES)} images x {rounds} rounds")
    print(f"  Rust CLI (decode + Detector): {spread(rust)} ms")
    print(f"  Python YOLO()(path):          {spread(py)} ms")
    print(f"  Python / Rust per round:      {', '.join(f'{r:.3f}' for r in ratios)}")
    return {"rust_ms": rust, "python_ms": py, "ratio": ratios}


def bench_layer(rounds: int) -> dict:
    """The Python layer alone: per image, the compiled call `_core.Model.detect_paths` and the
    whole `YOLO()(path)` alternately in one process; the difference is source expansion,
    argument checks and building `Results`."""
    from ghost_yolo import YOLO

    model = YOLO(threads=1)
    opts = model._options(conf=0.25, iou=0.7, imgsz=None, classes=None, max_det=300, agnostic_nms=False, threads=1)
    core, full = [], []
    for _ in range(rounds):
        for p in IMAGES:
            t = time.perf_counter()
            model._model.detect_paths([p], opts)
            core.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            model(p, threads=1)
            full.append((time.perf_counter() - t) * 1e3)
    diff = [f - c for f, c in zip(full, core)]
    print(f"in-process, {len(diff)} calls: compiled call median {statistics.median(core):.2f} ms, "
          f"YOLO()(path) median {statistics.median(full):.2f} ms, difference median {statistics.median(diff):.3f} ms")
    return {"core_ms": core, "full_ms": full}


def bench_ray(cli: str, repeat: int) -> dict:
    import ray

    import ghost_yolo.ray

    paths = IMAGES * repeat
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
             configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    out = {}
    try:
        for actors in (1, 2, 1, 2):
            ds = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=16)
            t = time.perf_counter()
            n = ds.map_batches(ghost_yolo.ray.Detector, fn_constructor_kwargs={"threads": 1},
                               concurrency=actors, num_cpus=1, batch_size=16).count()
            dt = time.perf_counter() - t
            assert n == len(paths)
            out.setdefault(f"ray_{actors}x1", []).append(len(paths) / dt)
    finally:
        ray.shutdown()
    for _ in range(2):
        t = time.perf_counter()
        subprocess.run([cli, "detect", "-q", "--threads", "2", *paths], check=True, stdout=subprocess.DEVNULL)
        out.setdefault("cli_2threads", []).append(len(paths) / (time.perf_counter() - t))
    print(f"images/s over {len(paths)} images (whole pipeline, incl. model load / actor start)")
    for k, v in out.items():
        print(f"  {k}: {', '.join(f'{x:.1f}' for x in v)}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--cli", default=str(REPO / "target/release/ghost-yolo"))
    ap.add_argument("--skip-ray", action="store_true")
    a = ap.parse_args()
    bench_overhead(a.cli, a.rounds)
    bench_layer(3)
    if not a.skip_ray:
        bench_ray(a.cli, a.repeat)


if __name__ == "__main__":
    main()
