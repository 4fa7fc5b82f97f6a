"""A run's samples, regenerated from its seeds (condition-mean tasks) or read from its data set
(data-set tasks), for the training job and the evaluation alike.

Condition-mean tasks draw every sample set from its own stream of the run's data seed, so the
evaluation regenerates the training samples bit for bit without the trainer. A data-set task
(``task.fixed_data``) gives the same images to every run: its training job holds them once.
"""

from __future__ import annotations

import numpy as np

from .tasks import (
    STREAM_NOISY_TEST,
    STREAM_NOISY_TRAIN,
    STREAM_PROTOCOL,
    STREAM_TEST,
    STREAM_TRAIN,
    Task,
    build_task,
    data_rng,
)


def make_datasets(
    task_cfg: dict,
    test_sigma: float | None = None,
    task: Task | None = None,
    protocol_sigma: float | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The run's samples as name → (conditions (n,), inputs (n, …) float32).

    ``train``/``test`` at the task's noise (the trainer uses ``train``); with ``test_sigma``
    also ``noisy_train``/``noisy_test`` drawn at that noise from their own streams; with
    ``protocol_sigma`` also ``protocol`` (n_train samples at that noise, its own stream). A
    data-set task gives its fixed evaluation sets (``train``, ``test``) and nothing noisy.
    """
    task = task or build_task(task_cfg)
    if task.fixed_data:
        return task.evaluation_samples()
    ds, n_tr, n_te = task_cfg["data_seed"], task_cfg["n_train"], task_cfg["n_test"]
    out = {
        "train": task.sample(n_tr, data_rng(ds, STREAM_TRAIN)),
        "test": task.sample(n_te, data_rng(ds, STREAM_TEST)),
    }
    if test_sigma is not None:
        out["noisy_train"] = task.sample(n_tr, data_rng(ds, STREAM_NOISY_TRAIN), test_sigma)
        out["noisy_test"] = task.sample(n_te, data_rng(ds, STREAM_NOISY_TEST), test_sigma)
    if protocol_sigma is not None:
        out["protocol"] = task.sample(n_tr, data_rng(ds, STREAM_PROTOCOL), protocol_sigma)
    return out


def training_samples(task_cfg: dict, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """(conditions (n,), inputs (n, …) float32) a run trains on."""
    if task.fixed_data:
        return task.training_samples()
    return task.sample(task_cfg["n_train"], data_rng(task_cfg["data_seed"], STREAM_TRAIN))
