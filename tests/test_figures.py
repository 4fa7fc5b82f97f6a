"""Every family's figures, drawn from small synthetic aggregated tables (no workflow): each is
legible at the report's width, and the figure lists follow the experiment's axes."""

import itertools
from pathlib import Path

import matplotlib.figure
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from repgeom.figures import MIN_TEXT_PX, REPORT_WIDTH_PX, draw_experiment, text_px
from repgeom.networks import n_layers
from repgeom.storage import read_metadata, write_parquet
from repgeom.tasks.alignment import mask_name, parity_masks

SETTINGS = {"dpi": 150, "sigma": None, "readout": None, "arch": None, "training_delta": None}
DICHOTOMY_METRICS = ("ps", "ccgp", "ccgp_proper", "decoding", "decoding_noisy")
RUN_METRICS = (
    "train_loss",
    "test_loss",
    "input_alignment",
    "target_alignment",
    "task_alignment",
    "shattering_dim",
)


def _tables(
    axes: dict, key_types: dict, dichotomies: dict, layers=(1,), analyses=(("svm", "clean"),)
):
    """Random metrics and dichotomies tables over the product of ``axes`` (with seed, epoch,
    layer and analysis), and ``dichotomies``: name → role."""
    rng = np.random.default_rng(0)
    keys = [*key_types, "epoch", "layer"]
    grid = list(itertools.product(*(axes[k] for k in key_types), (0, 10, 100), layers))
    m = pd.DataFrame(grid, columns=keys)
    m = m[m["layer"] <= m["arch"].map(n_layers)].reset_index(drop=True)
    m = pd.concat([m.assign(decoder=d, protocol=p) for d, p in analyses], ignore_index=True)
    for col in RUN_METRICS:
        m[col] = rng.uniform(0.05, 0.95, len(m))
    if "align" in m:
        m["task_alignment"] = m["align"] * 0.2
    d = pd.concat(
        [
            m[[*keys, "decoder", "protocol"]].assign(dichotomy=n, role=r)
            for n, r in dichotomies.items()
        ],
        ignore_index=True,
    )
    for col in DICHOTOMY_METRICS:
        d[col] = rng.uniform(-0.5 if col == "ps" else 0, 1, len(d))
    return m, d


def _write(tmp: Path, name: str, family: str, axes, key_types, dich, evaluation, **kw):
    m, d = _tables(axes, key_types, dich, **kw)
    meta = {
        "experiment": name,
        "key_types": key_types,
        "config": {"family": family, "training": {"epochs": 100}, "evaluation": evaluation},
    }
    paths = tmp / "metrics.parquet", tmp / "dichotomies.parquet"
    for t, p in zip((m, d), paths, strict=True):
        write_parquet(pa.Table.from_pandas(t, preserve_index=False), p, meta)
    return paths


