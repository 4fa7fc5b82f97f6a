from pathlib import Path

import pytest
import yaml

from repgeom.config import ConfigError, load_schema, validate
from repgeom.sweep import Sweep

ROOT = Path(__file__).parents[1]
SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")


def delta(**exp):
    """A configuration with one δ-task experiment named ``d``."""
    return {"experiments": {"d": {"family": "delta"} | exp}}


def test_repo_config_is_valid_and_defaults_fill():
    cfg = validate(yaml.safe_load((ROOT / "config.yaml").read_text()), SCHEMA)
    exp = cfg["experiments"]["delta"]
    assert exp["task"]["dim"] == 120 and exp["model"]["width"] == 120
    assert exp["evaluation"]["decoder"] == {"C": 1.0, "max_iter": 1000, "tol": 1e-4, "alpha": 1.0}
    assert exp["evaluation"]["decoders"][0] == "svm"
    assert exp["evaluation"]["protocols"][0] == "clean"
    empty = validate({}, SCHEMA)
    assert empty["experiments"]["delta"]["evaluation"]["decoders"] == ["svm"]
    assert empty["experiments"]["delta"]["evaluation"]["protocols"] == ["clean"]
    assert list(empty["experiments"]) == ["delta"]
    assert empty["experiments"]["delta"]["activations"] == ["tanh", "relu"]
    assert empty["training"]["snapshots"]["schedule"] == "log"


def test_settings_resolve_family_then_shared_then_experiment():
    cfg = validate(
        {
            "training": {"lr": 0.05, "threads": 2},
            "experiments": {
                "a": {"family": "delta"},
                "b": {"family": "delta", "training": {"epochs": 7, "snapshots": {"count": 3}}},
            },
        },
        SCHEMA,
    )
    a, b = cfg["experiments"]["a"], cfg["experiments"]["b"]
    assert a["training"]["epochs"] == 5000  # the family's (the paper's) default
    assert b["training"]["epochs"] == 7  # the experiment's own
    assert a["training"]["lr"] == b["training"]["lr"] == 0.05  # shared
    assert b["training"]["snapshots"] == {"schedule": "log", "count": 3, "every": 10}
    assert a["readouts"] == ["uniform"] and a["model"]["init"] == "uniform"


@pytest.mark.parametrize(
    ("config", "needles"),
    [
        (delta(activations=["tanh", 3]), ["experiments.d.activations[1]", "not of type"]),
        (delta(training={"epochs": -5}), ["experiments.d.training.epochs", "minimum of 1"]),
        ({"training": {"epochs": -5}}, ["'training.epochs'", "minimum of 1"]),
        (delta(axes={"delta": []}), ["experiments.d.axes.delta", "non-empty"]),
        (delta(seeds=[]), ["experiments.d.seeds", "non-empty list"]),
        ({"trainng": {"epochs": 5}}, ["'trainng' was unexpected", "allowed keys", "training"]),
        (delta(training={"momentum": 0.9}), ["experiments.d.training", "'momentum' was"]),
        (delta(readouts=["gaus"]), ["experiments.d.readouts[0]", "'uniform'", "'gauss'"]),
        ({"training": {"device": "tpu"}}, ["training.device", "'auto'", "'cuda'"]),
        (delta(axes={"sigma": [-0.1]}), ["experiments.d.axes.sigma[0]", "minimum of 0"]),
        (delta(axes={"delta": ["big"]}), ["experiments.d.axes.delta[0]", "not of type 'number'"]),
        (delta(axes={"d": [3]}), ["experiments.d.axes", "'d' was unexpected", "delta, sigma"]),
        ({"experiments": {"x": {"family": "cifar"}}}, ["experiments.x.family", "allowed: "]),
        ({"experiments": {"x": {}}}, ["experiments.x.family", "allowed: "]),
        ({"experiments": {}}, ["'experiments'", "non-empty"]),
        ({"experiments": {"E 2": {"family": "delta"}}}, ["'E 2' does not match"]),
        ({"sweep": {"deltas": [0.5]}}, ["'sweep'", "format changed", "experiments.<name>"]),
        ({"task": {"dim": 12}}, ["'task'", "experiments.<name>.task"]),
    ],
)
def test_bad_values_name_key_and_allowed(config, needles):
    with pytest.raises(ConfigError) as exc:
        validate(config, SCHEMA)
    for needle in needles:
        assert needle in str(exc.value)


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as exc:
        validate(delta(training={"epochs": 0}, activations=[1]), SCHEMA)
    assert "training.epochs" in str(exc.value) and "activations[0]" in str(exc.value)


