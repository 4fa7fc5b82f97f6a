"""The unstructured-inputs figures (E1, paper Fig. 1B and 1D).

``fig1_geometry`` (Fig. 1B): target and input alignment, and the parallelism score and CCGP
(proper splits) of the trained dichotomy and of the two untrained ones, against epoch; one
colour per activation and one line style per optimiser, mean ± sd over seeds (the paper's
Fig. 1 shows the standard deviation over networks). Where the runs' metrics hold the weight
movement along each neuron's axes (``movement_intra``, ``movement_inter``,
``movement_ratio``), a fourth row draws it.

``fig1_trajectories`` (Fig. 1D): one panel per activation × optimiser, one network (the
lowest seed): the expected-gradient field of :func:`repgeom.mechanism.gradient_field` in a
neuron's (intra, inter) plane and, over it, the weight trajectories of a sample of neurons
from start (hollow circle) to end (dot). Each neuron's coordinates are on its own axes, which
depend on the sign of its readout weight: neurons of one sign share their axes and field, the
two signs do not (their favoured conditions differ). The panels therefore show the neurons of
one sign, :data:`SIGN` (+1: the neurons that drive the output up, toward the class {0, 3}),
each trajectory on the very field it is drawn over; the other sign's picture is the same
mechanism on the other pair of conditions. The field is that of the run's own condition means
(rebuilt through the task registry from the run's configuration), trained label and fixed
hidden bias, on noise-free inputs.

The trajectories come from each run's ``trajectories.parquet`` where the run's job lists one,
else they are computed from its ``weights.parquet`` (:func:`repgeom.mechanism.neuron_coordinates`);
the run files are those the experiment's ``manifest.json`` names (its configured sweep).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D

from .. import mechanism
from ..activations import get_activation
from ..manifests import current_run_files
from ..storage import read_metadata, read_weights
from ..sweep import fmt_float
from ..tasks import build_task
from . import Context, activation_colors, band, footer, footnote, grid, mean_sem, save
from .delta import select

#: the family figures show every optimiser of the experiment (line styles, panels)
EVERY_OPTIMIZER = True

GEOMETRY = "fig1_geometry"
TRAJECTORIES = "fig1_trajectories"

#: line style per optimiser, in the experiment's order
OPT_STYLES = ("-", "--", ":", "-.")

_PS = ("parallelism score, −1 to 1", (-1.05, 1.05))
_CCGP = ("CCGP accuracy (chance 0.5)", (-0.02, 1.02))
_NAMES = {
    "target": "trained {0,3}|{1,2}",
    "b1": "untrained b1: {0,2}|{1,3}",
    "b2": "untrained b2: {0,1}|{2,3}",
}
#: (column, panel title, y-axis label, y-limits) of Fig. 1B in reading order, three a row;
#: None is the legend's slot
PANELS = (
    ("target_alignment", "Target alignment", "CKA(K_h, K_y), 0–1", (0, 1.02)),
    ("input_alignment", "Input alignment", "CKA(K_h, K_x), 0–1", (0, 1.02)),
    None,
    *((f"ps_{d}", f"PS, {_NAMES[d]}", *_PS) for d in _NAMES),
    *((f"ccgp_proper_{d}", f"CCGP, {_NAMES[d]}", *_CCGP) for d in _NAMES),
)
#: the movement row, drawn when the metrics hold it
MOVEMENT = (
    ("movement_intra", "Movement along û_intra", "mean |Δ w·û_intra| over neurons", None),
    ("movement_inter", "Movement along û_inter", "mean |Δ w·û_inter| over neurons", None),
    ("movement_ratio", "Movement, intra / inter", "ratio (< 1: mostly inter)", None),
)

#: the readout sign of the neurons drawn in Fig. 1D (the other sign if no neuron has it)
SIGN = 1.0
#: neurons drawn per panel, and the field's grid points per axis
N_NEURONS = 12
FIELD_GRID = 21
#: the field's extent beyond the farthest point of the drawn trajectories
MARGIN = 1.15
TRAJECTORY_FILE = "trajectories.parquet"
#: what the marks of Fig. 1D mean
KEY = "○ start, ● end of training; grey arrows: the expected gradient's direction (dark: strong)"


# --------------------------------------------------------------------------- Fig. 1B


def has_movement(df: pd.DataFrame) -> bool:
    """Whether the metrics hold the weight movement (E1 runs evaluated with it)."""
    return all(c in df.columns and df[c].notna().any() for c, *_ in MOVEMENT)


def _styles(df: pd.DataFrame) -> tuple[dict, dict]:
    acts = list(dict.fromkeys(df["act"]))
    opts = list(dict.fromkeys(df["opt"])) if "opt" in df.columns else [None]
    return activation_colors(acts), {o: OPT_STYLES[i % len(OPT_STYLES)] for i, o in enumerate(opts)}


def geometry(df: pd.DataFrame, title: str):
    """Fig. 1B: one panel per metric against epoch, mean ± sd over seeds per activation
    (colour) and optimiser (line style)."""
    panels = PANELS + (MOVEMENT if has_movement(df) else ())
    colors, styles = _styles(df)
    by = ["act", "opt"] if "opt" in df.columns else ["act"]
    fig, axes, _ = grid(len(panels))
    positive = df.loc[df["epoch"] > 0, "epoch"]
    linthresh = float(positive.min()) if len(positive) else 1.0
    for ax, panel in zip(axes, panels, strict=True):
        if panel is None:
            legend_slot = ax
            continue
        col, name, ylabel, ylim = panel
        # the scale first: a reference line drawn before it would stretch the epoch axis
        ax.set_xscale("symlog", linthresh=linthresh)
        for key, sub in df.groupby(by, observed=True, sort=False):
            act, opt = (key[0], key[1]) if len(by) == 2 else (key[0], None)
            st = mean_sem(sub, ["epoch"], col)
            sd = st["std"].fillna(0)
            band(ax, st["epoch"], st["mean"], sd, None, colors[act], ls=styles[opt])
        if col == "target_alignment" and "task_alignment" in df.columns:
            ax.axhline(
                df["task_alignment"].mean(), color="k", ls=(0, (1, 2)), lw=1, label="task CKA"
            )
            ax.legend(loc="lower right")
        if col == "movement_ratio":
            ax.axhline(1, color="0.4", lw=0.8)
        ax.set(title=name, xlabel="epoch (symlog)", ylabel=ylabel)
        if ylim:
            ax.set_ylim(ylim)
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=c, lw=2, label=a) for a, c in colors.items()]
    if len(styles) > 1 or None not in styles:
        handles += [Line2D([], [], color="k", ls=s, lw=1.5, label=o) for o, s in styles.items()]
    legend_slot.axis("off")
    legend_slot.legend(handles=handles, loc="center", title="mean ± sd over seeds")
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- Fig. 1D


@dataclass(frozen=True)
class RunPicture:
    """What Fig. 1D draws of one run: its cell, the field's inputs (condition means ``xbar``
    (C, D), the trained 0/1 label ``y`` (C,), the fixed hidden ``bias``, None where the run
    drew random biases), each neuron's readout ``signs`` (N,) and the trajectories (``epoch``,
    ``neuron``, ``intra``, ``inter``, one row per snapshot and neuron)."""

    act: str
    opt: str | None
    seed: int
    xbar: np.ndarray
    y: np.ndarray
    bias: float | None
    signs: np.ndarray
    traj: pd.DataFrame
    source: str


def readout_signs(weights_path) -> np.ndarray:
    """Each hidden neuron's readout sign (N,), ±1 (0 counts as +1), from the first snapshot's
    J of the first output (the readout is frozen), reading only that column."""
    shape = read_metadata(weights_path)["shapes"]["J"]
    col = pq.read_table(weights_path, columns=["J"]).column("J").combine_chunks()
    J = col.flatten().to_numpy()[: int(np.prod(shape))].reshape(shape)
    return np.where(J[0] < 0, -1.0, 1.0)


def fixed_bias(model: dict, act: str) -> float | None:
    """The hidden bias every neuron of a run has: ``model.hidden_bias`` plus the activation's
    bias shift (as the model initialiser sets it); None where the biases were drawn at random
    or trained."""
    value = model.get("hidden_bias")
    if value is None or model.get("train_hidden_bias", True):
        return None
    return float(value) + get_activation(act).bias_shift


def trajectories_of(weights_path, stored, xbar, y, signs) -> tuple[pd.DataFrame, str]:
    """A run's trajectories: its ``trajectories.parquet`` (``stored``) if there is one, else
    computed from its weight snapshots on each neuron's own axes."""
    if stored is not None:
        columns = ["epoch", "neuron", "intra", "inter"]
        return pd.read_parquet(stored, columns=columns), TRAJECTORY_FILE
    epochs, params = read_weights(weights_path)
    coords = mechanism.neuron_coordinates(params["W"], xbar, y, signs)
    return mechanism.trajectory_frame(epochs, coords), "weights.parquet"


