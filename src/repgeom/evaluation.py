"""Metrics over training, computed from weight snapshots, for any task family (spec §6).

Evaluation regenerates a run's data from its seeds, so it never needs the trainer, and a change
of evaluation setting never retrains. Snapshots repeated after early stopping are evaluated
once. Two kinds of result per snapshot:

* run-level metrics (:data:`RUN_COLUMNS`): losses, accuracy, kernel alignment, shattering
  dimension, participation ratio, sparsity, ‖W‖;
* per-dichotomy metrics (:data:`DICHOTOMY_COLUMNS`) for each dichotomy the task names (its
  targets and latent variables): parallelism score, CCGP over all splits and over the proper
  splits, and decoding accuracy at the training noise and at ``test_sigma``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import metrics as M
from .activations import get_activation
from .decoders import DecoderSpec, Problem, accuracies
from .tasks import (
    STREAM_NOISY_TEST,
    STREAM_NOISY_TRAIN,
    STREAM_TEST,
    STREAM_TRAIN,
    Task,
    build_task,
    data_rng,
)

#: run-level metric columns of metrics.parquet, in order (docs/data_dictionary.md)
RUN_COLUMNS = (
    "train_loss",
    "test_loss",
    "test_accuracy",
    "input_alignment",
    "target_alignment",
    "task_alignment",
    "shattering_dim",
    "shattering_dim_noisy",
    "participation_ratio",
    "sparsity",
    "weight_norm",
)
#: per-dichotomy metric columns of dichotomies.parquet, in order
DICHOTOMY_COLUMNS = ("ps", "ccgp", "ccgp_proper", "decoding", "decoding_noisy")

#: snapshots whose decoders are solved in one batch (bounds memory: ~10 MB per snapshot at C=4)
SNAPSHOT_CHUNK = 16


@dataclass(frozen=True)
class EvalSettings:
    """``ccgp_noise``: ``training`` fits and scores CCGP on the run's own train/test samples,
    ``test`` on fresh samples at ``test_sigma``; ``ccgp_max_splits`` bounds CCGP's splits."""

    decoder: DecoderSpec = DecoderSpec()
    test_sigma: float = 1.0
    ccgp_noise: str = "training"
    ccgp_max_splits: int = 36


def eval_settings(ecfg: dict) -> EvalSettings:
    """Settings from a resolved ``evaluation`` config section."""
    d = ecfg["decoder"]
    spec = DecoderSpec(d["kind"], d["C"], d["max_iter"], d["solver"], d["tol"])
    return EvalSettings(spec, ecfg["test_sigma"], ecfg["ccgp_noise"], ecfg["ccgp_max_splits"])


def make_datasets(task_cfg: dict, test_sigma: float | None = None, task: Task | None = None):
    """The run's samples as name → (conditions (n,), inputs (n, D) float32).

    ``train``/``test`` at the task's noise (the trainer uses ``train``); with ``test_sigma``
    also ``noisy_train``/``noisy_test`` drawn at that noise from their own streams.
    """
    task = task or build_task(task_cfg)
    ds, n_tr, n_te = task_cfg["data_seed"], task_cfg["n_train"], task_cfg["n_test"]
    out = {
        "train": task.sample(n_tr, data_rng(ds, STREAM_TRAIN)),
        "test": task.sample(n_te, data_rng(ds, STREAM_TEST)),
    }
    if test_sigma is not None:
        out["noisy_train"] = task.sample(n_tr, data_rng(ds, STREAM_NOISY_TRAIN), test_sigma)
        out["noisy_test"] = task.sample(n_te, data_rng(ds, STREAM_NOISY_TEST), test_sigma)
    return out


def _labels(labels: np.ndarray, conds=None) -> tuple[int, ...]:
    """±1 per condition, 0 where a condition is not in ``conds``."""
    v = 2 * np.asarray(labels).astype(int) - 1
    if conds is not None:
        v = np.where(np.isin(np.arange(len(v)), conds), v, 0)
    return tuple(int(a) for a in v)


