"""Snakemake end to end on a tiny configuration, then incremental behaviour with `-n`."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import snakemake_cmd

from repgeom import storage
from repgeom.evaluation import METRIC_COLUMNS

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.workflow

TINY = {
    "sweep": {
        "seeds": [0, 1, 2],
        "deltas": [0.0, 0.5],
        "sigmas": [0.1],
        "activations": ["tanh", "relu"],
    },
    "task": {"dim": 12, "n_train": 200, "n_test": 100},
    "model": {"width": 8},
    "training": {"epochs": 20, "runs_per_job": 2, "snapshots": {"schedule": "log", "count": 4}},
    "figures": {"formats": ["png", "pdf"]},
}


def snakemake(workdir, *args, check=True):
    proc = subprocess.run(
        snakemake_cmd(workdir) + list(args), capture_output=True, text=True, timeout=900
    )
    if check and proc.returncode:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_config(workdir, cfg):
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def planned(workdir) -> dict[str, int]:
    """Jobs that `snakemake -n` would run, per rule."""
    out = snakemake(workdir, "-n", "--quiet", "rules").stdout
    jobs = {}
    for line in out.splitlines():  # the first "Job stats" table, which ends at "total"
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) == "total":
            break
        if m and m.group(1) != "all":
            jobs[m.group(1)] = int(m.group(2))
    return jobs


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("wf")
    write_config(workdir, TINY)
    snakemake(workdir, "--cores", "2")
    return workdir


def test_outputs_exist_and_read_back(done):
    runs = storage.run_files(done / "results", "metrics.parquet")
    assert len(runs) == 2 * 2 * 3
    df = pd.read_parquet(runs[0])
    assert list(df.columns) == ["epoch", *METRIC_COLUMNS, "stop_epoch", "converged"]
    assert df["epoch"].iloc[0] == 0 and df["epoch"].iloc[-1] == 20
    meta = storage.read_metadata(runs[0])
    assert meta["config"]["task"]["dim"] == 12 and meta["schema_version"] == storage.SCHEMA_VERSION
    assert {"torch", "numpy", "pyarrow"} <= set(meta["versions"])
    assert meta["provenance"]["device"] == "cpu"
    epochs, params = storage.read_weights(runs[0].replace("metrics.parquet", "weights.parquet"))
    assert params["W"].shape == (len(epochs), 8, 12)
    assert pq.read_table(runs[0].replace("metrics.parquet", "loss.parquet")).num_rows <= 20

    allm = pd.read_parquet(done / "results/metrics.parquet")
    assert list(allm.columns[:7]) == ["task", "arch", "act", "readout", "sigma", "delta", "seed"]
    assert allm["delta"].dtype == "float64" and len(allm) == len(runs) * len(df)
    summ = pd.read_parquet(done / "results/summary.parquet")
    assert set(summ["metric"]) == set(METRIC_COLUMNS) and (summ["n"] == 3).all()
    ds = storage.open_runs(done / "results").to_table().to_pandas()
    assert set(ds["seed"]) == {0, 1, 2}
    for name in ("delta_sweep", "over_training"):
        for ext in ("png", "pdf"):
            assert (done / f"results/figures/{name}.{ext}").stat().st_size > 1000
    assert "epoch 20/20" in next((done / "results/logs/train").iterdir()).read_text()


def test_columns_are_documented(done):
    doc = (ROOT / "docs/data_dictionary.md").read_text()
    documented = set(re.findall(r"`(\w+)`", doc))
    for name in ("metrics.parquet", "weights.parquet", "loss.parquet"):
        f = storage.run_files(done / "results", name)[0]
        assert set(pq.read_schema(f).names) <= documented, name
    summ = pq.read_schema(done / "results/summary.parquet").names
    assert set(summ) <= documented


def test_nothing_to_do_after_a_run(done):
    assert planned(done) == {}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # a new δ: only its 2 cells × 2 blocks train
        (
            {"sweep": {"deltas": [0.0, 0.5, 1.0]}},
            {
                "train_block0": 2,
                "train_block1": 2,
                "evaluate_block0": 2,
                "evaluate_block1": 2,
                "aggregate": 1,
                "figures": 1,
            },
        ),
        # one more seed: only the partially filled block (2,) → (2, 3) retrains, in every cell
        (
            {"sweep": {"seeds": [0, 1, 2, 3]}},
            {"train_block1": 4, "evaluate_block1": 4, "aggregate": 1, "figures": 1},
        ),
        # an evaluation setting: re-evaluate everything, train nothing
        (
            {"evaluation": {"test_sigma": 0.5}},
            {"evaluate_block0": 4, "evaluate_block1": 4, "aggregate": 1, "figures": 1},
        ),
        # a training setting: everything it touches
        (
            {"training": {"lr": 0.05}},
            {
                "train_block0": 4,
                "train_block1": 4,
                "evaluate_block0": 4,
                "evaluate_block1": 4,
                "aggregate": 1,
                "figures": 1,
            },
        ),
        # a figure setting: only redraw
        ({"figures": {"dpi": 100}}, {"figures": 1}),
        # another spelling of the same floats, or execution-only settings: nothing
        ({"sweep": {"deltas": ["0e0", "5e-1"], "sigmas": ["1e-1"]}}, {}),
        ({"training": {"device": "cpu", "progress_every_s": 1, "threads": 2}}, {}),
    ],
)
def test_incremental_reruns(done, change, expected):
    base = yaml.safe_load((done / "config.yaml").read_text())
    try:
        cfg = dict(base)
        for section, values in change.items():  # nested dicts are replaced, not merged
            cfg[section] = {**base.get(section, {}), **values}
        write_config(done, cfg)
        assert planned(done) == expected
    finally:
        write_config(done, base)


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        ({"sweep": {"activations": ["softsign"]}}, ["sweep.activations[0]", "'tanh'", "'relu'"]),
        ({"training": {"epochs": -1}}, ["training.epochs", "minimum of 1"]),
        ({"sweep": {"deltas": []}}, ["sweep.deltas", "non-empty"]),
        ({"bogus": 1}, ["'bogus' was unexpected", "allowed keys"]),
        ({"figures": {"training_delta": 0.7}}, ["figures.training_delta", "allowed: 0.0, 0.5"]),
    ],
)
def test_bad_config_stops_before_any_job(done, change, needles):
    base = yaml.safe_load((done / "config.yaml").read_text())
    try:
        cfg = dict(base)
        for section, values in change.items():
            cfg[section] = (
                {**base.get(section, {}), **values} if isinstance(values, dict) else values
            )
        write_config(done, cfg)
        proc = snakemake(done, "-n", check=False)
        assert proc.returncode != 0
        text = proc.stdout + proc.stderr
        for needle in needles:
            assert needle in text
        assert "Traceback" not in text
    finally:
        write_config(done, base)
    assert planned(done) == {}  # nothing was lost


def test_report(done):
    snakemake(done, "--report", "report.html")
    html = (done / "report.html").read_text(errors="replace")
    assert "delta_sweep.png" in html


def test_headline_command(done):
    proc = subprocess.run(
        [sys.executable, "-m", "repgeom", "headline", str(done / "results")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "tanh TA" in proc.stdout and "relu IA" in proc.stdout and "12 runs" in proc.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "repgeom", "headline", str(done / "nowhere")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "run the workflow first" in missing.stderr


@pytest.mark.parametrize(
    ("train", "present", "absent"),
    [
        ({}, ["gpu=1", "runtime=60", "mem_mb=4000"], ["gres="]),
        ({"gpu_syntax": "gres", "gpu_model": "a100", "gpus": 2}, ["gres=gpu:a100:2"], ["gpu=2"]),
        ({"gpus": 0, "runtime": 5, "mem_mb": 300}, ["runtime=5", "mem_mb=300"], ["gpu", "gres"]),
    ],
)
def test_training_resources_follow_config(tmp_path, train, present, absent):
    write_config(tmp_path, TINY | {"resources": {"train": train}})
    out = snakemake(tmp_path, "-n", "--until", "train_block0").stdout
    jobs = [b for b in out.split("\n\n") if "rule train_block0" in b]
    assert jobs
    res = next(line for line in jobs[0].splitlines() if "resources:" in line)
    for item in present:
        assert item in res, res
    for item in absent:
        assert item not in res, res


def test_delta_task_metrics_unchanged_since_recorded(done):
    """The tiny sweep's metrics equal those recorded before the task-family refactor."""
    want = pd.read_csv(ROOT / "tests/data/e2_regression_liblinear.csv")
    got = pd.read_parquet(done / "results/metrics.parquet")
    keys = ["act", "delta", "seed", "epoch"]
    got = got.sort_values(keys).reset_index(drop=True)
    want = want.sort_values(keys).reset_index(drop=True)
    cols = [c for c in want.columns if c not in ("task", "arch", "readout", "sigma")]
    pd.testing.assert_frame_equal(
        got[cols], want[cols], check_dtype=False, check_exact=False, rtol=0, atol=1e-6
    )
