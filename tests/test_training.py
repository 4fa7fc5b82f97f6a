import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import mlp

from repgeom.networks.base import clone
from repgeom.optimisers import get_optimiser
from repgeom.samples import make_datasets
from repgeom.tasks.delta import delta_dichotomies
from repgeom.training import TrainSettings, snapshot_epochs, step, train

BCE = "bce"


def sgd_step(net, p, x, y, lr):
    from repgeom.losses import get_loss

    return step(net, p, x, y, get_loss(BCE), get_optimiser("sgd"), {}, lr)


def autograd_loss(net, p, x, y):
    """Per-element BCE of the network with autograd on, from leaf copies of ``p``."""
    q = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    z, _ = net.forward(q, x)
    return q, F.binary_cross_entropy_with_logits(z, y, reduction="none")


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_hand_written_gradient_equals_autograd(act, rng):
    net, p = mlp([0, 1], 12, 8, ["uniform", "balanced"], act=act)
    x = torch.tensor(rng.normal(size=(2, 16, 12)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 2, (2, 16, 1)), dtype=torch.float32)
    q, loss = autograd_loss(net, p, x, y)
    loss.mean(dim=(1, 2)).sum().backward()
    before = clone(p)
    lr = torch.tensor([0.1, 0.1])
    got = sgd_step(net, p, x, y, lr)
    assert torch.allclose(got, loss.detach().mean(dim=(1, 2)))
    for name in ("W", "b", "bo"):
        change = (before[name] - p[name]) / 0.1
        assert torch.allclose(change, q[name].grad, atol=1e-6), name
    assert torch.equal(p["J"], before["J"])  # the readout is frozen


def test_multi_output_gradient_sums_over_outputs_and_frozen_output_bias(rng):
    """k = 3 outputs (the alignment tasks): the step is autograd's gradient of the loss summed
    over outputs and averaged over the minibatch (spec §5); the logged loss averages both; a
    frozen output bias stays put."""
    net, p = mlp(
        [0, 1],
        12,
        8,
        ["gauss", "gauss"],
        n_out=3,
        init="normal",
        act="relu",
        train_output_bias=False,
    )
    x = torch.tensor(rng.normal(size=(2, 16, 12)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 2, (2, 16, 3)), dtype=torch.float32)
    q, loss = autograd_loss(net, p, x, y)
    loss.sum(dim=2).mean(dim=1).sum().backward()
    before = clone(p)
    got = sgd_step(net, p, x, y, torch.tensor([0.1, 0.1]))
    assert torch.allclose(got, loss.detach().mean(dim=(1, 2)))
    for name in ("W", "b"):
        change = (before[name] - p[name]) / 0.1
        assert torch.allclose(change, q[name].grad, atol=1e-6), name
    assert torch.equal(p["bo"], before["bo"]) and torch.equal(p["J"], before["J"])


def test_snapshot_schedules():
    log = snapshot_epochs(5000, "log", 20)
    assert log[0] == 0 and log[-1] == 5000 and 15 <= len(log) <= 21
    assert snapshot_epochs(30, "linear", every=10) == [0, 10, 20, 30]
    assert snapshot_epochs(25, "linear", every=10) == [0, 10, 20, 25]
    with pytest.raises(ValueError, match="allowed: log, linear"):
        snapshot_epochs(10, "cubic")


def _batch(specs, dim=30, width=16, n=400, epochs=6, conv_tol=0.0, act="tanh", depth=1):
    """specs: (delta, sigma, seed, readout) per run."""
    xor = delta_dichotomies()["xor"]
    xs, ys = [], []
    for delta, sigma, seed, _ in specs:
        cfg = {"family": "delta", "delta": delta, "sigma": sigma, "dim": dim, "task_seed": 0}
        cond, x = make_datasets(cfg | {"data_seed": seed, "n_train": n, "n_test": 10})["train"]
        xs.append(x)
        ys.append(xor[cond][:, None].astype(np.float32))
    net, p = mlp([s[2] for s in specs], dim, width, [s[3] for s in specs], act=act, depth=depth)
    settings = TrainSettings(
        lr=0.1, batch_size=50, epochs=epochs, conv_tol=conv_tol, snapshot_epochs=(0, 3, epochs)
    )
    return net, p, torch.tensor(np.stack(xs)), torch.tensor(np.stack(ys)), settings


