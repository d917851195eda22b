#!/usr/bin/env python3
"""INT8 conv fixtures computed by ONNX Runtime (QDQ), for crates/ghost-layers/tests/quant_ort.rs.

Each case is one quantized conv in ghost-yolo's INT8 file layout (see ghost_layers::quant):
`caseK.conv.weight` (int8 codes, PyTorch [cout, cin/groups, kh, kw]), `caseK.conv.weight_scale`
(f32 [cout]), `caseK.conv.bias` (f32 [cout]), `caseK.conv.input_scale` / `input_zero_point` (f32 [1]),
plus the f32 input `caseK.x` (NHWC [1, H, W, cin], values also outside the calibrated range so
that clamping is exercised) and ONNX Runtime's output `caseK.y` (NHWC) of the QDQ graph

    x -> QuantizeLinear(input_scale, zp, uint8) -> DequantizeLinear
      -> Conv(DequantizeLinear(codes, weight_scale, axis 0), bias, stride, pads k//2, group)
      -> SiLU (x * Sigmoid(x))

which is what `ghost-yolo quantize` files mean (the INT8 kernels compute it exactly in integers).
The codes are drawn within the kernels' weight ranges: -64..64 (7-bit) for pointwise / dense,
-127..127 for depthwise. Geometry is in the `cases` metadata (JSON).

    python3 -m venv .venv-int8 && .venv-int8/bin/pip install numpy==2.4.6 onnx==1.20.0 \
        onnxruntime==1.32.0 safetensors==0.8.0       # the pins of tools/requirements.txt
    .venv-int8/bin/python tools/make_int8_fixtures.py   # -> fixtures/int8/qconv_ort.safetensors
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "int8" / "qconv_ort.safetensors"

# name, cin, cout, k, stride, groups, H, W
CASES = [
    ("pointwise", 24, 40, 1, 1, 1, 9, 11),
    ("dense3x3", 16, 24, 3, 1, 1, 8, 10),
    ("dense3x3_s2", 12, 20, 3, 2, 1, 10, 9),
    ("depthwise3x3", 32, 32, 3, 1, 32, 7, 9),
    ("depthwise5x5_s2", 20, 20, 5, 2, 20, 11, 10),
]


def qdq_conv(cin, cout, k, stride, groups, h, w, codes, wscale, bias, xs, xzp):
    """The QDQ graph of one conv + SiLU, NCHW."""
    inits = [
        numpy_helper.from_array(np.array(xs, np.float32), "xs"),
        numpy_helper.from_array(np.array(xzp, np.uint8), "xzp"),
        numpy_helper.from_array(codes, "wq"),
        numpy_helper.from_array(wscale, "ws"),
        numpy_helper.from_array(np.zeros(cout, np.int8), "wzp"),
        numpy_helper.from_array(bias, "b"),
    ]
    p = k // 2
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xzp"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xzp"], ["xd"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wzp"], ["wd"], axis=0),
        helper.make_node(
            "Conv", ["xd", "wd", "b"], ["z"], kernel_shape=[k, k], strides=[stride, stride],
            pads=[p, p, p, p], group=groups,
        ),
        helper.make_node("Sigmoid", ["z"], ["sz"]),
        helper.make_node("Mul", ["z", "sz"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "qconv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, cout, None, None])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


def main():
    rng = np.random.default_rng(20261207)
    tensors, meta = {}, []
    for i, (name, cin, cout, k, stride, groups, h, w) in enumerate(CASES):
        qmax = 127 if groups > 1 else 64
        codes = rng.integers(-qmax, qmax + 1, size=(cout, cin // groups, k, k)).astype(np.int8)
        wscale = rng.uniform(0.002, 0.02, size=cout).astype(np.float32)
        bias = rng.uniform(-0.5, 0.5, size=cout).astype(np.float32)
        lo, hi = -1.5, 4.0  # the calibrated range; inputs reach beyond it
        xs = np.float32((hi - lo) / 255.0)
        xzp = np.uint8(np.round(-lo / xs))
        x = rng.uniform(lo - 0.5, hi + 0.5, size=(1, cin, h, w)).astype(np.float32)
        model = qdq_conv(cin, cout, k, stride, groups, h, w, codes, wscale, bias, xs, xzp)
        opts = ort.SessionOptions()
        # Run the graph as written (no QDQ -> QLinearConv fusion): the reference semantics.
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        (y,) = sess.run(None, {"x": x})
        pre = f"case{i}"
        tensors[f"{pre}.conv.weight"] = codes
        tensors[f"{pre}.conv.weight_scale"] = wscale
        tensors[f"{pre}.conv.bias"] = bias
        tensors[f"{pre}.conv.input_scale"] = np.array([xs], np.float32)
        tensors[f"{pre}.conv.input_zero_point"] = np.array([float(xzp)], np.float32)
        tensors[f"{pre}.x"] = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        tensors[f"{pre}.y"] = np.ascontiguousarray(y.transpose(0, 2, 3, 1).astype(np.float32))
        meta.append(dict(name=name, cin=cin, cout=cout, k=k, stride=stride, groups=groups, h=h, w=w))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(OUT), metadata={
        "cases": json.dumps(meta),
        "made_by": f"tools/make_int8_fixtures.py, onnxruntime {ort.__version__}, onnx {onnx.__version__}",
    })
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(CASES)} cases)")


if __name__ == "__main__":
    main()
