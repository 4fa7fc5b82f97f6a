"""Manifests: what each workflow job wrote, what it was made from, and the checks readers make.

Every job records its files in a small JSON manifest, written atomically after them: each path
(relative to the experiment folder, so a results folder can be moved or renamed) with its size
and SHA-256. The manifest also records the job's *recipe*, everything its files were made from
(the runs' resolved configurations for training; the training recipe and the evaluation settings
for evaluation; the job list and settings of an aggregation), and its name carries the recipe's
hash. A changed configuration therefore names a manifest that does not exist yet, and Snakemake
runs the job again, with or without its own ``.snakemake/`` records (results copied to another
machine, say)::

    <experiment>/jobs/<job keys>/block<k>-<recipe>.train.json       training of a block of runs
    <experiment>/jobs/<job keys>/block<k>-<recipe>.evaluate.json    its evaluation
    <experiment>/jobs/{aggregate,claims,figures,report}-<recipe>.json   the experiment-wide steps
    <experiment>/manifest.json      the current aggregation: its jobs and tables, for readers

Readers check each file against its manifest before use; a missing, damaged or foreign file
raises :class:`ManifestError`, whose message names the file and what to do.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from .files import atomic, file_digest

#: written into every manifest: how ``prune`` and the readers tell repgeom's from anything else
MADE_BY = "repgeom"
#: the manifest format; 1 (no recipe, absolute paths, fixed names) is read only by ``prune``
FORMAT = 2
#: the experiment's reader-facing manifest (a copy of its current aggregation's)
EXPERIMENT_MANIFEST = "manifest.json"
#: hex digits of the recipe hash in manifest names
RECIPE_DIGITS = 12
RECIPE_PATTERN = f"[0-9a-f]{{{RECIPE_DIGITS}}}"

#: exact names of repgeom's manifests and checkpoints (``prune`` deletes nothing else in jobs/)
JOB_NAME = re.compile(rf"^block(\d+)-({RECIPE_PATTERN})\.(train|evaluate)\.json$")
STAGE_NAME = re.compile(rf"^(aggregate|claims|figures|report)-({RECIPE_PATTERN})\.json$")
CHECKPOINT_NAME = re.compile(rf"^block\d+-{RECIPE_PATTERN}\.train\.checkpoint\.npz$")
#: names of format 1 (before recipes)
LEGACY_JOB_NAME = re.compile(r"^block\d+\.(train|evaluate)\.json$")
LEGACY_CHECKPOINT_NAME = re.compile(r"^block\d+\.train\.checkpoint\.npz$")


class ManifestError(RuntimeError):
    """A file a manifest lists is missing or differs from what the job wrote, or a manifest is
    missing, damaged or not repgeom's; the message names the file and what to do."""


def recipe_hash(made_from) -> str:
    """The first :data:`RECIPE_DIGITS` hex digits of the SHA-256 of ``made_from`` as canonical
    JSON (keys sorted): equal recipes give equal names on any machine."""
    text = json.dumps(made_from, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:RECIPE_DIGITS]


def experiment_dir_of(manifest: str | Path) -> Path:
    """The experiment folder of a manifest: the parent of its nearest ``jobs`` folder (or the
    folder of ``manifest.json``)."""
    m = Path(manifest)
    return next((p.parent for p in m.parents if p.name == "jobs"), m.parent)


def _entry(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "sha256": file_digest(path)}


def write_manifest(
    path: str | Path,
    files: list[str | Path],
    *,
    stage: str,
    experiment: str,
    made_from,
    extra: dict | None = None,
) -> None:
    """Record, atomically, that a ``stage`` job of ``experiment`` wrote ``files`` completely:
    each path relative to the experiment folder with its size in bytes and SHA-256, and the
    ``made_from`` recipe whose hash the manifest's name carries (``manifest.json`` excepted)."""
    exp = experiment_dir_of(path).resolve()
    doc = {
        "made_by": MADE_BY,
        "format": FORMAT,
        "stage": stage,
        "experiment": experiment,
        "recipe": recipe_hash(made_from),
        "made_from": made_from,
        "files": {Path(f).resolve().relative_to(exp).as_posix(): _entry(Path(f)) for f in files},
    } | (extra or {})
    with atomic(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=1))


def check_name(path: str | Path, made_from) -> None:
    """Raise ValueError unless ``path``'s name carries the hash of ``made_from`` (a job asked
    for a manifest name that its configuration does not give)."""
    want = recipe_hash(made_from)
    if f"-{want}." not in Path(path).name:
        raise ValueError(
            f"{path} does not carry the recipe hash {want} of this job's configuration; ask for "
            "the workflow's targets, not for a manifest of another configuration"
        )


