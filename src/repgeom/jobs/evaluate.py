"""The evaluation job: every snapshot of each run of a block, under every analysis, per hidden
layer, into its metrics.parquet and dichotomies.parquet; for a family that declares them
(:class:`repgeom.tasks.Family`), its own run-level columns and each run's trajectories.parquet,
both from every saved snapshot."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from .. import storage
from ..evaluation import (
    DICHOTOMY_COLUMNS,
    RUN_COLUMNS,
    eval_settings,
    evaluate_analyses,
    extra_run_metrics,
)
from ..tasks import Task, build_task, get_family
from ..training import evaluated_epochs

log = logging.getLogger("repgeom")

#: the per-run file of neuron trajectories, beside metrics.parquet (families with trajectories)
TRAJECTORIES = "trajectories.parquet"


def trajectories_table(task: Task, epochs: np.ndarray, params: dict[str, np.ndarray]) -> pa.Table:
    """One row per saved snapshot and hidden neuron: ``epoch`` (int64), ``neuron`` (int32),
    ``intra``, ``inter`` (float32), the neuron's weights on its own axes
    (:func:`repgeom.mechanism.network_coordinates`) with the task's noise-free condition means
    and its trained label; the task must have one output."""
    from ..mechanism import network_coordinates, trajectory_frame

    if task.target.shape[1] != 1:
        raise ValueError(f"trajectories need a task with one output, not {task.target.shape[1]}")
    coords = network_coordinates(task.means, task.target[:, 0], params)  # (S, N, 2)
    frame = trajectory_frame(epochs, coords)
    # without pandas' schema metadata, as the other run files
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)


def trajectories_path(metrics_path: str | Path) -> str:
    """Where a run's trajectories.parquet lies: beside its metrics.parquet."""
    return str(Path(metrics_path).with_name(TRAJECTORIES))


def evaluate_block(
    weights_in: list[str], metrics_out: list[str], dichotomies_out: list[str], ecfg: dict
) -> list[str]:
    """Evaluate the snapshots of each run that ``evaluation.snapshots`` selects (every saved one
    by default) under every analysis (decoder × protocol); write its
    metrics.parquet (run-level metrics) and dichotomies.parquet (per-dichotomy metrics, long
    form), one row per snapshot and analysis (and dichotomy). A family's own run-level
    columns (``Family.extra_run_columns``) are computed from every saved snapshot and kept at
    the evaluated ones; a family with ``trajectories`` also gets each run's
    trajectories.parquet beside its metrics (every saved snapshot). Returns the files written
    besides ``metrics_out`` and ``dichotomies_out`` (for the job's manifest)."""
    start = time.perf_counter()
    written = []
    for i, (src, dst, dst_d) in enumerate(
        zip(weights_in, metrics_out, dichotomies_out, strict=True), start=1
    ):
        t0 = time.perf_counter()
        meta = storage.read_metadata(src)
        epochs, params = storage.read_weights(src)
        family = meta["config"]["task"]["family"]
        task = build_task(meta["config"]["task"])
        # a family's own columns and trajectories use every saved snapshot (from epoch 0)
        extra = extra_run_metrics(family, task, epochs, params)
        trajectories = (
            trajectories_table(task, epochs, params) if get_family(family).trajectories else None
        )
        # evaluation.snapshots: a subset of the saved epochs (all of them by default)
        keep = evaluated_epochs(epochs, meta["config"]["training"]["epochs"], ecfg.get("snapshots"))
        if len(keep) < len(epochs):
            idx = np.flatnonzero(np.isin(epochs, keep))
            epochs, params = epochs[idx], {k: v[idx] for k, v in params.items()}
            extra = {k: v[idx] for k, v in extra.items()}
        settings = eval_settings(ecfg, family)
        analyses = evaluate_analyses(meta["config"], params, settings, task=task)
        outcome = meta["training_outcome"]
        S, A = len(epochs), len(analyses)
        names = list(task.dichotomies)
        layer, decoder, protocol = (list(col) for col in zip(*analyses, strict=True))
        table = pa.table(
            {
                "epoch": pa.array(np.tile(epochs, A), pa.int32()),
                "layer": pa.array(np.repeat(layer, S), pa.int32()),
                "decoder": pa.array(np.repeat(decoder, S), pa.string()),
                "protocol": pa.array(np.repeat(protocol, S), pa.string()),
            }
            | {
                k: pa.array(np.concatenate([run[k] for run, _ in analyses.values()]), pa.float64())
                for k in RUN_COLUMNS
            }
            # the family's own columns: one value per snapshot, the same on every analysis row
            | {k: pa.array(np.tile(v, A), pa.float64()) for k, v in extra.items()}
            | {
                "stop_epoch": pa.array(np.full(S * A, outcome["stop_epoch"]), pa.int32()),
                "converged": pa.array(np.full(S * A, outcome["converged"])),
            }
        )
        rows = S * len(names)
        long = pa.table(
            {
                "epoch": pa.array(np.tile(epochs, len(names) * A), pa.int32()),
                "layer": pa.array(np.repeat(layer, rows), pa.int32()),
                "decoder": pa.array(np.repeat(decoder, rows), pa.string()),
                "protocol": pa.array(np.repeat(protocol, rows), pa.string()),
                # a task may name no dichotomies (CIFAR-10): then the table has no rows
                "dichotomy": pa.array(np.tile(np.repeat(np.array(names, str), S), A), pa.string()),
                "role": pa.array(
                    np.tile(np.repeat(np.array([task.role(n) for n in names], str), S), A),
                    pa.string(),
                ),
            }
            | {
                k: pa.array(
                    np.concatenate(
                        [dich[n, k] for _, dich in analyses.values() for n in names]
                        or [np.empty(0)]
                    ),
                    pa.float64(),
                )
                for k in DICHOTOMY_COLUMNS
            }
        )
        meta_out = {
            "config": meta["config"],
            "evaluation": ecfg,
            "training_outcome": outcome,
            "versions": storage.package_versions(),
            "provenance": meta["provenance"],
        }
        storage.write_parquet(table, dst, meta_out)
        storage.write_parquet(long, dst_d, meta_out)
        if trajectories is not None:
            storage.write_parquet(trajectories, trajectories_path(dst), meta_out)
            written.append(trajectories_path(dst))
        now = time.perf_counter()
        log.info(
            "run %d/%d evaluated: %s (%d snapshots × %d hidden layers × %d analyses) in %.1fs; "
            "elapsed %.0fs, eta ≤ %.0fs",
            i,
            len(weights_in),
            dst,
            S,
            len(set(layer)),
            A // len(set(layer)),
            now - t0,
            now - start,
            (now - start) / i * (len(weights_in) - i),
        )
    return written
