"""Manifests: relative paths, recipes in names, and one clear error for every kind of damage."""

import json
import re
import shutil

import pyarrow as pa
import pytest

from repgeom import manifests as mf
from repgeom import storage
from repgeom.sweep import Sweep


def _job(tmp_path, name="block0-0123456789ab.train.json"):
    exp = tmp_path / "results/e"
    run = exp / "runs/arch=shallow/seed=0"
    files = [run / "a.parquet", run / "b.parquet"]
    for f in files:
        storage.write_parquet(pa.table({"x": [1.0, 2.0]}), f, {})
    manifest = exp / "jobs/arch=shallow" / name
    mf.write_manifest(manifest, files, stage="train", experiment="e", made_from={"runs": [1]})
    return exp, manifest, files


def test_a_manifest_lists_paths_relative_to_its_experiment(tmp_path):
    exp, manifest, files = _job(tmp_path)
    doc = json.loads(manifest.read_text())
    assert list(doc["files"]) == [
        "runs/arch=shallow/seed=0/a.parquet",
        "runs/arch=shallow/seed=0/b.parquet",
    ]
    assert doc["made_by"] == "repgeom" and doc["recipe"] == mf.recipe_hash({"runs": [1]})
    assert mf.verified_files(manifest) == [str(f) for f in files]
    assert not list(manifest.parent.glob(".*tmp*"))  # written atomically
    moved = tmp_path / "elsewhere/e"
    shutil.move(exp, moved)  # a renamed or moved results folder still verifies
    assert len(mf.verified_files(moved / manifest.relative_to(exp))) == 2


def test_missing_and_altered_files_are_named_with_the_fix(tmp_path):
    exp, manifest, (a, b) = _job(tmp_path)
    b.write_bytes(b.read_bytes()[:-10])  # truncated after it was written
    with pytest.raises(mf.ManifestError, match=f"{b} was changed after it was written"):
        mf.verified_files(manifest)
    b.unlink()
    with pytest.raises(mf.ManifestError, match=f"{b} is missing.*delete {manifest} and"):
        mf.verified_files(manifest)
    b.mkdir()
    with pytest.raises(mf.ManifestError, match=f"{b} is not a file"):
        mf.verified_files(manifest)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("", "is damaged"),
        ("{not json", "is damaged"),
        ("[1, 2]", "is not a manifest written by repgeom"),
        ('{"name": "web app"}', "is not a manifest written by repgeom"),
        ('{"schema_version": "3", "files": {}}', "older repgeom (manifest format 1)"),
        ('{"made_by": "repgeom", "format": 2}', "is damaged (lacks files, recipe, experiment)"),
        (
            '{"made_by": "repgeom", "format": 2, "recipe": "x", "experiment": "e", "files": [1]}',
            "has entries of another format",
        ),
        (
            '{"made_by": "repgeom", "format": 9, "recipe": "x", "experiment": "e", "files": {}}',
            "has entries of another format",
        ),
        (b"\xff\xfe\x00", "is damaged"),
    ],
)
def test_a_damaged_manifest_is_named(tmp_path, content, needle):
    _, manifest, _ = _job(tmp_path)
    if isinstance(content, bytes):
        manifest.write_bytes(content)
    else:
        manifest.write_text(content)
    with pytest.raises(mf.ManifestError, match=re.escape(needle)):
        mf.read_manifest(manifest)


def test_a_folder_where_a_manifest_belongs_is_named(tmp_path):
    (tmp_path / "jobs/block0-0123456789ab.train.json").mkdir(parents=True)
    with pytest.raises(mf.ManifestError, match="is not a file"):
        mf.read_manifest(tmp_path / "jobs/block0-0123456789ab.train.json")


