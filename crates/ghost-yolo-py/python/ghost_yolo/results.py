"""``Results`` and ``Boxes`` with Ultralytics' attributes and output formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from . import _core


def _polars_json(value: Any) -> str:
    """Compact JSON as polars' ``write_json`` writes Ultralytics' summary: like
    ``json.dumps(separators=(",", ":"))`` except that floats are never in exponent form
    (``0.00006``, where Python's repr says ``6e-05``)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, float):
        text = repr(value)
        if "e" in text and np.isfinite(value):
            text = np.format_float_positional(value, trim="-")
            text = text if "." in text else text + ".0"
        return text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_polars_json(v)}" for k, v in value.items()) + "}"
    return "[" + ",".join(_polars_json(v) for v in value) + "]"


class Boxes:
    """Detections of one image: ``data`` rows are ``x1, y1, x2, y2, conf, cls`` (float32) in
    original-image pixels, or ``x1, y1, x2, y2, track_id, conf, cls`` for the tracks of
    :meth:`ghost_yolo.YOLO.track`, like ``ultralytics.engine.results.Boxes``."""

    def __init__(self, boxes: np.ndarray, orig_shape: Tuple[int, int]) -> None:
        if boxes.ndim == 1:
            boxes = boxes[None, :]
        if boxes.shape[-1] not in (6, 7):
            raise ValueError(
                f"expected N x 6 boxes (x1, y1, x2, y2, conf, cls) or N x 7 tracks "
                f"(x1, y1, x2, y2, track_id, conf, cls), found {boxes.shape}"
            )
        self.data: np.ndarray = boxes
        self.orig_shape: Tuple[int, int] = tuple(orig_shape)  # type: ignore[assignment]
        #: Whether the rows carry track IDs (7 columns).
        self.is_track: bool = boxes.shape[-1] == 7

    @property
    def id(self) -> Optional[np.ndarray]:
        """Track ID of each box (float32, as Ultralytics), or ``None`` when the boxes are not
        tracks (``predict``, or a ``track`` frame where the tracker confirmed no track)."""
        return self.data[:, -3] if self.is_track else None

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: Any) -> "Boxes":
        return Boxes(self.data[index], self.orig_shape)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"ghost_yolo.Boxes(data={self.data!r}, orig_shape={self.orig_shape})"

    @property
    def shape(self) -> Tuple[int, ...]:
        return self.data.shape

    @property
    def xyxy(self) -> np.ndarray:
        """Corners ``x1, y1, x2, y2`` in pixels."""
        return self.data[:, :4]

    @property
    def conf(self) -> np.ndarray:
        """Confidence of each box."""
        return self.data[:, -2]

    @property
    def cls(self) -> np.ndarray:
        """Class id of each box (float32, as in Ultralytics)."""
        return self.data[:, -1]

    @property
    def xywh(self) -> np.ndarray:
        """Centre and size ``cx, cy, w, h`` in pixels (float32 arithmetic, as ``ops.xyxy2xywh``)."""
        x = self.xyxy
        y = np.empty_like(x)
        y[:, 0] = (x[:, 0] + x[:, 2]) / np.float32(2)
        y[:, 1] = (x[:, 1] + x[:, 3]) / np.float32(2)
        y[:, 2] = x[:, 2] - x[:, 0]
        y[:, 3] = x[:, 3] - x[:, 1]
        return y

    @property
    def xyxyn(self) -> np.ndarray:
        """``xyxy`` divided by the image width and height."""
        xyxy = np.copy(self.xyxy)
        xyxy[:, [0, 2]] /= np.float32(self.orig_shape[1])
        xyxy[:, [1, 3]] /= np.float32(self.orig_shape[0])
        return xyxy

    @property
    def xywhn(self) -> np.ndarray:
        """``xywh`` divided by the image width and height (YOLO label format)."""
        xywh = self.xywh
        xywh[:, [0, 2]] /= np.float32(self.orig_shape[1])
        xywh[:, [1, 3]] /= np.float32(self.orig_shape[0])
        return xywh

    def numpy(self) -> "Boxes":
        return self

    def cpu(self) -> "Boxes":
        return self


