"""Reading an experiment's results without mixing what must not be averaged together.

The aggregated tables hold every snapshot of every run, for every hidden layer and every
analysis (decoder × protocol): a plain ``groupby(...).mean()`` over them averages epochs,
layers and analyses. :func:`final_runs` returns one tidy row per run (and per dichotomy for the
per-dichotomy table) at one epoch, for one analysis and chosen layers, read from verified
tables; ``python -m repgeom table`` prints or writes the same. ``headline`` computes its numbers
from these rows (mean ± s.e.m. over seeds per cell).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import manifests, storage

TABLES = ("metrics", "dichotomies")


class SelectionError(ValueError):
    """A selection the tables cannot give (an analysis, epoch or layer they do not hold)."""


def _choices(values) -> str:
    return ", ".join(str(v) for v in sorted(set(values), key=str))


def final_runs(
    experiment_dir: str | Path,
    table: str = "metrics",
    decoder: str | None = None,
    protocol: str | None = None,
    epoch: int | str = "final",
    layer: int | str = "last",
) -> pd.DataFrame:
    """One row per run (per run and dichotomy for ``table="dichotomies"``) of one experiment.

    ``decoder``/``protocol``: the analysis (default: the experiment's primary one, its first
    configured decoder and protocol); ``epoch``: ``"final"`` (each run's last snapshot) or a
    snapshot epoch every run has; ``layer``: ``"last"`` (each architecture's last hidden
    layer), ``"all"`` or a layer number. Columns: the run keys (typed), ``epoch``, ``layer``,
    then the metrics (``dichotomy`` and ``role`` first for the per-dichotomy table); no
    analysis columns. Raises :class:`SelectionError` naming the allowed values, and
    :class:`repgeom.manifests.ManifestError` for a damaged or missing table.
    """
    if table not in TABLES:
        raise SelectionError(f"table {table!r} is not one of {', '.join(TABLES)}")
    exp = Path(experiment_dir)
    path = manifests.verify_table(exp, f"{table}.parquet")
    meta = storage.read_metadata(path)
    key_types = meta["key_types"]
    df = pd.read_parquet(path)
    primary = storage.primary_analysis(meta["config"]["evaluation"]) or ("svm", "clean")
    if "decoder" in df.columns:
        want = (decoder or primary[0], protocol or primary[1])
        have = set(zip(df["decoder"], df["protocol"], strict=True))
        if want not in have:
            raise SelectionError(
                f"{exp.name} has no analysis {want[0]}/{want[1]}; it has "
                f"{_choices(f'{d}/{p}' for d, p in have)}"
            )
        df = df[(df["decoder"] == want[0]) & (df["protocol"] == want[1])]
        df = df.drop(columns=list(storage.ANALYSIS_KEYS))
    if "layer" in df.columns:
        if layer == "last":
            df = storage.last_layer(df)
        elif layer != "all":
            if int(layer) not in set(df["layer"]):
                raise SelectionError(
                    f"{exp.name} has no hidden layer {layer}; it has {_choices(df['layer'])}, "
                    "'last' or 'all'"
                )
            df = df[df["layer"] == int(layer)]
    run = [*key_types] + (["layer"] if "layer" in df.columns else [])
    if epoch == "final":
        df = df[df["epoch"] == df.groupby(run, observed=True)["epoch"].transform("max")]
    else:
        if int(epoch) not in set(df["epoch"]):
            raise SelectionError(
                f"{exp.name} has no snapshot at epoch {epoch}; it has {_choices(df['epoch'])} "
                "or 'final'"
            )
        df = df[df["epoch"] == int(epoch)]
    return df.reset_index(drop=True)


def cell_means(df: pd.DataFrame, columns: list[str], by: list[str]) -> pd.DataFrame:
    """Mean, s.e.m. and n over seeds of ``columns`` per group ``by`` (e.g. act and δ) of
    :func:`final_runs` rows: columns ``<column>``, ``<column>_sem`` and ``n``."""
    g = df.groupby(by, observed=True)
    out = g[columns].mean()
    sem = g[columns].sem().add_suffix("_sem")
    out = out.join(sem)
    out["n"] = g.size()
    return out.reset_index()
