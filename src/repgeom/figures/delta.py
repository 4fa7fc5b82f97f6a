"""The δ-task's figures (paper Figs. 2–3) from an experiment's aggregated metrics.

Statistics are mean ± s.e.m. over seeds. The parallelism score of the untrained bits is drawn
per bit: when tanh collapses onto the XOR, PS(b1) and PS(b2) are exact negatives, and their
mean would read 0. CCGP and noisy decoding of the untrained bits are accuracies, so their
per-run mean over b1 and b2 is drawn (and named as such).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..sweep import fmt_float
from ..tasks.delta import task_alignment
from . import Context, activation_colors, band, footer, grid, mean_sem, note, save, sign_note

#: (columns, panel title, y-axis label, y-limits) of the δ-sweep figure: one column is drawn
#: per activation as a solid line; two (b1, b2) as solid and dashed lines; ``*_untrained`` are
#: b1/b2 means
PANELS = (
    (("target_alignment",), "Target alignment", "CKA(K_h, K_y), 0–1", (0, 1.02)),
    (("input_alignment",), "Input alignment", "CKA(K_h, K_x), 0–1", (0, 1.02)),
    (
        ("ps_b1", "ps_b2"),
        "PS of the untrained bits\n(solid b1, dashed b2)",
        "parallelism score, −1 to 1",
        (-1.02, 1.02),
    ),
    (
        ("ccgp_untrained",),
        "CCGP (proper splits),\nuntrained bits (mean of b1, b2)",
        "accuracy (chance 0.5)",
        (-0.02, 1.02),
    ),
    (
        ("decoding_noisy_untrained",),
        "Noisy decoding, untrained bits\n(mean of b1, b2; test σ = {test_sigma})",
        "accuracy (chance 0.5)",
        (0.4, 1.02),
    ),
)
#: the metrics of the sweep's panels whose value the decoder sets (notes on reversals)
DECODED = ("ccgp_untrained", "decoding_noisy_untrained")


def add_derived(df: pd.DataFrame) -> pd.DataFrame:
    """Per-run averages over the untrained bits b1 and b2 of the accuracy metrics."""
    df = df.copy()
    df["ccgp_untrained"] = (df["ccgp_proper_b1"] + df["ccgp_proper_b2"]) / 2
    df["decoding_noisy_untrained"] = (df["decoding_noisy_b1"] + df["decoding_noisy_b2"]) / 2
    return df


def select(df: pd.DataFrame, figures: dict) -> tuple[pd.DataFrame, dict]:
    """Rows of the figure's σ, readout and architecture (config nulls → first in the data)."""
    choice = {
        "sigma": figures["sigma"] if figures["sigma"] is not None else df["sigma"].iloc[0],
        "readout": figures["readout"] or df["readout"].iloc[0],
        "arch": figures["arch"] or df["arch"].iloc[0],
    }
    mask = np.ones(len(df), dtype=bool)
    for k, v in choice.items():
        col = df[k]
        hit = np.isclose(col.astype(float), float(v)) if k == "sigma" else (col == v)
        if not hit.any():
            allowed = sorted(col.unique().tolist())
            raise ValueError(
                f"config key 'figures.{k}': {v!r} is not in the results; allowed: {allowed}"
            )
        mask &= np.asarray(hit)
    return df[mask], choice


def _lines(ax, df: pd.DataFrame, x: str, cols: tuple[str, ...]) -> None:
    """One line per activation and column (solid, then dashed), mean ± s.e.m. over seeds."""
    colors = activation_colors(list(dict.fromkeys(df["act"])))
    for act, sub in df.groupby("act", observed=True, sort=False):
        for col, ls in zip(cols, ("-", "--"), strict=False):
            st = mean_sem(sub, [x], col)
            label = act if ls == "-" else None
            band(ax, st[x], st["mean"], st["sem"], label, colors[act], ls=ls)


def _panels(test_sigma: float) -> tuple:
    return tuple((c, n.format(test_sigma=fmt_float(test_sigma)), y, lim) for c, n, y, lim in PANELS)


def _legend_slot(axes, spare) -> None:
    """The legend of the first panel in the first unused slot (else in the first panel)."""
    handles, labels = axes[0].get_legend_handles_labels()
    if spare:
        spare[0].set_visible(True)
        spare[0].axis("off")
        spare[0].legend(handles, labels, loc="center", title="mean ± s.e.m.")
    else:
        axes[0].legend(handles, labels, loc="best")


