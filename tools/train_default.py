#!/usr/bin/env python3
"""Train the default shapes model: yolo11n-ghost (GhostNet width 0.25) from scratch, CPU, stock Ultralytics
trainer through the tools/ghost_ultralytics.py plugin, on the synthetic dataset of
tools/make_synthetic_dataset.py. See docs/training.md for the full recipe and the measured numbers.

Usage (the exact run behind crates/yolo11-ghost/assets/yolo11n-ghost-shapes.safetensors; details in docs/training.md):
  .venv-ref/bin/python tools/make_synthetic_dataset.py /work/train/ds --n-train 6000 --n-val 0
  .venv-ref/bin/python tools/make_synthetic_dataset.py /work/train/val400 --n-train 0 --n-val 400 --long-side 320
  # ds/images/val and ds/labels/val -> the val400 ones; data_v100.yaml = ds with `val:` = the first 100 val images
  # on an otherwise idle machine (1.01 h, mAP50-95 0.765 on val400):
  .venv-ref/bin/python tools/train_default.py --data /work/train/ds/data_v100.yaml --time 1.0 \
      --epochs 5 --batch 16 --fraction 1.0 --close-mosaic 1 --threads 2 --val 0 --project /work/train/runs --name s3 \
      --extra '{"optimizer":"AdamW","lr0":0.002,"warmup_epochs":0.3,"nbs":16}'
Then export: .venv-ref/bin/python tools/export_ultralytics.py /work/train/runs/s3/weights/best.pt \
      crates/yolo11-ghost/assets/yolo11n-ghost-shapes.safetensors
A progress log (images/s, losses, per-epoch metrics) goes to <project>/<name>.progress.log.

Everything offline: plots=False (no font download), amp=False (no AMP check download), pretrained=False.
On CPU the trainer forces workers=0 (ultralytics/engine/trainer.py: "faster CPU training"); the mosaic
dataloader runs at ~160 img/s in the main thread, far above the ~4 img/s the model trained at, so
workers do not matter here. Ultralytics limits torch to os.cpu_count() - 1 threads; --threads overrides.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# Busy-waiting OpenMP threads are catastrophic on a shared 2-core machine (a 2-thread train step measured
# 0.5-1.7 img/s with the default policy vs 3.4-4.2 passive and 3.6-5.4 with 1 thread while a compiler ran).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fixture_common as fc  # noqa: E402

fc.ultralytics_offline()

import torch  # noqa: E402
from ultralytics import YOLO  # noqa: E402

import ghost_ultralytics  # noqa: E402

ghost_ultralytics.register()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--time", type=float, default=0.95, help="training budget in hours (Ultralytics `time=`)")
    ap.add_argument("--epochs", type=int, default=30, help="initial epochs (time mode re-estimates after epoch 1)")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--mosaic", type=float, default=1.0)
    ap.add_argument("--close-mosaic", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fraction", type=float, default=1.0)
    ap.add_argument("--val", type=int, default=1, help="validate every epoch (1) or only at the end (0)")
    ap.add_argument("--project", default="/work/train/runs")
    ap.add_argument("--name", default="full")
    ap.add_argument("--extra", default="{}", help="JSON dict of further train() arguments")
    a = ap.parse_args()
    # Ultralytics' select_device() calls torch.set_num_threads(NUM_THREADS) with NUM_THREADS = min(8, cpus - 1),
    # i.e. ONE thread on this 2-core machine; raise it (measured: see docs/training.md)
    import ultralytics.utils.torch_utils as tu

    tu.NUM_THREADS = a.threads
    torch.set_num_threads(a.threads)
    model = YOLO(str(fc.MODELS_DIR / "yolo11n-ghost.yaml"))
    args = dict(
        data=a.data, imgsz=a.imgsz, batch=a.batch, epochs=a.epochs, time=a.time, device="cpu", workers=0,
        cache="ram", plots=False, amp=False, pretrained=False, seed=a.seed, deterministic=True,
        mosaic=a.mosaic, close_mosaic=a.close_mosaic, fraction=a.fraction, val=bool(a.val),
        project=a.project, name=a.name, exist_ok=True, verbose=True, patience=1000,
    )
    args.update(json.loads(a.extra))
    progress = Path(a.project) / f"{a.name}.progress.log"
    progress.parent.mkdir(parents=True, exist_ok=True)
    state = {"n": 0, "t": None}

    def on_batch_end(trainer):  # images/s log, since YOLO_VERBOSE=false silences the progress bar
        state["n"] += trainer.batch_size
        state["b"] = state.get("b", 0) + 1
        if state["t"] is None:
            state["t"] = time.time()
        if state["b"] % 25 == 0:
            tl = trainer.tloss
            tl = [round(float(v), 3) for v in (tl.values() if isinstance(tl, dict) else (tl if tl is not None else []))]
            with open(progress, "a") as f:
                f.write(f"{time.strftime('%H:%M:%S')} epoch {trainer.epoch + 1}/{trainer.epochs} batch {state['b']} "
                        f"images {state['n']} {state['n'] / max(1e-9, time.time() - state['t']):.2f} img/s (incl. val) "
                        f"loss {tl} lr {trainer.optimizer.param_groups[0]['lr']:.6f}\n")

    def on_epoch_end(trainer):
        with open(progress, "a") as f:
            f.write(f"{time.strftime('%H:%M:%S')} END epoch {trainer.epoch + 1}/{trainer.epochs} metrics {trainer.metrics}\n")

    model.add_callback("on_train_batch_end", on_batch_end)
    model.add_callback("on_fit_epoch_end", on_epoch_end)
    t0 = time.time()
    model.train(**args)
    wall = time.time() - t0
    print(f"train() wall time {wall:.0f} s ({wall / 3600:.3f} h); args {json.dumps(args)}")


if __name__ == "__main__":
    main()
