"""Linear decoders: the paper's LinearSVC objective, solved exactly and in batches.

The paper decodes with scikit-learn's ``LinearSVC`` defaults: the L2-regularised squared-hinge
SVM whose intercept is a constant feature and is regularised with the weights (liblinear's
``intercept_scaling=1``). With x̃ = [x, 1] and w̃ = [w, b], one problem is

    minimise  ½‖w̃‖² + C Σᵢ max(0, 1 − yᵢ w̃·x̃ᵢ)²,   yᵢ ∈ {−1, +1},

strictly convex, so it has one minimiser whichever solver finds it. Two solvers are offered:

* ``newton``: a finite Newton method (Keerthi & DeCoste 2005) run on many problems at
  once as batched tensor algebra, on the CPU or a GPU. At w̃ the active set A = {i : yᵢ w̃·x̃ᵢ < 1}
  makes the objective quadratic; its minimiser solves (I + 2C X̃_Aᵀ X̃_A) w̄ = 2C X̃_Aᵀ y_A. An
  exact line search along w̄ − w̃ picks the step, and the method stops when a full step (or a
  vanishing one) leaves A unchanged: w̃ is then the exact minimiser (up to rounding). The
  Hessians start from per-block Gram matrices shared by every problem of a dataset and are
  updated only by the rows that enter or leave A, so a problem costs about one pass of X̃ᵀX̃
  over its rows.
* ``liblinear`` (default): scikit-learn's ``LinearSVC`` itself, one problem at a time. It is
  called with the installed scikit-learn's defaults, whose ``dual='auto'`` (since 1.5) picks
  liblinear's *primal* solver on these problems (more samples than features); the paper's
  scikit-learn ran the *dual* coordinate descent (``dual=True``), so this is the paper's
  library and objective but not its solver. Either stops at ``tol``: its minimiser is
  approximate.

The two reach the same minimiser when liblinear runs to a tight tolerance (tested on random
problems and on the δ-task's metrics). At LinearSVC's default tol = 1e-4 they still agree on
decoding accuracy, but CCGP, which extrapolates to conditions the decoder never saw, moves on
some snapshots (benchmarks/evaluation_cost.py prints the largest differences it finds).
On one CPU thread Newton is 1.2–1.7× faster than liblinear on the δ-task (docs/performance.md).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

SOLVERS = ("liblinear", "newton")


@dataclass(frozen=True)
class DecoderSpec:
    """Linear decoder: ``svm`` is LinearSVC's objective (C, squared hinge, regularised
    intercept); ``solver`` picks the batched Newton solver or liblinear; ``max_iter`` bounds
    either solver's iterations; ``tol`` is liblinear's stopping tolerance (LinearSVC's ``tol``;
    the Newton solver stops at the exact minimiser)."""

    kind: str = "svm"
    C: float = 1.0
    max_iter: int = 1000
    solver: str = "liblinear"
    tol: float = 1e-4

    def check(self) -> None:
        if self.kind != "svm":
            raise ValueError(f"unknown decoder {self.kind!r}; allowed: svm")
        if self.solver not in SOLVERS:
            raise ValueError(
                f"unknown decoder solver {self.solver!r}; allowed: {', '.join(SOLVERS)}"
            )


# --------------------------------------------------------------------------- batched Newton


def _line_search(ws, ss, z, u, m, C, steps: int = 8):
    """Step length t > 0 minimising φ(t) = f(w̃ + t s), batched: all arguments have leading (G, P).

    φ is convex and piecewise quadratic with φ′(t) = w̃·s + t‖s‖² − 2C Σ m u max(0, 1 − z − t u).
    Safeguarded Newton on φ′ from t = 1 (the minimiser of the current quadratic piece, and the
    answer in the end game) inside a bracket [lo, hi] with φ′(lo) < 0 < φ′(hi), bisecting when
    a step leaves it; it stops once no problem's t moves by more than 1e-9.
    """
    t = torch.ones_like(ws)
    lo, hi = torch.zeros_like(ws), torch.full_like(ws, float("inf"))
    mu, muu, slack = m * u, m * u * u, 1 - z
    for _ in range(steps):
        r = torch.clamp(slack - t[..., None] * u, min=0)
        d1 = ws + t * ss - 2 * C * (mu * r).sum(-1)
        d2 = ss + 2 * C * (muu * (r > 0)).sum(-1)
        lo = torch.where(d1 < 0, t, lo)
        hi = torch.where(d1 > 0, t, hi)
        nt = t - d1 / d2
        inside = (nt > lo) & (nt < hi)
        nt = torch.where(inside, nt, torch.where(torch.isinf(hi), 2 * lo, (lo + hi) / 2))
        moved = float((nt - t).abs().max())
        t = nt
        if moved <= 1e-9:
            break
    return t


def squared_hinge_svm(
    X: torch.Tensor,
    block: torch.Tensor,
    uses: torch.Tensor,
    y: torch.Tensor,
    C: float = 1.0,
    max_iter: int = 100,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Solve G·P squared-hinge SVMs (LinearSVC's objective) exactly, batched.

    X (G, n, F): G datasets of n rows; block (n,) int64: the block (e.g. condition) of each row,
    in [0, B); uses (G, P, B) bool: problem p of dataset g trains on the rows of these blocks;
    y (G, P, n): labels ±1 (ignored on rows the problem does not use). Computes in float64 on
    X's device. Returns the weights w (G, P, F) and intercepts b (G, P) as float64, and the
    number of Newton iterations each problem took (G, P); a problem that reaches ``max_iter``
    is left at its last iterate.
    """
    G, n, F = X.shape
    P, B = uses.shape[1], uses.shape[2]
    dev, f64 = X.device, torch.float64
    # rows sorted by block, so that each block is a slice
    order = torch.argsort(block, stable=True)
    block = block[order]
    bounds = torch.searchsorted(block, torch.arange(B + 1, device=dev)).tolist()
    Xt = torch.cat([X[:, order].to(f64), torch.ones(G, n, 1, dtype=f64, device=dev)], dim=2)
    Ft = F + 1
    y = y[:, :, order].to(f64)
    used = uses[:, :, block]  # (G, P, n) rows each problem trains on
    m = used.to(f64)
    # At w̃ = 0 every used row is active: the Hessian is I + 2C Σ over used blocks of their Gram
    # matrices, shared by all the problems of a dataset.
    blocks = [Xt[:, lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    gram = torch.stack([xb.transpose(1, 2) @ xb for xb in blocks], dim=1)  # (G, B, F̃, F̃)
    eye = torch.eye(Ft, dtype=f64, device=dev)
    hess = eye + 2 * C * torch.einsum("gpb,gbij->gpij", uses.to(f64), gram)
    rhs = 2 * C * torch.bmm(m * y, Xt)  # 2C X̃_Aᵀ y_A, (G, P, F̃)
    w = torch.zeros(G, P, Ft, dtype=f64, device=dev)
    z = torch.zeros(G, P, n, dtype=f64, device=dev)  # margins yᵢ w̃·x̃ᵢ
    active = used.clone()
    done = torch.zeros(G, P, dtype=torch.bool, device=dev)
    iters = torch.zeros(G, P, dtype=torch.int64, device=dev)
    for _ in range(max_iter):
        iters += ~done
        # factor only the unfinished problems' systems; the finished ones keep w̄ = w̃
        todo = (~done).nonzero(as_tuple=True)
        wbar = w.clone()
        wbar[todo] = torch.cholesky_solve(
            rhs[todo].unsqueeze(-1), torch.linalg.cholesky(hess[todo])
        ).squeeze(-1)
        s = wbar - w
        # (G, P, n) margin change per unit step; X̃ s as (n, F̃)·(F̃, P) reads X̃ in its layout
        u = y * torch.bmm(Xt, s.transpose(1, 2)).transpose(1, 2)
        t = _line_search((w * s).sum(-1), (s * s).sum(-1), z, u, m, C)
        t = torch.where(done, 0.0, t)
        w = w + t[..., None] * s
        z = z + t[..., None] * u
        new_active = used & (z < 1)
        changed = new_active != active
        # A full step that keeps the active set lands on the minimiser of the quadratic piece
        # it lies on, which is then the minimiser of the objective.
        # (When w̃ already sits on w̄ to rounding, s ≈ 0 and t means nothing.)
        tiny = s.norm(dim=-1) <= 1e-10 * (1 + w.norm(dim=-1))
        settled = ~changed.any(-1) & (((t - 1).abs() <= 1e-6) | tiny)
        w = torch.where(settled[..., None], wbar, w)
        done |= settled
        if bool(done.all()):
            break
        _update_newton_systems(hess, rhs, Xt, y, active, new_active, changed, done, 2 * C, eye)
        active = new_active
    return w[..., :F], w[..., F], iters


def _update_newton_systems(hess, rhs, Xt, y, active, new_active, changed, done, c2, eye) -> None:
    """Bring each unfinished problem's Hessian I + c2·X̃_Aᵀ X̃_A and right-hand side c2·X̃_Aᵀ y_A
    to its new active set, in place: by the rows that entered and left, or rebuilt from the
    active rows when those are fewer. One problem at a time, so each costs its own row count."""
    n_changed, n_active = changed.sum(-1).tolist(), new_active.sum(-1).tolist()
    for g, p in (~done).nonzero().tolist():
        # Rebuild when that is cheaper, and when a step was cut short with the active set
        # unchanged: the system is then refreshed from its rows in case updates drifted.
        if n_active[g][p] < n_changed[g][p] or n_changed[g][p] == 0:
            idx = new_active[g, p].nonzero()[:, 0]
            rows = Xt[g].index_select(0, idx)
            hess[g, p] = torch.addmm(eye, rows.T, rows, alpha=c2)
            rhs[g, p] = c2 * (y[g, p, idx] @ rows)
            continue
        for sign, sel in (
            (1, changed[g, p] & new_active[g, p]),
            (-1, changed[g, p] & active[g, p]),
        ):
            idx = sel.nonzero()[:, 0]
            if len(idx):
                rows = Xt[g].index_select(0, idx)
                hess[g, p].addmm_(rows.T, rows, alpha=sign * c2)
                rhs[g, p].add_(y[g, p, idx] @ rows, alpha=sign * c2)


# --------------------------------------------------------------------------- decoding problems


@dataclass(frozen=True)
class Problem:
    """One decoding problem over condition-labelled samples.

    ``train``/``test`` name the sample sets; ``train_labels``/``test_labels`` give, per
    condition, the class (+1 or −1) or 0 where the condition is not used.
    """

    train: str
    test: str
    train_labels: tuple[int, ...]
    test_labels: tuple[int, ...]


def _fits(problems: list[Problem]) -> tuple[list[tuple[str, tuple[int, ...]]], list, list]:
    """Distinct decoders the problems need, and each problem's (decoder index, sign).

    LinearSVC's objective is unchanged under y → −y, w̃ → −w̃, so problems whose training labels
    differ only in sign share one decoder (for the δ-task's CCGP this halves the fits).
    """
    fits: list[tuple[str, tuple[int, ...]]] = []
    where, signs = [], []
    for p in problems:
        first = next(v for v in p.train_labels if v)
        sign = 1 if first > 0 else -1
        key = (p.train, tuple(sign * v for v in p.train_labels))
        if key not in fits:
            fits.append(key)
        where.append(fits.index(key))
        signs.append(sign)
    return fits, where, signs


def liblinear_decisions(
    spec: DecoderSpec, Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray
) -> np.ndarray:
    """Decision values on Xte (m,) of one LinearSVC fitted on (Xtr (n, F), ytr (n,) ±1, both
    classes present)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    clf = LinearSVC(C=spec.C, max_iter=spec.max_iter, tol=spec.tol)
    with warnings.catch_warnings():
        # liblinear warns on slow convergence; the accuracy is still meaningful and thousands
        # of identical warnings would drown the job's log
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xtr, ytr)
    return clf.decision_function(Xte)


def accuracies(
    spec: DecoderSpec,
    H: dict[str, np.ndarray],
    cond: dict[str, np.ndarray],
    problems: list[Problem],
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """Test accuracy of every problem at every snapshot.

    H: set name → hidden responses (S, n, N); cond: set name → condition of each sample (n,).
    Returns (S, len(problems)). A decoder predicts class +1 where its decision value is > 0.
    """
    spec.check()
    fits, where, signs = _fits(problems)
    S = next(iter(H.values())).shape[0]
    decisions: dict[tuple[int, str], np.ndarray] = {}  # (fit, test set) → (S, m)
    tests = {
        i: sorted({p.test for p, j in zip(problems, where, strict=True) if j == i})
        for i in range(len(fits))
    }
    # a training set of one class cannot be decoded: predict that class (both solvers alike)
    single = {i for i, (_, lab) in enumerate(fits) if -1 not in lab}
    for i in single:
        for te in tests[i]:
            decisions[i, te] = np.ones((S, len(cond[te])))
    if spec.solver == "liblinear":
        for i, (tr, lab) in enumerate(fits):
            if i in single:
                continue
            rows = np.asarray(lab)[cond[tr]] != 0
            ytr = np.asarray(lab)[cond[tr]][rows]
            for te in tests[i]:
                decisions[i, te] = np.stack(
                    [liblinear_decisions(spec, H[tr][s][rows], ytr, H[te][s]) for s in range(S)]
                )
    else:
        for tr in sorted({f[0] for f in fits}):
            idx = [i for i, f in enumerate(fits) if f[0] == tr and i not in single]
            if not idx:
                continue
            lab = torch.tensor([fits[i][1] for i in idx], dtype=torch.float64)  # (P, C)
            c = torch.as_tensor(cond[tr], dtype=torch.int64)
            X = torch.as_tensor(H[tr], device=device)
            w, b, _ = squared_hinge_svm(
                X,
                c.to(device),
                (lab != 0).expand(S, -1, -1).to(device),
                lab[:, c].expand(S, -1, -1).to(device),
                spec.C,
                spec.max_iter,
            )
            for te in sorted(set().union(*(tests[i] for i in idx))):
                Xte = torch.as_tensor(H[te], device=device, dtype=torch.float64)
                dec = (torch.bmm(Xte, w.transpose(1, 2)) + b[:, None, :]).cpu().numpy()
                for j, i in enumerate(idx):
                    if te in tests[i]:
                        decisions[i, te] = dec[:, :, j]  # (S, m)
    out = np.empty((S, len(problems)))
    for q, (p, i, sign) in enumerate(zip(problems, where, signs, strict=True)):
        lab = np.asarray(p.test_labels)[cond[p.test]]
        rows = lab != 0
        pred = np.where(sign * decisions[i, p.test][:, rows] > 0, 1, -1)
        out[:, q] = (pred == lab[rows]).mean(axis=1)
    return out
