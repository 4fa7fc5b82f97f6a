"""The architecture axis end to end: deep MLPs on a condition-mean task and the CNN on a tiny
CIFAR-10 set written in the binary distribution's format, through the real workflow (train,
evaluate, aggregate, claims, figures), then read back per hidden layer."""

import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import snakemake_cmd

from repgeom import storage

pytestmark = pytest.mark.workflow

DEEP = {
    "family": "delta",
    "seeds": [0, 1, 2],
    "activations": ["tanh", "relu"],
    "architectures": ["shallow", "mlp3"],
    "axes": {"delta": [0.5], "sigma": [0.1]},
    "task": {"dim": 12, "n_train": 200, "n_test": 100},
    "model": {"width": 8},
    "training": {"epochs": 10, "snapshots": {"count": 3}, "optimizer": "adam", "lr": 0.01},
}
CNN = {
    "family": "cifar10",
    "seeds": [0, 1],
    "activations": ["tanh", "relu"],
    "task": {"data_dir": "tiny-cifar", "n_train": 100, "n_test": 50},
    "model": {"channels": 4, "fc_width": 8},
    "training": {"epochs": 2, "batch_size": 20, "snapshots": {"count": 2}},
}


def run(workdir, *args):
    proc = subprocess.run(
        snakemake_cmd(workdir) + list(args), capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    from repgeom.datasets import cifar10

    workdir = tmp_path_factory.mktemp("deep")
    cifar10.tiny(workdir / "tiny-cifar", n_per_class=10, seed=0)
    cfg = {
        "experiments": {"deep": DEEP, "cnn": CNN},
        "training": {"runs_per_job": 3},
        "figures": {"formats": ["png"]},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    run(workdir, "--cores", "2")
    return workdir


def test_every_hidden_layer_has_its_rows(done):
    m = pd.read_parquet(done / "results/deep/metrics.parquet")
    layers = m.groupby("arch", observed=True)["layer"].unique()
    assert sorted(layers["shallow"]) == [1] and sorted(layers["mlp3"]) == [1, 2, 3]
    # losses belong to the network: equal in every layer's rows of a snapshot
    last = m[m["arch"] == "mlp3"].groupby(["act", "seed", "epoch"])["test_loss"].nunique()
    assert (last == 1).all()
    d = pd.read_parquet(done / "results/deep/dichotomies.parquet")
    assert set(d[d["arch"] == "mlp3"]["layer"]) == {1, 2, 3}
    s = pd.read_parquet(done / "results/deep/summary.parquet")
    assert {1, 2, 3} <= set(s["layer"])
    meta = storage.read_metadata(next(iter(storage.run_files(done / "results/deep"))))
    assert meta["config"]["training"]["optimizer"] == "adam"  # which optimiser ran


def test_claims_figures_and_headline_are_per_layer(done):
    claims = pd.read_parquet(done / "results/deep/claims.parquet")
    settings = set(claims["setting"])
    assert {"arch=mlp3, layer=1", "arch=mlp3, layer=3", "arch=shallow, layer=1"} <= settings
    assert (done / "results/deep/figures/layers.png").stat().st_size > 1000
    out = subprocess.run(
        [sys.executable, "-m", "repgeom", "headline", "results"],
        cwd=done,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert " layer " in out and "mlp3" in out


def test_cnn_on_tiny_cifar_binary_data(done):
    m = pd.read_parquet(done / "results/cnn/metrics.parquet")
    assert sorted(set(m["layer"])) == [1, 2, 3, 4]
    final = m[m["epoch"] == m["epoch"].max()]
    assert final["target_alignment"].between(0, 1).all()
    assert final["input_alignment"].between(0, 1).all()
    assert final["test_accuracy"].between(0, 1).all()
    assert m["shattering_dim"].isna().all()  # no dichotomies: skipped by declaration
    assert len(pd.read_parquet(done / "results/cnn/dichotomies.parquet")) == 0
    claims = pd.read_parquet(done / "results/cnn/claims.parquet")
    assert {f"layer={i}" for i in (1, 2, 3, 4)} <= set(claims["setting"])
    assert (done / "results/cnn/figures/layers.png").stat().st_size > 1000
    logs = list((done / "results/cnn/logs/train").glob("*.log"))
    assert logs and all("held once for the 2 runs" in f.read_text() for f in logs)
    w = storage.run_files(done / "results/cnn", "weights.parquet")[0]
    assert "conv1_w" in pq.read_schema(w).names
