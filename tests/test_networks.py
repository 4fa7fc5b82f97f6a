"""Networks: the registry's names, a contract every network passes, and the MLPs' specifics.

The contract (:data:`CONTRACT`): forward shapes, the gradient equal to autograd's, batch
invariance, and a checkpointed, resumed training equal to an uninterrupted one. A new network
is proven by adding its line there.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import hidden, mlp

from repgeom import networks
from repgeom.activations import get_activation
from repgeom.losses import get_loss
from repgeom.metrics import linear_cka
from repgeom.networks.base import Network, clone, readout_weights
from repgeom.optimisers import OPTIMISERS, get_optimiser
from repgeom.tasks.delta import DeltaTask, task_alignment
from repgeom.training import Checkpointer, TrainingInterrupted, TrainSettings, step, train

ACTS = [
    "tanh",
    "relu",
    "leaky_relu_slope-0.2",
    "bounded_relu_ub1",
    "softplus",
    "shifted_relu_s-0.5",
    "relu_bias+0.5",
    "hardtanh",
    "sigmoid",
    "gelu",
    "silu",
    "identity",
]

#: every registered network as (name, settings, input shape, outputs, loss)
CONTRACT = [
    ("shallow", {"width": 8}, (12,), 1, "bce"),
    ("mlp2", {"width": 8, "init": "normal"}, (12,), 3, "bce"),
    ("mlp3", {"width": 6, "train_output_bias": False}, (5,), 2, "bce"),
    ("mlp4", {"width": 6, "train_hidden_bias": False}, (7,), 1, "bce"),
    (
        "cnn",
        {"channels": 4, "fc_width": 8, "train_output_bias": False},
        (3, 32, 32),
        10,
        "cross_entropy",
    ),
    ("cnn", {"channels": 3, "fc_width": 6, "train_hidden_bias": False}, (2, 17, 20), 3, "bce"),
]


def _net(name, settings, shape, n_out, act="tanh"):
    base = {"width": 8, "init": "uniform", "train_output_bias": True, "train_hidden_bias": True}
    return networks.build(name, base | settings, get_activation(act), shape, n_out)


def _data(shape, n_out, loss, R=2, n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(R, n, *shape, generator=g)
    if loss == "bce":
        y = (torch.rand(R, n, n_out, generator=g) > 0.5).float()
    else:
        y = F.one_hot(torch.randint(0, n_out, (R, n), generator=g), n_out).float()
    return x, y


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [("shallow", "shallow"), ("mlp1", "shallow"), ("mlp01", "shallow"), ("mlp2", "mlp2")]
    + [("mlp04", "mlp4"), ("mlp16", "mlp16"), ("cnn", "cnn")],
)
def test_canonical_names(spelling, canonical):
    assert networks.canonical_network(spelling) == canonical


@pytest.mark.parametrize(
    "bad", ["mlp0", "mlp17", "deep", "MLP2", "mlp-2", "", "shallow ", "cnn2", "CNN"]
)
def test_unknown_names_list_the_kinds(bad):
    with pytest.raises(ValueError, match="allowed: shallow, mlp1, mlp2"):
        networks.canonical_network(bad)


def test_registry_is_torch_free_and_fills_the_schema():
    import re
    import subprocess
    import sys

    code = (
        "import sys, repgeom.networks, repgeom.optimisers, repgeom.config as c;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    from pathlib import Path

    schema = __import__("repgeom.config", fromlist=["load_schema"]).load_schema(
        Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml"
    )
    exp = schema["$defs"]["experiment"]["properties"]
    pattern = exp["architectures"]["items"]["pattern"]
    assert re.fullmatch(pattern, "mlp3") and not re.fullmatch(pattern, "mlp0")
    assert exp["readouts"]["items"]["enum"] == list(networks.READOUTS)
    assert re.fullmatch(pattern, "cnn") and not re.fullmatch(pattern, "cnn2")
    assert set(schema["$defs"]["model"]["properties"]) >= {"width", "init", "train_hidden_bias"}
    assert set(schema["$defs"]["model"]["properties"]) >= {"channels", "fc_width"}
    assert schema["$defs"]["training"]["properties"]["optimizer"]["enum"] == list(OPTIMISERS)


# -- the contract -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "settings", "shape", "n_out", "loss"), CONTRACT)
def test_forward_shapes_and_per_run_init(name, settings, shape, n_out, loss):
    net = _net(name, settings, shape, n_out)
    p = net.init([0, 1, 2], ["gauss"] * 3)
    x, _ = _data(shape, n_out, loss, R=3)
    z, hs = net.forward(p, x)
    assert z.shape == (3, 16, n_out) and len(hs) == len(net.layers)
    assert all(h.shape[:2] == (3, 16) and h.dim() == 3 for h in hs)
    assert set(net.weights) == set(net.layers) and set(net.weights.values()) <= set(p)
    assert set(net.trained) <= set(p) and "J" not in net.trained
    alone = net.init([1], ["gauss"])
    for k in p:
        assert torch.equal(alone[k][0], p[k][1]), k


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize(("name", "settings", "shape", "n_out", "loss"), CONTRACT)
def test_gradient_equals_autograd(name, settings, shape, n_out, loss, act):
    """The network's backward (hand-written or not) against autograd of the loss itself."""
    net = _net(name, settings, shape, n_out, act)
    p = net.init([0, 1], ["uniform", "balanced"])
    x, y = _data(shape, n_out, loss)
    q = {k: v.clone().requires_grad_(k in net.trained) for k, v in p.items()}
    lossfn = get_loss(loss)
    z, _ = net.forward(q, x)
    lossfn.value(z, y).sum().backward()  # the logged loss: its gradient is the error / K
    K = n_out if loss == "bce" else 1
    with torch.no_grad():
        z, hs = net.forward(p, x)
        dz = lossfn.error(z, y) / x.shape[1]
    grads = {k: torch.zeros_like(p[k]) for k in net.trained}
    net.backward(p, x, hs, dz, grads)
    for k in net.trained:
        torch.testing.assert_close(grads[k], q[k].grad * K, atol=1e-6, rtol=1e-5, msg=k)
    # the fused form (SGD: −lr·g added into the parameters) gives the same step
    before = clone(p)
    with torch.no_grad():
        z, hs = net.forward(p, x)
    net.backward(p, x, hs, dz * 0.1, p, alpha=-1.0, accumulate=True)
    for k in p:
        want = before[k] - 0.1 * grads[k] if k in net.trained else before[k]
        torch.testing.assert_close(p[k], want, atol=1e-6, rtol=1e-5, msg=k)


