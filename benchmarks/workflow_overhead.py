"""Snakemake's own costs: planning at the paper's full δ-task grid, and per-job overhead locally.

    python benchmarks/workflow_overhead.py [--seeds 20] [--runs-per-job 20] [--local-cells 4]

1. Writes the paper's grid (21 δ × 4 σ × 2 activations × 3 readouts × seeds) into a temporary
   folder and times ``snakemake -n`` there (no results exist, so every job is planned).
2. Runs a tiny sweep (``--local-cells`` δ values × 2 activations, 1 seed, tiny networks) with
   ``snakemake --cores 1`` and, in the same run, the same training and evaluation in-process;
   the difference per job is Snakemake's overhead (start-up of each job's Python, torch import,
   bookkeeping).
Prints tables and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]


def timed_snakemake(workdir: str, cfg: dict, *args: str) -> tuple[float, str]:
    """Run the project's Snakefile in ``workdir`` with ``cfg`` as its config.yaml.

    Returns (wall seconds, stdout).
    """
    (Path(workdir) / "config.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", workdir, *args]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - t0, out


TINY = {
    "task": {"dim": 12, "n_train": 200, "n_test": 100},
    "model": {"width": 8},
    "training": {"epochs": 5, "snapshots": {"count": 3}},
    "figures": {"formats": ["png"]},
}


def local_overhead(cells: int) -> dict:
    """Wall time of a tiny local Snakemake run against the same work done in-process."""
    from repgeom.config import load_schema, validate
    from repgeom.pipeline import evaluate_block, train_block
    from repgeom.sweep import Sweep

    sweep = {
        "seeds": 1,
        "deltas": [round(0.1 * i, 1) for i in range(cells)],
        "activations": ["tanh", "relu"],
    }
    with tempfile.TemporaryDirectory() as d:
        cfg = TINY | {"sweep": sweep, "results_dir": f"{d}/inproc"}
        sw = Sweep(validate(cfg, load_schema(ROOT / "workflow/schemas/config.schema.yaml")))
        t0 = time.perf_counter()
        for cell in sw.cells:
            files = {
                k: [sw.run_file(cell, 0, f"{k}.parquet")] for k in ("weights", "loss", "metrics")
            }
            train_block([sw.run_config(cell, 0)], files["weights"], files["loss"], "cpu", 1e9)
            evaluate_block(files["weights"], files["metrics"], sw.config["evaluation"])
        inproc = time.perf_counter() - t0

        wall, _ = timed_snakemake(d, TINY | {"sweep": sweep}, "--cores", "1", "--quiet", "all")
    jobs = 2 * len(sw.cells)  # train + evaluate per cell; aggregate and figures are extra work
    return {
        "cells": len(sw.cells),
        "train_eval_jobs": jobs,
        "snakemake_s": wall,
        "in_process_s": inproc,
        "overhead_per_job_s": (wall - inproc) / jobs,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--runs-per-job", type=int, default=20)
    p.add_argument(
        "--local-cells", type=int, default=4, help="δ values of the local run (× 2 acts)"
    )
    args = p.parse_args(argv)
    cfg = {
        "sweep": {
            "seeds": args.seeds,
            "deltas": [round(0.05 * i, 2) for i in range(21)],
            "sigmas": [0.0, 0.1, 0.2, 0.3],
            "activations": ["tanh", "relu"],
            "readouts": ["uniform", "sphere", "balanced"],
        },
        "training": {"epochs": 5000, "runs_per_job": args.runs_per_job},
    }
    runs = 21 * 4 * 2 * 3 * args.seeds
    with tempfile.TemporaryDirectory() as d:
        dry, out = timed_snakemake(d, cfg, "-n", "--quiet", "rules")
    jobs = int(re.search(r"^total\s+(\d+)", out, re.M).group(1))
    result = {"runs": runs, "jobs": jobs, "runs_per_job": args.runs_per_job, "dry_run_s": dry}
    print(f"{'runs':>7} {'jobs':>6} {'runs/job':>9} {'snakemake -n (s)':>17}")
    print(f"{runs:>7} {jobs:>6} {args.runs_per_job:>9} {dry:>17.1f}")
    local = local_overhead(args.local_cells)
    print(
        f"\n{'train+eval jobs':>16} {'snakemake s':>12} {'in-process s':>13} {'overhead/job s':>15}"
    )
    print(
        f"{local['train_eval_jobs']:>16} {local['snakemake_s']:>12.1f} "
        f"{local['in_process_s']:>13.1f} {local['overhead_per_job_s']:>15.2f}"
    )
    print(
        "(the Snakemake run also aggregates and draws the figures; their time counts as overhead)"
    )
    result["local"] = local
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
