#!/usr/bin/env python3
"""GhostNet V1 (timm) reference fixtures -> fixtures/ghostnet/.

For each configuration below: build the timm model (pretrained=False: nothing is downloaded),
overwrite every state_dict tensor with the seeded generator (tools/seeded_weights.py; BN running
stats are randomised so BN folding is exercised), optionally round the weights to the storage
dtype of the weight file (the reference is then computed from the rounded weights), and record in
eval mode for two seeded inputs and two BN eps values:

  logits           [N, num_classes]
  feat_s4          output of blocks[2]  (last tensor at stride 4)
  feat_s8          output of blocks[4]  (last tensor at stride 8)
  feat_s16         output of blocks[6]  (last tensor at stride 16)
  feat_s32         output of blocks[9]  (ConvBnAct 1x1 -> 960*width, stride 32)

NOTE: timm's own `features_only` / `feature_info` taps are conv_stem (pre-BN, stride 2), blocks.1,
blocks.3, blocks.5, blocks.7, i.e. the FIRST block at each stride; the YOLO11-GhostNet neck uses the
LAST tensor at each stride (blocks 2/4/6/9). Both are checked below.

eps 1e-5 is timm's default; eps 1e-3 is set on every nn.BatchNorm2d instance (including timm's
BatchNormAct2d subclass in blocks.9.0.bn1), i.e. what an Ultralytics model holds when every BN has
Ultralytics' eps.

Usage: .venv-ref/bin/python tools/make_ghostnet_fixtures.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402  (sets offline env first)
import seeded_weights as sw  # noqa: E402
import timm  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

OUT = fc.FIXTURES / "ghostnet"

INPUTS = {
    # name: (shape, numpy PCG64 seed)
    "x1_64x64": ((1, 3, 64, 64), 1001),
    "x2_96x128": ((2, 3, 96, 128), 1002),
}
EPS = {"eps1e-5": 1e-5, "eps1e-3": 1e-3}
FEATURE_BLOCKS = {"feat_s4": 2, "feat_s8": 4, "feat_s16": 6, "feat_s32": 9}

CONFIGS = [
    # key, timm name, width, num_classes, global seed, storage dtype, weight file written?
    dict(key="ghostnet_100", timm="ghostnet_100", width=1.0, num_classes=1000, seed=0x6057_0100, storage="f16", file=True),
    dict(key="ghostnet_050", timm="ghostnet_050", width=0.5, num_classes=1000, seed=0x6057_0050, storage="bf16", file=True),
    dict(key="ghostnet_050_c10", timm="ghostnet_050", width=0.5, num_classes=10, seed=0x6057_0051, storage="f32", file=True),
    dict(key="ghostnet_130", timm="ghostnet_130", width=1.3, num_classes=1000, seed=0x6057_0130, storage="f32", file=False),
]


def set_bn_eps(model: nn.Module, eps: float) -> int:
    n = 0
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eps = eps
            n += 1
    return n


def run(model: nn.Module, x: torch.Tensor) -> dict:
    """logits + the four features; features taken with forward hooks (independent of the forward)."""
    feats = {}
    hooks = [
        model.blocks[i].register_forward_hook(lambda _m, _i, o, k=k: feats.__setitem__(k, o.detach().clone()))
        for k, i in FEATURE_BLOCKS.items()
    ]
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        for h in hooks:
            h.remove()
    return {"logits": logits.detach().clone(), **feats}


def check_timm_feature_taps(cfg) -> list:
    """timm features_only taps (documented; not what our neck uses)."""
    f = timm.create_model(cfg["timm"], pretrained=False, features_only=True)
    return [
        dict(module=m, channels=c, reduction=r)
        for m, c, r in zip(f.feature_info.module_name(), f.feature_info.channels(), f.feature_info.reduction())
    ]


def main() -> None:
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    OUT.mkdir(parents=True, exist_ok=True)

    inputs = {k: fc.seeded_input(shape, seed) for k, (shape, seed) in INPUTS.items()}
    fc.save_tensors(
        OUT / "inputs.safetensors",
        inputs,
        {"about": "seeded standard-normal inputs, numpy default_rng(seed)", "seeds": {k: s for k, (_, s) in INPUTS.items()}},
    )

    manifest = {
        "about": "GhostNet V1 (timm) reference fixtures; see fixtures/README.md",
        "command": ".venv-ref/bin/python tools/make_ghostnet_fixtures.py",
        "torch": torch.__version__,
        "timm": timm.__version__,
        "inputs": {k: dict(shape=list(s), numpy_seed=seed) for k, (s, seed) in INPUTS.items()},
        "feature_blocks": FEATURE_BLOCKS,
        "eps": EPS,
        "models": [],
    }

    for cfg in CONFIGS:
        model = timm.create_model(cfg["timm"], pretrained=False, num_classes=cfg["num_classes"]).eval()
        filled = sw.fill_module(model, cfg["seed"])
        sd = model.state_dict()
        stored = fc.round_state_dict(sd, cfg["storage"])
        fc.load_rounded(model, stored)  # reference runs on the stored (rounded) values
        n_params = sum(p.numel() for p in model.parameters())

        entry = dict(
            key=cfg["key"],
            timm_model=cfg["timm"],
            width=cfg["width"],
            num_classes=cfg["num_classes"],
            global_seed=cfg["seed"],
            global_seed_hex=f"0x{cfg['seed']:x}",
            weights_dtype=cfg["storage"],
            weights_file=None,
            params=n_params,
            state_dict_tensors=len(sd),
            seeded_tensors=len(filled),
            timm_features_only_taps=check_timm_feature_taps(cfg),
            outputs_file=f"fixtures/ghostnet/{cfg['key']}.outputs.safetensors",
            outputs={},
            f32_vs_f64_max_abs={},
        )
        if cfg["file"]:
            wpath = OUT / f"{cfg['key']}.{cfg['storage']}.safetensors"
            fc.save_tensors(
                wpath,
                stored,
                {
                    "format": "pt",
                    "source": f"timm {cfg['timm']} state_dict, seeded weights",
                    "timm_model": cfg["timm"],
                    "width": str(cfg["width"]),
                    "num_classes": str(cfg["num_classes"]),
                    "global_seed": str(cfg["seed"]),
                },
            )
            entry["weights_file"] = fc.rel(wpath)
            entry["weights_file_bytes"] = wpath.stat().st_size

        outputs = {}
        model64 = timm.create_model(cfg["timm"], pretrained=False, num_classes=cfg["num_classes"]).eval()
        fc.load_rounded(model64, stored)
        model64 = model64.double()
        for eps_tag, eps in EPS.items():
            n_bn = set_bn_eps(model, eps)
            set_bn_eps(model64, eps)
            for in_tag, x in inputs.items():
                res = run(model, x)
                res64 = run(model64, x.double())
                # the hooks saw the same tensors the forward produced: check against a plain forward
                with torch.no_grad():
                    assert torch.equal(model(x), res["logits"])
                    assert torch.equal(model.forward_features(x), res["feat_s32"])
                for name, t in res.items():
                    key = f"{eps_tag}/{in_tag}/{name}"
                    outputs[key] = t.float().contiguous()
                    entry["outputs"][key] = list(t.shape)
                    dev = (t.double() - res64[name]).abs().max().item()
                    entry["f32_vs_f64_max_abs"][key] = dict(
                        max_abs_dev=dev, max_abs_value=res64[name].abs().max().item()
                    )
        entry["batchnorm_layers"] = n_bn
        # how far apart the two eps settings are: a test tolerance must stay well below this
        entry["eps_sensitivity_max_abs"] = {
            f"{in_tag}/{name}": (outputs[f"eps1e-5/{in_tag}/{name}"] - outputs[f"eps1e-3/{in_tag}/{name}"]).abs().max().item()
            for in_tag in inputs
            for name in ["logits", *FEATURE_BLOCKS]
        }
        opath = OUT / f"{cfg['key']}.outputs.safetensors"
        fc.save_tensors(
            opath,
            outputs,
            {
                "timm_model": cfg["timm"],
                "width": str(cfg["width"]),
                "num_classes": str(cfg["num_classes"]),
                "global_seed": str(cfg["seed"]),
                "weights_dtype": cfg["storage"],
                "feature_blocks": FEATURE_BLOCKS,
                "eps": EPS,
            },
        )
        entry["outputs_file_bytes"] = opath.stat().st_size
        manifest["models"].append(entry)
        print(f"{cfg['key']}: params {n_params}, seeded {len(filled)}/{len(sd)}, storage {cfg['storage']}")

    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for p in OUT.iterdir():
        p.chmod(0o644)
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"fixtures/ghostnet total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