def run_pictures(folder, choice: dict, acts: list[str], opts: list) -> list[RunPicture]:
    """One :class:`RunPicture` per activation × optimiser (in that order) of the lowest seed
    in the figure's cell ``choice`` (σ, readout, architecture), from the run files the
    experiment's manifest names. The weight files are listed without hashing them (the
    aggregation checked them; hashing every snapshot of a sweep to draw a few would dominate)."""
    weights = current_run_files(folder, "weights.parquet", verify=False)
    stored = {str(Path(f).parent): f for f in current_run_files(folder, TRAJECTORY_FILE, False)}
    found = {}
    for f in weights:
        cfg = read_metadata(f)["config"]
        run = cfg["run"]
        same = (
            run["readout"] == choice["readout"]
            and run["arch"] == choice["arch"]
            and np.isclose(float(run["sigma"]), float(choice["sigma"]))
        )
        if same and run["act"] in acts and run.get("opt") in opts:
            found.setdefault((run["act"], run.get("opt")), []).append((run["seed"], f, cfg))
    if not found:
        raise FileNotFoundError(f"no weights.parquet of the cell {choice} in {folder}'s manifest")
    seed = min(s for runs in found.values() for s, _, _ in runs)
    out = []
    for act in acts:
        for opt in opts:
            hit = [(f, cfg) for s, f, cfg in found.get((act, opt), []) if s == seed]
            if not hit:
                continue
            f, cfg = hit[0]
            task = build_task(cfg["task"])
            xbar, y = task.means, task.target[:, 0]  # the (first) trained output
            signs = readout_signs(f)
            traj, source = trajectories_of(f, stored.get(str(Path(f).parent)), xbar, y, signs)
            bias = fixed_bias(cfg["model"], act)
            out.append(RunPicture(act, opt, seed, xbar, y, bias, signs, traj, source))
    return out