DELTA = {
    "family": "delta",
    "key_types": {
        "arch": "string",
        "act": "string",
        "readout": "string",
        "sigma": "float64",
        "delta": "float64",
        "seed": "int64",
    },
    "axes": {
        "arch": ["shallow"],
        "act": ["tanh", "relu"],
        "readout": ["uniform"],
        "sigma": [0.1],
        "delta": [0.0, 0.5, 1.0],
        "seed": [0, 1, 2],
    },
    "dich": {"xor": "target", "b1": "latent", "b2": "latent"},
    "evaluation": {
        "test_sigma": 1.0,
        "ccgp_noise": "training",
        "decoders": ["svm", "ridge"],
        "protocols": ["clean", "original"],
    },
    "kw": {"analyses": tuple(itertools.product(("svm", "ridge"), ("clean", "original")))},
    "figures": ["delta_sweep", "over_training", "analyses"],
}
_ALIGN_KEYS = {
    "arch": "string",
    "act": "string",
    "readout": "string",
    "kernel": "string",
    "d": "int64",
    "k": "int64",
    "align": "int64",
    "task_seed": "int64",
    "sigma": "float64",
    "seed": "int64",
}
_ALIGN_EVAL = {
    "test_sigma": 0.5,
    "ccgp_noise": "test",
    "decoders": ["svm"],
    "protocols": ["clean", "original"],
}
ALIGNMENT = {
    "family": "alignment",
    "key_types": _ALIGN_KEYS,
    "axes": {
        "arch": ["shallow"],
        "act": ["tanh", "relu"],
        "readout": ["gauss"],
        "kernel": ["maxdim"],
        "d": [3],
        "k": [1, 3],
        "align": [0, 1, 2, 3],
        "task_seed": [0],
        "sigma": [1.0],
        "seed": [0, 1, 2],
    },
    "dich": {mask_name(int(m)): "latent" for m in parity_masks(3)[:3]},
    "evaluation": _ALIGN_EVAL,
    "kw": {"analyses": (("svm", "clean"), ("svm", "original"))},
    "figures": ["alignment_sweep", "alignment_plane", "disentanglement", "analyses"],
}
ABLATION = ALIGNMENT | {
    "axes": ALIGNMENT["axes"]
    | {
        "k": [3],
        "align": [1],
        "act": [
            "tanh",
            "relu",
            "bounded_relu_ub1",
            "softplus",
            "shifted_relu_s-0.5",
            "relu_bias+0.5",
            "tanh_bias-1",
            "leaky_relu",
            "hardtanh",
        ],
    },
    "evaluation": _ALIGN_EVAL | {"protocols": ["clean"]},
    "kw": {},
    "figures": ["alignment_plane", "ablation"],
}
DEEP = DELTA | {
    "axes": DELTA["axes"] | {"arch": ["mlp2", "mlp3", "mlp4", "mlp5"]},
    "kw": {"layers": (1, 2, 3, 4, 5)},
    "figures": ["layers"],
}


