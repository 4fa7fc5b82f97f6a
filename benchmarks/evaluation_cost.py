"""Evaluation cost per snapshot and run, by metric, at the paper's sizes (δ-task, D = N = 120,
5000 training and 1000 test samples).

    python benchmarks/evaluation_cost.py [--snapshots 8] [--act tanh] [--solvers newton liblinear]

Trains one short run (50 epochs) to get realistic snapshots, then times each metric family over
all its snapshots the way ``repgeom.evaluation.evaluate_run`` computes it, the decoders once per
solver (the batched Newton solver and liblinear at LinearSVC's defaults), and prints how far the
two solvers' metrics are apart. Prints a table (ms per snapshot) and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from repgeom import metrics as M
from repgeom.activations import get_activation
from repgeom.decoders import DecoderSpec, accuracies
from repgeom.evaluation import DICHOTOMIES, _hidden, decoding_problems, make_datasets, make_task
from repgeom.models import init_shallow
from repgeom.tasks import delta_dichotomies
from repgeom.training import TrainSettings, snapshot_epochs, train


def snapshots(act, count: int, task_cfg: dict) -> dict[str, np.ndarray]:
    cond, x = make_datasets(task_cfg)["train"]
    y = delta_dichotomies()["xor"][cond][:, None].astype(np.float32)
    epochs = snapshot_epochs(50, "log", count)
    s = TrainSettings(epochs=50, conv_tol=0.0, snapshot_epochs=tuple(epochs))
    r = train(
        init_shallow([0], 120, 120, ["uniform"]),
        torch.tensor(x[None]),
        torch.tensor(y[None]),
        act,
        s,
        [0],
    )
    return {k: np.stack([r.snapshots[e][k][0] for e in epochs]) for k in ("W", "b", "J", "bo")}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--snapshots", type=int, default=8)
    p.add_argument("--act", default="tanh")
    p.add_argument("--delta", type=float, default=0.5)
    p.add_argument("--solvers", nargs="+", default=["newton", "liblinear"])
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    task_cfg = {
        "family": "delta",
        "delta": args.delta,
        "sigma": 0.1,
        "dim": 120,
        "task_seed": 0,
        "data_seed": 0,
        "n_train": 5000,
        "n_test": 1000,
    }
    act = get_activation(args.act)
    P = snapshots(act, args.snapshots, task_cfg)
    S = len(P["W"])
    task, dich = make_task(task_cfg), delta_dichotomies()
    M.decoder_accuracy(  # import scikit-learn before timing
        DecoderSpec(solver="liblinear"), np.eye(2), np.array([0, 1]), np.eye(2), np.array([0, 1])
    )
    times = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        out = fn()
        times[name] = (time.perf_counter() - t0) / S * 1e3
        return out

    data = timed("data (regenerate samples)", lambda: make_datasets(task_cfg, 1.0))
    H = timed(
        "hidden responses",
        lambda: {k: _hidden(P["W"], P["b"], act, x) for k, (_, x) in data.items()},
    )
    cond = {k: c for k, (c, _) in data.items()}
    Z = _hidden(P["W"], P["b"], act, task.means.astype(np.float32)).astype(float)
    timed(
        "kernel alignment (2)",
        lambda: (
            M.linear_cka(Z, np.broadcast_to(task.means, (S, 4, 120))),
            M.linear_cka(Z, np.broadcast_to(task.target * 1.0, (S, 4, 1))),
        ),
    )
    timed("parallelism score (3)", lambda: [M.parallelism_score(Z, dich[d]) for d in DICHOTOMIES])

    # every decoder of every snapshot (CCGP all and proper, decoding at both noises), as
    # evaluate_run computes them: 18 problems, 12 distinct fits after sign-flip sharing
    columns = decoding_problems(dich)
    problems = sorted({p for ps in columns.values() for p in ps}, key=repr)
    acc = {}
    for solver in args.solvers:
        spec = DecoderSpec(solver=solver)
        acc[solver] = timed(
            f"decoders, {solver} (12 fits)", lambda spec=spec: accuracies(spec, H, cond, problems)
        )
    timed("participation ratio", lambda: M.participation_ratio(H["test"].astype(float)))
    total = sum(v for k, v in times.items() if not k.startswith("decoders"))
    print(f"ms per snapshot and run ({args.act}, δ = {args.delta}, {S} snapshots, 1 thread)")
    for k, v in times.items():
        print(f"  {k:<34} {v:>8.1f} ms")
    for solver in args.solvers:
        t = total + times[f"decoders, {solver} (12 fits)"]
        print(f"  {'total with ' + solver:<34} {t:>8.1f} ms")
    result = {"act": args.act, "snapshots": S, "ms_per_snapshot": times}
    if len(acc) == 2:
        a, b = acc.values()
        worst = {
            col: float(
                np.abs(
                    a[:, [problems.index(q) for q in ps]].mean(1)
                    - b[:, [problems.index(q) for q in ps]].mean(1)
                ).max()
            )
            for col, ps in columns.items()
        }
        result["max_abs_diff_between_solvers"] = worst
        print("max |Δ| between the solvers' metrics (liblinear at its default tol = 1e-4):")
        print("  " + ", ".join(f"{k} {v:.3f}" for k, v in worst.items()))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
