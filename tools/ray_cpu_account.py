#!/usr/bin/env python3
"""Where the CPU goes in a Ray Data run of ghost_yolo.ray.Detector (docs/python.md, issue 16).

Wall-clock images/s on a shared 2-core machine is noise; CPU seconds per process are not. A
separate sampler process polls /proc every POLL seconds and keeps, for the driver and every
process descended from it (gcs_server, raylet, agents, log monitor, idle workers, the actors),
its latest cumulative CPU time (utime + stime) and command line. Between two marks (before and
after one `map_batches(...).count()` run), each process's delta is the CPU it used in that run; a
process that exits during the run (Ray Data ends its actors at the end) keeps its last sample, so
at most POLL seconds of its shutdown are missed.

Inside each actor, the CPU time of the calling thread during `Detector.__call__`
(`time.thread_time`) is recorded too: that is the detection itself plus the Python layer (the
kernels run on the calling thread at threads=1), the part the Rust CLI also pays (~10.5 ms per
image at 320). Everything else is Ray's overhead, and on 2 cores it comes out of the second
actor's core.

Setups (--setups SETUP:SINK,..., each in its own driver process and fresh local cluster, in the
order given, ROUNDS times):
  docs    the recipe of docs/scale-out.md before issue 16's follow-up: ray.init(num_cpus=2), defaults
  bench   tools/bench_python.py before it: no dashboard, no log to driver, no progress bars
  soft3   bench with RAY_num_workers_soft_limit=3
  recipe  the recipe now: ray.init(num_cpus=cores + 1, include_dashboard=False), no progress bars
Sinks: count (Dataset.count(), the old benchmark), materialize, parquet (write_parquet, defaults),
parquet-c1 (concurrency=1), parquet-cpu0 (ray_remote_args num_cpus=0), parquet-cpu0-c1, -c2.
Each run: 1 actor x 1 thread and 2 x 1 (--actors), at each size of --repeats; the first dataset
of each session (16 images) starts Ray Data's helper actors and is reported on its own.

    python tools/ray_cpu_account.py [--repeats 5,20] [--rounds 2] [--setups bench:count,recipe:parquet-c1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGES = [str(REPO / im["file"]) for im in json.loads((REPO / "fixtures/models/predict_expected.json").read_text())["images"]]
TICK = os.sysconf("SC_CLK_TCK")
ACCT_DIR = Path(os.environ.get("GHOST_YOLO_ACCT_DIR", "/tmp/ghost_yolo_ray_acct"))


# --- the sampler (a separate process, so its own polling is not counted) ---------------------

def _stat(pid: str):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), int(rest[11]) + int(rest[12])  # ppid, utime + stime (ticks)


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def sampler(root: int, poll: float) -> None:
    """Polls until stdin closes; on each stdin line, polls once more and prints the table of
    every process seen so far: {pid: [command, cpu ticks]}."""
    import select

    me = str(os.getpid())
    seen = {}  # pid -> [cmd, ticks]
    while True:
        stats = {}
        for pid in os.listdir("/proc"):
            if pid.isdigit() and pid != me:
                st = _stat(pid)
                if st:
                    stats[pid] = st
        # Descendants of root (the tree is shallow: driver -> raylet -> workers).
        tree = {str(root)}
        grew = True
        while grew:
            grew = False
            for pid, (ppid, _) in stats.items():
                if pid not in tree and str(ppid) in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree:
            if pid in stats:
                cmd = _cmdline(pid) or (seen.get(pid, [""])[0])
                seen[pid] = [cmd, stats[pid][1]]
        r, _, _ = select.select([sys.stdin], [], [], poll)
        if r:
            line = sys.stdin.readline()
            if not line:
                return
            print(json.dumps(seen), flush=True)


def kind(cmd: str, root: bool) -> str:
    if root:
        return "driver"
    for needle, name in (
        ("gcs_server", "gcs_server"),
        ("raylet", "raylet"),
        ("ray::MapWorker", "actors"),
        ("ray::IDLE", "idle workers"),
        ("dashboard/agent.py", "dashboard agent"),
        ("runtime_env/agent", "runtime_env agent"),
        ("dashboard/dashboard.py", "dashboard"),
        ("log_monitor.py", "log monitor"),
        ("monitor.py", "monitor"),
        ("ray::", "other Ray workers"),
        ("default_worker.py", "idle workers"),
    ):
        if needle in cmd:
            return name
    return "other: " + cmd[:60]


# --- the measured pipeline ---------------------------------------------------------------------

def _accounted_detector():
    import ghost_yolo.ray

    class Accounted(ghost_yolo.ray.Detector):
        """Detector that adds up the calling thread's CPU time in __call__ to a file per actor
        (one small file write per batch, outside the measured span)."""

        def __call__(self, batch):
            start = time.time()
            t = time.thread_time()
            out = super().__call__(batch)
            # [CPU s in __call__, images, wall time of the first call's start, of the last call's end]
            self._acct = getattr(self, "_acct", [0.0, 0, start, 0.0])
            self._acct[0] += time.thread_time() - t
            self._acct[1] += len(out["boxes"])
            self._acct[3] = time.time()
            ACCT_DIR.mkdir(parents=True, exist_ok=True)
            (ACCT_DIR / f"{os.getpid()}.json").write_text(json.dumps(self._acct))
            return out

    return Accounted


def init_cluster(setup: str):
    import ray

    if setup == "docs":
        ray.init(num_cpus=2)
    elif setup in ("bench", "soft3"):
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        if setup == "soft3":
            # Keep 3 worker processes alive (default: one per logical CPU), the alternative to
            # the recipe's extra logical CPU.
            os.environ["RAY_num_workers_soft_limit"] = "3"
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
                 configure_logging=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
    elif setup == "recipe":
        # docs/scale-out.md "On one machine" now: one logical CPU more than the cores, for the
        # stages after the detection (the write); no dashboard.
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        ray.init(num_cpus=os.cpu_count() + 1, include_dashboard=False, _node_ip_address="127.0.0.1")
        ray.data.DataContext.get_current().enable_progress_bars = False
    else:
        raise SystemExit(f"unknown setup {setup!r}")


SINKS = ("count", "materialize", "parquet", "parquet-c1", "parquet-cpu0", "parquet-cpu0-c1", "parquet-cpu0-c2")


def run_once(setup: str, actors: int, paths, batch_size: int, blocks: int, sink: str = "count"):
    """Runs the pipeline; returns (wall start, wall end) of the whole run."""
    import ray

    det = _accounted_detector()
    ds = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=blocks)
    kwargs = dict(fn_constructor_kwargs={"threads": 1}, concurrency=actors, num_cpus=1, batch_size=batch_size)
    t = time.time()
    out = ds.map_batches(det, **kwargs)
    if sink == "count":
        n = out.count()
    elif sink == "materialize":
        n = out.materialize().count()
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            args = {"ray_remote_args": {"num_cpus": 0}} if sink.startswith("parquet-cpu0") else {}
            if sink[-2:-1] == "c":
                args["concurrency"] = int(sink[-1])
            out.write_parquet(d, **args)
            end = time.time()
            n = ray.data.read_parquet(d).count()
            assert n == len(paths), (n, len(paths))
            return t, end
    assert n == len(paths), (n, len(paths))
    return t, time.time()


def account(before, after, root: int, n_images: int):
    per_kind = defaultdict(float)
    procs = defaultdict(list)
    for pid, (cmd, ticks) in after.items():
        d = ticks - before.get(pid, ["", 0])[1]
        if d <= 0:
            continue
        k = kind(cmd, pid == str(root))
        per_kind[k] += d / TICK
        procs[k].append([int(pid), cmd.split(" ")[0][:48], d / TICK])
    return {k: {"cpu_s": v, "ms_per_image": v * 1e3 / n_images, "processes": procs[k]} for k, v in per_kind.items()}


def in_actor():
    """(CPU s in __call__, images, first call's start, last call's end) over every actor."""
    total, images, first, last = 0.0, 0, float("inf"), 0.0
    for f in ACCT_DIR.glob("*.json"):
        t, n, a, b = json.loads(f.read_text())
        total += t
        images += n
        first, last = min(first, a), max(last, b)
        f.unlink()
    return total, images, first, last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", default="5,20",
                    help="the 68 shipped images, this many times; two sizes split each process's CPU "
                         "into a per-run part (start-up) and a per-image part (the slope)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--setups", default="bench:count,docs:parquet,recipe:parquet-c1",
                    help="SETUP[:SINK],...")
    ap.add_argument("--actors", default="1,2")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--blocks", type=int, default=16)
    ap.add_argument("--sink", choices=SINKS, default="count",
                    help="how the run ends: Dataset.count(), materialize(), write_parquet (default tasks, "
                         "or tasks with num_cpus=0)")
    ap.add_argument("--poll", type=float, default=0.05)
    ap.add_argument("--verbose", action="store_true", help="list every process")
    ap.add_argument("--json", help="write every measurement here")
    ap.add_argument("--markdown", metavar="JSON", help="print the tables of an earlier --json file and exit")
    ap.add_argument("--_sampler", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.markdown:
        markdown(json.loads(Path(a.markdown).read_text()))
        return
    if a._sampler:
        sampler(a._sampler, a.poll)
        return
    for f in ACCT_DIR.glob("*.json"):
        f.unlink()
    records = []
    for rnd in range(a.rounds):
        for spec in a.setups.split(","):
            setup, _, sink = spec.partition(":")
            sink = sink or a.sink
            # Each setup in its own driver process: a fresh cluster, nothing left over.
            out = subprocess.run([sys.executable, "-c", _CHILD, setup, a.actors, a.repeats, str(a.batch_size),
                                  str(a.blocks), str(a.poll), sink], check=True, capture_output=True, text=True)
            got = json.loads(out.stdout.strip().splitlines()[-1])
            first = sum(v["cpu_s"] for v in got["session"].values())
            print(f"round {rnd} setup {setup}: first dataset of the session (16 images, 1 actor) {first:.2f} CPU s: "
                  + ", ".join(f"{k} {v['cpu_s']:.2f}" for k, v in sorted(got["session"].items(), key=lambda kv: -kv[1]["cpu_s"])))
            records.append({"setup": setup, "round": rnd, "session": got["session"]})
            rec = got["runs"]
            for r in rec:
                r["round"] = rnd
                records.append(r)
                show(r, a.verbose)
            slopes(rec)
    if a.json:
        Path(a.json).write_text(json.dumps(records, indent=1))


def markdown(records) -> None:
    """The per-kind tables of docs/python.md, from --json output (the first round of each run)."""
    runs = [r for r in records if "kinds" in r]
    kinds = sorted({k for r in runs for k in r["kinds"]}, key=lambda k: -max(r["kinds"].get(k, {"cpu_s": 0})["cpu_s"] for r in runs))
    for n, act in sorted({(r["images"], r["actors"]) for r in runs}):
        rs = [r for r in runs if r["images"] == n and r["actors"] == act]
        print(f"\n{act} actor(s) x 1 thread, {n} images: CPU ms per image")
        print("| process kind | " + " | ".join(f"{r['setup']} ({r['sink']}) r{r['round']}" for r in rs) + " |")
        print("|---|" + "---|" * len(rs))
        for k in kinds:
            print(f"| {k} | " + " | ".join(f"{r['kinds'].get(k, {'ms_per_image': 0})['ms_per_image']:.2f}" for r in rs) + " |")
        print("| **total** | " + " | ".join(f"**{sum(v['ms_per_image'] for v in r['kinds'].values()):.2f}**" for r in rs) + " |")
        print("| of it in `Detector.__call__` | " + " | ".join(f"{r['call_ms_per_image']:.2f}" for r in rs) + " |")
        print("| start to first call, s | " + " | ".join(f"{r['to_first_call_s']:.2f}" for r in rs) + " |")
        print("| last call to end, s | " + " | ".join(f"{r['after_last_call_s']:.2f}" for r in rs) + " |")
        print("| wall s (load) | " + " | ".join(f"{r['wall_s']:.1f} ({r['load']:.1f})" for r in rs) + " |")


def show(r, verbose: bool = False) -> None:
    n = r["images"]
    print(f"round {r['round']} setup {r['setup']} sink {r['sink']} {r['actors']} actor(s) x 1 thread: {n} images in "
          f"{r['wall_s']:.2f} s ({n / r['wall_s']:.1f} images/s wall, load {r['load']:.2f}); "
          f"start to first call {r['to_first_call_s']:.2f} s, last call to end {r['after_last_call_s']:.2f} s")
    total = sum(v["ms_per_image"] for v in r["kinds"].values())
    for k, v in sorted(r["kinds"].items(), key=lambda kv: -kv[1]["ms_per_image"]):
        detail = ", ".join(f"{c} {t:.2f}" for _, c, t in v["processes"]) if verbose else f"{len(v['processes'])} proc"
        print(f"    {k:22s} {v['ms_per_image']:7.2f} ms/image  ({v['cpu_s']:.2f} s: {detail})")
    print(f"    {'total':22s} {total:7.2f} ms/image; inside Detector.__call__ (calling thread) "
          f"{r['call_ms_per_image']:.2f} ms/image; everything else {total - r['call_ms_per_image']:.2f}")
    sys.stdout.flush()


def slopes(recs) -> None:
    """Per actor count, between the smallest and the largest run: CPU per extra image (the
    steady state) and the per-run remainder (actor start-up, model load, shutdown)."""
    by = defaultdict(list)
    for r in recs:
        by[r["actors"]].append(r)
    for actors, rs in sorted(by.items()):
        rs.sort(key=lambda r: r["images"])
        lo, hi = rs[0], rs[-1]
        if lo["images"] == hi["images"]:
            continue
        dn = hi["images"] - lo["images"]
        print(f"  {lo['setup']} {actors} actor(s): per extra image / per run, from {lo['images']} and {hi['images']} images")
        tot_slope = tot_fixed = 0.0
        for k in sorted(set(lo["kinds"]) | set(hi["kinds"])):
            a = lo["kinds"].get(k, {"cpu_s": 0.0})["cpu_s"]
            b = hi["kinds"].get(k, {"cpu_s": 0.0})["cpu_s"]
            slope = (b - a) / dn
            fixed = a - slope * lo["images"]
            tot_slope += slope
            tot_fixed += fixed
            print(f"    {k:22s} {slope * 1e3:7.2f} ms/image  {fixed:6.2f} s/run")
        call = (hi["call_ms_per_image"] * hi["images"] - lo["call_ms_per_image"] * lo["images"]) / dn
        print(f"    {'total':22s} {tot_slope * 1e3:7.2f} ms/image  {tot_fixed:6.2f} s/run; "
              f"inside __call__ {call:.2f} ms/image, everything else {tot_slope * 1e3 - call:.2f} ms/image")
    sys.stdout.flush()


def child(setup: str, actors: str, repeats: str, batch_size: int, blocks: int, poll: float, sink: str) -> None:
    me = os.getpid()
    samp = subprocess.Popen([sys.executable, __file__, "--_sampler", str(me), "--poll", str(poll)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def mark():
        samp.stdin.write("mark\n")
        samp.stdin.flush()
        return json.loads(samp.stdout.readline())

    init_cluster(setup)
    import ray

    settle = 2.0
    time.sleep(settle)  # let the cluster's start-up finish: it is not part of any run
    recs = []
    try:
        # Cluster-wide helpers (Ray Data's stats and autoscaling actors) start with the first
        # dataset of a session: once per session, so outside the accounted runs.
        before = mark()
        run_once(setup, 1, IMAGES[:16], batch_size, 1, sink)
        time.sleep(settle)
        in_actor()
        session = account(before, mark(), me, 1)
        for repeat, n_act in [(int(r), int(x)) for r in repeats.split(",") for x in actors.split(",")]:
            paths = IMAGES * repeat
            before = mark()
            load = os.getloadavg()[0]
            t0, t1 = run_once(setup, n_act, paths, batch_size, blocks, sink)
            time.sleep(settle)  # the actors' shutdown belongs to this run
            after = mark()
            call_s, call_n, first, last = in_actor()
            assert call_n == len(paths), (call_n, len(paths))
            recs.append({"setup": setup, "sink": sink, "actors": n_act, "images": len(paths), "wall_s": t1 - t0,
                         "to_first_call_s": first - t0, "after_last_call_s": t1 - last, "load": load,
                         "kinds": account(before, after, me, len(paths)),
                         "call_ms_per_image": call_s * 1e3 / len(paths)})
    finally:
        ray.shutdown()
        samp.stdin.close()
        samp.wait()
    print(json.dumps({"session": session, "runs": recs}))


_CHILD = (
    "import sys; sys.argv[0] = %r; sys.path.insert(0, %r); import ray_cpu_account as m; "
    "a = sys.argv[1:]; m.child(a[0], a[1], a[2], int(a[3]), int(a[4]), float(a[5]), a[6])"
    % (__file__, str(Path(__file__).parent))
)

if __name__ == "__main__":
    main()
