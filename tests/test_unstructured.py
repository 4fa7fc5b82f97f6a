"""The unstructured-inputs family (E1, Fig. 1) and the settings it brought: fixed hidden and
output biases, the optimisers axis with a learning rate per optimiser, and the evaluated
snapshots as a subset of the saved ones."""

from pathlib import Path

import numpy as np
import pytest
import torch

from repgeom import storage
from repgeom.config import ConfigError, check_config, load_schema, validate
from repgeom.sweep import Sweep
from repgeom.tasks import build_task, get_family
from repgeom.tasks.unstructured import UnstructuredTask, unstructured_dichotomies
from repgeom.training import evaluated_epochs, snapshot_epochs

ROOT = Path(__file__).parents[1]
SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")


def unstructured(**exp):
    """A configuration with one unstructured experiment named ``u``."""
    return {"experiments": {"u": {"family": "unstructured"} | exp}}


def experiment(**exp):
    return Sweep(validate(unstructured(**exp), SCHEMA)).experiments["u"]


def errors(config) -> str:
    with pytest.raises(ConfigError) as exc:
        check_config(config, SCHEMA)
    return str(exc.value)


# --------------------------------------------------------------------------- the task


def test_means_are_centred_standard_normal_draws():
    task = UnstructuredTask(sigma=1.0)
    assert task.means.shape == (4, 200) and task.dim == 200
    np.testing.assert_allclose(task.means.sum(axis=0), 0, atol=1e-12)
    raw = np.random.default_rng(0).standard_normal((4, 200))
    np.testing.assert_array_equal(task.means, raw - raw.mean(axis=0))


def test_dichotomies_are_the_papers():
    d = unstructured_dichotomies()
    assert set(np.flatnonzero(d["target"])) == {0, 3}  # trained: {0, 3} | {1, 2}
    assert set(np.flatnonzero(d["b1"])) == {0, 2}  # untrained: {0, 2} | {1, 3}
    assert set(np.flatnonzero(d["b2"])) == {0, 1}  # untrained: {0, 1} | {2, 3}
    task = UnstructuredTask(sigma=1.0)
    assert list(task.targets) == ["target"] and list(task.latents) == ["b1", "b2"]
    assert task.target.shape == (4, 1)
    # two untrained dichotomies, each splitting the target evenly: proper CCGP contexts
    assert len(task.proper_contexts("target")) == 2


def test_means_follow_the_task_seed_and_samples_the_data_seed():
    cfg = {"family": "unstructured", "sigma": 1.0, "dim": 20, "task_seed": 0}
    a, b = build_task(cfg), build_task(cfg)
    np.testing.assert_array_equal(a.means, b.means)
    assert not np.allclose(a.means, build_task(cfg | {"task_seed": 1}).means)
    from repgeom.samples import make_datasets

    run = cfg | {"data_seed": 3, "n_train": 5000, "n_test": 1000}
    sets, again = make_datasets(run), make_datasets(run)
    assert sets["train"][1].shape == (5000, 20) and sets["test"][1].shape == (1000, 20)
    np.testing.assert_array_equal(sets["train"][1], again["train"][1])
    other = make_datasets(run | {"data_seed": 4})
    assert not np.array_equal(sets["train"][1], other["train"][1])


def test_alignment_is_the_cka_of_the_draw_and_near_one_over_root_three():
    from repgeom.metrics import linear_cka

    task = UnstructuredTask(sigma=1.0, dim=200)
    assert task.alignment == pytest.approx(float(linear_cka(task.means, task.target * 1.0)))
    # nearly orthogonal means in high dimension: centred Gram ∝ I − 11ᵀ/4, CKA 1/√3
    assert UnstructuredTask(1.0, dim=200_000).alignment == pytest.approx(3**-0.5, abs=0.01)


