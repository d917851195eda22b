#!/usr/bin/env bash
# aarch64 in CI: cross-builds the kernel, layer and model-parity tests for
# aarch64-unknown-linux-gnu and runs them under user-mode emulation (qemu-aarch64 -cpu
# neoverse-n1), so the NEON kernels are checked against the same references and tolerances as x86.
#
# Installs what it needs from Debian's packages (idempotent, quiet; root only when something is
# missing): the arm64 foreign architecture, Debian's Rust 1.96 (`rustc-web`, `cargo-web`) with the
# aarch64 standard library (`libstd-rust-web-dev:arm64`), the cross linker and libc headers, qemu's
# user-mode emulator and the multiarch `libc6:arm64` the emulated binaries load. QEMU_LD_PREFIX is
# deliberately NOT pointed at the cross glibc (/usr/aarch64-linux-gnu): with it, any test that
# starts a thread hangs; the multiarch libc6:arm64 in /lib/aarch64-linux-gnu works.
#
# Emulated time means nothing for performance: this is a correctness run. Property tests run
# PROPTEST_CASES cases each (default 12 here, against 48-256 natively; override by exporting it),
# on the NEON kernels only (GHOST_KERNELS_TEST_ISAS, below).
#
# Usage: tools/ci_aarch64.sh            (from anywhere; builds into target/aarch64)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(rustc-web cargo-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu
    libc6-dev-arm64-cross qemu-user libc6:arm64)

installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for p in "${packages[@]}"; do
    installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
    if [[ $EUID -ne 0 ]]; then
        echo "ci_aarch64: missing packages ${missing[*]} (run as root to install them)" >&2
        exit 1
    fi
    echo "ci_aarch64: installing ${missing[*]}"
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64
    fi
    # Other jobs on the machine may hold the dpkg lock: wait for it instead of failing.
    apt-get -o DPkg::Lock::Timeout=900 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's toolchain, not rustup's proxies: rustup has no aarch64 standard library here.
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
cargo=/usr/bin/cargo
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -cpu neoverse-n1"
unset QEMU_LD_PREFIX
export PROPTEST_CASES="${PROPTEST_CASES:-12}"
# The kernel tests cover only the NEON implementations here (ghost_kernels::testing::test_isas):
# the portable and scalar ones are the Rust code the x86 run already tests, and emulating their
# f64 references once more per ISA took most of the time (Winograd's tests alone: 615 s).
export GHOST_KERNELS_TEST_ISAS="${GHOST_KERNELS_TEST_ISAS:-neon}"
target=(--target aarch64-unknown-linux-gnu --target-dir target/aarch64)

start=$SECONDS
echo "ci_aarch64: $("$cargo" --version), $(qemu-aarch64 --version | head -1), PROPTEST_CASES=$PROPTEST_CASES"

# Every ghost-kernels test (unit, property, pinned), then the layer tests.
"$cargo" test -q "${target[@]}" -p ghost-kernels
# The INT8 GEMM tile picks SDOT at run time when the CPU has `dotprod` (neoverse-n1 does): run
# the INT8 tests once more on a core without it (cortex-a72, ARMv8.0) to cover the widening path.
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -cpu cortex-a72" \
    "$cargo" test -q "${target[@]}" -p ghost-kernels --test conformance -- quant
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -cpu cortex-a72" \
    "$cargo" test -q "${target[@]}" -p ghost-kernels --test quant
"$cargo" test -q "${target[@]}" -p ghost-layers

# Model parity: output0 against Ultralytics (forward_parity) and image -> detections (pipeline's
# image_files_give_ultralytics_predict_detections), both in yolo11-ghost (ghost-video has a
# `pipeline` test file too, so the package is named, not searched for).
"$cargo" test -q "${target[@]}" -p yolo11-ghost --test forward_parity --test pipeline

echo "ci_aarch64: passed in $((SECONDS - start)) s"
