"""The naive structure the original code has: one network at a time in a plain PyTorch loop
(autograd, ``torch.optim.SGD``), and the metrics (LinearSVC decoders) computed inline every
``log_every`` epochs. Same data, initialisation and minibatch order as the project's trainer,
so the two can be checked against each other.

    python benchmarks/naive_reference.py [--epochs 4] [--log-every 2]

Run as a script it trains one small δ-task run (smoke test) and prints its last logged point.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from repgeom import networks
from repgeom.activations import get_activation
from repgeom.evaluation import (
    DICHOTOMY_COLUMNS,
    RUN_COLUMNS,
    EvalSettings,
    evaluate_run,
    make_datasets,
)
from repgeom.tasks import build_task
from repgeom.training import shuffle_rng


def column_name(dichotomy: str, metric: str) -> str:
    """One flat name for a per-dichotomy metric, as the old metric columns spelled it
    (``ccgp_proper_b1``, ``decoding_noisy_xor``)."""
    return f"{metric}_{dichotomy}"


def flat_columns(run: dict, dich: dict) -> dict[str, np.ndarray]:
    """``evaluate_run``'s (run, dich) as one dict: run-level columns, then every
    (dichotomy, metric) pair under :func:`column_name`."""
    out = {k: np.asarray(run[k]) for k in RUN_COLUMNS}
    for d in dict.fromkeys(d for d, _ in dich):
        out |= {column_name(d, m): np.asarray(dich[d, m]) for m in DICHOTOMY_COLUMNS}
    return out


def train_and_log(run_cfg: dict, log_every: int, settings: EvalSettings) -> dict[str, np.ndarray]:
    """Train one run; return ``epoch`` and every metric column (:func:`flat_columns`) as
    (logged points,) arrays."""
    t, m, tr = run_cfg["task"], run_cfg["model"], run_cfg["training"]
    task = build_task(t)
    cond, x = make_datasets(t, task=task)["train"]
    x = torch.as_tensor(x)
    y = torch.as_tensor(task.target[cond].astype(np.float32))
    act = get_activation(m["activation"])
    net = networks.build(
        m["arch"],
        networks.model_settings(m["arch"], m),
        act,
        task.input_shape,
        task.target.shape[1],
    )
    p = {k: v[0] for k, v in net.init([m["init_seed"]], [m["readout"]]).items()}
    # written out on purpose: an independent, textbook reference of the shallow network
    W = torch.nn.Parameter(p["W"].clone())
    b = torch.nn.Parameter(p["b"].clone())
    bo = torch.nn.Parameter(p["bo"].clone(), requires_grad=m["train_output_bias"])
    J = p["J"].clone()
    f = act.f
    opt = torch.optim.SGD([W, b, bo] if m["train_output_bias"] else [W, b], lr=tr["lr"])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rng = shuffle_rng(tr["shuffle_seed"])
    rows: list[dict] = []

    def log(epoch):
        snap = {
            k: v.detach().numpy().copy()[None]
            for k, v in (("W", W), ("b", b), ("J", J), ("bo", bo))
        }
        cols = flat_columns(*evaluate_run(run_cfg, snap, settings))
        rows.append({"epoch": epoch} | {k: v[0] for k, v in cols.items()})

    log(0)
    n, bs = len(x), tr["batch_size"]
    for epoch in range(1, tr["epochs"] + 1):
        perm = torch.as_tensor(rng.permutation(n))
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            opt.zero_grad()
            loss = loss_fn(f(x[idx] @ W.T + b) @ J.T + bo, y[idx])
            loss.backward()
            opt.step()
        if epoch % log_every == 0:
            log(epoch)
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--log-every", type=int, default=2)
    p.add_argument("--act", default="tanh")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    run_cfg = {
        "task": {
            "family": "delta",
            "delta": 0.5,
            "sigma": 0.1,
            "dim": 120,
            "task_seed": 0,
            "n_train": 5000,
            "n_test": 1000,
            "data_seed": 0,
        },
        "model": {
            "arch": "shallow",
            "activation": args.act,
            "width": 120,
            "init": "uniform",
            "train_output_bias": True,
            "readout": "uniform",
            "init_seed": 0,
        },
        "training": {"lr": 0.1, "batch_size": 200, "epochs": args.epochs, "shuffle_seed": 0},
    }
    out = train_and_log(run_cfg, args.log_every, EvalSettings())
    print(f"{len(out['epoch'])} logged points; last (epoch {int(out['epoch'][-1])}):")
    print("  " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in out.items() if k != "epoch"))
    return out


if __name__ == "__main__":
    main()
