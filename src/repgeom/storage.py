"""Parquet storage of runs.

Every file is written to a temporary name in its folder and renamed into place, so an
interrupted job never leaves a file that looks complete. Each file's key-value metadata holds
the run's full resolved configuration, the schema version, package versions and provenance.

Layout (hive partitions, see docs/data_dictionary.md), one tree per experiment::

    {results}/{experiment}/runs/arch=shallow/act=tanh/readout=uniform/sigma=0.1/delta=0.5/seed=3/
        weights.parquet   loss.parquet   metrics.parquet   dichotomies.parquet
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

SCHEMA_VERSION = "2"
META_PREFIX = "repgeom."
_PACKAGES = ("repgeom", "torch", "numpy", "scikit-learn", "pyarrow", "snakemake")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = ""
    return out


def provenance(device: str = "") -> dict[str, str]:
    """Where a file was made: SLURM job id and node (empty outside SLURM), host, the device
    used, and the GPUs the scheduler allotted (CUDA_VISIBLE_DEVICES, empty if none)."""
    return {
        "slurm_job_id": os.environ.get("SLURM_JOB_ID", ""),
        "slurm_node": os.environ.get("SLURMD_NODENAME", ""),
        "hostname": socket.gethostname(),
        "device": device,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
    }


def temporary_name(path: Path) -> Path:
    """A process-private temporary name beside ``path``, after removing those that earlier
    writers of ``path`` left behind when they were killed (one job writes a file at a time)."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        stale.unlink(missing_ok=True)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_parquet(table: pa.Table, path: str | Path, meta: dict) -> None:
    """Write ``table`` atomically with ``meta`` (values JSON-encoded) under ``repgeom.*`` keys."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kv = dict(table.schema.metadata or {})
    kv.update({(META_PREFIX + k).encode(): json.dumps(v).encode() for k, v in meta.items()})
    kv[(META_PREFIX + "schema_version").encode()] = json.dumps(SCHEMA_VERSION).encode()
    tmp = temporary_name(path)
    try:
        pq.write_table(table.replace_schema_metadata(kv), tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_metadata(path: str | Path) -> dict:
    """The ``repgeom.*`` metadata of a parquet file, decoded (keys without the prefix)."""
    kv = pq.read_schema(path).metadata or {}
    return {
        k.decode()[len(META_PREFIX) :]: json.loads(v)
        for k, v in kv.items()
        if k.decode().startswith(META_PREFIX)
    }


# --------------------------------------------------------------------------- job manifests


class ManifestError(RuntimeError):
    """A file listed in a job's manifest is missing or differs from what the job wrote."""


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(path: str | Path, files: list[str]) -> None:
    """Record, atomically, that a job wrote ``files`` completely: each path (as given) with its
    size in bytes and SHA-256. Snakemake tracks jobs by these manifests."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = {str(f): {"bytes": Path(f).stat().st_size, "sha256": file_digest(f)} for f in files}
    tmp = temporary_name(path)
    try:
        tmp.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "files": entries}, indent=1))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def verified_files(manifest: str | Path) -> list[str]:
    """The files a job's manifest lists, after checking that each still exists with the size
    and SHA-256 recorded; raises ManifestError naming the file and how to regenerate it."""
    entries = json.loads(Path(manifest).read_text())["files"]
    for f, want in entries.items():
        p = Path(f)
        problem = (
            "is missing"
            if not p.exists()
            else "was changed after it was written"
            if p.stat().st_size != want["bytes"] or file_digest(p) != want["sha256"]
            else None
        )
        if problem:
            raise ManifestError(
                f"{f} {problem} (listed in {manifest}); delete {manifest} and run the workflow "
                "again to regenerate it"
            )
    return list(entries)


# --------------------------------------------------------------------------- weights


def weights_table(epochs: list[int], snaps: list[dict[str, np.ndarray]]) -> pa.Table:
    """One row per snapshot: ``epoch`` and each parameter flattened row-major (float32 lists).

    Shapes are stored in the metadata key ``repgeom.shapes`` by :func:`write_weights`.
    """
    cols = {"epoch": pa.array(epochs, pa.int32())}
    for name in snaps[0]:
        flat = np.stack([s[name].reshape(-1) for s in snaps]).astype(np.float32)
        cols[name] = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), flat.shape[1])
    return pa.table(cols)


def write_weights(path, epochs, snaps, meta: dict) -> None:
    shapes = {k: list(v.shape) for k, v in snaps[0].items()}
    write_parquet(weights_table(epochs, snaps), path, meta | {"shapes": shapes})


def read_weights(path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Read snapshots: epochs (S,) and parameters name → (S, *shape) float32."""
    table = pq.read_table(path)
    shapes = read_metadata(path)["shapes"]
    params = {}
    for name, shape in shapes.items():
        col = table.column(name).combine_chunks()
        params[name] = col.flatten().to_numpy().reshape(len(table), *shape)
    return table.column("epoch").to_numpy(), params


# --------------------------------------------------------------------------- the run tree


def key_types(experiment_dir: str | Path) -> dict[str, str] | None:
    """The run keys and their types of an aggregated experiment, from its metrics.parquet."""
    agg = Path(experiment_dir, "metrics.parquet")
    return read_metadata(agg).get("key_types") if agg.exists() else None


def infer_key_types(files: list[str], base: str | Path) -> dict[str, str]:
    """Key types from the folder names of a run tree: int64 if every value parses as an
    integer, float64 if as a number, else string (pyarrow itself infers no floats)."""
    values: dict[str, list[str]] = {}
    for f in files:
        for part in Path(f).relative_to(base).parent.parts:
            k, _, v = part.partition("=")
            values.setdefault(k, []).append(v)

    def kind(vals):
        for typ, parse in (("int64", int), ("float64", float)):
            try:
                [parse(v) for v in vals]
                return typ
            except ValueError:
                pass
        return "string"

    return {k: kind(v) for k, v in values.items()}


def partitioning(types: dict[str, str]) -> ds.Partitioning:
    """Hive partitioning of a run tree with typed keys."""
    return ds.partitioning(pa.schema(list(types.items())), flavor="hive")


def run_files(experiment_dir: str | Path, name: str = "metrics.parquet") -> list[str]:
    return sorted(str(p) for p in Path(experiment_dir, "runs").glob(f"**/{name}"))


def open_runs(experiment_dir: str | Path, name: str = "metrics.parquet") -> ds.Dataset:
    """All runs' ``name`` files of one experiment as a pyarrow dataset with typed partition
    columns, e.g. ``open_runs('results/delta').to_table(filter=ds.field('delta') > 0.5)``."""
    files = run_files(experiment_dir, name)
    if not files:
        raise FileNotFoundError(f"no {name} under {Path(experiment_dir, 'runs')}")
    base = Path(experiment_dir, "runs")
    types = key_types(experiment_dir) or infer_key_types(files, base)
    return ds.dataset(
        files, format="parquet", partitioning=partitioning(types), partition_base_dir=str(base)
    )