def regenerate(manifest: str | Path) -> str:
    """How to make a job write its files again: delete its manifest and the experiment's (else
    Snakemake, seeing every requested output present, would not look at the job again)."""
    m = Path(manifest)
    exp = experiment_dir_of(m)
    if m.name == EXPERIMENT_MANIFEST:
        return f"delete {m} and run the workflow again to regenerate it"
    return f"delete {m} and {exp / EXPERIMENT_MANIFEST}, then run the workflow again"


def read_manifest(path: str | Path, fix: str | None = None) -> dict:
    """A repgeom manifest of the current format; ManifestError, naming ``path`` and ``fix``
    (default: :func:`regenerate`), if it is missing, not a file, not JSON, someone else's, of an
    older format, or lacks a part."""
    path = Path(path)
    fix = fix or regenerate(path)
    if not path.exists():
        raise ManifestError(f"{path} is missing; {fix}")
    if not path.is_file():
        raise ManifestError(f"{path} is not a file; move it away, then run the workflow again")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestError(f"{path} is damaged ({err}); {fix}") from None
    if not isinstance(doc, dict) or doc.get("made_by") != MADE_BY:
        if isinstance(doc, dict) and "files" in doc and "schema_version" in doc:
            raise ManifestError(
                f"{path} was written by an older repgeom (manifest format 1); run the workflow "
                "again, which rewrites every manifest"
            )
        raise ManifestError(f"{path} is not a manifest written by repgeom; {fix}")
    missing = [k for k in ("format", "files", "recipe", "experiment") if k not in doc]
    bad_files = not isinstance(doc.get("files"), dict) or not all(
        isinstance(v, dict) and {"bytes", "sha256"} <= set(v) for v in doc["files"].values()
    )
    if missing or bad_files or doc["format"] != FORMAT:
        what = f"lacks {', '.join(missing)}" if missing else "has entries of another format"
        raise ManifestError(f"{path} is damaged ({what}); {fix}")
    return doc


def check_file(path: Path, want: dict, listed_in: str | Path, fix: str) -> None:
    """Raise ManifestError unless ``path`` is a file with the recorded size and SHA-256."""
    try:
        problem = (
            "is missing"
            if not path.exists()
            else "is not a file"
            if not path.is_file()
            else "was changed after it was written (truncated, overwritten or damaged)"
            if path.stat().st_size != want["bytes"] or file_digest(path) != want["sha256"]
            else None
        )
    except OSError as err:  # unreadable (permissions, a stale NFS handle): name it, no traceback
        raise ManifestError(
            f"{path} cannot be read ({err.strerror or err}; listed in {listed_in}); check its "
            "permissions, or ask its owner to"
        ) from None
    if problem:
        raise ManifestError(f"{path} {problem} (listed in {listed_in}); {fix}")


def listed_files(
    manifest: str | Path, verify: bool = True, doc: dict | None = None, name: str | None = None
) -> list[Path]:
    """The files a manifest lists (those called ``name``, if given), as paths under its
    experiment folder; with ``verify``, each checked to exist with the size and SHA-256
    recorded (else only to exist)."""
    doc = doc or read_manifest(manifest)
    exp = experiment_dir_of(manifest)
    out = []
    for rel, want in doc["files"].items():
        f = exp / rel
        if name is not None and f.name != name:
            continue
        if verify:
            check_file(f, want, manifest, regenerate(manifest))
        elif not f.is_file():
            raise ManifestError(f"{f} is missing (listed in {manifest}); {regenerate(manifest)}")
        out.append(f)
    return out


def verified_files(manifest: str | Path) -> list[str]:
    """The files a job's manifest lists, each checked to exist with the size and SHA-256
    recorded; ManifestError names the file and how to regenerate it."""
    return [str(f) for f in listed_files(manifest)]


def invalidate(manifest: str | Path) -> list[Path]:
    """Before a job rewrites its files: remove the manifests of other recipes that list the
    same files, since those files are about to change. For a training job, the block's other
    manifests (its evaluations too); for an evaluation, the block's other evaluations; for an
    experiment-wide step (aggregate, claims, figures), that step's other records.

    Otherwise a record of an earlier configuration would still vouch for files another one
    rewrote: after config A, then B, then A again, Snakemake (without its ``.snakemake/``
    records, or with them) would find A's record present and run nothing, and the readers
    would show B's results. Returns what was removed."""
    m = Path(manifest)
    if not m.parent.is_dir():
        return []
    job, stage = JOB_NAME.match(m.name), STAGE_NAME.match(m.name)
    if job:
        block, kind = job.group(1), job.group(3)

        def same(other: re.Match | None, _: re.Match | None) -> bool:
            return bool(
                other and other.group(1) == block and (kind == "train" or other.group(3) == kind)
            )
    elif stage:

        def same(_: re.Match | None, other: re.Match | None) -> bool:
            return bool(other and other.group(1) == stage.group(1))
    else:
        return []
    gone = []
    for p in m.parent.iterdir():
        if p != m and same(JOB_NAME.match(p.name), STAGE_NAME.match(p.name)):
            if not p.is_symlink() and p.is_file():
                p.unlink(missing_ok=True)
                gone.append(p)
    return gone


