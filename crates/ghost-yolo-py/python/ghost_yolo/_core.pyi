"""Type stubs of the compiled module ``ghost_yolo._core`` (see ``src/`` of the crate)."""

from os import PathLike
from typing import Dict, Iterator, List, Optional, Tuple, TypedDict, Union

import numpy as np
import numpy.typing as npt

__version__: str

_Path = Union[str, PathLike[str]]
_Speed = Tuple[float, float, float]
_U8 = npt.NDArray[np.uint8]
_F32 = npt.NDArray[np.float32]

class GhostYoloError(Exception):
    """Bad weights, model YAML, image or dataset, or an internal error (never a raw panic)."""

class PredictOptions(TypedDict):
    conf: float
    iou: float
    imgsz: Optional[Tuple[int, int]]
    classes: Optional[List[int]]
    max_det: int
    agnostic_nms: bool
    threads: Optional[int]

class Model:
    """A loaded detector, shared safely between threads; calls release the GIL."""

    @staticmethod
    def embedded(threads: Optional[int] = None) -> Model: ...
    @staticmethod
    def from_weights(path: _Path, threads: Optional[int] = None) -> Model: ...
    @staticmethod
    def from_spec(model: str, seed: Optional[int] = None, threads: Optional[int] = None) -> Model: ...
    @property
    def names(self) -> List[str]: ...
    @property
    def model_name(self) -> str: ...
    @property
    def trained_imgsz(self) -> Optional[int]: ...
    @property
    def stride(self) -> int: ...
    @property
    def threads(self) -> int: ...
    @property
    def warnings(self) -> List[str]: ...
    def info(self, imgsz: Tuple[int, int]) -> Tuple[str, int, int, float]: ...
    def detect_paths(
        self, paths: List[_Path], options: PredictOptions
    ) -> Tuple[List[Tuple[_U8, _F32, _Speed]], List[str]]: ...
    def detect_arrays(
        self, arrays: List[_U8], bgr: bool, options: PredictOptions
    ) -> Tuple[List[Tuple[_F32, _Speed]], List[str]]: ...
    def val(
        self,
        data: _Path,
        split: str,
        imgsz: Optional[int],
        batch: int,
        conf: float,
        iou: float,
        max_det: int,
    ) -> str: ...

class Tracker:
    """ByteTrack (Ultralytics' ``BYTETracker``) over one sequence of frames."""

    def __init__(
        self,
        track_high_thresh: float,
        track_low_thresh: float,
        new_track_thresh: float,
        track_buffer: int,
        match_thresh: float,
        fuse_score: bool,
    ) -> None: ...
    @staticmethod
    def bytetrack() -> Tracker: ...
    @staticmethod
    def from_yaml(path: _Path) -> Tracker: ...
    def update(self, boxes: _F32) -> _F32: ...
    def reset(self) -> None: ...
    @property
    def frame_count(self) -> int: ...
    @property
    def config(self) -> Dict[str, float]: ...

class VideoReader:
    """A video file's frames as BGR ``HxWx3`` uint8 arrays (decoded by ffmpeg)."""

    def __init__(self, path: _Path, vid_stride: int = 1) -> None: ...
    def __iter__(self) -> Iterator[_U8]: ...
    def __next__(self) -> _U8: ...
    @property
    def frames(self) -> Optional[int]: ...
    @property
    def fps(self) -> float: ...
    @property
    def warnings(self) -> List[str]: ...

def builtin_models() -> List[str]: ...
def annotate(image: _U8, boxes: _F32, names: List[str], labels: Optional[List[str]] = None) -> _U8: ...
def save_image(image: _U8, path: _Path) -> None: ...
def read_image(path: _Path) -> _U8: ...
