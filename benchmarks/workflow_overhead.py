"""Snakemake's planning cost at the paper's full δ-task grid.

    python benchmarks/workflow_overhead.py [--seeds 20] [--runs-per-job 20]

Writes the paper's grid (21 δ × 4 σ × 2 activations × 3 readouts × seeds) into a temporary
folder and times ``snakemake -n`` there (no results exist, so every job is planned).
Prints a table and a JSON line.
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


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--runs-per-job", type=int, default=20)
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
        (Path(d) / "config.yaml").write_text(yaml.safe_dump(cfg))
        cmd = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(ROOT / "Snakefile"),
            "-d",
            d,
            "-n",
            "--quiet",
            "rules",
        ]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        dry = time.perf_counter() - t0
    jobs = int(re.search(r"^total\s+(\d+)", out, re.M).group(1))
    result = {"runs": runs, "jobs": jobs, "runs_per_job": args.runs_per_job, "dry_run_s": dry}
    print(f"{'runs':>7} {'jobs':>6} {'runs/job':>9} {'snakemake -n (s)':>17}")
    print(f"{runs:>7} {jobs:>6} {args.runs_per_job:>9} {dry:>17.1f}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