def test_input_is_not_modified():
    cfg = delta(axes={"delta": ["1e-1"]})
    validate(cfg, SCHEMA)
    assert cfg == delta(axes={"delta": ["1e-1"]})


def test_float_spellings_map_to_one_path():
    # YAML 1.1 reads 1e-1 as a string; it must still mean 0.1
    spellings = yaml.safe_load("a: [1e-1, 0.1, 0.10, 1.0e-1]")["a"]
    assert spellings[0] == "1e-1"
    paths = set()
    for s in spellings:
        exp = Sweep(validate(delta(axes={"delta": [s], "sigma": [s]}), SCHEMA)).experiments["d"]
        paths.add(exp.run_file(exp.cells[0], 0, "weights.parquet"))
    assert len(paths) == 1
    assert "sigma=0.1/delta=0.1/seed=0" in paths.pop()


def test_spellings_of_one_setting_never_rerun_a_stage():
    """Every record that decides whether a stage reruns (the job and experiment-wide recipe
    hashes) is the same for any spelling of the same numbers and names."""

    def records(**kw):
        exp = Sweep(validate(delta(**kw), SCHEMA)).experiments["d"]
        stages = ("aggregate", "claims", "figures")
        return [exp.stage_manifest(s) for s in stages] + [
            exp.manifest(b, stage, job)
            for b in exp.blocks
            for job in exp.job_cells()
            for stage in ("train", "evaluate")
        ]

    plain = records(
        activations=["relu_bias+0.5", "shifted_relu_s-1"], architectures=["shallow"],
        axes={"delta": [0.5, 1], "sigma": [0.1]}, training={"epochs": 200},
    )  # fmt: skip
    respelt = records(
        activations=["relu_bias+.50", "shifted_relu_s-1e0"], architectures=["mlp1"],
        axes={"delta": ["5e-1", 1.0], "sigma": ["1e-1"]}, training={"epochs": "2e2"},
    )  # fmt: skip
    assert plain == respelt


def test_seeds_as_count_or_list():
    assert Sweep(validate(delta(seeds=3), SCHEMA)).experiments["d"].seeds == [0, 1, 2]
    assert Sweep(validate(delta(seeds=[5, 2]), SCHEMA)).experiments["d"].seeds == [2, 5]


def _leaf_keys(schema, prefix=""):
    for key, sub in schema.get("properties", {}).items():
        if "properties" in sub:
            yield from _leaf_keys(sub, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def _documented_schemas():
    """(prefix, schema) of every part of the configuration a user writes."""
    from repgeom.config import experiment_schema
    from repgeom.tasks import FAMILIES

    yield "", SCHEMA
    for fam in FAMILIES.values():
        exp = experiment_schema(SCHEMA, fam)
        shared = {k: v for k, v in exp["properties"].items() if k not in ("axes", "task")}
        yield "experiments.<name>.", {"properties": shared}
        yield "axes.", exp["properties"]["axes"]  # documented per family as `axes.<key>`
        yield "task.", exp["properties"]["task"]


def test_readme_documents_every_config_key():
    readme = (ROOT / "README.md").read_text()
    missing = [
        f"{prefix}{k}"
        for prefix, schema in _documented_schemas()
        for k in _leaf_keys(schema)
        if f"`{prefix.removeprefix('experiments.<name>.')}{k}`" not in readme
    ]
    assert not missing, f"README lacks config keys: {missing}"


def test_every_schema_key_has_a_description():
    def walk(schema, path):
        for key, sub in schema.get("properties", {}).items():
            assert sub.get("description"), f"{path}{key}"
            walk(sub, f"{path}{key}.")

    for prefix, schema in _documented_schemas():
        walk(schema, prefix)
