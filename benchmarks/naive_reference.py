"""The naive structure the original code has: one network at a time in a plain PyTorch loop
(autograd, ``torch.optim.SGD``), and the metrics (LinearSVC decoders) computed inline every
``log_every`` epochs. Same data, initialisation and minibatch order as the project's trainer,
so the two can be checked against each other.
"""

from __future__ import annotations

import numpy as np
import torch

from repgeom.activations import get_activation
from repgeom.evaluation import EvalSettings, evaluate_run, make_datasets
from repgeom.models import init_shallow
from repgeom.tasks import delta_dichotomies
from repgeom.training import shuffle_rng


def train_and_log(run_cfg: dict, log_every: int, settings: EvalSettings) -> dict[str, np.ndarray]:
    """Train one run; return metric columns (name → (logged points,)) and ``epoch``."""
    t, m, tr = run_cfg["task"], run_cfg["model"], run_cfg["training"]
    cond, x = make_datasets(t)["train"]
    x = torch.as_tensor(x)
    y = torch.as_tensor(delta_dichotomies()["xor"][cond][:, None].astype(np.float32))
    p = init_shallow([m["init_seed"]], t["dim"], m["width"], [m["readout"]])
    W = torch.nn.Parameter(p.W[0].clone())
    b = torch.nn.Parameter(p.b[0].clone())
    bo = torch.nn.Parameter(p.bo[0].clone())
    J = p.J[0].clone()
    act = get_activation(m["activation"]).f
    opt = torch.optim.SGD([W, b, bo], lr=tr["lr"])
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rng = shuffle_rng(tr["shuffle_seed"])
    rows: list[dict] = []

    def log(epoch):
        snap = {
            k: v.detach().numpy().copy()[None]
            for k, v in (("W", W), ("b", b), ("J", J), ("bo", bo))
        }
        rows.append(
            {"epoch": epoch} | {k: v[0] for k, v in evaluate_run(run_cfg, snap, settings).items()}
        )

    log(0)
    n, bs = len(x), tr["batch_size"]
    for epoch in range(1, tr["epochs"] + 1):
        perm = torch.as_tensor(rng.permutation(n))
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            opt.zero_grad()
            loss = loss_fn(act(x[idx] @ W.T + b) @ J.T + bo, y[idx])
            loss.backward()
            opt.step()
        if epoch % log_every == 0:
            log(epoch)
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}
