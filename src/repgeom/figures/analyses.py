"""Every analysis side by side: the decoding-based metrics under each decoder and protocol.

Drawn for any family when an experiment has more than one analysis. For every cell of the
experiment's other axes (every k, d, σ, …; σ, readout and architecture only at their
``figures`` settings where these are configured), one row of panels per metric (CCGP of the
trained and of the untrained dichotomies, noisy decoding of the untrained ones, shattering
dimension), one column per activation, the experiment's main axis on x (ticks at its values)
and one line per analysis: colour and marker the decoder, line style and filled or open
marker the protocol, each analysis shifted slightly along x so that equal values stay
visible. With one value of the main axis, or more activations than :data:`MAX_COLUMNS`, the
activations go on x instead. Task seeds are pooled with network seeds as runs. Statistics:
mean ± s.e.m. over runs at each run's final epoch. Accuracies over several dichotomies of one
role are averaged per run (accuracies do not cancel).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import MAX_COLUMNS, PANEL, Context, footer, mean_sem, save

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
#: keys pooled as runs rather than drawn as cells
POOLED = ("seed", "task_seed")


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


def _cells(df: pd.DataFrame, keys: list[str], key_types: dict, fixed: dict) -> pd.DataFrame:
    """The rows at the ``fixed`` values (σ, readout, architecture as configured)."""
    for k, v in fixed.items():
        if k not in keys:
            continue
        hit = np.isclose(df[k].astype(float), float(v)) if key_types[k] == "float64" else df[k] == v
        df = df[np.asarray(hit)]
    return df


def _text(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _offsets(analyses: list, spread: float) -> dict:
    """A small x shift per analysis, centred on 0, ``spread`` wide in all."""
    n = len(analyses)
    return {a: (i - (n - 1) / 2) * spread / max(n, 1) for i, a in enumerate(analyses)}


def _draw_analysis(ax, a, col, x, acts, shift, style) -> None:
    """One analysis's mean ± s.e.m. over runs: against ``x``, or per activation."""
    if x is None:
        st = mean_sem(a, ["act"], col).set_index("act").reindex(acts)
        pos = np.arange(len(acts)) + shift
    else:
        st = mean_sem(a, [x], col)
        pos = st[x].astype(float) + shift
    ax.errorbar(pos, st["mean"], st["sem"], capsize=2, ms=4, lw=1.1, **style)


def draw(
    metrics: pd.DataFrame,
    dichotomies: pd.DataFrame,
    key_types: dict[str, str],
    fixed: dict[str, object],
    main_axis: str | None,
    path_list: list[str],
    context: Context,
) -> None:
    """The analyses figure into each path of ``path_list``. ``main_axis``: the family's axis on
    x (activations go on x instead when it has one value); ``fixed``: axis → the value the
    figure holds it at; every other axis is drawn cell by cell."""
    keys = list(key_types)
    df = _cells(per_run(metrics, dichotomies, keys), keys, key_types, fixed)
    free = [k for k in keys if k not in ("act", *POOLED)]
    x = main_axis if main_axis in free and df[main_axis].nunique() > 1 else None
    cell_keys = [k for k in free if k != x]
    varying = [k for k in cell_keys if df[k].nunique() > 1]
    cells = list(df.groupby(varying, observed=True, sort=True)) if varying else [((), df)]
    acts = list(dict.fromkeys(df["act"]))
    columns = [None] if x is None or len(acts) > MAX_COLUMNS else acts
    if columns == [None] and x is not None:
        x = None  # too many activations for columns: activations on x, one cell of x each
    # per cell, the rows with data (k = d leaves no untrained latent variable)
    panels = [
        (cell, sub, row)
        for cell, sub in cells
        for row in ROWS
        if sub[row[0] if row[1] is None else f"{row[0]}|{'/'.join(row[1])}"].notna().any()
    ]
    analyses = list(dict.fromkeys(zip(df["decoder"], df["protocol"], strict=True)))
    protocols = list(dict.fromkeys(p for _, p in analyses))
    xs = sorted(df[x].unique()) if x is not None else list(range(len(acts)))
    step = float(np.min(np.diff(xs))) if len(xs) > 1 else 1.0
    shift = _offsets(analyses, 0.25 * step)
    width = PANEL[0] * len(columns) + (1.5 if x is None else 0.4)
    fig, axes = plt.subplots(
        len(panels),
        len(columns),
        figsize=(width, 2.3 * len(panels) + 1.4),
        squeeze=False,
        layout="constrained",
    )
    for i, (cell, sub_cell, (metric, roles, name)) in enumerate(panels):
        cell = cell if isinstance(cell, tuple) else (cell,)
        cell_text = ", ".join(f"{k} = {_text(v)}" for k, v in zip(varying, cell, strict=True))
        col = metric if roles is None else f"{metric}|{'/'.join(roles)}"
        for j, act in enumerate(columns):
            ax = axes[i, j]
            sub = sub_cell if act is None else sub_cell[sub_cell["act"] == act]
            for dec, prot in analyses:
                a = sub[(sub["decoder"] == dec) & (sub["protocol"] == prot)]
                solid = protocols.index(prot) == 0
                style = {
                    "color": DECODER_COLORS.get(dec),
                    "marker": DECODER_MARKERS.get(dec, "o"),
                    "ls": PROTOCOL_STYLES[protocols.index(prot) % len(PROTOCOL_STYLES)],
                    "mfc": DECODER_COLORS.get(dec) if solid else "white",
                    "label": f"{dec}, {prot}",
                }
                if x is None:
                    style["ls"] = "none"
                _draw_analysis(ax, a, col, x, acts, shift[(dec, prot)], style)
            # accuracies: CCGP can fall below chance; decoding-based dimensions not
            ax.set_ylim((-0.04, 1.04) if roles is not None else (0.45, 1.04))
            ax.grid(alpha=0.3)
            title = " · ".join(t for t in (act, cell_text) if t)
            if title:
                ax.set_title(title)
            if j == 0:
                ax.set_ylabel(name)
            if x is None:
                ax.set_xticks(np.arange(len(acts)), acts, rotation=35, ha="right")
            else:
                ax.set_xticks(xs, [_text(v) for v in xs])
                ax.set_xlabel(x)
    held = {k: df[k].iloc[0] for k in cell_keys if k not in varying}
    where = ", ".join(f"{k} = {_text(v)}" for k, v in held.items())
    fig.suptitle(
        f"{context.experiment}: every decoder × protocol, end of training"
        + (f"\n{where}" if where else "")
    )
    axes[0, 0].legend(loc="best")
    n = int(
        df.groupby(["act", "decoder", "protocol", *free], observed=True)[
            [k for k in POOLED if k in df]
        ]
        .apply(lambda g: len(g.drop_duplicates()))
        .min()
    )
    footer(
        fig,
        context,
        n,
        unit="runs",
        analysis="every analysis, as in the legend",
        extra="analyses shifted slightly along x so that equal values stay apart",
    )
    save(fig, path_list)
