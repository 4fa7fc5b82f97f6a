"""Optimisers and losses against hand computations and torch's own implementations."""

import math

import pytest
import torch
import torch.nn.functional as F

from repgeom.losses import LOSSES, get_loss
from repgeom.optimisers import OPTIMISERS, get_optimiser


def _run(name, grads, lr, theta0=1.0):
    """Apply ``name`` to one scalar parameter per run with the given gradient sequence."""
    opt = get_optimiser(name)
    p = {"w": torch.full((len(lr),), theta0, dtype=torch.float64)}
    state = opt.init_state(p, ["w"])
    lr = torch.tensor(lr, dtype=torch.float64)
    for g in grads:
        opt.step(p, {"w": torch.tensor(g, dtype=torch.float64)}, state, lr)
    return p["w"], state


def test_rmsprop_is_the_paper_codes_variant_by_hand():
    """β = 0.99, v₀ = 0.1·g₁², v_t = βv_{t−1} + (1−β)g_t², θ ← θ − lr·g_t/√(v_t/(1−β)+1e-8)."""
    g1, g2, lr = 0.5, -2.0, 0.01
    v = 0.1 * g1**2
    v = 0.99 * v + 0.01 * g1**2
    theta = 1.0 - lr * g1 / math.sqrt(v / 0.01 + 1e-8)
    v = 0.99 * v + 0.01 * g2**2
    theta = theta - lr * g2 / math.sqrt(v / 0.01 + 1e-8)
    got, state = _run("rmsprop", [[g1, g1], [g2, g2]], [lr, 0.0])
    assert got[0].item() == pytest.approx(theta, rel=1e-12)
    assert got[1].item() == 1.0  # lr 0 freezes a run
    assert int(state["t"]) == 2


def test_adam_equals_torch_adam():
    grads = [[0.3, -1.0], [0.1, 2.0], [-0.7, 0.5]]
    got, _ = _run("adam", grads, [1e-3, 1e-2])
    for r, lr in enumerate([1e-3, 1e-2]):
        w = torch.nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
        opt = torch.optim.Adam([w], lr=lr)
        for g in grads:
            w.grad = torch.tensor([g[r]], dtype=torch.float64)
            opt.step()
        assert got[r].item() == pytest.approx(w.item(), rel=1e-12)


def test_sgd():
    got, state = _run("sgd", [[0.5, 0.5], [1.0, 1.0]], [0.1, 0.0])
    assert got.tolist() == pytest.approx([1.0 - 0.05 - 0.1, 1.0]) and state == {}
    assert get_optimiser("sgd").fused


def test_error_scale_folds_the_learning_rate_only_for_sgd():
    lr = torch.tensor([0.1, 0.0])
    assert get_optimiser("sgd").error_scale(lr, 4).tolist() == pytest.approx([0.025, 0.0])
    for name in ("rmsprop", "adam"):
        assert get_optimiser(name).error_scale(lr, 4).tolist() == [0.25, 0.25]


def test_unknown_names_list_the_registry():
    with pytest.raises(ValueError, match="allowed: sgd, rmsprop, adam"):
        get_optimiser("lbfgs")
    with pytest.raises(ValueError, match="allowed: bce, cross_entropy"):
        get_loss("mse")
    assert list(OPTIMISERS) == ["sgd", "rmsprop", "adam"]


def test_bce_value_error_and_accuracy():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, 5, 3, generator=g)
    y = (torch.rand(2, 5, 3, generator=g) > 0.5).float()
    loss = LOSSES["bce"]
    want = F.binary_cross_entropy_with_logits(z, y, reduction="none").mean(dim=(1, 2))
    torch.testing.assert_close(loss.value(z, y), want)
    zz = z.clone().requires_grad_(True)  # the error is ∂(Σ_k ℓ_nk)/∂z_n
    F.binary_cross_entropy_with_logits(zz, y, reduction="sum").backward()
    torch.testing.assert_close(loss.error(z, y), zz.grad)
    z0 = torch.tensor([[[1.0, -1.0], [-2.0, 0.5]]])
    y0 = torch.tensor([[[1.0, 1.0], [0.0, 1.0]]])
    assert loss.correct(z0, y0).item() == 0.75


def test_cross_entropy_value_error_and_accuracy():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(2, 6, 10, generator=g)
    cls = torch.randint(0, 10, (2, 6), generator=g)
    y = F.one_hot(cls, 10).float()
    loss = LOSSES["cross_entropy"]
    want = torch.stack([F.cross_entropy(z[r], cls[r]) for r in range(2)])
    torch.testing.assert_close(loss.value(z, y), want)
    zz = z.clone().requires_grad_(True)
    F.cross_entropy(zz.reshape(-1, 10), cls.reshape(-1), reduction="sum").backward()
    torch.testing.assert_close(loss.error(z, y), zz.grad)
    z0 = torch.zeros(1, 2, 10)
    z0[0, 0, 3], z0[0, 1, 4] = 5.0, 5.0
    y0 = F.one_hot(torch.tensor([[3, 7]]), 10).float()
    assert loss.correct(z0, y0).item() == 0.5
