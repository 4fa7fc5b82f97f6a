"""The δ-task (experiment E2, paper Figs. 2–3).

Two latent bits b1, b2 and their XOR q, embedded in R^D along three unit vectors with disjoint
supports; the XOR direction is scaled by δ, which makes the trained dichotomy (the XOR)
linearly separable with a margin that grows with δ. Axes: δ and the input noise σ.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..protocols import CLEAN, Protocol
from . import Family, register
from .base import MAX_SEED, Task

#: the δ-task evaluated as the paper's code did (docs/science.md, "The original protocol")
ORIGINAL = Protocol(
    name="original",
    description=(
        "as the paper's δ-task code ran: PS on per-condition averages of the hidden responses "
        "to the test samples (training noise), CCGP fitted and scored on test samples, "
        "decoding and shattering without the intercept (a bug of the original code)"
    ),
    ps_on="test_averages",
    ccgp_samples="test",
    intercept=False,
)

#: number of conditions of the δ-task
N_CONDITIONS = 4


def condition_bits() -> tuple[np.ndarray, np.ndarray]:
    """Latent bits of the four conditions, shape (4,) each, values in {0, 1}.

    b1 = 1 − (c mod 2) and b2 = 1 − (⌊c/2⌋ mod 2): c=0:(1,1), c=1:(0,1), c=2:(1,0), c=3:(0,0).
    """
    c = np.arange(N_CONDITIONS)
    return 1 - (c % 2), 1 - ((c // 2) % 2)


def delta_dichotomies() -> dict[str, np.ndarray]:
    """The δ-task's dichotomies as 0/1 labels over conditions, shape (4,) each.

    ``xor`` is the trained target (positive for c ∈ {1, 2}); ``b1`` and ``b2`` are untrained.
    Together they are all 3 balanced dichotomies of 4 conditions.
    """
    b1, b2 = condition_bits()
    return {"xor": b1 ^ b2, "b1": b1, "b2": b2}


def disjoint_unit_vectors(dim: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors in R^dim with disjoint supports, shape (n, dim).

    Vector j is nonzero on coordinates [j·m, (j+1)·m), m = dim // n, with |N(0,1)| entries
    rescaled to unit norm.
    """
    if dim % n:
        raise ValueError(f"dim={dim} must be a multiple of {n}")
    m = dim // n
    u = np.zeros((n, dim))
    for j in range(n):
        v = np.abs(rng.standard_normal(m))
        u[j, j * m : (j + 1) * m] = v / np.linalg.norm(v)
    return u


def task_alignment(delta: float) -> float:
    """Closed-form CKA between the δ-task's input and target kernels: δ²/√(2+δ⁴)."""
    return delta**2 / np.sqrt(2 + delta**4)


@dataclass(frozen=True)
class DeltaTask(Task):
    """The δ-task. ``sigma`` is the per-coordinate standard deviation of the input noise."""

    delta: float
    sigma: float
    dim: int = 120
    task_seed: int = 0

    @cached_property
    def directions(self) -> np.ndarray:
        """Unit directions u1, u2, u3, shape (3, dim); fixed by ``task_seed``."""
        return disjoint_unit_vectors(self.dim, 3, np.random.default_rng(self.task_seed))

    @cached_property
    def means(self) -> np.ndarray:
        """Noise-free condition means, shape (4, dim).

        x̄_c = a(s1 u1 + s2 u2 + δ s3 u3) with a = √(dim/3) and s = 2b − 1 codes, s3 = −s1·s2.
        """
        b1, b2 = condition_bits()
        s1, s2 = 2 * b1 - 1, 2 * b2 - 1
        s3 = -s1 * s2
        codes = np.stack([s1, s2, self.delta * s3], axis=1).astype(float)  # (4, 3)
        return np.sqrt(self.dim / 3) * codes @ self.directions

    @property
    def targets(self) -> dict[str, np.ndarray]:
        return {"xor": delta_dichotomies()["xor"]}

    @property
    def latents(self) -> dict[str, np.ndarray]:
        d = delta_dichotomies()
        return {"b1": d["b1"], "b2": d["b2"]}

    @property
    def alignment(self) -> float:
        return float(task_alignment(self.delta))


def _expand(axes: dict) -> list[dict]:
    return [{"sigma": s, "delta": d} for s, d in itertools.product(axes["sigma"], axes["delta"])]


def _build(cfg: dict) -> DeltaTask:
    return DeltaTask(cfg["delta"], cfg["sigma"], cfg["dim"], cfg["task_seed"])


def _count(axes: dict) -> int:
    """The number of cells of :func:`_expand` (equal values, such as -0.0 and 0.0, once)."""
    return len({float(s) for s in axes["sigma"]}) * len({float(d) for d in axes["delta"]})


#: the largest input dimension D (a run's inputs are n_train × D values)
MAX_DIM = 99999
#: the most values of one axis
MAX_AXIS_VALUES = 10000


def _numbers(maximum: float) -> dict:
    return {
        "type": "array",
        "items": {"type": "number", "minimum": 0, "maximum": maximum},
        "minItems": 1,
        "maxItems": MAX_AXIS_VALUES,
    }


def _figures(levels: dict[str, list[str]]) -> tuple[str, ...]:
    """``delta_sweep`` needs more than one δ (over one it is a column of dots);
    ``over_training`` needs no δ grid."""
    return ("delta_sweep",) * (len(levels["delta"]) > 1) + ("over_training",)


FAMILY = register(
    Family(
        name="delta",
        description="δ-task (E2, Figs. 2–3): XOR of two latent bits, separable by δ",
        keys={"sigma": "float64", "delta": "float64"},
        axes_schema={
            "type": "object",
            "default": {},
            "additionalProperties": False,
            "description": "Swept axes of the δ-task.",
            "properties": {
                "delta": _numbers(100)
                | {
                    "default": [0.0, 0.25, 0.5, 0.75, 1.0],
                    "description": "Separability δ of the trained XOR (paper: linspace(0, 1, 21)).",
                },
                "sigma": _numbers(100)
                | {
                    "default": [0.1],
                    "description": "Input noise σ, per-coordinate std (paper: 0, 0.1, 0.2, 0.3).",
                },
            },
        },
        task_schema={
            "dim": {
                "type": "integer",
                "minimum": 3,
                "maximum": MAX_DIM,
                "multipleOf": 3,
                "default": 120,
                "description": "Input dimension D (three blocks of D/3).",
            },
            "task_seed": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_SEED,
                "default": 0,
                "description": "Seed of the embedding (fixed across runs, as in the paper).",
            },
        },
        expand=_expand,
        build=_build,
        defaults={
            "readouts": ["uniform"],
            "model": {"width": 120, "init": "uniform", "train_output_bias": True},
            "training": {"epochs": 5000, "batch_size": 200},
            "evaluation": {"test_sigma": 1.0, "ccgp_noise": "training"},
        },
        figures=("delta_sweep", "over_training"),
        figures_for=_figures,
        protocols={"clean": CLEAN, "original": ORIGINAL},
        main_axis="delta",
        count=_count,
    )
)
