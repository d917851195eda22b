"""Every error reaches Python as the documented exception type with a message that names the
problem: FileNotFoundError, ValueError, ghost_yolo.GhostYoloError; never a panic."""

from __future__ import annotations

import numpy as np
import pytest

import ghost_yolo
from ghost_yolo import GhostYoloError, YOLO
from conftest import FIXTURES, SHIPPED


def test_missing_files_raise_file_not_found(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        YOLO(str(tmp_path / "nope.safetensors"))
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        YOLO(str(tmp_path / "nope.pt"))
    with pytest.raises(FileNotFoundError, match="my-model.yaml"):
        YOLO(str(tmp_path / "my-model.yaml"))
    with pytest.raises(FileNotFoundError, match="not-a-model"):
        YOLO("not-a-model")
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        model(str(tmp_path / "missing.jpg"))
    with pytest.raises(FileNotFoundError, match="no image file"):
        model(str(tmp_path))  # empty directory
    with pytest.raises(FileNotFoundError, match="matches no image"):
        model(str(tmp_path / "*.png"))
    with pytest.raises(FileNotFoundError, match="data.yaml"):
        model.val(data=str(tmp_path / "data.yaml"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"conf": 1.5}, "conf"),
        ({"conf": "high"}, "conf"),
        ({"iou": -0.1}, "iou"),
        ({"imgsz": 0}, "imgsz"),
        ({"imgsz": "640"}, "imgsz"),
        ({"imgsz": [320, 0]}, "imgsz"),
        ({"batch": 0}, "batch"),
        ({"max_det": -1}, "max_det"),
        ({"classes": "circle"}, "classes"),
        ({"classes": [0, -1]}, "classes"),
        ({"threads": 0}, "threads"),
        ({"device": "cuda:0"}, "device"),
    ],
)
def test_bad_arguments_raise_value_error(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        model(SHIPPED[0], **kwargs)


def test_bad_sources_raise_value_error(model):
    with pytest.raises(ValueError, match="source is required"):
        model()
    with pytest.raises(ValueError, match="empty list"):
        model([])
    with pytest.raises(ValueError, match="unsupported type int"):
        model(123)
    with pytest.raises(ValueError, match="float64"):
        model(np.zeros((32, 32, 3)))
    with pytest.raises(ValueError, match=r"\(32, 32\)"):
        model(np.zeros((32, 32), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        model(np.zeros((0, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="URL"):
        model("https://example.invalid/a.jpg")
    with pytest.raises(ValueError, match="task"):
        YOLO(task="segment")


def test_bad_weights_yaml_and_images_raise_ghost_yolo_error(model, tmp_path):
    bad_weights = tmp_path / "bad.safetensors"
    bad_weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    with pytest.raises(GhostYoloError, match="bad.safetensors"):
        YOLO(str(bad_weights))
    # a valid safetensors file without the tensors a model needs
    empty = tmp_path / "empty.safetensors"
    header = b'{"__metadata__":{"yaml_file":"yolo11n-ghost.yaml"}}'
    empty.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(GhostYoloError):
        YOLO(str(empty))
    bad_yaml = tmp_path / "broken.yaml"
    bad_yaml.write_text("nc: 3\nbackbone: [[-1, 1, NoSuchModule, [64]]]\nhead: []\n")
    with pytest.warns(UserWarning, match="seeded random weights"), pytest.raises(GhostYoloError, match="NoSuchModule"):
        YOLO(str(bad_yaml))
    bad_image = tmp_path / "broken.jpg"
    bad_image.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    with pytest.raises(GhostYoloError, match="broken.jpg"):
        model(str(bad_image))
    bad_data = tmp_path / "data.yaml"
    bad_data.write_text("val: images/nowhere\nnames: {0: a}\n")
    with pytest.raises((GhostYoloError, FileNotFoundError), match="nowhere"):
        model.val(data=str(bad_data))
    assert issubclass(GhostYoloError, Exception)


def test_pt_without_torch_names_both_packages(tmp_path):
    try:
        import torch  # noqa: F401
        import ultralytics  # noqa: F401

        pytest.skip("torch and ultralytics are importable here: the conversion itself would run")
    except ImportError:
        pass
    pt = tmp_path / "best.pt"
    pt.write_bytes(b"not a checkpoint")
    with pytest.raises(ImportError, match=r"'torch' and 'ultralytics'"):
        YOLO(str(pt))


def test_a_panic_becomes_ghost_yolo_error():
    with pytest.raises(GhostYoloError, match="internal error.*deliberate test panic"):
        ghost_yolo._core._panic_for_tests("deliberate test panic")
    # the module is still usable afterwards
    assert "yolo11n-ghost" in ghost_yolo._core.builtin_models()


def test_save_to_an_unknown_format_is_a_value_error(model, tmp_path):
    r = model(SHIPPED[0])[0]
    with pytest.raises(ValueError, match="xyz"):
        r.save(tmp_path / "out.xyz")
    with pytest.raises(GhostYoloError, match="cannot save"):
        r.save(tmp_path / "no" / "such" / "dir" / "out.png")
