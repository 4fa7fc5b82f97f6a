"""The contract every registered task family passes (a new family adds its example here).

Each family's task, built from a cell of its default axes, gives consistent shapes, a loss the
trainer knows, balanced named dichotomies, deterministic samples of the declared input kind,
and a task alignment equal to the linear CKA of its own kernel inputs.
"""

import numpy as np
import pytest

from repgeom.losses import LOSSES
from repgeom.metrics import linear_cka
from repgeom.networks import INPUTS
from repgeom.samples import make_datasets, training_samples
from repgeom.tasks import FAMILIES, get_family


def _task_cfg(name: str, tmp_path) -> dict:
    """A run's task configuration of family ``name``: its first default cell, small sizes."""
    fam = get_family(name)
    schema_defaults = {k: v["default"] for k, v in fam.task_schema.items() if "default" in v}
    cell = fam.expand(
        {k: v["default"] for k, v in fam.axes_schema["properties"].items() if "default" in v}
    )[0]
    cfg = {"family": name, "data_seed": 3, "n_train": 40, "n_test": 20}
    cfg |= schema_defaults | cell
    if name == "cifar10":
        from repgeom.datasets import cifar10

        cifar10.tiny(tmp_path / "tiny", n_per_class=4, seed=0)
        cfg |= {"data_dir": str(tmp_path / "tiny"), "n_train": 40, "n_test": 20}
    return cfg


def test_every_family_has_an_example():
    assert set(FAMILIES) == {"delta", "alignment", "cifar10", "unstructured"}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_task_family_contract(name, tmp_path):
    fam = get_family(name)
    cfg = _task_cfg(name, tmp_path)
    task = fam.build(cfg)
    C, K = task.target.shape
    assert C == task.n_conditions and K >= 1 and set(np.unique(task.target)) <= {0, 1}
    assert task.loss in LOSSES and fam.inputs in INPUTS
    assert len(task.input_shape) == (1 if fam.inputs == "vector" else 3)
    for lab in task.dichotomies.values():
        assert lab.shape == (C,) and lab.sum() * 2 == C  # balanced
    assert task.shattering_dichotomies.shape[1] == C
    cond, x = training_samples(cfg, task)
    again = training_samples(cfg, fam.build(cfg))
    assert np.array_equal(cond, again[0]) and np.array_equal(x, again[1])  # deterministic
    assert x.shape == (len(cond), *task.input_shape) and x.dtype == np.float32
    assert cond.min() >= 0 and cond.max() < C
    sets = make_datasets(cfg, 1.0, task)
    assert {"train", "test"} <= set(sets)
    kx, X, Y = task.kernel_inputs()
    assert kx.shape[1:] == task.input_shape and len(kx) == len(X) == len(Y)
    assert task.alignment == pytest.approx(float(linear_cka(X, Y)), abs=1e-9)
    assert 0 <= task.alignment <= 1 + 1e-12


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_schema_has_defaults_and_descriptions(name):
    fam = get_family(name)
    for key, schema in {**fam.task_schema, **fam.axes_schema["properties"]}.items():
        assert "description" in schema, (name, key)
    assert "clean" in fam.protocols
