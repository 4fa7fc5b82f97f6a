"""Unstructured inputs (experiment E1, paper Fig. 1): the mechanism in weight space.

Four conditions whose means are independent standard normal vectors in R^D, centred across the
conditions, so the inputs carry no structure of their own; the network is trained on one
balanced dichotomy of them, {0, 3} against {1, 2}, and the other two balanced dichotomies,
{0, 2}|{1, 3} and {0, 1}|{2, 3}, are the untrained ones. Axis: the input noise σ. The means
are fixed by the task seed (as in the paper: every network sees the same four points).

The paper's network for it (the family's defaults): width 120, W ~ U(−1, 1)/√D, a frozen
balanced ±1/√N readout, the output bias frozen at 0 and the hidden bias fixed, not trained, at
−0.1 for tanh and +0.1 for relu (``model.hidden_bias``); SGD at lr 0.1 (RMSprop at 0.01 as an
``optimizers`` axis value), batch 200, 10 000 epochs, early stop at 10⁻¹⁰.

The family's evaluation also writes each run's neuron trajectories (``trajectories.parquet``:
every hidden neuron's weights on its own intra- and inter-class axes at every saved snapshot,
:mod:`repgeom.mechanism`) and adds the run-level columns :data:`MOVEMENT_COLUMNS`: how far the
neurons moved along each axis since initialisation, and the ratio intra/inter that separates
tanh (≪ 1, along the inter-class axis) from relu (along both). Both need the one-hidden-layer
network, which :func:`_check` asks for at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import Family, register
from .base import MAX_SEED, Task
from .delta import condition_bits

#: number of conditions
N_CONDITIONS = 4
#: the largest input dimension D (a run's inputs are n_train × D values)
MAX_DIM = 99999
#: the most values of one axis
MAX_AXIS_VALUES = 10000
#: the run-level columns the family adds to metrics.parquet (:func:`movement_metrics`)
MOVEMENT_COLUMNS = ("movement_intra", "movement_inter", "movement_ratio")


def unstructured_dichotomies() -> dict[str, np.ndarray]:
    """The three balanced dichotomies of the four conditions, 0/1 labels of shape (4,).

    ``target`` (trained): positive for c ∈ {0, 3}; ``b1``: positive for c ∈ {0, 2};
    ``b2``: positive for c ∈ {0, 1} (the δ-task's bit order, :func:`condition_bits`). The
    target is b1 XNOR b2; with unstructured inputs no dichotomy is special to the input.
    """
    b1, b2 = condition_bits()
    return {"target": 1 - (b1 ^ b2), "b1": b1, "b2": b2}


def centred_means(dim: int, rng: np.random.Generator) -> np.ndarray:
    """Four N(0, I_dim) draws minus their mean across the four, shape (4, dim)."""
    x = rng.standard_normal((N_CONDITIONS, dim))
    return x - x.mean(axis=0, keepdims=True)


def _centred_gram(x: np.ndarray) -> np.ndarray:
    h = np.eye(len(x)) - 1 / len(x)
    return h @ (x @ x.T) @ h


def cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of two representations of the same conditions (rows)."""
    kx, ky = _centred_gram(x), _centred_gram(y)
    return float((kx * ky).sum() / np.sqrt((kx * kx).sum() * (ky * ky).sum()))


@dataclass(frozen=True)
class UnstructuredTask(Task):
    """Four centred random condition means. ``sigma`` is the per-coordinate standard deviation
    of the input noise; ``task_seed`` fixes the means."""

    sigma: float
    dim: int = 200
    task_seed: int = 0

    @cached_property
    def means(self) -> np.ndarray:
        """Noise-free condition means, shape (4, dim), summing to 0 over the conditions."""
        return centred_means(self.dim, np.random.default_rng(self.task_seed))

    @property
    def targets(self) -> dict[str, np.ndarray]:
        return {"target": unstructured_dichotomies()["target"]}

    @property
    def latents(self) -> dict[str, np.ndarray]:
        d = unstructured_dichotomies()
        return {"b1": d["b1"], "b2": d["b2"]}

    @cached_property
    def alignment(self) -> float:
        """CKA(K_x, K_y) of the drawn means, exact for this draw. At large D the four centred
        means are nearly orthogonal, their centred Gram ≈ D·(I − 11ᵀ/4), whose CKA with any
        balanced dichotomy is 1/√3 ≈ 0.577 (tested); a draw scatters around it."""
        return cka(self.means, self.target.astype(float))


def _figures(levels: dict[str, list[str]]) -> tuple[str, ...]:
    """``fig1_geometry`` always; ``fig1_trajectories`` (each neuron's input weights on its own
    axes) only where every architecture has one hidden layer, whose weights the axes are in."""
    from ..networks import n_layers

    shallow = all(n_layers(a) == 1 for a in levels["arch"])
    return ("fig1_geometry",) + ("fig1_trajectories",) * shallow


def movement_metrics(
    task: UnstructuredTask, epochs: np.ndarray, params: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The columns :data:`MOVEMENT_COLUMNS` at every saved snapshot (S,): the mean over hidden
    neurons of |w_i(t)·û − w_i(0)·û| along each neuron's own intra- and inter-class axes
    (:func:`repgeom.mechanism.movement`, displacement from the first saved snapshot, epoch 0),
    and their ratio intra/inter (NaN where nothing has moved yet: at epoch 0)."""
    from ..mechanism import movement, network_coordinates

    moved = movement(network_coordinates(task.means, task.target[:, 0], params))
    intra, inter = moved[:, 0], moved[:, 1]
    ratio = np.divide(intra, inter, out=np.full_like(intra, np.nan), where=inter > 0)
    return dict(zip(MOVEMENT_COLUMNS, (intra, inter, ratio), strict=True))


def _check(exp: dict) -> list[tuple[str, str]]:
    """Parse-time check: the trajectories and the movement columns are defined for the
    one-hidden-layer network only (each neuron's incoming weights in input space)."""
    from ..networks import n_layers

    deep = []
    for arch in exp.get("architectures", []):
        try:
            if n_layers(arch) != 1:
                deep.append(arch)
        except ValueError:
            pass  # an unknown name: the schema's error says so
    if not deep:
        return []
    why = (
        f"{', '.join(map(str, deep))}: the unstructured family's neuron trajectories and "
        "movement columns need the one-hidden-layer network (each neuron's weights in input "
        "space); use architectures: [shallow]"
    )
    return [("architectures", why)]


def _expand(axes: dict) -> list[dict]:
    return [{"sigma": s} for s in axes["sigma"]]


def _build(cfg: dict) -> UnstructuredTask:
    return UnstructuredTask(cfg["sigma"], cfg["dim"], cfg["task_seed"])


FAMILY = register(
    Family(
        name="unstructured",
        description="unstructured inputs (E1, Fig. 1): four centred random means, one trained "
        "dichotomy {0,3}|{1,2}",
        keys={"sigma": "float64"},
        axes_schema={
            "type": "object",
            "default": {},
            "additionalProperties": False,
            "description": "Swept axes of the unstructured task.",
            "properties": {
                "sigma": {
                    "type": "array",
                    "items": {"type": "number", "minimum": 0, "maximum": 100},
                    "minItems": 1,
                    "maxItems": MAX_AXIS_VALUES,
                    "default": [1.0],
                    "description": "Input noise σ, per-coordinate std (paper: 1).",
                },
            },
        },
        task_schema={
            "dim": {
                "type": "integer",
                "minimum": 3,
                "maximum": MAX_DIM,
                "default": 200,
                "description": "Input dimension D (paper: 200).",
            },
            "task_seed": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_SEED,
                "default": 0,
                "description": "Seed of the four means (fixed across runs, as in the paper).",
            },
        },
        expand=_expand,
        build=_build,
        defaults={
            "readouts": ["balanced"],
            "model": {
                "width": 120,
                "init": "uniform",
                "train_output_bias": False,
                "output_bias": 0.0,
                "train_hidden_bias": False,
                "hidden_bias": {"tanh": -0.1, "relu": 0.1},
            },
            "training": {
                "epochs": 10000,
                "batch_size": 200,
                "conv_tol": 1e-10,
                "lr": {"sgd": 0.1, "rmsprop": 0.01},
                "snapshots": {"schedule": "linear", "every": 10},
            },
            "evaluation": {
                "test_sigma": 1.0,
                "ccgp_noise": "training",
                "snapshots": {"schedule": "log", "count": 30},
            },
        },
        figures=("fig1_geometry", "fig1_trajectories"),
        figures_for=_figures,
        count=lambda axes: len({float(s) for s in axes["sigma"]}),
        check=_check,
        trajectories=True,
        extra_run_columns=MOVEMENT_COLUMNS,
        run_metrics=movement_metrics,
    )
)
