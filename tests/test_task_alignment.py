"""Known answers of the alignment-parameterised parity tasks (E3)."""

import numpy as np
import pytest

from repgeom.metrics import centered_gram, linear_cka
from repgeom.tasks import build_task, data_rng, get_family
from repgeom.tasks.alignment import (
    FAMILY,
    AlignmentTask,
    alignment_grid,
    condition_bits,
    dirichlet_draws,
    mask_name,
    max_alignment,
    maxdim_weights,
    n_features,
    parity_features,
    parity_labels,
    parity_masks,
    random_orthonormal,
    random_weights,
    weights_alignment,
)


def axes_defaults() -> dict:
    return {k: v["default"] for k, v in FAMILY.axes_schema["properties"].items()}


def task(kernel="maxdim", d=3, k=1, align=0, n_align=12, task_seed=0, sigma=1.0, **kw):
    return AlignmentTask(kernel, d, k, align, n_align, task_seed, sigma, **kw)


# --------------------------------------------------------------------------- parity features


def test_condition_bits_convention():
    b = condition_bits(3)
    assert b.shape == (8, 3)
    assert b[6].tolist() == [0, 1, 1]  # 6 = 0b110: bit j of c is (c >> j) & 1
    assert b[1].tolist() == [1, 0, 0]


@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_parity_features_orthogonal_zero_mean(d):
    h = parity_features(d)
    C, nf = 2**d, 2**d - 1
    assert h.shape == (C, nf) and n_features(d) == nf
    assert set(np.unique(h)) == {-1.0, 1.0}
    assert np.allclose(h.sum(axis=0), 0)  # zero mean: every label balanced
    assert np.array_equal(h.T @ h, C * np.eye(nf))
    assert np.array_equal(h, 1 - 2 * parity_labels(d))


@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_mask_order_by_hamming_weight(d):
    masks = parity_masks(d)
    weights = [int(m).bit_count() for m in masks]
    assert weights == sorted(weights)
    assert sorted(masks.tolist()) == list(range(1, 2**d))
    assert masks[:d].tolist() == [1 << j for j in range(d)]  # single bits first, in bit order
    for w in set(weights):  # ties by integer value
        same = masks[np.array(weights) == w]
        assert same.tolist() == sorted(same.tolist())
    # the first d features are the latent bits themselves
    assert np.array_equal(parity_labels(d)[:, :d], condition_bits(d))


def test_names_and_labels():
    assert [mask_name(m) for m in parity_masks(3)] == [
        "bit0",
        "bit1",
        "bit2",
        "par01",
        "par02",
        "par12",
        "par012",
    ]
    b = condition_bits(3)
    lab = parity_labels(3)
    assert np.array_equal(lab[:, 3], b[:, 0] ^ b[:, 1])  # par01 is the XOR of bits 0 and 1
    assert np.array_equal(lab[:, 6], b[:, 0] ^ b[:, 1] ^ b[:, 2])
    assert parity_features(3)[0].tolist() == [1.0] * 7  # condition 0: every parity even → +1


# --------------------------------------------------------------------------- alignment


CASES = [(d, k) for d in (2, 3, 5) for k in sorted({1, d})]


@pytest.mark.parametrize("kernel", ["maxdim", "random"])
@pytest.mark.parametrize(("d", "k"), CASES)
def test_cka_equals_grid_alignment(kernel, d, k):
    n_align = 6
    grid = alignment_grid(d, k, n_align)
    assert grid[0] == 0 and grid[-1] == pytest.approx(np.sqrt(k / (2**d - 1)))
    for seed in (0, 1, 7) if kernel == "random" else (0, 3):
        for a in range(n_align):
            t = task(kernel, d, k, a, n_align, seed)
            assert t.alignment == pytest.approx(grid[a], abs=1e-15)
            got = linear_cka(t.means, t.target.astype(float))
            assert got == pytest.approx(t.alignment, abs=1e-9)
            assert weights_alignment(t.weights, k) == pytest.approx(t.alignment, abs=1e-9)


@pytest.mark.parametrize("kernel", ["maxdim", "random"])
@pytest.mark.parametrize(("d", "k"), CASES)
def test_means_have_norm_sqrt_dim(kernel, d, k):
    for a in (0, 5, 11):
        t = task(kernel, d, k, a, task_seed=2, dim=64)
        assert t.means.shape == (2**d, 64)
        assert np.allclose((t.means**2).sum(axis=1), 64)
        pi = t.weights
        assert pi.shape == (2**d - 1,) and (pi >= 0).all() and pi.sum() == pytest.approx(1)


def test_embedding_orthonormal_and_fixed_by_seed():
    t = task(d=5)
    q = t.embedding
    assert q.shape == (31, 100)
    assert np.allclose(q @ q.T, np.eye(31))
    assert np.array_equal(q, task(d=5, align=4).embedding)
    assert not np.allclose(q, task(d=5, task_seed=1).embedding)
    r = random_orthonormal(5, 8, np.random.default_rng(0))
    assert r.shape == (5, 8) and np.allclose(r @ r.T, np.eye(5))
    with pytest.raises(ValueError, match="orthonormal"):
        random_orthonormal(9, 8, np.random.default_rng(0))


