"""Alignment-parameterised parity tasks (experiment E3, paper Fig. 4).

d latent bits give C = 2^d conditions. Every nonzero bit mask m defines a parity feature h_m over
conditions; the N_f = 2^d − 1 features are mutually orthogonal and zero-mean. The network is
trained on the first k of them (as 0/1 dichotomies), and the input means weight all N_f features
by a vector π on the simplex, each along its own orthonormal direction of R^D. Because the
features are orthogonal, the input–target kernel alignment has the closed form

    CKA(K_x, K_y) = ⟨π, 1_T⟩ / (‖π‖ √k) = cos(π, 1_T),

the task's *alignment* c, swept on a grid c ∈ linspace(0, c_max, n_align), c_max = √(k/N_f).
Two families of π reach a given c: ``maxdim`` (deterministic; π is a on the targets and b on the
rest, the highest-dimensional input with that alignment) and ``random`` (a Dirichlet draw moved
along a segment until its cosine with 1_T is c; lower-dimensional).

Conventions
-----------
* Condition c has bits b_j(c) = (c >> j) & 1, j = 0 … d−1 (bit 0 is the least significant).
* A mask is an integer m ∈ [1, 2^d); mask bit j set means latent bit j enters the parity.
  Masks are ordered by Hamming weight, ties by integer value: the d single bits ``bit0`` …
  ``bit{d−1}`` first, then the pairwise XORs (``par01``, ``par02``, ``par12``, …), then
  higher orders (``par012``, …).
* The 0/1 label of mask m is the parity ⟨m, b(c)⟩ mod 2 (the XOR of its bits), so the label of
  ``bitj`` is the bit itself; the ±1 feature is h_m(c) = (−1)^label = 1 − 2·label (+1 for even
  parity).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..protocols import CLEAN, Protocol
from . import Family, register
from .base import MAX_SEED, Task

#: the alignment tasks evaluated as the paper's Fig. 4 analysis did, with its CCGP pairing bug
#: fixed (docs/science.md, "The original protocol")
ORIGINAL = Protocol(
    name="original",
    description=(
        "as the paper's Fig. 4 analysis ran per network: CCGP over the C/2 nearest-pair splits "
        "on fresh samples at sigma 0.5 (pairs matched by the summed squared distance between "
        "the conditions' average responses to those samples, by condition label)"
    ),
    ccgp_splits="nearest_pairs",
    ccgp_sigma=0.5,
    # 1: pairs by squared distance between sample averages (0 paired noise-free responses by
    # Euclidean distance)
    revision=1,
)

#: the kernel families (how π is chosen for a given alignment)
KERNELS = ("maxdim", "random")
#: smallest and largest number of latent bits the axes accept (d ≤ 5 keeps N_f ≤ 31 ≤ D)
D_MIN, D_MAX = 2, 5
#: default input dimension D and Dirichlet concentration α of the random family
DEFAULT_DIM = 100
DEFAULT_ALPHA = 2.0
#: default size of the alignment grid (paper: 12 for maxdim, 6 for random)
DEFAULT_ALIGNMENTS = 12
#: largest alignment grid, input dimension, noise and Dirichlet concentration a configuration
#: may give (far above the paper's 12, 100, 1 and 2; larger values only make a job allocate
#: absurd arrays or train on overflowing inputs)
MAX_ALIGNMENTS = 1000
MAX_DIM = 100000
MAX_SIGMA = 100
MAX_ALPHA = 1e6
#: the most task seeds, and values of one axis
MAX_TASK_SEEDS = 100000
MAX_AXIS_VALUES = 10000

# Spawn keys of the task seed's streams; fixed numbers keep old results reproducible.
_STREAM_EMBEDDING = 0
_STREAM_BASE_WEIGHTS = 1
_STREAM_OFF_TARGET_WEIGHTS = 2

#: bisection stops when the bracket on t is this narrow
_BISECT_TOL = 1e-12


# --------------------------------------------------------------------------- parity features


def n_features(d: int) -> int:
    """Number of parity features (nonzero masks) of d bits: 2^d − 1."""
    return 2**d - 1


def condition_bits(d: int) -> np.ndarray:
    """Latent bits of the 2^d conditions, shape (C, d) int64: entry (c, j) = (c >> j) & 1."""
    c = np.arange(2**d)
    return (c[:, None] >> np.arange(d)[None, :]) & 1


def parity_masks(d: int) -> np.ndarray:
    """The nonzero masks of d bits in feature order, shape (N_f,) int64.

    Sorted by Hamming weight, ties by integer value: the d single-bit masks 1, 2, 4, … first.
    """
    masks = range(1, 2**d)
    return np.array(sorted(masks, key=lambda m: (m.bit_count(), m)), dtype=np.int64)


def mask_name(mask: int) -> str:
    """Readable name of a mask: ``bitj`` for a single bit, ``par`` + its bits for a parity
    (``par01`` is bit 0 XOR bit 1). Bits are listed in increasing order; unambiguous for d ≤ 10."""
    mask = int(mask)
    if mask <= 0:
        raise ValueError(f"mask must be a positive integer, got {mask}")
    bits = [j for j in range(mask.bit_length()) if (mask >> j) & 1]
    if len(bits) == 1:
        return f"bit{bits[0]}"
    return "par" + "".join(str(j) for j in bits)


def parity_labels(d: int) -> np.ndarray:
    """0/1 labels of every mask over conditions, shape (C, N_f) int64, columns in feature order:
    label(c, m) = popcount(c & m) mod 2. Each column is balanced."""
    mask_bits = (parity_masks(d)[None, :] >> np.arange(d)[:, None]) & 1  # (d, N_f)
    return (condition_bits(d) @ mask_bits) % 2


def parity_features(d: int) -> np.ndarray:
    """±1 parity features h_m(c) = 1 − 2·label, shape (C, N_f) float64, +1 for even parity.

    Columns are mutually orthogonal and zero-mean over conditions (hᵀh = C·I).
    """
    return 1.0 - 2.0 * parity_labels(d)


# --------------------------------------------------------------------------- alignment and π


def max_alignment(d: int, k: int) -> float:
    """Largest alignment on the grid, c_max = √(k/N_f): that of the isotropic input (π uniform)."""
    return float(np.sqrt(k / n_features(d)))


def alignment_grid(d: int, k: int, n_align: int) -> np.ndarray:
    """The swept alignments, linspace(0, c_max, n_align), shape (n_align,)."""
    return np.linspace(0.0, max_alignment(d, k), n_align)


def weights_alignment(pi: np.ndarray, k: int) -> float:
    """Closed-form CKA of the input kernel with weights ``pi`` (N_f,) and the first ``k``
    features as targets: cos(π, 1_T) = Σ_{m<k} π_m / (‖π‖ √k)."""
    pi = np.asarray(pi, dtype=float)
    return float(pi[:k].sum() / (np.linalg.norm(pi) * np.sqrt(k)))


def _check_k(n_feat: int, k: int) -> None:
    if not 1 <= k < n_feat:
        # k = N_f leaves no off-target feature: every π on the simplex then has c = 1.
        raise ValueError(f"k must satisfy 1 ≤ k < N_f = {n_feat}, got k={k}")


def maxdim_weights(n_feat: int, k: int, c: float) -> np.ndarray:
    """π of the max-dimensional family, shape (n_feat,): a on the first k features, b on the
    rest, k·a + (n_feat−k)·b = 1 and cos(π, 1_T) = c.

    a/b = c√(N_f−k) / √(k(1−c²)); written as a ∝ c√(N_f−k), b ∝ √(k(1−c²)) so that c = 0
    (a = 0) and c = 1 (b = 0) need no special case. c = √(k/N_f) gives the uniform π.
    """
    _check_k(n_feat, k)
    if not 0.0 <= c <= 1.0:
        raise ValueError(f"alignment c must lie in [0, 1], got {c}")
    a = c * np.sqrt(n_feat - k)
    b = np.sqrt(k * (1.0 - c * c))
    pi = np.full(n_feat, b)
    pi[:k] = a
    return pi / pi.sum()


def random_weights(
    base: np.ndarray, off_target: np.ndarray, k: int, c: float, tol: float = _BISECT_TOL
) -> tuple[np.ndarray, float]:
    """π of the random family and its interpolation parameter t.

    ``base`` u (N_f,) and ``off_target`` (N_f−k,) are Dirichlet draws on the simplex. π(t) =
    (1−t)u + t·s, t ∈ [0, 1], where s = (0 on the targets, ``off_target`` elsewhere) if
    cos(u, 1_T) > c (the alignment must fall) and s = 1_T/k otherwise (it must rise); t solves
    cos(π(t), 1_T) = c by bisection to ``tol``. Returns (π (N_f,), t).
    """
    u = np.asarray(base, dtype=float)
    n_feat = u.shape[0]
    _check_k(n_feat, k)
    if not 0.0 <= c <= 1.0:
        raise ValueError(f"alignment c must lie in [0, 1], got {c}")
    s = np.zeros(n_feat)
    if weights_alignment(u, k) > c:
        s[k:] = off_target
    else:
        s[:k] = 1.0 / k

    def f(t: float) -> float:
        return weights_alignment((1 - t) * u + t * s, k) - c

    lo, hi = 0.0, 1.0
    f_lo, f_hi = f(lo), f(hi)
    # cos(s, 1_T) is 0 or 1, on the far side of c from cos(u, 1_T): the segment brackets c.
    assert f_lo * f_hi <= 0, f"segment does not bracket c={c}: f(0)={f_lo}, f(1)={f_hi}"
    if f_lo == 0:
        return u.copy(), 0.0
    if f_hi == 0:
        return s, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        f_mid = f(mid)
        if f_mid == 0:
            lo = hi = mid
            break
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    t = 0.5 * (lo + hi)
    return (1 - t) * u + t * s, t


def random_orthonormal(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """The first ``n`` rows of a Haar-random orthogonal dim×dim matrix, shape (n, dim).

    QR of a Gaussian matrix with the signs of R's diagonal moved into Q (which makes Q
    Haar-distributed and the result independent of the QR routine's sign choice).
    """
    if n > dim:
        raise ValueError(f"cannot place {n} orthonormal vectors in R^{dim}")
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))[None, :]
    return q[:n]


def _task_rng(task_seed: int, *spawn_key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(task_seed, spawn_key=spawn_key))


def dirichlet_draws(
    task_seed: int, d: int, k: int, alpha: float = DEFAULT_ALPHA
) -> tuple[np.ndarray, np.ndarray]:
    """The random family's draws for one task seed: u ~ Dir(α·1), shape (N_f,), and the
    off-target endpoint ~ Dir(α·1), shape (N_f−k,).

    They do not depend on the alignment, so one seed's alignment sweep moves along one segment
    family; u depends only on (seed, d), so the k = 1 and k = d tasks of a seed share it.
    """
    n_feat = n_features(d)
    _check_k(n_feat, k)
    u = _task_rng(task_seed, _STREAM_BASE_WEIGHTS, d).dirichlet(np.full(n_feat, alpha))
    off = _task_rng(task_seed, _STREAM_OFF_TARGET_WEIGHTS, d, k).dirichlet(
        np.full(n_feat - k, alpha)
    )
    return u, off


# --------------------------------------------------------------------------- the task


@dataclass(frozen=True)
class AlignmentTask(Task):
    """One alignment-parameterised parity task.

    ``kernel``: ``maxdim`` or ``random``; ``d`` bits (C = 2^d conditions, N_f = 2^d − 1
    features); ``k`` trained targets, the first k masks (1 ≤ k < N_f); ``align``: index into the
    alignment grid of ``n_align`` values; ``task_seed``: fixes the embedding and (random family)
    the Dirichlet draws; ``sigma``: per-coordinate input noise std; ``dim``: input dimension D
    (≥ N_f); ``alpha``: Dirichlet concentration of the random family.
    """

    kernel: str
    d: int
    k: int
    align: int
    n_align: int
    task_seed: int
    sigma: float
    dim: int = DEFAULT_DIM
    alpha: float = DEFAULT_ALPHA

    def __post_init__(self):
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.kernel!r}")
        if self.d < 2:
            raise ValueError(f"d must be at least 2, got {self.d}")
        _check_k(n_features(self.d), self.k)
        if self.n_align < 2:
            raise ValueError(f"n_align must be at least 2, got {self.n_align}")
        if not 0 <= self.align < self.n_align:
            raise ValueError(f"align index must lie in [0, {self.n_align}), got {self.align}")
        if self.dim < n_features(self.d):
            raise ValueError(
                f"dim={self.dim} is smaller than the {n_features(self.d)} parity features of "
                f"d={self.d} bits"
            )
        if self.sigma < 0:
            raise ValueError(f"sigma must be non-negative, got {self.sigma}")
        if self.alpha <= 0:
            raise ValueError(f"alpha must be positive, got {self.alpha}")

    # -- features --------------------------------------------------------------------------
    @property
    def n_features(self) -> int:
        """N_f = 2^d − 1."""
        return n_features(self.d)

    @cached_property
    def masks(self) -> np.ndarray:
        """Masks in feature order, shape (N_f,) int64 (see :func:`parity_masks`)."""
        return parity_masks(self.d)

    @cached_property
    def feature_names(self) -> list[str]:
        """Dichotomy names of the features in order: ``bit0`` …, ``par01`` …"""
        return [mask_name(m) for m in self.masks]

    @cached_property
    def labels(self) -> np.ndarray:
        """0/1 labels of every feature, shape (C, N_f) int64 (see :func:`parity_labels`)."""
        return parity_labels(self.d)

    @cached_property
    def features(self) -> np.ndarray:
        """±1 parity features, shape (C, N_f) float64 (see :func:`parity_features`)."""
        return 1.0 - 2.0 * self.labels

    @cached_property
    def embedding(self) -> np.ndarray:
        """Orthonormal directions q_m of the features, shape (N_f, dim); fixed by task_seed."""
        rng = _task_rng(self.task_seed, _STREAM_EMBEDDING)
        return random_orthonormal(self.n_features, self.dim, rng)

    # -- alignment and kernel --------------------------------------------------------------
    @property
    def max_alignment(self) -> float:
        """c_max = √(k/N_f), the last grid value."""
        return max_alignment(self.d, self.k)

    @property
    def alignment(self) -> float:
        """The grid value c = c_max · align/(n_align − 1) = CKA(K_x, K_y)."""
        return float(alignment_grid(self.d, self.k, self.n_align)[self.align])

    @cached_property
    def _random(self) -> tuple[np.ndarray, float]:
        u, off = dirichlet_draws(self.task_seed, self.d, self.k, self.alpha)
        return random_weights(u, off, self.k, self.alignment)

    @cached_property
    def weights(self) -> np.ndarray:
        """π, the input variance share of each feature, shape (N_f,), on the simplex."""
        if self.kernel == "maxdim":
            return maxdim_weights(self.n_features, self.k, self.alignment)
        return self._random[0]

    @property
    def interpolation(self) -> float | None:
        """Random family: t of π = (1−t)u + t·s (see :func:`random_weights`); None for maxdim."""
        return self._random[1] if self.kernel == "random" else None

    # -- Task interface --------------------------------------------------------------------
    @cached_property
    def means(self) -> np.ndarray:
        """Noise-free condition means, shape (C, dim): x̄_c = √D Σ_m √π_m h_m(c) q_m, so
        ‖x̄_c‖² = D for every c."""
        coef = self.features * np.sqrt(self.weights)[None, :]  # (C, N_f)
        return np.sqrt(self.dim) * coef @ self.embedding

    @property
    def targets(self) -> dict[str, np.ndarray]:
        """The first k features, in feature order."""
        return {self.feature_names[i]: self.labels[:, i] for i in range(self.k)}

    @property
    def latents(self) -> dict[str, np.ndarray]:
        """The d bits ``bit0`` … ``bit{d−1}`` (the first d features)."""
        return {self.feature_names[i]: self.labels[:, i] for i in range(self.d)}


# --------------------------------------------------------------------------- the family


def _resolve_k(k, d: int) -> int:
    return d if k == "d" else int(k)


def _axis_values(axes: dict) -> tuple[int, list[int], list[int], list[float]]:
    """The grid size, and the distinct align indices, task seeds and σ in sweep order."""
    n_align = int(axes["alignments"])
    if axes["align"] is None:
        aligns = list(range(n_align))
    else:
        aligns = list(dict.fromkeys(int(a) for a in axes["align"]))
    seeds = axes["task_seeds"]
    seeds = list(range(seeds)) if isinstance(seeds, int) else list(dict.fromkeys(seeds))
    sigmas = list(dict.fromkeys(float(s) for s in axes["sigma"]))
    return n_align, aligns, seeds, sigmas


def _axes_problems(axes: dict) -> list[tuple[str, str]]:
    """(key, why) of axis values outside the task's range: grid indices past the grid, k too
    large for a d."""
    out = []
    n_align = int(axes["alignments"])
    bad = [a for a in dict.fromkeys(axes["align"] or []) if not 0 <= a < n_align]
    if bad:
        out.append(
            (
                "axes.align",
                f"indices {bad} are outside the grid of axes.alignments={n_align} values "
                f"(0 … {n_align - 1})",
            )
        )
    for d in dict.fromkeys(int(d) for d in axes["d"]):
        bad = [k for k in dict.fromkeys(_resolve_k(k, d) for k in axes["k"]) if k >= n_features(d)]
        if bad:
            out.append(
                (
                    "axes.k",
                    f"k={bad} is too large for d={d}; k must be below 2^d − 1 = "
                    f"{n_features(d)} (with every feature a target, only alignment 1 exists)",
                )
            )
    return out


def _check(exp: dict) -> list[tuple[str, str]]:
    """Parse-time checks of a resolved experiment: the axes' ranges, and an input dimension
    that holds the parity features of every d (AlignmentTask refuses it in the job)."""
    out = _axes_problems(exp["axes"])
    dim, d = exp["task"]["dim"], max(int(d) for d in exp["axes"]["d"])
    if dim < n_features(d):
        out.append(
            (
                "task.dim",
                f"{dim} is smaller than the {n_features(d)} parity features of d={d} (axes.d), "
                f"each on its own input direction; give task.dim ≥ {n_features(d)} or smaller d",
            )
        )
    return out


def _count(axes: dict) -> int:
    """The number of cells of :func:`_expand`, without expanding."""
    _, aligns, seeds, sigmas = _axis_values(axes)
    n_k = sum(len({_resolve_k(k, d) for k in axes["k"]}) for d in {int(d) for d in axes["d"]})
    return len(set(axes["kernel"])) * n_k * len(aligns) * len(seeds) * len(sigmas)


def _expand(axes: dict) -> list[dict]:
    """Cells of the product kernel × d × k × align × task_seed × sigma (path order).

    ``k: "d"`` resolves per d, and repeated k values of a d are kept once. ``align`` null means
    every grid index. Raises ValueError naming ``axes.k`` / ``axes.align`` for values outside
    the task's range.
    """
    problems = _axes_problems(axes)
    if problems:
        raise ValueError(": ".join(problems[0]))
    n_align, aligns, seeds, sigmas = _axis_values(axes)
    cells = []
    for kernel in dict.fromkeys(axes["kernel"]):
        for d in dict.fromkeys(int(d) for d in axes["d"]):
            ks = list(dict.fromkeys(_resolve_k(k, d) for k in axes["k"]))
            for k, a, seed, sigma in itertools.product(ks, aligns, seeds, sigmas):
                cells.append(
                    {
                        "kernel": str(kernel),
                        "d": d,
                        "k": k,
                        "align": a,
                        "task_seed": int(seed),
                        "sigma": sigma,
                        # not a path key: the grid size that turns ``align`` into c
                        "alignments": n_align,
                    }
                )
    return cells


#: the activations every ablation bar is compared with; an experiment of only these gets no
#: ablation figure
REFERENCE_ACTIVATIONS = ("tanh", "relu")


def _figures(levels: dict[str, list[str]]) -> tuple[str, ...]:
    """The figures an experiment's axes call for: the sweeps against c (``alignment_sweep``,
    ``disentanglement``) need more than one c, ``ablation`` an activation besides tanh and
    relu; the plane shows any."""
    several_c = len(levels["align"]) > 1
    ablation = any(a not in REFERENCE_ACTIVATIONS for a in levels["act"])
    wanted = {
        "alignment_sweep": several_c,
        "alignment_plane": True,
        "disentanglement": several_c,
        "ablation": ablation,
    }
    return tuple(name for name, keep in wanted.items() if keep)


def _build(cfg: dict) -> AlignmentTask:
    """The task of a run's ``task`` config: the cell values, the fixed ``dim`` and ``alpha``,
    and ``alignments`` (the grid size), which the sweep copies from the experiment's axes."""
    if "alignments" not in cfg:
        raise KeyError(
            "alignment task config lacks 'alignments' (the grid size, copied from the "
            "experiment's axes.alignments)"
        )
    return AlignmentTask(
        kernel=cfg["kernel"],
        d=int(cfg["d"]),
        k=int(cfg["k"]),
        align=int(cfg["align"]),
        n_align=int(cfg["alignments"]),
        task_seed=int(cfg["task_seed"]),
        sigma=float(cfg["sigma"]),
        dim=int(cfg["dim"]),
        alpha=float(cfg["alpha"]),
    )


