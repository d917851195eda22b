"""``YOLO``: load a model and predict, with Ultralytics' names, arguments and defaults."""

from __future__ import annotations

import json
import os
import warnings
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from . import _core
from . import tracking
from .metrics import DetMetrics
from .results import Results
from .sources import Item, expand

ModelSource = Union[str, "os.PathLike[str]", None]


def _builtin(name: str) -> Optional[str]:
    """The built-in model ``name`` (``yolo11n-ghost``, ``yolo11n-ghost.yaml``) refers to, if any."""
    stem = name[: -len(Path(name).suffix)] if name.endswith((".yaml", ".yml")) else name
    return stem if stem in _core.builtin_models() else None


def _imgsz(value: Any) -> Optional[Tuple[int, int]]:
    if value is None:
        return None
    if isinstance(value, Integral) and not isinstance(value, bool):
        if value < 1:
            raise ValueError(f"invalid imgsz: expected a positive size, found {value}")
        return (int(value), int(value))
    if isinstance(value, (list, tuple)) and len(value) in (1, 2) and all(
        isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in value
    ):
        return (int(value[0]), int(value[-1]))
    raise ValueError(f"invalid imgsz: expected an int or [height, width] of positive ints, found {value!r}")


def _unit(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"invalid {name}: expected a value in [0, 1], found {value!r}")
    return float(value)


def _count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"invalid {name}: expected an int >= {minimum}, found {value!r}")
    return int(value)


def _classes(value: Any) -> Optional[List[int]]:
    if value is None:
        return None
    values = [value] if isinstance(value, Integral) else value
    try:
        out = [int(v) for v in values if isinstance(v, Integral) and not isinstance(v, bool) and v >= 0]
    except TypeError:
        out = []
    if not isinstance(values, (list, tuple)) or len(out) != len(values):
        raise ValueError(f"invalid classes: expected a class id or a list of non-negative ints, found {value!r}")
    return out


