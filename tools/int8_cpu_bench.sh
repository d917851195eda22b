#!/bin/bash
# CPU time per forward pass, FP32 vs INT8 of the same model, interleaved in one run (the machine
# is shared: wall-clock medians are noise). perf's task-clock of a 21-run `ghost-yolo bench`
# minus a 1-run one, / 20, at 1 thread (so CPU time is the work), as tools/cpu_time_bench.sh.
# Usage: tools/int8_cpu_bench.sh BIN ROUNDS 'FP32 ARGS' 'INT8 ARGS' [IMGSZ]
#   e.g. tools/int8_cpu_bench.sh target/release/ghost-yolo 3 '-m yolo11m-ghost' '-w m-int8.safetensors'
# INT8_ISAS='avx512vnni avx2' runs the INT8 model once per named back end (GHOST_KERNELS_ISA) in
# each round, after FP32 on the default back end: the INT8 GEMM tiles compared in one run.
# Several INT8 configurations in one run: separate them with ';' in INT8 ARGS
#   ('-w a.safetensors;-w b.safetensors'): each round measures FP32, then each in turn
#   (labels int8, int8-2, int8-3 ...).
set -euo pipefail
bin=$1 rounds=$2 fp32=$3 int8=$4 imgsz=${5:-640}
tc() { perf stat -e task-clock -x, "$@" 2>&1 >/dev/null | grep task-clock | cut -d, -f1; }
# One measurement: label, GHOST_KERNELS_ISA value (empty: unset), bench arguments.
measure() {
  local label=$1 isa=$2 args=$3 one many
  # shellcheck disable=SC2086
  one=$(GHOST_KERNELS_ISA=$isa tc "$bin" bench $args --imgsz "$imgsz" --threads 1 --runs 1 --warmup 1)
  # shellcheck disable=SC2086
  many=$(GHOST_KERNELS_ISA=$isa tc "$bin" bench $args --imgsz "$imgsz" --threads 1 --runs 21 --warmup 1)
  echo "$round $label $(python3 -c "print(f'{($many - $one) / 20:.2f}')") ms"
}
IFS=';' read -r -a configs <<< "$int8"
for round in $(seq "$rounds"); do
  measure fp32 "" "$fp32"
  for k in "${!configs[@]}"; do
    label=int8$([ "$k" -eq 0 ] || echo "-$((k + 1))")
    if [ -z "${INT8_ISAS:-}" ]; then
      measure "$label" "" "${configs[$k]}"
    else
      for isa in $INT8_ISAS; do measure "$label-$isa" "$isa" "${configs[$k]}"; done
    fi
  done
done
