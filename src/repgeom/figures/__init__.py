"""The paper's figures, one module per task family, from an experiment's aggregated tables.

Each family module has ``draw(df, outputs, settings, context)`` where ``df`` is the wide
per-run frame of :func:`wide` (run-level metrics plus ``<metric>_<dichotomy>`` columns) of the
primary analysis, ``outputs`` the paths of its figures (named as the family's ``figures`` in
``repgeom.tasks``) and ``context`` the :class:`Context` every figure's footer states (epochs,
noise, analysis) with the frame of every analysis (for the notes on decoder reversals).
Statistics are mean ± s.e.m. over seeds, drawn as error bars or bands (± sd where the paper's
figure shows the standard deviation, and the footer says so).

Every figure is legible in the HTML report, which shows it about :data:`REPORT_WIDTH_PX`
wide: at most :data:`MAX_COLUMNS` columns of panels, fonts of :data:`STYLE`, and text no
smaller than :data:`MIN_TEXT_PX` once scaled to that width (:func:`text_px`; tested).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from ..storage import last_layer, primary, primary_analysis, read_metadata  # noqa: E402
from ..sweep import fmt_float  # noqa: E402
from ..tasks import get_family  # noqa: E402

COLORS = {"tanh": "#c0392b", "relu": "#2471a3"}


def activation_colors(acts: list[str]) -> dict[str, str]:
    """tanh and relu in their usual red and blue, every other activation from a qualitative map
    without either (Dark2, then tab20b), so that no two activations of a figure share a colour."""
    import matplotlib.pyplot as plt

    others = [a for a in acts if a not in COLORS]
    palette = list(plt.get_cmap("Dark2").colors) + list(plt.get_cmap("tab20b").colors)
    return COLORS | {a: palette[i % len(palette)] for i, a in enumerate(others)}


#: the width (px) at which the HTML report shows a figure, and the smallest text height (px)
#: a reader can take in at that width
REPORT_WIDTH_PX = 970
MIN_TEXT_PX = 9.0
#: panels per row at most: wider grids wrap into more rows
MAX_COLUMNS = 3
#: one panel's size in inches (width, height)
PANEL = (3.1, 2.45)
#: the font sizes (pt) of every figure; with MAX_COLUMNS panels of PANEL width the smallest
#: (7.5 pt) scales to ≈ 10.5 px at REPORT_WIDTH_PX
STYLE = {
    "font.size": 8.5,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 9.5,
    "legend.frameon": False,
}
#: the size (pt) of the footer that says what a figure shows, the smallest text drawn
FOOTER_PT = 7.5


@dataclass(frozen=True)
class Context:
    """What every figure of an experiment states besides its data: the experiment's name, its
    configured epochs, its resolved ``evaluation`` settings (analyses, test noise), the
    wide frame of every analysis (``every``, with ``decoder`` and ``protocol`` columns), and
    where its runs are (``folder``, ``config``)."""

    experiment: str
    epochs: int
    evaluation: dict
    every: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    #: the experiment's folder (its ``manifest.json`` lists the run files) and its resolved
    #: configuration, for figures drawn from the runs' own files (weight trajectories)
    folder: Path | None = None
    config: dict = field(default_factory=dict, repr=False)

    @property
    def primary(self) -> tuple[str, str] | None:
        return primary_analysis(self.evaluation)

    def analysis(self) -> str:
        """The primary analysis in words."""
        if self.primary is None:
            return "analysis: svm decoder"
        dec, prot = self.primary
        return f"analysis: {dec} decoder, {prot} protocol"

    def noise(self, sigma=None) -> str:
        """The training noise σ (where the figure holds one) and the evaluation noise."""
        ev = self.evaluation
        test = f"noisy decoding at test σ = {fmt_float(ev['test_sigma'])}"
        if "ccgp_noise" in ev:
            at = "test σ" if ev["ccgp_noise"] == "test" else "training σ"
            test += f", CCGP on samples at {at}"
        train = f"input noise σ = {fmt_float(sigma)}; " if sigma is not None else ""
        return train + test


def footer(
    fig,
    context: Context,
    n: int,
    sigma=None,
    unit: str = "seeds",
    when: str = "each run's final snapshot",
    analysis: str | None = None,
    extra: str = "",
    spread: str = "s.e.m.",
):
    """The figure's footer: what it shows (error bars, n, epochs, noise, analysis), wrapped to
    the figure's width, in :data:`FOOTER_PT`. ``spread`` names what the error bars and bands
    are (``s.e.m.``, or ``sd`` where the paper's figure shows the standard deviation)."""
    parts = [
        f"mean ± {spread} over n = {n} {unit} per point (error bars and bands)",
        f"trained {context.epochs} epochs, {when}",
        context.noise(sigma),
        analysis or context.analysis(),
    ] + ([extra] if extra else [])
    footnote(fig, parts)


def footnote(fig, parts: list[str]) -> None:
    """``parts`` joined by " · " as the figure's footer, wrapped to its width, in
    :data:`FOOTER_PT` (:func:`footer` writes the usual parts; a figure of single runs, which
    has no mean to state, writes its own)."""
    text = " · ".join(p for p in parts if p)
    width = max(40, int(fig.get_figwidth() * 15))
    fig.supxlabel(textwrap.fill(text, width), fontsize=FOOTER_PT, color="0.25")


def grid(n: int, columns: int | None = None, panel=PANEL, **kw):
    """A figure of ``n`` panels in rows of at most :data:`MAX_COLUMNS` (or ``columns``), and
    its axes in reading order; unused slots are hidden."""
    ncol = max(1, min(n, columns or MAX_COLUMNS))
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(
        nrow,
        ncol,
        figsize=(panel[0] * ncol + 0.4, panel[1] * nrow + 1.0),
        squeeze=False,
        layout="constrained",
        **kw,
    )
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n], flat[n:]