@pytest.mark.parametrize("optimizer", list(OPTIMISERS))
@pytest.mark.parametrize(("name", "settings", "shape", "n_out", "loss"), CONTRACT)
def test_batch_invariance(name, settings, shape, n_out, loss, optimizer):
    """A run trained alone and inside a batch of other runs ends with the same weights."""
    net = _net(name, settings, shape, n_out, "relu")
    s = TrainSettings(lr=0.05, batch_size=8, epochs=4, conv_tol=0, snapshot_epochs=(0, 4))
    x, y = _data(shape, n_out, loss, R=3, n=32)
    p = net.init([5, 6, 7], ["gauss"] * 3)
    batched = train(net, p, x, y, s, [1, 2, 3], loss=loss, optimiser=optimizer)
    p1 = net.init([5], ["gauss"])
    alone = train(net, p1, x[:1], y[:1], s, [1], loss=loss, optimiser=optimizer)
    for k in p:
        diff = np.abs(batched.snapshots[4][k][0] - alone.snapshots[4][k][0]).max()
        assert diff <= 1e-5, (k, diff)


@pytest.mark.parametrize("optimizer", list(OPTIMISERS))
@pytest.mark.parametrize(("name", "settings", "shape", "n_out", "loss"), CONTRACT)
def test_checkpointed_resume_equals_uninterrupted(name, settings, shape, n_out, loss, optimizer):
    """Stopped after epoch 2 and resumed from the saved state (optimiser state included),
    training ends bit-identical to an uninterrupted one."""
    net = _net(name, settings, shape, n_out, "tanh")
    s = TrainSettings(lr=0.05, batch_size=8, epochs=5, conv_tol=0, snapshot_epochs=(0, 3, 5))
    x, y = _data(shape, n_out, loss, R=2, n=24)
    whole = train(
        net, net.init([1, 2], ["gauss"] * 2), x, y, s, [3, 4], loss=loss, optimiser=optimizer
    )
    saved = []
    ck = Checkpointer(saved.append, every_s=1e9)

    def stop_after_two(progress):
        ck.stop_requested = progress["epoch"] >= 2

    s_live = TrainSettings(**{**s.__dict__, "progress_every_s": 0.0})
    with pytest.raises(TrainingInterrupted):
        train(
            net,
            net.init([1, 2], ["gauss"] * 2),
            x,
            y,
            s_live,
            [3, 4],
            stop_after_two,
            ck,
            loss=loss,
            optimiser=optimizer,
        )
    assert saved and saved[-1].epoch == 2
    if optimizer != "sgd":
        assert saved[-1].optimiser
    resumed = train(
        net,
        net.init([1, 2], ["gauss"] * 2),
        x,
        y,
        s,
        [3, 4],
        resume=saved[-1],
        loss=loss,
        optimiser=optimizer,
    )
    for e in (3, 5):
        for k in whole.snapshots[e]:
            assert np.array_equal(whole.snapshots[e][k], resumed.snapshots[e][k]), (e, k)
    assert np.array_equal(whole.loss, resumed.loss, equal_nan=True)


