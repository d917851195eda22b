#!/bin/bash
# CPU time per forward pass of two ghost-yolo binaries, interleaved, for A/B checks on a busy
# machine where wall-clock medians are noise: perf's task-clock of a 21-run `ghost-yolo bench`
# minus a 1-run one, / 20, at 1 thread (so CPU time is the work).
# Usage: tools/cpu_time_bench.sh BEFORE_BIN AFTER_BIN [ROUNDS] [MODELS...]
# ORDER=abba runs `after` first in even rounds: on this shared machine the first binary of a
# pair was ~4% faster in yolo11m whichever it was (docs/kernels.md, "AVX-512 FP32 GEMM tile"),
# so a fixed order biases the comparison.
set -euo pipefail
before=$1 after=$2 rounds=${3:-5}
shift $(( $# < 3 ? $# : 3 ))
if [ $# -eq 0 ]; then models=(yolo11n-ghost yolo11n); else models=("$@"); fi
tc() { perf stat -e task-clock -x, "$@" 2>&1 >/dev/null | grep task-clock | cut -d, -f1; }
for round in $(seq "$rounds"); do
  for m in "${models[@]}"; do
    order="before after"
    if [ "${ORDER:-}" = abba ] && [ $((round % 2)) -eq 0 ]; then order="after before"; fi
    for which in $order; do
      b=${!which}
      one=$(tc "$b" bench -m "$m" --imgsz 640 --threads 1 --runs 1 --warmup 1)
      many=$(tc "$b" bench -m "$m" --imgsz 640 --threads 1 --runs 21 --warmup 1)
      echo "$round $m $which $(python3 -c "print(f'{($many - $one) / 20:.2f}')") ms"
    done
  done
done
