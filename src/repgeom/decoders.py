"""Linear decoders: which one decodes is an analysis choice, so several can run side by side.

Every decoding-based metric (decoding accuracy, CCGP, shattering dimension) fits one linear
decoder per problem. The decoders, by name (:data:`DECODERS`):

* ``svm`` (default): the exact minimiser of scikit-learn's ``LinearSVC`` objective, the
  L2-regularised squared-hinge SVM whose intercept is a constant feature regularised with the
  weights (liblinear's ``intercept_scaling=1``). With x̃ = [x, 1] and w̃ = [w, b], one problem is

      minimise  ½‖w̃‖² + C Σᵢ max(0, 1 − yᵢ w̃·x̃ᵢ)²,   yᵢ ∈ {−1, +1},

  strictly convex, so it has one minimiser: a well-defined quantity that does not depend on a
  solver's stopping rule. It is found by a finite Newton method (Keerthi & DeCoste 2005) run
  on many problems at once as batched tensor algebra, on the CPU or a GPU. At w̃ the active set
  A = {i : yᵢ w̃·x̃ᵢ < 1} makes the objective quadratic; its minimiser solves
  (I + 2C X̃_Aᵀ X̃_A) w̄ = 2C X̃_Aᵀ y_A. An exact line search along w̄ − w̃ picks the step, and the
  method stops when a full step (or a vanishing one) leaves A unchanged: w̃ is then the exact
  minimiser (up to rounding). The Hessians start from per-block Gram matrices shared by every
  problem of a dataset and are updated only by the rows that enter or leave A.
* ``liblinear_dual``: ``LinearSVC(dual=True)``, liblinear's dual coordinate descent stopped at
  ``tol``: what ``LinearSVC()`` ran in the scikit-learn the paper used (before 1.5).
* ``liblinear_auto``: ``LinearSVC()`` as scikit-learn ≥ 1.5 runs it. Its ``dual='auto'`` picks
  liblinear's *primal* solver on these problems (more samples than features): the paper's
  objective, but another solver with another stopping rule.
* ``ridge``: the least-squares classifier (scikit-learn's ``RidgeClassifier``): ridge
  regression of the ±1 labels, minimise ‖y − Xw − b‖² + α‖w‖² with the intercept b not
  penalised, solved in closed form and batched like ``svm``.

The liblinear decoders stop at ``tol``, so their answers are approximate minimisers of the
``svm`` objective. At ``tol = 1e-4`` they agree with it on decoding accuracy; CCGP, which
extrapolates to conditions the decoder never saw, moves more, and by how much depends on the
solver (the primal one of ``liblinear_auto`` more than the dual one) and the data:
``python -m repgeom effects`` prints the measured differences for an evaluated sweep.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .decoder_names import BATCHED, DECODERS  # noqa: F401 (re-exported: the names' home)


@dataclass(frozen=True)
class DecoderSpec:
    """A linear decoder: ``name`` one of :data:`DECODERS`; ``C`` the SVMs' inverse
    regularisation; ``max_iter`` bounds any solver's iterations; ``tol`` is liblinear's stopping
    tolerance (LinearSVC's ``tol``); ``alpha`` the ridge penalty (RidgeClassifier's ``alpha``)."""

    name: str = "svm"
    C: float = 1.0
    max_iter: int = 1000
    tol: float = 1e-4
    alpha: float = 1.0

    def check(self) -> None:
        if self.name not in DECODERS:
            raise ValueError(f"unknown decoder {self.name!r}; allowed: {', '.join(DECODERS)}")


# --------------------------------------------------------------------------- batched Newton


def _line_search(ws, ss, z, u, m, C, steps: int = 64):
    """Step length t > 0 minimising φ(t) = f(w̃ + t s), batched: all arguments have leading (G, P).

    φ is convex and piecewise quadratic with φ′(t) = w̃·s + t‖s‖² − 2C Σ m u max(0, 1 − z − t u).
    Safeguarded Newton on φ′ from t = 1 (the minimiser of the current quadratic piece, and the
    answer in the end game) inside a bracket [lo, hi] with φ′(lo) < 0 < φ′(hi), bisecting when
    a step leaves it; it stops once no problem's t moves by more than 1e-9. ``steps`` is large
    enough for bisection alone to reach rounding precision: on data with many identical rows
    (σ = 0) φ′ jumps at a breakpoint, Newton steps leave the bracket, and a search cut short
    leaves t off the minimiser, which costs hundreds of outer iterations.
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


