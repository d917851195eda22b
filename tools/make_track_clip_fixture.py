#!/usr/bin/env python3
"""`yolo track` (Ultralytics 8.4.190, bytetrack.yaml) on the committed shapes clip with the default model.

Writes fixtures/tracking/shapes_clip_tracks.json: for each of the clip's 75 frames
  dets    the detections Ultralytics handed to BYTETracker.update (its Boxes: [x1, y1, x2, y2, conf, cls]),
  tracks  the rows BYTETracker.update returned ([track_id, x1, y1, x2, y2, score, cls, detection_index]),
  results the final track results (Results.boxes after the tracker: boxes clipped to the frame, with id).

The model is the shipped default (crates/yolo11-ghost/assets/yolo11n-ghost-shapes.safetensors) loaded into
Ultralytics as tools/make_default_model_fixtures.py does; the clip (fixtures/video/shapes_clip.mp4, made by
tools/make_video_fixture.py) is read by Ultralytics itself (cv2.VideoCapture). Settings are `yolo track`'s:
imgsz = the model's training size (320), conf 0.1 (track's default), iou 0.7, tracker=bytetrack.yaml.

Floats are written as the shortest decimal string of their float32 value (see make_track_fixtures.py).

Usage: .venv-ref/bin/python tools/make_track_clip_fixture.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_default_model_fixtures as model_fixtures  # noqa: E402  (sets up offline Ultralytics + GhostNet)
import numpy as np  # noqa: E402
from fixture_common import FIXTURES, REPO  # noqa: E402
from ultralytics.trackers.byte_tracker import BYTETracker  # noqa: E402

CLIP = FIXTURES / "video" / "shapes_clip.mp4"
OUT = FIXTURES / "tracking" / "shapes_clip_tracks.json"
CONF, IOU = 0.1, 0.7


def f32(v) -> str:
    return str(np.float32(v))


def main() -> None:
    y, meta = model_fixtures.load_model()
    imgsz = int(meta["imgsz"])

    # Record what the tracker sees and returns, frame by frame, without changing it.
    calls = []
    original = BYTETracker.update

    def recording_update(self, results, img=None, feats=None, **kw):
        out = original(self, results, img, feats, **kw)
        calls.append((np.asarray(results.data, dtype=np.float32).copy(), np.asarray(out, dtype=np.float32).copy()))
        return out

    BYTETracker.update = recording_update
    try:
        results = list(
            y.track(source=str(CLIP), imgsz=imgsz, conf=CONF, iou=IOU, tracker="bytetrack.yaml", stream=True,
                    verbose=False, device="cpu")
        )
    finally:
        BYTETracker.update = original
    assert len(calls) == len(results), (len(calls), len(results))

    frames = []
    for (dets, rows), r in zip(calls, results):
        b = r.boxes
        assert b.is_track, "every frame of the clip has tracks"
        frames.append(
            {
                "dets": [[*map(f32, d[:5]), int(d[5])] for d in dets.reshape(-1, 6)],
                "tracks": [[int(t[4]), *map(f32, t[:4]), f32(t[5]), int(t[6]), int(t[7])] for t in rows.reshape(-1, 8)],
                "results": [
                    [int(i), *map(f32, xyxy), f32(c), int(k)]
                    for i, xyxy, c, k in zip(b.id.tolist(), b.xyxy.tolist(), b.conf.tolist(), b.cls.tolist())
                ],
            }
        )
    import ultralytics

    doc = {
        "made_by": "tools/make_track_clip_fixture.py",
        "clip": str(CLIP.relative_to(REPO)),
        "versions": {"ultralytics": ultralytics.__version__, "numpy": np.__version__},
        "settings": {"imgsz": imgsz, "conf": CONF, "iou": IOU, "tracker": "bytetrack.yaml"},
        "det_row": "[x1, y1, x2, y2, conf, cls]",
        "track_row": "[track_id, x1, y1, x2, y2, score, class, detection_index]",
        "result_row": "[track_id, x1, y1, x2, y2, conf, class]",
        "frames": frames,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    ids = sorted({t[0] for f in frames for t in f["results"]})
    print(f"{len(frames)} frames, IDs {ids}, {OUT.stat().st_size} bytes -> {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
