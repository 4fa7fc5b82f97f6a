"""The CIFAR-10 CNN's specifics (the network contract is in test_networks.py): it is the plain
PyTorch ConvNet, its representations and parameters have the documented shapes, and its
initialisation is PyTorch's default, per run."""

import dataclasses
import math

import pytest
import torch
from torch import nn

from repgeom import networks
from repgeom.activations import get_activation


def _cnn(act="relu", shape=(3, 32, 32), n_out=10, **settings):
    settings = {"channels": 4, "fc_width": 8} | settings
    return networks.build("cnn", settings, get_activation(act), shape, n_out)


def _sequential(net, p, r):
    """A plain torch ConvNet with run r's weights copied in (f as an nn.Module)."""
    C = net.input_shape[0]
    c, Fw, K = net.channels, net.fc_width, net.n_out

    class Act(nn.Module):
        def forward(self, u):
            return net.act.f(u)

    seq = nn.Sequential(
        nn.Conv2d(C, c, 5), Act(), nn.MaxPool2d(2),
        nn.Conv2d(c, c, 5), Act(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(net.flat, Fw), Act(),
        nn.Linear(Fw, Fw), Act(),
        nn.Linear(Fw, K),
    )  # fmt: skip
    with torch.no_grad():
        for i, name in ((0, "conv1"), (3, "conv2"), (7, "fc1"), (9, "fc2")):
            seq[i].weight.copy_(p[f"{name}_w"][r])
            seq[i].bias.copy_(p[f"{name}_b"][r])
        seq[11].weight.copy_(p["J"][r])
        seq[11].bias.copy_(p["bo"][r])
    return seq


@pytest.mark.parametrize("act", ["relu", "tanh", "leaky_relu_slope-0.2"])
@pytest.mark.parametrize("shape", [(3, 32, 32), (2, 17, 20)])
def test_forward_is_the_plain_torch_convnet(act, shape):
    net = _cnn(act, shape)
    p = net.init([0, 1, 2], ["uniform"] * 3)
    x = torch.randn(3, 6, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        z, hs = net.forward(p, x)
        for r in range(3):
            seq = _sequential(net, p, r)
            torch.testing.assert_close(z[r], seq(x[r]), atol=1e-6, rtol=1e-5)
            # the representations: after f and the pool for convs, flattened
            outs, h = [], x[r]
            for i, module in enumerate(seq):
                h = module(h)
                if i in (2, 5, 8, 10):
                    outs.append(h.flatten(1))
            for got, want in zip(hs, outs, strict=True):
                torch.testing.assert_close(got[r], want, atol=1e-6, rtol=1e-5)


def test_representation_and_parameter_shapes():
    net = _cnn(shape=(3, 32, 32), channels=16, fc_width=100)
    assert net.layers == ("conv1", "conv2", "fc1", "fc2")
    assert net.weights == {"conv1": "conv1_w", "conv2": "conv2_w", "fc1": "fc1_w", "fc2": "fc2_w"}
    assert net.flat == 16 * 5 * 5 and networks.n_layers("cnn") == len(net.layers)
    p = net.init([0, 1], ["uniform"] * 2)
    want = {
        "conv1_w": (2, 16, 3, 5, 5),
        "conv1_b": (2, 16),
        "conv2_w": (2, 16, 16, 5, 5),
        "conv2_b": (2, 16),
        "fc1_w": (2, 100, 400),
        "fc1_b": (2, 100),
        "fc2_w": (2, 100, 100),
        "fc2_b": (2, 100),
        "J": (2, 10, 100),
        "bo": (2, 10),
    }
    assert {k: tuple(v.shape) for k, v in p.items()} == want
    with torch.no_grad():
        z, hs = net.forward(p, torch.zeros(2, 3, 3, 32, 32))
    assert z.shape == (2, 3, 10)
    assert [tuple(h.shape) for h in hs] == [(2, 3, 16 * 14 * 14), (2, 3, 400), (2, 3, 100)] + [
        (2, 3, 100)
    ]
    # a non-square, odd-sized image: 17 → 13 → 6 → 2 → 1 and 20 → 16 → 8 → 4 → 2
    odd = _cnn(shape=(2, 17, 20), channels=3)
    assert odd.shapes[:2] == ((3, 6, 8), (3, 1, 2)) and odd.flat == 6


def test_trained_parameters_follow_the_bias_settings():
    weights = ("conv1_w", "conv2_w", "fc1_w", "fc2_w")
    frozen = _cnn(train_output_bias=False)
    assert frozen.trained == tuple(n for w in weights for n in (w, w[:-1] + "b"))
    assert "bo" in _cnn(train_output_bias=True).trained
    no_hidden = _cnn(train_hidden_bias=False, train_output_bias=False)
    assert no_hidden.trained == ("conv1_w", "conv2_w", "fc1_w", "fc2_w")


def test_init_is_pytorch_default_uniform_over_sqrt_fan_in():
    net = _cnn(shape=(3, 32, 32), channels=16, fc_width=100)
    p = net.init(list(range(8)), ["uniform"] * 8)
    fan_in = {"conv1": 3 * 25, "conv2": 16 * 25, "fc1": 400, "fc2": 100}
    for layer, n in fan_in.items():
        bound = 1 / math.sqrt(n)
        for k in (f"{layer}_w", f"{layer}_b"):
            v = p[k]
            assert v.abs().max() <= bound, k
            # uniform on the whole interval: it reaches near both ends, variance bound²/3
            assert v.max() > 0.9 * bound and v.min() < -0.9 * bound, k
        assert p[f"{layer}_w"].var().item() == pytest.approx(bound**2 / 3, rel=0.1)
    bound = 1 / math.sqrt(100)
    assert p["J"].abs().max() <= bound and p["bo"].abs().max() <= bound
    assert p["J"].var().item() == pytest.approx(bound**2 / 3, rel=0.1)


def test_init_per_run_independent_and_in_order():
    net = _cnn()
    p = net.init([3, 4], ["uniform", "gauss"])
    alone = net.init([4], ["gauss"])
    for k in p:
        assert torch.equal(alone[k][0], p[k][1]), k
        assert not torch.equal(p[k][0], p[k][1]), k
    # the documented draw order, each from the run's generator: U(±1/√fan_in) per hidden
    # weight then bias, the readout, then b_o ~ U(±1/√F)
    gen = torch.Generator().manual_seed(3)
    shapes = [((4, 3, 5, 5), 75), ((4,), 75), ((4, 4, 5, 5), 100), ((4,), 100)]
    shapes += [((8, 100), 100), ((8,), 100), ((8, 8), 8), ((8,), 8)]
    names = ("conv1_w", "conv1_b", "conv2_w", "conv2_b", "fc1_w", "fc1_b", "fc2_w", "fc2_b")
    for name, (shape, fan_in) in zip(names, shapes, strict=True):
        want = (2 * torch.rand(shape, generator=gen) - 1) * (1 / math.sqrt(fan_in))
        torch.testing.assert_close(p[name][0], want, rtol=0, atol=0, msg=name)
    J = (2 * torch.rand(10, 8, generator=gen) - 1) * (1 / math.sqrt(8))
    torch.testing.assert_close(p["J"][0], J, rtol=0, atol=1e-8)
    bo = (2 * torch.rand(10, generator=gen) - 1) * (1 / math.sqrt(8))
    torch.testing.assert_close(p["bo"][0], bo, rtol=0, atol=0)
    # the readout kind changes only J (it is drawn after every hidden parameter)
    other = net.init([3], ["sphere"])
    for k in p:
        if k not in ("J", "bo"):
            assert torch.equal(other[k][0], p[k][0]), k


def test_bias_shift_moves_only_the_hidden_biases():
    base = _cnn("relu").init([2], ["uniform"])
    shifted = _cnn("relu_bias-0.5").init([2], ["uniform"])
    for k in base:
        if k in ("conv1_b", "conv2_b", "fc1_b", "fc2_b"):
            torch.testing.assert_close(shifted[k], base[k] - 0.5)
        else:
            assert torch.equal(shifted[k], base[k]), k


def test_expanded_shared_input_gives_the_same_result():
    """The evaluation's x.expand(S, …) (stride 0 on the run axis) equals a contiguous copy."""
    net = _cnn("tanh")
    p = net.init([0, 1, 2, 3], ["uniform"] * 4)
    x1 = torch.randn(1, 5, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        za, ha = net.forward(p, x1.expand(4, -1, -1, -1, -1))
        zb, hb = net.forward(p, x1.repeat(4, 1, 1, 1, 1))
    assert torch.equal(za, zb)
    for a, b in zip(ha, hb, strict=True):
        assert torch.equal(a, b)


def test_in_place_activation_only_without_gradients():
    act = get_activation("tanh")
    calls = {"f": 0, "f_": 0}

    def f(u):
        calls["f"] += 1
        return act.f(u)

    def f_(u):
        calls["f_"] += 1
        return act.f_(u)

    net = _cnn()
    net.act = dataclasses.replace(act, f=f, f_=f_)
    p = net.init([0, 1], ["uniform"] * 2)
    x = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        net.forward(p, x)
    assert calls == {"f": 0, "f_": 2 * 2 + 2}  # two conv layers per run, two FC layers
    calls.update(f=0, f_=0)
    q = {k: v.requires_grad_(k in net.trained) for k, v in p.items()}
    z, _ = net.forward(q, x)
    assert calls == {"f": 6, "f_": 0} and z.requires_grad


def test_registry_and_input_checks():
    kind = networks.kind_of("cnn")
    assert kind.inputs == "image" and networks.canonical_network("cnn") == "cnn"
    assert "cnn" in networks.NAME_EXAMPLES
    schema = networks.settings_schema()
    assert schema["channels"]["default"] == 16 and schema["fc_width"]["default"] == 100
    # shared with the MLPs by name: the MLPs' definition is kept
    assert schema["train_output_bias"]["default"] is True
    cfg = {"width": 120, "channels": 8, "fc_width": 20, "train_output_bias": False}
    assert networks.model_settings("cnn", cfg) == {
        "channels": 8,
        "fc_width": 20,
        "train_output_bias": False,
    }
    with pytest.raises(ValueError, match="images"):
        _cnn(shape=(12,))
    with pytest.raises(ValueError, match="too small"):
        _cnn(shape=(3, 15, 32))
