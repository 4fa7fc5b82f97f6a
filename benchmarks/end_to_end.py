"""End to end (training + metrics) of the project's pipeline against the naive reference.

    python benchmarks/end_to_end.py [--epochs 60] [--seeds 4] [--log-every 10]

Both do the same E2 work: the same runs (tanh and relu, δ ∈ {0.25, 0.75}, σ = 0.1, paper sizes),
epochs and logged points (every ``log-every`` epochs). The pipeline runs as the workflow does
(``train_block`` then ``evaluate_block`` per cell, Parquet files included, Snakemake's own
start-up excluded); the reference trains one network at a time with metrics inline
(benchmarks/naive_reference.py). The metrics must agree (alignments and PS within 1e-3,
accuracies within 0.02); the script prints the speed ratio as a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from naive_reference import train_and_log  # noqa: E402

from repgeom.config import load_schema, validate  # noqa: E402
from repgeom.evaluation import METRIC_COLUMNS  # noqa: E402
from repgeom.pipeline import eval_settings, evaluate_block, train_block  # noqa: E402
from repgeom.sweep import Sweep  # noqa: E402

ROOT = Path(__file__).parents[1]
ACCURACY_TOL, ALIGNMENT_TOL = 0.02, 1e-3


def workload(root: str, epochs: int, seeds: int, log_every: int) -> Sweep:
    cfg = {
        "results_dir": root,
        "sweep": {
            "seeds": seeds,
            "deltas": [0.25, 0.75],
            "sigmas": [0.1],
            "activations": ["tanh", "relu"],
        },
        "training": {
            "epochs": epochs,
            "conv_tol": 0.0,
            "runs_per_job": seeds,
            "snapshots": {"schedule": "linear", "every": log_every},
        },
    }
    return Sweep(validate(cfg, load_schema(ROOT / "workflow/schemas/config.schema.yaml")))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for both")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as root:
        sw = workload(root, args.epochs, args.seeds, args.log_every)
        ecfg = sw.config["evaluation"]
        t0 = time.perf_counter()
        for cell in sw.cells:
            cfgs = [sw.run_config(cell, s) for s in sw.seeds]
            files = {
                k: [sw.run_file(cell, s, f"{k}.parquet") for s in sw.seeds]
                for k in ("weights", "loss", "metrics")
            }
            train_block(cfgs, files["weights"], files["loss"], device="cpu", progress_every_s=1e9)
            evaluate_block(files["weights"], files["metrics"], ecfg)
        ours_s = time.perf_counter() - t0
        ours = {
            (c["act"], c["delta"], s): pd.read_parquet(sw.run_file(c, s, "metrics.parquet"))
            for c in sw.cells
            for s in sw.seeds
        }

        t0 = time.perf_counter()
        naive = {
            (c["act"], c["delta"], s): train_and_log(
                sw.run_config(c, s), args.log_every, eval_settings(ecfg)
            )
            for c in sw.cells
            for s in sw.seeds
        }
        naive_s = time.perf_counter() - t0

    worst = {}
    for key, df in ours.items():
        assert list(df["epoch"]) == list(naive[key]["epoch"]), "logged points differ"
        for col in METRIC_COLUMNS:
            worst[col] = max(
                worst.get(col, 0.0), float(np.nanmax(np.abs(df[col].to_numpy() - naive[key][col])))
            )
    acc_cols = [
        c for c in METRIC_COLUMNS if c.startswith(("ccgp", "decoding", "shattering", "test_acc"))
    ]
    align_cols = [c for c in METRIC_COLUMNS if c.endswith("alignment") or c.startswith("ps_")]
    agree = all(worst[c] <= ACCURACY_TOL for c in acc_cols) and all(
        worst[c] <= ALIGNMENT_TOL for c in align_cols
    )
    runs, points = len(ours), len(next(iter(ours.values())))
    result = {
        "runs": runs,
        "epochs": args.epochs,
        "logged_points": points,
        "naive_s": naive_s,
        "pipeline_s": ours_s,
        "speedup": naive_s / ours_s,
        "max_abs_diff_accuracies": max(worst[c] for c in acc_cols),
        "max_abs_diff_alignments_ps": max(worst[c] for c in align_cols),
        "agree": agree,
    }
    print(
        f"{'runs':>5} {'epochs':>7} {'points':>7} {'naive s':>8} {'pipeline s':>11} {'speedup':>8} "
        f"{'max Δacc':>9} {'max Δalign/PS':>14} {'agree':>6}"
    )
    r = result
    print(
        f"{runs:>5} {args.epochs:>7} {points:>7} {naive_s:>8.1f} {ours_s:>11.1f} "
        f"{r['speedup']:>8.2f} {r['max_abs_diff_accuracies']:>9.4f} "
        f"{r['max_abs_diff_alignments_ps']:>14.2e} {str(agree):>6}"
    )
    print(json.dumps(result))
    if not agree:
        print(
            "metrics disagree beyond tolerance:",
            {k: v for k, v in worst.items() if v > 0},
            file=sys.stderr,
        )
        sys.exit(1)
    return result


if __name__ == "__main__":
    main()