# -- the MLPs ---------------------------------------------------------------------------------


def test_init_shapes_scales_and_per_run_independence():
    net, p = mlp([0, 1, 2], dim=120, width=120, readouts=["uniform"] * 3)
    assert p["W"].shape == (3, 120, 120) and p["b"].shape == (3, 120)
    assert p["J"].shape == (3, 1, 120) and p["bo"].shape == (3, 1)
    assert p["W"].abs().max() <= 1 / math.sqrt(120)
    _, alone = mlp([1], 120, 120, ["uniform"])
    assert torch.equal(alone["W"][0], p["W"][1]) and torch.equal(alone["J"][0], p["J"][1])


def test_deep_init_per_layer_fan_in_and_shallow_prefix():
    """Layer l ≥ 2 draws W_l ~ N(0,1)/√N from the same generator after layer l−1; the deep
    network's first layer is drawn exactly as the shallow network's."""
    net, p = mlp([0, 1], 50, 400, ["gauss"] * 2, depth=3, init="normal")
    assert net.layers == ("1", "2", "3") and net.weights == {"1": "W", "2": "W2", "3": "W3"}
    assert p["W2"].shape == (2, 400, 400) and p["W3"].shape == (2, 400, 400)
    assert (p["W2"] * 20).std().item() == pytest.approx(1, abs=0.01)
    _, shallow = mlp([0, 1], 50, 400, ["gauss"] * 2, init="normal")
    assert torch.equal(shallow["W"], p["W"]) and torch.equal(shallow["b"], p["b"])


@pytest.mark.parametrize("kind", [k for k in networks.READOUTS if k != "gauss"])
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
    _, p = mlp([0, 1], 100, 2000, ["gauss", "gauss"], n_out=3, init="normal")
    assert p["W"].shape == (2, 2000, 100) and p["J"].shape == (2, 3, 2000)
    assert p["bo"].shape == (2, 3)
    assert (p["W"] * 10).std().item() == pytest.approx(1, abs=0.01)  # N(0,1)/√D, D = 100
    assert (p["W"].abs() > 1 / 10).any()  # not the uniform init's bound 1/√D


def test_bias_shift_moves_only_the_initial_hidden_biases():
    _, base = mlp([3], 12, 8, ["gauss"], init="normal", act="relu", depth=2)
    _, shifted = mlp([3], 12, 8, ["gauss"], init="normal", act="relu_bias-0.5", depth=2)
    for k in ("b", "b2"):
        assert torch.allclose(shifted[k], base[k] - 0.5)
    for k in ("W", "W2", "J", "bo"):
        assert torch.equal(shifted[k], base[k])


