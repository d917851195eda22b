#!/usr/bin/env python3
"""Parity fixtures for crates/ghost-track: Ultralytics' BYTETracker and lap's lapjv on synthetic input.

Writes
  fixtures/tracking/bytetrack_parity.json  per-frame detections of several synthetic sequences and the
      rows Ultralytics' BYTETracker (tracker=bytetrack.yaml defaults) returned for each frame;
  fixtures/tracking/lapjv_ties.json        small cost matrices full of ties and what
      lap.lapjv(cost, extend_cost=True, cost_limit=thresh) returned (Ultralytics' linear_assignment).

Run from the repository root with the reference environment (tools/requirements.txt):
    .venv-ref/bin/python tools/make_track_fixtures.py

The detections go through exactly what `yolo track` does per frame: a float32 [x1, y1, x2, y2, conf,
cls] array wrapped in ultralytics.engine.results.Boxes, then `tracker.update(boxes, img=None)`.
Input coordinates are multiples of 1/64 and scores multiples of 1/256 (plus the threshold values 0.1
and 0.25 themselves). Every float is written as the shortest decimal string of its float32 value
(see f32_text), so the Rust test reads back exactly the float32 Ultralytics saw or returned.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_common import FIXTURES, ultralytics_offline  # noqa: E402

import lap  # noqa: E402
import numpy as np  # noqa: E402

ultralytics = ultralytics_offline()
from ultralytics.engine.results import Boxes  # noqa: E402
from ultralytics.trackers.byte_tracker import BYTETracker  # noqa: E402
from ultralytics.trackers.utils import matching  # noqa: E402
from ultralytics.utils import YAML, IterableSimpleNamespace  # noqa: E402
from ultralytics.utils.checks import check_yaml  # noqa: E402

OUT = FIXTURES / "tracking"
W, H = 640, 480


def q_box(v):
    """Coordinates on a 1/64 pixel grid (exact in f32 and short in decimal)."""
    return np.round(np.asarray(v, dtype=np.float64) * 64) / 64


def q_score(s):
    return float(np.clip(np.round(s * 256) / 256, 0.0, 1.0))


class Obj:
    """An object on a known path: centre (cx + vx t + ax t^2, cy + vy t), size (w, h)."""

    def __init__(self, cls, t0, t1, c0, v, size, score=0.85, hidden=(), score_at=None, accel=(0.0, 0.0)):
        self.cls, self.t0, self.t1 = cls, t0, t1
        self.c0, self.v, self.size, self.accel = np.array(c0, float), np.array(v, float), size, np.array(accel, float)
        self.score, self.hidden, self.score_at = score, set(hidden), score_at

    def det(self, t, rng, jitter):
        if not (self.t0 <= t < self.t1) or t in self.hidden:
            return None
        dt = t - self.t0
        cx, cy = self.c0 + self.v * dt + self.accel * dt * dt
        w, h = self.size
        box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]) + rng.normal(0, jitter, 4)
        score = self.score_at(t) if self.score_at else self.score + rng.normal(0, 0.03)
        exact = score in (0.1, 0.25)  # threshold values themselves, kept as float32(value)
        return [*q_box(box), score if exact else q_score(score), self.cls]


def render(objs, n_frames, seed, jitter=1.0, extra=None):
    """Per-frame detection lists (shuffled, so the detection index means something)."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(n_frames):
        dets = [d for o in objs if (d := o.det(t, rng, jitter)) is not None]
        if extra:
            dets += extra(t, rng)
        order = rng.permutation(len(dets))
        frames.append([dets[i] for i in order])
    return frames


def seq_crossing():
    objs = [
        Obj(0, 0, 60, (80, 200), (8, 0.5), (60, 90)),
        Obj(0, 0, 60, (560, 230), (-8, -0.5), (60, 90)),
        Obj(2, 0, 60, (320, 400), (0, 0), (50, 50), score=0.7),
        Obj(1, 5, 60, (100, 80), (6, 1), (40, 30), score=0.6),
    ]
    return render(objs, 60, seed=1)


def seq_occlusion():
    objs = [
        Obj(1, 0, 70, (60, 150), (5, 1), (50, 70), hidden=range(20, 30)),  # 10 frames: same ID again
        Obj(3, 0, 70, (500, 300), (-2, 0), (70, 60), hidden=range(15, 55)),  # 40 > track_buffer: new ID
        Obj(3, 0, 70, (300, 100), (0, 3), (45, 45), hidden=[33, 35, 37]),
    ]
    return render(objs, 70, seed=2)


