"""Task families and their registry.

A family is one module that defines its task class and registers a :class:`Family`: the axes it
sweeps (with their JSON schema and path types), its fixed parameters, its paper defaults, how
its axes expand into cells, and how a run's task configuration builds a :class:`Task`. Nothing
outside the module lists a family's names: the configuration schema, the sweep, the trainer and
the metrics all go through :func:`get_family` and the :class:`Task` interface.

Importing this package imports NumPy but not torch: the Snakefile reads the registry on every
parse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..protocols import CLEAN, Protocol
from .base import (
    MAX_SEED,
    STREAM_NOISY_TEST,
    STREAM_NOISY_TRAIN,
    STREAM_PROTOCOL,
    STREAM_TEST,
    STREAM_TRAIN,
    Task,
    data_rng,
)

#: path types of axis keys (the hive partition types of the run tree)
KEY_TYPES = ("string", "int64", "float64")


@dataclass(frozen=True)
class Family:
    """A registered task family.

    ``keys``: the family's axis keys in path order, each with its type (``string``, ``int64``,
    ``float64``). ``axes_schema``/``task_schema``: JSON schemas of an experiment's ``axes`` and
    ``task`` sections (the keys shared by every family, such as ``n_train``, are added by the
    configuration schema). ``defaults``: the experiment sections' defaults for this family (the
    paper's settings), applied under the user's values. ``expand``: validated ``axes`` → the
    cells, each a dict key → value (str, int or float). ``build``: a run's ``task`` config
    (cell values and fixed parameters) → :class:`Task`. ``figures``: the names of the figures
    drawn for an experiment of this family (by ``repgeom.figures.<family>``); ``figures_for``:
    an experiment's axis values (key → its distinct values, as spelled in paths, the shared
    keys ``act``, ``arch`` and ``readout`` included) → the ones of ``figures`` that show
    something for those axes (None: all of them), so that no figure plots an axis with one
    value or contrasts activations the experiment lacks. ``protocols``:
    the evaluation protocols an experiment may name (``repgeom.protocols``): ``clean`` for every
    family, and what else the family defines (e.g. ``original``, as the paper's code ran it).
    ``main_axis``: the axis that generic figures put on x (e.g. δ) when it takes more than one
    value. ``check``: a resolved experiment (its ``axes``, ``task``, ``model``, …, validated by
    the schema) → the cross-key problems a job would otherwise hit, each as (key below the
    experiment such as ``task.dim``, why and what to do); run at parse time. ``count``:
    validated ``axes`` → the number of distinct cells :attr:`expand` gives, computed without
    expanding (so that a sweep too large to plan is refused before it is built). ``inputs``:
    what one input is, ``vector`` (D,) or ``image`` (C, H, W): the networks that take it
    (:data:`repgeom.networks.INPUTS`).

    Per-run outputs beyond the common ones, which the evaluation job computes from *every saved*
    snapshot (not only the evaluated ones) without any family-specific code of its own:
    ``trajectories``: whether it writes each run's ``trajectories.parquet``, every hidden
    neuron's weights on its own intra- and inter-class axes at every saved snapshot
    (:func:`repgeom.mechanism.network_coordinates`; a one-output task of four conditions and a
    one-hidden-layer network). ``extra_run_columns``: run-level metric columns the family adds
    after :data:`repgeom.evaluation.RUN_COLUMNS` in its metrics.parquet (and so in the
    aggregates and the summary); ``run_metrics`` computes them: (task, saved epochs (S,),
    parameters name → (S, …) in epoch order) → column → (S,) values, one per saved snapshot,
    in ``extra_run_columns`` order. They repeat on every layer and analysis row of a snapshot,
    as the losses do. Other families' tables keep exactly the common columns.
    """

    name: str
    description: str
    keys: dict[str, str]
    axes_schema: dict
    task_schema: dict
    expand: Callable[[dict], list[dict]]
    build: Callable[[dict], Task]
    defaults: dict = field(default_factory=dict)
    figures: tuple[str, ...] = ()
    figures_for: Callable[[dict[str, list[str]]], tuple[str, ...]] | None = None
    protocols: dict[str, Protocol] = field(default_factory=lambda: {"clean": CLEAN})
    main_axis: str | None = None
    check: Callable[[dict], list[tuple[str, str]]] | None = None
    count: Callable[[dict], int] | None = None
    inputs: str = "vector"
    trajectories: bool = False
    extra_run_columns: tuple[str, ...] = ()
    run_metrics: (
        Callable[[Task, np.ndarray, dict[str, np.ndarray]], dict[str, np.ndarray]] | None
    ) = None


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    if "clean" not in family.protocols or any(p.name != n for n, p in family.protocols.items()):
        raise ValueError(f"family {family.name!r}: protocols need 'clean' and matching names")
    if family.name in FAMILIES:
        raise ValueError(f"task family {family.name!r} is registered twice")
    if bool(family.extra_run_columns) != (family.run_metrics is not None) or len(
        set(family.extra_run_columns)
    ) != len(family.extra_run_columns):
        raise ValueError(
            f"family {family.name!r}: extra_run_columns (distinct names) need run_metrics, and "
            "run_metrics needs extra_run_columns"
        )
    bad = {k: t for k, t in family.keys.items() if t not in KEY_TYPES}
    if bad:
        raise ValueError(f"family {family.name!r}: key types {bad} not in {KEY_TYPES}")
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> Family:
    """Look a family up by name; the error lists the registered families."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(
            f"unknown task family {name!r}; allowed: {', '.join(sorted(FAMILIES))}"
        ) from None


def build_task(task_cfg: dict) -> Task:
    """The task of one run from its resolved ``task`` configuration (with ``family``)."""
    return get_family(task_cfg["family"]).build(task_cfg)


# the families register themselves on import
from . import alignment, cifar10, delta, unstructured  # noqa: E402, F401

__all__ = [
    "FAMILIES",
    "Family",
    "MAX_SEED",
    "STREAM_NOISY_TEST",
    "STREAM_NOISY_TRAIN",
    "STREAM_PROTOCOL",
    "STREAM_TEST",
    "STREAM_TRAIN",
    "Task",
    "build_task",
    "data_rng",
    "get_family",
    "register",
]
