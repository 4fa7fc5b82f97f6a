"""Figures of the alignment-parameterised tasks (paper Fig. 4) and the activation ablation
(Fig. 5), from an experiment's aggregated metrics at the end of training.

* ``alignment_sweep``: target and input alignment against the task's alignment c, one row of
  panels per (kernel, d, k), one line per activation.
* ``alignment_plane``: the corrected coordinates (a, b) of docs/science.md §5.2, which remove
  the skew between the input and target kernels of a task with alignment c; every hidden kernel
  lies in the quarter disc a² + b² ≤ 1.
* ``disentanglement``: PS and CCGP (proper splits) of the trained target bits against c, the
  mean over the k target bits of each run (for k = d, the disentanglement claim).
* ``ablation``: each activation's target and input alignment as bars grouped by its kind
  (:func:`repgeom.activation_names.activation_kind`: two-sided saturating, one-sided, kink
  shift, bias shift), with tanh's and relu's values as reference lines, per (kernel, d, k);
  each run's value is its mean over the experiment's c > 0 (the c the claims use).

Which of these an experiment gets depends on its axes (``repgeom.tasks.alignment``): nothing
is drawn against c with one c, and no ablation without activations besides tanh and relu.
Statistics are mean ± s.e.m. over runs (network seeds, and task seeds in the random family),
drawn as bands or error bars.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..activation_names import KINDS, activation_kind
from ..claims.alignment import aligned
from ..tasks.alignment import mask_name, parity_masks
from . import (
    Context,
    activation_colors,
    band,
    footer,
    grid,
    mean_sem,
    note,
    save,
    sign_note,
)

GROUP = ["kernel", "d", "k"]


def final_epoch(df: pd.DataFrame) -> pd.DataFrame:
    """Each run's last snapshot."""
    run = [c for c in df.columns if c in ("act", *GROUP, "align", "task_seed", "sigma", "seed")]
    return df[df["epoch"] == df.groupby(run, observed=True)["epoch"].transform("max")]


def select(df: pd.DataFrame, figures: dict) -> tuple[pd.DataFrame, str, float]:
    """Rows of the figure's σ, readout and architecture (nulls → the first in the data)."""
    choice = {
        "sigma": figures["sigma"] if figures["sigma"] is not None else df["sigma"].iloc[0],
        "readout": figures["readout"] or df["readout"].iloc[0],
        "arch": figures["arch"] or df["arch"].iloc[0],
    }
    mask = np.isclose(df["sigma"], float(choice["sigma"]))
    mask &= (df["readout"] == choice["readout"]) & (df["arch"] == choice["arch"])
    where = f"readout {choice['readout']}, {choice['arch']}"
    return df[np.asarray(mask)], where, float(choice["sigma"])


def target_bits(d: int, k: int) -> list[str]:
    """Names of the k trained dichotomies of a (d, k) task."""
    return [mask_name(int(m)) for m in parity_masks(d)[:k]]


def corrected_coordinates(input_al, target_al, c) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) = B⁻¹ (A_input, A_target) with B = [[cos φ, sin φ], [sin φ, cos φ]] and
    φ = (π/2 − arccos c)/2 (docs/science.md §5.2); arrays broadcast."""
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


def _c_ticks(ax, sub: pd.DataFrame) -> None:
    """Ticks at the experiment's c values."""
    cs = sorted(sub["task_alignment"].unique())
    ax.set_xticks(cs, [f"{c:.2f}" for c in cs])


def _sweep_panels(df, colors, panels, notes=None):
    """A grid of (group, column, title, y-label, y-limits) panels of ``col`` against c."""
    fig, axes, _ = grid(len(panels), columns=2)
    for ax, (key, sub, col, title, ylabel, ylim) in zip(axes, panels, strict=True):
        _against_c(ax, sub, col, colors)
        if col == "target_alignment":
            cs = np.linspace(0, sub["task_alignment"].max(), 50)
            ax.plot(cs, cs, "k--", lw=1, label="task: CKA(K_x, K_y) = c")
        ax.set(
            title=f"{title}\n{_label(key)}",
            xlabel="task alignment c = CKA(K_x, K_y)",
            ylabel=ylabel,
            ylim=ylim,
        )
        _c_ticks(ax, sub)
        ax.grid(alpha=0.3)
        note(ax, (notes or {}).get((key, col), ""))
    axes[0].legend(loc="best")
    return fig


