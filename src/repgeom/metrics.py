"""Representational-geometry metrics (paper_spec §6).

Kernel alignment and the parallelism score are batched NumPy algebra over any leading axes
(runs, snapshots). Decoding-based metrics (CCGP, decoding accuracy, shattering dimension) fit a
linear decoder per dichotomy: the objective of the paper's ``LinearSVC`` (C=1, squared hinge),
solved by ``repgeom.decoders``. The per-problem functions here are the straightforward
definitions; the evaluation batches the same problems through ``decoders.accuracies``.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from .decoders import DecoderSpec, liblinear_decisions, squared_hinge_svm

# --------------------------------------------------------------------------- kernel alignment


def centered_gram(X: np.ndarray) -> np.ndarray:
    """Double-centred linear Gram matrix H X Xᵀ H: X (..., C, F) → (..., C, C)."""
    Xc = X - X.mean(axis=-2, keepdims=True)
    return Xc @ np.swapaxes(Xc, -1, -2)


def kernel_alignment(K1: np.ndarray, K2: np.ndarray) -> np.ndarray:
    """Centred kernel alignment ⟨K̃1, K̃2⟩_F / (‖K̃1‖_F ‖K̃2‖_F) over the last two axes.

    K1, K2 (..., C, C) symmetric; centring is applied here, so raw Gram matrices are fine.
    Returns (...); NaN where a kernel is zero after centring.
    """
    C = K1.shape[-1]
    H = np.eye(C) - 1.0 / C
    A = H @ K1 @ H
    B = H @ K2 @ H
    num = (A * B).sum(axis=(-1, -2))
    den = np.sqrt((A * A).sum(axis=(-1, -2)) * (B * B).sum(axis=(-1, -2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


def linear_cka(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Linear CKA between representations X (..., C, F1) and Y (..., C, F2) of the same C items."""
    return kernel_alignment(centered_gram(X), centered_gram(Y))


# --------------------------------------------------------------------------- parallelism score


def _pairings(m: int) -> list[tuple[int, ...]]:
    return list(itertools.permutations(range(m)))


def parallelism_score(Z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Parallelism score (Bernardi et al. 2020) of a balanced dichotomy.

    Z (..., C, N) condition-mean responses; labels (C,) in {0,1} with C/2 ones.
    For each one-to-one pairing of positive to negative conditions, coding vectors
    v_p = z_p − z_π(p) are formed and their pairwise cosines averaged; PS is the maximum over
    pairings, in [−1, 1]. Exhaustive over pairings (C ≤ 16).
    """
    labels = np.asarray(labels)
    P, Q = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if len(P) != len(Q) or len(P) < 2:
        raise ValueError("parallelism_score needs a balanced dichotomy of at least 4 conditions")
    m = len(P)
    iu = np.triu_indices(m, k=1)
    best = None
    for perm in _pairings(m):
        V = Z[..., P, :] - Z[..., Q[list(perm)], :]  # (..., m, N)
        norm = np.linalg.norm(V, axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            U = V / norm
        cos = (U @ np.swapaxes(U, -1, -2))[..., iu[0], iu[1]].mean(axis=-1)
        best = cos if best is None else np.fmax(best, cos)
    return best


# --------------------------------------------------------------------------- decoders


def decoder_accuracy(
    spec: DecoderSpec,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
) -> float:
    """Fit a linear decoder on (X_train (n, F), y_train (n,)) and return accuracy on the test set.

    Labels are any two values (the larger is the positive class). A training set with a single
    class cannot be decoded: the accuracy is then that of predicting that class.
    """
    spec.check()
    classes = np.unique(y_train)
    if len(classes) < 2:
        return float(np.mean(y_test == classes[0]))
    y = np.where(y_train == classes[1], 1.0, -1.0)
    if spec.solver == "liblinear":
        dec = liblinear_decisions(spec, X_train, y, X_test)
    else:
        w, b, _ = squared_hinge_svm(
            torch.as_tensor(X_train)[None],
            torch.zeros(len(y), dtype=torch.int64),
            torch.ones(1, 1, 1, dtype=torch.bool),
            torch.as_tensor(y)[None, None],
            spec.C,
            spec.max_iter,
        )
        dec = np.asarray(X_test, dtype=np.float64) @ w[0, 0].numpy() + b[0, 0].item()
    return float(np.mean(np.where(dec > 0, classes[1], classes[0]) == y_test))


# --------------------------------------------------------------------------- decoding metrics


def ccgp_splits(labels: np.ndarray, context: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two CCGP splits that a context dichotomy defines, as (train_conditions, test_conditions).

    The context (C,) in {0,1} splits conditions into two halves; each half must hold C/4
    positive and C/4 negative conditions of ``labels``. Training on one half and testing on the
    other, in both directions.
    """
    halves = [np.flatnonzero(context == v) for v in (1, 0)]
    for h in halves:
        if labels[h].sum() * 2 != len(h):
            raise ValueError("context does not split the dichotomy into balanced halves")
    return [(halves[0], halves[1]), (halves[1], halves[0])]


def ccgp(
    spec: DecoderSpec,
    H_train: np.ndarray,
    cond_train: np.ndarray,
    H_test: np.ndarray,
    cond_test: np.ndarray,
    labels: np.ndarray,
    contexts: list[np.ndarray],
) -> float:
    """Cross-condition generalisation performance of one dichotomy.

    H_* (n, N) hidden responses to samples of conditions cond_* (n,); labels (C,) the
    dichotomy over conditions; contexts the dichotomies whose halves define the splits. The
    decoder is trained on training samples of the training conditions and tested on test
    samples of the held-out conditions; the accuracies of all splits are averaged.
    """
    accs = []
    for context in contexts:
        for tr, te in ccgp_splits(labels, context):
            mtr, mte = np.isin(cond_train, tr), np.isin(cond_test, te)
            accs.append(
                decoder_accuracy(
                    spec, H_train[mtr], labels[cond_train[mtr]], H_test[mte], labels[cond_test[mte]]
                )
            )
    return float(np.mean(accs))


def shattering_dimension(accuracies) -> float:
    """Shattering dimension: mean decoding accuracy over all balanced dichotomies."""
    return float(np.mean(list(accuracies)))


# --------------------------------------------------------------------------- secondary metrics


def participation_ratio(H: np.ndarray) -> np.ndarray:
    """(tr K̃)² / tr(K̃²) of the centred sample covariance of H (..., n, N) → (...)."""
    Hc = H - H.mean(axis=-2, keepdims=True)
    ev = np.clip(np.linalg.eigvalsh(np.swapaxes(Hc, -1, -2) @ Hc), 0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ev.sum(-1) ** 2 / (ev**2).sum(-1)