class Results:
    """The detections of one image (``ultralytics.engine.results.Results`` for detection)."""

    def __init__(
        self,
        orig_img: np.ndarray,
        path: str,
        names: Dict[int, str],
        boxes: np.ndarray,
        speed: Optional[Dict[str, float]] = None,
    ) -> None:
        #: The image as given (BGR, ``HxWx3`` uint8).
        self.orig_img = orig_img
        self.orig_shape: Tuple[int, int] = (int(orig_img.shape[0]), int(orig_img.shape[1]))
        self.boxes = Boxes(boxes, self.orig_shape)
        self.names = names
        self.path = path
        #: Milliseconds per image: ``preprocess``, ``inference``, ``postprocess``.
        self.speed: Dict[str, Optional[float]] = speed or {"preprocess": None, "inference": None, "postprocess": None}
        self.masks = self.probs = self.keypoints = self.obb = None
        self.save_dir: Optional[str] = None

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index: Any) -> "Results":
        return Results(self.orig_img, self.path, self.names, self.boxes.data[index], self.speed)

    def __repr__(self) -> str:
        return (
            f"ghost_yolo.Results(path={self.path!r}, orig_shape={self.orig_shape}, "
            f"boxes={len(self.boxes)}, speed={self.speed})"
        )

    def update(self, boxes: Optional[np.ndarray] = None) -> None:
        """Replace the boxes (``N x 6`` or ``N x 7`` rows), clipped to the image as Ultralytics'
        ``Results.update`` clips them."""
        if boxes is not None:
            data = np.array(boxes, dtype=np.float32, copy=True)
            if data.ndim == 1:
                data = data[None, :]
            h, w = self.orig_shape
            data[:, [0, 2]] = data[:, [0, 2]].clip(0, w)
            data[:, [1, 3]] = data[:, [1, 3]].clip(0, h)
            self.boxes = Boxes(data, self.orig_shape)

    def numpy(self) -> "Results":
        return self

    def cpu(self) -> "Results":
        return self

    def verbose(self) -> str:
        """``"2 circles, 1 star, "`` as Ultralytics prints it (``"(no detections), "`` when empty)."""
        if len(self.boxes) == 0:
            return "(no detections), "
        counts = np.bincount(self.boxes.cls.astype(int))
        return "".join(
            f"{n} {self.names[c]}{'s' * int(n > 1)}, " for c, n in enumerate(counts) if n > 0
        )

    def summary(self, normalize: bool = False, decimals: int = 5) -> List[Dict[str, Any]]:
        """One dict per detection: ``name``, ``class``, ``confidence``, ``box`` (x1, y1, x2, y2)."""
        h, w = self.orig_shape if normalize else (1, 1)
        out = []
        for row in self.boxes.data.tolist():
            class_id, conf = int(row[-1]), round(row[-2], decimals)
            extra = {"track_id": int(row[-3])} if self.boxes.is_track else {}
            box = {
                "x1": round(row[0] / w, decimals),
                "y1": round(row[1] / h, decimals),
                "x2": round(row[2] / w, decimals),
                "y2": round(row[3] / h, decimals),
            }
            out.append({"name": self.names[class_id], "class": class_id, "confidence": conf, **extra, "box": box})
        return out

    def to_json(self, normalize: bool = False, decimals: int = 5) -> str:
        """``summary()`` as Ultralytics' JSON text (8.4 writes it compact, through polars)."""
        return _polars_json(self.summary(normalize=normalize, decimals=decimals))

    def tojson(self, normalize: bool = False, decimals: int = 5) -> str:
        """Older Ultralytics name of :meth:`to_json`."""
        return self.to_json(normalize=normalize, decimals=decimals)

    def plot(self) -> np.ndarray:
        """The image with boxes and labels drawn (Ultralytics' colours), as a BGR array. Tracks
        are labelled ``id:N name conf``, as Ultralytics labels them."""
        names = [self.names[i] for i in range(len(self.names))]
        data = self.boxes.data
        labels = None
        if self.boxes.is_track:
            labels = [f"id:{int(row[-3])} {self.names[int(row[-1])]}" for row in data.tolist()]
            data = data[:, [0, 1, 2, 3, 5, 6]]
        return _core.annotate(self.orig_img, np.ascontiguousarray(data), names, labels)

    def save(self, filename: Union[str, Path, None] = None) -> str:
        """Write :meth:`plot` to ``filename`` (default ``results_<image name>``); returns it."""
        if filename is None:
            filename = f"results_{Path(self.path).name}"
        _core.save_image(self.plot(), Path(filename))
        return str(filename)

    def save_txt(self, txt_file: Union[str, Path], save_conf: bool = False) -> str:
        """Append the detections to ``txt_file`` in YOLO label format, one line per box:
        ``cls cx cy w h [conf] [track_id]`` normalised, formatted with ``%g`` exactly as
        Ultralytics (the track ID last, for tracks)."""
        texts = []
        xywhn = self.boxes.xywhn
        ids = self.boxes.id
        for j in range(len(self.boxes)):
            line = (int(self.boxes.cls[j]), *(float(v) for v in xywhn[j]))
            if save_conf:
                line += (float(self.boxes.conf[j]),)
            if ids is not None:
                line += (int(ids[j]),)
            texts.append(("%g " * len(line)).rstrip() % line)
        if texts:
            Path(txt_file).parent.mkdir(parents=True, exist_ok=True)
            with open(txt_file, "a", encoding="utf-8") as f:
                f.writelines(text + "\n" for text in texts)
        return str(txt_file)