def test_family_defaults_are_the_papers_settings():
    exp = experiment()
    c = exp.cfg
    assert c["readouts"] == ["balanced"] and c["axes"]["sigma"] == [1.0]
    assert c["task"]["dim"] == 200 and c["task"]["n_train"] == 5000
    assert c["model"]["width"] == 120 and c["model"]["init"] == "uniform"
    assert c["model"]["train_hidden_bias"] is False and c["model"]["train_output_bias"] is False
    assert c["model"]["output_bias"] == 0.0
    tr = c["training"]
    assert (tr["epochs"], tr["batch_size"], tr["conv_tol"]) == (10000, 200, 1e-10)
    assert tr["snapshots"]["schedule"] == "linear" and tr["snapshots"]["every"] == 10
    runs = {r["model"]["activation"]: r for r in (exp.run_config(cell, 0) for cell in exp.cells)}
    assert runs["tanh"]["model"]["hidden_bias"] == -0.1
    assert runs["relu"]["model"]["hidden_bias"] == 0.1
    assert runs["tanh"]["training"] | {"lr": None} == runs["relu"]["training"] | {"lr": None}
    assert runs["tanh"]["training"]["optimizer"] == "sgd" and runs["tanh"]["training"]["lr"] == 0.1
    assert get_family("unstructured").figures == ("fig1_geometry", "fig1_trajectories")


# --------------------------------------------------------------------------- the optimisers axis


def test_optimisers_axis_adds_opt_to_paths_with_each_ones_learning_rate():
    exp = experiment(optimizers=["sgd", "rmsprop"], activations=["tanh"])
    assert list(exp.key_types) == ["arch", "act", "readout", "opt", "sigma"]
    runs = [exp.run_config(cell, 0) for cell in exp.cells]
    assert [(r["training"]["optimizer"], r["training"]["lr"]) for r in runs] == [
        ("sgd", 0.1),
        ("rmsprop", 0.01),
    ]
    assert "/readout=balanced/opt=rmsprop/sigma=1.0/seed=0/" in exp.run_file(
        exp.cells[1], 0, "weights.parquet"
    )
    # without the axis: no opt level, training.optimizer, the mapping's learning rate
    plain = experiment(training={"optimizer": "rmsprop"})
    assert "opt" not in plain.key_types
    assert plain.run_config(plain.cells[0], 0)["training"]["lr"] == 0.01
    # a number is every optimiser's learning rate; a mapping merges over the family's
    one = experiment(optimizers=["sgd", "rmsprop"], training={"lr": 0.05})
    assert {one.run_config(c, 0)["training"]["lr"] for c in one.cells} == {0.05}
    some = experiment(optimizers=["sgd", "rmsprop"], training={"lr": {"sgd": "2e-1"}})
    assert {c["opt"]: some.run_config(c, 0)["training"]["lr"] for c in some.cells} == {
        "sgd": 0.2,
        "rmsprop": 0.01,
    }


def test_optimisers_axis_counts_runs_and_is_not_packable():
    exp = experiment(optimizers=["sgd", "rmsprop"], seeds=3)
    assert exp.n_runs == 2 * 2 * 3
    text = errors(unstructured(optimizers=["sgd", "rmsprop"], training={"pack_axes": ["opt"]}))
    assert "experiments.u.training.pack_axes" in text and "opt" in text


@pytest.mark.parametrize(
    ("exp", "needles"),
    [
        (
            {"optimizers": ["sgd", "adam"]},
            ["'experiments.u.training.lr'", "no learning rate for optimizer 'adam'", "adam: <lr>"],
        ),
        ({"optimizers": ["sgd", "lbfgs"]}, ["experiments.u.optimizers[1]", "'rmsprop'"]),
        (
            {"optimizers": ["sgd"], "training": {"optimizer": "sgd"}},
            ["'experiments.u.training.optimizer'", "experiments.u.optimizers", "remove one"],
        ),
        (
            {"training": {"lr": {"sgd": 0}}},
            ["'experiments.u.training.lr'", "is not valid", "a mapping optimiser name"],
        ),
        ({"training": {"lr": {"sdg": 0.1}}}, ["'experiments.u.training.lr'", "is not valid"]),
    ],
)
def test_optimiser_settings_errors_name_their_key(exp, needles):
    text = errors(unstructured(**exp))
    for needle in needles:
        assert needle in text, text


# --------------------------------------------------------------------------- fixed biases


@pytest.mark.parametrize(
    ("exp", "needles"),
    [
        (
            {"activations": ["tanh", "relu6"]},
            ["'experiments.u.model.hidden_bias'", "no value for activation 'relu6'", "relu6:"],
        ),
        (
            {"model": {"hidden_bias": {"tahn": -0.1, "relu": 0.1}}},
            ["experiments.u.model.hidden_bias.tahn", "unknown activation"],
        ),
        ({"model": {"hidden_bias": 1000}}, ["'experiments.u.model.hidden_bias'", "is not valid"]),
        ({"model": {"hidden_bias": "low"}}, ["'experiments.u.model.hidden_bias'", "is not valid"]),
        ({"model": {"output_bias": [0]}}, ["'experiments.u.model.output_bias'", "is not valid"]),
    ],
)
def test_bias_settings_errors_name_their_key(exp, needles):
    text = errors(unstructured(**exp))
    for needle in needles:
        assert needle in text, text


