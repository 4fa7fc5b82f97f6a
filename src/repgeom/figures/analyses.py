"""Every analysis side by side: the decoding-based metrics under each decoder and protocol.

Drawn for any family when an experiment has more than one analysis. One row of panels per
metric (CCGP of the trained and of the untrained dichotomies, noisy decoding of the untrained
ones, shattering dimension), one column per activation, the experiment's main axis on x and
one line per analysis (colour: decoder; line style: protocol). Every other axis is held at its
figure value (``figures`` settings, else the first value). Statistics: mean ± s.e.m. over
seeds at each run's final epoch. Accuracies over several dichotomies of one role are averaged
per run (accuracies do not cancel).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import band, mean_sem

DECODER_COLORS = {
    "svm": "#1b1b1b",
    "liblinear_dual": "#d35400",
    "liblinear_auto": "#8e44ad",
    "ridge": "#16a085",
}
PROTOCOL_STYLES = ("-", "--", ":", "-.")
DECODER_MARKERS = {"svm": "o", "liblinear_dual": "s", "liblinear_auto": "^", "ridge": "D"}

#: (metric column, dichotomy roles averaged, row title); None: a run-level column
ROWS = (
    ("ccgp_proper", ("target", "target, latent"), "CCGP (ccgp_proper)\ntrained dichotomies"),
    ("ccgp_proper", ("latent",), "CCGP (ccgp_proper)\nuntrained latent variables"),
    ("decoding_noisy", ("latent",), "Noisy decoding (test σ)\nuntrained latent variables"),
    ("shattering_dim", None, "Shattering dimension"),
)
#: activations drawn as columns at most; more go on the x-axis instead
MAX_COLUMNS = 3


def per_run(metrics: pd.DataFrame, dichotomies: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Final-epoch rows per run and analysis with one column per row of :data:`ROWS`
    (``<metric>|<roles>``), dichotomies of those roles averaged within each run."""
    run_keys = [*keys, "decoder", "protocol"]
    last = metrics.groupby(keys, observed=True)["epoch"].transform("max")
    final = metrics[metrics["epoch"] == last]
    out = final[[*run_keys, "epoch", "shattering_dim"]].copy()
    d_last = dichotomies.groupby(keys, observed=True)["epoch"].transform("max")
    d_final = dichotomies[dichotomies["epoch"] == d_last]
    for metric, roles, _ in ROWS:
        if roles is None:
            continue
        sub = d_final[d_final["role"].isin(roles)]
        col = f"{metric}|{'/'.join(roles)}"
        if sub.empty:
            out[col] = np.nan
            continue
        mean = sub.groupby(run_keys, observed=True)[metric].mean().rename(col).reset_index()
        out = out.merge(mean, on=run_keys, how="left")
    return out


def draw(
    metrics: pd.DataFrame,
    dichotomies: pd.DataFrame,
    key_types: dict[str, str],
    fixed: dict[str, object],
    main_axis: str | None,
    path_list: list[str],
    title: str,
    dpi: int,
) -> None:
    """The analyses figure into each path of ``path_list``. ``main_axis``: the family's axis on
    x (activations go on x instead when it has one value); ``fixed``: axis → the value the
    figure holds it at (other axes are held at their first value)."""
    keys = list(key_types)
    df = per_run(metrics, dichotomies, keys)
    free = [k for k in keys if k not in ("seed", "act")]
    x = main_axis if main_axis in free and df[main_axis].nunique() > 1 else None
    held = {}
    for k in free:
        if k == x:
            continue
        v = fixed.get(k, df[k].iloc[0])
        hit = np.isclose(df[k].astype(float), float(v)) if key_types[k] == "float64" else df[k] == v
        df = df[np.asarray(hit)]
        held[k] = v
    acts = list(dict.fromkeys(df["act"]))
    categorical = x is None or len(acts) > MAX_COLUMNS
    columns = [None] if categorical else acts
    rows = [
        r for r in ROWS if df[r[0] if r[1] is None else f"{r[0]}|{'/'.join(r[1])}"].notna().any()
    ]
    analyses = list(dict.fromkeys(zip(df["decoder"], df["protocol"], strict=True)))
    protocols = list(dict.fromkeys(p for _, p in analyses))
    fig, axes = plt.subplots(
        len(rows),
        len(columns),
        figsize=(3.6 * len(columns) + (2.5 if categorical else 0), 2.4 * len(rows) + 0.9),
        squeeze=False,
        sharex=True,
    )
    for i, (metric, roles, name) in enumerate(rows):
        col = metric if roles is None else f"{metric}|{'/'.join(roles)}"
        for j, act in enumerate(columns):
            ax = axes[i, j]
            sub = df if act is None else df[df["act"] == act]
            # the primary analysis last, so that it is drawn on top where lines coincide
            for n, (dec, prot) in reversed(list(enumerate(analyses))):
                a = sub[(sub["decoder"] == dec) & (sub["protocol"] == prot)]
                color = DECODER_COLORS.get(dec)
                ls = PROTOCOL_STYLES[protocols.index(prot) % len(PROTOCOL_STYLES)]
                label = f"{dec}, {prot}"
                if categorical:
                    st = mean_sem(a, ["act"], col).set_index("act").reindex(acts)
                    pos = np.arange(len(acts)) + (n - (len(analyses) - 1) / 2) * 0.8 / len(analyses)
                    ax.errorbar(
                        pos,
                        st["mean"],
                        st["sem"],
                        fmt=DECODER_MARKERS.get(dec, "o"),
                        color=color,
                        ms=3,
                        mfc="none" if ls != "-" else color,
                        label=label,
                        lw=1,
                    )
                else:
                    st = mean_sem(a, [x], col)
                    line = band(ax, st[x], st["mean"], st["sem"], label, color, ls=ls)
                    line.set_marker(DECODER_MARKERS.get(dec, "o"))
                    line.set_markerfacecolor("none" if ls != "-" else color)
            # accuracies: CCGP can fall below chance; decoding-based dimensions not
            ax.set_ylim((-0.02, 1.02) if roles is not None else (0.45, 1.02))
            ax.grid(alpha=0.3)
            if i == 0 and act is not None:
                ax.set_title(act)
            if j == 0:
                ax.set_ylabel(name, fontsize=9)
            if i == len(rows) - 1:
                if categorical:
                    ax.set_xticks(np.arange(len(acts)), acts, rotation=45, ha="right", fontsize=8)
                else:
                    ax.set_xlabel(x)
    n = int(df.groupby(["act", "decoder", "protocol"] + ([x] if x else []))["seed"].nunique().min())
    where = ", ".join(f"{k} = {v}" for k, v in held.items())
    fig.suptitle(
        f"{title}: every decoder × protocol at the final epoch (mean ± s.e.m., n = {n} seeds)"
        + (f"\n{where}" if where else ""),
        fontsize=10,
    )
    handles, labels = axes[0, 0].get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: analyses.index(tuple(labels[i].split(", "))))
    ncol = min(len(labels), 3)
    fig.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        loc="lower center",
        ncol=ncol,
        fontsize=8,
        frameon=False,
    )
    rows_of_legend = -(-len(labels) // ncol)
    fig.tight_layout(rect=(0, 0.025 * rows_of_legend + 0.01, 1, 1))
    for p in path_list:
        fig.savefig(p, dpi=dpi)
    plt.close(fig)
