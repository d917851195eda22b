#!/usr/bin/env python3
"""Static throughput of the compiled kernels' inner loops with llvm-mca (docs/kernels.md).

Needs Debian's llvm-19 (llvm-mca-19, llvm-mc-19) and, for aarch64, binutils-aarch64-linux-gnu.

Disassembles a compiled object or rlib (objdump), finds every innermost loop (a backward branch
whose body holds no other backward branch) of the functions whose demangled name contains a
given string, keeps those with at least --min-fma vector FMAs, and runs llvm-mca on each body
(the loop branch rewritten to a local label, so the text is exactly the compiled loop). Prints
per loop: instructions, FMAs, loads, llvm-mca's cycles per iteration ("Block RThroughput" and the
simulated cycles / iterations), and the share of the FMA peak that rate implies.

  # The release profile's LTO leaves only bitcode in the rlib: emit assembly, assemble it.
  cargo rustc --release -p ghost-kernels --lib --target aarch64-unknown-linux-gnu \
      --target-dir target/aarch64-rel -- --emit=asm
  llvm-mc-19 -triple=aarch64-unknown-linux-gnu -filetype=obj \
      target/aarch64-rel/aarch64-unknown-linux-gnu/release/deps/ghost_kernels-*.s -o k_a64.o
  tools/mca_loops.py --arch aarch64 --mcpu neoverse-n1 k_a64.o pointwise::neon::strip_4x16
  tools/mca_loops.py --arch x86_64 --mcpu znver3 k_x86.o pointwise::avx2::strip_6x16

SDOT counts as an FMA on aarch64 (INT8 GEMM loops: quant::neon::gemm_tile_sdot).
FMA peak per cycle: --fma-pipes pipes x 1 FMA instruction each (2 on Cortex-A76/Neoverse-N1 and
on Zen 3). Nothing here runs the kernels: it is the static model, to be set against measurements.
"""

import argparse
import re
import subprocess
import sys

OBJDUMP = {"aarch64": "aarch64-linux-gnu-objdump", "x86_64": "objdump"}
TRIPLE = {"aarch64": "aarch64-unknown-linux-gnu", "x86_64": "x86_64-unknown-linux-gnu"}
FMA = {
    # SDOT counts as the INT8 loops' multiply instruction: Neoverse-N1 issues it on the same
    # two vector pipes as FMLA (16 s8 MACs each), so "FMA peak share" reads as SDOT peak share.
    "aarch64": re.compile(r"^(fml[as]|sdot)\s+v\d+\.4s"),
    "x86_64": re.compile(r"^vf[n]?m(add|sub)\d+ps\s.*%ymm"),
}
LOAD = {
    "aarch64": re.compile(r"^(ldr|ldp|ldur|ld1|ld1r|ld2|ld3|ld4)\s+[qdsv]"),
    "x86_64": re.compile(r"^v\w+\s+[^,]*\(.*\).*,%[xy]mm|^vbroadcastss"),
}
LINE = re.compile(r"^\s*([0-9a-f]+):\s+(.*)$")
FUNC = re.compile(r"^[0-9a-f]+ <(.*)>:$")


def functions(path, arch, wanted):
    """Yields (name, [(address, instruction text)]) for functions whose name contains `wanted`."""
    out = subprocess.run(
        [OBJDUMP[arch], "-d", "-C", "--no-show-raw-insn", path],
        check=True, capture_output=True, text=True,
    ).stdout
    name, body = None, []
    for line in out.splitlines():
        m = FUNC.match(line)
        if m:
            if name and wanted in name:
                yield name, body
            name, body = m.group(1), []
            continue
        m = LINE.match(line)
        if m and name:
            text = m.group(2)
            text = text.split("//")[0] if arch == "aarch64" else text.split("#")[0]
            body.append((int(m.group(1), 16), " ".join(text.split())))
    if name and wanted in name:
        yield name, body


def branch_target(text):
    m = re.match(r"^(b\.\w+|b|cbn?z|tbn?z|j\w+)\s+(?:.*,\s*)?([0-9a-f]+)\s+<.*>$", text)
    return int(m.group(2), 16) if m else None


def retarget(text, label):
    """`text` with objdump's `ADDRESS <symbol>` branch operand replaced by `label`."""
    m = re.match(r"^(.*?)(?:0x)?([0-9a-f]+)\s+<.*>$", text)
    return f"{m.group(1)}{label}" if m else text


def innermost_loops(body):
    loops = []
    for i, (addr, text) in enumerate(body):
        target = branch_target(text)
        if target is not None and target <= addr:
            start = next(j for j, (a, _) in enumerate(body) if a >= target)
            loops.append((start, i))
    inner = []
    for s, e in loops:
        if not any(s <= s2 and e2 <= e and (s2, e2) != (s, e) for s2, e2 in loops):
            inner.append((s, e))
    return inner


def mca(asm, arch, mcpu):
    out = subprocess.run(
        ["llvm-mca-19", f"-mtriple={TRIPLE[arch]}", f"-mcpu={mcpu}", "-iterations=200"],
        input=asm, capture_output=True, text=True,
    )
    if out.returncode != 0:
        sys.exit(f"llvm-mca failed:\n{out.stderr}\n{asm}")
    out = out.stdout
    cycles = int(re.search(r"Total Cycles:\s+(\d+)", out).group(1))
    rthroughput = float(re.search(r"Block RThroughput:\s+([\d.]+)", out).group(1))
    return cycles / 200, rthroughput, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("object")
    ap.add_argument("function", help="substring of the demangled function name")
    ap.add_argument("--arch", choices=OBJDUMP, required=True)
    ap.add_argument("--mcpu", required=True)
    ap.add_argument("--fma-pipes", type=int, default=2)
    ap.add_argument("--min-fma", type=int, default=4)
    ap.add_argument("--show", action="store_true", help="print each loop's assembly and llvm-mca report")
    args = ap.parse_args()
    found = False
    for name, body in functions(args.object, args.arch, args.function):
        for s, e in innermost_loops(body):
            insns = [t for _, t in body[s : e + 1]]
            fmas = sum(bool(FMA[args.arch].match(t)) for t in insns)
            if fmas < args.min_fma:
                continue
            found = True
            loads = sum(bool(LOAD[args.arch].match(t)) for t in insns)
            # The loop branch goes back to loop_top; other branches (exits, calls) to loop_exit
            # after the body: llvm-mca does not follow branches, it only needs valid operands.
            insns = [retarget(t, "loop_top" if k == len(insns) - 1 else "loop_exit") for k, t in enumerate(insns)]
            asm = "loop_top:\n" + "\n".join(insns) + "\nloop_exit:\n"
            per_iter, rthroughput, report = mca(asm, args.arch, args.mcpu)
            share = fmas / (args.fma_pipes * per_iter)
            print(
                f"{name} @{body[s][0]:#x}: {len(insns)} insns, {fmas} FMA, {loads} vector loads; "
                f"{args.mcpu}: {per_iter:.2f} cycles/iter (RThroughput {rthroughput:.2f}), "
                f"FMA peak share {100 * share:.0f}%"
            )
            if args.show:
                print(asm)
                print(report)
    if not found:
        sys.exit(f"no loop with >= {args.min_fma} FMAs in functions matching {args.function!r}")


if __name__ == "__main__":
    main()
