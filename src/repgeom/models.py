"""Networks vectorised over runs.

A batch of R independent one-hidden-layer networks h = f(W x + b), ŷ = J h + b_o is held as
stacked tensors: W (R, N, D), b (R, N), J (R, K, N), b_o (R, K). W and b are trained, the
readout J is frozen, and b_o is trained or frozen by the experiment (trained in the δ-task,
frozen in the alignment tasks). Each run is initialised from its own ``torch.Generator`` so a
run's initial weights never depend on the other runs in its batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import torch

from .activations import Activation

READOUTS = ("uniform", "sphere", "balanced", "gauss")
INITS = ("uniform", "normal")


@dataclass
class ShallowBatch:
    """Parameters of R shallow networks (see module docstring for shapes)."""

    W: torch.Tensor
    b: torch.Tensor
    J: torch.Tensor
    bo: torch.Tensor

    def to_numpy(self) -> dict[str, np.ndarray]:
        # .numpy() shares memory with CPU tensors; snapshots must not follow later in-place updates.
        return {f.name: getattr(self, f.name).detach().cpu().numpy().copy() for f in fields(self)}

    def to(self, device) -> ShallowBatch:
        return ShallowBatch(*(getattr(self, f.name).to(device) for f in fields(self)))

    def clone(self) -> ShallowBatch:
        return ShallowBatch(*(getattr(self, f.name).clone() for f in fields(self)))


def readout_weights(kind: str, n_out: int, width: int, gen: torch.Generator) -> torch.Tensor:
    """Frozen readout J of one network, shape (n_out, width).

    uniform: U(−1,1)/√N; sphere: independent random signs ±1/√N; balanced: exactly N/2 units
    +1/√N and N/2 units −1/√N in random order (per output); gauss: N(0,1)/√N.
    """
    scale = 1 / math.sqrt(width)
    if kind == "gauss":
        return torch.randn(n_out, width, generator=gen) * scale
    if kind == "uniform":
        return (2 * torch.rand(n_out, width, generator=gen) - 1) * scale
    if kind == "sphere":
        return (2 * torch.randint(0, 2, (n_out, width), generator=gen) - 1).float() * scale
    if kind == "balanced":
        signs = torch.ones(width)
        signs[width // 2 :] = -1
        rows = [signs[torch.randperm(width, generator=gen)] for _ in range(n_out)]
        return torch.stack(rows) * scale
    raise ValueError(f"unknown readout {kind!r}; allowed: {', '.join(READOUTS)}")


def init_shallow(
    seeds: list[int],
    dim: int,
    width: int,
    readouts: list[str],
    n_out: int = 1,
    init: str = "uniform",
    bias_shift: float = 0.0,
) -> ShallowBatch:
    """Initialise R = len(seeds) networks on the CPU, one generator per run.

    W ~ U(−1,1)/√D (``init="uniform"``, the δ-task) or N(0,1)/√D (``"normal"``, the alignment
    tasks); b ~ N(0,1)/√D + ``bias_shift``; J by ``readouts[r]`` with ``n_out`` rows;
    b_o ~ N(0,1)/√N. All float32. The draws come in this order from the run's generator.
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; allowed: {', '.join(INITS)}")
    Ws, bs, Js, bos = [], [], [], []
    for seed, readout in zip(seeds, readouts, strict=True):
        gen = torch.Generator().manual_seed(int(seed))
        if init == "uniform":
            Ws.append((2 * torch.rand(width, dim, generator=gen) - 1) / math.sqrt(dim))
        else:
            Ws.append(torch.randn(width, dim, generator=gen) / math.sqrt(dim))
        b = torch.randn(width, generator=gen) / math.sqrt(dim)
        bs.append(b + bias_shift if bias_shift else b)
        Js.append(readout_weights(readout, n_out, width, gen))
        bos.append(torch.randn(n_out, generator=gen) / math.sqrt(width))
    return ShallowBatch(torch.stack(Ws), torch.stack(bs), torch.stack(Js), torch.stack(bos))


def hidden(params: ShallowBatch, x: torch.Tensor, act: Activation) -> torch.Tensor:
    """Hidden responses f(W x + b): x (R, n, D) → (R, n, N)."""
    return act.f(torch.baddbmm(params.b.unsqueeze(1), x, params.W.transpose(1, 2)))


def logits(params: ShallowBatch, h: torch.Tensor) -> torch.Tensor:
    """Output logits J h + b_o: h (R, n, N) → (R, n, K)."""
    return torch.baddbmm(params.bo.unsqueeze(1), h, params.J.transpose(1, 2))