def drawn_sign(signs: np.ndarray) -> float:
    """:data:`SIGN` if some neuron has it, else the other sign."""
    return SIGN if np.any(signs == SIGN) else -SIGN


def sample(pic: RunPicture) -> pd.DataFrame:
    """The trajectories of the first :data:`N_NEURONS` neurons of the drawn sign."""
    sign = drawn_sign(pic.signs)
    neurons = np.flatnonzero(pic.signs == sign)[:N_NEURONS]
    t = pic.traj[pic.traj["neuron"].isin(neurons)]
    return t.sort_values(["neuron", "epoch"])


def field_of(pic: RunPicture, extent: float) -> mechanism.Field:
    """The expected-gradient field of the panel's neurons (noise-free, the run's bias; 0 where
    the biases are random)."""
    return mechanism.gradient_field(
        pic.xbar,
        pic.y,
        drawn_sign(pic.signs),
        pic.act,
        pic.bias if pic.bias is not None else 0.0,
        grid=FIELD_GRID,
        extent=extent,
    )


def _quiver(ax, fld: mechanism.Field) -> None:
    """The field's direction as unit arrows, shaded by its strength relative to the panel's
    strongest (no arrow where it vanishes)."""
    A, B = np.meshgrid(fld.alpha, fld.beta)
    mag = np.hypot(fld.g_intra, fld.g_inter)
    safe = np.where(mag > 0, mag, 1.0)
    U, V = fld.g_intra / safe, fld.g_inter / safe
    step = fld.alpha[1] - fld.alpha[0]
    strength = mag / mag.max() if mag.max() > 0 else mag
    ax.quiver(
        A, B, U, V, strength,
        cmap="Greys", norm=Normalize(-0.35, 1.0), angles="xy", scale_units="xy",
        scale=1 / (0.75 * step), width=0.006, minlength=0, zorder=1,
    )  # fmt: skip


