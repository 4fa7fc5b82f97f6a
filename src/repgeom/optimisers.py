"""Optimisers of a batch of runs, each run with its own learning rate (0 freezes a run).

Named by ``training.optimizer``; the trainer sees only this interface:

* ``fused``: the network's backward pass writes −g straight into the parameters, with the
  learning rate folded into the error at the logits (plain SGD: no gradient buffer, no extra
  pass over the parameters);
* ``error_scale(lr, B)`` (R,): what the per-sample error dz is multiplied by before the
  backward pass: lr/B for a fused optimiser, 1/B (the minibatch mean) for the others;
* ``init_state(params, trained)``: its state (tensors with the run axis), saved in training
  checkpoints so a resumed job ends bit-identically;
* ``step(params, grads, state, lr)``: the update from the minibatch-mean gradients.

``rmsprop`` is the paper code's variant (spec §5): β = 0.99; at the first step the accumulator
starts at v₀ = 0.1·g₁²; every step v_t = β v_{t−1} + (1 − β) g_t² and
θ ← θ − lr · g_t / √(v_t / (1 − β) + 10⁻⁸). ``adam`` is Kingma & Ba's with bias correction
(β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸), as ``torch.optim.Adam``.

Importing this module does not import torch (the configuration schema lists the optimisers on
every parse of the Snakefile); the methods do.
"""

from __future__ import annotations

from dataclasses import dataclass

State = dict  # name → tensor


def _per_run(v, like):
    """A per-run (R,) tensor shaped to broadcast against ``like`` (R, …)."""
    return v.reshape(-1, *([1] * (like.dim() - 1)))


@dataclass(frozen=True)
class Optimiser:
    name: str = ""
    description: str = ""
    fused: bool = False

    def error_scale(self, lr, batch: int):
        import torch

        return lr / batch if self.fused else torch.ones_like(lr) / batch

    def init_state(self, params, trained) -> State:
        return {}

    def step(self, params, grads, state: State, lr) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class SGD(Optimiser):
    name: str = "sgd"
    description: str = "plain SGD, no momentum or weight decay"
    fused: bool = True

    def step(self, params, grads, state, lr):
        for k, g in grads.items():
            params[k].sub_(g * _per_run(lr, g))


@dataclass(frozen=True)
class RMSprop(Optimiser):
    name: str = "rmsprop"
    description: str = "the paper code's RMSprop: β 0.99, accumulator from 0.1·g², ÷√(v/(1−β)+1e-8)"
    beta: float = 0.99
    init_fraction: float = 0.1
    eps: float = 1e-8

    def init_state(self, params, trained):
        import torch

        return {"t": torch.zeros((), dtype=torch.int64)} | {
            f"v.{k}": torch.zeros_like(params[k]) for k in trained
        }

    def step(self, params, grads, state, lr):
        import torch

        first = int(state["t"]) == 0
        state["t"] += 1
        for k, g in grads.items():
            v = state[f"v.{k}"]
            if first:
                torch.mul(g, g, out=v).mul_(self.init_fraction)
            v.mul_(self.beta).addcmul_(g, g, value=1 - self.beta)
            denom = (v / (1 - self.beta)).add_(self.eps).sqrt_()
            params[k].sub_(g / denom * _per_run(lr, g))


@dataclass(frozen=True)
class Adam(Optimiser):
    name: str = "adam"
    description: str = "Adam (β₁ 0.9, β₂ 0.999, ε 1e-8, bias-corrected)"
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def init_state(self, params, trained):
        import torch

        out = {"t": torch.zeros((), dtype=torch.int64)}
        for k in trained:
            out[f"m.{k}"] = torch.zeros_like(params[k])
            out[f"v.{k}"] = torch.zeros_like(params[k])
        return out

    def step(self, params, grads, state, lr):
        state["t"] += 1
        t = int(state["t"])
        c1, c2 = 1 - self.beta1**t, 1 - self.beta2**t
        for k, g in grads.items():
            m, v = state[f"m.{k}"], state[f"v.{k}"]
            m.mul_(self.beta1).add_(g, alpha=1 - self.beta1)
            v.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
            denom = (v / c2).sqrt_().add_(self.eps)
            params[k].sub_(m / c1 / denom * _per_run(lr, g))


OPTIMISERS: dict[str, Optimiser] = {o.name: o for o in (SGD(), RMSprop(), Adam())}


def get_optimiser(name: str) -> Optimiser:
    if name not in OPTIMISERS:
        raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMISERS)}")
    return OPTIMISERS[name]
