"""What lies in the results folder that the configured sweep no longer makes: runs and jobs of
earlier configurations, checkpoints of jobs that will never resume, temporaries of killed
writers, and experiments the configuration does not name. ``python -m repgeom prune`` lists
them and, with ``--delete``, removes them.

Nothing a user made is ever deleted. A file is removed only if repgeom can prove it wrote it:
its exact name is one repgeom writes at that place, and its content says so (a run's Parquet
metadata names the experiment and the run that belong exactly in its folder; a manifest or a
checkpoint carries repgeom's mark; a figure, a claims or headline table, an overview page or a
log is listed in, or named by, such a record). Symbolic links are never followed nor removed.
Folders are removed only once empty; whatever else they hold is left and listed with the
reason. Everything is planned before anything is removed, files are removed one by one, and
each proves itself on its own, so an interrupted prune leaves a tree that the next one finishes.

Experiment folders that the configuration does not name are listed apart and removed only on
request (``--other-experiments``): several configurations may share one ``results_dir``
(``config.yaml`` and ``configs/*.yaml`` do).
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from . import manifests as mf
from .config import load_config_files
from .sweep import Experiment, Sweep, checkpoint_path

RUN_FILES = (
    "weights.parquet",
    "loss.parquet",
    "metrics.parquet",
    "dichotomies.parquet",
    "trajectories.parquet",  # families with trajectories (repgeom.tasks.Family)
)
TABLES = ("metrics.parquet", "dichotomies.parquet", "summary.parquet")
CLAIMS = ("claims.parquet", "claims.tsv", "headline.tsv")
#: the report step's page (workflow/rules/report.smk)
OVERVIEW = "overview.html"
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.tmp-\d+$")
_STAGE_LOG = re.compile(r"^(aggregate|claims|figures|report)\.log$")
_JOB_LOG = re.compile(rf"^[^/]*_block\d+(-{mf.RECIPE_PATTERN})?\.log$")
_FIGURE = re.compile(r"^[a-z_]+\.(png|pdf|svg)$")
#: removal order: what proves a folder is repgeom's (its manifests) goes last, so that a prune
#: interrupted half-way leaves every remaining file provable
_ORDER = ("temporary", "run", "table", "claims", "figure", "log", "checkpoint", "job", "root")


def load_config(configfiles: list[str | Path]) -> dict:
    """The validated configuration as the Snakefile sees it: the given files read strictly and
    merged in order, or ``config.yaml`` when none is given; ConfigError names the problem."""
    return load_config_files([Path(f) for f in configfiles] or [Path("config.yaml")])


@dataclass
class Plan:
    """What ``prune`` would remove, by kind, and what it leaves and why."""

    #: the results folder: nothing above its experiment folders is ever touched
    root: Path = Path(".")
    #: run folder → its files that repgeom wrote, for runs the sweep no longer makes
    runs: dict[Path, list[Path]] = field(default_factory=dict)
    jobs: list[Path] = field(default_factory=list)
    temporaries: list[Path] = field(default_factory=list)
    #: experiment folder → the files of it that repgeom wrote (all of them go)
    other_experiments: dict[Path, list[Path]] = field(default_factory=dict)
    #: (path, why) of what stays in folders that would otherwise go
    left: list[tuple[Path, str]] = field(default_factory=list)

    def files(self, other_experiments: bool = False) -> list[Path]:
        """Every file to remove, in removal order."""
        out = [f for fs in self.runs.values() for f in fs] + self.jobs + self.temporaries
        if other_experiments:
            out += [f for fs in self.other_experiments.values() for f in fs]
        return sorted(set(out), key=lambda p: (_ORDER.index(_kind(p)), str(p)))

    def __len__(self) -> int:
        """Paths of the configured experiments (other experiments not counted)."""
        return len(self.runs) + len(self.jobs) + len(self.temporaries)


# Kept for readers of the old name (the Snakefile's onsuccess).
Stale = Plan


def _kind(p: Path) -> str:
    name = p.name
    if _TEMPORARY.match(name):
        return "temporary"
    if "runs" in p.parts and name in RUN_FILES:
        return "run"
    if mf.CHECKPOINT_NAME.match(name) or mf.LEGACY_CHECKPOINT_NAME.match(name):
        return "checkpoint"
    if mf.JOB_NAME.match(name) or mf.LEGACY_JOB_NAME.match(name) or mf.STAGE_NAME.match(name):
        return "job"
    if name == mf.EXPERIMENT_MANIFEST:
        return "root"
    if name in TABLES:
        return "table"
    if name in CLAIMS or name == OVERVIEW:
        return "claims"
    if p.suffix == ".log":
        return "log"
    return "figure"


# --------------------------------------------------------------------------- proofs


def _json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None


def _run_of(path: Path, experiment: str) -> str | None:
    """The run folder (relative to the experiment folder) that a per-run Parquet file's
    metadata says it belongs to, if repgeom wrote it for ``experiment``."""
    from .storage import read_metadata

    try:
        cfg = read_metadata(path)["config"]
        run = cfg["run"]
        if cfg["experiment"] != experiment or not isinstance(run, dict):
            return None
        return "/".join(["runs"] + [f"{k}={v}" for k, v in run.items()])
    except Exception:  # noqa: BLE001 (unreadable or foreign: not provably ours)
        return None


def _is_our_manifest(path: Path, experiment: str) -> bool:
    doc = _json(path)
    if not isinstance(doc, dict):
        return False
    if doc.get("made_by") == mf.MADE_BY:
        return doc.get("experiment") == experiment
    # format 1 (before recipes): no mark, but this exact structure and a legacy name
    if not isinstance(doc.get("files"), dict) or "schema_version" not in doc:
        return False
    if path.name == mf.EXPERIMENT_MANIFEST:
        return Path(str(doc.get("root", ""))).name == experiment
    return bool(mf.LEGACY_JOB_NAME.match(path.name))


def _is_our_checkpoint(path: Path) -> bool:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            return "fingerprint" in json.loads(str(z["header"]))
    except Exception:  # noqa: BLE001 (unreadable or foreign: not provably ours)
        return False


def _is_our_table(path: Path, experiment: str) -> bool:
    from .storage import read_metadata

    try:
        return read_metadata(path).get("experiment") == experiment
    except Exception:  # noqa: BLE001 (unreadable or foreign: not provably ours)
        return False


def _recorded(exp_dir: Path, experiment: str) -> dict[str, str]:
    """Files (relative to the experiment folder) and their SHA-256 as the experiment's claims
    and figures manifests record them."""
    out = {}
    jobs = exp_dir / "jobs"
    if not jobs.is_dir() or jobs.is_symlink():
        return out
    for m in jobs.iterdir():
        if mf.STAGE_NAME.match(m.name) and m.is_file() and not m.is_symlink():
            doc = _json(m)
            if isinstance(doc, dict) and doc.get("made_by") == mf.MADE_BY:
                if doc.get("experiment") == experiment and isinstance(doc.get("files"), dict):
                    out |= {rel: e.get("sha256") for rel, e in doc["files"].items()}
    return out


def _in_use(exp_dir: Path) -> set[str]:
    """What the experiment's last aggregation reads (relative paths): the job manifests its
    ``manifest.json`` lists, their files, and its own recipe-named records. ``prune`` keeps
    them even when the configuration no longer makes them, until the workflow has run: the
    readers would otherwise find them missing."""
    try:
        doc = mf.experiment_manifest(exp_dir)
    except mf.ManifestError:
        return set()
    out = set()
    for rel in doc["jobs"]:
        out.add(rel)
        job = _json(exp_dir / rel)
        if isinstance(job, dict) and isinstance(job.get("files"), dict):
            out |= set(job["files"])
    agg = doc["recipe"]
    out |= {
        Path(m).relative_to(exp_dir).as_posix()
        for m in (
            mf.stage_manifest(exp_dir, "aggregate", doc.get("made_from")),
            mf.stage_manifest(exp_dir, "claims", mf.claims_recipe(agg)),
        )
    }
    jobs = exp_dir / "jobs"
    if jobs.is_dir():
        for m in jobs.glob("figures-*.json"):
            fig = _json(m)
            if isinstance(fig, dict) and (fig.get("made_from") or {}).get("aggregate") == agg:
                out.add(m.relative_to(exp_dir).as_posix())
    return out


def _keys_segments(parts: tuple[str, ...]) -> list[str] | None:
    """The keys of ``key=value`` folder names, or None if one is not of that form."""
    keys = []
    for part in parts:
        key, eq, _ = part.partition("=")
        if not eq or not key:
            return None
        keys.append(key)
    return keys


# --------------------------------------------------------------------------- planning


@dataclass
class _Expected:
    """What the configured sweep makes in one experiment folder (paths relative to it)."""

    runs: set[str]
    jobs: set[str]
    run_keys: list[str]
    key_names: set[str]


def _expected(exp: Experiment) -> _Expected:
    rel = lambda p: Path(p).relative_to(exp.root).as_posix()  # noqa: E731
    runs = {rel(Path(exp.run_file(c, s, "x")).parent) for c in exp.cells for s in exp.seeds}
    jobs = set()
    for stage in ("train", "evaluate"):
        for m in exp.all_manifests(stage):
            jobs.add(rel(m))
            if stage == "train" and not Path(m).exists():
                jobs.add(rel(checkpoint_path(m)))
    jobs |= {rel(exp.stage_manifest(s)) for s in ("aggregate", "claims", "figures", "report")}
    return _Expected(runs, jobs, list(exp.run_key_types), set(exp.run_key_types))


def _scan(exp_dir: Path, experiment: str, expected: _Expected | None, plan: Plan) -> list[Path]:
    """Plan the removal of what repgeom wrote in one experiment folder and the sweep does not
    make (everything repgeom wrote, when ``expected`` is None: an experiment the configuration
    does not name). Returns the files of other experiments; adds the rest to ``plan``."""
    mine: list[Path] = []  # files of an unnamed experiment
    left: list[tuple[Path, str]] = []
    stale_dirs: set[Path] = set()
    proven_keys = expected.run_keys if expected else None
    recorded = _recorded(exp_dir, experiment) if expected is None else {}
    in_use = _in_use(exp_dir) if expected is not None else set()
    busy = "used by the last aggregation (manifest.json): run the workflow, then prune"
    candidates: list[tuple[Path, str]] = []  # (file, relative path), in walk order
    for dirpath, dirnames, filenames in os.walk(exp_dir, followlinks=False):
        here = Path(dirpath)
        for d in list(dirnames):
            if (here / d).is_symlink():
                dirnames.remove(d)
                rel = (here / d).relative_to(exp_dir)
                if rel.parts[0] in ("runs", "jobs") or expected is None:
                    left.append((here / d, "a symbolic link: prune never follows links"))
        dirnames.sort()
        for f in sorted(filenames):
            p = here / f
            try:
                mode = p.lstat().st_mode
            except OSError:
                continue  # gone since the walk listed it
            if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                # a pipe, socket or device: opening it to read a proof could block forever
                left.append((p, "not a regular file: prune never opens it"))
                continue
            candidates.append((p, p.relative_to(exp_dir).as_posix()))

    # per-run files first: their metadata tells the run keys of an unnamed experiment
    for p, rel in candidates:
        parts = Path(rel).parts
        if p.is_symlink():
            if parts[0] in ("runs", "jobs") or expected is None:
                left.append((p, "a symbolic link: prune never follows links"))
            continue
        if parts[0] != "runs" or p.name not in RUN_FILES:
            continue
        if expected is not None and str(Path(rel).parent) in expected.runs:
            continue  # a run of the sweep: kept, whatever it holds
        run = _run_of(p, experiment)
        if run is None or run != str(Path(rel).parent):
            continue
        if proven_keys is None:
            proven_keys = _keys_segments(Path(run).parts[1:])
        if expected is None:
            mine.append(p)
        elif run not in expected.runs:
            if rel in in_use:
                left.append((p, busy))
                continue
            plan.runs.setdefault(p.parent, []).append(p)
            stale_dirs.add(p.parent)

    key_names = set(proven_keys or [])
    for p, rel in candidates:
        parts = Path(rel).parts
        name = p.name
        if p.is_symlink() or (parts[0] == "runs" and name in RUN_FILES):
            continue
        temp = _TEMPORARY.match(name)
        if temp:
            if _temporary_is_ours(parts, temp.group("name"), proven_keys, key_names):
                (plan.temporaries if expected else mine).append(p)
            continue
        if parts[0] == "jobs":
            is_job = mf.JOB_NAME.match(name) or mf.STAGE_NAME.match(name)
            legacy = mf.LEGACY_JOB_NAME.match(name)
            ckpt = mf.CHECKPOINT_NAME.match(name) or mf.LEGACY_CHECKPOINT_NAME.match(name)
            folders = _keys_segments(parts[1:-1])
            if folders is None or (key_names and not set(folders) <= key_names):
                continue
            ours = (
                _is_our_manifest(p, experiment)
                if is_job or legacy
                else _is_our_checkpoint(p)
                if ckpt
                else False
            )
            if ours and (expected is None or legacy or rel not in expected.jobs):
                if rel in in_use:
                    left.append((p, busy))
                else:
                    (plan.jobs if expected else mine).append(p)
            continue
        if expected is not None:
            continue  # the configured experiment's tables, figures and logs stay
        if len(parts) == 1:
            if (name == mf.EXPERIMENT_MANIFEST and _is_our_manifest(p, experiment)) or (
                name in TABLES + ("claims.parquet",) and _is_our_table(p, experiment)
            ):
                mine.append(p)
            elif name in ("claims.tsv", "headline.tsv", OVERVIEW) and recorded.get(rel) == _digest(
                p
            ):
                mine.append(p)
        elif parts[0] == "figures" and len(parts) == 2 and _FIGURE.match(name):
            if recorded.get(rel) == _digest(p):
                mine.append(p)
        elif parts[0] == "logs" and (
            (len(parts) == 2 and _STAGE_LOG.match(name))
            or (len(parts) == 3 and parts[1] in ("train", "evaluate") and _JOB_LOG.match(name))
        ):
            mine.append(p)

    # what keeps a folder that would otherwise go: anything not removed in it
    going = set(mine) | {f for fs in plan.runs.values() for f in fs}
    folders = [exp_dir] if expected is None else sorted(stale_dirs)
    for folder in folders:
        for dirpath, _, filenames in os.walk(folder, followlinks=False):
            for f in sorted(filenames):
                p = Path(dirpath, f)
                if p not in going and not p.is_symlink() and not _TEMPORARY.match(f):
                    left.append((p, _why_left(p, exp_dir, experiment)))
    if expected is None and not any(_kind(f) not in ("temporary", "log") for f in mine):
        return []  # nothing in it proves by its content that repgeom made the folder (a copy)
    if expected is not None or mine:  # an untouched folder needs no account of what stays
        plan.left += left
    return mine


def _temporary_is_ours(parts, name: str, keys: list[str] | None, key_names: set[str]) -> bool:
    """Whether a temporary ``.name.tmp-PID`` lies where repgeom writes ``name``."""
    where = _keys_segments(parts[1:-1])
    if parts[0] == "runs":
        return name in RUN_FILES and keys is not None and where == keys
    if parts[0] == "jobs":
        return (
            bool(mf.JOB_NAME.match(name) or mf.STAGE_NAME.match(name))
            or bool(mf.CHECKPOINT_NAME.match(name))
        ) and where is not None and (not key_names or set(where) <= key_names)  # fmt: skip
    if len(parts) == 1:
        return name in TABLES + CLAIMS + (mf.EXPERIMENT_MANIFEST,)
    return parts[0] == "figures" and len(parts) == 2 and bool(_FIGURE.match(name))


def _digest(p: Path) -> str | None:
    try:
        return mf.file_digest(p)
    except OSError:
        return None


def _why_left(p: Path, exp_dir: Path, experiment: str) -> str:
    rel = p.relative_to(exp_dir)
    if rel.parts[0] == "runs" and p.name in RUN_FILES:
        return "not where repgeom wrote it (a copy?), or not written by repgeom"
    if p.name in RUN_FILES + TABLES + CLAIMS or p.suffix in (".json", ".npz"):
        return "changed since repgeom wrote it, or not written by repgeom"
    return "not written by repgeom"


def find_stale(sweep: Sweep, other_experiments: bool = True) -> Plan:
    """What the sweep's experiment folders hold that the sweep does not make, and (unless
    ``other_experiments`` is false) the files of the other experiment folders under its
    results folder."""
    root = Path(sweep.root)
    plan = Plan(root=root)
    if not root.is_dir():
        return plan
    for d in sorted(root.iterdir()):
        exp = sweep.experiments.get(d.name)
        if d.is_symlink():
            if exp is not None:
                plan.left.append((d, "a symbolic link: prune never follows links"))
            continue
        if not d.is_dir():
            continue
        if exp is not None:
            _scan(d, d.name, _expected(exp), plan)
        elif other_experiments and (mf.is_experiment(d) or _has_our_jobs(d)):
            mine = _scan(d, d.name, None, plan)
            if mine:
                plan.other_experiments[d] = mine
    return plan


def _has_our_jobs(d: Path) -> bool:
    jobs = d / "jobs"
    if not jobs.is_dir() or jobs.is_symlink():
        return False
    for dirpath, _, filenames in os.walk(jobs, followlinks=False):
        for f in filenames:
            p = Path(dirpath, f)
            named = mf.JOB_NAME.match(f) or mf.STAGE_NAME.match(f) or mf.LEGACY_JOB_NAME.match(f)
            if named and not p.is_symlink() and _is_our_manifest(p, d.name):
                return True
    return False


# --------------------------------------------------------------------------- output


def _size(paths) -> int:
    total = 0
    for p in paths:
        try:
            total += p.lstat().st_size
        except OSError:
            pass
    return total


def _human(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def report(plan: Plan, shown: int = 5) -> str:
    """A listing of ``plan``: counts and sizes per kind, the first ``shown`` paths of each, and
    what stays with the reason."""
    kinds = [
        ("run folders", list(plan.runs), [f for fs in plan.runs.values() for f in fs]),
        ("job manifests and checkpoints", plan.jobs, plan.jobs),
        ("temporaries of killed writers", plan.temporaries, plan.temporaries),
        (
            "experiment folders this configuration does not name",
            list(plan.other_experiments),
            [f for fs in plan.other_experiments.values() for f in fs],
        ),
    ]
    lines = []
    for kind, paths, files in kinds:
        if not paths:
            continue
        lines.append(f"{len(paths)} {kind} ({len(files)} files, {_human(_size(files))}):")
        lines += [f"  {p}" for p in paths[:shown]]
        if len(paths) > shown:
            lines.append(f"  … and {len(paths) - shown} more")
    if plan.left:
        lines.append(f"{len(plan.left)} paths left in place:")
        for p, why in plan.left[: shown * 4]:
            lines.append(f"  {p}: {why}")
        if len(plan.left) > shown * 4:
            lines.append(f"  … and {len(plan.left) - shown * 4} more")
    return "\n".join(lines)


def delete(plan: Plan, other_experiments: bool = False) -> tuple[int, list[str]]:
    """Remove the planned files (other experiments' only if asked), one by one, then the
    folders this leaves empty; never through a symbolic link, never a folder that holds
    anything else. Returns (files removed, problems met); a problem stops nothing."""
    removed, problems = 0, []
    for p in plan.files(other_experiments):
        try:
            if p.is_symlink() or not p.is_file():
                continue
            p.unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError as err:
            problems.append(f"{p}: {err.strerror or err}")
    tops = set(plan.other_experiments) if other_experiments else set()
    for folder in sorted({p.parent for p in plan.files(other_experiments)}, key=_depth):
        _remove_empty(folder, plan.root, tops)
    for top in tops:
        walk = list(os.walk(top, followlinks=False))
        for dirpath, _, _ in sorted(walk, key=lambda w: _depth(Path(w[0]))):
            _remove_empty(Path(dirpath), plan.root, tops)
    return removed, problems


def _depth(folder: Path) -> int:
    return -len(folder.parts)  # deepest first


def _remove_empty(folder: Path, root: Path, tops: set[Path]) -> None:
    """Remove ``folder`` and its parents while each is an empty real folder, up to its
    experiment's ``runs`` or ``jobs`` folder; the experiment folders in ``tops`` (ones the
    configuration does not name, when asked) go too. Nothing at or above ``root`` is touched."""
    while folder != root and root in folder.parents and not folder.is_symlink():
        exp = root / folder.relative_to(root).parts[0]
        named_here = folder == exp or folder.parent == exp and folder.name in ("runs", "jobs")
        if named_here and exp not in tops:
            return
        try:
            folder.rmdir()  # fails on a folder that holds anything
        except OSError:
            return
        folder = folder.parent