@pytest.mark.parametrize(("d", "k"), CASES)
def test_maxdim_at_c_max_is_isotropic(d, k):
    t = task("maxdim", d, k, align=11)
    assert t.alignment == pytest.approx(t.max_alignment)
    assert t.max_alignment == pytest.approx(max_alignment(d, k))
    assert np.allclose(t.weights, 1 / (2**d - 1))
    # centred Gram ∝ centred identity: the C−1 nonzero eigenvalues are all D·C/N_f
    ev = np.linalg.eigvalsh(centered_gram(t.means))
    C = 2**d
    assert ev[0] == pytest.approx(0, abs=1e-9)
    assert np.allclose(ev[1:], t.dim * C / (C - 1))


@pytest.mark.parametrize("kernel", ["maxdim", "random"])
@pytest.mark.parametrize(("d", "k"), CASES)
def test_zero_alignment_puts_no_weight_on_targets(kernel, d, k):
    t = task(kernel, d, k, align=0, task_seed=4)
    assert t.alignment == 0
    assert np.array_equal(t.weights[:k], np.zeros(k))
    # the means carry nothing along the targets' directions
    assert np.allclose(t.means @ t.embedding[:k].T, 0)


def test_maxdim_weights_ratio():
    nf, k, c = 7, 3, 0.4
    pi = maxdim_weights(nf, k, c)
    a, b = pi[0], pi[-1]
    assert np.allclose(pi[:k], a) and np.allclose(pi[k:], b)
    assert a / b == pytest.approx(c * np.sqrt(nf - k) / np.sqrt(k * (1 - c * c)))
    assert weights_alignment(pi, k) == pytest.approx(c)
    assert np.array_equal(maxdim_weights(nf, k, 1.0)[k:], np.zeros(nf - k))
    with pytest.raises(ValueError, match="k must satisfy"):
        maxdim_weights(7, 7, 1.0)
    with pytest.raises(ValueError, match="k must satisfy"):
        task(d=2, k=3)


# --------------------------------------------------------------------------- random family


def test_random_weights_reproducible_and_seed_dependent():
    a = task("random", 4, 4, 3, task_seed=5).weights
    b = task("random", 4, 4, 3, task_seed=5).weights
    c = task("random", 4, 4, 3, task_seed=6).weights
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert (a >= 0).all() and a.sum() == pytest.approx(1)


@pytest.mark.parametrize(("d", "k"), CASES)
def test_random_sweep_moves_along_one_segment_family(d, k):
    """Across one seed's grid, π = (1−t)u + t·s with u fixed and s one of two fixed endpoints."""
    u, off = dirichlet_draws(3, d, k)
    s_down = np.concatenate([np.zeros(k), off])
    s_up = np.concatenate([np.full(k, 1 / k), np.zeros(2**d - 1 - k)])
    c_u = weights_alignment(u, k)
    for a in range(12):
        t = task("random", d, k, a, task_seed=3)
        s = s_down if c_u > t.alignment else s_up
        assert 0 <= t.interpolation <= 1
        assert np.allclose(t.weights, (1 - t.interpolation) * u + t.interpolation * s)
    # u is shared by k = 1 and k = d of the same seed and d
    assert np.array_equal(u, dirichlet_draws(3, d, 1)[0])
    assert task("maxdim", d, k).interpolation is None


def test_random_weights_endpoints():
    u = np.array([0.5, 0.2, 0.3])
    pi, t = random_weights(u, np.array([0.4, 0.6]), 1, weights_alignment(u, 1))
    assert t == 0 and np.array_equal(pi, u)
    pi, t = random_weights(u, np.array([0.4, 0.6]), 1, 0.0)
    assert t == 1 and np.array_equal(pi, [0, 0.4, 0.6])
    pi, t = random_weights(u, np.array([0.4, 0.6]), 1, 1.0)
    assert t == pytest.approx(1) and weights_alignment(pi, 1) == pytest.approx(1)


# --------------------------------------------------------------------------- Task interface


def test_targets_latents_roles():
    t1 = task(d=3, k=1)
    assert list(t1.targets) == ["bit0"]
    assert list(t1.latents) == ["bit0", "bit1", "bit2"]
    assert t1.target.shape == (8, 1)
    assert t1.role("bit0") == "target, latent" and t1.role("bit2") == "latent"
    td = task(d=3, k=3)
    assert list(td.targets) == list(td.latents)  # k = d: every target is a latent
    assert all(td.role(n) == "target, latent" for n in td.targets)
    for j in range(3):
        ctx = td.proper_contexts(f"bit{j}")
        others = [td.latents[f"bit{i}"] for i in range(3) if i != j]
        assert len(ctx) == 2 and all(np.array_equal(a, b) for a, b in zip(ctx, others, strict=True))
    t5 = task(d=2, k=2)
    assert list(t5.targets) == ["bit0", "bit1"]
    t7 = task(d=3, k=5)
    assert list(t7.targets) == ["bit0", "bit1", "bit2", "par01", "par02"]
    assert t7.role("par01") == "target"
    assert len(t7.proper_contexts("par01")) == 3  # each bit splits a parity into balanced halves
    for lab in t7.dichotomies.values():
        assert lab.sum() * 2 == lab.size


