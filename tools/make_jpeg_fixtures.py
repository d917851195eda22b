#!/usr/bin/env python3
"""JPEG decoding reference fixtures -> fixtures/jpeg/jpeg.safetensors.

Ultralytics reads images with `cv2.imdecode(..., IMREAD_COLOR)` (libjpeg-turbo inside OpenCV); the
Rust decoder (crates/ghost-image/src/image_io/jpeg.rs) claims to reproduce its pixels exactly. This
script encodes small synthetic images (smooth gradients, edges and noise, so every coefficient band
is used) with OpenCV and Pillow in every flavour the decoder handles (plus EXIF orientations, which
imread applies), and stores:

  file.{k}       uint8 [n]          the JPEG file bytes
  decoded.{k}    uint8 [h, w, 3]    ultralytics.utils.patches.imread(file) flipped BGR -> RGB

with the case descriptions as JSON in the metadata key `cases`.

Usage: .venv-ref/bin/python tools/make_jpeg_fixtures.py
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402  (sets offline env first)

fc.ultralytics_offline()

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from ultralytics.utils.patches import imread  # noqa: E402

OUT = fc.FIXTURES / "jpeg" / "jpeg.safetensors"


def scene(rng, h: int, w: int, grey: bool = False) -> np.ndarray:
    """RGB uint8: gradient + a sharp rectangle + a disc + noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / max(w - 1, 1) * 255, y / max(h - 1, 1) * 255, (x + y) / max(h + w - 2, 1) * 255], -1)
    img[h // 4 : h // 2, w // 5 : w // 2] = rng.integers(0, 256, 3)
    disc = (y - h * 0.6) ** 2 + (x - w * 0.7) ** 2 < (min(h, w) * 0.2) ** 2
    img[disc] = rng.integers(0, 256, 3)
    img += rng.normal(0, 12, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if grey:
        img = img.mean(-1).astype(np.uint8)
    return img


def cv2_jpeg(img: np.ndarray, params: list[int]) -> bytes:
    bgr = img[..., ::-1] if img.ndim == 3 else img
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(bgr), params)
    assert ok
    return buf.tobytes()


def pil_jpeg(img: np.ndarray, **kwargs) -> bytes:
    b = io.BytesIO()
    Image.fromarray(img).save(b, "JPEG", **kwargs)
    return b.getvalue()


def pil_exif(img: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return pil_jpeg(img, quality=90, exif=exif.tobytes())


def main() -> None:
    rng = np.random.default_rng(7)
    Q = cv2.IMWRITE_JPEG_QUALITY
    S = cv2.IMWRITE_JPEG_SAMPLING_FACTOR
    cases = [
        # name, bytes
        ("cv2 4:2:0 q90 61x47", cv2_jpeg(scene(rng, 47, 61), [Q, 90, S, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420])),
        ("cv2 4:2:2 q75 53x40", cv2_jpeg(scene(rng, 40, 53), [Q, 75, S, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422])),
        ("cv2 4:4:4 q95 40x33", cv2_jpeg(scene(rng, 33, 40), [Q, 95, S, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])),
        ("cv2 4:4:0 q85 37x42", cv2_jpeg(scene(rng, 42, 37), [Q, 85, S, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440])),
        ("cv2 4:1:1 q85 70x21", cv2_jpeg(scene(rng, 21, 70), [Q, 85, S, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411])),
        ("cv2 progressive 4:2:0 q90 64x48", cv2_jpeg(scene(rng, 48, 64), [Q, 90, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])),
        ("cv2 restart interval 2, 4:2:0 80x40", cv2_jpeg(scene(rng, 40, 80), [Q, 90, cv2.IMWRITE_JPEG_RST_INTERVAL, 2])),
        ("cv2 optimized Huffman q60 45x50", cv2_jpeg(scene(rng, 50, 45), [Q, 60, cv2.IMWRITE_JPEG_OPTIMIZE, 1])),
        ("cv2 q10 48x48", cv2_jpeg(scene(rng, 48, 48), [Q, 10])),
        ("cv2 q100 4:4:4 31x17", cv2_jpeg(scene(rng, 17, 31), [Q, 100, S, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444])),
        ("cv2 greyscale q80 45x37", cv2_jpeg(scene(rng, 37, 45, grey=True), [Q, 80])),
        ("pil progressive greyscale 33x29", pil_jpeg(scene(rng, 29, 33, grey=True), quality=85, progressive=True)),
        ("pil progressive 4:2:2 optimized 57x35", pil_jpeg(scene(rng, 35, 57), quality=70, progressive=True, optimize=True, subsampling=1)),
        ("pil 4:2:0 3x5 (chroma 2 wide: plain upsampling)", pil_jpeg(scene(rng, 5, 3), quality=90, subsampling=2)),
        ("pil 4:2:0 1x1", pil_jpeg(scene(rng, 1, 1), quality=90, subsampling=2)),
        ("pil 4:2:0 40x22 with EXIF orientation 6 (rotate 90 clockwise)", pil_exif(scene(rng, 22, 40), 6)),
        ("pil 4:2:0 30x21 with EXIF orientation 3 (rotate 180)", pil_exif(scene(rng, 21, 30), 3)),
        ("pil 4:2:0 26x19 with EXIF orientation 5 (transpose)", pil_exif(scene(rng, 19, 26), 5)),
        ("cv2 4:2:0 q90 99x67 with one corrupted entropy-coded byte", None),
    ]
    # OpenCV 5 refuses truncated JPEGs (imread returns None, Ultralytics skips the file), but
    # decodes a file with a damaged byte inside the scan (libjpeg warns and resynchronises).
    damaged = bytearray(cv2_jpeg(scene(rng, 67, 99), [Q, 90]))
    damaged[len(damaged) // 2] ^= 0x55
    cases[-1] = (cases[-1][0], bytes(damaged))

    tensors: dict[str, torch.Tensor] = {}
    meta_cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, data) in enumerate(cases):
            path = Path(tmp) / f"{k}.jpg"
            path.write_bytes(data)
            bgr = imread(str(path))
            assert bgr is not None and bgr.ndim == 3 and bgr.shape[2] == 3, name
            rgb = np.ascontiguousarray(bgr[..., ::-1])
            tensors[f"file.{k}"] = torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())
            tensors[f"decoded.{k}"] = torch.from_numpy(rgb)
            meta_cases.append({"file": f"file.{k}", "decoded": f"decoded.{k}", "about": name,
                               "h": int(rgb.shape[0]), "w": int(rgb.shape[1])})
            print(f"{k}: {name}: {len(data)} bytes -> {rgb.shape}")

    meta = {
        "cases": meta_cases,
        "generator": "tools/make_jpeg_fixtures.py",
        "opencv": cv2.__version__,
        "ultralytics": __import__("ultralytics").__version__,
    }
    size = fc.save_tensors(OUT, tensors, meta)
    OUT.chmod(0o644)
    print(f"wrote {fc.rel(OUT)} ({size} bytes, {len(tensors)} tensors)")


if __name__ == "__main__":
    main()
