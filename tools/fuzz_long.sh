#!/usr/bin/env bash
# Long libFuzzer runs of every fuzz/ target (issue 19: >= 30 min each), then a minimised corpus
# copied back into fuzz/corpus-min/<target> for committing. Needs nightly + cargo-fuzz
# (`cargo install cargo-fuzz --locked`).
# Usage: tools/fuzz_long.sh [SECONDS_PER_TARGET] [TARGET...]
# Default 1800 s per target, all targets. FUZZ_JOBS=N runs N targets at once (default 1; each
# libFuzzer process uses one core), FUZZ_NICE=K runs them at that nice level (default 0) so a
# shared machine's other work keeps priority. Each target's log goes to fuzz/logs/<target>.log;
# its last lines (libFuzzer's final stats: executions, coverage) are what docs/fuzzing.md records.
# A crash stops that target and leaves the input in fuzz/artifacts/<target>/; the others go on and
# the script exits non-zero at the end.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-1800}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
jobs="${FUZZ_JOBS:-1}"
niceness="${FUZZ_NICE:-0}"
mkdir -p logs

run_one() {
    local t="$1" log="logs/$1.log" status=0
    mkdir -p "corpus/$t" "corpus-min/$t"
    cp -n corpus-min/"$t"/* "corpus/$t/" 2>/dev/null || true
    echo "== $t: ${seconds}s (log: fuzz/$log)"
    # rss 2 GB: the engine's own limits keep every input far below; a case above it is a bug.
    if ! nice -n "$niceness" cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
        >"$log" 2>&1; then
        echo "!! $t found a crash: fuzz/artifacts/$t/ (see fuzz/$log)"
        status=1
    fi
    rm -rf "corpus-min/$t.new" && mkdir -p "corpus-min/$t.new"
    cargo +nightly fuzz cmin -O "$t" "corpus/$t" >/dev/null 2>&1 || true
    cp "corpus/$t"/* "corpus-min/$t.new/" 2>/dev/null || true
    rm -rf "corpus-min/$t" && mv "corpus-min/$t.new" "corpus-min/$t"
    echo "== $t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs," \
        "$(ls "corpus-min/$t" | wc -l) inputs kept, $(du -sh "corpus-min/$t" | cut -f1)"
    return $status
}

failed=0
running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
done
while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done
exit $failed
