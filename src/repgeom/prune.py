"""What lies in the configured experiments' folders that the sweep no longer makes: runs and
jobs of earlier configurations, checkpoints of jobs that will never resume, and temporaries of
killed writers. ``python -m repgeom prune`` lists them and, with ``--delete``, removes them.

Experiment folders under ``results_dir`` that the configuration does not name are listed apart
and removed only on request (``--other-experiments``): several configurations may share one
``results_dir`` (``config.yaml`` and ``configs/*.yaml`` do). Only folders that repgeom made
(with an experiment manifest or job manifests) count as experiments; nothing else is touched.

The workflow's own tables and readers never mix these in (they follow the manifests); they only
take disk space and confuse a glob over ``runs/``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .config import deep_merge, load_schema, validate
from .storage import EXPERIMENT_MANIFEST
from .sweep import Experiment, Sweep, checkpoint_path

SCHEMA = Path(__file__).parents[2] / "workflow/schemas/config.schema.yaml"


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

    runs: list[Path] = field(default_factory=list)
    jobs: list[Path] = field(default_factory=list)
    temporaries: list[Path] = field(default_factory=list)
    #: experiments the configuration does not name (perhaps another configuration's)
    other_experiments: list[Path] = field(default_factory=list)

    def items(self, other_experiments: bool = True):
        kinds = {
            "run folders": self.runs,
            "job manifests and checkpoints": self.jobs,
            "temporaries of killed writers": self.temporaries,
        }
        if other_experiments:
            kinds["experiment folders this configuration does not name"] = self.other_experiments
        return kinds.items()

    def __len__(self) -> int:
        """Paths of the configured experiments (other experiments not counted)."""
        return sum(len(v) for _, v in self.items(other_experiments=False))


def _expected_runs(exp: Experiment) -> set[Path]:
    return {
        Path(exp.run_file(cell, seed, "x")).parent.resolve()
        for cell in exp.cells
        for seed in exp.seeds
    }


def _expected_jobs(exp: Experiment) -> set[Path]:
    """The sweep's job manifests, and the checkpoints of its unfinished training jobs."""
    out = set()
    for stage in ("train", "evaluate"):
        for m in exp.all_manifests(stage):
            out.add(Path(m).resolve())
            if stage == "train" and not Path(m).exists():
                out.add(Path(checkpoint_path(m)).resolve())
    return out


def _made_by_repgeom(d: Path) -> bool:
    return (d / EXPERIMENT_MANIFEST).is_file() or any((d / "jobs").rglob("block*.train.json"))


def find_stale(sweep: Sweep) -> Stale:
    """What the sweep's experiment folders hold that the sweep does not make, and the other
    experiment folders under its results folder."""
    root = Path(sweep.root)
    stale = Stale()
    if not root.is_dir():
        return stale
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        exp = sweep.experiments.get(d.name)
        if exp is None:
            if _made_by_repgeom(d):
                stale.other_experiments.append(d)
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
        stale.temporaries += sorted(p for p in d.rglob(".*.tmp-*") if p.is_file())
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
    for kind, paths in stale.items(other_experiments=True):
        if not paths:
            continue
        lines.append(f"{len(paths)} {kind} ({_human(sum(_size(p) for p in paths))}):")
        lines += [f"  {p}" for p in paths[:shown]]
        if len(paths) > shown:
            lines.append(f"  … and {len(paths) - shown} more")
    return "\n".join(lines)


def delete(stale: Stale, other_experiments: bool = False) -> int:
    """Remove ``stale`` (other experiments only if asked), then the folders this leaves empty
    under ``runs/`` and ``jobs/``; returns the number of paths removed."""
    n = 0
    for _, paths in stale.items(other_experiments):
        n += len(paths)
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
    return n