def test_frozen_hidden_bias_stays_put():
    net, p = mlp([0], 6, 8, ["gauss"], depth=2, train_hidden_bias=False)
    assert net.trained == ("W", "W2", "bo")
    before = clone(p)
    x, y = _data((6,), 1, "bce", R=1)
    step(net, p, x, y, get_loss("bce"), get_optimiser("sgd"), {}, torch.tensor([0.5]))
    assert torch.equal(p["b"], before["b"]) and torch.equal(p["b2"], before["b2"])
    assert not torch.equal(p["W2"], before["W2"])


def test_shifted_relu_and_relu_bias_shift_are_one_model():
    """With a trained hidden bias, max(0, u + s) and relu with b_init + s coincide: their
    hidden layers are equal at initialisation and stay equal under SGD (paper's code: both
    versions agree to float32)."""
    s = 0.5
    na, pa = mlp(
        [1], 12, 16, ["gauss"], init="normal", act="shifted_relu_s+0.5", train_output_bias=False
    )
    nb, pb = mlp(
        [1], 12, 16, ["gauss"], init="normal", act="relu_bias+0.5", train_output_bias=False
    )
    assert nb.act.bias_shift == s and na.act.bias_shift == 0
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(1, 64, 12, generator=g), (torch.rand(1, 64, 1, generator=g) > 0.5).float()
    lr, bce, sgd = torch.tensor([0.1]), get_loss("bce"), get_optimiser("sgd")
    for _ in range(20):
        la = step(na, pa, x, y, bce, sgd, {}, lr)
        lb = step(nb, pb, x, y, bce, sgd, {}, lr)
        torch.testing.assert_close(la, lb, rtol=0, atol=1e-5)
    torch.testing.assert_close(pa["b"] + s, pb["b"], rtol=0, atol=1e-5)
    torch.testing.assert_close(pa["W"], pb["W"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_deep_identity_network_kernels_are_linear_maps_of_the_input_kernel(depth):
    """With f = identity, h_l = A_l x + c_l: every hidden kernel's centred Gram is
    H X A_lᵀ A_l Xᵀ H, and A_l is the product of the layers' weights."""
    net, p = mlp([0], 10, 32, ["gauss"], init="normal", act="identity", depth=depth)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(1, 12, 10, generator=g)
    _, hs = net.forward(p, X)
    A = torch.eye(10)
    H = torch.eye(12) - 1 / 12
    for i, (w, _) in enumerate(net.params):
        A = p[w][0] @ A
        want = H @ X[0] @ A.T @ A @ X[0].T @ H
        got = H @ hs[i][0] @ hs[i][0].T @ H
        torch.testing.assert_close(got, want, atol=1e-3, rtol=1e-4)


def test_autograd_fallback_matches_hand_written():
    """The base class's autograd backward (any network without its own) equals the MLP's."""
    net = _net("mlp3", {"width": 6}, (5,), 2, "softplus")
    p = net.init([0, 1], ["gauss"] * 2)
    x, y = _data((5,), 2, "bce")
    with torch.no_grad():
        z, hs = net.forward(p, x)
    dz = get_loss("bce").error(z, y)
    a = {k: torch.zeros_like(p[k]) for k in net.trained}
    b = {k: torch.zeros_like(p[k]) for k in net.trained}
    net.backward(p, x, hs, dz, a)
    Network.backward(net, p, x, hs, dz, b)
    for k in net.trained:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=1e-5)


def _init_alignments(act, delta, n=20):
    task = DeltaTask(delta, 0.1)
    net, p = mlp(list(range(n)), 120, 120, ["uniform"] * n, act=act)
    x = torch.tensor(task.means, dtype=torch.float32).expand(n, 4, 120).contiguous()
    Z = hidden(net, p, x).numpy().astype(float)
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


@pytest.mark.parametrize(("name", "settings", "shape", "n_out", "loss"), CONTRACT)
def test_registry_layer_names_are_the_networks(name, settings, shape, n_out, loss):
    """The torch-free registry names the layers as the built network does (the figures label
    them without building one)."""
    assert networks.layer_names(name) == _net(name, settings, shape, n_out).layers
