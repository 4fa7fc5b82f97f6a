"""The δ-task's figures (paper Figs. 2–3) from an experiment's aggregated metrics.

Statistics are mean ± s.e.m. over seeds. The parallelism score of the untrained bits is drawn
per bit: when tanh collapses onto the XOR, PS(b1) and PS(b2) are exact negatives, and their
mean would read 0. CCGP and noisy decoding of the untrained bits are accuracies, so their
per-run mean over b1 and b2 is drawn (and named as such).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..sweep import fmt_float
from ..tasks.delta import task_alignment
from . import COLORS, band, mean_sem

#: (columns, panel title, y-limits) of the δ-sweep figure: one column is drawn per activation
#: as a solid line; two (b1, b2) as solid and dashed lines; ``*_untrained`` are b1/b2 means
PANELS = (
    (("target_alignment",), "Target alignment (CKA)", (0, 1.02)),
    (("input_alignment",), "Input alignment (CKA)", (0, 1.02)),
    (("ps_b1", "ps_b2"), "PS of the untrained bits\n(solid b1, dashed b2)", (-1.02, 1.02)),
    (("ccgp_untrained",), "CCGP (proper), untrained bits\n(mean of b1, b2)", (0, 1.02)),
    (
        ("decoding_noisy_untrained",),
        "Noisy decoding, untrained bits\n(mean of b1, b2; test σ = {test_sigma})",
        (0.4, 1.02),
    ),
)


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
    for act, sub in df.groupby("act", observed=True):
        for col, ls in zip(cols, ("-", "--"), strict=False):
            st = mean_sem(sub, [x], col)
            band(
                ax, st[x], st["mean"], st["sem"], act if ls == "-" else None, COLORS.get(act), ls=ls
            )


def _panels(test_sigma: float) -> tuple:
    return tuple((c, n.format(test_sigma=fmt_float(test_sigma)), y) for c, n, y in PANELS)


def delta_sweep(df: pd.DataFrame, title: str, test_sigma: float):
    """One panel per metric against δ at the final epoch, one line per activation."""
    final = df[df["epoch"] == df.groupby("seed")["epoch"].transform("max")]
    fig, axes = plt.subplots(
        1, len(PANELS), figsize=(3.1 * len(PANELS), 3.0), constrained_layout=True
    )
    deltas = np.linspace(0, final["delta"].max(), 100)
    for ax, (cols, name, ylim) in zip(axes, _panels(test_sigma), strict=True):
        _lines(ax, final, "delta", cols)
        if cols[0] in ("target_alignment", "input_alignment"):
            ax.plot(deltas, task_alignment(deltas), "k--", lw=1, label="task CKA(Kx, Ky)")
        ax.set(title=name, xlabel="δ (separability of trained XOR)", ylim=ylim)
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def over_training(df: pd.DataFrame, title: str, test_sigma: float):
    """The sweep's metrics plus the training loss against epoch, for one δ."""
    cols = ((("train_loss",), "Training loss (BCE)", None),) + _panels(test_sigma)
    fig, axes = plt.subplots(1, len(cols), figsize=(3.1 * len(cols), 3.0), constrained_layout=True)
    for ax, (col, name, ylim) in zip(axes, cols, strict=True):
        _lines(ax, df, "epoch", col)
        ax.set_xscale("symlog", linthresh=1)
        ax.set(title=name, xlabel="epoch")
        if ylim:
            ax.set_ylim(ylim)
        else:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def _save(fig, paths):
    for p in paths:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=fig.dpi)
    plt.close(fig)


def draw(df: pd.DataFrame, outputs: list[str], figures: dict, evaluation: dict) -> None:
    """Draw ``delta_sweep`` and ``over_training`` into the ``outputs`` of those names."""
    test_sigma = evaluation["test_sigma"]
    df, choice = select(add_derived(df), figures)
    plt.rcParams.update({"figure.dpi": figures["dpi"], "font.size": 9})
    where = f"σ = {fmt_float(choice['sigma'])}, readout {choice['readout']}, {choice['arch']}"
    n = df.groupby(["act", "delta"], observed=True)["seed"].nunique().min()
    fig = delta_sweep(
        df, f"δ-task, end of training ({where}; mean ± s.e.m., n = {n} seeds)", test_sigma
    )
    _save(fig, [p for p in outputs if Path(p).stem == "delta_sweep"])

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
    title = f"δ-task over training (δ = {fmt_float(hit[0])}, {where}; n = {n} seeds)"
    fig = over_training(sub, title, test_sigma)
    _save(fig, [p for p in outputs if Path(p).stem == "over_training"])
