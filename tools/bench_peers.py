#!/usr/bin/env python3
"""ghost-yolo vs ONNX Runtime (and OpenVINO when installed) on the same model, weights and input.

For each model: build it in Ultralytics with the weights `ghost-yolo bench` uses (the seeded
generator with ghost-yolo's default seed, bit-identical with the Rust `SeededWeights`; or a
`--weights` safetensors file), fold every BatchNorm (`model.fuse()`), export `output0` to ONNX
(opset 17, batch 1, fixed size), then time, interleaved in rounds so that machine noise hits both
sides alike (both load from a file: the seeded weights are saved as safetensors for ours):
  - `ghost-yolo bench -m MODEL -w WEIGHTS --imgsz S --threads T --runs R` (its printed median
    and load time);
  - ONNX Runtime in a fresh child process (only onnxruntime + numpy imported, so its peak RSS is
    its own): intra-op threads T, inter-op 1, sequential execution, all graph optimisations,
    denormals as zero (as ghost-yolo runs), 3 warm-up runs then R timed runs, median;
  - OpenVINO (CPU plugin, INFERENCE_NUM_THREADS=T, latency hint, INFERENCE_PRECISION_HINT f32:
    see `--openvino-precision`) if `import openvino` works.
Reports per model and thread count the median over rounds of each side's median, the ratio
ours / peer, our GFLOP/s and its share of this machine's FP32 peak, and both peak RSS values.

With `--throughput` it measures images/s instead (issue 20), per model, interleaved in rounds:
  - ours `ghost-yolo bench --streams 2 --threads 1` and `--streams 1 --threads 2` (its printed
    "throughput N images/s");
  - ONNX Runtime: 2 sessions of 1 intra-op thread each, run from 2 Python threads at once (ORT
    releases the GIL inside `run`), in a fresh child process; images/s over both;
  - OpenVINO (if installed): PERFORMANCE_HINT THROUGHPUT with 2 streams of 1 thread, an
    AsyncInferQueue of the compiled model's optimal request count; images/s.

With `--int8` (issue 20) every latency round also times the INT8 models, each made in the run
from the same FP32 weights and the same calibration images (`--calib-data`, first
`--calib-images` of its val split, square letterbox at imgsz without upscaling):
  - ours: `ghost-yolo quantize` (default FP32 groups) then `ghost-yolo bench -w INT8_FILE`;
  - ONNX Runtime: `tools/ort_int8.py`'s `quantize_static` QDQ model (weights s8 per channel,
    activations u8 per tensor, MinMax) of the same ONNX export, variants `--ort-int8` (`conv`: every
    Conv; `like-ours`: only the convs our file runs INT8), run as the FP32 one;
  - OpenVINO (if installed) compiling the same QDQ ONNX model (its CPU plugin runs QDQ graphs
    in INT8), latency hint, INFERENCE_NUM_THREADS=T.
With `--cpu-time` every column reports the median CPU time of one pass over all the process's
threads (ours: `ghost-yolo bench`'s "cpu time" line; ORT, OpenVINO: `time.process_time()` around
each pass in a fresh child): the work one pass costs, which the other engineers' compiling does
not change much (use it at 1 thread on a loaded machine; wall clock is noise there).
yolo11n-ghost then uses the embedded trained model (crates/yolo11-ghost/assets) instead of seeded
weights, FP32 columns included; the other models keep the seeded weights. With `--throughput
--int8` the images/s columns are measured for the FP32 and the INT8 models.

Usage:
  cargo build --release -p ghost-yolo-cli
  .venv-ref/bin/python tools/bench_peers.py                       # the four models of issue 6
  .venv-ref/bin/python tools/bench_peers.py --models yolo11n-ghost --threads 1 2 --rounds 3 --runs 20
  .venv-ref/bin/python tools/bench_peers.py --json docs/performance.json
  .venv-ref/bin/python tools/bench_peers.py --throughput --models yolo11n-ghost --rounds 3 --runs 20
  .venv-ref/bin/python tools/bench_peers.py --int8 --models yolo11n-ghost yolo11m-ghost --rounds 3 --runs 20
  .venv-ref/bin/python tools/bench_peers.py --int8 --cpu-time --threads 1 --models yolo11n-ghost yolo11m-ghost --rounds 3 --runs 20
  .venv-ref/bin/python tools/bench_peers.py --int8 --throughput --models yolo11n-ghost --rounds 3 --runs 20
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_SEED = 0x0123_4567_89AB_CDEF  # yolo11_ghost::detector::DEFAULT_SEED
DEFAULT_MODEL = REPO / "crates" / "yolo11-ghost" / "assets" / "yolo11n-ghost-shapes.safetensors"
# FP32 FLOP per cycle per core, by machine (override with --flops-per-cycle): x86-64 with AVX2
# (Zen 3, this project's machine): two 256-bit FMA pipes = 2 x 8 lanes x 2; aarch64 Cortex-A76 /
# Neoverse-N1 / A72: two 128-bit FMA pipes = 2 x 4 x 2 (Apple M1/M2 performance cores have four:
# pass 32; in-order Cortex-A53/A55 have less).
FLOPS_PER_CYCLE = {"x86_64": 32, "amd64": 32, "aarch64": 16, "arm64": 16}


def ort_child(onnx_path: str, threads: int, runs: int, imgsz: int) -> None:
    """Runs inside a fresh interpreter: time ONNX Runtime, print JSON."""
    import resource

    import numpy as np
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # ghost-yolo flushes denormals (FTZ/DAZ) during a forward pass; give ORT the same setting so
    # that seeded weights whose activations decay into subnormals cost both sides alike.
    so.add_session_config_entry("session.set_denormal_as_zero", "1")
    t0 = time.perf_counter()
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    x = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    name = sess.get_inputs()[0].name
    for _ in range(3):
        sess.run(None, {name: x})
    times, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        sess.run(None, {name: x})
        times.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "median_ms": statistics.median(times), "min_ms": min(times), "load_ms": load_ms, "rss_mb": rss_kb / 1024,
        "cpu_median_ms": statistics.median(cpu),
    }))


# OpenVINO's inference precision (`--openvino-precision`). Its CPU plugin runs an FP32 model in
# bf16 by default on CPUs with AVX-512 BF16 / AMX (this machine's EPYC reports avx512_bf16), which
# is not an FP32 comparison: f32 unless asked otherwise (and for the non-INT8 parts of a QDQ model).
OPENVINO_PRECISION = {"INFERENCE_PRECISION_HINT": "f32"}


def openvino_time(onnx_path: str, threads: int, runs: int, imgsz: int, cpu: list | None = None) -> float | None:
    """OpenVINO's median ms per pass (None when not installed); per-pass process CPU ms go to `cpu`."""
    try:
        import numpy as np
        import openvino as ov
    except ImportError:
        return None
    core = ov.Core()
    compiled = core.compile_model(
        onnx_path, "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", **OPENVINO_PRECISION}
    )
    x = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    req = compiled.create_infer_request()
    for _ in range(3):
        req.infer([x])
    times = []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        req.infer([x])
        times.append((time.perf_counter() - t) * 1e3)
        if cpu is not None:
            cpu.append((time.process_time() - c) * 1e3)
    return statistics.median(times)


