"""Projected time of the paper's full E2 grid on one device, from throughput measured here.

    python benchmarks/grid_projection.py [--device cpu|cuda] [--runs 20] [--solver svm]
    python benchmarks/grid_projection.py --runs 2 --epochs 1 --snapshots 2   # smoke test

The grid is 21 δ × 4 σ × 2 activations × 3 readouts × 20 seeds = 10 080 runs of 5000 epochs
(25 minibatches of 200 each), with the metrics every 10 epochs (501 logged points per run). The
script times the trainer (``train`` on ``--runs`` runs at once, a few epochs) and the evaluation
(``evaluate_run`` on a few snapshots of a trained δ-task run, decoders on the same device) and
multiplies out. On the CPU it uses one thread, as one workflow job does: divide by the number
of cores for a whole machine. ``--device cuda`` measures a GPU and exits with a message when
there is none. Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from evaluation_cost import snapshots  # noqa: E402

from repgeom import networks  # noqa: E402
from repgeom.activations import get_activation  # noqa: E402
from repgeom.decoders import DecoderSpec  # noqa: E402
from repgeom.evaluation import EvalSettings, evaluate_run  # noqa: E402
from repgeom.networks.base import to_device  # noqa: E402
from repgeom.training import TrainSettings, train  # noqa: E402

GRID_RUNS, EPOCHS, LOG_EVERY, N_TRAIN = 10_080, 5000, 10, 5000
TASK = {
    "family": "delta",
    "delta": 0.5,
    "sigma": 0.1,
    "dim": 120,
    "task_seed": 0,
    "data_seed": 0,
    "n_train": N_TRAIN,
    "n_test": 1000,
}


def train_seconds_per_run_epoch(R: int, dev: torch.device, act, epochs: int, sync) -> float:
    net = networks.build("shallow", {"width": 120}, act, (120,), 1)
    params = to_device(net.init(list(range(R)), ["uniform"] * R), dev)
    x = torch.randn(R, N_TRAIN, 120, device=dev)
    y = (x[..., :1] * x[..., 1:2] > 0).float()
    s = TrainSettings(epochs=epochs, conv_tol=0.0, snapshot_epochs=(), progress_every_s=1e9)
    train(net, params, x, y, TrainSettings(epochs=1, snapshot_epochs=()), list(range(R)))  # warm
    sync()
    t0 = time.perf_counter()
    train(net, params, x, y, s, list(range(R)))
    sync()
    return (time.perf_counter() - t0) / (R * epochs)


def eval_seconds_per_snapshot(act_name: str, solver: str, dev, count: int, sync) -> float:
    P = snapshots(get_activation(act_name), count, TASK)
    cfg = {"task": TASK, "model": {"arch": "shallow", "activation": act_name, "width": 120}}
    settings = EvalSettings((DecoderSpec(solver),))
    sync()
    t0 = time.perf_counter()
    evaluate_run(cfg, P, settings, device=dev)
    sync()
    return (time.perf_counter() - t0) / len(P["W"])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs", type=int, default=20, help="runs trained at once (one job's block)")
    p.add_argument("--epochs", type=int, default=3, help="epochs timed")
    p.add_argument("--snapshots", type=int, default=8, help="snapshots evaluated")
    p.add_argument(
        "--solver", default="svm", choices=["svm", "liblinear_dual", "liblinear_auto", "ridge"]
    )
    args = p.parse_args(argv)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: skipping the GPU projection")
        return {"device": args.device, "skipped": "no CUDA device"}
    if dev.type == "cpu":
        torch.set_num_threads(1)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rows = []
    for act in ("tanh", "relu"):
        tr = train_seconds_per_run_epoch(args.runs, dev, get_activation(act), args.epochs, sync)
        ev = eval_seconds_per_snapshot(act, args.solver, dev, args.snapshots, sync)
        points = EPOCHS // LOG_EVERY + 1
        half = GRID_RUNS / 2  # half the grid is tanh, half relu
        rows.append(
            {
                "act": act,
                "train_ms_per_run_epoch": 1e3 * tr,
                "eval_ms_per_snapshot": 1e3 * ev,
                "train_h": half * EPOCHS * tr / 3600,
                "eval_h": half * points * ev / 3600,
            }
        )
    total = sum(r["train_h"] + r["eval_h"] for r in rows)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu, 1 thread"
    print(
        f"device {name}; {GRID_RUNS} runs × {EPOCHS} epochs, metrics every {LOG_EVERY} epochs "
        f"({args.solver} decoders); {args.runs} runs per tensor"
    )
    print(
        f"{'act':>5} {'train ms/run-epoch':>19} {'eval ms/snapshot':>17} "
        f"{'train h':>8} {'eval h':>7}"
    )
    for r in rows:
        print(
            f"{r['act']:>5} {r['train_ms_per_run_epoch']:>19.2f} "
            f"{r['eval_ms_per_snapshot']:>17.1f} {r['train_h']:>8.1f} {r['eval_h']:>7.1f}"
        )
    print(f"projected full grid: {total:.1f} h ({60 * total:.0f} min) on this device")
    result = {"device": name, "runs_per_tensor": args.runs, "solver": args.solver}
    result |= {"rows": rows, "total_h": total}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