def test_hidden_bias_as_one_number_or_per_activation_is_in_the_recipe():
    def recipes(**model):
        exp = experiment(model=model) if model else experiment()
        return {c["act"]: exp.manifest(exp.blocks[0], "train", c) for c in exp.job_cells()}

    base = recipes()
    zero = recipes(hidden_bias=0)
    assert zero["tanh"] != base["tanh"] and zero["relu"] != base["relu"]  # retrains
    # only the changed activation's runs retrain; spellings of one activation are one value
    tanh_only = recipes(hidden_bias={"tanh": -0.2})
    assert tanh_only["tanh"] != base["tanh"] and tanh_only["relu"] == base["relu"]
    assert recipes(hidden_bias={"tanh": -0.1, "relu": "1e-1"}) == base
    exp = experiment(model={"hidden_bias": 0.0})
    assert {exp.run_config(c, 0)["model"]["hidden_bias"] for c in exp.cells} == {0.0}


def test_fixed_biases_replace_the_random_draw_only():
    from conftest import mlp

    from repgeom import networks
    from repgeom.activations import get_activation

    def net(**extra):
        settings = {"width": 8, "init": "uniform", "train_output_bias": False} | extra
        return networks.build("shallow", settings, get_activation("tanh"), (5,), 1)

    rand = net().init([0, 1], ["balanced"] * 2)
    fixed = net(hidden_bias=-0.1, output_bias=0.0).init([0, 1], ["balanced"] * 2)
    for k in ("W", "J"):
        torch.testing.assert_close(fixed[k], rand[k], rtol=0, atol=0)
    assert torch.all(fixed["b"] == -0.1) and torch.all(fixed["bo"] == 0)
    assert not torch.all(rand["b"] == rand["b"][0, 0])
    # an activation's bias shift adds to the fixed value
    shifted = networks.build(
        "shallow", {"width": 8, "hidden_bias": 0.5}, get_activation("relu_bias-1"), (5,), 1
    )
    assert torch.allclose(shifted.init([0], ["uniform"])["b"], torch.tensor(-0.5))
    # and the shared test helper's network is unchanged (no fixed bias)
    _, p = mlp([0], 5, 8, ["balanced"], train_output_bias=False)
    torch.testing.assert_close(p["W"], rand["W"][:1], rtol=0, atol=0)


def _train_and_evaluate(tmp_path, exp, evaluate=True):
    from repgeom.jobs.evaluate import evaluate_block
    from repgeom.jobs.train import train_block

    out = {}
    for cell in exp.job_cells():
        runs = exp.block_configs(cell, exp.blocks[0])
        files = [exp.run_file(cell, s, "") for s in exp.blocks[0].seeds]
        w = [f + "weights.parquet" for f in files]
        train_block(runs, w, [f + "loss.parquet" for f in files], device="cpu")
        if evaluate:
            m = [f + "metrics.parquet" for f in files]
            d = [f + "dichotomies.parquet" for f in files]
            evaluate_block(w, m, d, exp.cfg["evaluation"])
        out[cell["act"]] = files
    return out


TINY = {
    "seeds": 2,
    "task": {"dim": 10, "n_train": 200, "n_test": 100},
    "model": {"width": 8},
    "training": {"epochs": 30, "snapshots": {"schedule": "linear", "every": 2}},
    "evaluation": {"snapshots": {"schedule": "log", "count": 4}},
}


def test_fixed_hidden_bias_stays_fixed_while_the_weights_move(tmp_path):
    cfg = validate({"results_dir": str(tmp_path)} | unstructured(**TINY), SCHEMA)
    exp = Sweep(cfg).experiments["u"]
    files = _train_and_evaluate(tmp_path, exp, evaluate=False)
    for act, bias in (("tanh", -0.1), ("relu", 0.1)):
        for f in files[act]:
            epochs, p = storage.read_weights(f + "weights.parquet")
            assert len(epochs) == 16  # every 2 epochs of 30, and 0
            assert np.all(p["b"] == np.float32(bias))  # at every snapshot
            assert np.all(p["bo"] == 0)
            assert np.abs(p["W"][-1] - p["W"][0]).max() > 1e-3  # W trained
            np.testing.assert_array_equal(p["J"][-1], p["J"][0])  # readout frozen


