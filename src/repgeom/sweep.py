"""Expansion of the configured sweep into runs, training batches and result paths.

Pure Python: the Snakefile imports this on every parse (also inside every cluster job), so it
must stay cheap (no torch, no NumPy, no file-system scans).

A *cell* is one point of the sweep without the seed (task, arch, act, readout, sigma, delta).
Seeds of a cell are packed into training batches by block: seed s belongs to block
s // runs_per_job. Blocks depend only on the seed values, so adding seeds leaves complete
blocks untouched and retrains at most one partially filled block per cell.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

#: hive partition keys of a run, in path order, with their value types
RUN_KEYS = ("task", "arch", "act", "readout", "sigma", "delta", "seed")
CELL_KEYS = RUN_KEYS[:-1]
KEY_TYPES = {
    "task": "string",
    "arch": "string",
    "act": "string",
    "readout": "string",
    "sigma": "float64",
    "delta": "float64",
    "seed": "int64",
}
_AXES = {
    "task": "tasks",
    "arch": "architectures",
    "act": "activations",
    "readout": "readouts",
    "sigma": "sigmas",
    "delta": "deltas",
}


def fmt_float(x) -> str:
    """One canonical spelling of a float for paths: shortest round-trip digits, positional.

    0.1, 1e-1 and 0.10 all give '0.1'; 1 gives '1.0'; 1e-05 gives '0.00001'.
    """
    s = format(Decimal(repr(float(x))), "f")
    return s if "." in s else s + ".0"


def seed_list(seeds) -> list[int]:
    """``seeds`` as a sorted list: an integer n means 0..n-1."""
    return list(range(seeds)) if isinstance(seeds, int) else sorted(set(int(s) for s in seeds))


@dataclass(frozen=True)
class Block:
    """A training batch: the seeds of one block, shared by every cell."""

    index: int
    seeds: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"block{self.index}"


class Sweep:
    """The runs a validated configuration asks for."""

    def __init__(self, config: dict):
        self.config = config
        self.root = config["results_dir"].rstrip("/")
        s = config["sweep"]
        self.seeds = seed_list(s["seeds"])
        self.axes = {
            k: [fmt_float(v) for v in s[a]] if KEY_TYPES[k] == "float64" else list(s[a])
            for k, a in _AXES.items()
        }
        for k, vals in self.axes.items():  # 0.1 and 0.10 are one value
            self.axes[k] = list(dict.fromkeys(vals))

    def figure_errors(self) -> list[str]:
        """Figure settings that name values the sweep does not have (checked at parse time,
        so a typo stops the workflow before training rather than at the figures job)."""
        f, errors = self.config["figures"], []
        wanted = {
            "sigma": ("sigma", f["sigma"]),
            "readout": ("readout", f["readout"]),
            "arch": ("arch", f["arch"]),
            "training_delta": ("delta", f["training_delta"]),
        }
        for key, (axis, value) in wanted.items():
            if value is None:
                continue
            if KEY_TYPES[axis] == "float64":
                value = fmt_float(value)
            if value not in self.axes[axis]:
                errors.append(
                    f"config key 'figures.{key}': {value} is not in the sweep; "
                    f"allowed: {', '.join(self.axes[axis])} (or null)"
                )
        return errors

    # -- structure ---------------------------------------------------------------------
    @property
    def cells(self) -> list[dict]:
        keys = list(CELL_KEYS)
        return [
            dict(zip(keys, vals, strict=True))
            for vals in itertools.product(*(self.axes[k] for k in keys))
        ]

    @property
    def blocks(self) -> list[Block]:
        size = self.config["training"]["runs_per_job"]
        by = {}
        for s in self.seeds:
            by.setdefault(s // size, []).append(s)
        return [Block(i, tuple(v)) for i, v in sorted(by.items())]

    @property
    def n_runs(self) -> int:
        return len(self.cells) * len(self.seeds)

    # -- paths -------------------------------------------------------------------------
    def cell_dir(self, cell) -> str:
        return "/".join([self.root + "/runs"] + [f"{k}={cell[k]}" for k in CELL_KEYS])

    def cell_pattern(self) -> str:
        """The cell directory with Snakemake wildcards."""
        return self.cell_dir({k: "{" + k + "}" for k in CELL_KEYS})

    def run_file(self, cell, seed: int, name: str) -> str:
        return f"{self.cell_dir(cell)}/seed={seed}/{name}"

    def all_run_files(self, name: str) -> list[str]:
        return [self.run_file(c, s, name) for c in self.cells for s in self.seeds]

    # -- resolved run configuration ------------------------------------------------------
    def run_config(self, cell, seed: int) -> dict:
        """The full configuration of one run, as stored in its parquet metadata.

        Holds only what determines the trained weights (no progress or device settings),
        so Snakemake's params trigger retrains exactly when results would change.
        """
        c = self.config
        t, tr = c["task"], c["training"]
        data_seed = seed if t["data_seed"] is None else t["data_seed"]
        return {
            "run": {k: cell[k] for k in CELL_KEYS} | {"seed": seed},
            "task": {
                "family": cell["task"],
                "delta": float(cell["delta"]),
                "sigma": float(cell["sigma"]),
                "dim": t["dim"],
                "task_seed": t["task_seed"],
                "data_seed": data_seed,
                "n_train": t["n_train"],
                "n_test": t["n_test"],
            },
            "model": {
                "arch": cell["arch"],
                "activation": cell["act"],
                "width": c["model"]["width"],
                "readout": cell["readout"],
                "init_seed": seed,
            },
            "training": {k: tr[k] for k in ("epochs", "lr", "batch_size", "conv_tol", "snapshots")}
            | {"shuffle_seed": seed},
        }

    def block_configs(self, wildcards, block: Block) -> list[dict]:
        cell = {k: wildcards[k] for k in CELL_KEYS}
        return [self.run_config(cell, s) for s in block.seeds]
