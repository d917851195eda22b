"""ghost_yolo.ray.Detector on a local two-worker Ray cluster bound to loopback: >= 200 images
(the 68 shipped ones, repeated), every row equal to the single-process result exactly."""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import SHIPPED

ray = pytest.importorskip("ray")  # pinned in tools/requirements-py-test.txt: always present in CI

REPEAT = 3  # 68 x 3 = 204 rows


@pytest.fixture(scope="module")
def cluster():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no telemetry: this machine has no network
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield
    finally:
        ray.shutdown()


def reference():
    from ghost_yolo import YOLO

    model = YOLO(threads=1)
    return {p: r.boxes.data for p, r in zip(SHIPPED, model(SHIPPED, threads=1))}


def check(rows, expected):
    assert len(rows) == len(SHIPPED) * REPEAT >= 200
    seen = sorted(int(r["index"]) for r in rows)
    assert seen == list(range(len(SHIPPED) * REPEAT))
    detections = 0
    for row in rows:
        exp = expected[SHIPPED[int(row["index"]) % len(SHIPPED)]]
        boxes = np.asarray(row["boxes"], dtype=np.float32).reshape(-1, 4)
        conf = np.asarray(row["conf"], dtype=np.float32).reshape(-1)
        cls = np.asarray(row["cls"], dtype=np.float32).reshape(-1)
        assert boxes.tolist() == exp[:, :4].tolist()
        assert conf.tolist() == exp[:, 4].tolist()
        assert cls.tolist() == exp[:, 5].tolist()
        detections += len(conf)
    assert detections == 261 * REPEAT


def test_two_workers_on_paths_equal_single_process(cluster):
    import ghost_yolo.ray

    expected = reference()
    items = [{"index": i, "path": SHIPPED[i % len(SHIPPED)]} for i in range(len(SHIPPED) * REPEAT)]
    ds = ray.data.from_items(items, override_num_blocks=8).map_batches(
        ghost_yolo.ray.Detector,
        fn_constructor_kwargs={"threads": 1},
        concurrency=2,
        num_cpus=1,
        batch_size=16,
    )
    rows = ds.take_all()
    check(rows, expected)


def test_image_column_in_rgb_equals_paths(cluster):
    """Decoded images (RGB, as Ray Data's read_images gives them) in column `image`."""
    import ghost_yolo
    import ghost_yolo.ray

    expected = reference()
    rgb = {p: np.ascontiguousarray(ghost_yolo._core.read_image(p)[..., ::-1]) for p in SHIPPED}
    items = [{"index": i, "image": rgb[SHIPPED[i % len(SHIPPED)]]} for i in range(len(SHIPPED) * REPEAT)]
    ds = ray.data.from_items(items, override_num_blocks=8).map_batches(
        ghost_yolo.ray.Detector,
        fn_constructor_kwargs={"threads": 1},
        concurrency=2,
        num_cpus=1,
        batch_size=16,
    )
    rows = ds.drop_columns(["image"]).take_all()
    check(rows, expected)


def test_detector_rejects_batches_without_inputs():
    import ghost_yolo.ray

    d = ghost_yolo.ray.Detector(threads=1)
    with pytest.raises(ValueError, match="'path' or 'image'"):
        d({"other": np.array([1])})
    with pytest.raises(ValueError, match="channels"):
        ghost_yolo.ray.Detector(channels="rbg")