# --------------------------------------------------------------------------- evaluated snapshots


def test_evaluated_epochs_are_saved_ones_and_default_to_all():
    saved = snapshot_epochs(10000, "linear", every=10)
    assert evaluated_epochs(saved, 10000) == saved
    assert evaluated_epochs(saved, 10000, {"schedule": "all"}) == saved
    for spec in (
        {"schedule": "log", "count": 30},
        {"schedule": "log", "count": 3},
        {"schedule": "linear", "every": 1000},
        {"schedule": "linear", "every": 7},
    ):
        got = evaluated_epochs(saved, 10000, spec)
        assert set(got) <= set(saved) and got == sorted(set(got))
        assert got[0] == 0 and got[-1] == 10000
    assert evaluated_epochs(saved, 10000, {"schedule": "linear", "every": 1000}) == list(
        range(0, 10001, 1000)
    )
    # each scheduled epoch goes to the nearest saved one, the earlier on a tie
    assert evaluated_epochs([0, 10, 20, 30], 30, {"schedule": "linear", "every": 15}) == [0, 10, 30]
    assert evaluated_epochs([0, 10, 20, 30], 30, {"schedule": "linear", "every": 14}) == [0, 10, 30]
    assert evaluated_epochs([0, 10, 20, 30], 30, {"schedule": "linear", "every": 16}) == [
        0,
        20,
        30,
    ]
    # a schedule denser than the saved one evaluates every saved epoch
    assert evaluated_epochs([0, 5, 30], 30, {"schedule": "linear", "every": 1}) == [0, 5, 30]


def test_evaluation_snapshots_default_keeps_every_recipe():
    """Absent, or written out as schedule: all, the setting is one recipe: existing results
    are not re-evaluated; another schedule re-evaluates without retraining."""

    def names(**evaluation):
        cfg = {"experiments": {"d": {"family": "delta", "seeds": 2}}}
        if evaluation:
            cfg["experiments"]["d"]["evaluation"] = evaluation
        exp = Sweep(validate(cfg, SCHEMA)).experiments["d"]
        assert ("snapshots" in exp.cfg["evaluation"]) == (
            evaluation.get("snapshots", {}).get("schedule", "all") != "all"
        )
        return [exp.manifest(exp.blocks[0], s, exp.job_cells()[0]) for s in ("train", "evaluate")]

    base = names()
    assert names(snapshots={"schedule": "all"}) == base
    assert names(snapshots={"schedule": "all", "count": 5}) == base
    log = names(snapshots={"schedule": "log", "count": 5})
    assert log[0] == base[0] and log[1] != base[1]


def test_evaluation_snapshots_errors_name_their_key():
    text = errors({"evaluation": {"snapshots": {"schedule": "sparse"}}})
    assert "'evaluation.snapshots.schedule'" in text and "'all'" in text
    text = errors(unstructured(evaluation={"snapshots": {"count": 1}}))
    assert "experiments.u.evaluation.snapshots.count" in text


def test_paper_scale_memory_check_counts_evaluated_snapshots():
    """Weights every 10 epochs of 10 000 (1001 snapshots) pass because the evaluation holds
    only its log-spaced ones; evaluating all of them at this size is refused."""
    experiment(seeds=20)  # the family's defaults: every 10 epochs saved, 30 evaluated
    text = errors(
        unstructured(task={"n_train": 50000}, evaluation={"snapshots": {"schedule": "all"}})
    )
    assert "hidden responses" in text and "training.epochs/training.snapshots.every" in text


def test_evaluation_computes_only_the_evaluated_snapshots(tmp_path):
    cfg = validate({"results_dir": str(tmp_path)} | unstructured(**TINY), SCHEMA)
    exp = Sweep(cfg).experiments["u"]
    files = _train_and_evaluate(tmp_path, exp)
    import pandas as pd

    saved = snapshot_epochs(30, "linear", every=2)
    want = evaluated_epochs(saved, 30, exp.cfg["evaluation"]["snapshots"])
    assert len(want) < len(saved)
    for f in files["tanh"] + files["relu"]:
        assert sorted(pd.read_parquet(f + "metrics.parquet")["epoch"].unique()) == want
        assert sorted(pd.read_parquet(f + "dichotomies.parquet")["epoch"].unique()) == want
        assert len(storage.read_weights(f + "weights.parquet")[0]) == len(saved)
