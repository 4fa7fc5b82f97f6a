"""Snakemake end to end on a tiny unstructured-inputs experiment (E1): the optimisers axis as a
path level and a table column, fixed biases, metrics only at the evaluated snapshots, and the
neuron trajectories and movement columns with their claims and commands."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import snakemake_cmd

from repgeom import manifests, storage
from repgeom.training import evaluated_epochs, snapshot_epochs

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.workflow

TINY_E1 = {
    "family": "unstructured",
    "seeds": [0, 1],
    "activations": ["tanh", "relu"],
    "optimizers": ["sgd", "rmsprop"],
    "task": {"dim": 10, "n_train": 200, "n_test": 100},
    "model": {"width": 8},
    "training": {"epochs": 20, "snapshots": {"schedule": "linear", "every": 2}},
    "evaluation": {"snapshots": {"schedule": "log", "count": 4}},
}
E1 = "results/e1"


def test_tiny_unstructured_experiment_runs_end_to_end(tmp_path):
    cfg = {"experiments": {"e1": TINY_E1}, "training": {"runs_per_job": 2}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = subprocess.run(
        snakemake_cmd(tmp_path) + ["--cores", "1"], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    metrics = pd.read_parquet(tmp_path / E1 / "metrics.parquet")
    keys = ["experiment", "arch", "act", "readout", "opt", "sigma", "seed"]
    assert list(metrics.columns[: len(keys)]) == keys
    assert set(metrics["opt"]) == {"sgd", "rmsprop"} and set(metrics["readout"]) == {"balanced"}
    saved = snapshot_epochs(20, "linear", every=2)
    want = evaluated_epochs(saved, 20, TINY_E1["evaluation"]["snapshots"])
    assert sorted(metrics["epoch"].unique()) == want and len(want) < len(saved)
    assert metrics["test_accuracy"].notna().all()
    dich = pd.read_parquet(tmp_path / E1 / "dichotomies.parquet")
    assert set(dich["dichotomy"]) == {"target", "b1", "b2"}

    for f in storage.run_files(tmp_path / E1, "weights.parquet"):
        meta = storage.read_metadata(f)
        run, model, training = (meta["config"][k] for k in ("run", "model", "training"))
        assert f"/opt={run['opt']}/" in str(f)
        assert training["optimizer"] == run["opt"]
        assert training["lr"] == {"sgd": 0.1, "rmsprop": 0.01}[run["opt"]]
        epochs, p = storage.read_weights(f)
        assert list(epochs) == saved  # every saved snapshot is kept
        assert np.all(p["b"] == np.float32({"tanh": -0.1, "relu": 0.1}[run["act"]]))
        assert np.all(p["bo"] == 0) and model["hidden_bias"] in (-0.1, 0.1)

    # trajectories: one file per run (every saved snapshot × neuron), listed in the manifests
    traj = storage.run_files(tmp_path / E1, "trajectories.parquet")
    assert len(traj) == 8
    listed = {
        str(f.resolve())
        for m in (tmp_path / E1 / "jobs").glob("**/*.evaluate.json")
        for f in manifests.listed_files(m, name="trajectories.parquet")
    }
    assert listed == {str(Path(f).resolve()) for f in traj}
    assert len(pd.read_parquet(traj[0])) == len(saved) * 8
    moved = ["movement_intra", "movement_inter", "movement_ratio"]
    assert set(moved) <= set(metrics.columns)
    assert metrics[metrics["epoch"] == 20]["movement_ratio"].notna().all()
    summary = pd.read_parquet(tmp_path / E1 / "summary.parquet")
    assert set(moved) <= set(summary["metric"])
    claims = pd.read_parquet(tmp_path / E1 / "claims.parquet")
    assert {"relu_moves_intra", "tanh_moves_inter"} <= set(claims["claim"])

    def command(*args):
        out = subprocess.run(
            [sys.executable, "-m", "repgeom", *args, str(tmp_path / "results")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        return out.stdout

    assert "e1" in command("headline") and "mv ratio" in command("headline")
    text = command("movement")
    assert "ratio" in text and "mv ratio" not in text  # its own table, not the headline
    assert "relu's final movement ratio" in text and "opt" in text
    assert "verified" in command("verify")
