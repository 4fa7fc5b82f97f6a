"""Faults a long sweep meets, through real Snakemake: a training job killed with SIGKILL resumes
from its checkpoint and ends as an uninterrupted one; nothing half-written survives."""

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import snakemake_cmd

from repgeom import storage

pytestmark = pytest.mark.workflow

#: one training job long enough to be killed in the middle (a few seconds on 2 cores)
LONG = {
    "experiments": {
        "d": {
            "family": "delta",
            "seeds": [0, 1],
            "activations": ["tanh"],
            "axes": {"delta": [0.5], "sigma": [0.1]},
            "task": {"dim": 21, "n_train": 400, "n_test": 100},
            "model": {"width": 16},
            "training": {
                "epochs": 1500,
                "batch_size": 20,
                "conv_tol": 0,
                "snapshots": {"count": 4},
                "checkpoint_every_s": 0.5,
                "progress_every_s": 1,
            },
        }
    },
    "figures": {"formats": ["png"]},
}
UNTIL = ("--until", "train_d_block0")  # training is what is under test


def _workdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(yaml.safe_dump(LONG))
    return path


def _snakemake(workdir, *args):
    proc = subprocess.run(
        snakemake_cmd(workdir) + list(args), capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _weights(workdir) -> dict[str, dict[str, np.ndarray]]:
    return {
        str(Path(f).relative_to(workdir)): storage.read_weights(f)[1]
        for f in storage.run_files(workdir / "results/d", "weights.parquet")
    }


def _kill_when_checkpointed(workdir) -> Path:
    """Start the workflow, SIGKILL its whole process group once training has checkpointed."""
    proc = subprocess.Popen(
        snakemake_cmd(workdir) + ["--cores", "1", *UNTIL],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = list((workdir / "results/d/jobs").rglob("*.checkpoint.npz"))
            if found:
                time.sleep(1.0)  # a few more checkpoints, and the kill lands mid-epoch
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return found[0]
            assert proc.poll() is None, "the workflow ended before its first checkpoint"
            time.sleep(0.05)
        raise AssertionError("no checkpoint within 120 s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_kill_9_mid_training_resumes_and_equals_uninterrupted(tmp_path):
    killed = _workdir(tmp_path / "killed")
    checkpoint = _kill_when_checkpointed(killed)
    assert checkpoint.exists()
    # nothing that looks finished: no manifest, and no run file outside a temporary name
    assert not list((killed / "results/d/jobs").rglob("*.train.json"))
    assert not storage.run_files(killed / "results/d", "weights.parquet")

    _snakemake(killed, "--unlock")
    _snakemake(killed, "--cores", "1", "--rerun-incomplete", *UNTIL)
    log = next((killed / "results/d/logs/train").iterdir()).read_text()
    resumed = [ln for ln in log.splitlines() if "resuming from checkpoint" in ln]
    assert resumed, log
    print(f"\n{resumed[0].split(' INFO ')[-1]}")
    assert not checkpoint.exists()
    leftovers = [p for p in (killed / "results").rglob("*") if ".tmp-" in p.name]
    assert leftovers == []

    clean = _workdir(tmp_path / "clean")
    _snakemake(clean, "--cores", "1", *UNTIL)
    a, b = _weights(killed), _weights(clean)
    assert sorted(a) == sorted(b) and len(a) == 2
    diff = max(float(np.abs(a[f][k] - b[f][k]).max()) for f in a for k in a[f])
    print(f"max |Δweight| between the resumed and an uninterrupted run: {diff:.3g}")
    assert diff <= 1e-6


_TRAIN = """
import json, sys
from repgeom.pipeline import log_to, train_block
a = json.load(open(sys.argv[1]))
with log_to(a["log"]):
    train_block(a["runs"], a["weights"], a["loss"], device="cpu", progress_every_s=0.1,
                checkpoint=a["checkpoint"], checkpoint_every_s=1e9)
"""


def test_sigterm_saves_a_checkpoint_that_resumes_to_the_same_weights(tmp_path, caplog):
    """SIGTERM (a time limit, a preemption, scancel) mid-training: the job saves its state and
    exits; run again, it resumes and ends with an uninterrupted run's weights."""
    import json
    import sys

    from repgeom import pipeline
    from repgeom.config import load_schema, validate
    from repgeom.sweep import Sweep

    schema = load_schema(Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml")
    exp = Sweep(validate(LONG, schema)).experiments["d"]
    runs = [exp.run_config(exp.cells[0], s) for s in exp.seeds]

    def files(tag):
        return {
            "weights": [str(tmp_path / f"{tag}.w{s}.parquet") for s in exp.seeds],
            "loss": [str(tmp_path / f"{tag}.l{s}.parquet") for s in exp.seeds],
        }

    job = {"runs": runs, "log": str(tmp_path / "train.log")}
    job |= {"checkpoint": str(tmp_path / "job.checkpoint.npz")} | files("job")
    (tmp_path / "job.json").write_text(json.dumps(job))
    proc = subprocess.Popen([sys.executable, "-c", _TRAIN, str(tmp_path / "job.json")])
    log = Path(job["log"])
    deadline = time.monotonic() + 60
    while "epoch " not in (log.read_text() if log.exists() else ""):
        assert proc.poll() is None and time.monotonic() < deadline, "training did not start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) != 0
    text = log.read_text()
    assert "received SIGTERM" in text and "checkpoint saved on SIGTERM" in text, text
    assert not any(Path(f).exists() for f in job["weights"])

    caplog.set_level("INFO", logger="repgeom")
    pipeline.train_block(
        runs, job["weights"], job["loss"], device="cpu", checkpoint=job["checkpoint"]
    )
    assert "resuming from checkpoint" in caplog.text and "saved on SIGTERM" in caplog.text
    ref = files("ref")
    pipeline.train_block(runs, ref["weights"], ref["loss"], device="cpu")
    for a, b in zip(job["weights"], ref["weights"], strict=True):
        wa, wb = storage.read_weights(a)[1], storage.read_weights(b)[1]
        assert max(float(np.abs(wa[k] - wb[k]).max()) for k in wa) == 0.0
