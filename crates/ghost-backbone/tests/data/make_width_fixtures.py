#!/usr/bin/env python3
"""Reference outputs of timm GhostNets at extra widths (0.25, 0.75, 1.1), seeded weights.

Complements fixtures/ghostnet (widths 0.5, 1.0, 1.3) so the Rust parity test also covers narrow
networks (width 0.25: 4- and 8-channel layers) and widths whose channel counts are not multiples
of 8 (0.75: 12, 20, 60, 84, 120, 720 ...; 1.1: 28, 44, 88, 124, 176, 1056 ...). Weights come from
tools/seeded_weights.py (`fill_module`, global seed 0x60570000 + round(width * 100)), the inputs
from fixtures/ghostnet/inputs.safetensors, BN eps 1e-5 (timm default) and 1e-3.

Run from the repository root:
    .venv-ref/bin/python crates/ghost-backbone/tests/data/make_width_fixtures.py
Writes crates/ghost-backbone/tests/data/ghostnet_widths.outputs.safetensors with keys
`w<width*100>/<eps>/<input>/<output>` (NCHW f32; outputs logits, feat_s4, feat_s8, feat_s16,
feat_s32 = outputs of blocks[2], blocks[4], blocks[6], blocks[9]).
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO / "tools"))

import timm  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from seeded_weights import fill_module  # noqa: E402

WIDTHS = [0.25, 0.75, 1.1]
EPS = {"eps1e-5": 1e-5, "eps1e-3": 1e-3}
TAPS = {2: "feat_s4", 4: "feat_s8", 6: "feat_s16", 9: "feat_s32"}


def main() -> None:
    inputs = load_file(str(REPO / "fixtures/ghostnet/inputs.safetensors"))
    out = {}
    for width in WIDTHS:
        tag = f"w{round(width * 100)}"
        model = timm.models.ghostnet._create_ghostnet("ghostnet_100", width=width, pretrained=False).eval()
        fill_module(model, 0x60570000 + round(width * 100))
        for eps_tag, eps in EPS.items():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.eps = eps
            for in_tag, x in inputs.items():
                with torch.no_grad():
                    y = model.bn1(model.conv_stem(x)).relu()
                    for i, stage in enumerate(model.blocks):
                        y = stage(y)
                        if i in TAPS:
                            out[f"{tag}/{eps_tag}/{in_tag}/{TAPS[i]}"] = y.clone()
                    out[f"{tag}/{eps_tag}/{in_tag}/logits"] = model.forward_head(y)
                    assert torch.equal(out[f"{tag}/{eps_tag}/{in_tag}/logits"], model(x))
    path = Path(__file__).resolve().parent / "ghostnet_widths.outputs.safetensors"
    save_file({k: v.contiguous() for k, v in out.items()}, str(path), metadata={
        "about": "timm GhostNet outputs at widths 0.25/0.75/1.1, seeded weights; see make_width_fixtures.py",
        "timm": timm.__version__, "torch": torch.__version__,
    })
    print(f"wrote {path} ({path.stat().st_size} bytes, {len(out)} tensors)")


if __name__ == "__main__":
    main()
