"""Teach Ultralytics to build the YOLO11-GhostNet YAMLs (crates/yolo11-ghost/models/yolo11-ghost.yaml).

Import this module (after `fixture_common`, before building a model) and call `register()`; then
`YOLO("path/to/yolo11n-ghost.yaml")`, `DetectionModel(cfg)`, training, `fuse()` and `info()` work
with the stock Ultralytics code paths.

What it does
------------
1. `GhostNet(width, in_chans=3)`: a GhostNet V1 feature extractor, layer for layer the timm
   `ghostnet_*` network (same cfg table, same `make_divisible(c * width, 4)` channel rule, same module
   tree and therefore the same tensor names: `conv_stem`, `bn1`, `blocks.{s}.{i}.ghost1.primary_conv.0`,
   ..., `blocks.9.0.conv`, `blocks.9.0.bn1`), without the classifier head (`conv_head`/`classifier`).
   `forward` returns the LAST tensor at each stride: [blocks[2] (s4), blocks[4] (s8), blocks[6] (s16),
   blocks[9] (s32)]. Differences from timm, all invisible in the state_dict:
   - `blocks.9.0.bn1` is a plain `nn.BatchNorm2d` followed by a separate `act` ReLU (timm: a
     `BatchNormAct2d` subclass). Ultralytics' `initialize_weights` sets eps 1e-3/momentum 0.03 only where
     `type(m) is nn.BatchNorm2d`, so with timm's class that one BN would keep eps 1e-5.
   - the SE global pool is an `nn.AdaptiveAvgPool2d(1)` module (param-free; see SqueezeExcite).
   - `fuse()` folds every BN into its conv (Ultralytics' own `fuse()` only knows Conv/DWConv).
   Checked numerically against timm in `self_check()`.

2. Row expansion in `parse_model`. Stock `parse_model` gives one layer index per YAML row, passes an
   unknown module's args unchanged (no width scaling) and sets its output channels c2 = ch[f]. The
   project's YAML has ONE row `[-1, 1, GhostNet, [width]]` that occupies indices 0-4. We wrap
   `ultralytics.nn.tasks.parse_model` so that, before the stock parser runs, that row is replaced by
   Ultralytics' native multi-output form:
        [-1, 1, GhostNet, [width * width_multiple, ch]]   # 0: returns [P2, P3, P4, P5] (a list)
        [0, 1, Index, [c_s4, 0]]                          # 1: stride 4
        [0, 1, Index, [c_s8, 1]]                          # 2: stride 8
        [0, 1, Index, [c_s16, 2]]                         # 3: stride 16
        [0, 1, Index, [c_s32, 3]]                         # 4: stride 32
   with width_multiple from the scale (`scales[scale][1]`, as parse_model picks it) and the Index
   channels computed from the scaled width. Index has no parameters, so tensor names are
   `model.0.<timm name>` and everything after keeps its index. A YAML already written in the native
   form (GhostNet row followed by four `[0, 1, Index, [c, k]]` rows) is accepted too: the GhostNet
   width is scaled the same way and the Index channels are recomputed from it (a mismatch with the
   written ones is logged). The model's `yaml` dict keeps the form the user wrote.

3. `BaseModel.fuse` is wrapped to call `GhostNet.fuse()` first (BN folded into the preceding conv,
   which gains a bias; the BN slot becomes nn.Identity, so the module tree and layer count stay).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

# (k, exp, out, se_ratio, stride) per block, per stage: timm `_create_ghostnet` cfgs (GhostNet V1)
GHOSTNET_CFGS = [
    [[3, 16, 16, 0, 1]],
    [[3, 48, 24, 0, 2]],
    [[3, 72, 24, 0, 1]],
    [[5, 72, 40, 0.25, 2]],
    [[5, 120, 40, 0.25, 1]],
    [[3, 240, 80, 0, 2]],
    [[3, 200, 80, 0, 1], [3, 184, 80, 0, 1], [3, 184, 80, 0, 1], [3, 480, 112, 0.25, 1], [3, 672, 112, 0.25, 1]],
    [[5, 672, 160, 0.25, 2]],
    [[5, 960, 160, 0, 1], [5, 960, 160, 0.25, 1], [5, 960, 160, 0, 1], [5, 960, 160, 0.25, 1]],
]
FEATURE_BLOCKS = (2, 4, 6, 9)  # last block at stride 4, 8, 16, 32


def make_divisible(v: float, divisor: int = 4, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """timm.layers.make_divisible: nearest multiple (half up), never below 90% of v."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


