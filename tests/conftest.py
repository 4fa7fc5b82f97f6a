import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def square():
    """Condition means on a unit square in 2-D: c → (s1, s2), with the δ-task's bit order."""
    from repgeom.tasks.delta import condition_bits

    b1, b2 = condition_bits()
    return np.stack([2 * b1 - 1, 2 * b2 - 1], axis=1).astype(float)


def snakemake_cmd(workdir) -> list[str]:
    """The project's Snakefile run by this interpreter's Snakemake in ``workdir``."""
    import sys
    from pathlib import Path

    snakefile = Path(__file__).parents[1] / "Snakefile"
    return [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(workdir)]


def mlp(
    seeds,
    dim,
    width,
    readouts,
    n_out=1,
    init="uniform",
    act="tanh",
    depth=1,
    train_output_bias=True,
    train_hidden_bias=True,
):
    """An MLP of ``depth`` hidden layers (1: the shallow network) and its initial params."""
    from repgeom import networks
    from repgeom.activations import get_activation

    settings = {
        "width": width,
        "init": init,
        "train_output_bias": train_output_bias,
        "train_hidden_bias": train_hidden_bias,
    }
    name = "shallow" if depth == 1 else f"mlp{depth}"
    net = networks.build(name, settings, get_activation(act), (dim,), n_out)
    return net, net.init(list(seeds), list(readouts))


def hidden(net, p, x):
    """The last hidden layer's responses (R, n, N) to x (R, n, D)."""
    import torch

    with torch.no_grad():
        return net.forward(p, x)[1][-1]