def seq_low_score():
    def dip(t):  # 0.12..0.24 for frames 10..25: only the second association keeps it
        return 0.12 + 0.12 * ((t * 7) % 11) / 10 if 10 <= t < 26 else 0.8

    def very_low(t):  # below track_low_thresh for frames 15..19: lost, then re-found
        return 0.05 if 15 <= t < 20 else 0.7

    def weak_start(t):  # appears at 0.2 (no new track), later 0.6
        return 0.2 if t < 20 else 0.6

    def edges(t):  # exactly at the thresholds: 0.25 is high, 0.1 is not low
        return [0.25, 0.1, 0.5, 0.25][t % 4]

    objs = [
        Obj(0, 0, 50, (100, 100), (4, 2), (60, 60), score_at=dip),
        Obj(4, 0, 50, (500, 120), (-3, 2), (50, 80), score_at=very_low),
        Obj(5, 5, 50, (300, 380), (2, -2), (40, 40), score_at=weak_start),
        Obj(2, 0, 50, (80, 400), (3, -1), (55, 45), score_at=edges),
    ]
    return render(objs, 50, seed=3)


def seq_births_deaths():
    rng = np.random.default_rng(40)
    objs = []
    for _ in range(14):
        t0 = int(rng.integers(0, 80))
        life = int(rng.integers(8, 45))
        c0 = (rng.uniform(60, W - 60), rng.uniform(60, H - 60))
        v = rng.uniform(-5, 5, 2)
        size = (rng.uniform(30, 90), rng.uniform(30, 90))
        objs.append(Obj(int(rng.integers(0, 6)), t0, t0 + life, c0, v, size, score=rng.uniform(0.4, 0.95)))

    def false_positives(t, rng):
        out = []
        if t % 7 == 3:  # a one-frame false positive: starts an unconfirmed track that is removed
            x, y = rng.uniform(0, W - 40), rng.uniform(0, H - 40)
            out.append([*q_box([x, y, x + 35, y + 35]), q_score(rng.uniform(0.3, 0.5)), 5])
        if t % 11 == 5:  # a degenerate (zero-width) box: ignored
            out.append([*q_box([100, 100, 100, 140]), 0.9, 1])
        return out

    return render(objs, 100, seed=4, extra=false_positives)


def seq_ties():
    # Two identical detections on frame 1 (two identical tracks), then only one: a tie the assignment
    # must break as lapjv does. A row of equal objects moving in unison keeps ties in the costs.
    frames = []
    for t in range(20):
        dets = []
        x = 100 + 4 * t
        if t < 3 or t >= 6:
            dets.append([*q_box([x, 100, x + 50, 160]), 0.75, 0])
        if t < 1:
            dets.append([*q_box([x, 100, x + 50, 160]), 0.75, 0])
        for k in range(4):
            gx = 60 + 120 * k + 2 * t
            dets.append([*q_box([gx, 300, gx + 60, 360]), 0.6, 3])
        frames.append(dets)
    return frames


def seq_dense():
    rng = np.random.default_rng(60)
    objs = []
    for i in range(12):
        c0 = (rng.uniform(150, 450), rng.uniform(120, 360))
        v = rng.uniform(-3, 3, 2)
        size = (rng.uniform(40, 100), rng.uniform(40, 100))
        hidden = [t for t in range(80) if rng.random() < 0.06]
        objs.append(
            Obj(i % 6, 0, 80, c0, v, size, hidden=hidden, score=0.0, score_at=None, accel=rng.uniform(-0.03, 0.03, 2))
        )
        objs[-1].score = rng.uniform(0.15, 0.95)
    return render(objs, 80, seed=6, jitter=2.0)


def seq_gaps():
    # Empty frames, frames with only low-score boxes, and an object away for exactly 31 frames: after
    # 31 frames a lost track is marked removed but stays in the lost list for one more frame, where
    # Ultralytics can still re-find it under its old ID.
    objs = [
        Obj(0, 0, 80, (200, 200), (1, 0), (60, 60), hidden=range(5, 36)),
        Obj(1, 0, 80, (450, 250), (0, 1), (50, 70), hidden=list(range(10, 16)) + list(range(50, 56))),
    ]

    def low_only(t, rng):
        return [[*q_box([20, 20, 60, 60]), 0.15, 2]] if 40 <= t < 44 else []

    frames = render(objs, 80, seed=7, jitter=0.5, extra=low_only)
    for t in (20, 21, 60):
        frames[t] = []
    return frames


