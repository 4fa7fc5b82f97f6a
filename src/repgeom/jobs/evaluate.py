"""The evaluation job: every snapshot of each run of a block, under every analysis, per hidden
layer, into its metrics.parquet and dichotomies.parquet."""

from __future__ import annotations

import logging
import time

import numpy as np
import pyarrow as pa

from .. import storage
from ..evaluation import DICHOTOMY_COLUMNS, RUN_COLUMNS, eval_settings, evaluate_analyses
from ..tasks import build_task
from ..training import evaluated_epochs

log = logging.getLogger("repgeom")


def evaluate_block(
    weights_in: list[str], metrics_out: list[str], dichotomies_out: list[str], ecfg: dict
) -> None:
    """Evaluate the snapshots of each run that ``evaluation.snapshots`` selects (every saved one
    by default) under every analysis (decoder × protocol); write its
    metrics.parquet (run-level metrics) and dichotomies.parquet (per-dichotomy metrics, long
    form), one row per snapshot and analysis (and dichotomy)."""
    start = time.perf_counter()
    for i, (src, dst, dst_d) in enumerate(
        zip(weights_in, metrics_out, dichotomies_out, strict=True), start=1
    ):
        t0 = time.perf_counter()
        meta = storage.read_metadata(src)
        epochs, params = storage.read_weights(src)
        # evaluation.snapshots: a subset of the saved epochs (all of them by default)
        keep = evaluated_epochs(epochs, meta["config"]["training"]["epochs"], ecfg.get("snapshots"))
        if len(keep) < len(epochs):
            idx = np.flatnonzero(np.isin(epochs, keep))
            epochs, params = epochs[idx], {k: v[idx] for k, v in params.items()}
        task = build_task(meta["config"]["task"])
        settings = eval_settings(ecfg, meta["config"]["task"]["family"])
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
