#!/usr/bin/env python3
"""docs/performance.json (written by tools/bench_peers.py --json) -> docs/performance.svg: latency of
ghost-yolo and ONNX Runtime per model and thread count, as grouped horizontal bars. Plain SVG, no
plotting library needed.

Usage: python3 tools/plot_performance.py [docs/performance.json] [docs/performance.svg]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "performance.json"
    dst = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "docs" / "performance.svg"
    results = json.loads(src.read_text())["results"]
    bar_h, gap, left, width = 14, 10, 190, 520
    longest = max(max(r["ours_ms"], r["ort_ms"]) for r in results)
    scale = width / longest
    rows = []
    y = 40
    for r in results:
        label = f'{r["model"]} ({r["gflops"]:.1f} GFLOPs), {r["threads"]} thread{"s" if r["threads"] > 1 else ""}'
        rows.append(f'<text x="{left - 8}" y="{y + bar_h + 4}" text-anchor="end">{label}</text>')
        for k, (key, colour, name) in enumerate((("ours_ms", "#2b7bb9", "ghost-yolo"), ("ort_ms", "#bbbbbb", "ONNX Runtime"))):
            v = r[key]
            yy = y + k * bar_h
            rows.append(f'<rect x="{left}" y="{yy}" width="{v * scale:.1f}" height="{bar_h - 2}" fill="{colour}"><title>{name}: {v:.1f} ms</title></rect>')
            rows.append(f'<text x="{left + v * scale + 4:.1f}" y="{yy + bar_h - 4}">{v:.0f} ms</text>')
        y += 2 * bar_h + gap
    h = y + 20
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 80}" height="{h}" font-family="sans-serif" font-size="11">
<text x="10" y="18" font-size="13" font-weight="bold">Batch-1 latency at 640x640 (median ms, lower is better)</text>
<rect x="{left}" y="24" width="10" height="10" fill="#2b7bb9"/><text x="{left + 14}" y="33">ghost-yolo</text>
<rect x="{left + 90}" y="24" width="10" height="10" fill="#bbbbbb"/><text x="{left + 104}" y="33">ONNX Runtime 1.32</text>
{chr(10).join(rows)}
</svg>
"""
    dst.write_text(svg)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