def trajectory_panel(ax, pic: RunPicture, color, ratio: float | None = None) -> None:
    """One run's field and sampled trajectories, on equal axes that cover the trajectories."""
    t = sample(pic)
    reach = float(np.abs(t[["intra", "inter"]].to_numpy()).max()) if len(t) else 1.0
    extent = MARGIN * max(reach, 1e-6)
    _quiver(ax, field_of(pic, extent))
    for _, one in t.groupby("neuron", sort=True):
        x, yv = one["intra"].to_numpy(), one["inter"].to_numpy()
        ax.plot(x, yv, color=color, lw=1.4, alpha=0.9, zorder=2)
        ax.plot(x[0], yv[0], "o", ms=4, mfc="white", mec=color, mew=1.1, zorder=3)
        ax.plot(x[-1], yv[-1], "o", ms=4.5, color=color, zorder=3)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.6", lw=0.6, zorder=0)
    ax.axvline(0, color="0.6", lw=0.6, zorder=0)
    ax.set(xlabel="w·û_intra", ylabel="w·û_inter")
    head = pic.act + (f", {pic.opt}" if pic.opt else "")
    bias = f"b = {fmt_float(pic.bias)}" if pic.bias is not None else "random b (field at 0)"
    second = bias + (f"; intra/inter movement {ratio:.2f}" if ratio is not None else "")
    ax.set_title(f"{head}\n{second}")


def trajectories(pictures: list[RunPicture], colors: dict, title: str, ratios: dict):
    """Fig. 1D: one panel per run of ``pictures`` (rows of activations, a column per optimiser
    up to three); ``ratios``: (act, opt) → the mean final movement ratio, in the title."""
    opts = list(dict.fromkeys(p.opt for p in pictures))
    fig, axes, _ = grid(len(pictures), columns=len(opts), panel=(3.1, 3.0))
    for ax, pic in zip(axes, pictures, strict=True):
        trajectory_panel(ax, pic, colors[pic.act], ratios.get((pic.act, pic.opt)))
    # the key in the title: a legend outside the panels would collide with the title or footer
    fig.suptitle(f"{title}\n{KEY}")
    return fig


def final_ratios(df: pd.DataFrame) -> dict:
    """(act, opt) → the mean over seeds of each run's last ``movement_ratio`` (empty without
    the movement metrics)."""
    if not has_movement(df):
        return {}
    run = [c for c in ("act", "opt", "seed") if c in df.columns]
    last = df[df["epoch"] == df.groupby(run, observed=True)["epoch"].transform("max")]
    by = [c for c in ("act", "opt") if c in df.columns]
    means = last.groupby(by, observed=True)["movement_ratio"].mean()
    return {(k if isinstance(k, tuple) else (k, None)): float(v) for k, v in means.items()}


# --------------------------------------------------------------------------- both


def draw(df: pd.DataFrame, outputs: list[str], figures: dict, context: Context) -> None:
    """Draw ``fig1_geometry`` and ``fig1_trajectories`` into the ``outputs`` of those names."""
    df, choice = select(df, figures)
    where = f"readout {choice['readout']}, {choice['arch']}, σ = {fmt_float(choice['sigma'])}"
    by = [c for c in ("act", "opt") if c in df.columns]
    n = int(df.groupby(by, observed=True)["seed"].nunique().min())
    paths = [p for p in outputs if Path(p).stem == GEOMETRY]
    if paths:
        fig = geometry(df, f"Unstructured inputs over training ({where})")
        footer(fig, context, n, choice["sigma"], when="every evaluated snapshot", spread="sd")
        save(fig, paths)

    paths = [p for p in outputs if Path(p).stem == TRAJECTORIES]
    if not paths:
        return
    acts = list(dict.fromkeys(df["act"]))
    opts = list(dict.fromkeys(df["opt"])) if "opt" in df.columns else [None]
    pictures = run_pictures(context.folder, choice, acts, opts)
    colors, _ = _styles(df)
    pic = pictures[0]
    sign = "+" if drawn_sign(pic.signs) > 0 else "−"
    fig = trajectories(
        pictures,
        colors,
        f"Weight trajectories over the expected-gradient field (seed {pic.seed}, {where})",
        final_ratios(df),
    )
    every = np.diff(np.unique(pic.traj["epoch"]))
    shown = sample(pic)["neuron"].nunique()  # N_NEURONS, or all of that sign in a narrow net
    parts = [
        f"one network per panel: {shown} of its neurons with readout sign {sign}, each on "
        "its own axes (û_inter: the class-mean difference the neuron drives; û_intra: the "
        "difference of its two favoured conditions)",
        f"trained {context.epochs} epochs, a point every {int(every.min()) if len(every) else 0} "
        f"epochs (from {pic.source})",
        "field: g(w) = Σ_c e_c f′(w·x̄_c + b) x̄_c at the noise-free means, errors held at their "
        "initial values (arrows: direction)",
        f"training input noise σ = {fmt_float(choice['sigma'])}",
    ]
    if any(r for r in final_ratios(df)):
        parts.append(f"movement ratio: mean over n = {n} seeds at the last snapshot")
    footnote(fig, parts)
    save(fig, paths)
