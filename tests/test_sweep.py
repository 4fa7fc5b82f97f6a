import pytest
from test_config import SCHEMA

from repgeom.config import validate
from repgeom.sweep import Sweep, fmt_float


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        ("1e-1", "0.1"),
        (1, "1.0"),
        (0, "0.0"),
        (1e-5, "0.00001"),
        (0.25, "0.25"),
        (2e20, "200000000000000000000.0"),
    ],
)
def test_fmt_float(value, text):
    assert fmt_float(value) == text


def sweep(training=None, **exp):
    """The δ-task experiment ``d`` of a configuration with these experiment keys."""
    cfg = {"experiments": {"d": {"family": "delta"} | exp}, "training": training or {}}
    return Sweep(validate(cfg, SCHEMA)).experiments["d"]


def test_cells_and_runs():
    sw = sweep(
        seeds=3,
        axes={"delta": [0, 0.5]},
        activations=["tanh", "relu"],
        readouts=["uniform", "balanced"],
    )
    assert len(sw.cells) == 2 * 2 * 2 and sw.n_runs == 24
    f = sw.run_file(sw.cells[0], 2, "metrics.parquet")
    assert f == (
        "results/d/runs/arch=shallow/act=tanh/readout=uniform/sigma=0.1/delta=0.0/seed=2/metrics.parquet"
    )
    assert sw.manifest(sw.blocks[0], "train") == (
        "results/d/jobs/arch={arch}/act={act}/readout={readout}/sigma={sigma}/delta={delta}/"
        "block0-{recipe}.train.json"
    )
    assert len(sw.all_manifests("evaluate")) == 2 * 2 * 2  # job cells × blocks


def test_packed_axes_share_a_job():
    sw = sweep(seeds=2, axes={"delta": [0, 0.5, 1]}, training={"pack_axes": ["delta"]})
    assert sw.job_keys == ["arch", "act", "readout", "sigma"]
    assert sw.packed_combos == [{"delta": "0.0"}, {"delta": "0.5"}, {"delta": "1.0"}]
    wild = {"arch": "shallow", "act": "relu", "readout": "uniform", "sigma": "0.1"}
    files = sw.job_run_files(wild, sw.blocks[0], "w")
    assert len(files) == 3 * 2 and files[3].endswith(
        "/act=relu/readout=uniform/sigma=0.1/delta=0.5/seed=1/w"
    )
    assert "{" not in sw.manifest(sw.blocks[0], "train", wild)
    runs = sw.block_configs(wild, sw.blocks[0])
    assert [(r["task"]["delta"], r["run"]["seed"]) for r in runs] == [
        (0.0, 0),
        (0.0, 1),
        (0.5, 0),
        (0.5, 1),
        (1.0, 0),
        (1.0, 1),
    ]
    assert "pack_axes" not in runs[0]["training"]  # packing never changes a run's result


def test_pack_axes_errors_name_the_key():
    bad = Sweep(
        validate(
            {"experiments": {"d": {"family": "delta", "training": {"pack_axes": ["act"]}}}},
            SCHEMA,
        )
    )
    (err,) = bad.errors()
    assert "experiments.d.training.pack_axes'" in err and "allowed: readout, sigma, delta" in err


def test_blocks_depend_on_seed_values_only():
    sw = sweep(seeds=[0, 1, 2, 3, 4, 9], training={"runs_per_job": 4})
    assert [b.seeds for b in sw.blocks] == [(0, 1, 2, 3), (4,), (9,)]
    more = sweep(seeds=[0, 1, 2, 3, 4, 5, 9], training={"runs_per_job": 4})
    # adding seed 5 changes only the partially filled block (4,) → (4, 5)
    assert [b.seeds for b in more.blocks] == [(0, 1, 2, 3), (4, 5), (9,)]


def test_run_config_is_complete_and_excludes_execution_settings():
    sw = sweep(seeds=2, axes={"delta": [0.5]}, training={"device": "cpu", "progress_every_s": 3})
    rc = sw.run_config(sw.cells[0], 1)
    assert rc["task"] == {
        "family": "delta",
        "delta": 0.5,
        "sigma": 0.1,
        "dim": 120,
        "task_seed": 0,
        "data_seed": 1,
        "n_train": 5000,
        "n_test": 1000,
    }
    assert rc["experiment"] == "d"
    assert rc["model"] == {
        "arch": "shallow",
        "activation": "tanh",
        "width": 120,
        "init": "uniform",
        "train_output_bias": True,
        "train_hidden_bias": True,
        "readout": "uniform",
        "init_seed": 1,
    }
    assert rc["training"]["shuffle_seed"] == 1 and rc["training"]["epochs"] == 5000
    assert "device" not in rc["training"] and "progress_every_s" not in rc["training"]
    assert rc["run"]["seed"] == 1 and rc["run"]["delta"] == "0.5"


