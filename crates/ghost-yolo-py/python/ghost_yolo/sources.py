"""Ultralytics' prediction sources turned into a flat list of images (and, for ``track``, videos).

A source is a path (file, directory: its image files, sorted; glob pattern), a numpy ``HxWx3``
uint8 array in BGR order (OpenCV's), a PIL image, or a list/tuple of these. With ``videos=True``
(``track``) video files count too: named, in a directory or matched by a glob (within one source
the images first, then the videos, as Ultralytics orders them). Missing paths raise
``FileNotFoundError``, anything else unusable ``ValueError``, before any work starts.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional

import numpy as np

# The image formats the engine decodes (Ultralytics' IMG_FORMATS minus the ones it cannot).
IMG_FORMATS = frozenset({"bmp", "gif", "jpeg", "jpg", "png", "tif", "tiff", "webp", "pbm"})
# Ultralytics' VID_FORMATS (decoded by ffmpeg) minus gif, which is read as an image above.
VID_FORMATS = frozenset({"asf", "avi", "m4v", "mkv", "mov", "mp4", "mpeg", "mpg", "ts", "wmv", "webm"})


@dataclass
class Item:
    """One image to run: a file (``array is None``) or pixels (``bgr`` says their order)."""

    path: str
    array: Optional[np.ndarray] = None
    bgr: bool = True
    #: A video file (decoded frame by frame; only with ``expand(..., videos=True)``).
    video: bool = False


def _extension(p: str) -> str:
    return p.rsplit(".", 1)[-1].lower() if "." in os.path.basename(p) else ""


def _is_image_file(p: str) -> bool:
    return os.path.isfile(p) and _extension(p) in IMG_FORMATS


def _is_video_file(p: str) -> bool:
    return os.path.isfile(p) and _extension(p) in VID_FORMATS


def _images_then_videos(files: List[str], videos: bool) -> List[Item]:
    items = [Item(path=f) for f in files if _is_image_file(f)]
    if videos:
        items += [Item(path=f, video=True) for f in files if _is_video_file(f)]
    return items


def _expand_path(p: str, videos: bool = False) -> List[Item]:
    what = "image or video file" if videos else "image file"
    if any(c in p for c in "*?["):
        items = _images_then_videos(sorted(glob.glob(p, recursive=True)), videos)
        if not items:
            raise FileNotFoundError(f"{p}: the pattern matches no {what}")
        return items
    if os.path.isdir(p):
        items = _images_then_videos(sorted(os.path.join(p, f) for f in os.listdir(p)), videos)
        if not items:
            formats = sorted(IMG_FORMATS | (VID_FORMATS if videos else frozenset()))
            raise FileNotFoundError(f"{p}: the directory holds no {what} ({', '.join(formats)})")
        return items
    if os.path.isfile(p):
        return [Item(path=p, video=videos and _extension(p) in VID_FORMATS)]
    if p.startswith(("http://", "https://", "rtsp://", "rtmp://")):
        raise ValueError(f"{p}: URLs and streams are not supported; download the file first")
    raise FileNotFoundError(f"{p} does not exist")


def check_array(a: Any, where: str) -> np.ndarray:
    """A uint8 ``HxWx3`` array or a ValueError saying what was found instead."""
    if not isinstance(a, np.ndarray):
        raise ValueError(f"{where}: expected a numpy array, found {type(a).__name__}")
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(
            f"{where}: expected an HxWx3 uint8 array (BGR), found dtype {a.dtype} shape {a.shape}"
        )
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{where}: the image is empty (shape {a.shape})")
    return a


def _is_pil(x: Any) -> bool:
    return type(x).__module__.startswith("PIL.") and hasattr(x, "convert") and hasattr(x, "size")


def expand(source: Any, videos: bool = False) -> List[Item]:
    """Every image of ``source`` in order (and every video, with ``videos``)."""
    if source is None:
        raise ValueError("source is required: a path, directory, glob, numpy array, PIL image or a list of these")
    items: List[Item] = []
    singles = source if isinstance(source, (list, tuple)) else [source]
    if isinstance(source, (list, tuple)) and not source:
        raise ValueError("source is an empty list")
    for i, s in enumerate(singles):
        if isinstance(s, (str, os.PathLike)):
            items.extend(_expand_path(os.fspath(s), videos))
        elif isinstance(s, np.ndarray):
            items.append(Item(path=f"image{i}.jpg", array=check_array(s, f"source {i}"), bgr=True))
        elif _is_pil(s):
            rgb = np.asarray(s.convert("RGB"))
            name = getattr(s, "filename", "") or f"image{i}.jpg"
            items.append(Item(path=name, array=check_array(rgb, f"source {i}"), bgr=False))
        else:
            raise ValueError(
                f"source {i}: unsupported type {type(s).__name__} (expected a path, numpy array or PIL image)"
            )
    return items


def item_name(path: str) -> str:
    return Path(path).name