def _draw(tmp_path, monkeypatch, spec) -> dict:
    """Draw ``spec``'s figures; the text size (px at the report's width) of each, by name."""
    dich = dict(spec["dich"])
    if spec["family"] == "alignment":  # the trained bits are the first k: roles per k below
        dich = {n: "target, latent" for n in dich}
    metrics, dichotomies = _write(
        tmp_path,
        "exp",
        spec["family"],
        spec["axes"],
        spec["key_types"],
        dich,
        spec["evaluation"],
        **spec["kw"],
    )
    if spec["family"] == "alignment":  # k = 1: only the first bit is trained
        d = pd.read_parquet(dichotomies)
        d.loc[(d["k"] == 1) & (d["dichotomy"] != "bit0"), "role"] = "latent"
        meta = read_metadata(dichotomies)
        write_parquet(pa.Table.from_pandas(d, preserve_index=False), dichotomies, meta)
    sizes = {}
    save = matplotlib.figure.Figure.savefig

    def record(fig, path, *a, **k):
        sizes[Path(path).stem] = text_px(fig)
        return save(fig, path, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    outs = [str(tmp_path / f"{n}.png") for n in spec["figures"]]
    draw_experiment(spec["family"], metrics, dichotomies, outs, SETTINGS)
    assert all(Path(o).stat().st_size > 1000 for o in outs)
    return sizes


@pytest.mark.parametrize(
    "spec", [DELTA, ALIGNMENT, ABLATION, DEEP], ids=["delta", "alignment", "ablation", "deep"]
)
def test_every_figure_is_legible_at_the_report_width(tmp_path, monkeypatch, spec):
    sizes = _draw(tmp_path, monkeypatch, spec)
    assert set(sizes) == set(spec["figures"])
    small = {n: round(px, 1) for n, px in sizes.items() if px < MIN_TEXT_PX}
    assert not small, f"text under {MIN_TEXT_PX} px at {REPORT_WIDTH_PX} px wide: {small}"


def test_text_px_scales_wide_figures_down():
    fig = matplotlib.figure.Figure(figsize=(20, 3), dpi=100)
    fig.text(0.5, 0.5, "x", fontsize=10)
    # 2000 px shown 970 wide: 10 pt = 13.9 px at 100 dpi, times 0.485
    assert text_px(fig) == pytest.approx(10 * 100 / 72 * 970 / 2000)


def test_ablation_groups_by_kind_from_the_registry():
    from repgeom.figures.alignment import by_kind

    groups = by_kind(["relu", "tanh_bias-1", "softplus", "tanh", "shifted_relu_s-0.5", "hardtanh"])
    assert groups == [
        ("two-sided saturating", ["tanh", "hardtanh"]),
        ("one-sided or non-saturating", ["relu", "softplus"]),
        ("kink shift", ["shifted_relu_s-0.5"]),
        ("bias shift", ["tanh_bias-1"]),
    ]


def test_decoder_reversals_name_the_cells_where_the_sign_flips():
    from repgeom.effects import decoder_reversals

    rows = []
    for dec, x, tanh, relu in [
        ("svm", 0, 0.9, 0.1),
        ("svm", 1, 0.0, 0.0),
        ("ridge", 0, 0.8, 0.2),
        ("ridge", 1, 0.0, 0.6),
    ]:
        for act, v in (("tanh", tanh), ("relu", relu)):
            rows.append(
                {"decoder": dec, "protocol": "clean", "x": x, "act": act, "m": v, "seed": 0}
            )
    flips = decoder_reversals(pd.DataFrame(rows), "m", ["x"], ("svm", "clean"))
    assert flips == {"ridge": [(1,)]}


# --------------------------------------------------------------------------- unstructured (E1)

E1_KEYS = {
    "arch": "string",
    "act": "string",
    "readout": "string",
    "opt": "string",
    "sigma": "float64",
    "seed": "int64",
}
E1_AXES = {
    "arch": ["shallow"],
    "act": ["tanh", "relu"],
    "readout": ["balanced"],
    "opt": ["sgd", "rmsprop"],
    "sigma": [1.0],
    "seed": [0, 1, 2],
}
E1_BIAS = {"tanh": -0.1, "relu": 0.1}
E1_DIM, E1_WIDTH = 20, 16


def _e1_weights(act: str, seed: int):
    """Weight snapshots of a network that follows the expected gradient (errors held at their
    initial values) from a U(−1, 1)/√D start: epochs (S,), params W (S, N, D), J (S, 1, N),
    b (S, N); the run's condition means and label."""
    from repgeom.mechanism import activation_numpy
    from repgeom.tasks.unstructured import UnstructuredTask

    task = UnstructuredTask(1.0, E1_DIM, 0)
    xbar, y = task.means, task.target[:, 0].astype(float)
    rng = np.random.default_rng(seed)
    signs = rng.permutation(np.repeat([1.0, -1.0], E1_WIDTH // 2))
    W = rng.uniform(-1, 1, (E1_WIDTH, E1_DIM)) / np.sqrt(E1_DIM)
    df = activation_numpy(act)[1]
    e = signs[:, None] * (y - y.mean())  # (N, C)
    snaps = []
    for _ in range(30):
        snaps.append(W.copy())
        W = W + 0.02 * (e * df(W @ xbar.T + E1_BIAS[act])) @ xbar
    S = len(snaps)
    params = {
        "W": np.stack(snaps).astype(np.float32),
        "J": np.broadcast_to(signs / np.sqrt(E1_WIDTH), (S, 1, E1_WIDTH)).astype(np.float32),
        "b": np.full((S, E1_WIDTH), E1_BIAS[act], np.float32),
    }
    return np.arange(S) * 10, params, xbar, y


def _e1_experiment(tmp: Path, movement: bool, stored: bool) -> tuple[Path, Path]:
    """A synthetic E1 experiment folder: metrics and dichotomies tables (with the movement
    columns if ``movement``), each run's weights.parquet (and trajectories.parquet if
    ``stored``) listed in a job manifest, and the manifest.json that names that job."""
    from repgeom import manifests
    from repgeom.mechanism import neuron_coordinates, trajectory_frame
    from repgeom.storage import write_weights

    evaluation = {"test_sigma": 1.0, "ccgp_noise": "training", "decoders": ["svm"]}
    evaluation |= {"protocols": ["clean"]}
    dich = {"target": "target", "b1": "latent", "b2": "latent"}
    m, d = _tables(E1_AXES, E1_KEYS, dich)
    if movement:
        rng = np.random.default_rng(1)
        m["movement_intra"] = np.where(m["epoch"] > 0, rng.uniform(0.1, 1, len(m)), 0.0)
        m["movement_inter"] = np.where(m["epoch"] > 0, rng.uniform(0.5, 2, len(m)), 0.0)
        m["movement_ratio"] = m["movement_intra"] / m["movement_inter"].replace(0, np.nan)
    config = {
        "family": "unstructured",
        "optimizers": E1_AXES["opt"],
        "training": {"epochs": 290},
        "evaluation": evaluation,
    }
    meta = {"experiment": "e1", "key_types": E1_KEYS, "config": config}
    paths = tmp / "metrics.parquet", tmp / "dichotomies.parquet"
    for t, p in zip((m, d), paths, strict=True):
        write_parquet(pa.Table.from_pandas(t, preserve_index=False), p, meta)
    files = []
    for act, opt, seed in itertools.product(E1_AXES["act"], E1_AXES["opt"], (0, 1)):
        run = {"arch": "shallow", "act": act, "readout": "balanced", "opt": opt}
        run |= {"sigma": 1.0, "seed": seed}
        folder = tmp.joinpath("runs", *(f"{k}={v}" for k, v in run.items()))
        run_cfg = {
            "experiment": "e1",
            "run": run,
            "task": {"family": "unstructured", "sigma": 1.0, "dim": E1_DIM, "task_seed": 0},
            "model": {"activation": act, "hidden_bias": E1_BIAS[act], "train_hidden_bias": False},
        }
        epochs, params, xbar, y = _e1_weights(act, seed)
        snaps = [{k: v[i] for k, v in params.items()} for i in range(len(epochs))]
        folder.mkdir(parents=True)
        write_weights(folder / "weights.parquet", list(epochs), snaps, {"config": run_cfg})
        files.append(folder / "weights.parquet")
        if stored:
            coords = neuron_coordinates(params["W"], xbar, y, params["J"][0, 0])
            frame = trajectory_frame(epochs, coords)
            write_parquet(
                pa.Table.from_pandas(frame, preserve_index=False),
                folder / "trajectories.parquet",
                {"config": run_cfg},
            )
            files.append(folder / "trajectories.parquet")
    job = tmp / "jobs" / "block0-0123456789ab.train.json"
    job.parent.mkdir()
    manifests.write_manifest(job, files, stage="train", experiment="e1", made_from={"t": 1})
    manifests.write_experiment_manifest(
        tmp / "manifest.json", tmp / "jobs" / "aggregate-x.json", "e1", [job], list(paths), {}
    )
    return paths


E1_FIGURES = ["fig1_geometry", "fig1_trajectories"]


def _draw_e1(tmp_path, monkeypatch, movement=True, stored=False) -> dict:
    """Draw the E1 figures; each one's matplotlib Figure and text size (px), by name."""
    metrics, dichotomies = _e1_experiment(tmp_path, movement, stored)
    drawn = {}
    save = matplotlib.figure.Figure.savefig

    def record(fig, path, *a, **k):
        drawn[Path(path).stem] = (fig, text_px(fig))
        return save(fig, path, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    outs = [str(tmp_path / "figures" / f"{n}.png") for n in E1_FIGURES]
    draw_experiment("unstructured", metrics, dichotomies, outs, SETTINGS)
    assert all(Path(o).stat().st_size > 1000 for o in outs)
    return drawn


@pytest.mark.parametrize("movement", [True, False], ids=["movement", "no-movement"])
def test_e1_figures_are_legible_with_and_without_movement(tmp_path, monkeypatch, movement):
    drawn = _draw_e1(tmp_path, monkeypatch, movement=movement)
    assert set(drawn) == set(E1_FIGURES)
    small = {n: round(px, 1) for n, (_, px) in drawn.items() if px < MIN_TEXT_PX}
    assert not small, f"text under {MIN_TEXT_PX} px at {REPORT_WIDTH_PX} px wide: {small}"
    fig = drawn["fig1_geometry"][0]
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert any("untrained b2" in t for t in titles)
    assert any("Movement" in t for t in titles) == movement
    assert "mean ± sd over n = 3 seeds" in fig.get_supxlabel().replace("\n", " ")
    # every optimiser of the experiment is drawn: 2 activations × 2 optimisers per panel
    target = next(ax for ax in fig.axes if ax.get_title() == "Target alignment")
    assert len([ln for ln in target.get_lines() if ln.get_marker() == "o"]) == 4
    # margins in symlog space: an axis whose margins were set on a linear scale (a reference
    # line drawn before the scale) reaches −5 of the linear decade, and −10¹ with longer runs
    assert all(ax.get_xlim()[0] > -2 for ax in fig.axes if ax.get_xscale() == "symlog")


def test_e1_trajectories_are_drawn_over_the_mechanism_field(tmp_path, monkeypatch):
    from matplotlib.quiver import Quiver

    from repgeom.figures.unstructured import FIELD_GRID, N_NEURONS
    from repgeom.mechanism import gradient_field, neuron_coordinates

    fig = _draw_e1(tmp_path, monkeypatch)["fig1_trajectories"][0]
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title().split("\n")[0] for ax in panels] == [
        "tanh, sgd",
        "tanh, rmsprop",
        "relu, sgd",
        "relu, rmsprop",
    ]
    for ax in panels:
        act = ax.get_title().split(",")[0]
        assert ax.get_xlabel() == "w·û_intra" and ax.get_ylabel() == "w·û_inter"
        assert ax.get_aspect() == 1.0
        epochs, params, xbar, y = _e1_weights(act, seed=0)
        (q,) = [c for c in ax.collections if isinstance(c, Quiver)]
        extent = q.X.max()
        want = gradient_field(xbar, y, 1.0, act, E1_BIAS[act], grid=FIELD_GRID, extent=extent)
        norm = np.hypot(want.g_intra, want.g_inter).ravel()
        np.testing.assert_allclose(q.X, np.meshgrid(want.alpha, want.beta)[0].ravel())
        np.testing.assert_allclose(q.U, want.g_intra.ravel() / norm, atol=1e-9)
        np.testing.assert_allclose(q.V, want.g_inter.ravel() / norm, atol=1e-9)
        # the neurons drawn: the first N_NEURONS of readout sign +, start to end, on their axes
        signs = params["J"][0, 0]
        coords = neuron_coordinates(params["W"], xbar, y, signs)
        neurons = np.flatnonzero(signs > 0)[:N_NEURONS]
        paths = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == len(epochs)]
        assert len(paths) == len(neurons)
        for ln, i in zip(paths, neurons, strict=True):
            np.testing.assert_allclose(ln.get_xdata(), coords[:, i, 0], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(ln.get_ydata(), coords[:, i, 1], rtol=1e-5, atol=1e-6)
        # the field covers every drawn trajectory
        assert np.abs(coords[:, neurons]).max() < extent


def test_e1_trajectories_read_a_stored_trajectories_file_alike(tmp_path, monkeypatch):
    computed = _draw_e1(tmp_path / "a", monkeypatch)["fig1_trajectories"][0]
    stored = _draw_e1(tmp_path / "b", monkeypatch, stored=True)["fig1_trajectories"][0]
    assert "from trajectories.parquet" in stored.get_supxlabel().replace("\n", " ")
    assert "from weights.parquet" in computed.get_supxlabel().replace("\n", " ")
    for a, b in zip(computed.axes, stored.axes, strict=True):
        for la, lb in zip(a.get_lines(), b.get_lines(), strict=True):
            np.testing.assert_allclose(la.get_xydata(), lb.get_xydata(), rtol=1e-6)


def test_every_activation_of_a_figure_has_its_own_colour():
    """The δ-task figures drew any activation but tanh and relu in matplotlib's default cycle,
    whose first colour is relu's blue: sigmoid and relu were one colour."""
    from repgeom.figures import COLORS, activation_colors

    acts = ["tanh", "relu", "sigmoid", "gelu", "silu", "softplus"]
    colors = activation_colors(acts)
    assert colors["tanh"] == COLORS["tanh"] and colors["relu"] == COLORS["relu"]
    assert len({str(c) for c in colors.values()}) == len(acts)
