"""Snakemake end to end on a tiny unstructured-inputs experiment (E1): the optimisers axis as a
path level and a table column, fixed biases, and metrics only at the evaluated snapshots."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import snakemake_cmd

from repgeom import storage
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

    out = subprocess.run(
        [sys.executable, "-m", "repgeom", "headline", str(tmp_path / "results")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "e1" in out.stdout, out.stdout + out.stderr
