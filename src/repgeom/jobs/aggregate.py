"""The aggregation job: every run of one experiment into its metrics, dichotomies and summary
tables."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import storage
from ..evaluation import DICHOTOMY_COLUMNS, RUN_COLUMNS
from ..tasks import get_family

log = logging.getLogger("repgeom")

_PANDAS_TYPES = {"string": "string", "float64": "float64", "int64": "int64"}


def collect(files: list[str], experiment: str, key_types: dict[str, str]) -> pd.DataFrame:
    """Per-run tables in one frame, with ``experiment`` and the run keys as typed columns
    first (in path order)."""
    frames = []
    for f in files:
        run = storage.read_metadata(f)["config"]["run"]
        df = pd.read_parquet(f)
        for k in reversed(list(key_types)):
            df.insert(0, k, run[k])
        df.insert(0, "experiment", experiment)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    df["experiment"] = df["experiment"].astype("string")
    for k, t in key_types.items():
        df[k] = df[k].astype(_PANDAS_TYPES[t])
    return df


def summarise(
    runs: pd.DataFrame,
    dich: pd.DataFrame,
    key_types: dict[str, str],
    extra_columns: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Mean, std, sem and n over seeds per cell, epoch and metric, in long form; per-dichotomy
    metrics carry their dichotomy (null for run-level metrics). ``extra_columns``: the family's
    own run-level columns (``Family.extra_run_columns``), summarised like the common ones; n
    counts the seeds with a value (a NaN, such as a ratio at epoch 0, is left out)."""
    keys = ["experiment"] + [k for k in key_types if k != "seed"] + list(storage.ROW_KEYS)
    value_vars = list(RUN_COLUMNS) + list(extra_columns)
    run_long = runs.melt(id_vars=keys + ["seed"], value_vars=value_vars, var_name="metric")
    run_long["dichotomy"] = pd.Series(pd.NA, index=run_long.index, dtype="string")
    d_long = dich.melt(
        id_vars=keys + ["seed", "dichotomy"], value_vars=list(DICHOTOMY_COLUMNS), var_name="metric"
    )
    long = pd.concat([run_long, d_long], ignore_index=True)
    g = long.groupby(keys + ["metric", "dichotomy"], observed=True, sort=True, dropna=False)
    out = g["value"].agg(mean="mean", std="std", n="count").reset_index()
    out["sem"] = out["std"] / np.sqrt(out["n"])
    out["dichotomy"] = out["dichotomy"].astype("string")
    return out[keys + ["metric", "dichotomy", "mean", "std", "sem", "n"]]


def aggregate(
    metrics_in: list[str],
    dichotomies_in: list[str],
    out: dict[str, str],
    experiment: str,
    key_types: dict[str, str],
    config: dict,
) -> None:
    """All runs of one experiment into ``out['metrics']``, ``out['dichotomies']`` and
    ``out['summary']``."""
    runs = collect(metrics_in, experiment, key_types)
    dich = collect(dichotomies_in, experiment, key_types)
    meta = {
        "config": config,
        "experiment": experiment,
        "key_types": key_types,
        "versions": storage.package_versions(),
        "n_runs": len(metrics_in),
    }
    for name, df in (("metrics", runs), ("dichotomies", dich)):
        storage.write_parquet(pa.Table.from_pandas(df, preserve_index=False), out[name], meta)
    summary = summarise(runs, dich, key_types, get_family(config["family"]).extra_run_columns)
    storage.write_parquet(pa.Table.from_pandas(summary, preserve_index=False), out["summary"], meta)
    log.info("aggregated %d runs of %s", len(metrics_in), experiment)
