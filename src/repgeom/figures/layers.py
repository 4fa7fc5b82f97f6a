"""The per-layer figure of an experiment with deep networks (docs/science.md §8.6: the
tanh/relu difference in every hidden layer).

``layers``: each run's final target and input alignment (kernel alignment on the condition
means) against the hidden layer, one line per activation (mean ± s.e.m. over seeds), one column
per architecture with more than one hidden layer (at most three per row; more wrap into
further rows). The experiment's other axes are held at one
cell, stated in the title: the configured ``figures`` σ and readout where set, else the middle
value of each axis (the δ-task's middle δ, say), so that no panel averages across settings.
A one-layer architecture of the same experiment is not drawn (its layer 1 is the headline's).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..networks import layer_names
from ..storage import primary
from ..sweep import fmt_float
from . import MAX_COLUMNS, PANEL, Context, activation_colors, band, footer, mean_sem, save

ROWS = (("target_alignment", "target alignment"), ("input_alignment", "input alignment"))


def cell_choice(df: pd.DataFrame, keys: list[str], settings: dict) -> dict:
    """One value per key: ``settings[key]`` where configured (σ, readout), else the middle of
    the key's sorted values."""
    out = {}
    for k in keys:
        values = sorted(df[k].unique())
        want = settings.get(k)
        hit = [v for v in values if want is not None and str(v) == str(want)]
        if want is not None and isinstance(values[0], float):
            hit = [v for v in values if np.isclose(v, float(want))]
        out[k] = hit[0] if hit else values[len(values) // 2]
    return out


def _text(v) -> str:
    return fmt_float(v) if isinstance(v, float) else str(v)


def draw(
    metrics: pd.DataFrame,
    key_types: dict[str, str],
    settings: dict,
    context: Context,
    outputs: list[str],
) -> None:
    """Draw ``layers`` into ``outputs`` from the experiment's aggregated run metrics."""
    df = primary(metrics, context.evaluation)
    run = [*key_types, "layer"]
    df = df[df["epoch"] == df.groupby(run, observed=True)["epoch"].transform("max")]
    depth = df.groupby("arch", observed=True)["layer"].max()
    deep = [a for a in dict.fromkeys(df["arch"]) if depth[a] > 1]
    other = [k for k in key_types if k not in ("arch", "act", "seed")]
    choice = cell_choice(df, other, settings)
    for k, v in choice.items():
        df = df[df[k] == v]
    acts = list(dict.fromkeys(df["act"]))
    colors = activation_colors(acts)
    ncol = min(len(deep), MAX_COLUMNS)
    chunks = [deep[i : i + ncol] for i in range(0, len(deep), ncol)]
    fig, axes = plt.subplots(
        len(ROWS) * len(chunks),
        ncol,
        figsize=(max(PANEL[0] * ncol + 0.4, 5.0), PANEL[1] * len(ROWS) * len(chunks) + 1.4),
        squeeze=False,
        layout="constrained",
    )
    for ax in axes.flat:
        ax.set_visible(False)
    n_min = []
    for c, chunk in enumerate(chunks):
        for j, arch in enumerate(chunk):
            sub = df[df["arch"] == arch]
            epochs = sorted(sub["epoch"].unique())
            for i, (col, label) in enumerate(ROWS):
                ax = axes[c * len(ROWS) + i, j]
                ax.set_visible(True)
                for act in acts:
                    s = mean_sem(sub[sub["act"] == act], ["layer"], col)
                    n_min.append(int(s["count"].min()))
                    band(ax, s["layer"], s["mean"], s["sem"], act, colors[act])
                names = layer_names(arch)
                ticks = range(1, int(depth[arch]) + 1)
                labels = [
                    str(t) if names[t - 1] == str(t) else f"{t}\n{names[t - 1]}" for t in ticks
                ]
                ax.set_xticks(list(ticks), labels)
                ax.set(
                    ylim=(0, 1.02),
                    ylabel=f"{label}, CKA 0–1",
                    xlabel="hidden layer (1 = nearest the input)",
                    title=f"{arch}: {label}\n(final epoch {'/'.join(str(e) for e in epochs)})",
                )
                ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="best")
    where = ", ".join(f"{k} = {_text(v)}" for k, v in choice.items())
    fig.suptitle(
        f"{context.experiment}: kernel alignment per hidden layer, end of training"
        + (f"\n{where}" if where else "")
    )
    footer(fig, context, min(n_min), choice.get("sigma"))
    save(fig, outputs)
