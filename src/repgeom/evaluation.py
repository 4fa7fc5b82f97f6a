"""Metrics over training, computed from weight snapshots (paper_spec §6).

Evaluation regenerates a run's data from its seeds, so it never needs the trainer, and a
change of evaluation setting never retrains. Snapshots repeated after early stopping are
evaluated once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import metrics as M
from .activations import get_activation
from .decoders import DecoderSpec, Problem, accuracies
from .tasks import (
    LATENTS,
    STREAM_NOISY_TEST,
    STREAM_NOISY_TRAIN,
    STREAM_TEST,
    STREAM_TRAIN,
    DeltaTask,
    data_rng,
)

#: metric columns of metrics.parquet, in order (documented in docs/data_dictionary.md)
DICHOTOMIES = ("xor", "b1", "b2")
METRIC_COLUMNS = (
    ["train_loss", "test_loss", "test_accuracy", "input_alignment", "target_alignment"]
    + [f"ps_{d}" for d in DICHOTOMIES]
    + [f"ccgp_{d}" for d in DICHOTOMIES]
    + [f"ccgp_proper_{d}" for d in LATENTS]
    + [f"decoding_{d}" for d in DICHOTOMIES]
    + ["shattering_dim"]
    + [f"decoding_noisy_{d}" for d in DICHOTOMIES]
    + ["shattering_dim_noisy", "participation_ratio", "sparsity", "weight_norm"]
)


#: snapshots whose decoders are solved in one batch (bounds memory: ~10 MB per snapshot)
SNAPSHOT_CHUNK = 16


@dataclass(frozen=True)
class EvalSettings:
    decoder: DecoderSpec = DecoderSpec()
    test_sigma: float = 1.0


def make_task(task_cfg: dict) -> DeltaTask:
    if task_cfg["family"] != "delta":
        raise ValueError(f"unknown task family {task_cfg['family']!r}; allowed: delta")
    return DeltaTask(task_cfg["delta"], task_cfg["sigma"], task_cfg["dim"], task_cfg["task_seed"])


def make_datasets(task_cfg: dict, test_sigma: float | None = None) -> dict:
    """The run's samples as name → (conditions (n,), inputs (n, D) float32).

    ``train``/``test`` at the task's noise (the trainer uses ``train``); with ``test_sigma``
    also ``noisy_train``/``noisy_test`` drawn at that noise from their own streams.
    """
    task = make_task(task_cfg)
    ds, n_tr, n_te = task_cfg["data_seed"], task_cfg["n_train"], task_cfg["n_test"]
    out = {
        "train": task.sample(n_tr, data_rng(ds, STREAM_TRAIN)),
        "test": task.sample(n_te, data_rng(ds, STREAM_TEST)),
    }
    if test_sigma is not None:
        out["noisy_train"] = task.sample(n_tr, data_rng(ds, STREAM_NOISY_TRAIN), test_sigma)
        out["noisy_test"] = task.sample(n_te, data_rng(ds, STREAM_NOISY_TEST), test_sigma)
    return out


def decoding_problems(dich: dict[str, np.ndarray]) -> dict[str, list[Problem]]:
    """The decoders behind each decoding-based metric column, over the δ-task's conditions.

    ``decoding_*``: train on the training samples, test on the test samples (and the same at the
    extra test noise for ``decoding_noisy_*``). ``ccgp_*``: for every other dichotomy (the
    context) and each of its halves, train on the training samples of that half's conditions
    and test on the test samples of the other half's (paper_spec §6.4). The metric is the mean
    accuracy of its problems; ``ccgp_proper_*`` uses only the latent-bit contexts.
    """

    def lab(d, conds=None):
        v = 2 * dich[d].astype(int) - 1
        if conds is not None:
            v = np.where(np.isin(np.arange(len(v)), conds), v, 0)
        return tuple(int(a) for a in v)

    out: dict[str, list[Problem]] = {}
    for d in DICHOTOMIES:
        out[f"decoding_{d}"] = [Problem("train", "test", lab(d), lab(d))]
        out[f"decoding_noisy_{d}"] = [Problem("noisy_train", "noisy_test", lab(d), lab(d))]
        by_context = {
            o: [
                Problem("train", "test", lab(d, tr), lab(d, te))
                for tr, te in M.ccgp_splits(dich[d], dich[o])
            ]
            for o in DICHOTOMIES
            if o != d
        }
        out[f"ccgp_{d}"] = [p for ps in by_context.values() for p in ps]
        if d in LATENTS:
            out[f"ccgp_proper_{d}"] = [p for o in LATENTS if o != d for p in by_context[o]]
    return out


def _unique_snapshots(params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of distinct snapshots and, per snapshot, the position of its distinct copy."""
    flat = np.concatenate([params[k].reshape(len(params[k]), -1) for k in ("W", "b", "bo")], axis=1)
    _, uniq, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    return uniq, inverse.reshape(-1)