def delta_sweep(df: pd.DataFrame, title: str, test_sigma: float, notes: dict):
    """One panel per metric against δ at the final epoch, one line per activation; ``notes``:
    metric → a note on how another decoder changes it."""
    final = df[df["epoch"] == df.groupby(["act", "delta", "seed"])["epoch"].transform("max")]
    fig, axes, spare = grid(len(PANELS))
    deltas = np.linspace(0, final["delta"].max(), 100)
    for ax, (cols, name, ylabel, ylim) in zip(axes, _panels(test_sigma), strict=True):
        _lines(ax, final, "delta", cols)
        if cols[0] in ("target_alignment", "input_alignment"):
            ax.plot(deltas, task_alignment(deltas), "k--", lw=1, label="task: δ²/√(2+δ⁴)")
        ax.set(title=name, xlabel="δ (separability of the trained XOR)", ylabel=ylabel, ylim=ylim)
        ax.set_xticks(sorted(final["delta"].unique()))
        ax.grid(alpha=0.3)
        note(ax, notes.get(cols[0], ""))
    _legend_slot(axes, spare)
    fig.suptitle(title)
    return fig


def over_training(df: pd.DataFrame, title: str, test_sigma: float, notes: dict):
    """The sweep's metrics plus the training loss against epoch, for one δ."""
    cols = ((("train_loss",), "Training loss", "binary cross-entropy (log)", None),)
    cols += _panels(test_sigma)
    fig, axes, spare = grid(len(cols))
    for ax, (col, name, ylabel, ylim) in zip(axes, cols, strict=True):
        _lines(ax, df, "epoch", col)
        ax.set_xscale("symlog", linthresh=1)
        ax.set(title=name, xlabel="epoch (symlog)", ylabel=ylabel)
        if ylim:
            ax.set_ylim(ylim)
        else:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        note(ax, notes.get(col[0], ""))
    _legend_slot(axes, spare)
    fig.suptitle(title)
    return fig


def _notes(every: pd.DataFrame, figures: dict, context: Context, delta=None) -> dict:
    """Per decoded metric: the note where another decoder reverses tanh − relu at the final
    epoch (at ``delta`` only, if given)."""
    if every.empty:
        return {}
    every, _ = select(add_derived(every), figures)
    run = ["act", "delta", "seed", "decoder", "protocol"]
    every = every[every["epoch"] == every.groupby(run)["epoch"].transform("max")]
    if delta is not None:
        every = every[np.isclose(every["delta"], delta)]
    out = {col: sign_note(every, col, "delta", context.primary, "δ") for col in DECODED}
    tail = "" if delta is None else ", final epoch"
    return {k: v + tail for k, v in out.items() if v}


def draw(df: pd.DataFrame, outputs: list[str], figures: dict, context: Context) -> None:
    """Draw ``delta_sweep`` and ``over_training`` into the ``outputs`` of those names."""
    test_sigma = context.evaluation["test_sigma"]
    df, choice = select(add_derived(df), figures)
    where = f"readout {choice['readout']}, {choice['arch']}"
    n = int(df.groupby(["act", "delta"], observed=True)["seed"].nunique().min())
    paths = [p for p in outputs if Path(p).stem == "delta_sweep"]
    if paths:
        fig = delta_sweep(
            df,
            f"δ-task, end of training: tanh vs relu across δ ({where})",
            test_sigma,
            _notes(context.every, figures, context),
        )
        footer(fig, context, n, choice["sigma"])
        save(fig, paths)

    paths = [p for p in outputs if Path(p).stem == "over_training"]
    if not paths:
        return
    deltas = sorted(df["delta"].unique())
    want = figures["training_delta"]
    if want is None:
        want = deltas[len(deltas) // 2]
    hit = [d for d in deltas if np.isclose(d, float(want))]
    if not hit:
        raise ValueError(
            f"config key 'figures.training_delta': {want!r} is not a swept δ; allowed: {deltas}"
        )
    sub = df[np.isclose(df["delta"], hit[0])]
    title = f"δ-task over training at δ = {fmt_float(hit[0])} ({where})"
    fig = over_training(sub, title, test_sigma, _notes(context.every, figures, context, hit[0]))
    footer(fig, context, n, choice["sigma"], when="every snapshot")
    save(fig, paths)