def decoding_problems(task: Task, settings: EvalSettings) -> dict[tuple[str, str], list[Problem]]:
    """The decoders behind each decoding-based metric, keyed (dichotomy, metric); the
    shattering dimension's under ("*shatter*", "decoding") and ("*shatter*", "decoding_noisy").

    ``decoding``: train on the training samples, test on the test samples (``decoding_noisy``
    the same at ``test_sigma``). ``ccgp``: every split that trains on half of each class's
    conditions and tests on the others (a fixed sample when there are more than
    ``ccgp_max_splits``); ``ccgp_proper``: the splits across the halves of each latent
    variable that splits the dichotomy evenly (spec §6.4). A metric is the mean accuracy of
    its problems.
    """
    tr, te = (
        ("train", "test") if settings.ccgp_noise == "training" else ("noisy_train", "noisy_test")
    )
    out: dict[tuple[str, str], list[Problem]] = {}
    for name, lab in task.dichotomies.items():
        full = _labels(lab)
        out[name, "decoding"] = [Problem("train", "test", full, full)]
        out[name, "decoding_noisy"] = [Problem("noisy_train", "noisy_test", full, full)]
        out[name, "ccgp"] = [
            Problem(tr, te, _labels(lab, a), _labels(lab, b))
            for a, b in M.ccgp_all_splits(lab, settings.ccgp_max_splits)
        ]
        out[name, "ccgp_proper"] = [
            Problem(tr, te, _labels(lab, a), _labels(lab, b))
            for a, b in M.ccgp_proper_splits(lab, task.proper_contexts(name))
        ]
    shatter = [_labels(lab) for lab in task.shattering_dichotomies]
    out["*shatter*", "decoding"] = [Problem("train", "test", s, s) for s in shatter]
    out["*shatter*", "decoding_noisy"] = [
        Problem("noisy_train", "noisy_test", s, s) for s in shatter
    ]
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
    """Mean BCE with logits over samples and outputs: logit (S,n,K), y (n,K) → (S,)."""
    per = np.maximum(logit, 0) - logit * y + np.log1p(np.exp(-np.abs(logit)))
    return per.mean(axis=(-2, -1))


def evaluate_run(
    run_cfg: dict,
    params: dict[str, np.ndarray],
    settings: EvalSettings,
    device: str | torch.device = "cpu",
    task: Task | None = None,
) -> tuple[dict[str, np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """All metrics of one run at each snapshot.

    params: name → (S, ...) snapshot arrays of one run; ``device`` runs the batched decoders;
    ``task`` is the run's task when the caller has built it already.
    Returns (run-level column → (S,), (dichotomy, metric) → (S,)).
    """
    task_cfg = run_cfg["task"]
    task = task or build_task(task_cfg)
    act = get_activation(run_cfg["model"]["activation"])
    data = make_datasets(task_cfg, settings.test_sigma, task)
    uniq, inverse = _unique_snapshots(params)
    W, b, J, bo = (params[k][uniq] for k in ("W", "b", "J", "bo"))
    S = len(uniq)

    means = task.means.astype(np.float32)
    Zbar = _hidden(W, b, act, means).astype(np.float64)  # (S, C, N)
    H = {k: _hidden(W, b, act, x) for k, (_, x) in data.items()}
    cond = {k: c for k, (c, _) in data.items()}
    target = task.target  # (C, K)

    run: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        logit = np.einsum("snh,skh->snk", H[split], J) + bo[:, None, :]
        y = target[cond[split]]
        run[f"{split}_loss"] = _bce(logit, y)
        if split == "test":
            run["test_accuracy"] = np.mean((logit > 0) == y, axis=(-2, -1))
    run["input_alignment"] = M.linear_cka(
        Zbar, np.broadcast_to(task.means, (S,) + task.means.shape)
    )
    Y = np.broadcast_to(target.astype(float), (S,) + target.shape)
    run["target_alignment"] = M.linear_cka(Zbar, Y)
    run["task_alignment"] = np.full(S, task.alignment)
    dich: dict[tuple[str, str], np.ndarray] = {}
    for name, lab in task.dichotomies.items():
        dich[name, "ps"] = M.parallelism_score(Zbar, lab)

    # every decoder of every snapshot in one batched call; identical problems are fitted once
    columns = decoding_problems(task, settings)
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
    for key, ps in columns.items():
        dich[key] = acc[:, [where[p] for p in ps]].mean(axis=1) if ps else np.full(S, np.nan)
    run["shattering_dim"] = dich.pop(("*shatter*", "decoding"))
    run["shattering_dim_noisy"] = dich.pop(("*shatter*", "decoding_noisy"))
    run["participation_ratio"] = M.participation_ratio(H["test"].astype(np.float64))
    run["sparsity"] = np.mean(H["test"] > 0, axis=(1, 2))
    run["weight_norm"] = np.linalg.norm(W.reshape(S, -1), axis=-1)
    return (
        {k: np.asarray(run[k], dtype=np.float64)[inverse] for k in RUN_COLUMNS},
        {k: np.asarray(v, dtype=np.float64)[inverse] for k, v in dich.items()},
    )
