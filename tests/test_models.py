import math

import numpy as np
import pytest
import torch

from repgeom.activations import get_activation
from repgeom.metrics import linear_cka
from repgeom.models import READOUTS, hidden, init_shallow, readout_weights
from repgeom.tasks.delta import DeltaTask, task_alignment


def test_init_shapes_scales_and_per_run_independence():
    p = init_shallow([0, 1, 2], dim=120, width=120, readouts=["uniform"] * 3)
    assert p.W.shape == (3, 120, 120) and p.b.shape == (3, 120)
    assert p.J.shape == (3, 1, 120) and p.bo.shape == (3, 1)
    assert p.W.abs().max() <= 1 / math.sqrt(120)
    alone = init_shallow([1], 120, 120, ["uniform"])
    assert torch.equal(alone.W[0], p.W[1]) and torch.equal(alone.J[0], p.J[1])


@pytest.mark.parametrize("kind", [k for k in READOUTS if k != "gauss"])
def test_bounded_readouts(kind):
    J = readout_weights(kind, 1, 120, torch.Generator().manual_seed(0))
    assert J.shape == (1, 120)
    assert J.abs().max() <= 1 / math.sqrt(120) + 1e-7
    if kind in ("sphere", "balanced"):
        assert torch.allclose(J.abs(), torch.full_like(J, 1 / math.sqrt(120)))
    if kind == "balanced":
        assert (J > 0).sum() == 60


def test_gauss_readout_is_normal_over_sqrt_width():
    J = readout_weights("gauss", 5, 4000, torch.Generator().manual_seed(0))
    assert J.shape == (5, 4000)
    assert (J * math.sqrt(4000)).std().item() == pytest.approx(1, abs=0.02)
    assert J.mean().abs().item() < 0.01


def test_unknown_readout():
    with pytest.raises(ValueError, match="allowed: uniform, sphere, balanced, gauss"):
        readout_weights("gaus", 1, 4, torch.Generator())


def test_normal_init_shapes_and_scales():
    p = init_shallow([0, 1], 100, 2000, ["gauss", "gauss"], n_out=3, init="normal")
    assert p.W.shape == (2, 2000, 100) and p.J.shape == (2, 3, 2000) and p.bo.shape == (2, 3)
    assert (p.W * 10).std().item() == pytest.approx(1, abs=0.01)  # N(0,1)/√D, D = 100
    assert (p.W.abs() > 1 / 10).any()  # not the uniform init's bound 1/√D


def test_bias_shift_moves_only_the_initial_hidden_bias():
    base = init_shallow([3], 12, 8, ["gauss"], init="normal")
    shifted = init_shallow([3], 12, 8, ["gauss"], init="normal", bias_shift=-0.5)
    assert torch.allclose(shifted.b, base.b - 0.5)
    for name in ("W", "J", "bo"):
        assert torch.equal(getattr(shifted, name), getattr(base, name))


def test_shifted_relu_and_relu_bias_shift_are_one_model():
    """With a trained hidden bias, max(0, u + s) and relu with b_init + s coincide: their
    hidden layers are equal at initialisation and stay equal under SGD (paper's code: both
    versions agree to float32)."""
    from repgeom.training import sgd_step

    s = 0.5
    shifted, biased = get_activation("shifted_relu_s+0.5"), get_activation("relu_bias+0.5")
    assert biased.bias_shift == s and shifted.bias_shift == 0
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(1, 64, 12, generator=g), (torch.rand(1, 64, 1, generator=g) > 0.5).float()
    pa = init_shallow([1], 12, 16, ["gauss"], init="normal")
    pb = init_shallow([1], 12, 16, ["gauss"], init="normal", bias_shift=s)
    lr = torch.tensor([0.1])
    for _ in range(20):
        la = sgd_step(pa, x, y, shifted, lr, train_output_bias=False)
        lb = sgd_step(pb, x, y, biased, lr, train_output_bias=False)
        torch.testing.assert_close(la, lb, rtol=0, atol=1e-5)
    torch.testing.assert_close(pa.b + s, pb.b, rtol=0, atol=1e-5)
    torch.testing.assert_close(pa.W, pb.W, rtol=0, atol=1e-5)


def _init_alignments(act, delta, n=20):
    task = DeltaTask(delta, 0.1)
    p = init_shallow(list(range(n)), 120, 120, ["uniform"] * n)
    x = torch.tensor(task.means, dtype=torch.float32).expand(n, 4, 120).contiguous()
    Z = hidden(p, x, get_activation(act)).numpy().astype(float)
    ia = linear_cka(Z, np.broadcast_to(task.means, (n, 4, 120)))
    ta = linear_cka(Z, np.broadcast_to(task.target.astype(float), (n, 4, 1)))
    return ia, ta


@pytest.mark.parametrize("delta", [0.0, 0.25, 0.5, 0.75, 1.0])
def test_at_initialisation_hidden_kernel_follows_input(delta):
    ia, ta = _init_alignments("tanh", delta)
    assert ia.min() >= 0.9
    assert ta.mean() == pytest.approx(task_alignment(delta), abs=0.02)
    ia, ta = _init_alignments("relu", delta)
    assert ia.min() >= 0.9
    # relu(u) = u/2 + |u|/2: the even part maps antipodal inputs (the XOR classes at δ=0)
    # to one point, so random ReLU features start with extra target alignment, never less.
    assert ta.mean() >= task_alignment(delta) - 0.02
    assert ta.mean() <= task_alignment(delta) + 0.25
