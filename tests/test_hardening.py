"""Hostile but realistic use of finished results: tampering between steps, results moved or
renamed, interrupted and repeated prunes, and folders full of things repgeom did not make.

Each case must end in the right behaviour or one clear message naming the file and the fix:
never a traceback, never a deleted file that repgeom did not write, never a stale result read
as current. Configuration values have their own battery (test_config_hardening.py)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import snakemake_cmd

from repgeom import manifests, prune

pytestmark = pytest.mark.workflow

MICRO = {
    "experiments": {
        "delta": {
            "family": "delta",
            "seeds": [0, 1],
            "activations": ["tanh"],
            "axes": {"delta": [0.5], "sigma": [0.1]},
            "task": {"dim": 6, "n_train": 100, "n_test": 50},
            "model": {"width": 4},
            "training": {"epochs": 5, "snapshots": {"schedule": "log", "count": 2}},
        },
    },
    "training": {"runs_per_job": 1},
    "figures": {"formats": ["png"]},
}
# an experiment that a later configuration drops (prune's "other experiments")
MICRO["experiments"]["old"] = MICRO["experiments"]["delta"] | {"seeds": [0]}
EXP = "results/delta"


def snakemake(workdir, *args, check=True):
    proc = subprocess.run(
        snakemake_cmd(workdir) + list(args), capture_output=True, text=True, timeout=600
    )
    if check and proc.returncode:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def repgeom(workdir, *args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "repgeom", *args],
        capture_output=True,
        text=True,
        cwd=workdir,
        timeout=timeout,
    )


def planned(workdir) -> set[str]:
    """The rules `snakemake -n` would run (without counts)."""
    out = snakemake(workdir, "-n", "--quiet", "rules").stdout
    rules = set()
    for line in out.splitlines():
        words = line.split()
        if len(words) == 2 and words[1].isdigit():
            if words[0] == "total":
                break
            rules.add(words[0])
    return rules - {"all"}


def write_config(workdir, cfg):
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("micro")
    write_config(workdir, MICRO)
    snakemake(workdir, "--cores", "2")
    return workdir


@pytest.fixture
def work(made, tmp_path):
    """A private copy of the finished micro workflow (Snakemake's records included)."""
    dst = tmp_path / "wf"
    shutil.copytree(made, dst, symlinks=True)
    return dst


def clean(proc) -> str:
    """The command's whole output, after checking it holds no traceback."""
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text
    return text


def keep_mtime(path: Path, write):
    stat = path.stat()
    write(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


# --------------------------------------------------------------------------- stale results


def test_claims_overwritten_with_the_mtime_kept_are_refused(work):
    claims = work / EXP / "claims.parquet"
    df = pd.read_parquet(claims)
    keep_mtime(claims, lambda p: df.assign(verdict="supported").to_parquet(p))
    out = repgeom(work, "claims", "results")
    text = clean(out)
    assert out.returncode == 1
    assert f"{EXP}/claims.parquet was changed after it was written" in text
    assert "run the workflow again" in text
    assert "supported" not in out.stdout
    verify = repgeom(work, "verify", "results")
    assert verify.returncode == 1 and "claims.parquet was changed" in clean(verify)


def test_a_claims_tsv_edited_is_named_by_verify(work):
    tsv = work / EXP / "claims.tsv"
    keep_mtime(tsv, lambda p: p.write_text(p.read_text() + "extra\tsupported\n"))
    out = repgeom(work, "verify", "results")
    assert out.returncode == 1 and "claims.tsv was changed" in clean(out)


def test_a_figure_replaced_is_named_by_verify(work):
    fig = work / EXP / "figures/over_training.png"
    keep_mtime(fig, lambda p: p.write_bytes(p.read_bytes()[:-10]))
    out = repgeom(work, "verify", "results")
    assert out.returncode == 1 and "figures/over_training.png was changed" in clean(out)


def test_verify_passes_on_untouched_results(work):
    out = repgeom(work, "verify", "results")
    assert out.returncode == 0, out.stderr
    assert f"{EXP}: verified 3 tables, 2 runs, 8 run files, 3 claims files, 1 figures" in out.stdout


def test_results_moved_without_snakemake_records_retrain_on_a_changed_setting(work, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(work, moved, ignore=shutil.ignore_patterns(".snakemake"))  # mtimes kept
    assert planned(moved) == set()
    cfg = yaml.safe_load((moved / "config.yaml").read_text())
    cfg["experiments"]["delta"]["training"]["epochs"] = 6
    write_config(moved, cfg)
    assert {"train_delta_block0", "train_delta_block1", "aggregate_delta"} <= planned(moved)
    snakemake(moved, "--cores", "2")
    meta = pd.read_parquet(moved / EXP / "metrics.parquet")
    assert meta["epoch"].max() == 6  # the tables hold the new runs, not the old ones
    assert planned(moved) == set()


def test_a_sweep_shrunk_without_snakemake_records_reaggregates(work, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(work, moved, ignore=shutil.ignore_patterns(".snakemake"))
    cfg = yaml.safe_load((moved / "config.yaml").read_text())
    cfg["experiments"]["delta"]["seeds"] = [0]
    write_config(moved, cfg)
    assert planned(moved) == {
        "aggregate_delta",
        "claims_delta",
        "figures_delta",
        "report_delta",
    }
    snakemake(moved, "--cores", "2")
    assert set(pd.read_parquet(moved / EXP / "metrics.parquet")["seed"]) == {0}


def test_a_figure_setting_changed_without_snakemake_records_redraws(work, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(work, moved, ignore=shutil.ignore_patterns(".snakemake"))
    cfg = yaml.safe_load((moved / "config.yaml").read_text())
    cfg["figures"]["dpi"] = 90
    write_config(moved, cfg)
    assert planned(moved) == {"figures_delta", "figures_old", "report_delta", "report_old"}


def test_a_renamed_results_folder_reads_and_plans_nothing(work):
    (work / "results").rename(work / "results2")
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    write_config(work, cfg | {"results_dir": "results2"})
    head = repgeom(work, "headline", "results2")
    assert head.returncode == 0, head.stderr
    assert "== delta (delta): 2 runs" in head.stdout
    assert repgeom(work, "verify", "results2").returncode == 0
    assert repgeom(work.parent, "headline", "wf/results2").returncode == 0  # from elsewhere


def test_a_job_manifest_of_another_configuration_is_invalidated(work):
    """Config A, then B, then A again: A's manifests must not vouch for B's files."""
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    changed = json.loads(json.dumps(cfg))
    changed["experiments"]["delta"]["training"]["lr"] = 0.05
    write_config(work, changed)
    snakemake(work, "--cores", "2")
    write_config(work, cfg)
    assert {"train_delta_block0", "train_delta_block1"} <= planned(work)
    snakemake(work, "--cores", "2")
    assert repgeom(work, "verify", "results").returncode == 0


# --------------------------------------------------------------------------- tampered files


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        ("weights_deleted", "weights.parquet is missing"),
        ("manifest_not_json", "manifest.json is damaged"),
        ("manifest_empty", "manifest.json is damaged"),
        ("manifest_list", "manifest.json is not a manifest written by repgeom"),
        ("manifest_lacks_files", "manifest.json is damaged (lacks files)"),
        ("manifest_lacks_table", "does not list dichotomies.parquet"),
        ("job_manifest_emptied", ".train.json is damaged"),
        ("metrics_truncated", "metrics.parquet was changed after it was written"),
        ("run_metrics_truncated", None),  # headline reads the tables only: still fine
    ],
)
def test_tampered_results_give_one_message_naming_the_file(work, damage, needle):
    exp = work / EXP
    man = exp / "manifest.json"
    run = Path(manifests.current_run_files(exp, "weights.parquet")[0])
    job = next((exp / "jobs").rglob("block0-*.train.json"))
    doc = json.loads(man.read_text())
    {
        "weights_deleted": lambda: run.unlink(),
        "manifest_not_json": lambda: man.write_text("{not json"),
        "manifest_empty": lambda: man.write_text(""),
        "manifest_list": lambda: man.write_text("[1, 2]"),
        "manifest_lacks_files": lambda: man.write_text(
            json.dumps({k: v for k, v in doc.items() if k != "files"})
        ),
        "manifest_lacks_table": lambda: man.write_text(
            json.dumps(doc | {"files": {"metrics.parquet": doc["files"]["metrics.parquet"]}})
        ),
        "job_manifest_emptied": lambda: job.write_text(""),
        "metrics_truncated": lambda: (exp / "metrics.parquet").write_bytes(b"PAR1"),
        "run_metrics_truncated": lambda: run.with_name("metrics.parquet").write_bytes(b"x"),
    }[damage]()
    out = repgeom(work, "headline", "results")
    text = clean(out)
    if needle is None:
        assert out.returncode == 0
        verify = repgeom(work, "verify", "results")
        assert verify.returncode == 1 and "metrics.parquet was changed" in clean(verify)
        return
    assert out.returncode == 1, text
    assert needle in text
    assert "run the workflow again" in text or "delete" in text


def test_an_emptied_job_manifest_stops_the_next_job_with_the_fix(work):
    job = next((work / EXP / "jobs").rglob("block0-*.train.json"))
    job.write_text("")
    for m in job.parent.glob("block0-*.evaluate.json"):
        m.unlink()
    proc = snakemake(work, "--cores", "1", check=False)
    assert proc.returncode != 0
    log = next((work / EXP / "logs/evaluate").glob("*block0*.log")).read_text()
    assert f"{job.relative_to(work)} is damaged" in log and "Traceback" not in log
    advice = re.search(r"delete (\S+) and (\S+), then run the workflow again", log)
    assert advice and advice.group(1) == str(job.relative_to(work)), log
    for path in advice.groups():  # the advice, to the letter
        (work / path).unlink()
    snakemake(work, "--cores", "1")
    assert repgeom(work, "verify", "results").returncode == 0


def test_foreign_and_odd_manifests_under_results_are_skipped_with_a_note(work):
    (work / "results/webapp").mkdir()
    (work / "results/webapp/manifest.json").write_text('{"name": "my web app"}')
    (work / "results/odd/manifest.json").mkdir(parents=True)
    for command in ("headline", "claims", "effects", "verify"):
        out = repgeom(work, command, "results")
        text = clean(out)
        assert out.returncode == 0, text
        assert "skipped results/webapp" in text
    assert (work / "results/webapp/manifest.json").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["headline", "nowhere"], "nowhere is not a folder"),
        (["claims", "config.yaml"], "config.yaml is not a folder"),
        (["verify", "logs"], "not a folder"),
        (["headline", "."], "no aggregated experiment"),
        (["prune", "--configfile", "missing.yaml"], "missing.yaml"),
        (["prune", "--directory", "config.yaml"], "is not a folder"),
    ],
)
def test_cli_arguments_that_name_nothing_get_a_message(work, args, needle):
    out = repgeom(work, *args)
    text = clean(out)
    assert out.returncode == 2 and needle in text


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("experiments: {a: [unclosed", "broken.yaml, line 1"),
        ("- a\n- b\n", "broken.yaml"),
        ("training: {epochs: 3}\ntraining: {epochs: 4}\n", "'training' appears twice"),
        ("training: {epochs: 3.5}\n", "training.epochs"),
    ],
)
def test_prune_with_a_broken_configfile_gets_a_message(work, text, needle):
    (work / "broken.yaml").write_text(text)
    out = repgeom(work, "prune", "--configfile", "broken.yaml")
    assert out.returncode == 2 and needle in clean(out)


