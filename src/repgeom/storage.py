"""Parquet storage of runs.

Every file is written to a temporary name in its folder and renamed into place, so an
interrupted job never leaves a file that looks complete. Each file's key-value metadata holds
the run's full resolved configuration, the schema version, package versions and provenance.

Layout (hive partitions, see docs/data_dictionary.md), one tree per experiment::

    {results}/{experiment}/runs/arch=shallow/act=tanh/readout=uniform/sigma=0.1/delta=0.5/seed=3/
        weights.parquet   loss.parquet   metrics.parquet   dichotomies.parquet
"""

from __future__ import annotations

import functools
import json
import os
import platform
import socket
import subprocess
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .files import atomic, file_digest, temporary_name  # noqa: F401 (re-exported)

SCHEMA_VERSION = "4"  # 4: a layer row key
META_PREFIX = "repgeom."
_PACKAGES = ("repgeom", "torch", "numpy", "scikit-learn", "pyarrow", "snakemake")


@functools.cache
def source_commit() -> str:
    """The git commit of the repgeom source that runs, ``<sha>-dirty`` with uncommitted changes,
    or "" outside a git checkout (an installed wheel) or without git."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "."],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{sha}-dirty" if dirty else sha


def package_versions() -> dict[str, str]:
    """Python's and the packages' versions, and ``repgeom_commit`` (:func:`source_commit`)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = ""
    out["repgeom_commit"] = source_commit()
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


def write_parquet(table: pa.Table, path: str | Path, meta: dict) -> None:
    """Write ``table`` atomically with ``meta`` (values JSON-encoded) under ``repgeom.*`` keys."""
    kv = dict(table.schema.metadata or {})
    kv.update({(META_PREFIX + k).encode(): json.dumps(v).encode() for k, v in meta.items()})
    kv[(META_PREFIX + "schema_version").encode()] = json.dumps(SCHEMA_VERSION).encode()
    with atomic(path) as tmp:
        pq.write_table(table.replace_schema_metadata(kv), tmp, compression="zstd")


def read_metadata(path: str | Path) -> dict:
    """The ``repgeom.*`` metadata of a parquet file, decoded (keys without the prefix)."""
    kv = pq.read_schema(path).metadata or {}
    return {
        k.decode()[len(META_PREFIX) :]: json.loads(v)
        for k, v in kv.items()
        if k.decode().startswith(META_PREFIX)
    }


# --------------------------------------------------------------------------- readers


def verified_table(experiment_dir: str | Path, name: str = "metrics.parquet") -> pa.Table:
    """An aggregated table of an experiment, checked against its manifest
    (:func:`repgeom.manifests.verify_table`)."""
    from .manifests import verify_table

    return pq.read_table(verify_table(experiment_dir, name))


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
    """Every ``name`` file on disk under the experiment's ``runs/``, including runs left over
    from earlier configurations (see :func:`repgeom.manifests.current_run_files`)."""
    return sorted(str(p) for p in Path(experiment_dir, "runs").glob(f"**/{name}"))


def open_runs(
    experiment_dir: str | Path,
    name: str = "metrics.parquet",
    all_on_disk: bool = False,
    verify: bool = True,
) -> ds.Dataset:
    """The runs' ``name`` files of one experiment as a pyarrow dataset with typed partition
    columns, e.g. ``open_runs('results/delta').to_table(filter=ds.field('delta') > 0.5)``.

    Exactly the runs of the configured sweep (its last aggregation), each file checked against
    its job's manifest (``verify``); ``all_on_disk=True`` reads every file under ``runs/``
    instead, runs of earlier configurations included.
    """
    base = Path(experiment_dir, "runs")
    from .manifests import current_run_files

    files = (
        run_files(experiment_dir, name)
        if all_on_disk
        else current_run_files(experiment_dir, name, verify)
    )
    if not files:
        raise FileNotFoundError(f"no {name} under {base}")
    types = key_types(experiment_dir) or infer_key_types(files, base)
    return ds.dataset(
        files, format="parquet", partitioning=partitioning(types), partition_base_dir=str(base)
    )


#: the columns that name an analysis in the metric tables
ANALYSIS_KEYS = ("decoder", "protocol")
#: the row keys of metrics.parquet after the run keys, in column order: the snapshot, the
#: hidden layer (1 … L from the input) and the analysis; dichotomies.parquet adds DICHOTOMY_KEY
ROW_KEYS = ("epoch", "layer", *ANALYSIS_KEYS)
DICHOTOMY_KEY = "dichotomy"


def primary_analysis(evaluation: dict) -> tuple[str, str] | None:
    """(decoder, protocol) of an experiment's primary analysis, its first configured decoder
    and protocol, from its resolved ``evaluation`` settings (None for results written before
    analyses were keys)."""
    if "decoders" not in evaluation:
        return None
    return evaluation["decoders"][0], evaluation["protocols"][0]


def layer_keys(key_types: dict[str, str], df) -> dict[str, str]:
    """The run keys plus ``layer`` where the table has it: the keys of one hidden layer of one
    run, by which metrics are paired and grouped (tables from before layers were keys have
    one layer per run)."""
    return key_types | ({"layer": "int64"} if "layer" in df.columns else {})


def last_layer(df):
    """The rows of each architecture's last hidden layer (every row for tables from before
    layers were keys): what the one-layer figures show."""
    if "layer" not in df.columns:
        return df
    last = df.groupby("arch", observed=True)["layer"].transform("max")
    return df[df["layer"] == last].reset_index(drop=True)


def primary(df, evaluation: dict):
    """The rows of an experiment's primary analysis without the analysis columns; tables from
    before analyses were keys pass as they are."""
    if "decoder" not in df.columns:
        return df
    decoder, protocol = primary_analysis(evaluation)
    keep = (df["decoder"] == decoder) & (df["protocol"] == protocol)
    return df[keep].drop(columns=list(ANALYSIS_KEYS)).reset_index(drop=True)
