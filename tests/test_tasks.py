import numpy as np
import pytest

from repgeom.metrics import linear_cka
from repgeom.tasks import data_rng
from repgeom.tasks.delta import (
    DeltaTask,
    condition_bits,
    delta_dichotomies,
    disjoint_unit_vectors,
    task_alignment,
)


def test_condition_bits_match_spec():
    b1, b2 = condition_bits()
    assert list(zip(b1, b2, strict=True)) == [(1, 1), (0, 1), (1, 0), (0, 0)]


def test_dichotomies_match_spec():
    d = delta_dichotomies()
    assert np.flatnonzero(d["xor"]).tolist() == [1, 2]  # XOR positive for c ∈ {1, 2}
    assert np.flatnonzero(d["b1"]).tolist() == [0, 2]  # b1: {0,2} | {1,3}
    assert np.flatnonzero(d["b2"]).tolist() == [0, 1]  # b2: {0,1} | {2,3}


@pytest.mark.parametrize("delta", np.linspace(0, 1, 21))
def test_task_alignment_closed_form(delta):
    task = DeltaTask(delta=delta, sigma=0.1)
    got = linear_cka(task.means, task.target.astype(float))
    assert got == pytest.approx(delta**2 / np.sqrt(2 + delta**4), abs=1e-12)
    assert task_alignment(delta) == pytest.approx(got, abs=1e-12)


def test_anchor_values():
    assert task_alignment(0.5) == pytest.approx(0.174, abs=1e-3)
    assert task_alignment(1.0) == pytest.approx(1 / np.sqrt(3))


def test_means_geometry():
    task = DeltaTask(delta=0.5, sigma=0.1, dim=120)
    a = np.sqrt(40)
    assert np.linalg.norm(task.means, axis=1) == pytest.approx(np.full(4, a * np.sqrt(2 + 0.25)))
    u = task.directions
    # disjoint supports of width dim/3, unit norm, non-negative entries
    assert np.allclose(u @ u.T, np.eye(3))
    for j in range(3):
        support = np.flatnonzero(u[j])
        assert support.min() == 40 * j and support.max() == 40 * j + 39
    assert (u >= 0).all()
    # codes: x̄_c = a (s1 u1 + s2 u2 + δ s3 u3), s3 = −s1 s2
    codes = task.means @ u.T / a
    assert np.allclose(codes, [[1, 1, -0.5], [-1, 1, 0.5], [1, -1, 0.5], [-1, -1, -0.5]])


def test_delta_one_is_tetrahedron():
    m = DeltaTask(delta=1.0, sigma=0.0).means
    d = np.linalg.norm(m[:, None] - m[None], axis=-1)[np.triu_indices(4, 1)]
    assert np.allclose(d, d[0])


def test_task_seed_fixes_embedding_and_changes_with_seed():
    assert np.array_equal(DeltaTask(0.5, 0.1).means, DeltaTask(0.5, 0.3).means)
    assert not np.allclose(DeltaTask(0.5, 0.1, task_seed=1).means, DeltaTask(0.5, 0.1).means)


def test_samples_noise_and_conditions():
    task = DeltaTask(delta=0.5, sigma=0.3)
    cond, x = task.sample(20000, data_rng(7, 0))
    assert x.dtype == np.float32 and x.shape == (20000, 120)
    assert np.bincount(cond, minlength=4) / 20000 == pytest.approx(np.full(4, 0.25), abs=0.02)
    resid = x - task.means[cond]
    assert resid.std() == pytest.approx(0.3, rel=0.01)
    # streams are reproducible and independent
    cond2, x2 = task.sample(20000, data_rng(7, 0))
    assert np.array_equal(x, x2) and np.array_equal(cond, cond2)
    assert not np.array_equal(task.sample(10, data_rng(7, 1))[1], x[:10])


def test_disjoint_vectors_need_divisible_dim(rng):
    with pytest.raises(ValueError, match="multiple of 3"):
        disjoint_unit_vectors(10, 3, rng)
