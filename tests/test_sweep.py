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


def sweep(**sweep_keys):
    training = sweep_keys.pop("training", {})
    return Sweep(validate({"sweep": sweep_keys, "training": training}, SCHEMA))


def test_cells_and_runs():
    sw = sweep(
        seeds=3, deltas=[0, 0.5], activations=["tanh", "relu"], readouts=["uniform", "balanced"]
    )
    assert len(sw.cells) == 2 * 2 * 2 and sw.n_runs == 24
    f = sw.run_file(sw.cells[0], 2, "metrics.parquet")
    assert f == (
        "results/runs/task=delta/arch=shallow/act=tanh/readout=uniform/sigma=0.1/delta=0.0/seed=2/metrics.parquet"
    )


def test_blocks_depend_on_seed_values_only():
    sw = sweep(seeds=[0, 1, 2, 3, 4, 9], training={"runs_per_job": 4})
    assert [b.seeds for b in sw.blocks] == [(0, 1, 2, 3), (4,), (9,)]
    more = sweep(seeds=[0, 1, 2, 3, 4, 5, 9], training={"runs_per_job": 4})
    # adding seed 5 changes only the partially filled block (4,) → (4, 5)
    assert [b.seeds for b in more.blocks] == [(0, 1, 2, 3), (4, 5), (9,)]


def test_run_config_is_complete_and_excludes_execution_settings():
    sw = sweep(seeds=2, deltas=[0.5], training={"device": "cpu", "progress_every_s": 3})
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
    assert rc["model"]["init_seed"] == 1 and rc["training"]["shuffle_seed"] == 1
    assert "device" not in rc["training"] and "progress_every_s" not in rc["training"]
    assert rc["run"]["seed"] == 1 and rc["run"]["delta"] == "0.5"


def test_fixed_data_seed():
    sw = Sweep(validate({"task": {"data_seed": 0}}, SCHEMA))
    assert sw.run_config(sw.cells[0], 3)["task"]["data_seed"] == 0


def test_figure_settings_must_name_swept_values():
    ok = Sweep(validate({"figures": {"sigma": "1e-1", "training_delta": 0.5}}, SCHEMA))
    assert ok.figure_errors() == []
    bad = Sweep(
        validate({"figures": {"sigma": 0.3, "readout": "sphere", "training_delta": 0.6}}, SCHEMA)
    )
    errors = bad.figure_errors()
    assert len(errors) == 3
    assert "figures.sigma': 0.3 is not in the sweep; allowed: 0.1" in errors[0]
    assert "figures.readout': sphere" in errors[1] and "allowed: uniform" in errors[1]
    assert "figures.training_delta': 0.6" in errors[2] and "0.25" in errors[2]
