#!/bin/bash
# CPU time per forward pass, FP32 vs INT8 of the same model, interleaved in one run (the machine
# is shared: wall-clock medians are noise). perf's task-clock of a 21-run `ghost-yolo bench`
# minus a 1-run one, / 20, at 1 thread (so CPU time is the work), as tools/cpu_time_bench.sh.
# Usage: tools/int8_cpu_bench.sh BIN ROUNDS 'FP32 ARGS' 'INT8 ARGS' [IMGSZ]
#   e.g. tools/int8_cpu_bench.sh target/release/ghost-yolo 3 '-m yolo11m-ghost' '-w m-int8.safetensors'
set -euo pipefail
bin=$1 rounds=$2 fp32=$3 int8=$4 imgsz=${5:-640}
tc() { perf stat -e task-clock -x, "$@" 2>&1 >/dev/null | grep task-clock | cut -d, -f1; }
for round in $(seq "$rounds"); do
  for which in fp32 int8; do
    # shellcheck disable=SC2086
    one=$(tc "$bin" bench ${!which} --imgsz "$imgsz" --threads 1 --runs 1 --warmup 1)
    # shellcheck disable=SC2086
    many=$(tc "$bin" bench ${!which} --imgsz "$imgsz" --threads 1 --runs 21 --warmup 1)
    echo "$round $which $(python3 -c "print(f'{($many - $one) / 20:.2f}')") ms"
  done
done