# --------------------------------------------------------------------------- experiments


def write_experiment_manifest(
    path: str | Path,
    stamp: str | Path,
    experiment: str,
    job_manifests: list[str],
    outputs: list[str],
    made_from,
) -> None:
    """Record an aggregation: its recipe (``made_from``), the job manifests of the configured
    sweep with their digests, and the aggregated ``outputs``; written to ``stamp`` (the
    recipe-named record Snakemake tracks) and to ``path`` (``manifest.json``, for readers)."""
    exp = experiment_dir_of(path).resolve()
    jobs = {Path(m).resolve().relative_to(exp).as_posix(): file_digest(m) for m in job_manifests}
    for target in (stamp, path):
        write_manifest(
            target, outputs, stage="aggregate", experiment=experiment, made_from=made_from,
            extra={"jobs": jobs},
        )  # fmt: skip


def experiment_manifest(experiment_dir: str | Path) -> dict:
    """The experiment's ``manifest.json``; a clear error if the workflow has not aggregated it
    yet, or it is damaged or foreign."""
    path = Path(experiment_dir, EXPERIMENT_MANIFEST)
    if not path.exists():
        raise ManifestError(
            f"{path} does not exist: the workflow has not aggregated {experiment_dir} yet (run "
            "`snakemake --cores all`)"
        )
    doc = read_manifest(path)
    if not isinstance(doc.get("jobs"), dict):
        raise ManifestError(f"{path} is damaged (lacks jobs); {regenerate(path)}")
    return doc


def is_experiment(folder: str | Path) -> bool:
    """Whether ``folder`` holds a ``manifest.json`` that repgeom wrote (of any format)."""
    path = Path(folder, EXPERIMENT_MANIFEST)
    if path.is_symlink() or not path.is_file():
        return False
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(doc, dict) and (
        doc.get("made_by") == MADE_BY or {"schema_version", "root", "jobs", "files"} <= set(doc)
    )


def experiments_under(results: str | Path) -> tuple[list[Path], list[str]]:
    """The aggregated experiment folders under ``results`` (also those whose ``manifest.json``
    is damaged, if they hold a ``jobs`` folder) and notes on the folders skipped (a
    ``manifest.json`` that is a folder, or not repgeom's)."""
    found, notes = [], []
    for m in sorted(Path(results).glob(f"*/{EXPERIMENT_MANIFEST}")):
        if m.parent.is_symlink():
            notes.append(f"skipped {m.parent}: a symbolic link")
        elif is_experiment(m.parent) or (m.is_file() and (m.parent / "jobs").is_dir()):
            found.append(m.parent)  # a damaged manifest beside repgeom's jobs: readers say so
        else:
            notes.append(f"skipped {m.parent}: its {EXPERIMENT_MANIFEST} is not repgeom's")
    return found, notes


def verify_table(experiment_dir: str | Path, name: str = "metrics.parquet") -> Path:
    """The path of an aggregated table (metrics, dichotomies or summary) of an experiment, after
    checking it against the experiment's manifest; ManifestError names the file and the fix."""
    exp = Path(experiment_dir)
    files = experiment_manifest(exp)["files"]
    fix = f"delete {exp / name} and run the workflow again to regenerate it"
    if name not in files:
        raise ManifestError(f"{exp / EXPERIMENT_MANIFEST} does not list {name}; {fix}")
    check_file(exp / name, files[name], exp / EXPERIMENT_MANIFEST, fix)
    return exp / name


def stage_manifest(experiment_dir: str | Path, stage: str, made_from) -> Path:
    """Where the ``stage`` (claims, figures) job made from ``made_from`` records its files."""
    return Path(experiment_dir, "jobs", f"{stage}-{recipe_hash(made_from)}.json")


def claims_recipe(aggregate_recipe: str) -> dict:
    """What an experiment's claims are made from: its aggregation (the claims' own settings
    live in the experiment's configuration, which the aggregation's recipe holds)."""
    return {"aggregate": aggregate_recipe}


