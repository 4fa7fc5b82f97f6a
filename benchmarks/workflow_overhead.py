"""Snakemake's own costs: planning the paper's full grids, and per-job overhead locally.

    python benchmarks/workflow_overhead.py [--seeds 20] [--runs-per-job 20] [--local-cells 4]
    python benchmarks/workflow_overhead.py --quick   # smoke test: 2-seed E2 grid, no union, 1 cell

1. Writes the paper's δ-task grid (E2: 21 δ × 4 σ × 2 activations × 3 readouts × seeds, one
   experiment built here) into a temporary folder as config.yaml and times ``snakemake -n``
   there (no results exist, so every job is planned).
2. Does the same for the paper's full E2 + E3 + E6 grids together: one configuration whose
   experiments are the union of those in configs/fig2_3_delta.yaml, configs/fig4_alignment.yaml
   and configs/fig5_ablation.yaml, read from those files (so it follows them). The target is
   ≤ 30 s.
3. Runs a tiny δ-task sweep (``--local-cells`` δ values × 2 activations, 1 seed, tiny networks)
   with ``snakemake --cores 1`` and, in the same run, the same training and evaluation
   in-process; the difference per job is Snakemake's overhead (start-up of each job's Python,
   torch import, bookkeeping).

Every Snakemake call uses the project's Snakefile (``-s <repo>/Snakefile -d <tmpdir>``), which
reads config.yaml from its working directory. Prints tables and a JSON line.
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
#: the paper-scale configurations whose experiments make the union grid (E2, E3, E6)
PAPER_CONFIGS = ("fig2_3_delta.yaml", "fig4_alignment.yaml", "fig5_ablation.yaml")


def timed_snakemake(workdir: str, cfg: dict, *args: str) -> tuple[float, str]:
    """Run the project's Snakefile in ``workdir`` with ``cfg`` as its config.yaml.

    Returns (wall seconds, stdout).
    """
    (Path(workdir) / "config.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", workdir, *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return seconds, proc.stdout


def n_runs(cfg: dict) -> int:
    """Runs of a configuration, from the project's own sweep expansion."""
    from repgeom.config import load_schema, validate
    from repgeom.sweep import Sweep

    schema = load_schema(ROOT / "workflow/schemas/config.schema.yaml")
    return Sweep(validate(cfg | {"results_dir": "results"}, schema)).n_runs


def union_config(files=PAPER_CONFIGS) -> dict:
    """One configuration holding every experiment of ``configs/<files>``.

    A file's top-level shared sections (training, model, …) go under each of its own
    experiments, where they rank below the experiment's settings as they do in that file.
    """
    from repgeom.config import SHARED_SECTIONS, deep_merge

    experiments: dict = {}
    for name in files:
        cfg = yaml.safe_load((ROOT / "configs" / name).read_text())
        extra = set(cfg) - {"experiments", "results_dir", "resources", *SHARED_SECTIONS}
        if extra:
            raise ValueError(f"configs/{name}: cannot merge top-level keys {sorted(extra)}")
        shared = {k: cfg[k] for k in SHARED_SECTIONS if k in cfg}
        for exp, body in cfg["experiments"].items():
            if exp in experiments:
                raise ValueError(f"experiment {exp!r} is in more than one of {files}")
            experiments[exp] = deep_merge(shared, body)
    return {"experiments": experiments}


def dry_run(cfg: dict) -> dict:
    """Time ``snakemake -n`` on ``cfg`` in a fresh folder; runs, jobs and training jobs."""
    with tempfile.TemporaryDirectory() as d:
        seconds, out = timed_snakemake(d, cfg, "-n", "--quiet", "rules")
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+(\d+)\s*$", out, re.M)}
    return {
        "runs": n_runs(cfg),
        "jobs": counts.pop("total"),
        "train_jobs": sum(v for k, v in counts.items() if k.startswith("train_")),
        "dry_run_s": seconds,
    }


