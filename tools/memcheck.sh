#!/usr/bin/env bash
# Runs the ghost-kernels test binaries under valgrind memcheck (every `unsafe` block of the
# workspace lives in that crate) and fails on any memcheck error or leak-free test failure.
#
#   tools/memcheck.sh                       # AVX2+FMA kernels (what this CPU dispatches to)
#   GHOST_KERNELS_ISA=portable tools/memcheck.sh
#   PROPTEST_CASES=8 tools/memcheck.sh      # property-test cases per test (default here: 8)
#
# Valgrind 3.19 emulates SSE..AVX2 and FMA but not AVX-512: the kernels only use AVX2+FMA (and
# pick them by runtime detection, which valgrind answers truthfully), so no special build is
# needed. The binaries are built with the test profile (opt-level 3, debug assertions) so the
# code checked is the code that runs. Valgrind slows code ~50x: property tests run a reduced
# number of cases (PROPTEST_CASES, honoured by the kernel tests).
set -euo pipefail
cd "$(dirname "$0")/.."

export PROPTEST_CASES="${PROPTEST_CASES:-8}"
# Fewer kernel threads keep valgrind's serialised scheduler fast; 2 still exercises the split.
export RAYON_NUM_THREADS="${RAYON_NUM_THREADS:-2}"
command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 1; }

# Build the test binaries and collect their paths from cargo's JSON messages.
mapfile -t binaries < <(
  cargo test --release -p ghost-kernels --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*"' | sed 's/"executable":"\(.*\)"/\1/'
)
if [ "${#binaries[@]}" -eq 0 ]; then
  echo "no test binaries built (run: cargo test --release -p ghost-kernels --no-run)" >&2
  exit 1
fi

log_dir="${MEMCHECK_LOG_DIR:-target/memcheck}"
mkdir -p "$log_dir"
status=0
for bin in "${binaries[@]}"; do
  name="$(basename "$bin")"
  log="$log_dir/$name.log"
  echo "== $name (PROPTEST_CASES=$PROPTEST_CASES, ISA=${GHOST_KERNELS_ISA:-auto})"
  start=$(date +%s)
  # --error-exitcode makes any memcheck error fail the run; test failures fail it too.
  if valgrind --tool=memcheck --error-exitcode=99 --leak-check=no \
      --track-origins=yes --log-file="$log" "$bin" --test-threads=1 -q >"$log.out" 2>&1; then
    result=ok
  else
    result="FAILED (exit $?)"
    status=1
  fi
  summary="$(grep -h 'ERROR SUMMARY' "$log" | tail -1 | sed 's/^==[0-9]*== //')"
  tests="$(grep -h '^test result' "$log.out" | tail -1)"
  echo "   $result in $(( $(date +%s) - start ))s: $summary; $tests"
done
exit $status