SEQUENCES = {
    "crossing": seq_crossing,
    "occlusion": seq_occlusion,
    "low_score": seq_low_score,
    "births_deaths": seq_births_deaths,
    "ties": seq_ties,
    "dense": seq_dense,
    "gaps": seq_gaps,
}


def f32_text(v):
    """The float32 as the shortest decimal string that parses back to it (NumPy's float32 str).

    Strings, not JSON numbers: serde_json's default number parsing is not correctly rounded, and a
    one-ulp error would fake a difference in the parity test; Rust's `str::parse::<f32>` is exact."""
    return str(np.float32(v))


def run_sequence(cfg, frames):
    tracker = BYTETracker(args=cfg)
    out = []
    for dets in frames:
        arr = np.asarray(dets, dtype=np.float32).reshape(-1, 6)
        rows = tracker.update(Boxes(arr, orig_shape=(H, W)), img=None)
        tracks = []
        for r in np.asarray(rows, dtype=np.float32).reshape(-1, 8):
            x1, y1, x2, y2, tid, score, cls, idx = r
            tracks.append([int(tid), *map(f32_text, (x1, y1, x2, y2)), f32_text(score), int(cls), int(idx)])
        out.append({"dets": [[*map(f32_text, d[:5]), int(d[5])] for d in dets], "tracks": tracks})
    return out


def lapjv_cases():
    rng = np.random.default_rng(99)
    levels = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.8, 0.9, 1.0], dtype=np.float32)
    cases = []
    for k in range(240):
        rows, cols = int(rng.integers(1, 8)), int(rng.integers(1, 8))
        if k % 4 == 3:
            cost = rng.random((rows, cols)).astype(np.float32)
        else:  # few distinct values: many tied optima
            cost = rng.choice(levels[: int(rng.integers(2, len(levels) + 1))], size=(rows, cols))
        thresh = float(rng.choice([0.5, 0.7, 0.8, 1.1]))
        matches, ua, ub = matching.linear_assignment(cost, thresh=thresh)
        cases.append(
            {
                "rows": rows,
                "cols": cols,
                "thresh": thresh,
                "cost": [f32_text(v) for v in cost.ravel()],
                "matches": [[int(a), int(b)] for a, b in matches],
                "unmatched_rows": [int(i) for i in ua],
                "unmatched_cols": [int(i) for i in ub],
            }
        )
    return cases


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    cfg = IterableSimpleNamespace(**YAML.load(check_yaml("bytetrack.yaml")))
    config = {k: getattr(cfg, k) for k in ("track_high_thresh", "track_low_thresh", "new_track_thresh",
                                              "track_buffer", "match_thresh", "fuse_score")}
    versions = {"ultralytics": ultralytics.__version__, "lap": lap.__version__, "numpy": np.__version__}
    sequences = [{"name": name, "frames": run_sequence(cfg, make())} for name, make in SEQUENCES.items()]
    doc = {
        "made_by": "tools/make_track_fixtures.py",
        "versions": versions,
        "config": config,
        "image_size": [W, H],
        "track_row": "[track_id, x1, y1, x2, y2, score, class, detection_index]",
        "det_row": "[x1, y1, x2, y2, score, class]",
        "sequences": sequences,
    }
    (OUT / "bytetrack_parity.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    lap_doc = {"made_by": "tools/make_track_fixtures.py", "versions": versions, "cases": lapjv_cases()}
    (OUT / "lapjv_ties.json").write_text(json.dumps(lap_doc, separators=(",", ":")) + "\n")
    for s in sequences:
        ids = {t[0] for f in s["frames"] for t in f["tracks"]}
        n = sum(len(f["tracks"]) for f in s["frames"])
        print(f"{s['name']:>14}: {len(s['frames'])} frames, {n} track rows, IDs {sorted(ids)}")
    for p in ("bytetrack_parity.json", "lapjv_ties.json"):
        print(p, (OUT / p).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
