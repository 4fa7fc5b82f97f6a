"""What every network gives the trainer and the evaluation, and the helpers they share.

A network here is a *batch* of R independent networks of one architecture, held as a dict of
stacked tensors with a leading run axis (:data:`Params`), written once as a pure function of
(params, inputs). The trainer and the evaluation see only this interface:

* ``init(seeds, readouts)`` → params on the CPU, each run from its own generator;
* ``forward(params, x, workspace=None)`` → (logits (R, n, K), [h_1, …, h_L]), each hidden
  representation flattened to (R, n, F_l): the same function in training and evaluation;
* ``layers``: the names of the L hidden layers, in order (layer l of the tables is
  ``layers[l-1]``); ``weights``: the parameter holding each layer's incoming weights;
* ``trained``: the names of the parameters the optimiser updates (the readout is frozen);
* ``backward(params, x, hidden, dz, out, alpha, accumulate, workspace)``: writes (or, with
  ``accumulate``, adds) ``alpha`` · ∂L/∂θ into ``out[θ]`` for each trained θ, given the error
  at the logits dz = ∂L/∂z (R, n, K). :class:`Network` implements it with autograd; a kind
  with a hot path (the MLPs) writes it out. With ``out = params``, ``alpha = −1`` and the
  learning rate folded into dz, it *is* the SGD step, without a gradient buffer.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import READOUTS

#: a batch of networks: parameter name → tensor (R, …), R the run (or snapshot) axis
Params = dict[str, torch.Tensor]


def to_numpy(p: Params) -> dict[str, np.ndarray]:
    """Copies as NumPy arrays (``.numpy()`` shares memory with CPU tensors, and a snapshot must
    not follow later in-place updates)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in p.items()}


def clone(p: Params) -> Params:
    return {k: v.clone() for k, v in p.items()}


def to_device(p: Params, device) -> Params:
    return {k: v.to(device) for k, v in p.items()}


def max_change(p: Params, q: Params, names) -> torch.Tensor:
    """Per-run max |p − q| over the parameters ``names``, shape (R,)."""
    R = next(iter(p.values())).shape[0]
    return torch.stack([(p[k] - q[k]).abs().reshape(R, -1).amax(dim=1) for k in names]).amax(0)


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


class Network:
    """Base of every network kind (see the module docstring for the interface).

    ``name``: canonical architecture name; ``layers``: hidden layer names; ``weights``: layer
    name → its incoming weight parameter; ``trained``: parameters the optimiser updates.
    """

    name: str = ""
    layers: tuple[str, ...] = ()
    weights: dict[str, str] = {}
    trained: tuple[str, ...] = ()

    def init(self, seeds: list[int], readouts: list[str]) -> Params:
        raise NotImplementedError

    def forward(
        self, p: Params, x: torch.Tensor, workspace: dict | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        raise NotImplementedError

    def workspace(self, R: int, B: int, like: torch.Tensor) -> dict | None:
        """Scratch tensors for minibatches of B samples of R runs, reused by every step (None:
        the network allocates as it goes)."""
        return None

    def backward(
        self,
        p: Params,
        x: torch.Tensor,
        hidden: list[torch.Tensor],
        dz: torch.Tensor,
        out: Params,
        alpha: float = 1.0,
        accumulate: bool = False,
        workspace: dict | None = None,
    ) -> None:
        """``out[θ] (+)= alpha · Σ_runs,samples dz · ∂z/∂θ`` for each trained θ, by autograd.

        The runs are independent, so the gradient of the summed ⟨z, dz⟩ with respect to the
        stacked parameters is every run's own gradient in its own slice. ``hidden`` is unused
        here (the forward pass is recomputed with gradients on).
        """
        with torch.enable_grad():
            leaves = {k: p[k].detach().requires_grad_(k in self.trained) for k in p}
            z, _ = self.forward(leaves, x)
            grads = torch.autograd.grad((z * dz).sum(), [leaves[k] for k in self.trained])
        for k, g in zip(self.trained, grads, strict=True):
            if accumulate:
                out[k].add_(g, alpha=alpha)
            else:
                torch.mul(g, alpha, out=out[k])
