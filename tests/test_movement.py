"""Neuron trajectories and the movement measure in the workflow (E1, Fig. 1C–D): the family
hooks, the evaluation job's trajectories.parquet and movement columns, and that no other
family's tables or recipes change."""

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from repgeom import storage
from repgeom.config import ConfigError, check_config, load_schema, validate
from repgeom.evaluation import DICHOTOMY_COLUMNS, RUN_COLUMNS, run_columns
from repgeom.mechanism import movement, network_coordinates, neuron_coordinates
from repgeom.sweep import Sweep
from repgeom.tasks import FAMILIES, Family, get_family, register
from repgeom.tasks.unstructured import MOVEMENT_COLUMNS, UnstructuredTask, movement_metrics
from repgeom.training import evaluated_epochs, snapshot_epochs

ROOT = Path(__file__).parents[1]
SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")

TINY = {
    "family": "unstructured",
    "seeds": 2,
    "task": {"dim": 10, "n_train": 200, "n_test": 100},
    "model": {"width": 8},
    "training": {"epochs": 30, "snapshots": {"schedule": "linear", "every": 2}},
    "evaluation": {"snapshots": {"schedule": "log", "count": 4}, "decoders": ["svm", "ridge"]},
}


def _experiment(tmp_path, **exp):
    cfg = {"results_dir": str(tmp_path), "experiments": {"u": TINY | exp}}
    return Sweep(validate(cfg, SCHEMA)).experiments["u"]


# --------------------------------------------------------------------------- the family hooks


def test_only_the_unstructured_family_declares_trajectories_and_movement():
    fam = get_family("unstructured")
    assert fam.trajectories and fam.extra_run_columns == MOVEMENT_COLUMNS
    for name, other in FAMILIES.items():
        if name != "unstructured":  # the δ-task could qualify (spec §6.8) but is kept off
            assert not other.trajectories and other.extra_run_columns == (), name
            assert run_columns(name) == RUN_COLUMNS
    assert run_columns("unstructured") == RUN_COLUMNS + MOVEMENT_COLUMNS


def test_extra_columns_never_shadow_a_common_column_or_key():
    taken = set(RUN_COLUMNS) | set(DICHOTOMY_COLUMNS) | set(storage.ROW_KEYS)
    taken |= {"stop_epoch", "converged", "experiment", "arch", "act", "readout", "opt", "seed"}
    for fam in FAMILIES.values():
        assert not taken & (set(fam.extra_run_columns) | set(fam.keys)), fam.name


def test_register_refuses_extra_columns_without_their_function():
    base = get_family("unstructured")
    with pytest.raises(ValueError, match="need run_metrics"):
        register(dataclasses.replace(base, name="x", run_metrics=None))
    with pytest.raises(ValueError, match="need run_metrics"):
        register(dataclasses.replace(base, name="x", extra_run_columns=("a", "a")))
    assert "x" not in FAMILIES


def test_deeper_networks_are_refused_at_parse_time():
    cfg = {"experiments": {"u": {"family": "unstructured", "architectures": ["mlp2"]}}}
    with pytest.raises(ConfigError, match="experiments.u.architectures.*one-hidden-layer"):
        check_config(cfg, SCHEMA)
    check_config({"experiments": {"u": {"family": "unstructured", "architectures": ["mlp1"]}}},
                 SCHEMA)  # fmt: skip


# --------------------------------------------------------------------------- known answers


def test_network_coordinates_chunk_and_take_the_frozen_readout():
    task = UnstructuredTask(1.0, dim=12)
    rng = np.random.default_rng(0)
    S, N = 300, 6  # more snapshots than one chunk
    params = {"W": rng.normal(size=(S, N, 12)).astype(np.float32),
              "J": np.tile(np.array([1, -1, 1, -1, 1, -1.0]), (S, 1, 1))}  # fmt: skip
    got = network_coordinates(task.means, task.target[:, 0], params)
    want = neuron_coordinates(params["W"], task.means, task.target[:, 0], params["J"][0, 0])
    np.testing.assert_allclose(got, want)
    with pytest.raises(ValueError, match="one-hidden-layer network with one output"):
        network_coordinates(task.means, task.target[:, 0], params | {"J": np.ones((S, 2, N))})