@pytest.mark.parametrize(
    ("act", "sizes"),
    [("tanh", {}), ("relu", {}), ("tanh", {"dim": 120, "width": 120, "n": 5000, "epochs": 3})],
)
def test_batch_invariance(act, sizes):
    """A run trained alone and inside a batch of different runs ends with the same weights."""
    specs = [(0.5, 0.1, 3, "uniform"), (0.0, 0.3, 7, "balanced"), (1.0, 0.0, 11, "sphere")]
    net, p, x, y, s = _batch(specs, act=act, **sizes)
    batched = train(net, p, x, y, s, [3, 7, 11])
    net1, p1, x1, y1, s1 = _batch(specs[:1], act=act, **sizes)
    alone = train(net1, p1, x1, y1, s1, [3])
    for e in sorted(set(batched.snapshots) - {0}):
        for name in ("W", "b", "bo"):
            diff = np.abs(batched.snapshots[e][name][0] - alone.snapshots[e][name][0]).max()
            assert diff <= 1e-5, (e, name, diff)
    assert np.allclose(batched.loss[0], alone.loss[0], atol=1e-6)


def test_early_stopping_is_per_run_and_freezes_weights():
    specs = [(0.5, 0.1, 1, "uniform"), (0.5, 0.1, 2, "uniform")]
    net, p, x, y, s = _batch(specs, epochs=8, conv_tol=1e9)  # all "converge" at epoch 1
    r = train(net, p, x, y, s, [1, 2])
    assert r.converged.all() and (r.stop_epoch == 1).all()
    assert np.isnan(r.loss[:, 1:]).all() and not np.isnan(r.loss[:, 0]).any()
    assert sorted(r.snapshots) == [0, 3, 8]
    assert np.array_equal(r.snapshots[3]["W"], r.snapshots[8]["W"])
    assert not np.array_equal(r.snapshots[0]["W"], r.snapshots[3]["W"])


def test_training_learns_xor_and_reports_progress():
    net, p, x, y, s = _batch([(0.5, 0.1, 0, "uniform")], epochs=40)
    seen = []
    s = TrainSettings(**{**s.__dict__, "progress_every_s": 0.0})
    r = train(net, p, x, y, s, [0], on_progress=seen.append)
    assert r.loss[0, -1] < 0.5 * r.loss[0, 0]
    assert seen[-1]["epoch"] == 40 and {"mean_loss", "converged", "runs"} <= set(seen[-1])


def test_snapshots_are_copies():
    net, p, x, y, s = _batch([(0.5, 0.1, 0, "uniform")], act="relu")
    r = train(net, p, x, y, s, [0])
    assert not np.array_equal(r.snapshots[0]["W"], r.snapshots[6]["W"])


def test_inputs_and_targets_need_one_run_axis():
    """Shared inputs (a leading axis of 1) with per-run targets would train every run on run
    0's targets: refused, as is a leading axis that is neither 1 nor R."""
    net, p, x, y, s = _batch([(0.5, 0.1, 0, "uniform"), (0.5, 0.1, 1, "uniform")])
    with pytest.raises(ValueError, match="one leading axis"):
        train(net, p, x[:1], y, s, [0, 1])
    with pytest.raises(ValueError, match="one leading axis"):
        train(net, p, torch.cat([x, x[:1]]), torch.cat([y, y[:1]]), s, [0, 1])


def test_shared_data_equals_the_same_data_per_run():
    """A data set held once (leading axis 1) trains each run as a per-run copy does."""
    net, p, x, y, s = _batch([(0.5, 0.1, 0, "uniform"), (0.5, 0.1, 0, "balanced")])
    p2 = {k: v.clone() for k, v in p.items()}
    shared = train(net, p, x[:1], y[:1], s, [3, 4])
    copied = train(
        net, p2, x[:1].expand_as(x).contiguous(), y[:1].expand_as(y).contiguous(), s, [3, 4]
    )
    for k in shared.snapshots[s.epochs]:
        assert np.array_equal(shared.snapshots[s.epochs][k], copied.snapshots[s.epochs][k]), k
