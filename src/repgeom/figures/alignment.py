"""Figures of the alignment-parameterised tasks (paper Fig. 4) and the activation ablation
(Fig. 5), from an experiment's aggregated metrics at the end of training.

* ``alignment_sweep``: target and input alignment against the task's alignment c, one row of
  panels per (kernel, d, k), one line per activation.
* ``alignment_plane``: the corrected coordinates (a, b) of spec §6.2, which remove the skew
  between the input and target kernels of a task with alignment c; every hidden kernel lies in
  the quarter disc a² + b² ≤ 1.
* ``disentanglement``: PS and CCGP (proper splits) of the trained target bits against c, the
  mean over the k target bits of each run (for k = d, the disentanglement claim).
* ``ablation``: each activation's target and input alignment as bars, with tanh's and relu's
  values as reference lines, per (kernel, d, k), averaged over the c grid of the experiment.

Statistics are mean ± s.e.m. over runs (network seeds, and task seeds in the random family).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..sweep import fmt_float
from ..tasks.alignment import mask_name, parity_masks
from . import COLORS, band, mean_sem

GROUP = ["kernel", "d", "k"]


def activation_colors(acts: list[str]) -> dict[str, str]:
    """tanh and relu in their usual red and blue, every other activation from a qualitative map
    without either (Dark2, then tab20b)."""
    others = [a for a in acts if a not in COLORS]
    palette = list(plt.get_cmap("Dark2").colors) + list(plt.get_cmap("tab20b").colors)
    return COLORS | {a: palette[i % len(palette)] for i, a in enumerate(others)}


def final_epoch(df: pd.DataFrame) -> pd.DataFrame:
    """Each run's last snapshot."""
    run = [c for c in df.columns if c in ("act", *GROUP, "align", "task_seed", "sigma", "seed")]
    return df[df["epoch"] == df.groupby(run, observed=True)["epoch"].transform("max")]


def select(df: pd.DataFrame, figures: dict) -> tuple[pd.DataFrame, str]:
    """Rows of the figure's σ, readout and architecture (nulls → the first in the data)."""
    choice = {
        "sigma": figures["sigma"] if figures["sigma"] is not None else df["sigma"].iloc[0],
        "readout": figures["readout"] or df["readout"].iloc[0],
        "arch": figures["arch"] or df["arch"].iloc[0],
    }
    mask = np.isclose(df["sigma"], float(choice["sigma"]))
    mask &= (df["readout"] == choice["readout"]) & (df["arch"] == choice["arch"])
    where = f"σ = {fmt_float(choice['sigma'])}, readout {choice['readout']}, {choice['arch']}"
    return df[np.asarray(mask)], where


def target_bits(d: int, k: int) -> list[str]:
    """Names of the k trained dichotomies of a (d, k) task."""
    return [mask_name(int(m)) for m in parity_masks(d)[:k]]


