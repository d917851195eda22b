#!/usr/bin/env python3
"""Deterministic seeded weights, bit-identical with the Rust `ghost_layers::weights::seeded`.

The rule (docs/team-brief.md, "Seeded weights"): for a state_dict tensor `name` with `shape`
(row-major, numel values)

    seed = fnv1a64(utf8(name)) ^ global_seed
    z_i  = splitmix64_mix(seed + (i + 1) * 0x9E3779B97F4A7C15)      (wrapping u64, i 0-based)
    u_i  = (z_i >> 40) * 2^-24                                       (f64 in [0, 1))

and the value, computed in f64 and rounded once to f32, is chosen by name/shape:

    *.running_mean                 0.2 * (2u - 1)
    *.running_var                  0.5 + u
    *.num_batches_tracked          skipped (left as is)
    1-D *.weight (BN gamma)        0.5 + u
    *.cv3.<k>.2.bias (Detect cls)  -6 + 8u
    any other *.bias               0.2 * (2u - 1)
    >= 2-D *.weight                (2u - 1) * sqrt(3 / fan_in),  fan_in = prod(shape[1:])
    *.dfl.conv.weight              never generated (fixed arange(16) in Ultralytics)

Everything is vectorised with numpy uint64 arrays (numpy array arithmetic on uint64 wraps
modulo 2^64 without warnings).

Run `python tools/seeded_weights.py` for the self-check; `--write-check` (re)writes
fixtures/seeded_weights_check.json with known (name, shape, index, f32 bits) values that the
Rust tests pin.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import numpy as np

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
GOLDEN = 0x9E3779B97F4A7C15
MIX_MUL1 = 0xBF58476D1CE4E5B9
MIX_MUL2 = 0x94D049BB133111EB
MASK64 = (1 << 64) - 1

DETECT_CLS_BIAS = re.compile(r"\.cv3\.\d+\.2\.bias$")

# Default global seeds used by the fixture scripts (stated again in fixtures/README.md).
SEED_GHOSTNET = 0x6_0057_0001  # GhostNet classifier fixtures
SEED_YOLO = 0x6_0057_0011  # detector fixtures


def fnv1a64(name: str) -> int:
    """FNV-1a 64 of the UTF-8 bytes of `name` (Python int, exact)."""
    h = FNV_OFFSET
    for b in name.encode("utf-8"):
        h ^= b
        h = (h * FNV_PRIME) & MASK64
    return h


def tensor_seed(name: str, global_seed: int) -> int:
    return fnv1a64(name) ^ (global_seed & MASK64)


def uniform01(seed: int, numel: int) -> np.ndarray:
    """u_i for i in 0..numel as float64, vectorised with wrapping uint64 arithmetic."""
    i1 = np.arange(1, numel + 1, dtype=np.uint64)
    z = np.uint64(seed) + i1 * np.uint64(GOLDEN)
    z ^= z >> np.uint64(30)
    z *= np.uint64(MIX_MUL1)
    z ^= z >> np.uint64(27)
    z *= np.uint64(MIX_MUL2)
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(40)).astype(np.float64) * (2.0**-24)


def rule_for(name: str, shape: tuple[int, ...]) -> str | None:
    """Which generation rule applies; None means 'do not generate' (skipped)."""
    if name.endswith(".num_batches_tracked"):
        return None
    if name.endswith("dfl.conv.weight"):
        return None
    if name.endswith("running_mean"):
        return "running_mean"
    if name.endswith("running_var"):
        return "running_var"
    if name.endswith("weight"):
        if len(shape) == 1:
            return "gamma"
        if len(shape) >= 2:
            return "fan_in"
        raise ValueError(f"seeded weights: scalar weight {name!r} has no rule")
    if name.endswith("bias"):
        return "detect_cls_bias" if DETECT_CLS_BIAS.search(name) else "bias"
    raise ValueError(f"seeded weights: no rule for tensor {name!r} with shape {shape}")


def generate(name: str, shape, global_seed: int) -> np.ndarray | None:
    """The seeded float32 tensor for (name, shape), or None when the rule skips it."""
    shape = tuple(int(s) for s in shape)
    rule = rule_for(name, shape)
    if rule is None:
        return None
    numel = math.prod(shape)
    u = uniform01(tensor_seed(name, global_seed), numel)
    if rule == "running_mean":
        v = 0.2 * (2.0 * u - 1.0)
    elif rule == "running_var":
        v = 0.5 + u
    elif rule == "gamma":
        v = 0.5 + u
    elif rule == "detect_cls_bias":
        v = -6.0 + 8.0 * u
    elif rule == "bias":
        v = 0.2 * (2.0 * u - 1.0)
    else:  # fan_in
        fan_in = math.prod(shape[1:])
        v = (2.0 * u - 1.0) * math.sqrt(3.0 / fan_in)
    return v.astype(np.float32).reshape(shape)


def seeded_state_dict(model, global_seed: int) -> dict:
    """{name: float32 numpy array} for every generated tensor of `model.state_dict()`."""
    out = {}
    for name, t in model.state_dict().items():
        v = generate(name, tuple(t.shape), global_seed)
        if v is not None:
            out[name] = v
    return out


def fill_module(model, global_seed: int) -> list[str]:
    """Overwrite `model`'s state_dict in place with the seeded values; returns the names filled.

    Tensors are written in their own dtype (a float32 model gets the exact generated f32 values).
    Skipped tensors (num_batches_tracked, the Detect DFL conv) are left untouched.
    """
    import torch

    filled = []
    sd = model.state_dict()
    with torch.no_grad():
        for name, t in sd.items():
            v = generate(name, tuple(t.shape), global_seed)
            if v is None:
                continue
            t.copy_(torch.from_numpy(v).to(t.dtype))
            filled.append(name)
    return filled


# ---------------------------------------------------------------------------------------------
# Self-check: an independent scalar implementation (plain Python ints) must agree bit for bit.


def _scalar_value(name: str, shape, global_seed: int, index: int) -> float:
    seed = tensor_seed(name, global_seed)
    z = (seed + (index + 1) * GOLDEN) & MASK64
    z ^= z >> 30
    z = (z * MIX_MUL1) & MASK64
    z ^= z >> 27
    z = (z * MIX_MUL2) & MASK64
    z ^= z >> 31
    u = (z >> 40) * 2.0**-24
    rule = rule_for(name, tuple(shape))
    if rule == "running_mean":
        v = 0.2 * (2 * u - 1)
    elif rule in ("running_var", "gamma"):
        v = 0.5 + u
    elif rule == "detect_cls_bias":
        v = -6 + 8 * u
    elif rule == "bias":
        v = 0.2 * (2 * u - 1)
    else:
        v = (2 * u - 1) * math.sqrt(3 / math.prod(shape[1:]))
    return float(np.float32(v))


def f32_bits(x: float) -> int:
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


CHECK_SEED = 0x0123456789ABCDEF
CHECK_CASES = [
    # (name, shape, index): one per rule, names as they appear in the real models
    ("model.0.conv.weight", [16, 3, 3, 3], 0),
    ("model.0.conv.weight", [16, 3, 3, 3], 431),
    ("model.0.bn.running_mean", [16], 5),
    ("model.0.bn.running_var", [16], 15),
    ("model.23.cv3.2.2.bias", [80], 79),
    ("model.23.cv2.0.2.bias", [64], 1),
    ("blocks.3.0.se.conv_reduce.weight", [20, 72, 1, 1], 1000),
    ("blocks.9.0.bn1.weight", [960], 959),
    ("classifier.weight", [1000, 1280], 1279999),
    ("conv_stem.weight", [16, 3, 3, 3], 7),
]


def self_check(global_seed: int = CHECK_SEED, verbose: bool = True) -> list[dict]:
    rows = []
    for name, shape, index in CHECK_CASES:
        vec = generate(name, shape, global_seed).reshape(-1)
        ref = _scalar_value(name, shape, global_seed, index)
        got = float(vec[index])
        if f32_bits(got) != f32_bits(ref):
            raise AssertionError(f"{name}[{index}]: vectorised {got!r} != scalar {ref!r}")
        rows.append(
            {
                "name": name,
                "shape": shape,
                "index": index,
                "rule": rule_for(name, tuple(shape)),
                "f32_bits": f32_bits(got),
                "f32_bits_hex": f"0x{f32_bits(got):08x}",
                "value": got,
            }
        )
    # also compare whole small tensors element by element
    for name, shape in [("model.0.conv.weight", [16, 3, 3, 3]), ("model.0.bn.running_var", [16])]:
        vec = generate(name, shape, global_seed).reshape(-1)
        for i in range(vec.size):
            assert f32_bits(float(vec[i])) == f32_bits(_scalar_value(name, shape, global_seed, i))
    if verbose:
        name, shape = "model.0.conv.weight", [16, 3, 3, 3]
        first = generate(name, shape, global_seed).reshape(-1)[:8]
        print(f"global_seed = 0x{global_seed:016x}")
        print(f"fnv1a64({name!r}) = 0x{fnv1a64(name):016x}")
        print(f"first 8 values of {name} {shape}:")
        for i, x in enumerate(first):
            print(f"  [{i}] {float(x)!r:>24}  bits 0x{f32_bits(float(x)):08x}")
        for r in rows:
            print(f"  {r['name']}{r['shape']}[{r['index']}] = {r['value']!r} ({r['f32_bits_hex']}, {r['rule']})")
        print("self-check OK: vectorised == scalar reference")
    return rows


def write_check(path: Path, global_seed: int = CHECK_SEED) -> None:
    rows = self_check(global_seed, verbose=False)
    name, shape = "model.0.conv.weight", [16, 3, 3, 3]
    first = generate(name, shape, global_seed).reshape(-1)[:8]
    doc = {
        "about": "Seeded-weights generator check values (tools/seeded_weights.py). "
        "Each case: value index `index` (row-major) of tensor `name` with `shape`, generated with "
        "`global_seed`, as IEEE-754 f32 bits.",
        "global_seed": global_seed,
        "global_seed_hex": f"0x{global_seed:016x}",
        "fnv1a64": {n: f"0x{fnv1a64(n):016x}" for n in sorted({c[0] for c in CHECK_CASES} | {""})},
        "first_values": {
            "name": name,
            "shape": shape,
            "f32_bits": [f32_bits(float(x)) for x in first],
        },
        "cases": rows,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write-check", action="store_true", help="write fixtures/seeded_weights_check.json")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "fixtures" / "seeded_weights_check.json"))
    args = ap.parse_args()
    self_check()
    if args.write_check:
        write_check(Path(args.out))


if __name__ == "__main__":
    main()
