from pathlib import Path

import pytest
import yaml

from repgeom.config import ConfigError, load_schema, validate
from repgeom.sweep import Sweep

ROOT = Path(__file__).parents[1]
SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")


def test_repo_config_is_valid_and_defaults_fill():
    cfg = validate(yaml.safe_load((ROOT / "config.yaml").read_text()), SCHEMA)
    assert cfg["task"]["dim"] == 120 and cfg["model"]["width"] == 120
    assert cfg["evaluation"]["decoder"] == {
        "kind": "svm",
        "solver": "liblinear",
        "C": 1.0,
        "max_iter": 1000,
        "tol": 1e-4,
    }
    empty = validate({}, SCHEMA)
    assert empty["sweep"]["activations"] == ["tanh", "relu"]
    assert empty["training"]["snapshots"]["schedule"] == "log"


@pytest.mark.parametrize(
    ("config", "needles"),
    [
        (
            {"sweep": {"activations": ["tanh", "gelu"]}},
            ["sweep.activations[1]", "'tanh'", "'relu'"],
        ),
        ({"training": {"epochs": -5}}, ["training.epochs", "minimum of 1"]),
        ({"sweep": {"deltas": []}}, ["sweep.deltas", "non-empty"]),
        ({"sweep": {"seeds": []}}, ["sweep.seeds", "non-empty list"]),
        ({"trainng": {"epochs": 5}}, ["'trainng' was unexpected", "allowed keys", "training"]),
        ({"training": {"lr": 0.1, "momentum": 0.9}}, ["training", "'momentum' was unexpected"]),
        ({"sweep": {"readouts": ["gauss"]}}, ["sweep.readouts[0]", "'uniform'", "'balanced'"]),
        ({"training": {"device": "tpu"}}, ["training.device", "'auto'", "'cuda'"]),
        ({"sweep": {"sigmas": [-0.1]}}, ["sweep.sigmas[0]", "minimum of 0"]),
        ({"sweep": {"deltas": ["big"]}}, ["sweep.deltas[0]", "not of type 'number'"]),
    ],
)
def test_bad_values_name_key_and_allowed(config, needles):
    with pytest.raises(ConfigError) as exc:
        validate(config, SCHEMA)
    for needle in needles:
        assert needle in str(exc.value)


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as exc:
        validate({"training": {"epochs": 0}, "sweep": {"activations": ["x"]}}, SCHEMA)
    assert "training.epochs" in str(exc.value) and "sweep.activations" in str(exc.value)


def test_input_is_not_modified():
    cfg = {"sweep": {"deltas": ["1e-1"]}}
    validate(cfg, SCHEMA)
    assert cfg == {"sweep": {"deltas": ["1e-1"]}}


def test_float_spellings_map_to_one_path():
    # YAML 1.1 reads 1e-1 as a string; it must still mean 0.1
    spellings = yaml.safe_load("a: [1e-1, 0.1, 0.10, 1.0e-1]")["a"]
    assert spellings[0] == "1e-1"
    paths = set()
    for s in spellings:
        cfg = validate({"sweep": {"deltas": [s], "sigmas": [s]}}, SCHEMA)
        sw = Sweep(cfg)
        paths.add(sw.run_file(sw.cells[0], 0, "weights.parquet"))
    assert len(paths) == 1
    assert "sigma=0.1/delta=0.1/seed=0" in paths.pop()


def test_seeds_as_count_or_list():
    assert Sweep(validate({"sweep": {"seeds": 3}}, SCHEMA)).seeds == [0, 1, 2]
    assert Sweep(validate({"sweep": {"seeds": [5, 2]}}, SCHEMA)).seeds == [2, 5]


def _leaf_keys(schema, prefix=""):
    for key, sub in schema.get("properties", {}).items():
        if "properties" in sub:
            yield from _leaf_keys(sub, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_readme_documents_every_config_key():
    readme = (ROOT / "README.md").read_text()
    missing = [k for k in _leaf_keys(SCHEMA) if f"`{k}`" not in readme]
    assert not missing, f"README lacks config keys: {missing}"


def test_every_schema_key_has_a_description():
    def walk(schema, path):
        for key, sub in schema.get("properties", {}).items():
            assert sub.get("description"), f"{path}{key}"
            walk(sub, f"{path}{key}.")

    walk(SCHEMA, "")
