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
