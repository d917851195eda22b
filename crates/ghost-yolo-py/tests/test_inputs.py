"""Every kind of source gives the same detections as the file path: numpy BGR (contiguous and
strided), PIL RGB, directories, globs, lists, mixed lists."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
from PIL import Image

import ghost_yolo
from conftest import FIXTURES, SHIPPED

# Lossless files: PIL decodes them to the very pixels the engine's decoder gives (grey and RGBA
# converted like cv2.imread / PIL convert("RGB"): replicate grey, drop alpha).
PNGS = sorted(str(p) for p in (FIXTURES / "images").glob("*.png"))
JPEGS = SHIPPED[:4]


def data(results):
    return [r.boxes.data.tolist() for r in results]


def test_numpy_bgr_and_pil_rgb_equal_the_path(model):
    assert len(PNGS) == 4
    for p in PNGS + JPEGS:
        by_path = model(p)
        assert by_path[0].path == p
        bgr = ghost_yolo._core.read_image(p)  # cv2.imread-like decode, contiguous
        assert bgr.flags["C_CONTIGUOUS"]
        assert data(model(bgr)) == data(by_path), p
        wide = np.zeros((bgr.shape[0], bgr.shape[1] + 7, 3), np.uint8)
        wide[:, : bgr.shape[1]] = bgr
        strided = wide[:, : bgr.shape[1]]  # a crop: same pixels, row stride != width (copied once inside)
        assert not strided.flags["C_CONTIGUOUS"]
        assert data(model(strided)) == data(by_path), p
        np.testing.assert_array_equal(model(bgr)[0].orig_img, bgr)
    # PIL only on the PNGs (a JPEG decoder other than OpenCV's may round differently).
    found = 0
    for p in PNGS:
        pil = Image.open(p)
        expected = data(model(p))
        assert data(model(pil)) == expected, p
        rgb = np.asarray(pil.convert("RGB"))
        assert data(model(np.ascontiguousarray(rgb[..., ::-1]))) == expected, p
        found += sum(len(d) for d in expected)
        r = model(pil)[0]
        assert r.orig_shape == (pil.height, pil.width)
        np.testing.assert_array_equal(r.orig_img, rgb[..., ::-1])


def test_input_order_of_channels_matters(model):
    """A BGR array given as RGB is a different image: the engine really reads the order."""
    bgr = ghost_yolo._core.read_image(JPEGS[0])
    assert data(model(bgr)) != data(model(np.ascontiguousarray(bgr[..., ::-1])))


def test_directory_glob_and_lists(model, tmp_path):
    shapes_dir = str(FIXTURES / "images" / "shapes")
    by_dir = model(shapes_dir)
    files = sorted(glob.glob(os.path.join(shapes_dir, "*.jpg")))
    assert [r.path for r in by_dir] == files
    assert data(model(os.path.join(shapes_dir, "*.jpg"))) == data(by_dir)
    assert data(model(files)) == data(by_dir)
    assert data(model([model_path for model_path in files[:2]] + [shapes_dir])) == data(by_dir[:2]) + data(by_dir)
    arrays = [ghost_yolo._core.read_image(f) for f in files]
    assert data(model(arrays)) == data(by_dir)
    # A mixed batch (path, BGR array, PIL RGB) is one forward pass, the same as its files.
    mixed = model([files[0], arrays[1], Image.open(PNGS[0])], batch=3)
    assert data(mixed) == data(model([files[0], files[1], PNGS[0]], batch=3))
    assert data(model([files[0], arrays[1], Image.open(PNGS[0])])) == data(by_dir[:2]) + data(model(PNGS[0]))
    assert [r.path for r in model(arrays[:2])] == ["image0.jpg", "image1.jpg"]
    # pathlib paths work too
    from pathlib import Path

    assert data(model(Path(files[0]))) == data(by_dir[:1])
