"""Evaluation cost per snapshot and run, by metric, at the paper's sizes (δ-task, D = N = 120,
5000 training and 1000 test samples).

    python benchmarks/evaluation_cost.py [--snapshots 8] [--act tanh] [--solvers svm liblinear_auto]
    python benchmarks/evaluation_cost.py --snapshots 2 --solvers svm   # smoke test

Trains one short run (50 epochs) to get realistic snapshots, then times each metric family over
all its snapshots the way ``repgeom.evaluation.evaluate_run`` computes it, the decoders once per
solver (the batched Newton solver and liblinear at LinearSVC's defaults), and prints how far the
two solvers' metrics are apart, for every (dichotomy, metric) pair the decoders serve and the
shattering dimension. Prints a table (ms per snapshot) and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from repgeom import metrics as M
from repgeom import networks
from repgeom.activations import get_activation
from repgeom.decoders import DecoderSpec, _fits, accuracies
from repgeom.evaluation import EvalSettings, decoding_problems, representations
from repgeom.samples import make_datasets
from repgeom.tasks import build_task
from repgeom.training import TrainSettings, snapshot_epochs, train


def snapshots(act, count: int, task_cfg: dict) -> dict[str, np.ndarray]:
    """``count`` log-spaced snapshots of one δ-task run trained for 50 epochs (seed 0)."""
    task = build_task(task_cfg)
    cond, x = make_datasets(task_cfg, task=task)["train"]
    y = task.target[cond].astype(np.float32)
    epochs = snapshot_epochs(50, "log", count)
    s = TrainSettings(epochs=50, conv_tol=0.0, snapshot_epochs=tuple(epochs))
    net = networks.build("shallow", {"width": 120}, act, (task.dim,), y.shape[1])
    r = train(net, net.init([0], ["uniform"]), torch.tensor(x[None]), torch.tensor(y[None]), s, [0])
    return {k: np.stack([r.snapshots[e][k][0] for e in epochs]) for k in ("W", "b", "J", "bo")}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--snapshots", type=int, default=8)
    p.add_argument("--act", default="tanh")
    p.add_argument("--delta", type=float, default=0.5)
    p.add_argument("--solvers", nargs="+", default=["svm", "liblinear_auto"])
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
    task = build_task(task_cfg)
    net = networks.build("shallow", {"width": 120}, act, (task.dim,), task.target.shape[1])
    snaps = {k: torch.tensor(v) for k, v in P.items()}

    def hidden(x):
        return representations(net, snaps, x)[1][-1].numpy()

    dich = task.dichotomies
    M.decoder_accuracy(  # import scikit-learn before timing
        DecoderSpec("liblinear_auto"), np.eye(2), np.array([0, 1]), np.eye(2), np.array([0, 1])
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
        lambda: {k: hidden(x) for k, (_, x) in data.items()},
    )
    cond = {k: c for k, (c, _) in data.items()}
    Z = hidden(task.means.astype(np.float32)).astype(float)
    timed(
        "kernel alignment (2)",
        lambda: (
            M.linear_cka(Z, np.broadcast_to(task.means, (S,) + task.means.shape)),
            M.linear_cka(Z, np.broadcast_to(task.target * 1.0, (S,) + task.target.shape)),
        ),
    )
    timed(
        f"parallelism score ({len(dich)})",
        lambda: [M.parallelism_score(Z, lab) for lab in dich.values()],
    )

    # every decoder of every snapshot (CCGP all and proper, decoding at both noises, the
    # shattering dimension's), as evaluate_run computes them: identical problems once, and
    # problems whose training labels differ only in sign share one fit
    columns = decoding_problems(task, EvalSettings())
    problems = sorted({p for ps in columns.values() for p in ps}, key=repr)
    fits = len(_fits(problems)[0])
    acc = {}
    for solver in args.solvers:
        spec = DecoderSpec(solver)
        acc[solver] = timed(
            f"decoders, {solver} ({fits} fits)",
            lambda spec=spec: accuracies(spec, H, cond, problems),
        )
    timed("participation ratio", lambda: M.participation_ratio(H["test"].astype(float)))
    total = sum(v for k, v in times.items() if not k.startswith("decoders"))
    print(f"ms per snapshot and run ({args.act}, δ = {args.delta}, {S} snapshots, 1 thread)")
    for k, v in times.items():
        print(f"  {k:<34} {v:>8.1f} ms")
    for solver in args.solvers:
        t = total + times[f"decoders, {solver} ({fits} fits)"]
        print(f"  {'total with ' + solver:<34} {t:>8.1f} ms")
    result = {"act": args.act, "snapshots": S, "fits": fits, "ms_per_snapshot": times}
    if len(acc) == 2:
        a, b = acc.values()
        worst = {}
        for (d, m), ps in columns.items():
            if not ps:  # a metric this task does not define for the dichotomy
                continue
            col = m.replace("decoding", "shattering_dim") if d == "*shatter*" else f"{m}_{d}"
            idx = [problems.index(q) for q in ps]
            worst[col] = float(np.abs(a[:, idx].mean(1) - b[:, idx].mean(1)).max())
        result["max_abs_diff_between_solvers"] = worst
        print("max |Δ| between the solvers' metrics (liblinear at its default tol = 1e-4):")
        print("  " + ", ".join(f"{k} {v:.3f}" for k, v in worst.items()))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