def alignment_sweep(df: pd.DataFrame, colors: dict, where: str, context: Context):
    """Target and input alignment against c, a row of two panels per (kernel, d, k)."""
    panels = [
        (key, sub, col, f"{name} alignment", f"CKA(K_h, K_{v}), 0–1", (0, 1.02))
        for key, sub in _groups(df)
        for col, name, v in (("target_alignment", "Target", "y"), ("input_alignment", "Input", "x"))
    ]
    fig = _sweep_panels(df, colors, panels)
    fig.suptitle(f"Alignment tasks, end of training: hidden-layer alignment against c ({where})")
    return fig


def alignment_plane(df: pd.DataFrame, colors: dict, where: str, context: Context):
    """The corrected plane (a, b), a panel per (kernel, d, k): one point per activation and c,
    mean ± s.e.m. of a and b over runs as error bars."""
    groups = _groups(df)
    several_c = df["task_alignment"].nunique() > 1
    fig, axes, _ = grid(len(groups), panel=(3.1, 3.1))
    t = np.linspace(0, np.pi / 2, 100)
    for ax, (key, sub) in zip(axes, groups, strict=True):
        a, b = corrected_coordinates(
            sub["input_alignment"], sub["target_alignment"], sub["task_alignment"]
        )
        pts = sub.assign(a=np.asarray(a), b=np.asarray(b))
        for i, (act, p) in enumerate(pts.groupby("act", observed=True, sort=False)):
            sa, sb = (mean_sem(p, ["task_alignment"], v) for v in ("a", "b"))
            ax.errorbar(
                sa["mean"],
                sb["mean"],
                xerr=sa["sem"],
                yerr=sb["sem"],
                fmt="o-" if several_c else "o",
                color=colors[act],
                label=act,
                ms=3.5,
                lw=1,
                capsize=2,
            )
            if several_c:
                ax.plot(
                    sa["mean"].iloc[:1],
                    sb["mean"].iloc[:1],
                    "o",
                    mfc="none",
                    mec="k",
                    ms=8,
                    label="lowest c" if i == 0 else None,
                )
        ax.plot(np.cos(t), np.sin(t), "k--", lw=1, label="a² + b² = 1")
        c_text = "" if several_c else f"; c = {sub['task_alignment'].iloc[0]:.3f}"
        ax.set(
            title=_label(key) + c_text,
            xlabel="a (input-like coordinate, 0–1)",
            ylabel="b (target-like coordinate, 0–1)",
            xlim=(0, 1.05),
            ylim=(0, 1.05),
            aspect="equal",
        )
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center")
    fig.set_figwidth(fig.get_figwidth() + 1.6)
    per = (
        "one point per activation and task alignment c" if several_c else "one point per activation"
    )
    fig.suptitle(f"Corrected alignment plane, end of training ({where})\n{per}")
    return fig


def disentanglement(df: pd.DataFrame, colors: dict, where: str, context: Context):
    """PS and CCGP (proper splits) of the trained target bits against c, each run's mean over
    its k target bits, a row of two panels per (kernel, d, k)."""
    panels, notes, every = [], {}, _every(context)
    for key, sub in _groups(df):
        bits = target_bits(int(key[1]), int(key[2]))
        what = f"mean of the {len(bits)} target bits" if len(bits) > 1 else f"target {bits[0]}"
        sub = _target_means(sub, bits)
        for col, name, ylabel, ylim in (
            ("ps_targets", "PS", "parallelism score, −1 to 1", (-1.02, 1.02)),
            ("ccgp_targets", "CCGP (proper splits)", "accuracy (chance 0.5)", (-0.02, 1.02)),
        ):
            panels.append((key, sub, col, f"{name}, {what}", ylabel, ylim))
            if not every.empty:
                e = _target_means(every[(every[GROUP] == key).all(axis=1)], bits)
                notes[(key, col)] = sign_note(e, col, "task_alignment", context.primary, "c")
    fig = _sweep_panels(df, colors, panels, notes)
    fig.suptitle(f"Trained target bits, end of training: abstraction against c ({where})")
    return fig


def _target_means(df: pd.DataFrame, bits: list[str]) -> pd.DataFrame:
    """Each run's PS and CCGP (proper splits) averaged over its target bits (accuracies and
    parallelism scores of trained bits, which do not cancel)."""
    return df.assign(
        ps_targets=df[[f"ps_{b}" for b in bits]].mean(axis=1),
        ccgp_targets=df[[f"ccgp_proper_{b}" for b in bits]].mean(axis=1),
    )


def _every(context: Context) -> pd.DataFrame:
    """The final-epoch rows of every analysis (empty with one decoder)."""
    every = context.every
    if every.empty or every["decoder"].nunique() < 2:
        return pd.DataFrame()
    return final_epoch(every)


