"""Validation metrics shaped like Ultralytics' ``DetMetrics`` (``metrics.box.map`` ...)."""

from __future__ import annotations

from typing import Any, Dict, List


class Metric:
    """Box metrics: ``mp`` / ``mr`` (mean precision / recall), ``map50``, ``map`` (mAP50-95)."""

    def __init__(self, report: Dict[str, Any], nc: int) -> None:
        self.mp: float = report["precision"]
        self.mr: float = report["recall"]
        self.map50: float = report["map50"]
        self.map: float = report["map50_95"]
        classes = report["classes"]
        #: Class ids that have targets, and their P, R, AP50, AP50-95.
        self.ap_class_index: List[int] = [c["class"] for c in classes]
        self.p = [c["precision"] for c in classes]
        self.r = [c["recall"] for c in classes]
        self.ap50 = [c["map50"] for c in classes]
        self.ap = [c["map50_95"] for c in classes]
        # Ultralytics: per class mAP50-95, the mean for classes without targets.
        maps = [self.map] * nc
        for c in classes:
            maps[c["class"]] = c["map50_95"]
        self.maps = maps

    def mean_results(self) -> List[float]:
        return [self.mp, self.mr, self.map50, self.map]

    def fitness(self) -> float:
        return 0.1 * self.map50 + 0.9 * self.map

    def __repr__(self) -> str:
        return f"ghost_yolo.Metric(mp={self.mp:.5f}, mr={self.mr:.5f}, map50={self.map50:.5f}, map={self.map:.5f})"


class DetMetrics:
    """What ``YOLO.val`` returns: ``box`` (:class:`Metric`), ``speed``, ``results_dict``."""

    def __init__(self, report: Dict[str, Any], names: Dict[int, str]) -> None:
        self.names = names
        self.box = Metric(report, len(names))
        self.speed: Dict[str, float] = report["speed"]
        self.imgsz: int = report["imgsz"]
        self.seen: int = report["images"]
        self.nt: int = report["instances"]
        self.report = report

    @property
    def fitness(self) -> float:
        return self.box.fitness()

    @property
    def results_dict(self) -> Dict[str, float]:
        return {
            "metrics/precision(B)": self.box.mp,
            "metrics/recall(B)": self.box.mr,
            "metrics/mAP50(B)": self.box.map50,
            "metrics/mAP50-95(B)": self.box.map,
            "fitness": self.fitness,
        }

    @property
    def maps(self) -> List[float]:
        return self.box.maps

    def __repr__(self) -> str:
        return f"ghost_yolo.DetMetrics({self.box!r}, images={self.seen}, instances={self.nt})"
