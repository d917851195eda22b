"""Scale-out on Ray Data: ``ghost_yolo.ray.Detector`` is a callable class for
``Dataset.map_batches``. Each Ray actor loads the model once and runs every batch it is given::

    import ray, ghost_yolo.ray
    ray.init(num_cpus=8 + 1)   # 8 cores, 1 spare logical CPU for the write beside the actors
    ds = ray.data.read_images("s3://bucket/images/", include_paths=True)   # column "image" (RGB)
    ds = ds.map_batches(
        ghost_yolo.ray.Detector,
        fn_constructor_kwargs={"model": "best.safetensors", "threads": 1},
        concurrency=8, batch_size=32, num_cpus=1,
    )
    ds.drop_columns(["image"], concurrency=1).write_parquet("s3://bucket/detections/", concurrency=1)

Input: a column ``path`` (image files every worker can read: a shared file system) or a column
``image`` (decoded ``HxWx3`` uint8 arrays; RGB, as Ray Data's ``read_images`` decodes them, unless
``channels="bgr"``). Output: the input columns plus ``boxes`` (``N x 4`` float32 ``x1, y1, x2, y2``
in pixels), ``conf`` (``N``) and ``cls`` (``N``, float32 class ids) per row. See
``docs/scale-out.md`` for a cluster recipe, and for why the write gets a spare CPU (otherwise
it waits for the actors' CPUs until all detection is done).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from .model import YOLO
from .sources import Item, check_array


def _ragged(arrays: List[np.ndarray]) -> np.ndarray:
    """A column of per-row arrays of different lengths (Ray stores it as a variable-shape
    tensor column)."""
    out = np.empty(len(arrays), dtype=object)
    for i, a in enumerate(arrays):
        out[i] = a
    return out


class Detector:
    """Runs a :class:`ghost_yolo.YOLO` model on Ray Data batches (``batch_format="numpy"``,
    the default). Constructor arguments go in ``fn_constructor_kwargs``; ``threads`` is the
    kernel threads of each actor: give Ray ``num_cpus=threads`` per actor and run one actor per
    core group (``concurrency``)."""

    def __init__(
        self,
        model: Optional[str] = None,
        *,
        conf: float = 0.25,
        iou: float = 0.7,
        imgsz: Union[int, Sequence[int], None] = None,
        classes: Union[int, Sequence[int], None] = None,
        max_det: int = 300,
        agnostic_nms: bool = False,
        threads: Optional[int] = 1,
        channels: str = "rgb",
    ) -> None:
        if channels not in ("rgb", "bgr"):
            raise ValueError(f"invalid channels {channels!r}: expected 'rgb' or 'bgr'")
        self.model = YOLO(model, threads=threads)
        self.bgr = channels == "bgr"
        self.options = YOLO._options(
            conf=conf, iou=iou, imgsz=imgsz, classes=classes, max_det=max_det,
            agnostic_nms=agnostic_nms, threads=threads,
        )

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        if "path" in batch:
            items = [Item(path=str(p)) for p in batch["path"]]
        elif "image" in batch:
            items = [
                Item(path=f"image{i}", array=check_array(np.asarray(im), f"row {i} of column 'image'"), bgr=self.bgr)
                for i, im in enumerate(batch["image"])
            ]
        else:
            raise ValueError(f"the batch needs a column 'path' or 'image', found {sorted(batch)}")
        # One image per forward pass: the result of a row never depends on its batch-mates.
        results = self.model._predict_items(items, self.options, 1, False)
        out = dict(batch)
        out["boxes"] = _ragged([r.boxes.xyxy.copy() for r in results])
        out["conf"] = _ragged([r.boxes.conf.copy() for r in results])
        out["cls"] = _ragged([r.boxes.cls.copy() for r in results])
        return out