def _list(items: dict, default: list, description: str) -> dict:
    return {
        "type": "array",
        "items": items,
        "minItems": 1,
        "maxItems": MAX_AXIS_VALUES,
        "default": default,
        "description": description,
    }


_SEED = {"type": "integer", "minimum": 0, "maximum": MAX_SEED}

FAMILY = register(
    Family(
        name="alignment",
        description=(
            "alignment-parameterised parity tasks (E3, Fig. 4): d bits, k target bits, "
            "input–target alignment c"
        ),
        keys={
            "kernel": "string",
            "d": "int64",
            "k": "int64",
            "align": "int64",
            "task_seed": "int64",
            "sigma": "float64",
        },
        axes_schema={
            "type": "object",
            "default": {},
            "additionalProperties": False,
            "description": "Swept axes of the alignment tasks.",
            "properties": {
                "d": _list(
                    {"type": "integer", "minimum": D_MIN, "maximum": D_MAX},
                    [3],
                    "Numbers of latent bits d (2^d conditions, 2^d − 1 parity features).",
                ),
                "k": _list(
                    {
                        "anyOf": [
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": n_features(D_MAX) - 1,
                                "description": "a positive integer below 2^d − 1 (at most "
                                f"{n_features(D_MAX) - 1})",
                            },
                            {"const": "d", "description": 'the string "d" (k = d)'},
                        ]
                    },
                    [1, "d"],
                    'Numbers of trained targets k, the first k parity features; "d" means k = d '
                    "(the paper: 1 and d).",
                ),
                "kernel": _list(
                    {"type": "string", "enum": list(KERNELS)},
                    ["maxdim"],
                    "Input kernel families: maxdim (highest-dimensional input with the given "
                    "alignment) or random (Dirichlet draws, lower-dimensional).",
                ),
                "alignments": {
                    "type": "integer",
                    "minimum": 2,
                    "maximum": MAX_ALIGNMENTS,
                    "default": DEFAULT_ALIGNMENTS,
                    "description": "Size of the alignment grid linspace(0, √(k/(2^d − 1)), n) "
                    "(the paper: 12 for maxdim, 6 for random).",
                },
                "align": {
                    "anyOf": [
                        {"type": "null", "description": "null (every grid index)"},
                        {
                            "type": "array",
                            "items": {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": MAX_ALIGNMENTS - 1,
                            },
                            "minItems": 1,
                            "maxItems": MAX_ALIGNMENTS,
                            "description": "a list of grid indices (0 … alignments − 1)",
                        },
                    ],
                    "default": None,
                    "description": "Alignment grid indices to run; null runs the whole grid.",
                },
                "task_seeds": {
                    "anyOf": [
                        {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_TASK_SEEDS,
                            "description": f"a count n ≤ {MAX_TASK_SEEDS} (task seeds 0 … n − 1)",
                        },
                        {
                            "type": "array",
                            "items": _SEED,
                            "minItems": 1,
                            "maxItems": MAX_TASK_SEEDS,
                            "description": f"a list of task seeds in 0 … {MAX_SEED}",
                        },
                    ],
                    "default": [0],
                    "description": "Task seeds: the embedding and the random family's draws "
                    "(the paper: 0 for maxdim, 0–11 for random).",
                },
                "sigma": _list(
                    {"type": "number", "minimum": 0, "maximum": MAX_SIGMA},
                    [1.0],
                    "Input noise σ, per-coordinate std.",
                ),
            },
        },
        task_schema={
            "dim": {
                "type": "integer",
                "minimum": 4,
                "maximum": MAX_DIM,
                "default": DEFAULT_DIM,
                "description": "Input dimension D (at least 2^d − 1).",
            },
            "alpha": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": MAX_ALPHA,
                "default": DEFAULT_ALPHA,
                "description": "Dirichlet concentration α of the random kernel family.",
            },
        },
        expand=_expand,
        build=_build,
        defaults={
            "readouts": ["gauss"],
            "model": {"width": 128, "init": "normal", "train_output_bias": False},
            "training": {"epochs": 1000, "batch_size": 64},
            "evaluation": {"test_sigma": 0.5, "ccgp_noise": "test"},
        },
        figures=("alignment_sweep", "alignment_plane", "disentanglement", "ablation"),
        figures_for=_figures,
        protocols={"clean": CLEAN, "original": ORIGINAL},
        main_axis="align",
        check=_check,
        count=_count,
    )
)