def test_recipe_hash_is_canonical():
    assert mf.recipe_hash({"a": 1, "b": [0.1]}) == mf.recipe_hash({"b": [0.1], "a": 1})
    assert mf.recipe_hash({"a": 1}) != mf.recipe_hash({"a": 2})
    assert len(mf.recipe_hash({})) == mf.RECIPE_DIGITS
    with pytest.raises(ValueError):
        mf.recipe_hash({"a": float("nan")})


def test_check_name_refuses_a_manifest_of_another_recipe(tmp_path):
    made_from = {"runs": [1]}
    mf.check_name(f"x/block0-{mf.recipe_hash(made_from)}.train.json", made_from)
    with pytest.raises(ValueError, match="does not carry the recipe hash"):
        mf.check_name("x/block0-0123456789ab.train.json", made_from)


def test_invalidate_removes_the_blocks_other_manifests_only(tmp_path):
    _, manifest, _ = _job(tmp_path)
    folder = manifest.parent
    for name in (
        "block0-aaaaaaaaaaaa.train.json",
        "block0-bbbbbbbbbbbb.evaluate.json",
        "block1-cccccccccccc.train.json",
        "block0.notes.json",
    ):
        (folder / name).write_text("{}")
    gone = mf.invalidate(manifest)
    assert sorted(p.name for p in gone) == [
        "block0-aaaaaaaaaaaa.train.json",
        "block0-bbbbbbbbbbbb.evaluate.json",
    ]
    assert sorted(p.name for p in folder.iterdir()) == [
        "block0-0123456789ab.train.json",
        "block0.notes.json",
        "block1-cccccccccccc.train.json",
    ]


def _sweep(**exp):
    base = {
        "family": "delta",
        "seeds": [0, 1],
        "activations": ["tanh"],
        "architectures": ["shallow"],
        "readouts": ["uniform"],
        "axes": {"delta": [0.5], "sigma": [0.1]},
        "task": {"data_seed": None, "dim": 6},
        "model": {"width": 4, "init": "uniform", "train_output_bias": True},
        "training": {"epochs": 5, "runs_per_job": 1},
        "evaluation": {"decoders": ["svm"], "protocols": ["clean"]},
        "figures": {"dpi": 100},
    }
    cfg = {"results_dir": "results", "experiments": {"d": base | exp}}
    return Sweep(cfg).experiments["d"]


def test_manifest_names_follow_the_recipe():
    exp = _sweep()
    job = {"arch": "shallow", "act": "tanh", "readout": "uniform", "sigma": "0.1", "delta": "0.5"}
    train = exp.manifest(exp.blocks[0], "train", job)
    assert train == exp.manifest(exp.blocks[0], "train", job)  # stable
    assert f"-{mf.recipe_hash(exp.recipe(job, exp.blocks[0], 'train'))}.train.json" in train
    other = _sweep(training={"epochs": 6, "runs_per_job": 1})
    assert other.manifest(other.blocks[0], "train", job) != train
    evaluated = _sweep(evaluation={"decoders": ["ridge"], "protocols": ["clean"]})
    assert evaluated.manifest(evaluated.blocks[0], "train", job) == train  # no retraining
    assert evaluated.manifest(evaluated.blocks[0], "evaluate", job) != exp.manifest(
        exp.blocks[0], "evaluate", job
    )
    assert exp.stage_manifest("aggregate") != _sweep(seeds=[0]).stage_manifest("aggregate")
    redrawn = _sweep(figures={"dpi": 200})
    assert redrawn.stage_manifest("aggregate") == exp.stage_manifest("aggregate")
    assert redrawn.stage_manifest("figures") != exp.stage_manifest("figures")
    assert redrawn.stage_manifest("claims") == exp.stage_manifest("claims")
    # the overview page shows the figures and the claims: it follows both
    assert redrawn.stage_manifest("report") != exp.stage_manifest("report")
    assert _sweep(seeds=[0]).stage_manifest("report") != exp.stage_manifest("report")
    assert mf.STAGE_NAME.match(exp.stage_manifest("report").rsplit("/", 1)[1])
