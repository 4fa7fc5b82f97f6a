"""What every task family provides: conditions, their means, trained targets and the dichotomies
that the metrics analyse.

A task has C conditions. Condition c has a noise-free mean input x̄_c ∈ R^D; a sample is
x = x̄_c + σ ξ with ξ ~ N(0, I_D) (σ is a per-coordinate standard deviation). A *dichotomy* is a
balanced split of the conditions, given as 0/1 labels over conditions, shape (C,). A task names
its trained targets (the network's k outputs, in output order) and its latent input variables;
the metrics analyse each named dichotomy and, for the shattering dimension, every balanced
dichotomy (or a fixed sample of them when there are too many).

All randomness comes from explicit seeds through NumPy's ``SeedSequence``, so that the
evaluation step regenerates a run's data bit for bit on any machine.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from functools import cached_property

import numpy as np

# Streams drawn from a data seed; fixed numbers keep old results reproducible.
STREAM_TRAIN = 0
STREAM_TEST = 1
STREAM_NOISY_TRAIN = 2
STREAM_NOISY_TEST = 3
STREAM_PROTOCOL = 4  # fresh samples a protocol asks for at its own noise

#: the largest seed a configuration may give (network, task and data seeds): seeds become int64
#: path keys and parquet columns and seed torch and NumPy generators; the network seeds were
#: already bounded to a signed 32-bit integer, and every seed shares their bound
MAX_SEED = 2**31 - 1

#: up to this many conditions the shattering dimension uses every balanced dichotomy
SHATTER_ENUMERATE_MAX_C = 8
#: how many balanced dichotomies are sampled (once, with a fixed seed) for larger C
SHATTER_SAMPLE = 100
_SHATTER_SEED = 20240513


def data_rng(data_seed: int, stream: int) -> np.random.Generator:
    """Independent generator for one data stream (train, test, …) of one data seed."""
    return np.random.default_rng(np.random.SeedSequence(entropy=data_seed, spawn_key=(stream,)))


def n_balanced_dichotomies(C: int) -> int:
    """Number of balanced dichotomies of C conditions, counting a split and its complement once."""
    return math.comb(C, C // 2) // 2


def balanced_dichotomies(C: int) -> np.ndarray:
    """Every balanced dichotomy of C conditions once, shape (C(C, C/2)/2, C), 0/1.

    Condition 0 is always negative (label 0), which picks one of each complementary pair.
    """
    rows = []
    for pos in itertools.combinations(range(1, C), C // 2):
        lab = np.zeros(C, dtype=np.int64)
        lab[list(pos)] = 1
        rows.append(lab)
    return np.array(rows)


def sampled_dichotomies(C: int, n: int, seed: int = _SHATTER_SEED) -> np.ndarray:
    """``n`` distinct balanced dichotomies drawn uniformly, shape (n, C), 0/1.

    Fixed by ``seed`` and C alone, so every run of a task shares the sample. As in
    :func:`balanced_dichotomies`, condition 0 is negative.
    """
    if n >= n_balanced_dichotomies(C):
        return balanced_dichotomies(C)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(C,)))
    seen, rows = set(), []
    while len(rows) < n:
        lab = np.zeros(C, dtype=np.int64)
        lab[rng.choice(C, C // 2, replace=False)] = 1
        if lab[0]:
            lab = 1 - lab
        key = lab.tobytes()
        if key not in seen:
            seen.add(key)
            rows.append(lab)
    return np.array(rows)


def splits_balanced(labels: np.ndarray, context: np.ndarray) -> bool:
    """Whether both halves of ``context`` hold as many positive as negative conditions of
    ``labels`` (both (C,) 0/1): then the context defines CCGP splits for the dichotomy."""
    return all(labels[context == v].sum() * 2 == (context == v).sum() for v in (0, 1))


class Task(ABC):
    """A task instance: one point of a family's axes with its fixed parameters.

    Subclasses give :attr:`means`, :attr:`targets`, :attr:`latents` and :attr:`alignment`;
    everything else follows from them.
    """

    #: per-coordinate standard deviation of the input noise
    sigma: float
    #: the loss the network is trained with (:mod:`repgeom.losses`): k binary outputs
    loss: str = "bce"
    #: what the kernel alignments are computed on: ``means``, the noise-free condition means;
    #: a data-set task without condition means says ``samples`` (:meth:`kernel_inputs`)
    kernel_on: str = "means"
    #: whether every run sees the same samples (a data set) rather than its own draws
    fixed_data: bool = False

    @property
    @abstractmethod
    def means(self) -> np.ndarray:
        """Noise-free condition means x̄_c, shape (C, D) float64."""

    @property
    @abstractmethod
    def targets(self) -> dict[str, np.ndarray]:
        """Trained dichotomies in output order: name → labels (C,) in {0, 1}."""

    @property
    @abstractmethod
    def latents(self) -> dict[str, np.ndarray]:
        """Latent input variables as dichotomies: name → labels (C,) in {0, 1}. They define the
        "proper" CCGP splits."""

    @property
    @abstractmethod
    def alignment(self) -> float:
        """The task's input–target alignment CKA(K_x, K_y) in closed form."""

    # -- derived ---------------------------------------------------------------------------
    @property
    def n_conditions(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def kernel_inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(inputs for the network (C, …) float32, features of the input Gram K_x, features of
        the target Gram K_y): the condition means, the means, the 0/1 targets."""
        return self.means.astype(np.float32), self.means, self.target.astype(float)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input, (D,)."""
        return (self.dim,)

    @property
    def target(self) -> np.ndarray:
        """Trained labels per condition, shape (C, k), in output order."""
        return np.stack(list(self.targets.values()), axis=1)

    @property
    def dichotomies(self) -> dict[str, np.ndarray]:
        """The named dichotomies the per-dichotomy metrics analyse: targets, then latents."""
        return self.targets | self.latents

    def role(self, name: str) -> str:
        """``target``, ``latent`` or ``target, latent`` (a latent bit that is also trained)."""
        return ", ".join(
            r for r, group in (("target", self.targets), ("latent", self.latents)) if name in group
        )

    def proper_contexts(self, name: str) -> list[np.ndarray]:
        """Latent variables (other than ``name`` itself) whose halves split dichotomy ``name``
        into balanced halves: the contexts of CCGP_proper (train where the context is 1, test
        where it is 0, and the reverse)."""
        labels = self.dichotomies[name]
        return [
            ctx
            for other, ctx in self.latents.items()
            if other != name
            and not np.array_equal(ctx, labels)
            and not np.array_equal(ctx, 1 - labels)
            and splits_balanced(labels, ctx)
        ]

    @cached_property
    def shattering_dichotomies(self) -> np.ndarray:
        """Dichotomies of the shattering dimension, shape (M, C): all balanced ones for
        C ≤ 8, a fixed sample of 100 for larger C."""
        C = self.n_conditions
        if C <= SHATTER_ENUMERATE_MAX_C:
            return balanced_dichotomies(C)
        return sampled_dichotomies(C, SHATTER_SAMPLE)

    def sample(self, n: int, rng: np.random.Generator, sigma: float | None = None):
        """Draw ``n`` i.i.d. samples.

        Returns ``(conditions, x)``: conditions (n,) int64 uniform over {0..C−1}, inputs (n, D)
        float32 equal to the condition mean plus ``sigma``·N(0, I) (``sigma`` defaults to the
        task's).
        """
        sigma = self.sigma if sigma is None else sigma
        cond = rng.integers(0, self.n_conditions, size=n)
        x = self.means[cond] + sigma * rng.standard_normal((n, self.dim))
        return cond, x.astype(np.float32)
