"""Multi-layer perceptrons with a frozen readout, vectorised over runs: ``shallow`` (= ``mlp1``,
the paper's one-hidden-layer network) and ``mlp<L>``.

h_0 = x, h_l = f(W_l h_{l−1} + b_l) for l = 1…L, logits z = J h_L + b_o. Parameters, with a
leading run axis R: ``W`` (R, N, D) and ``b`` (R, N) for layer 1 (the shallow network's names),
``W<l>`` (R, N, N) and ``b<l>`` (R, N) for l ≥ 2, the frozen readout ``J`` (R, K, N) and ``bo``
(R, K). Every hidden layer has width N and the same activation. Trained: the hidden weights, the
hidden biases (unless ``train_hidden_bias`` is false) and ``bo`` when ``train_output_bias``.

Initialisation per run, from its own generator, in this order: for each layer W_l ~
U(−1,1)/√fan_in (``init: uniform``) or N(0,1)/√fan_in (``normal``), then b_l ~ N(0,1)/√fan_in
plus the activation's bias shift; then J by the run's readout kind and b_o ~ N(0,1)/√N (spec
§4.1, §4.3). For L = 1 this is exactly the shallow network of every earlier version. A fixed
``hidden_bias`` (``output_bias``) replaces the random draw of every b_l (of b_o) by that
constant (b_l: plus the activation's bias shift); the draw is still made, so the other
parameters are those of the random-bias network of the same seed (the weight-space experiment's
b = ±0.1 and b = 0 runs share W and J).

The gradient is written out (the MLPs are the hot path): backpropagation through the
activation's in-place f′ (``backprop_``), into reused (R, B, N) buffers. Tests pin it to
autograd for every depth and activation.
"""

from __future__ import annotations

import math

import torch

from ..activations import Activation
from .base import Network, Params, readout_weights


def _layer_names(depth: int) -> tuple[tuple[str, str], ...]:
    """(weight, bias) parameter names of each hidden layer."""
    return tuple(("W", "b") if i == 1 else (f"W{i}", f"b{i}") for i in range(1, depth + 1))


