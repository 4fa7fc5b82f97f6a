"""Evaluation cost per snapshot and run, by metric, at the paper's sizes (δ-task, D = N = 120,
5000 training and 1000 test samples).

    python benchmarks/evaluation_cost.py [--snapshots 8] [--act tanh]

Trains one short run to get realistic snapshots, then times each metric family over all its
snapshots the way ``repgeom.evaluation.evaluate_run`` computes it. Prints a table (ms per
snapshot) and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from repgeom import metrics as M
from repgeom.activations import get_activation
from repgeom.evaluation import DICHOTOMIES, _hidden, make_datasets, make_task
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
    task, dich, spec = make_task(task_cfg), delta_dichotomies(), M.DecoderSpec()
    M.decoder_accuracy(
        spec, np.eye(2), np.array([0, 1]), np.eye(2), np.array([0, 1])
    )  # import sklearn
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

    def ccgp(d, contexts):
        return [
            M.ccgp(
                spec, H["train"][s], cond["train"], H["test"][s], cond["test"], dich[d], contexts
            )
            for s in range(S)
        ]

    # CCGP_proper's splits are a subset of CCGP's: the pipeline fits each context once
    timed(
        "CCGP, all and proper (12 fits)",
        lambda: [ccgp(d, [dich[o]]) for d in DICHOTOMIES for o in DICHOTOMIES if o != d],
    )

    def decode(tr, te):
        return [
            M.decoder_accuracy(spec, H[tr][s], dich[d][cond[tr]], H[te][s], dich[d][cond[te]])
            for s in range(S)
            for d in DICHOTOMIES
        ]

    timed("decoding (3 fits)", lambda: decode("train", "test"))
    timed("decoding at test noise (3 fits)", lambda: decode("noisy_train", "noisy_test"))
    timed("participation ratio", lambda: M.participation_ratio(H["test"].astype(float)))
    total = sum(times.values())
    print(f"ms per snapshot and run ({args.act}, δ = {args.delta}, {S} snapshots, 1 thread)")
    for k, v in times.items():
        print(f"  {k:<34} {v:>8.1f} ms  {100 * v / total:>5.1f} %")
    print(f"  {'total':<34} {total:>8.1f} ms")
    result = {"act": args.act, "snapshots": S, "ms_per_snapshot": times, "total_ms": total}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
