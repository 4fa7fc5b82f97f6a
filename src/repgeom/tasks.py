"""Task generators.

The δ-task (paper_spec §3.3, experiment E2): two latent bits b1, b2 and their XOR q embedded in
R^D along three unit vectors with disjoint supports; the XOR direction is scaled by δ, which makes
the trained dichotomy (the XOR) linearly separable with a margin that grows with δ.

All randomness comes from explicit seeds through NumPy's ``SeedSequence`` so that data can be
regenerated bit for bit by the evaluation step on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: number of conditions of the δ-task
N_CONDITIONS = 4

# Streams drawn from a data seed; fixed numbers keep old results reproducible.
STREAM_TRAIN = 0
STREAM_TEST = 1
STREAM_NOISY_TRAIN = 2
STREAM_NOISY_TEST = 3


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


#: dichotomies that are latent input variables (used by CCGP_proper)
LATENTS = ("b1", "b2")


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


@dataclass(frozen=True)
class DeltaTask:
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
    def dichotomies(self) -> dict[str, np.ndarray]:
        return delta_dichotomies()

    @property
    def target(self) -> np.ndarray:
        """Trained labels per condition, shape (4, 1) (one output)."""
        return self.dichotomies["xor"][:, None]

    def sample(self, n: int, rng: np.random.Generator, sigma: float | None = None):
        """Draw ``n`` i.i.d. samples.

        Returns ``(conditions, x)``: conditions (n,) int64 uniform over {0..3}, inputs (n, dim)
        float32 equal to the condition mean plus ``sigma``·N(0, I) (``sigma`` defaults to the
        task's).
        """
        sigma = self.sigma if sigma is None else sigma
        cond = rng.integers(0, N_CONDITIONS, size=n)
        x = self.means[cond] + sigma * rng.standard_normal((n, self.dim))
        return cond, x.astype(np.float32)


def data_rng(data_seed: int, stream: int) -> np.random.Generator:
    """Independent generator for one data stream (train, test, …) of one data seed."""
    return np.random.default_rng(np.random.SeedSequence(entropy=data_seed, spawn_key=(stream,)))


def task_alignment(delta: float) -> float:
    """Closed-form CKA between the δ-task's input and target kernels: δ²/√(2+δ⁴)."""
    return delta**2 / np.sqrt(2 + delta**4)