def ghostnet_feature_channels(width: float) -> list[int]:
    """Channels of the four outputs (blocks 2/4/6/9) at `width`."""
    return [
        make_divisible(GHOSTNET_CFGS[2][-1][2] * width, 4),
        make_divisible(GHOSTNET_CFGS[4][-1][2] * width, 4),
        make_divisible(GHOSTNET_CFGS[6][-1][2] * width, 4),
        make_divisible(GHOSTNET_CFGS[-1][-1][1] * width, 4),  # blocks.9 ConvBnAct -> exp of the last row
    ]


class GhostModule(nn.Module):
    def __init__(self, in_chs: int, out_chs: int, relu: bool = True, ratio: int = 2, dw_size: int = 3):
        super().__init__()
        self.out_chs = out_chs
        init_chs = math.ceil(out_chs / ratio)
        new_chs = init_chs * (ratio - 1)
        act = nn.ReLU if relu else nn.Identity
        self.primary_conv = nn.Sequential(
            nn.Conv2d(in_chs, init_chs, 1, 1, 0, bias=False), nn.BatchNorm2d(init_chs), act(inplace=True)
        )
        self.cheap_operation = nn.Sequential(
            nn.Conv2d(init_chs, new_chs, dw_size, 1, dw_size // 2, groups=init_chs, bias=False),
            nn.BatchNorm2d(new_chs),
            act(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary_conv(x)
        x2 = self.cheap_operation(x1)
        return torch.cat([x1, x2], dim=1)[:, : self.out_chs, :, :]


class SqueezeExcite(nn.Module):
    """timm SqueezeExcite with gate hard_sigmoid and rd channels make_divisible(chs * ratio, 4).

    The global average pool is an `nn.AdaptiveAvgPool2d(1)` module (as in the original huawei-noah
    GhostNet) rather than timm's `x.mean((2, 3))`: same result, no parameters, but thop (Ultralytics
    `get_flops`) counts a pooling module (C*H*W adds + C divides) and not a bare `mean`. With the module
    the GFLOPs equal models.md's table (yolo11m-ghost 31.28 / fused 30.84); with `mean` they are 31.27 /
    30.83.
    """

    def __init__(self, chs: int, se_ratio: float):
        super().__init__()
        rd = make_divisible(chs * se_ratio, 4)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_reduce = nn.Conv2d(chs, rd, 1, bias=True)
        self.act1 = nn.ReLU(inplace=True)
        self.conv_expand = nn.Conv2d(rd, chs, 1, bias=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.avg_pool(x)
        s = self.conv_expand(self.act1(self.conv_reduce(s)))
        return x * self.gate(s)


class GhostBottleneck(nn.Module):
    def __init__(self, in_chs: int, mid_chs: int, out_chs: int, k: int, stride: int, se_ratio: float):
        super().__init__()
        self.stride = stride
        self.ghost1 = GhostModule(in_chs, mid_chs, relu=True)
        if stride > 1:
            self.conv_dw = nn.Conv2d(mid_chs, mid_chs, k, stride, (k - 1) // 2, groups=mid_chs, bias=False)
            self.bn_dw = nn.BatchNorm2d(mid_chs)
        else:
            self.conv_dw = None
            self.bn_dw = None
        self.se = SqueezeExcite(mid_chs, se_ratio) if se_ratio else None
        self.ghost2 = GhostModule(mid_chs, out_chs, relu=False)
        if in_chs == out_chs and stride == 1:
            self.shortcut = nn.Sequential()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_chs, in_chs, k, stride, (k - 1) // 2, groups=in_chs, bias=False),
                nn.BatchNorm2d(in_chs),
                nn.Conv2d(in_chs, out_chs, 1, 1, 0, bias=False),
                nn.BatchNorm2d(out_chs),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.ghost1(x)
        if self.conv_dw is not None:
            x = self.bn_dw(self.conv_dw(x))
        if self.se is not None:
            x = self.se(x)
        x = self.ghost2(x)
        return x + self.shortcut(shortcut)


class ConvBnAct(nn.Module):
    """timm ConvBnAct(1x1) names (`conv`, `bn1`), but a plain BatchNorm2d + separate ReLU."""

    def __init__(self, in_chs: int, out_chs: int):
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, 1, 1, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(out_chs)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn1(self.conv(x)))


class GhostNet(nn.Module):
    """GhostNet V1 features for Ultralytics; returns [s4, s8, s16, s32] (blocks 2, 4, 6, 9)."""

    def __init__(self, width: float = 1.0, in_chans: int = 3):
        super().__init__()
        self.width = float(width)
        stem = make_divisible(16 * width, 4)
        self.conv_stem = nn.Conv2d(in_chans, stem, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.act1 = nn.ReLU(inplace=True)
        prev = stem
        stages = []
        exp = 16
        for cfg in GHOSTNET_CFGS:
            layers = []
            for k, exp, c, se, s in cfg:
                out = make_divisible(c * width, 4)
                mid = make_divisible(exp * width, 4)
                layers.append(GhostBottleneck(prev, mid, out, k, s, se))
                prev = out
            stages.append(nn.Sequential(*layers))
        stages.append(nn.Sequential(ConvBnAct(prev, make_divisible(exp * width, 4))))
        self.blocks = nn.Sequential(*stages)
        self.channels = ghostnet_feature_channels(width)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.act1(self.bn1(self.conv_stem(x)))
        outs = []
        for i, stage in enumerate(self.blocks):
            x = stage(x)
            if i in FEATURE_BLOCKS:
                outs.append(x)
        return outs

    @torch.no_grad()
    def fuse(self) -> int:
        """Fold every BatchNorm into the conv before it (eval-mode math). Returns the number folded."""
        from ultralytics.utils.torch_utils import fuse_conv_and_bn

        n = 0

        def fold(parent: nn.Module, conv_name: str, bn_name: str) -> None:
            nonlocal n
            bn = getattr(parent, bn_name)
            if isinstance(bn, nn.BatchNorm2d):
                setattr(parent, conv_name, fuse_conv_and_bn(getattr(parent, conv_name), bn))
                setattr(parent, bn_name, nn.Identity())
                n += 1

        fold(self, "conv_stem", "bn1")
        for m in self.modules():
            if isinstance(m, GhostModule):
                fold(m.primary_conv, "0", "1")
                fold(m.cheap_operation, "0", "1")
            elif isinstance(m, GhostBottleneck):
                if m.conv_dw is not None:
                    fold(m, "conv_dw", "bn_dw")
                if len(m.shortcut):
                    fold(m.shortcut, "0", "1")
                    fold(m.shortcut, "2", "3")
            elif isinstance(m, ConvBnAct):
                fold(m, "conv", "bn1")
        return n


# ---------------------------------------------------------------------------------------------
# parse_model row expansion


def _width_multiple(d: dict) -> float:
    """The width multiple stock parse_model will use for this model dict."""
    scales = d.get("scales")
    if scales:
        scale = d.get("scale") or next(iter(scales.keys()))
        return float(scales[scale][1])
    return float(d.get("width_multiple", 1.0))


def _is_index_row(row: Any, k: int) -> bool:
    return row[0] == 0 and row[2] == "Index" and len(row[3]) == 2 and int(row[3][1]) == k


def expand_ghostnet_rows(d: dict, ch: int) -> dict:
    """Return a copy of model dict `d` in Ultralytics' native multi-output form (see module doc)."""
    backbone = list(d.get("backbone", []))
    idx = [i for i, row in enumerate(backbone) if row[2] == "GhostNet"]
    if not idx:
        return d
    if idx != [0] or backbone[0][0] != -1:
        raise ValueError("GhostNet must be the first backbone row, `[-1, 1, GhostNet, [width]]`")
    f, n, _, args = backbone[0]
    if n != 1 or len(args) < 1:
        raise ValueError(f"GhostNet row must be [-1, 1, GhostNet, [width]], got {backbone[0]}")
    width = float(args[0]) * _width_multiple(d)
    chans = ghostnet_feature_channels(width)
    rest = backbone[1:]
    native = len(rest) >= 4 and all(_is_index_row(rest[k], k) for k in range(4))
    if native:
        written = [int(rest[k][3][0]) for k in range(4)]
        if written != chans:
            from ultralytics.utils import LOGGER

            LOGGER.warning(f"GhostNet width {width}: Index channels {written} recomputed as {chans}")
        rest = rest[4:]
    rows = [[f, 1, "GhostNet", [width, ch]]] + [[0, 1, "Index", [c, k]] for k, c in enumerate(chans)]
    out = dict(d)
    out["backbone"] = rows + rest
    return out


_REGISTERED = False


def register() -> None:
    """Make `GhostNet` visible to parse_model, wrap parse_model and BaseModel.fuse (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    from ultralytics.nn import tasks

    tasks.GhostNet = GhostNet
    orig_parse = tasks.parse_model

    def parse_model(d, ch, verbose=True):
        return orig_parse(expand_ghostnet_rows(d, ch), ch, verbose)

    parse_model.__doc__ = orig_parse.__doc__
    tasks.parse_model = parse_model

    orig_fuse = tasks.BaseModel.fuse

    def fuse(self, *a, **kw):
        if not self.is_fused():
            for m in self.modules():
                if isinstance(m, GhostNet):
                    m.fuse()
        return orig_fuse(self, *a, **kw)

    tasks.BaseModel.fuse = fuse
    _REGISTERED = True


# ---------------------------------------------------------------------------------------------
# self-check against timm


def self_check(widths=(0.25, 0.5, 1.0, 1.3, 1.5), seed: int = 7) -> None:
    """Same state_dict keys/shapes as timm ghostnet (minus the head), and identical outputs."""
    import timm

    import seeded_weights as sw

    for w in widths:
        ours = GhostNet(w).eval()
        from timm.models.ghostnet import _create_ghostnet

        ref = _create_ghostnet("ghostnet_100", width=w, pretrained=False).eval()
        ref_sd = {k: v for k, v in ref.state_dict().items() if not k.startswith(("conv_head", "classifier"))}
        our_sd = ours.state_dict()
        assert list(our_sd) == list(ref_sd), f"width {w}: key order/names differ"
        assert all(our_sd[k].shape == ref_sd[k].shape for k in our_sd), f"width {w}: shapes differ"
        sw.fill_module(ref, seed)
        ours.load_state_dict({k: v for k, v in ref.state_dict().items() if k in our_sd}, strict=True)
        for eps in (1e-5, 1e-3):
            for m in list(ours.modules()) + list(ref.modules()):
                if isinstance(m, nn.BatchNorm2d):
                    m.eps = eps
            x = torch.randn(2, 3, 96, 64)
            with torch.no_grad():
                got = ours(x)
                feats = []
                y = ref.act1(ref.bn1(ref.conv_stem(x)))
                for i, st in enumerate(ref.blocks):
                    y = st(y)
                    if i in FEATURE_BLOCKS:
                        feats.append(y)
            for a, b in zip(got, feats):
                assert torch.equal(a, b), f"width {w} eps {eps}: output differs from timm"
            assert [t.shape[1] for t in got] == ghostnet_feature_channels(w)
        # fused model matches unfused to float tolerance
        with torch.no_grad():
            x = torch.randn(1, 3, 64, 96)
            a = ours(x)
            n = ours.fuse()
            b = ours(x)
        assert n == sum(isinstance(m, nn.Identity) for m in ours.modules()) - sum(
            isinstance(m, nn.Identity) for m in GhostNet(w).modules()
        )
        for t, u in zip(a, b):
            assert torch.allclose(t, u, rtol=1e-4, atol=1e-4 * t.abs().max().item()), f"width {w}: fuse mismatch"
        print(f"GhostNet width {w}: timm-identical names/shapes/outputs, channels {ghostnet_feature_channels(w)}, {n} BN folded")


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fixture_common  # noqa: F401

    self_check()