def _augmented_by_block(X: torch.Tensor, block: torch.Tensor, y: torch.Tensor, B: int):
    """The rows sorted by block, as float64: X̃ = [X, 1] (G, n, F + 1), the sorted block (n,)
    and labels (G, P, n), and each block's Gram matrix X̃_bᵀ X̃_b (G, B, F + 1, F + 1), from
    which both decoders' normal matrices are sums."""
    G, n, _ = X.shape
    dev, f64 = X.device, torch.float64
    # rows sorted by block, so that each block is a slice
    order = torch.argsort(block, stable=True)
    block = block[order]
    bounds = torch.searchsorted(block, torch.arange(B + 1, device=dev)).tolist()
    Xt = torch.cat([X[:, order].to(f64), torch.ones(G, n, 1, dtype=f64, device=dev)], dim=2)
    blocks = [Xt[:, lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    gram = torch.stack([xb.transpose(1, 2) @ xb for xb in blocks], dim=1)
    return Xt, block, y[:, :, order].to(f64), gram


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
    P = uses.shape[1]
    dev, f64 = X.device, torch.float64
    Xt, block, y, gram = _augmented_by_block(X, block, y, uses.shape[2])
    Ft = F + 1
    used = uses[:, :, block]  # (G, P, n) rows each problem trains on
    m = used.to(f64)
    # At w̃ = 0 every used row is active: the Hessian is I + 2C Σ over used blocks of their Gram
    # matrices, shared by all the problems of a dataset.
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


# --------------------------------------------------------------------------- ridge


def least_squares(
    X: torch.Tensor, block: torch.Tensor, uses: torch.Tensor, y: torch.Tensor, alpha: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve G·P ridge classifiers, batched: minimise Σᵢ (yᵢ − w·xᵢ − b)² + α‖w‖² over each
    problem's rows, the intercept b not penalised (scikit-learn's ``RidgeClassifier``).

    Arguments as :func:`squared_hinge_svm`. With x̃ = [x, 1] the minimiser solves
    (X̃_Uᵀ X̃_U + α D) w̃ = X̃_Uᵀ y_U, D = diag(1, …, 1, 0), U the problem's rows; the normal
    matrix is the sum of the used blocks' Gram matrices. Returns w (G, P, F) and b (G, P),
    float64.
    """
    F = X.shape[2]
    dev, f64 = X.device, torch.float64
    Xt, block, y, gram = _augmented_by_block(X, block, y, uses.shape[2])
    reg = torch.diag(torch.cat([torch.full((F,), float(alpha)), torch.zeros(1)])).to(dev, f64)
    normal = torch.einsum("gpb,gbij->gpij", uses.to(f64), gram) + reg
    m = uses[:, :, block].to(f64)
    rhs = torch.bmm(m * y, Xt)  # (G, P, F̃)
    w = torch.linalg.solve(normal, rhs.unsqueeze(-1)).squeeze(-1)
    return w[..., :F], w[..., F]


# --------------------------------------------------------------------------- decoding problems


@dataclass(frozen=True)
class Problem:
    """One decoding problem over condition-labelled samples.

    ``train``/``test`` name the sample sets; ``train_labels``/``test_labels`` give, per
    condition, the class (+1 or −1) or 0 where the condition is not used. ``intercept``:
    predict with the fitted intercept (False predicts from w·x alone, as the original code's
    decoding did by a bug; the fit is the same).
    """

    train: str
    test: str
    train_labels: tuple[int, ...]
    test_labels: tuple[int, ...]
    intercept: bool = True


def _fits(problems: list[Problem]) -> tuple[list[tuple[str, tuple[int, ...]]], list, list]:
    """Distinct decoders the problems need, and each problem's (decoder index, sign).

    Every decoder's objective is unchanged under y → −y, w̃ → −w̃, so problems whose training
    labels differ only in sign share one decoder (for the δ-task's CCGP this halves the fits).
    For the exact decoders (``svm``, ``ridge``) the shared fit is the flipped one exactly; the
    liblinear ones stop at ``tol``, so theirs equals it to within that tolerance.
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


def sklearn_fit(spec: DecoderSpec, Xtr: np.ndarray, ytr: np.ndarray) -> tuple[np.ndarray, float]:
    """(w (F,), b) of one scikit-learn decoder fitted on (Xtr (n, F), ytr (n,) ±1, both classes
    present): ``LinearSVC`` for the liblinear decoders, ``RidgeClassifier`` for ridge."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import RidgeClassifier
    from sklearn.svm import LinearSVC

    if spec.name == "ridge":
        clf = RidgeClassifier(alpha=spec.alpha).fit(Xtr, ytr)
        return np.ravel(clf.coef_), float(np.ravel(clf.intercept_)[0])
    dual = {"liblinear_dual": True, "liblinear_auto": "auto"}.get(spec.name, False)
    # liblinear's dual coordinate descent shuffles with a seed drawn from NumPy's global
    # generator unless given one: a fixed one makes re-evaluation reproduce its answers
    clf = LinearSVC(C=spec.C, max_iter=spec.max_iter, tol=spec.tol, dual=dual, random_state=0)
    with warnings.catch_warnings():
        # liblinear warns on slow convergence; the accuracy is still meaningful and thousands
        # of identical warnings would drown the job's log
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(Xtr, ytr)
    return clf.coef_[0], float(clf.intercept_[0])


def batched_fit(
    spec: DecoderSpec, X: torch.Tensor, block: torch.Tensor, uses: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """w (G, P, F) and b (G, P) of a batched decoder (``svm`` or ``ridge``); arguments as
    :func:`squared_hinge_svm`."""
    if spec.name == "ridge":
        return least_squares(X, block, uses, y, spec.alpha)
    w, b, _ = squared_hinge_svm(X, block, uses, y, spec.C, spec.max_iter)
    return w, b


def _decisions(spec, H, cond, fits, tests, single, device):
    """(fit, test set) → (w·x (S, m), b (S,)) for every fit that has two classes."""
    S = next(iter(H.values())).shape[0]
    out: dict[tuple[int, str], tuple[np.ndarray, np.ndarray]] = {}
    if spec.name not in BATCHED:
        for i, (tr, lab) in enumerate(fits):
            if i in single:
                continue
            rows = np.asarray(lab)[cond[tr]] != 0
            ytr = np.asarray(lab)[cond[tr]][rows]
            wb = [sklearn_fit(spec, H[tr][s][rows], ytr) for s in range(S)]
            b = np.array([bb for _, bb in wb])
            for te in tests[i]:
                wx = np.stack([H[te][s] @ w for s, (w, _) in enumerate(wb)])
                out[i, te] = (wx, b)
        return out
    for tr in sorted({f[0] for f in fits}):
        idx = [i for i, f in enumerate(fits) if f[0] == tr and i not in single]
        if not idx:
            continue
        lab = torch.tensor([fits[i][1] for i in idx], dtype=torch.float64)  # (P, C)
        c = torch.as_tensor(cond[tr], dtype=torch.int64)
        w, b = batched_fit(
            spec,
            torch.as_tensor(H[tr], device=device),
            c.to(device),
            (lab != 0).expand(S, -1, -1).to(device),
            lab[:, c].expand(S, -1, -1).to(device),
        )
        b = b.cpu().numpy()
        for te in sorted(set().union(*(tests[i] for i in idx))):
            Xte = torch.as_tensor(H[te], device=device, dtype=torch.float64)
            wx = torch.bmm(Xte, w.transpose(1, 2)).cpu().numpy()
            for j, i in enumerate(idx):
                if te in tests[i]:
                    out[i, te] = (wx[:, :, j], b[:, j])  # (S, m), (S,)
    return out


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
    tests = {
        i: sorted({p.test for p, j in zip(problems, where, strict=True) if j == i})
        for i in range(len(fits))
    }
    # a training set of one class cannot be decoded: predict that class (every decoder alike)
    single = {i for i, (_, lab) in enumerate(fits) if -1 not in lab}
    decisions = _decisions(spec, H, cond, fits, tests, single, device)
    out = np.empty((S, len(problems)))
    for q, (p, i, sign) in enumerate(zip(problems, where, signs, strict=True)):
        lab = np.asarray(p.test_labels)[cond[p.test]]
        rows = lab != 0
        if i in single:
            dec = np.ones((S, int(rows.sum())))
        else:
            wx, b = decisions[i, p.test]
            dec = wx[:, rows] + (b[:, None] if p.intercept else 0.0)
        pred = np.where(sign * dec > 0, 1, -1)
        out[:, q] = (pred == lab[rows]).mean(axis=1)
    return out