def test_movement_metrics_known_answer():
    """Neurons moved by known amounts along their own axes: the columns are the mean absolute
    displacements and their ratio, NaN at the start."""
    from repgeom.mechanism import neuron_axes

    task = UnstructuredTask(1.0, dim=12, task_seed=3)
    y = task.target[:, 0]
    signs = np.array([1.0, -1.0])
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(2, 12))
    steps = np.array([[[0, 0], [0, 0]], [[1.0, 2.0], [-3.0, 0.0]], [[0.5, -4.0], [0.5, 4.0]]])
    W = np.empty((3, 2, 12))
    for i, s in enumerate(signs):
        ax = neuron_axes(task.means, y, s)
        W[:, i] = w0[i] + steps[:, i, :1] * ax.intra + steps[:, i, 1:] * ax.inter
    params = {"W": W, "J": np.tile(signs, (3, 1, 1))}
    out = movement_metrics(task, np.array([0, 5, 10]), params)
    assert tuple(out) == MOVEMENT_COLUMNS
    np.testing.assert_allclose(out["movement_intra"], [0, 2.0, 0.5])
    np.testing.assert_allclose(out["movement_inter"], [0, 1.0, 4.0])
    np.testing.assert_allclose(out["movement_ratio"][1:], [2.0, 0.125])
    assert np.isnan(out["movement_ratio"][0])


# --------------------------------------------------------------------------- the evaluation job


def _train_and_evaluate(exp):
    from repgeom.jobs.evaluate import evaluate_block
    from repgeom.jobs.train import train_block

    files, written = [], []
    for cell in exp.job_cells():
        runs = exp.block_configs(cell, exp.blocks[0])
        run = [exp.run_file(cell, s, "") for s in exp.blocks[0].seeds]
        w = [f + "weights.parquet" for f in run]
        train_block(runs, w, [f + "loss.parquet" for f in run], device="cpu")
        m, d = [f + "metrics.parquet" for f in run], [f + "dichotomies.parquet" for f in run]
        written += evaluate_block(w, m, d, exp.cfg["evaluation"])
        files += run
    return files, written


def test_evaluation_writes_trajectories_and_movement_columns(tmp_path):
    exp = _experiment(tmp_path)
    files, written = _train_and_evaluate(exp)
    assert written == [f + "trajectories.parquet" for f in files]
    saved = snapshot_epochs(30, "linear", every=2)
    evaluated = evaluated_epochs(saved, 30, TINY["evaluation"]["snapshots"])
    for f in files:
        path = f + "trajectories.parquet"
        schema = pq.read_schema(path)
        assert [(c.name, str(c.type)) for c in schema] == [
            ("epoch", "int64"), ("neuron", "int32"), ("intra", "float"), ("inter", "float")
        ]  # fmt: skip
        assert b"pandas" not in schema.metadata  # the run files' conventions only
        meta = storage.read_metadata(path)
        assert meta["config"] == storage.read_metadata(f + "weights.parquet")["config"]
        assert {"schema_version", "versions", "provenance", "evaluation"} <= set(meta)
        traj = pd.read_parquet(path)
        # every saved snapshot (not only the evaluated ones) × every hidden neuron
        assert len(traj) == len(saved) * 8 and sorted(traj["epoch"].unique()) == saved
        assert traj.groupby("epoch")["neuron"].apply(list).map(lambda v: v == list(range(8))).all()
        epochs, params = storage.read_weights(f + "weights.parquet")
        task = UnstructuredTask(1.0, dim=10)
        want = network_coordinates(task.means, task.target[:, 0], params)
        np.testing.assert_allclose(traj["intra"], want[..., 0].ravel(), rtol=1e-6, atol=1e-7)

        metrics = pd.read_parquet(f + "metrics.parquet")
        cols = list(metrics.columns)
        assert cols[cols.index("weight_norm") + 1 : cols.index("stop_epoch")] == list(
            MOVEMENT_COLUMNS
        )
        assert sorted(metrics["epoch"].unique()) == evaluated
        # movement from the trajectories file, at the evaluated epochs, on every analysis row
        coords = traj[["intra", "inter"]].to_numpy(np.float64).reshape(len(saved), 8, 2)
        moved = movement(coords)[[saved.index(e) for e in evaluated]]
        for (_, _), rows in metrics.groupby(["decoder", "protocol"]):
            rows = rows.sort_values("epoch")
            np.testing.assert_allclose(rows["movement_intra"], moved[:, 0], rtol=1e-5)
            np.testing.assert_allclose(rows["movement_inter"], moved[:, 1], rtol=1e-5)
        final = metrics[metrics["epoch"] == 30]
        assert final["movement_ratio"].nunique() == 1 and final["movement_inter"].iloc[0] > 0
        ratio = final["movement_intra"] / final["movement_inter"]
        np.testing.assert_allclose(final["movement_ratio"], ratio)
        assert metrics[metrics["epoch"] == 0]["movement_ratio"].isna().all()


