import os

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from repgeom import storage
from repgeom.manifests import ManifestError


def test_metadata_roundtrip(tmp_path):
    path = tmp_path / "a" / "x.parquet"
    storage.write_parquet(pa.table({"v": [1.0]}), path, {"config": {"a": [1, 2]}, "note": "ü"})
    meta = storage.read_metadata(path)
    assert meta["config"] == {"a": [1, 2]} and meta["note"] == "ü"
    assert meta["schema_version"] == storage.SCHEMA_VERSION
    assert sorted(os.listdir(path.parent)) == ["x.parquet"]  # no temporary left behind


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "x.parquet"

    def boom(table, where, **kw):
        with open(where, "wb") as fh:
            fh.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", boom)
    with pytest.raises(KeyboardInterrupt):
        storage.write_parquet(pa.table({"v": [1]}), path, {})
    assert list(tmp_path.iterdir()) == []


def test_weights_roundtrip(tmp_path, rng):
    snaps = [
        {"W": rng.normal(size=(4, 3)).astype(np.float32), "b": rng.normal(size=4)} for _ in range(3)
    ]
    storage.write_weights(tmp_path / "w.parquet", [0, 5, 10], snaps, {"config": {}})
    epochs, params = storage.read_weights(tmp_path / "w.parquet")
    assert epochs.tolist() == [0, 5, 10]
    assert params["W"].shape == (3, 4, 3) and np.array_equal(params["W"][1], snaps[1]["W"])
    assert np.allclose(params["b"][2], snaps[2]["b"])


def test_provenance_reads_slurm_environment(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("SLURMD_NODENAME", "node7")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert storage.provenance("cuda") | {"hostname": ""} == {
        "slurm_job_id": "42",
        "slurm_node": "node7",
        "hostname": "",
        "device": "cuda",
        "cuda_visible_devices": "0",
    }
    monkeypatch.delenv("SLURM_JOB_ID")
    monkeypatch.delenv("SLURMD_NODENAME")
    assert storage.provenance()["slurm_job_id"] == "" and storage.provenance()["slurm_node"] == ""


KEY_TYPES = {
    "arch": "string",
    "act": "string",
    "readout": "string",
    "sigma": "float64",
    "delta": "float64",
    "seed": "int64",
}


def _tree(root):
    # the experiment's aggregate records its key types
    storage.write_parquet(
        pa.table({"epoch": [0]}), root / "metrics.parquet", {"key_types": KEY_TYPES}
    )
    for act in ("tanh", "relu"):
        for delta in ("0.0", "0.25", "1.0"):
            cell = f"arch=shallow/act={act}/readout=uniform/sigma=0.1/delta={delta}"
            d = root / "runs" / cell / "seed=3"
            storage.write_parquet(
                pa.table({"epoch": [0, 10], "m": [0.1, 0.2]}), d / "metrics.parquet", {}
            )


def test_tree_reads_with_typed_partitions_everywhere(tmp_path):
    _tree(tmp_path)
    t = storage.open_runs(tmp_path, all_on_disk=True).to_table(filter=ds.field("delta") > 0.1)
    assert (
        t.schema.field("delta").type == pa.float64() and t.schema.field("seed").type == pa.int64()
    )
    assert t.num_rows == 2 * 2 * 2
    df = storage.open_runs(tmp_path, all_on_disk=True).to_table().to_pandas()
    assert set(df["act"]) == {"tanh", "relu"} and df["delta"].dtype == np.float64
    glob = str(tmp_path / "runs/**/metrics.parquet")
    # duckdb auto-detects integer partitions only: floats are typed by hive_types (README)
    types = "{'sigma': 'DOUBLE', 'delta': 'DOUBLE'}"
    con = duckdb.sql(
        f"select count(*), max(delta) from read_parquet('{glob}', hive_partitioning=true, "
        f"hive_types={types}) where delta > 0.1"
    )
    assert con.fetchall() == [(8, 1.0)]
    pdf = pl.scan_parquet(glob, hive_partitioning=True).filter(pl.col("delta") > 0.1).collect()
    assert pdf.height == 8 and pdf.schema["delta"] == pl.Float64
    assert isinstance(pd.read_parquet(tmp_path / "runs"), pd.DataFrame)


def test_open_runs_infers_types_without_an_aggregate(tmp_path):
    _tree(tmp_path)
    (tmp_path / "metrics.parquet").unlink()
    t = storage.open_runs(tmp_path, all_on_disk=True).to_table(filter=ds.field("delta") > 0.1)
    assert t.num_rows == 8 and pa.types.is_floating(t.schema.field("delta").type)


def test_open_runs_without_files(tmp_path):
    with pytest.raises(ManifestError, match="has not aggregated"):
        storage.open_runs(tmp_path)
    with pytest.raises(FileNotFoundError, match="no metrics.parquet"):
        storage.open_runs(tmp_path, all_on_disk=True)


def test_versions_record_the_source_commit():
    """Run metadata names the git commit of the source that ran (a checkout here and in CI)."""
    import subprocess
    from pathlib import Path

    head = subprocess.run(
        ["git", "-C", str(Path(storage.__file__).parent), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
    )
    commit = storage.package_versions()["repgeom_commit"]
    if head.returncode:  # not a checkout git may read (a wheel, another owner): nothing to name
        assert commit == ""
    else:
        assert commit.removesuffix("-dirty") == head.stdout.strip()
