"""The workflow through real SLURM daemons (started by .ci/slurm_cluster.sh).

Skipped where no SLURM controller answers. Tests that reconfigure the cluster (no accounting,
no GPUs) also need REPGEOM_SLURM_CI=1, which .ci/run sets; they restore the default cluster
(accounting, 2 fake GPUs) afterwards.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import snakemake_cmd

from repgeom import storage

ROOT = Path(__file__).parents[1]
CLUSTER = ROOT / ".ci/slurm_cluster.sh"
pytestmark = pytest.mark.slurm


def _slurm_up() -> bool:
    if not shutil.which("scontrol"):
        return False
    return subprocess.run(["scontrol", "ping"], capture_output=True).returncode == 0


if not _slurm_up():
    pytest.skip(
        "no SLURM controller answers `scontrol ping` (start one with .ci/slurm_cluster.sh start)",
        allow_module_level=True,
    )

MANAGED = os.environ.get("REPGEOM_SLURM_CI") == "1" and os.geteuid() == 0
needs_managed = pytest.mark.skipif(
    not MANAGED, reason="reconfigures the cluster: needs REPGEOM_SLURM_CI=1 and root (.ci/run)"
)

CONFIG = {
    "experiments": {
        "delta": {
            "family": "delta",
            "seeds": [0, 1],
            "activations": ["tanh", "relu"],
            "axes": {"delta": [0.5], "sigma": [0.1]},
            "task": {"dim": 12, "n_train": 200, "n_test": 100},
            "training": {"epochs": 10},
        }
    },
    "model": {"width": 8},
    "training": {"runs_per_job": 2, "snapshots": {"count": 3}},
    "resources": {
        "train": {"runtime": 10, "mem_mb": 500, "gpus": 1},
        "evaluate": {"runtime": 10, "mem_mb": 500},
    },
    "figures": {"formats": ["png"]},
}


RESULTS = "results/delta"


def cluster(*args):
    subprocess.run([str(CLUSTER), *args], check=True, timeout=300)


def run_slurm(workdir, *extra, env=None, timeout=600):
    """snakemake --profile profiles/slurm with test-only overrides, bounded by timeout -k."""
    cmd = [
        "timeout",
        "-k",
        "10",
        str(timeout),
        *snakemake_cmd(workdir),
        "--profile",
        str(ROOT / "profiles/slurm"),
        "--default-resources",
        "slurm_partition=debug",
        "slurm_account=root",
        "runtime=10",
        "mem_mb=500",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--retries",
        "0",
        "--verbose",
        *extra,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    proc.wall_s = time.perf_counter() - t0
    proc.text = proc.stdout + proc.stderr
    return proc


def sbatch_calls(text):
    return re.findall(r"sbatch call: (.*)", text)


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    return tmp_path


def test_end_to_end_through_slurm(workdir):
    proc = run_slurm(workdir)
    assert proc.returncode == 0, proc.text[-5000:]
    print(f"\nreal-SLURM end to end: {proc.wall_s:.1f} s")
    train_calls = [c for c in sbatch_calls(proc.text) if "rule_train_" in c]
    assert len(train_calls) == 2, sbatch_calls(proc.text)
    print("sbatch request of a training job:", train_calls[0])
    assert "--gpus=1" in train_calls[0]
    weights = storage.run_files(workdir / RESULTS, "weights.parquet")
    assert len(weights) == 4
    job_ids = set()
    for f in weights:
        prov = storage.read_metadata(f)["provenance"]
        assert prov["slurm_job_id"] and prov["slurm_node"]
        # the job got its GPU; torch here is a CPU build, so `auto` fell back to the CPU
        assert prov["cuda_visible_devices"] and prov["device"] == "cpu"
        job_ids.add(prov["slurm_job_id"])
    assert len(job_ids) == 2  # one SLURM job per block of 2 runs
    log = next((workdir / RESULTS / "logs/train").iterdir()).read_text()
    assert "allotted but torch" in log and "epoch 10/10" in log
    assert (workdir / RESULTS / "summary.parquet").exists()
    assert (workdir / RESULTS / "figures/over_training.png").exists()

    again = run_slurm(workdir)
    assert again.returncode == 0 and sbatch_calls(again.text) == []
    assert "Nothing to be done" in again.text


def test_failed_job_is_reported_kept_and_rerun_alone(workdir):
    proc = run_slurm(workdir, env={"REPGEOM_FAIL_IF": "act=relu"})
    assert proc.returncode != 0
    assert "Error in rule train_delta_block0" in proc.text
    failed_log = next((workdir / RESULTS / "logs/train").glob("*act=relu*")).read_text()
    assert "failure injected by REPGEOM_FAIL_IF=act=relu" in failed_log
    slurm_logs = list((workdir / ".snakemake/slurm_logs").rglob("*.log"))
    assert any("failure injected" in p.read_text(errors="replace") for p in slurm_logs)
    # the tanh runs finished despite the failure (keep-going)
    assert len(storage.run_files(workdir / RESULTS, "metrics.parquet")) == 2

    fixed = run_slurm(workdir)
    assert fixed.returncode == 0, fixed.text[-5000:]
    calls = sbatch_calls(fixed.text)
    assert len([c for c in calls if "rule_train_" in c]) == 1  # only the failed cell retrains


@needs_managed
def test_squeue_status_without_accounting(workdir):
    cluster("start", "--no-accounting", "--gpus", "2")
    try:
        assert subprocess.run(["sacct"], capture_output=True).returncode != 0
        proc = run_slurm(workdir, "--slurm-status-command", "squeue", timeout=400)
        assert proc.returncode == 0, proc.text[-5000:]
        assert len(storage.run_files(workdir / RESULTS, "metrics.parquet")) == 4
    finally:
        cluster("start")


@needs_managed
def test_gpu_request_without_gpus_fails_fast(workdir):
    cluster("start", "--gpus", "0")
    try:
        proc = run_slurm(workdir, timeout=180)
        assert proc.returncode != 0
        assert proc.wall_s < 120
        assert "Invalid generic resource" in proc.text
        # with the GPU request switched off in config.yaml, the same cluster runs the sweep
        cfg = yaml.safe_load((workdir / "config.yaml").read_text())
        cfg["resources"]["train"]["gpus"] = 0
        (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
        proc = run_slurm(workdir)
        assert proc.returncode == 0, proc.text[-5000:]
    finally:
        cluster("start")


def _epochs_per_second(cfg) -> float:
    """Training speed of the (single-run) experiment ``d`` of ``cfg`` here, on one thread as in
    the job, measured as the slope between two lengths (set-up and writing cancel out)."""
    import torch

    from repgeom import pipeline
    from repgeom.config import load_schema, validate
    from repgeom.sweep import Sweep

    exp = Sweep(validate(cfg, load_schema(ROOT / "workflow/schemas/config.schema.yaml")))
    exp = exp.experiments["d"]
    run = exp.run_config(exp.cells[0], exp.seeds[0])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        wall = {}
        for epochs in (200, 800):
            run["training"] |= {"epochs": epochs}
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                pipeline.train_block([run], [f"{d}/w.parquet"], [f"{d}/l.parquet"], device="cpu")
                wall[epochs] = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    return 600 / (wall[800] - wall[200])


def test_time_limit_kill_resumes_from_checkpoint(tmp_path):
    """A training job longer than its 1-minute limit is stopped by SLURM (SIGTERM: checkpoint),
    resubmitted by Snakemake with attempt 2 (2 minutes) and finishes from its checkpoint, with
    the weights of an uninterrupted run trained beside it."""
    from test_faults import LONG, UNTIL, _weights

    cfg = yaml.safe_load(yaml.safe_dump(LONG))
    training = cfg["experiments"]["d"]["training"]
    # about 130 s of training on this machine: past the limit (SLURM enforces it within about
    # 30 s), and done within the 2 minutes of the second attempt
    epochs = int(130 * _epochs_per_second(cfg))
    training |= {"epochs": epochs, "checkpoint_every_s": 5, "progress_every_s": 10}
    cfg["resources"] = {"train": {"runtime": 1, "mem_mb": 500, "gpus": 0}}
    cfg["experiments"]["d"]["seeds"] = [0]
    slurm_dir, local_dir = tmp_path / "slurm", tmp_path / "local"
    for d in (slurm_dir, local_dir):
        d.mkdir()
        (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    reference = subprocess.Popen(  # the uninterrupted run, on the other core meanwhile
        ["timeout", "600", *snakemake_cmd(local_dir), "--cores", "1", *UNTIL],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proc = run_slurm(slurm_dir, *UNTIL, "--retries", "2", timeout=560)
    assert reference.wait() == 0
    assert proc.returncode == 0, proc.text[-5000:]
    print(f"\nreal-SLURM time-limit kill and resume: {proc.wall_s:.1f} s")
    log = next((slurm_dir / "results/d/logs/train").iterdir()).read_text()
    slurm_logs = " ".join(
        p.read_text(errors="replace") for p in (slurm_dir / ".snakemake/slurm_logs").rglob("*.log")
    )
    assert "received SIGTERM: saving a checkpoint" in slurm_logs
    assert "DUE TO TIME LIMIT" in slurm_logs or "TIMEOUT" in proc.text, proc.text[-3000:]
    resumed = [ln for ln in log.splitlines() if "resuming from checkpoint" in ln]
    assert resumed and "saved on SIGTERM" in resumed[0], log
    print(resumed[0].split(" INFO ")[-1])
    assert not list((slurm_dir / "results").rglob("*.checkpoint.npz"))
    a, b = _weights(slurm_dir), _weights(local_dir)
    assert sorted(a) == sorted(b) and len(a) == 1
    diff = max(float(np.abs(a[f][k] - b[f][k]).max()) for f in a for k in a[f])
    print(f"max |Δweight| between the resumed and an uninterrupted run: {diff:.3g}")
    assert diff <= 1e-6
