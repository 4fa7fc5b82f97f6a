"""The paper's δ-task figures (Figs. 2–3) from the aggregated metrics.

Statistics are mean ± s.e.m. over seeds; averages over the untrained bits (b1, b2) are taken
per run before averaging over seeds.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .storage import read_metadata  # noqa: E402
from .sweep import fmt_float  # noqa: E402
from .tasks import task_alignment  # noqa: E402

#: (column, panel title, y-limits) of the δ-sweep figure; ``*_untrained`` are b1/b2 averages
PANELS = (
    ("target_alignment", "Target alignment (CKA)", (0, 1.02)),
    ("input_alignment", "Input alignment (CKA)", (0, 1.02)),
    ("ps_untrained", "PS, untrained bits", (-1, 1)),
    ("ccgp_untrained", "CCGP (proper), untrained bits", (0, 1.02)),
    (
        "decoding_noisy_untrained",
        "Decoding untrained bits\n(test noise σ = {test_sigma})",
        (0.4, 1.02),
    ),
)
COLORS = {"tanh": "#c0392b", "relu": "#2471a3"}


def add_derived(df: pd.DataFrame) -> pd.DataFrame:
    """Per-run averages over the untrained bits b1 and b2."""
    df = df.copy()
    df["ps_untrained"] = (df["ps_b1"] + df["ps_b2"]) / 2
    df["ccgp_untrained"] = (df["ccgp_proper_b1"] + df["ccgp_proper_b2"]) / 2
    df["decoding_noisy_untrained"] = (df["decoding_noisy_b1"] + df["decoding_noisy_b2"]) / 2
    return df


def select(df: pd.DataFrame, figures: dict, sweep: dict) -> tuple[pd.DataFrame, dict]:
    """Rows of the figure's σ, readout and architecture (config nulls → first sweep value)."""
    choice = {
        "sigma": figures["sigma"] if figures["sigma"] is not None else sweep["sigmas"][0],
        "readout": figures["readout"] or sweep["readouts"][0],
        "arch": figures["arch"] or sweep["architectures"][0],
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


def mean_sem(df: pd.DataFrame, by: list[str], col: str) -> pd.DataFrame:
    g = df.groupby(by, observed=True)[col]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["sem"] = (out["std"] / np.sqrt(out["count"])).fillna(0)
    return out


def _band(ax, x, m, s, act, **kw):
    ax.plot(x, m, "o-", color=COLORS.get(act), label=act, ms=3, lw=1.5, **kw)
    ax.fill_between(x, m - s, m + s, color=COLORS.get(act), alpha=0.2, lw=0)


def _panels(test_sigma: float) -> tuple:
    return tuple((c, n.format(test_sigma=fmt_float(test_sigma)), y) for c, n, y in PANELS)


def delta_sweep(df: pd.DataFrame, title: str, test_sigma: float):
    """One panel per metric against δ at the final epoch, one line per activation."""
    final = df[df["epoch"] == df.groupby("seed")["epoch"].transform("max")]
    fig, axes = plt.subplots(
        1, len(PANELS), figsize=(3.1 * len(PANELS), 3.0), constrained_layout=True
    )
    deltas = np.linspace(0, final["delta"].max(), 100)
    for ax, (col, name, ylim) in zip(axes, PANELS, strict=True):
        for act, sub in final.groupby("act", observed=True):
            st = mean_sem(sub, ["delta"], col)
            _band(ax, st["delta"], st["mean"], st["sem"], act)
        if col in ("target_alignment", "input_alignment"):
            ax.plot(deltas, task_alignment(deltas), "k--", lw=1, label="task CKA(Kx, Ky)")
        ax.set(title=name, xlabel="δ (separability of trained XOR)", ylim=ylim)
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def over_training(df: pd.DataFrame, title: str, test_sigma: float):
    """The sweep's metrics plus the training loss against epoch, for one δ."""
    cols = (("train_loss", "Training loss (BCE)", None),) + _panels(test_sigma)
    fig, axes = plt.subplots(1, len(cols), figsize=(3.1 * len(cols), 3.0), constrained_layout=True)
    for ax, (col, name, ylim) in zip(axes, cols, strict=True):
        for act, sub in df.groupby("act", observed=True):
            st = mean_sem(sub, ["epoch"], col)
            _band(ax, st["epoch"], st["mean"], st["sem"], act)
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


def draw_all(metrics_path, sweep_png, training_png, extra: list[str], figures: dict, sweep: dict):
    """Draw both figures; ``extra`` are further paths named ``{delta_sweep,over_training}.ext``."""
    df, choice = select(add_derived(pd.read_parquet(metrics_path)), figures, sweep)
    test_sigma = read_metadata(metrics_path)["config"]["evaluation"]["test_sigma"]
    plt.rcParams.update({"figure.dpi": figures["dpi"], "font.size": 9})
    where = f"σ = {fmt_float(choice['sigma'])}, readout {choice['readout']}, {choice['arch']}"
    n = df.groupby(["act", "delta"], observed=True)["seed"].nunique().min()
    fig = delta_sweep(
        df, f"δ-task, end of training ({where}; mean ± s.e.m., n = {n} seeds)", test_sigma
    )
    _save(fig, [sweep_png] + [p for p in extra if Path(p).stem == "delta_sweep"])

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
    fig = over_training(sub, f"δ-task over training (δ = {fmt_float(hit[0])}, {where})", test_sigma)
    _save(fig, [training_png] + [p for p in extra if Path(p).stem == "over_training"])
