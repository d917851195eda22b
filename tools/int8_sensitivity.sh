#!/bin/bash
# Per-group INT8 sensitivity of docs/int8.md: quantize the default model with different FP32
# groups (calibrated on CAL), `ghost-yolo val` on VAL (the 400-image held-out split); prints
# mAP50-95 and mAP50 per row. Datasets: see docs/int8.md (make_synthetic_dataset.py).
# Usage: VAL=/tmp/val400/data.yaml CAL=/tmp/calib300/data.yaml tools/int8_sensitivity.sh
# CFGS='first,depthwise,narrow first,box-head,depthwise,narrow' chooses the rows;
# GHOST_KERNELS_ISA=avx2 scores them on that back end (which runs the Winograd-shaped INT8
# convs FP32, see docs/int8.md).
set -euo pipefail
B=${GHOST_YOLO:-target/release/ghost-yolo}
VAL=${VAL:-/tmp/int8m/val400/data.yaml}
CAL=${CAL:-/tmp/int8m/calib300/data.yaml}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
score() { python3 -c "import json;d=json.load(open('$1'));print(round(d['map50_95'],4),round(d['map50'],4))"; }
"$B" val --data "$VAL" --threads 2 --json "$OUT/v_fp32.json" > /dev/null 2>&1
echo "fp32 $(score "$OUT/v_fp32.json")"
for cfg in ${CFGS:-none first box first,box first,box,cls-out first,box,psa first,box,cls}; do
  "$B" quantize --data "$CAL" --fp32 "$cfg" -o "$OUT/s_$cfg.safetensors" > "$OUT/q_$cfg.log" 2>&1
  "$B" val --data "$VAL" -w "$OUT/s_$cfg.safetensors" --threads 2 --json "$OUT/v_$cfg.json" > /dev/null 2>&1
  echo "$cfg $(score "$OUT/v_$cfg.json") $(tail -1 "$OUT/q_$cfg.log" | cut -d: -f2 | cut -d, -f1)"
done
