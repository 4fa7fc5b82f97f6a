"""Command line: ``python -m repgeom headline [results_dir]``.

Prints, for each δ, the final target and input alignment of tanh and relu networks
(mean ± s.e.m. over seeds) from ``results/metrics.parquet``, and the run count and training
wall time recorded in the runs' metadata.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def headline(results: Path) -> str:
    from . import storage

    df = pd.read_parquet(results / "metrics.parquet")
    final = df[df["epoch"] == df["epoch"].max()]
    rows = []
    for (sigma, readout, delta), cell in final.groupby(
        ["sigma", "readout", "delta"], observed=True
    ):
        row = {"sigma": sigma, "readout": readout, "delta": delta}
        for act, sub in cell.groupby("act", observed=True):
            for col, short in (("target_alignment", "TA"), ("input_alignment", "IA")):
                m, s = sub[col].mean(), sub[col].std() / len(sub) ** 0.5
                row[f"{act} {short}"] = f"{m:.3f} ± {s:.3f}"
            row["n"] = len(sub)
        rows.append(row)
    table = pd.DataFrame(rows)
    weights = storage.run_files(results, "weights.parquet")
    seen, train_s = set(), 0.0
    for f in weights:  # batches share one wall time: count each batch once
        out = storage.read_metadata(f)["training_outcome"]
        key = (Path(f).parent.parent, out["train_wall_s"])
        if key not in seen:
            seen.add(key)
            train_s += out["train_wall_s"]
    lines = [
        f"{len(weights)} runs in {len(seen)} training batches; "
        f"summed training time {train_s:.1f} s",
        "Final-epoch alignment, mean ± s.e.m. over seeds (TA: target, IA: input):",
        table.to_string(index=False),
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m repgeom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    h = sub.add_parser("headline", help="tanh vs relu target and input alignment at each δ")
    h.add_argument("results", nargs="?", default="results", type=Path)
    args = parser.parse_args(argv)
    if not (args.results / "metrics.parquet").exists():
        print(
            f"error: {args.results / 'metrics.parquet'} not found; run the workflow first",
            file=sys.stderr,
        )
        return 2
    print(headline(args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
