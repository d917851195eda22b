#!/bin/bash
# INT8 accuracy, ours vs ONNX Runtime's quantize_static (docs/int8.md, "Peer accuracy"), on one
# dataset: ghost-yolo val of the default model FP32 and of its INT8 file, and Ultralytics'
# validator on the FP32 ONNX export and on ORT's QDQ models (tools/ort_int8.py variants `conv`
# and `like-ours`), all calibrated on the same images (CAL, first 300 of its val split) and
# scored at batch 1 with the rect letterbox (the ONNX exports have dynamic axes: see
# tools/val_onnx.py). Prints one line per row: name mAP50 mAP50-95.
# Usage: VAL=/tmp/val400/data.yaml CAL=/tmp/calib300/data.yaml tools/int8_peer_accuracy.sh
#        VAL=fixtures/synthetic/data.yaml CAL=fixtures/synthetic/data.yaml tools/int8_peer_accuracy.sh
# Datasets: tools/make_synthetic_dataset.py (docs/int8.md). Needs the release CLI and .venv-ref.
set -euo pipefail
B=${GHOST_YOLO:-target/release/ghost-yolo}
PY=${PY:-.venv-ref/bin/python}
VAL=${VAL:?VAL=data.yaml to score on}
CAL=${CAL:?CAL=data.yaml to calibrate on}
IMGSZ=${IMGSZ:-320}
OUT=${OUT:-$(mktemp -d)}
score() { python3 -c "import json;d=json.load(open('$1'));print(round(d['map50'],4),round(d['map50_95'],4))"; }
"$B" quantize --data "$CAL" --imgsz "$IMGSZ" -o "$OUT/ours-int8.safetensors" > "$OUT/quantize.log" 2>&1
"$B" val --data "$VAL" --imgsz "$IMGSZ" --batch 1 --threads 2 --json "$OUT/v_fp32.json" > /dev/null 2>&1
echo "ours-fp32 $(score "$OUT/v_fp32.json")"
"$B" val --data "$VAL" --imgsz "$IMGSZ" --batch 1 --threads 2 -w "$OUT/ours-int8.safetensors" --json "$OUT/v_int8.json" > /dev/null 2>&1
echo "ours-int8 $(score "$OUT/v_int8.json") ($(tail -1 "$OUT/quantize.log"))"
for v in conv like-ours; do
  "$PY" tools/ort_int8.py --imgsz "$IMGSZ" --data "$CAL" --dynamic --variant "$v" --ours "$OUT/ours-int8.safetensors" \
    -o "$OUT/ort-$v.onnx" --fp32-onnx "$OUT/fp32.onnx" 2>&1 | grep -v -i warning | tail -1
done
"$PY" tools/val_onnx.py --data "$VAL" --imgsz "$IMGSZ" --batch 1 --json "$OUT/v_onnx.json" \
  "$OUT/fp32.onnx" "$OUT/ort-conv.onnx" "$OUT/ort-like-ours.onnx" 2>/dev/null | grep mAP50
echo "files in $OUT"