def test_aggregate_summarises_the_family_columns(tmp_path):
    from repgeom.jobs.aggregate import aggregate

    exp = _experiment(tmp_path, seeds=3, activations=["tanh"])
    files, _ = _train_and_evaluate(exp)
    out = {k: str(tmp_path / f"{k}.parquet") for k in ("metrics", "dichotomies", "summary")}
    aggregate(
        [f + "metrics.parquet" for f in files],
        [f + "dichotomies.parquet" for f in files],
        out,
        "u",
        exp.run_key_types,
        exp.semantic_config(),
    )
    summary = pd.read_parquet(out["summary"])
    assert set(MOVEMENT_COLUMNS) <= set(summary["metric"])
    last = summary[(summary["metric"] == "movement_ratio") & (summary["epoch"] == 30)]
    assert (last["n"] == 3).all() and last["mean"].notna().all()
    assert set(MOVEMENT_COLUMNS) <= set(pd.read_parquet(out["metrics"]).columns)


# --------------------------------------------------------------------------- recipes


def test_only_the_unstructured_evaluation_recipe_names_the_family_outputs(tmp_path):
    exp = _experiment(tmp_path)
    cell, block = exp.job_cells()[0], exp.blocks[0]
    assert exp.recipe(cell, block, "evaluate")["family_outputs"] == {
        "trajectories": True,
        "run_columns": list(MOVEMENT_COLUMNS),
    }
    assert "family_outputs" not in exp.recipe(cell, block, "train")
    delta = Sweep(validate({"experiments": {"d": {"family": "delta"}}}, SCHEMA)).experiments["d"]
    recipe = delta.recipe(delta.job_cells()[0], delta.blocks[0], "evaluate")
    assert set(recipe) == {"train", "evaluation"}


def test_prune_knows_the_trajectories_file():
    from repgeom import prune

    assert "trajectories.parquet" in prune.RUN_FILES


def test_family_without_hooks_is_unaffected(tmp_path):
    """A family with trajectories off and no columns: the job writes nothing more."""
    fam = get_family("unstructured")
    plain = dataclasses.replace(fam, trajectories=False, extra_run_columns=(), run_metrics=None)
    FAMILIES["unstructured"] = plain
    try:
        exp = _experiment(tmp_path, seeds=1, activations=["relu"], optimizers=["sgd"])
        files, written = _train_and_evaluate(exp)
    finally:
        FAMILIES["unstructured"] = fam
    assert written == [] and not Path(files[0] + "trajectories.parquet").exists()
    cols = list(pd.read_parquet(files[0] + "metrics.parquet").columns)
    assert cols == ["epoch", "layer", "decoder", "protocol", *RUN_COLUMNS, "stop_epoch",
                    "converged"]  # fmt: skip


def test_plain_family_dataclass_has_no_hooks():
    f = Family("p", "", {}, {}, {}, lambda a: [], lambda c: None)
    assert not f.trajectories and f.extra_run_columns == () and f.run_metrics is None


# --------------------------------------------------------------------------- the commands


def _final_frame():
    rows = []
    for act, opt, seed, epoch in itertools.product(
        ("tanh", "relu", "gelu"), ("sgd", "rmsprop"), range(3), (0, 100)
    ):
        ratio = {"tanh": 0.2, "relu": 1.0, "gelu": 0.8}[act] + 0.1 * seed
        rows.append(
            {
                "arch": "shallow",
                "act": act,
                "readout": "balanced",
                "opt": opt,
                "sigma": 1.0,
                "seed": seed,
                "epoch": epoch,
                "layer": 1,
                "target_alignment": 0.7,
                "input_alignment": 0.9,
                "task_alignment": 0.6,
                "movement_intra": ratio * epoch,
                "movement_inter": float(epoch),
                "movement_ratio": ratio if epoch else np.nan,
            }  # fmt: skip
        )
    keys = {"arch": "string", "act": "string", "readout": "string", "opt": "string",
            "sigma": "float64", "seed": "int64", "layer": "int64"}  # fmt: skip
    return pd.DataFrame(rows), keys


def test_movement_table_is_per_activation_and_setting_at_the_final_epoch():
    from repgeom.__main__ import movement_table

    df, keys = _final_frame()
    table = movement_table(df, keys)
    assert list(table.columns) == ["act", "opt", "intra", "inter", "ratio", "TA", "n"]
    assert list(table["act"]) == ["tanh", "tanh", "relu", "relu", "gelu", "gelu"]
    assert list(table["opt"]) == ["rmsprop", "sgd"] * 3 and set(table["n"]) == {3}
    # relu: ratios 1.0, 1.1, 1.2 → 1.100 ± 0.058 (s.e.m. = 0.1/√3)
    assert table.iloc[2]["ratio"] == "1.100 ± 0.058" and table.iloc[2]["inter"] == "100.000 ± 0.000"


def test_headline_shows_the_movement_columns_where_the_family_has_them():
    from repgeom.__main__ import headline_table

    df, keys = _final_frame()
    table = headline_table(df, keys)
    assert {"mv intra", "mv inter", "mv ratio"} <= set(table.columns)
    assert "mv ratio" not in headline_table(df.drop(columns=list(MOVEMENT_COLUMNS)), keys)
