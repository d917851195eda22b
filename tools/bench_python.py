#!/usr/bin/env python3
"""Throughput of the Python package against the Rust engine, in one run (docs/python.md).

1. Python layer cost: `YOLO()(path)` per image vs the `ghost-yolo detect` CLI's own per-image
   time (decode + Detector::detect_rgb, printed per image), both 1 thread, over the 68 shipped
   images, alternating ROUNDS rounds.
2. Scale-out: images/s of Ray Data with 2 actors x 1 thread, 1 actor x 1 thread (the recipe of
   docs/scale-out.md, from paths to a Parquet write), and one `ghost-yolo detect --threads 2`
   process, over the shipped images repeated REPEAT times. Ray Data starts its actors per dataset
   (about 1 CPU s each), so short runs understate the scaling: compare --repeat 20 and 60.

Needs: the package and ray[data] installed in this interpreter, a release CLI
(cargo build --release --bin ghost-yolo). Run from the repository root:
    python tools/bench_python.py [--rounds 5] [--repeat 20] [--cli target/release/ghost-yolo]
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
    """The recipe of docs/scale-out.md ("On one machine"), timed from building the dataset to
    the end of the Parquet write: actor start-up, detection and the write are all in."""
    import tempfile

    import ray

    import ghost_yolo.ray

    paths = IMAGES * repeat
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # As the recipe: one logical CPU more than the cores, for the write stage beside the actors.
    ray.init(num_cpus=os.cpu_count() + 1, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    out = {}
    try:
        # The first dataset of a session also starts Ray Data's helper actors (about 5 CPU s
        # here, once per session): outside the timed runs, so the first 1 x 1 does not pay it.
        ray.data.from_items([{"path": p} for p in IMAGES[:16]]).map_batches(
            ghost_yolo.ray.Detector, fn_constructor_kwargs={"threads": 1}, concurrency=1, num_cpus=1,
            batch_size=16).materialize()
        for actors in (1, 2, 1, 2):
            with tempfile.TemporaryDirectory() as d:
                t = time.perf_counter()
                ds = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=16)
                ds = ds.map_batches(ghost_yolo.ray.Detector, fn_constructor_kwargs={"threads": 1},
                                    concurrency=actors, num_cpus=1, batch_size=16)
                # The write runs beside the actors (docs/scale-out.md: "Stages after the detection").
                ds.write_parquet(d, concurrency=1)
                dt = time.perf_counter() - t
                n = ray.data.read_parquet(d).count()
            assert n == len(paths), (n, len(paths))
            out.setdefault(f"ray_{actors}x1", []).append(len(paths) / dt)
    finally:
        ray.shutdown()
    for _ in range(2):
        t = time.perf_counter()
        subprocess.run([cli, "detect", "-q", "--threads", "2", *paths], check=True, stdout=subprocess.DEVNULL)
        out.setdefault("cli_2threads", []).append(len(paths) / (time.perf_counter() - t))
    print(f"images/s over {len(paths)} images (whole pipeline, incl. model load / actor start / Parquet write)")
    for k, v in out.items():
        print(f"  {k}: {', '.join(f'{x:.1f}' for x in v)}")
    ratios = [b / a for a, b in zip(out["ray_1x1"], out["ray_2x1"])]
    print(f"  ray 2x1 / 1x1 per pair: {', '.join(f'{r:.2f}' for r in ratios)}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=20, help="Ray part: the shipped images this many times "
                    "(fewer makes actor start-up dominate)")
    ap.add_argument("--cli", default=str(REPO / "target/release/ghost-yolo"))
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--only-ray", action="store_true", help="only part 2")
    a = ap.parse_args()
    if not a.only_ray:
        bench_overhead(a.cli, a.rounds)
        bench_layer(3)
    if not a.skip_ray:
        bench_ray(a.cli, a.repeat)


if __name__ == "__main__":
    main()
