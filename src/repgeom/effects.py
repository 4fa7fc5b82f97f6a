"""How far each analysis moves the metrics: every (decoder, protocol) against the primary one.

For each metric that an analysis can change (decoding-based metrics and the parallelism score),
the difference to the primary analysis is taken row by row (same run, snapshot and dichotomy)
and summarised: the largest |Δ| over every snapshot, the mean signed Δ, and the largest |Δ| of
the seed-mean at the final epoch (what a figure shows). ``python -m repgeom effects`` prints it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: metrics an analysis can change: (table, column)
METRICS = (
    ("metrics", "shattering_dim"),
    ("metrics", "shattering_dim_noisy"),
    ("dichotomies", "ps"),
    ("dichotomies", "ccgp"),
    ("dichotomies", "ccgp_proper"),
    ("dichotomies", "decoding"),
    ("dichotomies", "decoding_noisy"),
)
COLUMNS = (
    "decoder",
    "protocol",
    "metric",
    "dichotomy",
    "max_abs_diff",
    "mean_diff",
    "max_abs_diff_final_mean",
    "n_rows",
)


def effects(
    tables: dict[str, pd.DataFrame], key_types: dict[str, str], primary: tuple[str, str]
) -> pd.DataFrame:
    """Per other analysis, metric and dichotomy (``*`` for run-level metrics): the differences
    to ``primary``. ``tables``: ``metrics`` and ``dichotomies`` as aggregated."""
    from .storage import layer_keys

    keys = list(layer_keys(key_types, tables["metrics"]))
    rows = []
    for table, metric in METRICS:
        df = tables[table]
        by = keys + ["epoch"] + (["dichotomy"] if table == "dichotomies" else [])
        base = df[(df["decoder"] == primary[0]) & (df["protocol"] == primary[1])]
        base = base.set_index(by)[metric]
        for (dec, prot), other in df.groupby(["decoder", "protocol"], sort=False):
            if (dec, prot) == primary:
                continue
            diff = (other.set_index(by)[metric] - base).dropna().rename("diff").reset_index()
            if diff.empty:
                continue
            last = diff.groupby(keys, observed=True)["epoch"].transform("max")
            cell = [k for k in by if k not in ("seed", "epoch")]
            final = diff[diff["epoch"] == last].groupby(cell, observed=True)["diff"].mean()
            for name, g in diff.groupby("dichotomy") if table == "dichotomies" else [("*", diff)]:
                f = final.xs(name, level="dichotomy") if table == "dichotomies" else final
                rows.append(
                    {
                        "decoder": dec,
                        "protocol": prot,
                        "metric": metric,
                        "dichotomy": name,
                        "max_abs_diff": g["diff"].abs().max(),
                        "mean_diff": g["diff"].mean(),
                        "max_abs_diff_final_mean": f.abs().max(),
                        "n_rows": len(g),
                    }
                )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def format_effects(df: pd.DataFrame, primary: tuple[str, str]) -> str:
    """The effects as a readable table, one block per analysis."""
    lines = []
    for (dec, prot), g in df.groupby(["decoder", "protocol"], sort=False):
        lines.append(f"  {dec}/{prot} minus {primary[0]}/{primary[1]}:")
        lines.append(
            f"    {'metric':<22} {'dichotomy':<12} {'max|Δ| (any snapshot)':>22} "
            f"{'mean Δ':>8} {'max|Δ| of final seed-means':>27}"
        )
        for r in g.itertuples():
            lines.append(
                f"    {r.metric:<22} {r.dichotomy:<12} {r.max_abs_diff:>22.3f} "
                f"{r.mean_diff:>+8.3f} {r.max_abs_diff_final_mean:>27.3f}"
            )
    return "\n".join(lines)


def contrast_signs(
    final: pd.DataFrame, value: str, at: list[str], a: str = "tanh", b: str = "relu", tol=0.02
) -> pd.Series:
    """Per analysis (decoder, protocol) and cell ``at``: the sign (−1, 0 or +1; 0 where the
    difference is under ``tol``) of the seed-mean ``value`` of activation ``a`` minus ``b``,
    from ``final`` (one row per run, analysis and cell, with an ``act`` column)."""
    by = ["decoder", "protocol", *at]
    means = final.groupby([*by, "act"], observed=True)[value].mean().unstack("act")
    if a not in means or b not in means:
        return pd.Series(dtype=float)
    diff = (means[a] - means[b]).dropna()
    return diff.where(diff.abs() >= tol, 0.0).apply(lambda x: float(np.sign(x)))


def decoder_reversals(
    final: pd.DataFrame, value: str, at: list[str], primary: tuple[str, str], **kw
) -> dict[str, list[tuple]]:
    """Per decoder other than the primary one (under the primary protocol): the cells ``at``
    where the tanh − relu difference of ``value`` (:func:`contrast_signs`) has another sign
    than under the primary analysis; decoders without such a cell are left out."""
    signs = contrast_signs(final, value, at, **kw)
    if signs.empty:
        return {}
    dec0, prot = primary
    by_analysis = signs.unstack([*at]) if at else signs.to_frame().T
    if (dec0, prot) not in by_analysis.index:
        return {}
    base = by_analysis.loc[(dec0, prot)]
    out = {}
    for (dec, p), row in by_analysis.iterrows():
        if p != prot or dec == dec0:
            continue
        differ = (row != base) & row.notna() & base.notna()
        cells = [c if isinstance(c, tuple) else (c,) for c in row.index[differ]]
        if cells:
            out[dec] = cells
    return out
