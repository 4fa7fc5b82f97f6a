"""Bytes on disk of one run's trajectories.parquet at the Fig. 1 sizes (E1: 1001 saved
snapshots × 120 hidden neurons), measured rather than guessed.

    python benchmarks/trajectory_size.py [--epochs 1000] [--every 1] [--n-train 1000]
    python benchmarks/trajectory_size.py --epochs 100 --every 1   # smoke test

Trains one tanh and one relu run of the unstructured family with its defaults (the paper's
network: D = 200, width 120) and SGD, saving weights every ``every`` epochs, then writes each
run's trajectories file exactly as the evaluation job does (zstd, the run's metadata) and prints
its size. 1000 epochs saved every epoch give the 1001 snapshots of configs/fig1_mechanism.yaml
(10 000 epochs every 10) in a fraction of its time: the file's size depends on the number of
rows and the entropy of the float32 coordinates, not on which epochs they were saved at.
Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from repgeom import storage
from repgeom.config import load_schema, validate
from repgeom.jobs.evaluate import trajectories_table
from repgeom.jobs.train import train_block
from repgeom.sweep import Sweep
from repgeom.tasks import build_task

ROOT = Path(__file__).parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--n-train", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        exp = {
            "family": "unstructured",
            "seeds": 1,
            "activations": ["tanh", "relu"],
            "task": {"n_train": args.n_train, "n_test": 100},
            "training": {
                "epochs": args.epochs,
                "snapshots": {"schedule": "linear", "every": args.every},
                "conv_tol": 0,  # no early stop: every snapshot is a distinct one
            },
        }
        cfg = {"results_dir": tmp, "experiments": {"size": exp}}
        schema = load_schema(ROOT / "workflow/schemas/config.schema.yaml")
        sweep = Sweep(validate(cfg, schema)).experiments["size"]
        rows, out = [], {}
        for cell in sweep.job_cells():
            [run] = sweep.block_configs(cell, sweep.blocks[0])
            base = sweep.run_file(cell, 0, "")
            train_block([run], [base + "weights.parquet"], [base + "loss.parquet"], device="cpu")
            epochs, params = storage.read_weights(base + "weights.parquet")
            meta = storage.read_metadata(base + "weights.parquet")
            table = trajectories_table(build_task(run["task"]), epochs, params)
            path = Path(base + "trajectories.parquet")
            storage.write_parquet(table, path, {"config": meta["config"]})
            size = path.stat().st_size
            raw = table.nbytes
            rows.append((cell["act"], len(epochs), params["W"].shape[1], len(table), size, raw))
            out[cell["act"]] = {"snapshots": len(epochs), "rows": len(table), "bytes": size}
    print(f"{'act':<6}{'snapshots':>10}{'neurons':>9}{'rows':>9}{'bytes':>11}{'B/row':>7}"
          f"{'raw bytes':>11}")  # fmt: skip
    for act, s, n, r, b, raw in rows:
        print(f"{act:<6}{s:>10}{n:>9}{r:>9}{b:>11}{b / r:>7.2f}{raw:>11}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