def text_px(fig, width_px: int = REPORT_WIDTH_PX) -> float:
    """The height (px) of the figure's smallest text once its PNG (saved at ``fig.dpi``) is
    shown ``width_px`` wide (never enlarged): points × dpi / 72 × the scale."""
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if _shown(t)]
    png_px = fig.get_figwidth() * fig.dpi
    return min(sizes) * fig.dpi / 72 * min(1.0, width_px / png_px)


def _shown(t: Text) -> bool:
    """A visible text with something written, outside panels or in a visible one."""
    inside = t.axes is None or t.axes.get_visible()
    return t.get_visible() and bool(t.get_text().strip()) and inside


def save(fig, paths) -> None:
    """Write ``fig`` to every path (at its own dpi) and close it."""
    for p in paths:
        Path(p).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=fig.dpi)
    plt.close(fig)


def sign_note(every: pd.DataFrame, col: str, at: str, primary, where=None) -> str:
    """A panel's note where another decoder gives the tanh − relu difference of ``col`` the
    other sign than the primary analysis (:func:`repgeom.effects.decoder_reversals`), e.g.
    ``tanh − relu: other sign under ridge at δ = 0.5, 0.75``; empty where none does."""
    from ..effects import decoder_reversals

    if primary is None or every.empty or every["decoder"].nunique() < 2:
        return ""
    flips = decoder_reversals(every, col, [at], primary)
    lines = []
    for dec, cells in flips.items():
        vals = ", ".join(fmt_float(c[0]) if isinstance(c[0], float) else str(c[0]) for c in cells)
        lines.append(f"tanh − relu: other sign under {dec}\nat {where or at} = {vals}")
    return "\n".join(lines)


def note(ax, text: str) -> None:
    """A short boxed note in the panel, where it covers the fewest data (a legend's "best")."""
    if not text:
        return
    if (old := ax.get_legend()) is not None:
        ax.add_artist(old)
    box = ax.legend(
        [Line2D([], [], lw=0)],
        [text],
        loc="best",
        handlelength=0,
        handletextpad=0,
        fontsize=FOOTER_PT,
        frameon=True,
        framealpha=0.95,
    )
    box.get_frame().set(facecolor="#fff3cd", edgecolor="#b8860b", linewidth=0.6)


