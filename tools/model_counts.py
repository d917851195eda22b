#!/usr/bin/env python3
"""Ultralytics `model.info()` numbers for yolo11{n,s,m,l,x} and yolo11{n,s,m,l,x}-ghost -> fixtures/model_counts.json.

Models are built from crates/yolo11-ghost/models/*.yaml (nothing downloaded). For each: layers,
parameters, gradients and GFLOPs at 640x640 as trained (BN separate) and after `fuse()` (every BN
folded; for the ghost models also the GhostNet BNs, see tools/ghost_ultralytics.py), exactly as
`model.info()` computes them (torch_utils.model_info / get_flops: 2 x MACs, thop).

Usage: .venv-ref/bin/python tools/model_counts.py [--check-table]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402

fc.ultralytics_offline()

import torch  # noqa: E402
import ultralytics  # noqa: E402
import yaml  # noqa: E402
from ultralytics.nn.tasks import DetectionModel  # noqa: E402
from ultralytics.utils.torch_utils import model_info  # noqa: E402

import ghost_ultralytics  # noqa: E402

ghost_ultralytics.register()

FAMILIES = {"yolo11": "yolo11.yaml", "yolo11-ghost": "yolo11-ghost.yaml"}
SCALES = "nsmlx"

# models.md table (nc=80, 640): name -> (params trained, GFLOPs trained, params fused, GFLOPs fused)
MODELS_MD = {
    "yolo11n": (2_624_080, 6.67, None, None),
    "yolo11m": (20_114_688, 68.64, 20_091_712, 68.10),
    "yolo11n-ghost": (1_827_210, 4.03, 1_819_002, 3.91),
    "yolo11m-ghost": (14_545_092, 31.28, 14_518_396, 30.84),
}


def model_dict(family: str, scale: str, nc: int | None = None) -> dict:
    d = yaml.safe_load((fc.MODELS_DIR / FAMILIES[family]).read_text())
    d["scale"] = scale
    d["yaml_file"] = f"{family.replace('yolo11', 'yolo11' + scale)}.yaml"
    if nc is not None:
        d["nc"] = nc
    return d


def build(family: str, scale: str, nc: int | None = None) -> DetectionModel:
    torch.manual_seed(0)
    return DetectionModel(model_dict(family, scale, nc), ch=3, verbose=False)


def info(model) -> dict:
    n_l, n_p, n_g, flops = model_info(model, verbose=True, imgsz=640)
    return {"layers": n_l, "params": n_p, "gradients": n_g, "gflops": flops, "gflops_1dp": round(flops, 1)}


def measure(family: str, scale: str, nc: int | None = None) -> dict:
    m = build(family, scale, nc)
    trained = info(m)
    fused_model = copy.deepcopy(m).fuse(verbose=False)
    fused = info(fused_model)
    if isinstance(fused_model.model[0], ghost_ultralytics.GhostNet):
        from collections import Counter

        fused_leaves = Counter(type(x).__name__ for x in fused_model.model[0].modules() if len(x._modules) == 0)
    head = m.model[-1]
    extra = {}
    pools = [mod for mod in m.modules() if isinstance(mod, ghost_ultralytics.SqueezeExcite)]
    if pools:
        # thop's count for the SE global-average-pool modules (C*H*W adds + C divides each), x2 as get_flops:
        # the part of the GFLOPs that a counter ignoring the pool (timm's x.mean) would not report
        ops = []
        hooks = [p.avg_pool.register_forward_hook(lambda _m, i, o: ops.append(i[0].numel() + o.numel())) for p in pools]
        m.eval()
        with torch.no_grad():
            m(torch.zeros(1, 3, 640, 640))
        for h in hooks:
            h.remove()
        extra["se_pool_gflops"] = 2 * sum(ops) / 1e9
        # leaf modules (what model_info counts as layers) inside the GhostNet row, by type, trained and fused
        from collections import Counter

        def leaves(mod):
            return Counter(type(x).__name__ for x in mod.modules() if len(x._modules) == 0)

        extra["ghostnet_leaf_layers"] = {"trained": dict(sorted(leaves(m.model[0]).items()))}
    if "ghostnet_leaf_layers" in extra:
        extra["ghostnet_leaf_layers"]["fused"] = dict(sorted(fused_leaves.items()))
    return {
        **extra,
        "name": f"{family.replace('yolo11', 'yolo11' + scale)}",
        "yaml": f"crates/yolo11-ghost/models/{FAMILIES[family]}",
        "scale": scale,
        "scale_row": model_dict(family, scale)["scales"][scale],
        "nc": head.nc,
        "top_level_layers": len(m.model),
        "trained": trained,
        "fused": fused,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(fc.FIXTURES / "model_counts.json"))
    args = ap.parse_args()

    rows = []
    for family in FAMILIES:
        for s in SCALES:
            r = measure(family, s)
            rows.append(r)
            t, f = r["trained"], r["fused"]
            print(
                f"{r['name']:>15}: {t['layers']} layers, {t['params']:,} params, {t['gradients']:,} grads, "
                f"{t['gflops']:.4f} GFLOPs | fused: {f['layers']} layers, {f['params']:,} params, {f['gflops']:.4f} GFLOPs"
            )
    extra = measure("yolo11", "m", nc=1)
    extra["name"] = "yolo11m (nc=1)"
    print(f"yolo11m nc=1: trained {extra['trained']['params']:,} / {extra['trained']['gflops']:.3f}; fused {extra['fused']['params']:,} / {extra['fused']['gflops']:.3f}")

    comparison = {}
    by_name = {r["name"]: r for r in rows}
    for name, (pt, gt, pf, gf) in MODELS_MD.items():
        r = by_name[name]
        comparison[name] = {
            "models_md": {"params": pt, "gflops": gt, "params_fused": pf, "gflops_fused": gf},
            "measured": {
                "params": r["trained"]["params"],
                "gflops": round(r["trained"]["gflops"], 2),
                "params_fused": r["fused"]["params"],
                "gflops_fused": round(r["fused"]["gflops"], 2),
            },
            "params_match": r["trained"]["params"] == pt and (pf is None or r["fused"]["params"] == pf),
            "gflops_match_2dp": round(r["trained"]["gflops"], 2) == gt
            and (gf is None or round(r["fused"]["gflops"], 2) == gf),
        }
        print(f"{name}: models.md {comparison[name]['models_md']} measured {comparison[name]['measured']}")

    doc = {
        "about": "Ultralytics model.info() numbers (layers, parameters, gradients, GFLOPs at imgsz 640 = 2 x MACs via "
        "thop) for the project's YAMLs, nc=80, as trained (BN separate) and after fuse() (every BN folded, incl. "
        "GhostNet's). 'layers' = leaf nn.Modules as model_info counts them; 'top_level_layers' = len(model.model) "
        "(the ghost models count the GhostNet row as 5: GhostNet + 4 Index). gflops is unrounded; Ultralytics prints "
        "it with 1 decimal.",
        "command": ".venv-ref/bin/python tools/model_counts.py",
        "ultralytics": ultralytics.__version__,
        "torch": torch.__version__,
        "imgsz": 640,
        "models": rows,
        "extra": [extra],
        "models_md_comparison": comparison,
    }
    Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