def report_recipe(aggregate_recipe: str, figures_recipe: dict) -> dict:
    """What an experiment's overview page is made from: its claims (of its aggregation) and
    its figures (their recipe)."""
    return {"claims": claims_recipe(aggregate_recipe), "figures": figures_recipe}


def verified_claims(experiment_dir: str | Path) -> tuple[Path, Path]:
    """(claims.parquet, claims.tsv) of an experiment, checked against the claims manifest of
    its current aggregation; ManifestError names the file and the fix."""
    exp = Path(experiment_dir)
    doc = experiment_manifest(exp)
    m = stage_manifest(exp, "claims", claims_recipe(doc["recipe"]))
    fix = f"delete {exp / 'claims.parquet'} and run the workflow again to check the claims"
    if not m.exists():
        raise ManifestError(
            f"{exp / 'claims.parquet'} was not checked on the current aggregation "
            f"({exp / EXPERIMENT_MANIFEST}: no {m.name}); run the workflow again"
        )
    files = listed_files(m, doc=read_manifest(m, fix))
    by_name = {f.name: f for f in files}
    lacking = [n for n in ("claims.parquet", "claims.tsv") if n not in by_name]
    if lacking:
        raise ManifestError(f"{m} is damaged (does not list {', '.join(lacking)}); {fix}")
    return by_name["claims.parquet"], by_name["claims.tsv"]


def current_run_files(
    experiment_dir: str | Path, name: str = "metrics.parquet", verify: bool = True
) -> list[str]:
    """The ``name`` files of exactly the runs of the experiment's last aggregation (its
    configured sweep, whatever else lies on disk), each checked against its job's manifest
    (only to exist unless ``verify``)."""
    exp = Path(experiment_dir)
    doc = experiment_manifest(exp)
    out = []
    for rel, digest in doc["jobs"].items():
        m = exp / rel
        if not m.is_file() or (verify and file_digest(m) != digest):
            raise ManifestError(
                f"{m} is missing or changed since {exp / EXPERIMENT_MANIFEST} was written "
                "(by a later run of another configuration, or `prune`); run the workflow "
                f"again (if that plans nothing, delete {exp / EXPERIMENT_MANIFEST} first)"
            )
        out += [str(f) for f in listed_files(m, verify, name=name)]
    return sorted(out)


def current_figures(experiment_dir: str | Path) -> Path | None:
    """The manifest of the figures drawn from the experiment's current aggregation (the newest,
    if figure settings changed since), or None if none was drawn from it."""
    exp = Path(experiment_dir)
    recipe = experiment_manifest(exp)["recipe"]
    drawn = []
    for m in Path(exp, "jobs").glob("figures-*.json"):
        try:
            doc = read_manifest(m)
        except ManifestError:
            continue
        if isinstance(doc.get("made_from"), dict) and doc["made_from"].get("aggregate") == recipe:
            drawn.append(m)
    return max(drawn, key=lambda m: m.stat().st_mtime_ns, default=None)


def verify_experiment(experiment_dir: str | Path) -> dict[str, int]:
    """Check every file of an aggregated experiment against its manifest: the tables, each
    job's manifest and run files, the claims and the figures. Returns counts per kind;
    raises ManifestError at the first problem, naming the file and the fix."""
    exp = Path(experiment_dir)
    doc = experiment_manifest(exp)
    # manifest.json is a copy of its aggregation's record: an edit by hand shows as a difference
    path, stamp = exp / EXPERIMENT_MANIFEST, exp / "jobs" / f"aggregate-{doc['recipe']}.json"
    if not stamp.is_file() or file_digest(stamp) != file_digest(path):
        raise ManifestError(
            f"{path} differs from the record of its aggregation ({stamp}: "
            f"{'missing' if not stamp.is_file() else 'other content'}); {regenerate(path)}"
        )
    for name in doc["files"]:
        verify_table(exp, name)
    runs = run_files = 0
    for rel, digest in doc["jobs"].items():
        m = exp / rel
        if not m.is_file() or file_digest(m) != digest:
            raise ManifestError(
                f"{m} is missing or changed since {path} was written; {regenerate(m)}"
            )
        files = [f.name for f in listed_files(m)]
        run_files += len(files)
        runs += files.count("weights.parquet")
    verified_claims(exp)
    claims = listed_files(stage_manifest(exp, "claims", claims_recipe(doc["recipe"])))
    figures = current_figures(exp)
    if figures is None:
        raise ManifestError(
            f"no figures were drawn from {exp / EXPERIMENT_MANIFEST}; run the workflow again"
        )
    return {
        "tables": len(doc["files"]),
        "runs": runs,
        "run files": run_files,
        "claims files": len(claims),
        "figures": len(listed_files(figures)),
    }
