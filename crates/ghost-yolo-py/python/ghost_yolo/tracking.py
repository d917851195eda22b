"""What ``YOLO.track`` adds to ``predict``: the ``tracker=`` setting, the frames of the sources
one at a time (videos decoded by ffmpeg), and Ultralytics' rules for when a tracker is reset.

Ultralytics (``ultralytics/trackers/track.py``) makes the tracker when a ``track`` call starts,
unless ``persist=True`` and one exists already (then it keeps it, settings included); without
``persist`` it resets the tracker whenever the name of the result's path changes: every frame of
one video keeps the path, each image of a list or directory (and each numpy array, named
``image0.jpg``, ``image1.jpg`` ...) has its own. A frame where the tracker confirms no track keeps
its raw detections, with ``boxes.id`` ``None``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import numpy as np

from . import _core
from .sources import Item

#: The tracker files known by name (Ultralytics ships them in ``ultralytics/cfg/trackers``).
BUILTIN_TRACKERS = ("bytetrack.yaml", "botsort.yaml")


def make_tracker(tracker: Any) -> "_core.Tracker":
    """A fresh tracker for ``tracker=``: ``"bytetrack.yaml"`` (Ultralytics' settings) or the path
    of a tracker YAML with ``tracker_type: bytetrack``. ``"botsort.yaml"`` (and a file with
    ``tracker_type: botsort``) raise ``NotImplementedError``: BoT-SORT is not implemented."""
    if not isinstance(tracker, (str, os.PathLike)):
        raise ValueError(f"invalid tracker: expected a tracker YAML name or path, found {tracker!r}")
    name = os.fspath(tracker)
    # As Ultralytics' check_yaml: a file that exists is read, else a built-in name is looked up.
    if os.path.isfile(name):
        return _core.Tracker.from_yaml(name)
    if name == "bytetrack.yaml":
        return _core.Tracker.bytetrack()
    if name == "botsort.yaml":
        raise NotImplementedError(
            "tracker='botsort.yaml': BoT-SORT is not implemented; use tracker='bytetrack.yaml' "
            "(ByteTrack, the same IDs as Ultralytics)"
        )
    raise FileNotFoundError(
        f"tracker {name!r}: no such file, and not a built-in tracker ({', '.join(BUILTIN_TRACKERS)}; "
        "botsort.yaml is not implemented)"
    )


def frames(items: List[Item], vid_stride: int) -> Iterator[Tuple[str, np.ndarray]]:
    """``(path, BGR HxWx3 array)`` for every frame of ``items`` in order: an image is one frame,
    a video file its frames (every ``vid_stride``-th), decoded while the caller works on the
    previous ones."""
    for it in items:
        if it.video:
            reader = _core.VideoReader(it.path, vid_stride)
            for frame in reader:
                yield it.path, frame
            for w in reader.warnings:
                warnings.warn(w, stacklevel=3)
        elif it.array is not None:
            # PIL images are RGB: a flipped view, which the engine copies once.
            yield it.path, it.array if it.bgr else it.array[..., ::-1]
        else:
            yield it.path, _core.read_image(it.path)


def tracked(tracker: "_core.Tracker", result: Any) -> Any:
    """``result`` after the tracker's update for its frame (``on_predict_postprocess_end``): the
    confirmed tracks as 7-column boxes (the Kalman box clipped to the image, the track ID, the
    matched detection's score and class), or the detections unchanged when there is none."""
    tracks = tracker.update(np.ascontiguousarray(result.boxes.data))
    if len(tracks) == 0:
        return result
    out = result[tracks[:, -1].astype(int)]
    out.update(boxes=tracks[:, :-1])
    return out


def same_sequence(previous: Any, path: str) -> bool:
    """Whether ``path`` continues the sequence of ``previous`` without ``persist`` (Ultralytics
    compares ``save_dir / Path(path).name``: the name alone decides)."""
    return previous is not None and Path(previous).name == Path(path).name
