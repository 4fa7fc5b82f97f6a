import math

import numpy as np
import pytest
import torch

from repgeom.activations import get_activation
from repgeom.metrics import linear_cka
from repgeom.models import READOUTS, hidden, init_shallow, readout_weights
from repgeom.tasks import DeltaTask, task_alignment


def test_init_shapes_scales_and_per_run_independence():
    p = init_shallow([0, 1, 2], dim=120, width=120, readouts=["uniform"] * 3)
    assert p.W.shape == (3, 120, 120) and p.b.shape == (3, 120)
    assert p.J.shape == (3, 1, 120) and p.bo.shape == (3, 1)
    assert p.W.abs().max() <= 1 / math.sqrt(120)
    alone = init_shallow([1], 120, 120, ["uniform"])
    assert torch.equal(alone.W[0], p.W[1]) and torch.equal(alone.J[0], p.J[1])


@pytest.mark.parametrize("kind", READOUTS)
def test_readouts(kind):
    J = readout_weights(kind, 1, 120, torch.Generator().manual_seed(0))
    assert J.shape == (1, 120)
    assert J.abs().max() <= 1 / math.sqrt(120) + 1e-7
    if kind in ("sphere", "balanced"):
        assert torch.allclose(J.abs(), torch.full_like(J, 1 / math.sqrt(120)))
    if kind == "balanced":
        assert (J > 0).sum() == 60


def test_unknown_readout():
    with pytest.raises(ValueError, match="allowed: uniform, sphere, balanced"):
        readout_weights("gauss", 1, 4, torch.Generator())


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