def e2_grid(seeds: int, runs_per_job: int) -> dict:
    """The paper's δ-task grid as one experiment, as this benchmark has always timed it."""
    return {
        "experiments": {
            "delta": {
                "family": "delta",
                "seeds": seeds,
                "activations": ["tanh", "relu"],
                "readouts": ["uniform", "sphere", "balanced"],
                "axes": {
                    "delta": [round(0.05 * i, 2) for i in range(21)],
                    "sigma": [0.0, 0.1, 0.2, 0.3],
                },
                "training": {"runs_per_job": runs_per_job},
            }
        },
        "training": {"epochs": 5000},
    }


TINY = {
    "model": {"width": 8},
    "training": {"epochs": 5, "snapshots": {"count": 3}},
    "figures": {"formats": ["png"]},
}


def local_overhead(cells: int) -> dict:
    """Wall time of a tiny local Snakemake run against the same work done in-process."""
    from repgeom.config import load_schema, validate
    from repgeom.pipeline import evaluate_block, train_block
    from repgeom.sweep import Sweep

    experiments = {
        "delta": {
            "family": "delta",
            "seeds": 1,
            "activations": ["tanh", "relu"],
            "axes": {"delta": [round(0.1 * i, 1) for i in range(cells)], "sigma": [0.1]},
            "task": {"dim": 12, "n_train": 200, "n_test": 100},
        }
    }
    with tempfile.TemporaryDirectory() as d:
        cfg = TINY | {"experiments": experiments, "results_dir": f"{d}/inproc"}
        schema = load_schema(ROOT / "workflow/schemas/config.schema.yaml")
        exp = Sweep(validate(cfg, schema)).experiments["delta"]
        t0 = time.perf_counter()
        for cell in exp.cells:
            files = {
                k: [exp.run_file(cell, 0, f"{k}.parquet")]
                for k in ("weights", "loss", "metrics", "dichotomies")
            }
            train_block([exp.run_config(cell, 0)], files["weights"], files["loss"], "cpu", 1e9)
            evaluate_block(
                files["weights"], files["metrics"], files["dichotomies"], exp.cfg["evaluation"]
            )
        inproc = time.perf_counter() - t0

        wall, _ = timed_snakemake(
            d, TINY | {"experiments": experiments}, "--cores", "1", "--quiet", "all"
        )
    jobs = 2 * len(exp.cells)  # train + evaluate per cell; aggregate and figures are extra work
    return {
        "cells": len(exp.cells),
        "train_eval_jobs": jobs,
        "snakemake_s": wall,
        "in_process_s": inproc,
        "overhead_per_job_s": (wall - inproc) / jobs,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20, help="seeds of the E2 grid")
    p.add_argument("--runs-per-job", type=int, default=20, help="runs_per_job of the E2 grid")
    p.add_argument(
        "--local-cells", type=int, default=4, help="δ values of the local run (× 2 acts)"
    )
    p.add_argument("--no-union", action="store_true", help="skip the E2 + E3 + E6 union grid")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: --seeds 2 --runs-per-job 2 --local-cells 1 --no-union",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.runs_per_job, args.local_cells, args.no_union = 2, 2, 1, True

    grids = [("E2 (δ-task)", e2_grid(args.seeds, args.runs_per_job))]
    if not args.no_union:
        grids.append(("E2+E3+E6 (configs/ union)", union_config()))
    rows = [{"grid": name} | dry_run(cfg) for name, cfg in grids]
    print(f"{'grid':<26} {'runs':>7} {'jobs':>6} {'train jobs':>11} {'snakemake -n (s)':>17}")
    for r in rows:
        print(
            f"{r['grid']:<26} {r['runs']:>7} {r['jobs']:>6} {r['train_jobs']:>11} "
            f"{r['dry_run_s']:>17.1f}"
        )
    e2 = rows[0]
    result = {
        "runs": e2["runs"],
        "jobs": e2["jobs"],
        "runs_per_job": args.runs_per_job,
        "dry_run_s": e2["dry_run_s"],
        "grids": rows,
    }
    if not args.no_union:
        result["union_configs"] = [f"configs/{f}" for f in PAPER_CONFIGS]
        result["union_within_30s"] = rows[-1]["dry_run_s"] <= 30

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