def test_sample():
    t = task(d=3, sigma=0.7)
    cond, x = t.sample(40000, data_rng(0, 0))
    assert x.dtype == np.float32 and x.shape == (40000, 100)
    assert cond.shape == (40000,) and set(np.unique(cond)) == set(range(8))
    assert np.bincount(cond) / 40000 == pytest.approx(np.full(8, 1 / 8), abs=0.01)
    noise = x - t.means[cond]
    assert noise.std() == pytest.approx(0.7, rel=0.01)
    _, x0 = t.sample(10, data_rng(0, 0), sigma=0.0)
    assert np.allclose(x0, t.means[cond[:10]], atol=1e-5)


def test_task_validation():
    with pytest.raises(ValueError, match="kernel"):
        task("iso")
    with pytest.raises(ValueError, match="align index"):
        task(align=12)
    with pytest.raises(ValueError, match="dim=20"):
        task(d=5, dim=20)


# --------------------------------------------------------------------------- family


def test_expand_defaults():
    cells = FAMILY.expand(axes_defaults())
    assert len(cells) == 2 * 12
    assert [c["k"] for c in cells[::12]] == [1, 3]
    assert [c["align"] for c in cells[:12]] == list(range(12))
    assert cells[0] == {
        "kernel": "maxdim",
        "d": 3,
        "k": 1,
        "align": 0,
        "task_seed": 0,
        "sigma": 1.0,
        "alignments": 12,
    }
    # the path keys, then the grid size the task needs to turn ``align`` into c
    assert all(list(c) == [*FAMILY.keys, "alignments"] for c in cells)


def test_expand_product_and_dedup():
    axes = axes_defaults() | {
        "k": [3, "d"],
        "d": [3],
        "align": [0, 5, 5],
        "task_seeds": 3,
        "kernel": ["maxdim", "random"],
        "sigma": [0.5, 1.0],
    }
    cells = FAMILY.expand(axes)
    assert len(cells) == 2 * 1 * 2 * 3 * 2
    assert {c["k"] for c in cells} == {3}
    assert {c["task_seed"] for c in cells} == {0, 1, 2}
    both = FAMILY.expand(axes_defaults() | {"d": [2, 4], "k": [1, "d"]})
    assert sorted({(c["d"], c["k"]) for c in both}) == [(2, 1), (2, 2), (4, 1), (4, 4)]


def test_expand_errors_name_the_key():
    with pytest.raises(ValueError, match=r"axes\.k"):
        FAMILY.expand(axes_defaults() | {"d": [2], "k": [3]})
    with pytest.raises(ValueError, match=r"axes\.align"):
        FAMILY.expand(axes_defaults() | {"alignments": 6, "align": [2, 6]})


def test_schema_keys_have_defaults_and_descriptions():
    for key, sub in FAMILY.axes_schema["properties"].items():
        assert "default" in sub and sub.get("description"), key
    for key, sub in FAMILY.task_schema.items():
        assert "default" in sub and sub.get("description"), key
    assert set(FAMILY.keys) == {"kernel", "d", "k", "align", "task_seed", "sigma"}


def test_registered_and_build_round_trip():
    fam = get_family("alignment")
    assert fam is FAMILY
    cfg = {
        "family": "alignment",
        "kernel": "random",
        "d": 4,
        "k": 4,
        "align": 3,
        "task_seed": 2,
        "sigma": 0.5,
        "alignments": 6,
        "dim": 50,
        "alpha": 2.0,
        "n_train": 100,
        "n_test": 100,
        "data_seed": 0,
    }
    t = build_task(cfg)
    assert t == AlignmentTask("random", 4, 4, 3, 6, 2, 0.5, dim=50, alpha=2.0)
    assert t.alignment == pytest.approx(alignment_grid(4, 4, 6)[3])
    assert t.means.shape == (16, 50)
    with pytest.raises(KeyError, match="alignments"):
        build_task({k: v for k, v in cfg.items() if k != "alignments"})


def test_every_default_cell_builds():
    axes = axes_defaults() | {"kernel": ["maxdim", "random"], "d": [2, 3, 4, 5]}
    task_defaults = {k: v["default"] for k, v in FAMILY.task_schema.items()}
    for cell in FAMILY.expand(axes)[::7]:
        t = FAMILY.build(cell | task_defaults | {"alignments": axes["alignments"]})
        assert t.alignment == pytest.approx(linear_cka(t.means, t.target.astype(float)), abs=1e-9)
