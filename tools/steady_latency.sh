#!/bin/bash
# Steady latency (issue 20: wall p90 <= 1.15x min): N separate `ghost-yolo bench` processes per
# model and thread count (the tail differs from process to process), one row per process with
# wall and CPU-time min / median / p90 per pass and their p90 / min, the process's memory on
# transparent huge pages, and the load average when it ended. Several binaries (e.g. a baseline
# and a change) run interleaved, process by process, so that both see the same machine.
#
# Usage: tools/steady_latency.sh [-n PROCESSES] [-r RUNS] [-m "MODELS"] [-t "THREADS"] [BIN...]
#   defaults: 4 processes, 30 runs, models "yolo11n yolo11n-ghost yolo11m-ghost yolo11m",
#   threads "1 2", BIN target/release/ghost-yolo. Seeded weights, 640x640, FP32.
# Wall time is only meaningful on a quiet machine; CPU time is ours wherever it runs.
set -euo pipefail
procs=4 runs=30 models="yolo11n yolo11n-ghost yolo11m-ghost yolo11m" threads="1 2"
while getopts n:r:m:t: opt; do
  case $opt in
    n) procs=$OPTARG ;;
    r) runs=$OPTARG ;;
    m) models=$OPTARG ;;
    t) threads=$OPTARG ;;
    *) sed -n 2,10p "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
bins=("$@")
[ ${#bins[@]} -gt 0 ] || bins=(target/release/ghost-yolo)
for b in "${bins[@]}"; do
  [ -x "$b" ] || { echo "error: $b is not an executable ghost-yolo" >&2; exit 2; }
done

echo "# $(date -u '+%F %T UTC'), $(nproc) cores, runs $runs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-14s %2s %-28s %3s | %-23s %6s | %-23s %6s | %6s %5s\n' model T binary p \
  "wall min/med/p90 ms" p90/min "cpu min/med/p90 ms" p90/min "THP MiB" load
for m in $models; do
  for t in $threads; do
    for p in $(seq "$procs"); do
      for b in "${bins[@]}"; do
        # Older binaries have no --thread-stats (THP column then "-").
        extra=()
        "$b" bench --help 2>/dev/null | grep -q -- --thread-stats && extra=(--thread-stats)
        out=$("$b" bench -m "$m" --threads "$t" --runs "$runs" "${extra[@]}" 2>&1) || {
          echo "error: $b bench -m $m --threads $t failed: $(tail -1 <<<"$out")" >&2
          exit 1
        }
        python3 -c '
import re, sys
m, t, b, p, load = sys.argv[1:]
out = sys.stdin.read()
w = re.search(r"^median ([0-9.]+) ms, min ([0-9.]+) ms, p90 ([0-9.]+) ms", out, re.M)
c = re.search(r"cpu time median ([0-9.]+) ms, min ([0-9.]+) ms, p90 ([0-9.]+) ms", out)
thp = re.search(r"transparent huge pages ([0-9.]+) MiB", out)
def trio(g):
    med, mn, p90 = (float(x) for x in g.groups())
    return f"{mn:7.2f}/{med:7.2f}/{p90:7.2f}", f"{p90 / mn:6.2f}"
ws, wr = trio(w)
cs, cr = trio(c) if c else ("-", "-")
mib = thp.group(1) if thp else "-"
print(f"{m:<14} {t:>2} {b[-28:]:<28} {p:>3} | {ws:<23} {wr} | {cs:<23} {cr} | {mib:>7} {load:>5}")
' "$m" "$t" "$b" "$p" "$(cut -d' ' -f1 /proc/loadavg)" <<<"$out"
      done
    done
  done
done
