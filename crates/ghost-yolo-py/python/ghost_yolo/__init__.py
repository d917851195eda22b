"""ghost_yolo: YOLO11 and YOLO11-GhostNet object detection on the CPU, in pure Rust, with the
Python API of Ultralytics.

    >>> from ghost_yolo import YOLO
    >>> model = YOLO()                      # the embedded default model
    >>> results = model("photos/", conf=0.4)
    >>> results[0].boxes.xyxy               # float32 numpy array, one row per object

``ghost_yolo.ray.Detector`` runs a model inside Ray Data's ``map_batches`` (scale-out on a cluster,
see docs/scale-out.md in the repository).
"""

from ._core import GhostYoloError, __version__
from .metrics import DetMetrics, Metric
from .model import YOLO
from .results import Boxes, Results

__all__ = ["YOLO", "Results", "Boxes", "DetMetrics", "Metric", "GhostYoloError", "__version__"]
