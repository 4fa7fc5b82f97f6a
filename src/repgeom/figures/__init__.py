"""The paper's figures, one module per task family, from an experiment's aggregated tables.

Each family module has ``draw(df, outputs, settings, evaluation)`` where ``df`` is the wide
per-run frame of :func:`wide` (run-level metrics plus ``<metric>_<dichotomy>`` columns) and
``outputs`` the paths of its figures (named as the family's ``figures`` in ``repgeom.tasks``)
and ``evaluation`` the experiment's evaluation settings (for the noise levels in titles).
Statistics are mean ± s.e.m. over seeds.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..storage import last_layer, primary, read_metadata  # noqa: E402
from ..tasks import get_family  # noqa: E402

COLORS = {"tanh": "#c0392b", "relu": "#2471a3"}


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
    from the primary analysis and, if named in ``outputs``, the analyses figure."""
    # the family figures show one hidden layer: each architecture's last (the shallow
    # network's only one); the layers figure shows them all
    everything = pd.read_parquet(metrics_path), pd.read_parquet(dichotomies_path)
    metrics, dichotomies = (last_layer(t) for t in everything)
    meta = read_metadata(metrics_path)
    evaluation = meta["config"]["evaluation"]
    mine = [o for o in outputs if Path(o).stem not in (ANALYSES, LAYERS)]
    df = wide(primary(metrics, evaluation), primary(dichotomies, evaluation))
    if mine:  # a family may draw none of its own (CIFAR-10: the layers figure only)
        import_module(f"{__name__}.{family}").draw(df, mine, settings, evaluation)
    deep = [o for o in outputs if Path(o).stem == LAYERS]
    if deep:
        from . import layers

        layers.draw(
            everything[0], meta["key_types"], settings, evaluation, deep, meta["experiment"]
        )
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
            meta["experiment"],
            settings["dpi"],
        )