# --------------------------------------------------------------------------- prune safety


def _shrink(work: Path, rerun: bool = True) -> None:
    """The sweep shrunk from 2 seeds to 1 and the experiment `old` dropped (and the workflow
    run on it, unless ``rerun`` is false)."""
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    cfg["experiments"]["delta"]["seeds"] = [0]
    del cfg["experiments"]["old"]  # another configuration's experiment now
    write_config(work, cfg)
    if rerun:
        snakemake(work, "--cores", "2")


def _hostile_tree(work: Path, rerun: bool = True) -> dict[str, Path]:
    """What the hardening issue's user left in the results: files of their own among
    repgeom's, copies, links and a web app, after shrinking the sweep from 2 seeds to 1."""
    exp = work / EXP
    seed0 = next((exp / "runs").rglob("seed=0"))
    seed1 = seed0.with_name("seed=1")
    elsewhere = work / "elsewhere"
    shutil.copytree(seed0, elsewhere)
    paths = {
        "diagram": exp / "jobs/block_diagram.png",
        "draft": exp / ".draft.tmp-1",
        "backup": exp / "runs/backup/seed=0",
        "webapp": work / "results/webapp/manifest.json",
        "webapp_page": work / "results/webapp/index.html",
        "notes": seed1 / "my_notes.txt",
        "link": seed0.with_name("seed=7"),
        "elsewhere": elsewhere / "weights.parquet",
        "user_in_jobs": next((exp / "jobs").rglob("block0-*.train.json")).with_name("notes.json"),
        "our_temporary": seed1 / ".weights.parquet.tmp-4242",
        "foreign_temporary": seed0 / ".my.csv.tmp-3",
        "other_readme": work / "results/old/README.txt",
        "copy": work / "results/copy/manifest.json",
        "notes_root": work / "results/notes/runs/x.txt",
    }
    paths["diagram"].write_bytes(b"png")
    paths["draft"].write_text("draft")
    shutil.copytree(seed0, paths["backup"])
    paths["webapp"].parent.mkdir(parents=True)
    paths["webapp"].write_text(json.dumps({"files": {}, "schema_version": "1"}))
    paths["webapp_page"].write_text("<html/>")
    paths["notes"].write_text("seed 1 diverged, see notebook")
    paths["link"].symlink_to(elsewhere, target_is_directory=True)
    paths["user_in_jobs"].write_text("{}")
    paths["our_temporary"].write_bytes(b"half")
    paths["foreign_temporary"].write_bytes(b"mine")
    shutil.copytree(exp, work / "results/copy")  # a user's copy of an experiment
    paths["other_readme"].write_text("keep me")
    paths["notes_root"].parent.mkdir(parents=True)
    paths["notes_root"].write_text("x")
    _shrink(work, rerun)
    return paths