def wide(metrics: pd.DataFrame, dichotomies: pd.DataFrame) -> pd.DataFrame:
    """Run-level metrics with each per-dichotomy metric as a column ``<metric>_<dichotomy>``."""
    keys = [c for c in dichotomies.columns if c not in ("dichotomy", "role")]
    keys = [c for c in keys if c in metrics.columns]
    values = [c for c in dichotomies.columns if c not in keys + ["dichotomy", "role"]]
    piv = dichotomies.pivot_table(
        index=keys, columns="dichotomy", values=values, aggfunc="first", dropna=False
    )
    piv.columns = [f"{m}_{d}" for m, d in piv.columns]
    return metrics.merge(piv.reset_index(), on=keys, how="left")


def mean_sem(df: pd.DataFrame, by: list[str], col: str) -> pd.DataFrame:
    """Mean, s.e.m. (0 for a single seed) and n of ``col`` per group."""
    g = df.groupby(by, observed=True)[col]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["sem"] = (out["std"] / np.sqrt(out["count"])).fillna(0)
    return out


def band(ax, x, m, s, label, color=None, ls="-"):
    """A mean line (markers, line style ``ls``) with a ± s.e.m. band."""
    line = ax.plot(x, m, marker="o", ls=ls, color=color, label=label, ms=3, lw=1.5)[0]
    ax.fill_between(x, m - s, m + s, color=line.get_color(), alpha=0.2, lw=0)
    return line


#: the figure of every analysis side by side (drawn when an experiment has more than one)
ANALYSES = "analyses"
#: the per-layer figure (drawn when an architecture has more than one hidden layer)
LAYERS = "layers"


def draw_experiment(family: str, metrics_path, dichotomies_path, outputs: list[str], settings):
    """Draw the figures of one experiment of ``family`` into ``outputs``: the family's figures
    from the primary analysis and, if named in ``outputs``, the analyses and layers figures."""
    # the family figures show one hidden layer: each architecture's last (the shallow
    # network's only one); the layers figure shows them all
    everything = pd.read_parquet(metrics_path), pd.read_parquet(dichotomies_path)
    metrics, dichotomies = (last_layer(t) for t in everything)
    meta = read_metadata(metrics_path)
    evaluation = meta["config"]["evaluation"]
    context = Context(
        meta["experiment"],
        meta["config"]["training"]["epochs"],
        evaluation,
        wide(metrics, dichotomies) if "decoder" in metrics.columns else pd.DataFrame(),
        Path(metrics_path).parent,
        meta["config"],
    )
    mine = [o for o in outputs if Path(o).stem not in (ANALYSES, LAYERS)]
    df = wide(primary(metrics, evaluation), primary(dichotomies, evaluation))
    module = import_module(f"{__name__}.{family}") if mine else None
    # the family figures show one optimiser, the axis's first, unless the family's module
    # contrasts them (EVERY_OPTIMIZER)
    if "opt" in meta["key_types"] and not getattr(module, "EVERY_OPTIMIZER", False):
        df = df[df["opt"] == meta["config"]["optimizers"][0]]
    with plt.rc_context(STYLE | {"figure.dpi": settings["dpi"]}):
        if module is not None:  # a family may draw none of its own (CIFAR-10: layers only)
            module.draw(df, mine, settings, context)
        deep = [o for o in outputs if Path(o).stem == LAYERS]
        if deep:
            from . import layers

            layers.draw(everything[0], meta["key_types"], settings, context, deep)
        extra = [o for o in outputs if Path(o).stem == ANALYSES]
        if extra:
            from . import analyses

            fixed = {
                k: settings[k] for k in ("sigma", "readout", "arch") if settings.get(k) is not None
            }
            analyses.draw(
                metrics,
                dichotomies,
                meta["key_types"],
                fixed,
                get_family(family).main_axis,
                extra,
                context,
            )