def test_fixed_data_seed():
    sw = sweep(task={"data_seed": 0})
    assert sw.run_config(sw.cells[0], 3)["task"]["data_seed"] == 0


def test_experiments_have_their_own_trees_and_keys():
    cfg = {
        "experiments": {
            "a": {"family": "delta", "axes": {"delta": [0.5]}},
            "b": {"family": "delta", "axes": {"delta": [0.5, 1.0]}, "seeds": 2},
        }
    }
    sw = Sweep(validate(cfg, SCHEMA))
    a, b = sw.experiments["a"], sw.experiments["b"]
    assert a.root == "results/a" and b.root == "results/b"
    assert a.n_runs == 2 * 5 and b.n_runs == 2 * 2 * 2 and sw.n_runs == 18
    assert list(a.run_key_types) == ["arch", "act", "readout", "sigma", "delta", "seed"]


def test_figure_settings_must_name_swept_values():
    ok = sweep(figures={"sigma": "1e-1", "training_delta": 0.5})
    assert ok.figure_errors() == []
    bad = sweep(figures={"sigma": 0.3, "readout": "sphere", "training_delta": 0.6})
    errors = bad.figure_errors()
    assert len(errors) == 3
    assert "experiments.d.figures.sigma': 0.3 is not in the sweep; allowed: 0.1" in errors[0]
    assert "figures.readout': sphere" in errors[1] and "allowed: uniform" in errors[1]
    assert "figures.training_delta': 0.6" in errors[2] and "0.25" in errors[2]


def test_a_revised_protocol_re_evaluates_and_never_retrains(monkeypatch):
    """An evaluation's recipe carries the revisions of its revised protocols: the alignment
    tasks' ``original`` (revision 1: pairs by squared distance between sample averages) names
    new evaluation manifests; the training's names, and the recipes of experiments without a
    revised protocol, stay as they were."""
    from dataclasses import replace

    from repgeom.tasks import get_family

    def experiment(family, protocols):
        exp = {"family": family, "evaluation": {"protocols": protocols}}
        return Sweep(validate({"experiments": {"e": exp}}, SCHEMA)).experiments["e"]

    def names(exp):
        job = exp.job_cells()[0]
        block = exp.blocks[0]
        return exp.recipe(job, block, "evaluate"), exp.manifest(block, "train", job)

    recipe, _ = names(experiment("alignment", ["clean", "original"]))
    assert recipe["protocol_revisions"] == {"original": 1}
    assert "protocol_revisions" not in names(experiment("alignment", ["clean"]))[0]
    before = experiment("delta", ["clean", "original"])
    recipe, train = names(before)
    assert "protocol_revisions" not in recipe
    delta = get_family("delta")
    revised = replace(delta.protocols["original"], revision=1)
    monkeypatch.setitem(delta.protocols, "original", revised)
    after = experiment("delta", ["clean", "original"])
    assert names(after)[0]["protocol_revisions"] == {"original": 1}
    assert names(after)[1] == train
    job = after.job_cells()[0]
    assert after.manifest(after.blocks[0], "evaluate", job) != before.manifest(
        before.blocks[0], "evaluate", job
    )


def _exp(family: str, **exp):
    cfg = {"experiments": {"e": {"family": family} | exp}}
    return Sweep(validate(cfg, SCHEMA)).experiments["e"]


@pytest.mark.parametrize(
    ("family", "exp", "figures"),
    [
        ("delta", {"axes": {"delta": [0, 0.5]}}, ("delta_sweep", "over_training")),
        # one δ: no sweep figure, a column of dots
        ("delta", {"axes": {"delta": [0.5]}}, ("over_training",)),
        (
            "alignment",
            {"activations": ["tanh", "relu"], "axes": {"alignments": 4}},
            ("alignment_sweep", "alignment_plane", "disentanglement"),
        ),
        # one c and more activations (the ablation): nothing drawn against c
        (
            "alignment",
            {"activations": ["tanh", "relu", "softplus"], "axes": {"alignments": 4, "align": [1]}},
            ("alignment_plane", "ablation"),
        ),
        # (deep networks are refused for this family at parse time: tests/test_movement.py)
        ("unstructured", {}, ("fig1_geometry", "fig1_trajectories")),
    ],
)
def test_figures_follow_the_axes(family, exp, figures):
    assert _exp(family, **exp).figures == figures
