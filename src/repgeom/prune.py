"""What lies under ``results_dir`` that the configured sweep no longer makes: runs and jobs of
earlier configurations, experiments since removed from it, checkpoints of jobs that will never
resume, and temporaries of killed writers. ``python -m repgeom prune`` lists them and, with
``--delete``, removes them.

The workflow's own outputs and readers never mix these in (they follow the manifests); they only
take disk space and confuse a glob over ``runs/``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .config import deep_merge, load_schema, validate
from .storage import EXPERIMENT_MANIFEST
from .sweep import Experiment, Sweep

SCHEMA = Path(__file__).parents[2] / "workflow/schemas/config.schema.yaml"
CHECKPOINT_SUFFIX = ".checkpoint.npz"


def load_config(configfiles: list[str | Path]) -> dict:
    """The validated configuration as the Snakefile sees it: the given files merged in order,
    or ``config.yaml`` when none is given."""
    files = [Path(f) for f in configfiles] or [Path("config.yaml")]
    raw: dict = {}
    for f in files:
        raw = deep_merge(raw, yaml.safe_load(f.read_text()) or {})
    return validate(raw, load_schema(SCHEMA))


@dataclass
class Stale:
    """Paths not made by the configured sweep, by kind."""

    experiments: list[Path] = field(default_factory=list)
    runs: list[Path] = field(default_factory=list)
    jobs: list[Path] = field(default_factory=list)
    temporaries: list[Path] = field(default_factory=list)

    def items(self):
        return {
            "experiment folders": self.experiments,
            "run folders": self.runs,
            "job manifests and checkpoints": self.jobs,
            "temporaries of killed writers": self.temporaries,
        }.items()

    def __len__(self) -> int:
        return sum(len(v) for _, v in self.items())


def _expected_runs(exp: Experiment) -> set[Path]:
    return {
        Path(exp.run_file(cell, seed, "x")).parent.resolve()
        for cell in exp.cells
        for seed in exp.seeds
    }


def _expected_jobs(exp: Experiment) -> set[Path]:
    out = set()
    for stage in ("train", "evaluate"):
        for m in exp.all_manifests(stage):
            out.add(Path(m).resolve())
            out.add(Path(m.removesuffix(".json") + CHECKPOINT_SUFFIX).resolve())
    return out


def find_stale(sweep: Sweep) -> Stale:
    """Everything under the sweep's results folder that the sweep does not make."""
    root = Path(sweep.root)
    stale = Stale()
    if not root.is_dir():
        return stale
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        exp = sweep.experiments.get(d.name)
        if exp is None:
            if (d / "runs").is_dir() or (d / "jobs").is_dir() or (d / EXPERIMENT_MANIFEST).exists():
                stale.experiments.append(d)
            continue
        runs = _expected_runs(exp)
        stale.runs += sorted(
            p for p in (d / "runs").rglob("seed=*") if p.is_dir() and p.resolve() not in runs
        )
        jobs = _expected_jobs(exp)
        stale.jobs += sorted(
            p
            for p in (d / "jobs").rglob("block*")
            if p.is_file() and ".tmp-" not in p.name and p.resolve() not in jobs
        )
    stale.temporaries = sorted(
        p
        for p in root.rglob(".*.tmp-*")
        if p.is_file() and not any(p.is_relative_to(e) for e in stale.experiments)
    )
    return stale


def _size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def report(stale: Stale, shown: int = 5) -> str:
    """A listing of ``stale``: counts and sizes per kind, the first ``shown`` paths of each."""
    lines = []
    for kind, paths in stale.items():
        if not paths:
            continue
        lines.append(f"{len(paths)} {kind} ({_human(sum(_size(p) for p in paths))}):")
        lines += [f"  {p}" for p in paths[:shown]]
        if len(paths) > shown:
            lines.append(f"  … and {len(paths) - shown} more")
    return "\n".join(lines)


def delete(stale: Stale) -> None:
    """Remove ``stale``, then the folders that this leaves empty under ``runs/``."""
    for _, paths in stale.items():
        for p in paths:
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink(missing_ok=True)
    for p in stale.runs + stale.jobs:
        parent = p.parent
        while parent.name not in ("runs", "jobs") and parent.exists() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