def corrected_coordinates(input_al, target_al, c) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) = B⁻¹ (A_input, A_target) with B = [[cos φ, sin φ], [sin φ, cos φ]] and
    φ = (π/2 − arccos c)/2 (spec §6.2); arrays broadcast."""
    phi = (np.pi / 2 - np.arccos(np.clip(c, -1, 1))) / 2
    cos, sin = np.cos(phi), np.sin(phi)
    det = cos * cos - sin * sin
    a = (cos * input_al - sin * target_al) / det
    b = (-sin * input_al + cos * target_al) / det
    return a, b


def _groups(df: pd.DataFrame) -> list[tuple[tuple, pd.DataFrame]]:
    return list(df.groupby(GROUP, observed=True, sort=True))


def _label(key: tuple) -> str:
    kernel, d, k = key
    return f"{kernel}, d = {d}, k = {k}"


def _n(df: pd.DataFrame, by: list[str]) -> int:
    return int(df.groupby(by, observed=True).size().min())


def _against_c(ax, sub: pd.DataFrame, col: str, colors: dict) -> None:
    """One line per activation: ``col`` against the task alignment, mean ± s.e.m. over runs."""
    for act, a in sub.groupby("act", observed=True, sort=False):
        st = mean_sem(a, ["task_alignment"], col)
        band(ax, st["task_alignment"], st["mean"], st["sem"], act, colors[act])


def _finish(fig, axes, df: pd.DataFrame, title: str):
    """Legend in the first panel; the title closes with the statistics and n."""
    axes[0, 0].legend(frameon=False, fontsize=7)
    n = _n(df, ["act", *GROUP, "align"])
    fig.suptitle(f"{title}; mean ± s.e.m., n = {n} runs per point)", fontsize=9)
    return fig


def alignment_sweep(df: pd.DataFrame, colors: dict, where: str):
    groups = _groups(df)
    fig, axes = plt.subplots(
        len(groups), 2, figsize=(7.0, 2.6 * len(groups)), squeeze=False, constrained_layout=True
    )
    for row, (key, sub) in zip(axes, groups, strict=True):
        cs = np.linspace(0, sub["task_alignment"].max(), 50)
        for ax, col, name in zip(
            row, ("target_alignment", "input_alignment"), ("Target", "Input"), strict=True
        ):
            _against_c(ax, sub, col, colors)
            if col == "target_alignment":
                ax.plot(cs, cs, "k--", lw=1, label="task CKA(Kx, Ky) = c")
            ax.set(
                title=f"{name} alignment ({_label(key)})",
                xlabel="task alignment c = CKA(Kx, Ky)",
                ylabel="CKA",
                ylim=(0, 1.02),
            )
            ax.grid(alpha=0.3)
    return _finish(fig, axes, df, f"Alignment tasks, end of training ({where}")


def alignment_plane(df: pd.DataFrame, colors: dict, where: str):
    groups = _groups(df)
    several_c = df["task_alignment"].nunique() > 1
    fig, axes = plt.subplots(
        1,
        len(groups),
        figsize=(3.2 * len(groups) + 2.2, 3.6),
        squeeze=False,
        constrained_layout=True,
    )
    t = np.linspace(0, np.pi / 2, 100)
    for ax, (key, sub) in zip(axes[0], groups, strict=True):
        a, b = corrected_coordinates(
            sub["input_alignment"], sub["target_alignment"], sub["task_alignment"]
        )
        pts = sub.assign(a=np.asarray(a), b=np.asarray(b))
        for i, (act, p) in enumerate(pts.groupby("act", observed=True, sort=False)):
            m = p.groupby("task_alignment", observed=True)[["a", "b"]].mean()
            ax.plot(m["a"], m["b"], "o-", color=colors[act], label=act, ms=3, lw=1)
            if several_c:
                ax.plot(
                    m["a"].iloc[:1],
                    m["b"].iloc[:1],
                    "o",
                    mfc="none",
                    mec="k",
                    ms=7,
                    label="lowest c" if i == 0 else None,
                )
        ax.plot(np.cos(t), np.sin(t), "k--", lw=1, label="a² + b² = 1")
        ax.set(
            title=_label(key),
            xlabel="a (input-like coordinate)",
            ylabel="b (target-like coordinate)",
            xlim=(0, 1.05),
            ylim=(0, 1.05),
            aspect="equal",
        )
        ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", frameon=False, fontsize=7)
    n = _n(df, ["act", *GROUP, "align"])
    per = "one point per task alignment c, " if several_c else ""
    fig.suptitle(
        f"Corrected alignment plane, end of training\n({where}; {per}mean over n = {n} runs)",
        fontsize=9,
    )
    return fig


def disentanglement(df: pd.DataFrame, colors: dict, where: str, ccgp_where: str = ""):
    groups = _groups(df)
    fig, axes = plt.subplots(
        len(groups), 2, figsize=(7.0, 2.6 * len(groups)), squeeze=False, constrained_layout=True
    )
    for row, (key, sub) in zip(axes, groups, strict=True):
        bits = target_bits(int(key[1]), int(key[2]))
        sub = sub.assign(
            ps_targets=sub[[f"ps_{b}" for b in bits]].mean(axis=1),
            ccgp_targets=sub[[f"ccgp_proper_{b}" for b in bits]].mean(axis=1),
        )
        what = f"mean of the {len(bits)} target bits" if len(bits) > 1 else f"target {bits[0]}"
        for ax, col, name, ylim in zip(
            row,
            ("ps_targets", "ccgp_targets"),
            ("PS on the condition means", f"CCGP, proper splits ({ccgp_where})"),
            ((-1.02, 1.02), (0, 1.02)),
            strict=True,
        ):
            _against_c(ax, sub, col, colors)
            ax.set(
                title=f"{name}\n{what}; {_label(key)}",
                xlabel="task alignment c",
                ylim=ylim,
            )
            ax.grid(alpha=0.3)
    return _finish(fig, axes, df, f"Trained target bits, end of training ({where}")


def ablation(df: pd.DataFrame, colors: dict, where: str):
    groups = _groups(df)
    acts = list(dict.fromkeys(df["act"]))
    fig, axes = plt.subplots(
        len(groups),
        2,
        figsize=(8.0, 0.8 + 0.28 * len(acts) * len(groups) + 0.6 * len(groups)),
        squeeze=False,
        constrained_layout=True,
    )
    for row, (key, sub) in zip(axes, groups, strict=True):
        n_c = sub["task_alignment"].nunique()
        # one value per run: its mean over the experiment's c grid, then mean ± s.e.m. over runs
        per_run = sub.groupby(["act", "seed", "task_seed"], observed=True)[
            ["target_alignment", "input_alignment"]
        ].mean()
        for ax, col, name in zip(
            row, ("target_alignment", "input_alignment"), ("Target", "Input"), strict=True
        ):
            st = per_run.groupby("act", observed=True)[col].agg(["mean", "std", "count"])
            st = st.reindex(acts)
            sem = (st["std"] / np.sqrt(st["count"])).fillna(0)
            y = np.arange(len(acts))
            # grey bars, so that tanh's and relu's own (coloured) stand out as the references
            ax.barh(y, st["mean"], xerr=sem, color=[COLORS.get(a, "0.6") for a in acts])
            for ref, ls in (("tanh", "-"), ("relu", "--")):
                if ref in st.index and not np.isnan(st.loc[ref, "mean"]):
                    ax.axvline(st.loc[ref, "mean"], color=colors[ref], ls=ls, lw=1, label=ref)
            ax.set_yticks(y, acts, fontsize=7)
            ax.invert_yaxis()
            grid = (
                f"mean over {n_c} c values"
                if n_c > 1
                else f"c = {sub['task_alignment'].iloc[0]:.3f}"
            )
            ax.set(title=f"{name} alignment ({_label(key)}; {grid})", xlabel="CKA", xlim=(0, 1.02))
            ax.title.set_fontsize(8)
            ax.grid(alpha=0.3, axis="x")
        if any(r in acts for r in ("tanh", "relu")):
            row[0].legend(frameon=False, fontsize=7, loc="lower right")
    n = int(
        df.groupby(["act", *GROUP], observed=True)[["seed", "task_seed"]]
        .apply(lambda g: len(g.drop_duplicates()))
        .min()
    )
    fig.suptitle(
        f"Activation ablation, end of training ({where}; mean ± s.e.m. over n = {n} runs)",
        fontsize=9,
    )
    return fig


FIGURES = {
    "alignment_sweep": alignment_sweep,
    "alignment_plane": alignment_plane,
    "disentanglement": disentanglement,
    "ablation": ablation,
}


def draw(df: pd.DataFrame, outputs: list[str], figures: dict, evaluation: dict) -> None:
    """Draw every figure of :data:`FIGURES` into the ``outputs`` named after it."""
    df, where = select(final_epoch(df), figures)
    colors = activation_colors(list(dict.fromkeys(df["act"])))
    plt.rcParams.update({"figure.dpi": figures["dpi"], "font.size": 8})
    ccgp_where = (
        f"test σ = {fmt_float(evaluation['test_sigma'])}"
        if evaluation["ccgp_noise"] == "test"
        else "training noise"
    )
    for name, make in FIGURES.items():
        extra = {"ccgp_where": ccgp_where} if name == "disentanglement" else {}
        fig = make(df, colors, where, **extra)
        for p in outputs:
            if Path(p).stem == name:
                Path(p).parent.mkdir(parents=True, exist_ok=True)
                fig.savefig(p, dpi=fig.dpi)
        plt.close(fig)