def by_kind(acts: list[str]) -> list[tuple[str, list[str]]]:
    """The activations grouped by kind, in the order of :data:`KINDS` (the paper's argument:
    two-sided saturating, one-sided, kink shift, bias shift), each group in the given order."""
    kinds = {a: activation_kind(a) for a in acts}
    return [(k, [a for a in acts if kinds[a] == k]) for k in KINDS if k in kinds.values()]


def ablation(df: pd.DataFrame, colors: dict, where: str, context: Context):
    """Each activation's target and input alignment as bars grouped by kind, a row of two
    panels per (kernel, d, k); each run's value is its mean over the c > 0 of the experiment
    (as the claims), then mean ± s.e.m. over runs."""
    groups = _groups(df)
    kinds = by_kind(list(dict.fromkeys(df["act"])))
    order = [a for _, acts in kinds for a in acts]
    # a gap between kinds; y positions top to bottom
    y, head, pos = {}, {}, 0.0
    for kind, acts in kinds:
        head[kind] = pos
        pos += 0.9
        for a in acts:
            y[a] = pos
            pos += 1
    fig, axes, _ = grid(2 * len(groups), columns=2, panel=(3.6, 0.75 + 0.27 * pos))
    for i, (key, sub) in enumerate(groups):
        used = aligned(sub) if (sub["align"] > 0).any() else sub
        cs = sorted(used["task_alignment"].unique())
        grid_text = (
            f"c = {cs[0]:.2f}"
            if len(cs) == 1
            else f"mean over c = {', '.join(f'{c:.2f}' for c in cs)}"
        )
        # one value per run: its mean over the c used, then mean ± s.e.m. over runs
        per_run = used.groupby(["act", "seed", "task_seed"], observed=True)[
            ["target_alignment", "input_alignment"]
        ].mean()
        for ax, col, name in zip(
            axes[2 * i : 2 * i + 2],
            ("target_alignment", "input_alignment"),
            ("Target", "Input"),
            strict=True,
        ):
            st = per_run.groupby("act", observed=True)[col].agg(["mean", "std", "count"])
            st = st.reindex(order)
            sem = (st["std"] / np.sqrt(st["count"])).fillna(0)
            ys = [y[a] for a in order]
            ax.barh(ys, st["mean"], xerr=sem, color=[colors[a] for a in order], capsize=2)
            for ref, ls in (("tanh", "-"), ("relu", "--")):
                if ref in st.index and not np.isnan(st.loc[ref, "mean"]):
                    ax.axvline(st.loc[ref, "mean"], color=colors[ref], ls=ls, lw=1, label=ref)
            ax.set_yticks(ys, order)
            for kind in head:
                ax.axhline(head[kind] - 0.35, color="0.6", lw=0.6)
                ax.text(
                    0.01,
                    head[kind] + 0.15,
                    kind,
                    transform=ax.get_yaxis_transform(),
                    va="center",
                    style="italic",
                )
            ax.set_ylim(pos - 0.4, -0.45)
            ax.set(
                title=f"{name} alignment ({_label(key)})\n{grid_text}",
                xlabel=f"CKA(K_h, K_{'y' if col == 'target_alignment' else 'x'}), 0–1",
                xlim=(0, 1.02),
            )
            ax.grid(alpha=0.3, axis="x")
    fig.suptitle(
        f"Activation ablation, end of training, grouped by kind ({where})\n"
        "vertical lines: tanh's value (solid red), relu's (dashed blue)"
    )
    return fig


FIGURES = {
    "alignment_sweep": alignment_sweep,
    "alignment_plane": alignment_plane,
    "disentanglement": disentanglement,
    "ablation": ablation,
}


def draw(df: pd.DataFrame, outputs: list[str], figures: dict, context: Context) -> None:
    """Draw each figure of :data:`FIGURES` named in ``outputs`` into the paths of that name."""
    df, where, sigma = select(final_epoch(df), figures)
    colors = activation_colors(list(dict.fromkeys(df["act"])))
    for name, make in FIGURES.items():
        paths = [p for p in outputs if Path(p).stem == name]
        if not paths:
            continue
        fig = make(df, colors, where, context)
        extra = "bars: c > 0 only, as in the claims" if name == "ablation" else ""
        footer(fig, context, _n_runs(df), sigma, unit="runs", extra=extra)
        save(fig, paths)


def _n_runs(df: pd.DataFrame) -> int:
    """The fewest runs (network × task seeds) behind one point."""
    return int(
        df.groupby(["act", *GROUP, "align"], observed=True)[["seed", "task_seed"]]
        .apply(lambda g: len(g.drop_duplicates()))
        .min()
    )