def _hidden(W, b, act, x: np.ndarray) -> np.ndarray:
    """f(x Wᵀ + b) for S snapshots: W (S,N,D), b (S,N), x (n,D) → (S,n,N) float32."""
    with torch.no_grad():
        # torch.tensor copies: snapshot arrays read from Parquet are read-only
        pre = torch.baddbmm(
            torch.tensor(b)[:, None, :],
            torch.tensor(x, dtype=torch.float32).expand(len(W), -1, -1),
            torch.tensor(W).transpose(1, 2),
        )
        return act.f_(pre).numpy()  # the trainer's in-place f, on a fresh tensor


def _bce(logit: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean BCE with logits over samples: logit (S,n), y (n,) → (S,)."""
    return np.mean(np.maximum(logit, 0) - logit * y + np.log1p(np.exp(-np.abs(logit))), axis=-1)


def evaluate_run(
    run_cfg: dict,
    params: dict[str, np.ndarray],
    settings: EvalSettings,
    device: str | torch.device = "cpu",
) -> dict[str, np.ndarray]:
    """All metrics of one run at each snapshot.

    params: name → (S, ...) snapshot arrays of one run; ``device`` runs the batched decoders.
    Returns column name → (S,) array.
    """
    task_cfg = run_cfg["task"]
    task = make_task(task_cfg)
    act = get_activation(run_cfg["model"]["activation"])
    data = make_datasets(task_cfg, settings.test_sigma)
    dich = task.dichotomies
    uniq, inverse = _unique_snapshots(params)
    W, b, J, bo = (params[k][uniq] for k in ("W", "b", "J", "bo"))
    S = len(uniq)

    means = task.means.astype(np.float32)
    Zbar = _hidden(W, b, act, means).astype(np.float64)  # (S, 4, N)
    H = {k: _hidden(W, b, act, x) for k, (_, x) in data.items()}
    cond = {k: c for k, (c, _) in data.items()}
    ytrue = {k: dich["xor"][c] for k, c in cond.items()}

    out: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        logit = np.einsum("snh,sh->sn", H[split], J[:, 0, :]) + bo[:, :1]
        out[f"{split}_loss"] = _bce(logit, ytrue[split])
        if split == "test":
            out["test_accuracy"] = np.mean((logit > 0) == ytrue[split], axis=-1)
    out["input_alignment"] = M.linear_cka(
        Zbar, np.broadcast_to(task.means, (S,) + task.means.shape)
    )
    Y = np.broadcast_to(task.target.astype(float), (S,) + task.target.shape)
    out["target_alignment"] = M.linear_cka(Zbar, Y)
    for d in DICHOTOMIES:
        out[f"ps_{d}"] = M.parallelism_score(Zbar, dich[d])

    # every decoder of every snapshot in one batched call; identical problems are fitted once
    columns = decoding_problems(dich)
    problems = sorted({p for ps in columns.values() for p in ps}, key=repr)
    acc = np.concatenate(
        [
            accuracies(
                settings.decoder,
                {k: v[lo : lo + SNAPSHOT_CHUNK] for k, v in H.items()},
                cond,
                problems,
                device,
            )
            for lo in range(0, S, SNAPSHOT_CHUNK)
        ]
    )
    where = {p: i for i, p in enumerate(problems)}
    for col, ps in columns.items():
        out[col] = acc[:, [where[p] for p in ps]].mean(axis=1)
    out["shattering_dim"] = np.mean([out[f"decoding_{d}"] for d in DICHOTOMIES], axis=0)
    out["shattering_dim_noisy"] = np.mean([out[f"decoding_noisy_{d}"] for d in DICHOTOMIES], axis=0)
    out["participation_ratio"] = M.participation_ratio(H["test"].astype(np.float64))
    out["sparsity"] = np.mean(H["test"] > 0, axis=(1, 2))
    out["weight_norm"] = np.linalg.norm(W.reshape(S, -1), axis=-1)
    return {k: np.asarray(out[k], dtype=np.float64)[inverse] for k in METRIC_COLUMNS}