def openvino_child(onnx_path: str, threads: int, runs: int, imgsz: int) -> None:
    """Runs inside a fresh interpreter (for `--cpu-time`): time OpenVINO, print JSON."""
    cpu: list[float] = []
    med = openvino_time(onnx_path, threads, runs, imgsz, cpu)
    print(json.dumps({"median_ms": med, "cpu_median_ms": statistics.median(cpu) if cpu else None}))


def cpu_time_rows(args, binary: Path, model: str, weights: str, onnx_path: Path, ours_int8: str | None, qdq: dict) -> list[dict]:
    """`--cpu-time`: per thread count, CPU ms per pass of every column (processes interleaved in
    rounds), medians over rounds: each process's median over its timed passes of the CPU time all
    its threads used during one pass (ours: `ghost-yolo bench`'s "cpu time median" line; ORT and
    OpenVINO: `time.process_time()` around each `run` / `infer` in their child). On a loaded machine this is the work each engine does; at 1
    thread it is the latency an idle core would give, at 2 threads it also counts spinning and
    waiting threads (ORT's pool spins), so it is not the 2-thread latency."""
    def ours_cmd(w, t):
        def run():
            cmd = [str(binary), "bench", "--imgsz", str(args.imgsz), "--threads", str(t), "--runs", str(args.runs), "-m", model, "-w", w]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            return float(re.search(r"cpu time median ([0-9.]+) ms", res.stdout).group(1))
        return run

    def child_cmd(flag, path, t):
        def run():
            cmd = [sys.executable, __file__, flag, str(path), str(t), str(args.runs), str(args.imgsz)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": str(t)})
            return json.loads(res.stdout.strip().splitlines()[-1])["cpu_median_ms"]
        return run

    has_ov = importlib.util.find_spec("openvino") is not None
    out = []
    for threads in args.threads:
        cols = {"ours": ours_cmd(weights, threads), "ort": child_cmd("--ort-child", onnx_path, threads)}
        if has_ov:
            cols["openvino"] = child_cmd("--openvino-child", onnx_path, threads)
        if ours_int8:
            cols["ours_int8"] = ours_cmd(ours_int8, threads)
        for v, q in qdq.items():
            cols[f"ort_int8_{v}"] = child_cmd("--ort-child", q, threads)
            if has_ov:
                cols[f"openvino_int8_{v}"] = child_cmd("--openvino-child", q, threads)
        rows = {k: [] for k in cols}
        for _ in range(args.rounds):
            for k, make in cols.items():
                rows[k].append(make())
        med = {k: statistics.median(v) for k, v in rows.items()}
        txt = "  ".join(f"{k} {v:.1f}" for k, v in med.items())
        ratios = f"ours/ORT {med['ours'] / med['ort']:.2f}"
        if "ours_int8" in med:
            ratios += f"  ours FP32/INT8 {med['ours'] / med['ours_int8']:.2f}x"
            ratios += "".join(f"  ours INT8 / ORT {v} {med['ours_int8'] / med[f'ort_int8_{v}']:.2f}" for v in qdq)
        print(
            f"{model:14s} {threads}T  CPU ms/pass  {txt}  {ratios}  [per round: "
            + "; ".join(f"{k} " + "/".join(f"{x:.1f}" for x in v) for k, v in rows.items()) + "]",
            flush=True,
        )
        out.append({"model": model, "threads": threads, "imgsz": args.imgsz, "cpu_ms": med, "rounds": rows})
    return out


def ort_parallel_child(onnx_path: str, sessions: int, threads: int, runs: int, imgsz: int) -> None:
    """Runs inside a fresh interpreter: `sessions` ONNX Runtime sessions of `threads` intra-op
    threads, each run `runs` times from its own Python thread, all at once; print JSON images/s."""
    import threading

    import numpy as np
    import onnxruntime as ort

    def session():
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.set_denormal_as_zero", "1")
        return ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])

    sess = [session() for _ in range(sessions)]
    x = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    name = sess[0].get_inputs()[0].name
    for s in sess:
        for _ in range(3):
            s.run(None, {name: x})
    start = threading.Barrier(sessions + 1)

    def worker(s):
        start.wait()
        for _ in range(runs):
            s.run(None, {name: x})

    pool = [threading.Thread(target=worker, args=(s,)) for s in sess]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    wall = time.perf_counter() - t0
    print(json.dumps({"images_per_s": sessions * runs / wall, "wall_s": wall}))


