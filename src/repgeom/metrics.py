"""Representational-geometry metrics (paper_spec §6).

Kernel alignment and the parallelism score are batched NumPy algebra over any leading axes
(runs, snapshots). Decoding-based metrics (CCGP, decoding accuracy, shattering dimension) fit a
linear decoder per dichotomy: the objective of the paper's ``LinearSVC`` (C=1, squared hinge),
solved by ``repgeom.decoders``. The per-problem functions here are the straightforward
definitions; the evaluation batches the same problems through ``decoders.accuracies``.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .decoders import BATCHED, DecoderSpec, batched_fit, sklearn_fit

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

#: up to this many conditions the parallelism score maximises over every pairing (8! for C=16)
PS_EXHAUSTIVE_MAX_C = 16
#: bound on the bytes of one chunk of gathered cosines in the exhaustive search
_PS_CHUNK_BYTES = 50_000_000


def _pairings(m: int) -> list[tuple[int, ...]]:
    return list(itertools.permutations(range(m)))


@functools.lru_cache(maxsize=8)
def _pairing_index(m: int) -> np.ndarray:
    """For every permutation π of range(m) (itertools order, identity first), the flat indices
    into an (m, m, m, m) cosine table of the entries Cos[p, π(p), p', π(p')], p < p'.

    Shape (m!, m(m−1)/2) int64, read-only."""
    perms = np.array(_pairings(m), dtype=np.int64)  # (m!, m)
    iu, ju = np.triu_indices(m, k=1)
    row = iu * m + perms[:, iu]  # flat (p, π(p)) index, (m!, pairs)
    col = ju * m + perms[:, ju]
    idx = row * (m * m) + col
    idx.setflags(write=False)
    return idx


def _ps_loop(Z: np.ndarray, P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """The exhaustive loop over pairings, one pairing at a time: the reference arithmetic
    (kept for C = 4, whose results are pinned bit for bit)."""
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


def _unit_coding_vectors(Z: np.ndarray, P: np.ndarray, Q: np.ndarray):
    """Coding vectors of every (positive p, negative q) pair, V[..., p, q, :] = z_P[p] − z_Q[q],
    their norms (..., m, m) and unit vectors (NaN where a vector is zero)."""
    V = Z[..., P, None, :] - Z[..., None, Q, :]  # (..., m, m, N)
    norm = np.linalg.norm(V, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        U = V / norm[..., None]
    return norm, U


def _ps_exhaustive(Z: np.ndarray, P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Maximum over all m! pairings, by gathers from the table of cosines between the unit
    coding vectors of all m² (p, q) pairs."""
    m = len(P)
    lead = Z.shape[:-2]
    _, U = _unit_coding_vectors(Z, P, Q)
    U = U.reshape((-1, m * m, Z.shape[-1]))  # (B, m², N)
    cos = (U @ np.swapaxes(U, -1, -2)).reshape(len(U), -1)  # (B, m⁴)
    idx = _pairing_index(m)  # (m!, pairs)
    chunk = max(1, _PS_CHUNK_BYTES // (cos.itemsize * len(cos) * idx.shape[1]))
    best = None
    for lo in range(0, len(idx), chunk):
        ps = cos[:, idx[lo : lo + chunk]].mean(axis=-1)  # (B, chunk)
        ps = np.fmax.reduce(ps, axis=-1)
        best = ps if best is None else np.fmax(best, ps)
    return best.reshape(lead)


def _ps_assignment(Z: np.ndarray, P: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """PS of the one pairing that minimises Σ_p ‖z_P[p] − z_Q[π(p)]‖ (per leading index)."""
    m = len(P)
    lead = Z.shape[:-2]
    norm, U = _unit_coding_vectors(Z, P, Q)
    norm = norm.reshape((-1, m, m))
    U = U.reshape((-1, m, m, Z.shape[-1]))
    iu = np.triu_indices(m, k=1)
    rows = np.arange(m)
    out = np.empty(len(U), dtype=np.result_type(U.dtype, np.float64))
    for i in range(len(U)):
        if not np.all(np.isfinite(norm[i])):
            out[i] = np.nan
            continue
        _, perm = linear_sum_assignment(norm[i])
        W = U[i, rows, perm]  # (m, N)
        out[i] = (W @ W.T)[iu].mean()
    return out.reshape(lead)


def parallelism_score(Z: np.ndarray, labels: np.ndarray, method: str = "auto") -> np.ndarray:
    """Parallelism score (Bernardi et al. 2020) of a balanced dichotomy.

    Z (..., C, N) condition-mean responses; labels (C,) in {0,1} with C/2 ones. Returns (...).
    For each one-to-one pairing π of the m = C/2 positive to the m negative conditions, coding
    vectors v_p = z_p − z_π(p) are formed and their pairwise cosines averaged over p < p'; PS
    is the maximum over pairings, in [−1, 1]. A zero coding vector makes a pairing's score NaN,
    which the maximum ignores (NaN only if every pairing is NaN).

    ``method``: ``exhaustive`` maximises over all m! pairings (C ≤ 16: by gathers from the
    table of cosines between the coding vectors of all m² pairs; C = 4 keeps the original
    one-pairing-at-a-time arithmetic, bit for bit); ``assignment`` scores the single pairing
    that minimises the summed distance Σ_p ‖z_p − z_π(p)‖ (Hungarian algorithm), a lower bound
    on the exhaustive PS; ``auto`` is exhaustive for C ≤ 16 and assignment above.
    """
    labels = np.asarray(labels)
    P, Q = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if len(P) != len(Q) or len(P) < 2:
        raise ValueError("parallelism_score needs a balanced dichotomy of at least 4 conditions")
    if method not in ("auto", "exhaustive", "assignment"):
        raise ValueError(f"unknown method {method!r}; allowed: auto, exhaustive, assignment")
    C = len(labels)
    if method == "auto":
        method = "exhaustive" if C <= PS_EXHAUSTIVE_MAX_C else "assignment"
    Z = np.asarray(Z)
    if method == "assignment":
        return _ps_assignment(Z, P, Q)[()]
    if C > PS_EXHAUSTIVE_MAX_C:
        raise ValueError(f"exhaustive parallelism score is for C ≤ {PS_EXHAUSTIVE_MAX_C}, not {C}")
    if len(P) == 2:
        return _ps_loop(Z, P, Q)
    return _ps_exhaustive(Z, P, Q)[()]


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
    if spec.name in BATCHED:
        w, b = batched_fit(
            spec,
            torch.as_tensor(X_train)[None],
            torch.zeros(len(y), dtype=torch.int64),
            torch.ones(1, 1, 1, dtype=torch.bool),
            torch.as_tensor(y)[None, None],
        )
        w, b = w[0, 0].numpy(), b[0, 0].item()
    else:
        w, b = sklearn_fit(spec, X_train, y)
    dec = np.asarray(X_test, dtype=np.float64) @ w + b
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


def _split_halves(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    P, Q = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if len(P) != len(Q) or len(P) % 2 or len(P) + len(Q) != len(labels):
        raise ValueError("CCGP splits need a balanced 0/1 dichotomy of a multiple of 4 conditions")
    return P, Q


def n_ccgp_splits(C: int) -> int:
    """Number of CCGP splits of a balanced dichotomy of C conditions: C(C/2, C/4)²."""
    return math.comb(C // 2, C // 4) ** 2


def ccgp_all_splits(
    labels: np.ndarray, max_splits: int | None = 36, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every CCGP split of a balanced dichotomy, as (train_conditions, test_conditions).

    A split trains on C/4 of the C/2 positive conditions and C/4 of the C/2 negative ones and
    tests on the other C/2 conditions; both arrays are sorted int64. There are C(C/2, C/4)² of
    them (4 for C = 4, 36 for C = 8, 4900 for C = 16), listed in the order of
    ``itertools.product(combinations(positives, C/4), combinations(negatives, C/4))`` of the
    training halves.

    For C = 4 these are exactly the four splits that the two other balanced dichotomies define
    as contexts (the union of :func:`ccgp_splits` over them): training on one positive and one
    negative condition is training on one half of the context that groups them.

    When there are more than ``max_splits`` (``None``: no bound), a fixed uniform sample of
    ``max_splits`` distinct splits is returned instead, in the same order: training halves
    drawn from ``default_rng(SeedSequence(seed, spawn_key=(C,)))``, duplicates rejected, so
    the sample depends on ``seed``, C and the labels alone.
    """
    labels = np.asarray(labels)
    P, Q = _split_halves(labels)
    C, k = len(labels), len(P) // 2
    if max_splits is None or n_ccgp_splits(C) <= max_splits:
        halves = [
            (np.array(a), np.array(b))
            for a, b in itertools.product(
                itertools.combinations(P, k), itertools.combinations(Q, k)
            )
        ]
    else:
        if max_splits < 1:
            raise ValueError(f"max_splits must be positive, got {max_splits}")
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(C,)))
        seen: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()
        while len(seen) < max_splits:
            a = np.sort(rng.choice(P, k, replace=False))
            b = np.sort(rng.choice(Q, k, replace=False))
            seen.add((tuple(a.tolist()), tuple(b.tolist())))
        halves = [(np.array(a), np.array(b)) for a, b in sorted(seen)]
    out = []
    for a, b in halves:
        train = np.sort(np.concatenate([a, b])).astype(np.int64)
        out.append((train, np.setdiff1d(np.arange(C), train).astype(np.int64)))
    return out


def ccgp_proper_splits(
    labels: np.ndarray, contexts: list[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The CCGP splits defined by the halves of each context, both directions: the
    concatenation of :func:`ccgp_splits` over ``contexts`` (2 per context, in order)."""
    labels = np.asarray(labels)
    return [s for ctx in contexts for s in ccgp_splits(labels, np.asarray(ctx))]


#: matchings whose summed cost is within this relative distance of the minimum count as tied
PAIRING_TIE_RTOL = 1e-9


def first_optimal_assignment(cost: np.ndarray, rtol: float = PAIRING_TIE_RTOL) -> np.ndarray:
    """The lexicographically first minimum-cost one-to-one assignment of rows to columns.

    cost (m, m), nonnegative and finite. Returns cols (m,) int: row i is assigned column
    cols[i]. Of the assignments whose summed cost is at most (1 + ``rtol``) times the minimum,
    the one whose column sequence (cols[0], cols[1], …) is lexicographically smallest: row 0
    gets the lowest column it can have in a minimum assignment, then row 1, and so on. This
    makes ties exact and documented instead of the solver's internal order, and treats sums
    that differ only by rounding as ties.
    """
    cost = np.asarray(cost, dtype=np.float64)
    m = len(cost)
    _, cols = linear_sum_assignment(cost)
    limit = cost[np.arange(m), cols].sum() * (1 + rtol)
    for i in range(m):
        prefix = cost[np.arange(i), cols[:i]].sum()
        # columns below the incumbent's: the first one that still completes within the limit
        for q in sorted(set(range(m)) - set(cols[:i].tolist())):
            if q >= cols[i]:
                break
            rest = np.setdiff1d(np.arange(m), np.append(cols[:i], q))
            sub = cost[i + 1 :][:, rest]
            r, c = linear_sum_assignment(sub)
            if prefix + cost[i, q] + sub[r, c].sum() <= limit:
                cols[i], cols[i + 1 :] = q, rest[c]
                break
    return cols


def nearest_pairs(Z: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair each positive condition of a balanced 0/1 dichotomy with a negative one.

    Z (C, N): condition representations; labels (C,). Returns (P, Q), condition indices with P
    ascending and Q[j] the negative condition matched to P[j] by the assignment that minimises
    the summed **squared** distance Σ_j ‖Z_P[j] − Z_Q[j]‖² (as the original code's
    ``efficient_ccgp`` did). Ties (:func:`first_optimal_assignment`): the lowest positive
    condition gets the lowest negative condition it can have in a minimum matching, then the
    next positive, and so on.
    """
    labels = np.asarray(labels)
    P, Q = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if len(P) != len(Q) or len(P) == 0:
        raise ValueError("nearest pairs need a balanced 0/1 dichotomy")
    Z = np.asarray(Z, dtype=np.float64)
    if not np.all(np.isfinite(Z[np.concatenate([P, Q])])):
        raise ValueError("nearest pairs need finite condition representations")
    dist2 = ((Z[P][:, None, :] - Z[Q][None, :, :]) ** 2).sum(axis=-1)
    return P, Q[first_optimal_assignment(dist2)]


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