def test_prune_deletes_only_what_repgeom_made(work):
    paths = _hostile_tree(work)
    seed1 = paths["notes"].parent
    listing = repgeom(work, "prune")
    text = clean(listing)
    assert listing.returncode == 0, text
    for needle in (
        "1 run folders (4 files",
        # block 1's training and evaluation (the rerun's aggregation, claims and figures
        # removed the records of 2 seeds themselves: they no longer vouch for any file)
        "2 job manifests and checkpoints",
        "paths left in place:",
        "1 temporaries of killed writers",
        "1 experiment folders this configuration does not name",
        "my_notes.txt: not written by repgeom",
        "seed=7: a symbolic link: prune never follows links",
        "nothing removed",
    ):
        assert needle in text, text
    assert "results/old" in text
    for foreign in ("webapp", "block_diagram", "backup", "results/copy", "draft"):
        assert foreign not in text, foreign

    removed = repgeom(work, "prune", "--delete", "--other-experiments")
    text = clean(removed)
    assert removed.returncode == 0, text
    for name, p in paths.items():
        if name != "our_temporary":
            assert p.exists() or p.is_symlink(), f"{name}: {p} was deleted"
    assert not paths["our_temporary"].exists()
    assert sorted(f.name for f in seed1.iterdir()) == ["my_notes.txt"]
    assert sorted(f.name for f in (work / "results/old").iterdir()) == ["README.txt"]
    assert (work / "elsewhere/metrics.parquet").exists()  # never followed the link
    assert planned(work) == set()  # nothing of the sweep was touched
    again = repgeom(work, "prune", "--delete", "--other-experiments")
    assert again.returncode == 0 and "everything repgeom made there belongs" in clean(again)