class MLP(Network):
    def __init__(
        self,
        name: str,
        depth: int,
        dim: int,
        width: int,
        n_out: int,
        activation: Activation,
        init: str = "uniform",
        train_output_bias: bool = True,
        train_hidden_bias: bool = True,
        hidden_bias: float | None = None,
        output_bias: float | None = None,
    ):
        if init not in ("uniform", "normal"):
            raise ValueError(f"unknown init {init!r}; allowed: uniform, normal")
        for key, value in (("hidden_bias", hidden_bias), ("output_bias", output_bias)):
            if value is not None and not isinstance(value, (int, float)):
                raise ValueError(f"{key} must be a number or None, not {value!r}")
        self.hidden_bias, self.output_bias = hidden_bias, output_bias
        self.name, self.depth, self.dim, self.width, self.n_out = name, depth, dim, width, n_out
        self.act, self.init_kind = activation, init
        self.params = _layer_names(depth)
        self.layers = tuple(str(i) for i in range(1, depth + 1))
        self.weights = {layer: w for layer, (w, _) in zip(self.layers, self.params, strict=True)}
        self.trained = tuple(
            name for w, b in self.params for name in (w, b) if name == w or train_hidden_bias
        ) + (("bo",) if train_output_bias else ())

    # -- initialisation ------------------------------------------------------------------------
    def init(self, seeds: list[int], readouts: list[str]) -> Params:
        runs = []
        for seed, readout in zip(seeds, readouts, strict=True):
            gen = torch.Generator().manual_seed(int(seed))
            run, fan_in = {}, self.dim
            for w, b in self.params:
                shape = (self.width, fan_in)
                if self.init_kind == "uniform":
                    run[w] = (2 * torch.rand(shape, generator=gen) - 1) / math.sqrt(fan_in)
                else:
                    run[w] = torch.randn(shape, generator=gen) / math.sqrt(fan_in)
                bias = torch.randn(self.width, generator=gen) / math.sqrt(fan_in)
                if self.hidden_bias is not None:  # drawn all the same: W and J do not change
                    bias = torch.full_like(bias, float(self.hidden_bias))
                run[b] = bias + self.act.bias_shift if self.act.bias_shift else bias
                fan_in = self.width
            run["J"] = readout_weights(readout, self.n_out, self.width, gen)
            run["bo"] = torch.randn(self.n_out, generator=gen) / math.sqrt(self.width)
            if self.output_bias is not None:
                run["bo"] = torch.full_like(run["bo"], float(self.output_bias))
            runs.append(run)
        return {k: torch.stack([r[k] for r in runs]) for k in runs[0]}

    # -- forward -----------------------------------------------------------------------------
    def workspace(self, R: int, B: int, like: torch.Tensor) -> dict:
        """Per layer an output buffer (kept for the backward pass), and three scratch tensors,
        all (R, B, N)."""

        def new():
            return torch.empty(R, B, self.width, dtype=like.dtype, device=like.device)

        return {"h": [new() for _ in self.params], "dpre": new(), "tmp": new(), "dh": new()}

    def forward(self, p: Params, x: torch.Tensor, workspace: dict | None = None):
        """x (R, n, D) → (logits (R, n, K), [h_1 … h_L] each (R, n, N)).

        In place (f_) unless a parameter needs gradients (autograd needs f's own graph).
        """
        graded = any(v.requires_grad for v in p.values())
        f = self.act.f if graded else self.act.f_
        hidden, h = [], x
        for i, (w, b) in enumerate(self.params):
            out = workspace["h"][i] if workspace is not None else None
            h = f(torch.baddbmm(p[b].unsqueeze(1), h, p[w].transpose(1, 2), out=out))
            hidden.append(h)
        z = torch.baddbmm(p["bo"].unsqueeze(1), h, p["J"].transpose(1, 2))
        return z, hidden

    # -- the hand-written gradient -------------------------------------------------------------
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
        """Backpropagation from dz (R, B, K) (see :class:`repgeom.networks.base.Network`).

        Layer by layer from the top: the error at the preactivation dpre_l = (error at h_l) ⊙
        f′; ∂W_l = dpre_lᵀ h_{l−1}, ∂b_l = Σ_n dpre_l; the error at h_{l−1} = dpre_l W_l is
        taken before ``out`` (possibly the parameters themselves) is written.
        """
        R, B, K = dz.shape
        ws = workspace or self.workspace(R, B, dz)
        dpre, spare, tmp = ws["dpre"], ws["dh"], ws["tmp"]
        if K == 1:
            torch.mul(dz, p["J"], out=dpre)  # (R, B, 1) · (R, 1, N): an outer product per run
        else:
            torch.bmm(dz, p["J"], out=dpre)
        for i in range(self.depth - 1, -1, -1):
            w, b = self.params[i]
            below = hidden[i - 1] if i > 0 else x
            self.act.backprop_(dpre, hidden[i], tmp)
            if i > 0:
                torch.bmm(dpre, p[w], out=spare)  # the error at h_{l−1}, before W_l changes
            if accumulate:
                out[w].baddbmm_(dpre.transpose(1, 2), below, alpha=alpha)
                if b in self.trained:
                    out[b].add_(dpre.sum(1), alpha=alpha)
            else:
                torch.bmm(dpre.transpose(1, 2), below, out=out[w])
                if alpha != 1:
                    out[w].mul_(alpha)
                if b in self.trained:
                    torch.sum(dpre, 1, out=out[b])
                    if alpha != 1:
                        out[b].mul_(alpha)
            dpre, spare = spare, dpre
        if "bo" in self.trained:
            if accumulate:
                out["bo"].add_(dz.sum(1), alpha=alpha)
            else:
                torch.sum(dz, 1, out=out["bo"])
                if alpha != 1:
                    out["bo"].mul_(alpha)


def build(name: str, settings: dict, activation: Activation, input_shape, n_out: int) -> MLP:
    """The MLP named ``name`` (``shallow`` or ``mlp<L>``) on inputs of shape (D,)."""
    depth = 1 if name == "shallow" else int(name.removeprefix("mlp"))
    (dim,) = input_shape
    return MLP(
        name,
        depth,
        dim,
        settings["width"],
        n_out,
        activation,
        settings.get("init", "uniform"),
        settings.get("train_output_bias", True),
        settings.get("train_hidden_bias", True),
        settings.get("hidden_bias"),
        settings.get("output_bias"),
    )
