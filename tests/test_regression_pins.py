"""E2 and E3 results pinned at a size where training details matter.

The tiny workflow sweep's regression test cannot see a change of minibatch order or of the
optimiser's arithmetic (its batch is the whole training set, 20 epochs, width 8). These cases
train with several minibatches per epoch, 100+ epochs and the paper's widths, through the job
steps a workflow runs (configuration → sweep → training job → evaluation job), and compare with
``tests/data/pinned_e2_e3.csv``, written before networks, losses and optimisers became
registries. Regenerate (only for an intended change of results) with::

    python tests/test_regression_pins.py --write
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PINNED = ROOT / "tests/data/pinned_e2_e3.csv"

EXPERIMENTS = {
    "e2": {
        "family": "delta",
        "seeds": [0, 1],
        "activations": ["tanh", "relu"],
        "axes": {"delta": [0.5], "sigma": [0.1]},
        "task": {"n_train": 1000, "n_test": 200},
        "model": {"width": 120},
        "training": {"epochs": 120, "batch_size": 200, "snapshots": {"count": 4}},
    },
    "e3": {
        "family": "alignment",
        "seeds": [0, 1],
        "activations": ["tanh", "relu"],
        "axes": {"d": [3], "k": [1], "kernel": ["maxdim"], "alignments": 2, "align": [1]},
        "task": {"n_train": 320, "n_test": 200},
        "model": {"width": 128},
        "training": {"epochs": 100, "batch_size": 64, "snapshots": {"count": 3}},
    },
}
METRICS = ["train_loss", "test_loss", "input_alignment", "target_alignment", "weight_norm"]


def pinned_frame(tmp: Path) -> pd.DataFrame:
    """Train and evaluate every pinned run; one row per run and snapshot: run keys, the
    primary analysis's metrics and the L2 norm of every saved parameter array."""
    from repgeom import storage
    from repgeom.config import load_schema, validate
    from repgeom.pipeline import evaluate_block, train_block
    from repgeom.sweep import Sweep

    cfg = validate(
        {"results_dir": str(tmp), "experiments": EXPERIMENTS, "training": {"device": "cpu"}},
        load_schema(ROOT / "workflow/schemas/config.schema.yaml"),
    )
    rows = []
    for name, exp in Sweep(cfg).experiments.items():
        for cell in exp.cells:
            runs = [exp.run_config(cell, s) for s in exp.seeds]
            base = tmp / name / exp.cell_dir(cell)
            paths = [base / f"seed={s}" for s in exp.seeds]
            train_block(
                runs,
                [str(p / "weights.parquet") for p in paths],
                [str(p / "loss.parquet") for p in paths],
                device="cpu",
            )
            evaluate_block(
                [str(p / "weights.parquet") for p in paths],
                [str(p / "metrics.parquet") for p in paths],
                [str(p / "dichotomies.parquet") for p in paths],
                exp.cfg["evaluation"],
            )
            for run, p in zip(runs, paths, strict=True):
                m = pd.read_parquet(p / "metrics.parquet")
                m = m[(m["decoder"] == m["decoder"].iloc[0]) & (m["protocol"] == "clean")]
                epochs, params = storage.read_weights(str(p / "weights.parquet"))
                norms = {
                    f"norm_{k}": np.linalg.norm(v.reshape(len(v), -1).astype(np.float64), axis=1)
                    for k, v in params.items()
                }
                snaps = pd.DataFrame({"epoch": epochs} | norms)
                m = m[["epoch", *METRICS]].merge(snaps, on="epoch")
                m.insert(0, "seed", run["run"]["seed"])
                m.insert(0, "act", run["run"]["act"])
                m.insert(0, "experiment", name)
                rows.append(m)
    return pd.concat(rows, ignore_index=True)


def test_e2_e3_results_unchanged(tmp_path):
    want = pd.read_csv(PINNED)
    got = pinned_frame(tmp_path)
    keys = ["experiment", "act", "seed", "epoch"]
    got = got.sort_values(keys).reset_index(drop=True)
    want = want.sort_values(keys).reset_index(drop=True)
    assert len(want) >= 20 and want["epoch"].max() >= 100
    pd.testing.assert_frame_equal(
        got[want.columns], want, check_dtype=False, check_exact=False, rtol=1e-6, atol=1e-7
    )


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        frame = pinned_frame(Path(d))
    frame.to_csv(PINNED, index=False, float_format="%.9g")
    print(f"wrote {PINNED} ({len(frame)} rows)")