def test_prune_keeps_what_the_last_aggregation_reads_until_the_workflow_ran(work):
    _shrink(work, rerun=False)
    out = repgeom(work, "prune", "--delete")
    text = clean(out)
    assert out.returncode == 0 and "used by the last aggregation" in text, text
    assert "run folders" not in text  # seed 1 is still in the tables: kept
    head = repgeom(work, "headline", "results")
    assert head.returncode == 0 and "2 runs" in head.stdout, clean(head)
    snakemake(work, "--cores", "2")
    out = repgeom(work, "prune", "--delete")
    assert "1 run folders (4 files" in clean(out) and "removed 6 files" in out.stdout, out.stdout
    assert repgeom(work, "verify", "results").returncode == 0


def test_prune_interrupted_half_way_is_finished_by_the_next(work, monkeypatch):
    _hostile_tree(work)
    monkeypatch.chdir(work)
    sweep = prune.Sweep(prune.load_config([]))
    plan = prune.find_stale(sweep)
    files = plan.files(other_experiments=True)
    assert files and files[-1].name in ("manifest.json",) or files[-1].suffix == ".json"
    real_unlink = Path.unlink
    calls = {"n": 0}

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > len(files) // 2:
            raise PermissionError(13, "Permission denied")
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", failing)
    n, problems = prune.delete(plan, other_experiments=True)
    assert 0 < n < len(files) and len(problems) == len(files) - n
    monkeypatch.setattr(Path, "unlink", real_unlink)
    rest = prune.find_stale(sweep)  # what is left still proves itself
    assert sorted(rest.files(other_experiments=True)) == sorted(files[n:])
    n2, problems = prune.delete(rest, other_experiments=True)
    assert n2 == len(files) - n and not problems
    assert not prune.find_stale(sweep) and not prune.find_stale(sweep).other_experiments


def test_prune_never_removes_a_folder_a_link_points_into(work):
    exp = work / EXP
    outside = work / "outside"
    outside.mkdir()
    (outside / "data.csv").write_text("1,2")
    (exp / "runs" / "linked").symlink_to(outside, target_is_directory=True)
    (work / "results/linked_exp").symlink_to(exp, target_is_directory=True)
    out = repgeom(work, "prune", "--delete", "--other-experiments")
    assert out.returncode == 0, clean(out)
    assert (outside / "data.csv").exists() and (exp / "runs/linked").is_symlink()
    assert (work / "results/linked_exp").is_symlink()
    assert planned(work) == set()