def openvino_throughput(onnx_path: str, streams: int, runs: int, imgsz: int) -> float | None:
    """OpenVINO's THROUGHPUT hint with `streams` streams of one thread each: images/s over
    `runs * streams` asynchronous requests (None when OpenVINO is not installed)."""
    try:
        import numpy as np
        import openvino as ov
    except ImportError:
        return None
    core = ov.Core()
    compiled = core.compile_model(
        onnx_path,
        "CPU",
        {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": streams, "INFERENCE_NUM_THREADS": streams, **OPENVINO_PRECISION},
    )
    x = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    queue = ov.AsyncInferQueue(compiled, compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
    for _ in range(3 * streams):
        queue.start_async([x])
    queue.wait_all()
    t0 = time.perf_counter()
    for _ in range(runs * streams):
        queue.start_async([x])
    queue.wait_all()
    return runs * streams / (time.perf_counter() - t0)


def ours_throughput(binary: Path, model: str, weights: str, imgsz: int, streams: int, threads: int, runs: int) -> float:
    """`ghost-yolo bench --streams S --threads T`: its printed images/s."""
    cmd = [str(binary), "bench", "--imgsz", str(imgsz), "--streams", str(streams), "--threads", str(threads)]
    cmd += ["--runs", str(runs), "-m", model, "-w", weights]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(re.search(r"throughput ([0-9.]+) images/s", res.stdout).group(1))


def throughput_rows(args, binary: Path, model: str, variants: list[tuple[str, str, Path]]) -> list[dict]:
    """One model's throughput columns for each (label, our weights, ONNX model) variant (FP32, and
    INT8 with `--int8`), all interleaved in the same rounds; medians over rounds."""
    rows = {label: {"ours_2x1": [], "ours_1x2": [], "ort_2x1": [], "openvino_tput": []} for label, _, _ in variants}
    for _ in range(args.rounds):
        for label, weights, onnx_path in variants:
            r = rows[label]
            r["ours_2x1"].append(ours_throughput(binary, model, weights, args.imgsz, 2, 1, args.runs))
            r["ours_1x2"].append(ours_throughput(binary, model, weights, args.imgsz, 1, 2, args.runs))
            child = subprocess.run(
                [sys.executable, __file__, "--ort-parallel-child", str(onnx_path), "2", "1", str(args.runs), str(args.imgsz)],
                capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
            r["ort_2x1"].append(json.loads(child.stdout.strip().splitlines()[-1])["images_per_s"])
            ov = openvino_throughput(str(onnx_path), 2, args.runs, args.imgsz)
            if ov is not None:
                r["openvino_tput"].append(ov)
    out = []
    for label, _, _ in variants:
        r = rows[label]
        med = {k: statistics.median(v) if v else None for k, v in r.items()}
        spread = {k: (min(v), max(v)) if v else None for k, v in r.items()}
        ov_txt = f"{med['openvino_tput']:.2f}" if med["openvino_tput"] else "-"
        print(
            f"{model:14s} {label:5s} images/s  ours 2x1 {med['ours_2x1']:.2f}  ours 1x2 {med['ours_1x2']:.2f}  "
            f"(2x1 / 1x2 {med['ours_2x1'] / med['ours_1x2']:.2f})  ORT 2x1 {med['ort_2x1']:.2f}  "
            f"OpenVINO THROUGHPUT {ov_txt}  [min-max over {args.rounds} rounds: "
            + ", ".join(f"{k} {a:.2f}-{b:.2f}" for k, (a, b) in ((k, v) for k, v in spread.items() if v))
            + "]",
            flush=True,
        )
        out.append({"model": model, "precision": label, "imgsz": args.imgsz, "images_per_s": med, "spread": spread, "rounds": r})
    return out


def int8_models(args, binary: Path, model: str, weights: str, onnx_path: Path, tmp: Path) -> tuple[str, dict[str, Path]]:
    """Our INT8 file (`ghost-yolo quantize`, default FP32 groups) and ORT's QDQ models
    (tools/ort_int8.py, one per `--ort-int8` variant) of the same weights and calibration images."""
    import ort_int8

    ours_int8 = tmp / f"{model}-int8.safetensors"
    cmd = [str(binary), "quantize", "-m", model, "-w", weights, "--data", str(args.calib_data)]
    cmd += ["--images", str(args.calib_images), "--imgsz", str(args.imgsz), "-o", str(ours_int8)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stderr}")
    print(f"{model}: ours INT8 {res.stdout.strip().splitlines()[-1]}", flush=True)
    images = ort_int8.calibration_images(Path(args.calib_data), "val", args.calib_images)
    qdq = {}
    for variant in args.ort_int8:
        out = tmp / f"{model}-ort-{variant}.onnx"
        r = ort_int8.quantize(onnx_path, out, images, args.imgsz, variant, ours_int8)
        print(f"{model}: ORT QDQ {variant}: {r['int8_convs']} of {r['convs']} Conv nodes INT8", flush=True)
        qdq[variant] = out
    return str(ours_int8), qdq


def export_onnx(model_name: str, weights: str | None, imgsz: int, out: Path, weights_out: Path, dynamic: bool = False) -> None:
    """Exports `model_name` with `weights` (else the seeded weights, also saved to `weights_out`)
    to ONNX at `out`. `dynamic`: batch, height and width as symbolic axes (Ultralytics' validator
    then keeps its `rect` letterbox, as `ghost-yolo val` does). The file carries the metadata
    Ultralytics' ONNX backend reads (task, stride, names, imgsz, batch)."""
    sys.path.insert(0, str(HERE))
    import fixture_common as fc

    fc.ultralytics_offline()
    import torch
    import yaml
    from safetensors.torch import load_file
    from ultralytics.nn.tasks import DetectionModel

    import ghost_ultralytics
    import seeded_weights as sw

    ghost_ultralytics.register()
    ghost = model_name.endswith("-ghost")
    base = model_name.removesuffix("-ghost")
    scale = base[-1]
    d = yaml.safe_load((fc.MODELS_DIR / ("yolo11-ghost.yaml" if ghost else "yolo11.yaml")).read_text())
    d["scale"] = scale
    d["yaml_file"] = f"{model_name}.yaml"
    if weights:
        sd = load_file(weights)
        nc = next(v.shape[0] for k, v in sd.items() if k.endswith("cv3.0.2.weight"))
        d["nc"] = nc
        m = DetectionModel(d, ch=3, verbose=False)
        m.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
    else:
        m = DetectionModel(d, ch=3, verbose=False)
        sw.fill_module(m, DEFAULT_SEED)
        # Both engines load from a file: the seeded weights go to a safetensors file for ours.
        from safetensors.torch import save_file

        sd = {k: v.contiguous() for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
        save_file(sd, str(weights_out))
    m = m.eval().fuse(verbose=False)
    det = m.model[-1]
    det.export = False

    class Output0(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            y = self.inner(x)
            return y[0] if isinstance(y, (list, tuple)) else y

    x = torch.zeros(1, 3, imgsz, imgsz)
    with torch.no_grad():
        # The TorchScript exporter: it folds the fused model into plain Conv/Mul/Add nodes and needs
        # no onnxscript; the warning about the newer exporter is expected.
        axes = {"images": {0: "batch", 2: "height", 3: "width"}, "output0": {0: "batch", 2: "anchors"}} if dynamic else None
        torch.onnx.export(
            Output0(m), (x,), str(out), input_names=["images"], output_names=["output0"], opset_version=17,
            dynamo=False, dynamic_axes=axes,
        )
    import onnx

    proto = onnx.load(str(out))
    names = dict(enumerate(json.loads(load_metadata(weights).get("names", "null")) or [f"class{i}" for i in range(det.nc)]))
    meta = {"task": "detect", "stride": str(int(max(det.stride))), "names": str(names), "imgsz": str([imgsz, imgsz]), "batch": "1"}
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    onnx.save(proto, str(out))


def load_metadata(weights: str | None) -> dict:
    """The safetensors header's metadata (empty without a file)."""
    if not weights:
        return {}
    from safetensors import safe_open

    with safe_open(weights, "np") as f:
        return f.metadata() or {}


def ours(binary: Path, model: str, weights: str, imgsz: int, threads: int, runs: int) -> dict:
    cmd = [str(binary), "bench", "--imgsz", str(imgsz), "--threads", str(threads), "--runs", str(runs)]
    cmd += ["-m", model, "-w", weights]
    res = subprocess.run(["/usr/bin/time", "-f", "RSS_KB %M", *cmd], capture_output=True, text=True, check=True)
    med = float(re.search(r"median ([0-9.]+) ms", res.stdout).group(1))
    gflops = float(re.search(r"\(([0-9.]+) GFLOPs fused\)", res.stdout).group(1))
    rss = int(re.search(r"RSS_KB (\d+)", res.stderr).group(1)) / 1024
    load = float(re.search(r"load ([0-9.]+) ms", res.stdout).group(1))
    return {"median_ms": med, "gflops": gflops, "rss_mb": rss, "load_ms": load}


def cpu_ghz() -> float:
    """The highest core clock Linux reports: /proc/cpuinfo's "cpu MHz" (x86), else cpufreq's
    maximum (ARM kernels print no clock in /proc/cpuinfo); 0 when neither is readable."""
    try:
        mhz = [float(l.split(":")[1]) for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("cpu MHz")]
        if mhz:
            return max(mhz) / 1e3
    except (OSError, ValueError, IndexError):
        pass
    khz = []
    for f in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/cpuinfo_max_freq"):
        try:
            khz.append(int(f.read_text().strip()))
        except (OSError, ValueError):
            pass
    return max(khz) / 1e6 if khz else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["yolo11n-ghost", "yolo11n", "yolo11m-ghost", "yolo11m"])
    ap.add_argument("--weights", help="safetensors weights (only with a single --models entry)")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--binary", default=str(REPO / "target" / "release" / "ghost-yolo"))
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument(
        "--flops-per-cycle", type=float, default=FLOPS_PER_CYCLE.get(platform.machine().lower(), 0),
        help="FP32 FLOP per cycle per core for the %%-of-peak column (default by machine: "
        "32 on x86-64 AVX2, 16 on aarch64 with two 128-bit FMA pipes; 0 leaves it out)",
    )
    ap.add_argument(
        "--core-peak-gflops", type=float, default=0,
        help="measured FP32 peak of one core in GFLOP/s for the %%-of-peak column, instead of "
        "--flops-per-cycle x the clock /proc/cpuinfo reports (on a virtual machine that is the "
        "nominal clock, not the one the core runs at: measure with tools/int8_peak.rs 'fma')",
    )
    ap.add_argument("--ort-child", nargs=4, metavar=("ONNX", "THREADS", "RUNS", "IMGSZ"), help=argparse.SUPPRESS)
    ap.add_argument("--throughput", action="store_true", help="images/s columns (streams) instead of latency")
    ap.add_argument("--int8", action="store_true", help="INT8 columns: ours, ORT QDQ, OpenVINO on the QDQ model")
    ap.add_argument("--ort-int8", nargs="+", choices=["conv", "like-ours", "all"], default=["conv"], help="ORT QDQ variants (tools/ort_int8.py)")
    ap.add_argument("--calib-data", default=str(REPO / "fixtures" / "synthetic" / "data.yaml"), help="calibration data YAML (val split)")
    ap.add_argument("--cpu-time", action="store_true", help="median CPU ms per pass (all threads of the process) instead of wall medians: for a loaded machine, at 1 thread")
    ap.add_argument(
        "--openvino-precision", choices=["f32", "default"], default="f32",
        help="OpenVINO INFERENCE_PRECISION_HINT: f32 (default), or the plugin's own choice (bf16 on AVX-512 BF16 / AMX CPUs)",
    )
    ap.add_argument("--openvino-child", nargs=4, metavar=("ONNX", "THREADS", "RUNS", "IMGSZ"), help=argparse.SUPPRESS)
    ap.add_argument("--calib-images", type=int, default=4, help="calibration images for both INT8 models (latency does not depend on it)")
    ap.add_argument(
        "--ort-parallel-child", nargs=5, metavar=("ONNX", "SESSIONS", "THREADS", "RUNS", "IMGSZ"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.openvino_precision == "default":
        OPENVINO_PRECISION.clear()
        os.environ["GHOST_BENCH_OPENVINO_PRECISION"] = "default"  # for the children
    elif os.environ.get("GHOST_BENCH_OPENVINO_PRECISION") == "default":
        OPENVINO_PRECISION.clear()
    if args.ort_child:
        onnx_path, t, r, s = args.ort_child
        ort_child(onnx_path, int(t), int(r), int(s))
        return
    if args.openvino_child:
        onnx_path, t, r, sz = args.openvino_child
        openvino_child(onnx_path, int(t), int(r), int(sz))
        return
    if args.ort_parallel_child:
        onnx_path, n, t, r, s = args.ort_parallel_child
        ort_parallel_child(onnx_path, int(n), int(t), int(r), int(s))
        return
    if args.weights and len(args.models) != 1:
        ap.error("--weights needs exactly one --models entry")
    binary = Path(args.binary)
    if not binary.exists():
        ap.error(f"{binary} not found: run `cargo build --release -p ghost-yolo-cli` first")
    ghz = cpu_ghz()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            onnx_path = Path(tmp) / f"{model}.onnx"
            seeded_path = Path(tmp) / f"{model}.safetensors"
            model_weights = args.weights
            if args.int8 and not model_weights and model == "yolo11n-ghost":
                model_weights = str(DEFAULT_MODEL)
            export_onnx(model, model_weights, args.imgsz, onnx_path, seeded_path)
            weights = model_weights or str(seeded_path)
            ours_int8, qdq = int8_models(args, binary, model, weights, onnx_path, Path(tmp)) if args.int8 else (None, {})
            if args.cpu_time:
                results += cpu_time_rows(args, binary, model, weights, onnx_path, ours_int8, qdq)
                continue
            if args.throughput:
                variants = [("fp32", weights, onnx_path)]
                variants += [(f"int8-{v}", ours_int8, p) for v, p in qdq.items()]
                results += throughput_rows(args, binary, model, variants)
                continue
            for threads in args.threads:
                rows = {"ours": [], "ort": [], "openvino": []}
                if args.int8:
                    rows["ours_int8"] = []
                    for v in qdq:
                        rows[f"ort_int8_{v}"] = []
                        rows[f"openvino_int8_{v}"] = []
                rss = {"ours": 0.0, "ort": 0.0}
                ort_load = []
                ours_load = []
                gflops = 0.0
                for _ in range(args.rounds):
                    o = ours(binary, model, weights, args.imgsz, threads, args.runs)
                    rows["ours"].append(o["median_ms"])
                    gflops = o["gflops"]
                    rss["ours"] = max(rss["ours"], o["rss_mb"])
                    ours_load.append(o["load_ms"])
                    child = subprocess.run(
                        [sys.executable, __file__, "--ort-child", str(onnx_path), str(threads), str(args.runs), str(args.imgsz)],
                        capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)},
                    )
                    r = json.loads(child.stdout.strip().splitlines()[-1])
                    rows["ort"].append(r["median_ms"])
                    rss["ort"] = max(rss["ort"], r["rss_mb"])
                    ort_load.append(r["load_ms"])
                    ov = openvino_time(str(onnx_path), threads, args.runs, args.imgsz)
                    if ov is not None:
                        rows["openvino"].append(ov)
                    if args.int8:
                        rows["ours_int8"].append(ours(binary, model, ours_int8, args.imgsz, threads, args.runs)["median_ms"])
                        for v, q in qdq.items():
                            child = subprocess.run(
                                [sys.executable, __file__, "--ort-child", str(q), str(threads), str(args.runs), str(args.imgsz)],
                                capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)},
                            )
                            rows[f"ort_int8_{v}"].append(json.loads(child.stdout.strip().splitlines()[-1])["median_ms"])
                            ov = openvino_time(str(q), threads, args.runs, args.imgsz)
                            if ov is not None:
                                rows[f"openvino_int8_{v}"].append(ov)
                ours_ms = statistics.median(rows["ours"])
                ort_ms = statistics.median(rows["ort"])
                ov_ms = statistics.median(rows["openvino"]) if rows["openvino"] else None
                gflops_s = gflops / (ours_ms / 1e3)
                peak = (args.core_peak_gflops or args.flops_per_cycle * ghz) * threads
                res = {
                    "model": model, "threads": threads, "imgsz": args.imgsz, "gflops": gflops,
                    "ours_ms": ours_ms, "ort_ms": ort_ms, "openvino_ms": ov_ms,
                    "ours_over_ort": ours_ms / ort_ms,
                    "ours_over_openvino": ours_ms / ov_ms if ov_ms else None,
                    "ours_gflop_s": gflops_s, "peak_gflop_s": peak,
                    "ours_pct_peak": 100 * gflops_s / peak if peak else None,
                    "ours_rss_mb": rss["ours"], "ort_rss_mb": rss["ort"],
                    "ours_load_ms": statistics.median(ours_load),
                    "ort_load_ms": statistics.median(ort_load),
                    "rounds": rows,
                }
                if args.int8:
                    med = {k: statistics.median(v) if v else None for k, v in rows.items()}
                    res["int8_ms"] = {k: v for k, v in med.items() if k not in ("ours", "ort", "openvino")}
                    res["int8_speedup"] = {k: ours_ms / v for k, v in res["int8_ms"].items() if k == "ours_int8" and v}
                    print(
                        f"{model:14s} {threads}T  INT8  ours {med['ours_int8']:7.1f} ms (FP32 / INT8 {ours_ms / med['ours_int8']:.2f}x)  "
                        + "  ".join(
                            f"ORT {v} {med[f'ort_int8_{v}']:7.1f} ms (ours/ORT {med['ours_int8'] / med[f'ort_int8_{v}']:.2f})  "
                            + (f"OpenVINO {v} {med[f'openvino_int8_{v}']:7.1f} ms" if med[f"openvino_int8_{v}"] else "OpenVINO -")
                            for v in qdq
                        )
                        + "  [per round: "
                        + "; ".join(f"{k} " + "/".join(f"{x:.1f}" for x in v) for k, v in rows.items())
                        + "]",
                        flush=True,
                    )
                results.append(res)
                ov_txt = f"{ov_ms:.1f}" if ov_ms else "-"
                pct_txt = f"{res['ours_pct_peak']:.0f}% of {peak:.0f}" if peak else "peak unknown"
                print(
                    f"{model:14s} {threads}T  ours {ours_ms:7.1f} ms  ORT {ort_ms:7.1f} ms  OpenVINO {ov_txt:>7s}  "
                    f"ours/ORT {ours_ms / ort_ms:5.2f}  {gflops_s:6.1f} GFLOP/s ({pct_txt})  "
                    f"RSS ours {rss['ours']:.0f} MB / ORT {rss['ort']:.0f} MB  "
                    f"load ours {res['ours_load_ms']:.0f} ms / ORT {res['ort_load_ms']:.0f} ms",
                    flush=True,
                )
    if args.json:
        meta = {
            "cpu_ghz": ghz, "machine": platform.machine(), "flops_per_cycle": args.flops_per_cycle,
            "core_peak_gflops": args.core_peak_gflops or args.flops_per_cycle * ghz,
        }
        Path(args.json).write_text(json.dumps({**meta, "results": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
