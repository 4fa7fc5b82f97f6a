"""Cases of an independent battery (issue 20) that failed before their fixes: unreadable files,
prune's arguments, results folders of another user, results_dir spellings, hand-edited
records, and config A → B → A without Snakemake's records."""

import json
import shutil

import pytest
import yaml
from test_hardening import EXP, MICRO, clean, planned, repgeom, snakemake, write_config

from repgeom import locking, manifests
from repgeom.__main__ import main
from repgeom.config import ConfigError, load_config_files

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("battery")
    write_config(workdir, MICRO)
    snakemake(workdir, "--cores", "2")
    return workdir


@pytest.fixture
def work(made, tmp_path):
    dst = tmp_path / "wf"
    shutil.copytree(made, dst, symlinks=True)
    return dst


def test_an_unreadable_run_file_is_named_without_a_traceback(work, monkeypatch, capsys):
    monkeypatch.chdir(work)

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(manifests, "file_digest", denied)
    assert main(["verify", "results"]) == 1
    err = capsys.readouterr().err
    assert "Permission denied" in err and "Traceback" not in err


def test_prune_with_configfile_given_twice_uses_both(work):
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    (work / "a.yaml").write_text(
        yaml.safe_dump(cfg | {"experiments": {"delta": cfg["experiments"]["delta"]}})
    )
    (work / "b.yaml").write_text(
        yaml.safe_dump({"experiments": {"old": cfg["experiments"]["old"]}})
    )
    out = repgeom(work, "prune", "--configfile", "a.yaml", "--configfile", "b.yaml")
    text = clean(out)
    assert out.returncode == 0 and "does not name" not in text, text


def test_prune_of_a_results_dir_that_does_not_exist_says_so(work):
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    write_config(work, cfg | {"results_dir": "nothere"})
    out = repgeom(work, "prune")
    assert out.returncode == 0 and "nothere: no such folder" in clean(out)


def test_prune_in_a_folder_it_may_not_enter(work, monkeypatch, capsys):
    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("os.chdir", denied)
    assert main(["prune", "--directory", str(work)]) == 1
    assert "Permission denied" in capsys.readouterr().err


def test_a_lock_that_cannot_be_written_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(locking.ResultsLocked, match="is not writable by you"):
        locking.lock_results(tmp_path / "file/results")


@pytest.mark.parametrize(
    ("spelling", "needle"),
    [(" results", "starts or ends with a space"), ("results\u00a0", "starts or ends"),
     (".snakemake/results", ".snakemake folder")],
)  # fmt: skip
def test_results_dir_blanks_and_snakemake_folder_are_refused(
    tmp_path, monkeypatch, spelling, needle
):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "c.yaml"
    f.write_text(
        yaml.safe_dump({"results_dir": spelling, "experiments": {"d": {"family": "delta"}}})
    )
    with pytest.raises(ConfigError, match="results_dir") as exc:
        load_config_files([f])
    assert needle in str(exc.value)


def test_headline_on_an_experiment_folder_points_above(work):
    out = repgeom(work, "headline", EXP)
    assert out.returncode == 2 and "give the results folder above it" in clean(out)


@pytest.mark.parametrize(
    "damage", ["claims_lacks_tsv", "figures_made_from_list", "job_files_emptied", "manifest_edited"]
)
def test_hand_edited_records_are_named(work, damage):
    exp = work / EXP
    jobs = exp / "jobs"
    if damage == "claims_lacks_tsv":
        m = next(jobs.glob("claims-*.json"))
        doc = json.loads(m.read_text())
        doc["files"].pop("claims.tsv")
        command, needle = "claims", "does not list claims.tsv"
    elif damage == "figures_made_from_list":
        m = next(jobs.glob("figures-*.json"))
        doc = json.loads(m.read_text()) | {"made_from": [1]}
        command, needle = "verify", "no figures were drawn"
    elif damage == "job_files_emptied":
        m = next(jobs.rglob("block0-*.train.json"))
        doc = json.loads(m.read_text()) | {"files": {}}
        command, needle = "verify", "is missing or changed since"
    else:
        m = exp / "manifest.json"
        doc = json.loads(m.read_text()) | {"made_from": "x"}
        command, needle = "verify", "differs from the record of its aggregation"
    m.write_text(json.dumps(doc))
    out = repgeom(work, command, "results")
    assert out.returncode == 1 and needle in clean(out)


def test_claims_are_refused_when_their_tables_changed(work):
    (work / EXP / "metrics.parquet").write_bytes(b"PAR1")
    out = repgeom(work, "claims", "results")
    assert out.returncode == 1 and "metrics.parquet was changed" in clean(out)


def test_config_a_then_b_then_a_without_snakemake_records_holds_a(work):
    """B's aggregation must remove A's record: else, back on A, Snakemake (without
    .snakemake/) found A's record present, ran nothing upstream, and B's tables stayed."""
    shutil.rmtree(work / ".snakemake")
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    del cfg["experiments"]["old"]
    write_config(work, cfg)
    b = json.loads(json.dumps(cfg))
    b["experiments"]["delta"]["training"]["epochs"] = 7
    write_config(work, b)
    snakemake(work, "--cores", "2")
    shutil.rmtree(work / ".snakemake")
    write_config(work, cfg)
    assert {"train_delta_block0", "aggregate_delta"} <= planned(work)
    snakemake(work, "--cores", "2")
    import pandas as pd

    assert pd.read_parquet(work / EXP / "metrics.parquet")["epoch"].max() == 5
    assert repgeom(work, "verify", "results").returncode == 0


def test_prune_never_opens_a_pipe_named_like_a_run_file(work):
    """A FIFO named weights.parquet in a stale run folder: opening it to read a proof would
    block forever; prune leaves it unopened and returns."""
    import os

    run = work / "results" / EXP / "runs" / "stale" / "seed=9"
    run.mkdir(parents=True)
    os.mkfifo(run / "weights.parquet")
    out = repgeom(work, "prune", "--delete", timeout=60)
    assert out.returncode == 0, clean(out)
    assert (run / "weights.parquet").exists()