class YOLO:
    """A YOLO11 / YOLO11-GhostNet detector, used as Ultralytics' ``YOLO``.

    ``model`` is one of:

    - ``None``: the embedded default model (YOLO11n-GhostNet trained on synthetic shapes);
    - ``"best.safetensors"``: a checkpoint exported by ``tools/export_ultralytics.py``;
    - ``"best.pt"``: an Ultralytics checkpoint, converted on load (needs ``torch`` and
      ``ultralytics``);
    - ``"yolo11n-ghost"`` / ``"yolo11m-ghost.yaml"`` / ``"my-model.yaml"``: a built-in model or a
      model YAML with seeded random weights (untrained, like Ultralytics' ``YOLO("x.yaml")``).

    One model can be shared by many threads; every call releases the GIL while it works.
    ``threads`` is the default kernel thread count of calls that do not give one (``None``: all
    cores).
    """

    def __init__(self, model: ModelSource = None, task: Optional[str] = None, *, threads: Optional[int] = None,
                 verbose: bool = False) -> None:
        if task not in (None, "detect"):
            raise ValueError(f"invalid task {task!r}: only 'detect' is supported")
        if threads is not None:
            threads = _count("threads", threads, 1)
        self.task = "detect"
        self.ckpt_path: Optional[str] = None
        if model is None:
            self._model = _core.Model.embedded(threads)
            self.model_name = "yolo11n-ghost-shapes (embedded)"
        else:
            name = os.fspath(model)
            self.model_name = name
            self._model = self._load(name, threads)
        for w in self._model.warnings:
            warnings.warn(w, stacklevel=2)
        #: Class names by id.
        self.names: Dict[int, str] = dict(enumerate(self._model.names))
        # The tracker of the last `track` call, kept for a `persist=True` call.
        self._tracker: Optional[_core.Tracker] = None

    @staticmethod
    def _load(name: str, threads: Optional[int]) -> "_core.Model":
        suffix = Path(name).suffix.lower()
        if suffix == ".safetensors":
            if not os.path.isfile(name):
                raise FileNotFoundError(f"weights file {name} does not exist")
            return _core.Model.from_weights(name, threads)
        if suffix == ".pt":
            from ._pt import convert

            return _core.Model.from_weights(convert(name), threads)
        if suffix in (".yaml", ".yml") and os.path.isfile(name):
            spec = name
        else:
            spec = _builtin(name)
            if spec is None:
                if suffix in (".yaml", ".yml"):
                    raise FileNotFoundError(f"model YAML {name} does not exist and is not a built-in model")
                if os.path.exists(name):
                    raise ValueError(f"{name}: unsupported model file (expected .safetensors, .pt or .yaml)")
                raise FileNotFoundError(
                    f"{name} is neither a file nor a built-in model ({', '.join(_core.builtin_models())})"
                )
        warnings.warn(
            f"{name}: a model without weights gets seeded random weights; its detections are meaningless",
            stacklevel=3,
        )
        return _core.Model.from_spec(spec, None, threads)

    # --- prediction -------------------------------------------------------------------------

    def __call__(self, source: Any = None, stream: bool = False, **kwargs: Any) -> List[Results]:
        """Same as :meth:`predict`."""
        return self.predict(source, stream=stream, **kwargs)

    def predict(
        self,
        source: Any = None,
        *,
        conf: float = 0.25,
        iou: float = 0.7,
        imgsz: Union[int, Sequence[int], None] = None,
        classes: Union[int, Sequence[int], None] = None,
        max_det: int = 300,
        agnostic_nms: bool = False,
        batch: int = 1,
        threads: Optional[int] = None,
        stream: bool = False,
        verbose: bool = False,
        device: Optional[str] = None,
    ) -> List[Results]:
        """Detect objects in ``source``: a path, a directory, a glob, a numpy ``HxWx3`` uint8 BGR
        array, a PIL image, or a list of these. Returns one :class:`Results` per image, in order.

        ``imgsz`` defaults to the size the weights were trained at (their metadata; 320 for the
        default model), else 640, as Ultralytics does for a checkpoint; sides are rounded up to the
        stride. ``batch`` images go through the network together (one letterbox shape per
        batch). ``threads``: kernel threads for this call (default: the model's).
        """
        if device not in (None, "cpu"):
            raise ValueError(f"invalid device {device!r}: this engine runs on the CPU only")
        options = self._options(
            conf=conf, iou=iou, imgsz=imgsz, classes=classes, max_det=max_det, agnostic_nms=agnostic_nms,
            threads=threads,
        )
        return self._predict_items(expand(source), options, _count("batch", batch, 1), verbose)

    @staticmethod
    def _options(*, conf: Any, iou: Any, imgsz: Any, classes: Any, max_det: Any, agnostic_nms: Any,
                 threads: Any) -> Dict[str, Any]:
        """The per-call options, checked (ValueError names the bad one)."""
        return {
            "conf": _unit("conf", conf),
            "iou": _unit("iou", iou),
            "imgsz": _imgsz(imgsz),
            "classes": _classes(classes),
            "max_det": _count("max_det", max_det, 0),
            "agnostic_nms": bool(agnostic_nms),
            "threads": None if threads is None else _count("threads", threads, 1),
        }

    def _predict_items(self, items: List[Item], options: Dict[str, Any], batch: int, verbose: bool) -> List[Results]:
        results: List[Results] = []
        for start in range(0, len(items), batch):
            results.extend(self._run(items[start : start + batch], options, verbose))
        return results

    def _run(self, chunk: List[Item], options: Dict[str, Any], verbose: bool) -> List[Results]:
        if all(it.array is None for it in chunk):
            out, notes = self._model.detect_paths([it.path for it in chunk], options)
            results = [
                Results(img, it.path, self.names, boxes, _speed(s)) for it, (img, boxes, s) in zip(chunk, out)
            ]
        else:
            # Arrays (or a mix): one channel order per call, so files are decoded and RGB inputs
            # flipped to BGR first (a copy, only in this mixed case).
            same_order = len({it.bgr for it in chunk if it.array is not None}) == 1 and all(
                it.array is not None for it in chunk
            )
            if same_order:
                arrays, bgr = [it.array for it in chunk], chunk[0].bgr
            else:
                arrays = [
                    _core.read_image(it.path) if it.array is None else (it.array if it.bgr else it.array[..., ::-1])
                    for it in chunk
                ]
                bgr = True
            out, notes = self._model.detect_arrays(arrays, bgr, options)
            results = []
            for it, a, (boxes, s) in zip(chunk, arrays, out):
                orig = a if bgr else a[..., ::-1]
                results.append(Results(orig, it.path, self.names, boxes, _speed(s)))
        for note in notes:
            warnings.warn(note, stacklevel=4)
        if verbose:
            for r in results:
                h, w = r.orig_shape
                print(f"{r.path}: {h}x{w} {r.verbose()}{r.speed['inference']:.1f}ms")
        return results

    # --- tracking ---------------------------------------------------------------------------

    def track(
        self,
        source: Any = None,
        stream: bool = False,
        persist: bool = False,
        *,
        tracker: Union[str, "os.PathLike[str]"] = "bytetrack.yaml",
        conf: Optional[float] = None,
        iou: float = 0.7,
        imgsz: Union[int, Sequence[int], None] = None,
        classes: Union[int, Sequence[int], None] = None,
        max_det: int = 300,
        agnostic_nms: bool = False,
        batch: Optional[int] = None,
        vid_stride: int = 1,
        threads: Optional[int] = None,
        verbose: bool = False,
        device: Optional[str] = None,
    ) -> Union[List[Results], Iterator[Results]]:
        """Detect and track objects across the frames of ``source``: a video file, an image or
        a list / directory / glob of images and videos, or numpy arrays (BGR) and PIL images fed
        one call at a time with ``persist=True``. Returns one :class:`Results` per frame (a
        generator with ``stream=True``, decoding as it goes); ``results[i].boxes.id`` holds the
        track IDs (``None`` on a frame where no track is confirmed).

        As Ultralytics' ``track``: ``conf`` defaults to 0.1 (``conf or 0.1``: ByteTrack's second
        association needs the low-score boxes); ``persist=True`` keeps the tracker (and its
        settings) of the previous call, otherwise a call starts a new one and resets it when the
        source changes (a new video, each image of a list); ``tracker`` is ``"bytetrack.yaml"``
        or a tracker YAML path (``tracker_type: bytetrack``). Ultralytics' default tracker,
        ``"botsort.yaml"``, raises ``NotImplementedError``: BoT-SORT is not implemented, so the
        default here is ByteTrack. ``vid_stride`` keeps every n-th video frame.
        """
        if device not in (None, "cpu"):
            raise ValueError(f"invalid device {device!r}: this engine runs on the CPU only")
        options = self._options(
            conf=conf or 0.1, iou=iou, imgsz=imgsz, classes=classes, max_det=max_det,
            agnostic_nms=agnostic_nms, threads=threads,
        )
        batch = _count("batch", batch or 1, 1)
        vid_stride = _count("vid_stride", vid_stride, 1)
        if not (persist and self._tracker is not None):
            self._tracker = tracking.make_tracker(tracker)
        # Sources are checked (missing files raise) before the first frame, as for predict.
        items = expand(source, videos=True)
        frames = self._track_frames(items, options, batch, vid_stride, self._tracker, bool(persist), verbose)
        return frames if stream else list(frames)

    def _track_frames(self, items: List[Item], options: Dict[str, Any], batch: int, vid_stride: int,
                      tracker: "_core.Tracker", persist: bool, verbose: bool) -> Iterator[Results]:
        previous: Optional[str] = None
        chunk: List[Tuple[str, Any]] = []
        source = tracking.frames(items, vid_stride)
        while True:
            chunk = [f for _, f in zip(range(batch), source)]
            if not chunk:
                return
            out, notes = self._model.detect_arrays([f for _, f in chunk], True, options)
            for note in notes:
                warnings.warn(note, stacklevel=3)
            for (path, frame), (boxes, s) in zip(chunk, out):
                if not persist and not tracking.same_sequence(previous, path):
                    tracker.reset()
                previous = path
                result = tracking.tracked(tracker, Results(frame, path, self.names, boxes, _speed(s)))
                if verbose:
                    h, w = result.orig_shape
                    print(f"{result.path}: {h}x{w} {result.verbose()}{result.speed['inference']:.1f}ms")
                yield result

    # --- the rest of Ultralytics' model API -------------------------------------------------

    def info(self, detailed: bool = False, verbose: bool = True, imgsz: Union[int, Sequence[int]] = 640) -> Tuple[int, int, int, float]:
        """Print the per-layer table of ``ghost-yolo info`` (parameters, GFLOPs at ``imgsz``) and
        return ``(layers, parameters, gradients, GFLOPs)`` like Ultralytics (gradients =
        parameters: the model is trainable where it was trained)."""
        h, w = _imgsz(imgsz) or (640, 640)
        stride = self._model.stride
        h, w = max(-(-h // stride), 1) * stride, max(-(-w // stride), 1) * stride
        table, layers, params, gflops = self._model.info((h, w))
        if verbose:
            print(table)
        return layers, params, params, gflops

    def val(
        self,
        data: Union[str, "os.PathLike[str]", None] = None,
        *,
        imgsz: Optional[int] = None,
        batch: int = 16,
        conf: float = 0.001,
        iou: float = 0.7,
        max_det: int = 300,
        split: str = "val",
        verbose: bool = False,
    ) -> DetMetrics:
        """Ultralytics ``val`` on a YOLO-format dataset YAML: returns :class:`DetMetrics`
        (``.box.map``, ``.box.map50``, ``.box.mp``, ``.box.mr`` ...). ``imgsz`` defaults to the
        training size, as for ``predict``."""
        if data is None:
            raise ValueError("data is required: the path of a dataset YAML")
        data = os.fspath(data)
        if not os.path.isfile(data):
            raise FileNotFoundError(f"dataset YAML {data} does not exist")
        if imgsz is not None:
            imgsz = _count("imgsz", imgsz, 1)
        report = json.loads(
            self._model.val(
                data, str(split), imgsz, _count("batch", batch, 1), _unit("conf", conf), _unit("iou", iou),
                _count("max_det", max_det, 0),
            )
        )
        metrics = DetMetrics(report, self.names)
        if verbose:
            print(metrics)
        return metrics

    @property
    def stride(self) -> int:
        return self._model.stride

    @property
    def trained_imgsz(self) -> Optional[int]:
        """The image size the weights were trained at (the default ``imgsz``), when known."""
        return self._model.trained_imgsz

    def __repr__(self) -> str:
        return f"ghost_yolo.YOLO({self.model_name!r}, nc={len(self.names)})"


def _speed(s: Tuple[float, float, float]) -> Dict[str, float]:
    return {"preprocess": s[0], "inference": s[1], "postprocess": s[2]}


__all__ = ["YOLO"]
