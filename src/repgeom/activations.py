"""Registry of hidden-layer nonlinearities (the activation ablation, paper Fig. 5).

Each activation gives f and its derivative f′ as functions of the preactivation, both
elementwise on tensors. The trainer uses f′ explicitly (hand-written backward pass, as in the
original code), so a new nonlinearity is one registry entry (:data:`FAMILIES`) and never touches
the training code.

For speed the trainer uses the in-place forms: ``f_`` overwrites the preactivation with f(u)
(equal to ``f`` up to float rounding), and ``backprop_(g, h, tmp)`` multiplies a gradient by
f′(u) written through the output h = f(u) (for tanh 1 − h², for relu [h > 0]), so the step never
evaluates the nonlinearity twice and allocates nothing. Tests pin both against ``f`` and ``df``.
Where f is not injective, h does not determine f′(u): a leaky ReLU with a negative slope
(h > 0 for u > 0 and for u < 0), gelu and silu (each has a minimum at some u < 0). Their ``f_``
also keeps what the backward pass needs (the mask [u > 0]; f′(u); σ(u)), one buffer per output
tensor and per thread (a deep network's layers keep theirs side by side), and their
``backprop_`` accepts only a tensor that an ``f_`` call of the same thread returned, unchanged
since (it raises otherwise).

Names (``bounded_relu_ub1.5``, ``relu_bias+0.5``, …) and their canonical spellings are defined
in :mod:`repgeom.activation_names`; :data:`BUILDERS` gives each of its families f, f′ and the
in-place forms.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .activation_names import (
    ACTIVATION_FAMILIES,
    ACTIVATION_PATTERN,
    FAMILIES,
    canonical_activation,
    fmt_number,
    parse_activation,
)

__all__ = [
    "ACTIVATION_FAMILIES",
    "ACTIVATION_PATTERN",
    "BUILDERS",
    "FAMILIES",
    "Activation",
    "canonical_activation",
    "get_activation",
]

Fn = Callable[[torch.Tensor], torch.Tensor]
#: backprop_(g, h, tmp): g ← g · f′(u) in place, given h = f(u); tmp is scratch shaped like g
Backprop = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]


@dataclass(frozen=True)
class Activation:
    """One nonlinearity: ``name`` is canonical; ``bias_shift`` is added to the initial hidden
    bias by the model initialiser (0 except for the ``*_bias<±s>`` variants); ``family`` is the
    registry key it was built from."""

    name: str
    f: Fn
    df: Fn
    formula: str
    f_: Fn
    backprop_: Backprop
    bias_shift: float = 0.0
    family: str = ""


# --- the elementwise pieces -------------------------------------------------------------------


class _Impl(NamedTuple):
    formula: str
    f: Fn
    df: Fn
    f_: Fn
    backprop_: Backprop
    bias_shift: float = 0.0


def _tanh_df(u: torch.Tensor) -> torch.Tensor:
    t = torch.tanh(u)
    return 1 - t * t


def _relu_df(u: torch.Tensor) -> torch.Tensor:
    return (u > 0).to(u.dtype)


def _tanh_(u: torch.Tensor) -> torch.Tensor:
    # tanh(u) = 2σ(2u) − 1: torch's CPU tanh costs ~3.5 ns an element, the sigmoid ~1 ns, and
    # the step's largest elementwise cost is this call. Agrees with torch.tanh to 2e-7 (tested).
    return torch.sigmoid_(u.mul_(2)).mul_(2).sub_(1)


def _tanh_backprop_(g: torch.Tensor, h: torch.Tensor, tmp: torch.Tensor) -> None:
    torch.mul(h, h, out=tmp)
    tmp.mul_(g)
    g.sub_(tmp)


def _relu_backprop_(g: torch.Tensor, h: torch.Tensor, tmp: torch.Tensor) -> None:
    # h ≥ 0, so sign(h) is [u > 0] as a float; a float mask is much faster than a bool one on CPU
    torch.sign(h, out=tmp)
    g.mul_(tmp)


class _Saved:
    """Tensors an ``f_`` computes for its ``backprop_`` where f is not invertible from h: one per
    output tensor (a deep network's layers keep theirs side by side, at most 16), per thread.
    ``take`` hands back the buffer kept for u (or a new one from ``new(u)``), ``keep`` files it
    under the output of ``f_``, and ``get(h)`` returns it, raising unless h is that output,
    unchanged since."""

    def __init__(self, what: str):
        self.what = what
        self.state = threading.local()

    def _entries(self) -> dict:
        return self.state.__dict__.setdefault("entries", {})

    @staticmethod
    def _key(u: torch.Tensor) -> tuple:
        return (u.data_ptr(), u.shape, u.dtype, u.device)

    def take(self, u: torch.Tensor, new: Fn) -> torch.Tensor:
        entries = self._entries()
        entry = entries.pop(self._key(u), None)
        if entry is not None:
            return entry[2]
        if len(entries) >= 16:
            entries.pop(next(iter(entries)))
        return new(u)

    def keep(self, h: torch.Tensor, buf: torch.Tensor) -> None:
        self._entries()[self._key(h)] = (weakref.ref(h), h._version, buf)

    def get(self, h: torch.Tensor) -> torch.Tensor:
        ref, version, buf = self._entries().get(self._key(h), (None, None, None))
        if ref is None or ref() is not h or h._version != version:
            raise RuntimeError(
                f"{self.what}: backprop_ needs an h returned by this thread's f_, unchanged "
                "since (f is not invertible from h)"
            )
        return buf


def _bias_text(s: float) -> str:
    return f"; initial hidden bias b {'+' if s > 0 else '-'} {fmt_number(abs(s))}" if s else ""


def _tanh(s: float) -> _Impl:
    return _Impl("tanh(u)" + _bias_text(s), torch.tanh, _tanh_df, _tanh_, _tanh_backprop_, s)


def _relu(s: float) -> _Impl:
    formula = "max(0, u), f'(0) = 0" + _bias_text(s)
    return _Impl(formula, torch.relu, _relu_df, torch.relu_, _relu_backprop_, s)


def _bounded(ub: float) -> _Impl:
    def f(u):
        return torch.clamp(u, 0, ub)

    def df(u):
        return ((u > 0) & (u < ub)).to(u.dtype)

    def f_(u):
        return u.clamp_(0, ub)

    def backprop_(g, h, tmp):
        # 0 ≤ h ≤ ub, so sign(h · [h < ub]) is [0 < u < ub]
        torch.lt(h, ub, out=tmp)
        tmp.mul_(h).sign_()
        g.mul_(tmp)

    return _Impl(f"min(max(u, 0), {fmt_number(ub)})", f, df, f_, backprop_)


def _shifted(s: float) -> _Impl:
    def f(u):
        return torch.relu(u + s)

    def df(u):
        return ((u + s) > 0).to(u.dtype)  # 1[u > −s], written as f's own test

    def f_(u):
        return u.add_(s).relu_()

    sign = "+" if s > 0 else "-"
    return _Impl(f"max(0, u {sign} {fmt_number(abs(s))})", f, df, f_, _relu_backprop_)


def _hardtanh(_: None) -> _Impl:
    def f(u):
        return torch.clamp(u, -1, 1)

    def df(u):
        return ((u > -1) & (u < 1)).to(u.dtype)

    def f_(u):
        return u.clamp_(-1, 1)

    def backprop_(g, h, tmp):
        torch.abs(h, out=tmp)
        tmp.lt_(1)
        g.mul_(tmp)

    return _Impl("min(max(u, -1), 1)", f, df, f_, backprop_)


def _softplus_(u: torch.Tensor) -> torch.Tensor:
    # F.softplus (β = 1, linear above 20) written into u; there is no public in-place form
    return torch.ops.aten.softplus.out(u, 1, 20, out=u)


def _softplus_backprop_(g: torch.Tensor, h: torch.Tensor, tmp: torch.Tensor) -> None:
    # sigmoid(u) = 1 − e^(−h) = −expm1(−h), accurate also where h is tiny
    torch.neg(h, out=tmp)
    tmp.expm1_().neg_()
    g.mul_(tmp)


def _softplus(_: None) -> _Impl:
    return _Impl("log(1 + exp(u))", F.softplus, torch.sigmoid, _softplus_, _softplus_backprop_)


def _identity(_: None) -> _Impl:
    def backprop_(g, h, tmp):
        pass

    return _Impl("u", torch.clone, torch.ones_like, lambda u: u, backprop_)


def _leaky(eps: float) -> _Impl:
    def f(u):
        return F.leaky_relu(u, eps)

    def df(u):
        return torch.full_like(u, eps).masked_fill_(u > 0, 1.0)

    formula = f"u if u > 0 else {fmt_number(eps)} u"
    if eps > 0:  # h > 0 ⇔ u > 0

        def backprop_(g, h, tmp):
            torch.gt(h, 0, out=tmp)
            tmp.mul_(1 - eps).add_(eps)
            g.mul_(tmp)

        return _Impl(formula, f, df, lambda u: F.leaky_relu_(u, eps), backprop_)

    # ε < 0: h = f(u) > 0 on both sides of 0, so the mask [u > 0] is kept from the forward pass
    saved = _Saved(f"leaky_relu with slope {fmt_number(eps)} < 0")

    def f_(u):
        mask = saved.take(u, torch.empty_like)
        torch.gt(u, 0, out=mask)
        F.leaky_relu_(u, eps)
        saved.keep(u, mask)
        return u

    def backprop_(g, h, tmp):
        torch.mul(saved.get(h), 1 - eps, out=tmp)
        tmp.add_(eps)
        g.mul_(tmp)

    return _Impl(formula, f, df, f_, backprop_)


def _sigmoid_df(u: torch.Tensor) -> torch.Tensor:
    # σ(u)·σ(−u) = σ(u)(1 − σ(u)), accurate relative to its size in both tails
    return torch.sigmoid(u) * torch.sigmoid(-u)


def _sigmoid_backprop_(g: torch.Tensor, h: torch.Tensor, tmp: torch.Tensor) -> None:
    torch.addcmul(h, h, h, value=-1, out=tmp)  # h − h² = f′(u); h ∈ [0, 1] is injective
    g.mul_(tmp)


def _sigmoid(_: None) -> _Impl:
    return _Impl(
        "1 / (1 + exp(-u))", torch.sigmoid, _sigmoid_df, torch.sigmoid_, _sigmoid_backprop_
    )


_INV_SQRT_2PI = 0.3989422804014327  # 1/√(2π)
_SQRT1_2 = 0.7071067811865476  # 1/√2


def _gelu_df(u: torch.Tensor) -> torch.Tensor:
    # Φ(u) + u φ(u), with Φ(u) = ½ erfc(−u/√2): accurate for u ≪ 0, where 1 + erf(u/√2) (and
    # torch.special.ndtr, 0 below u ≈ −8.3) cancels
    return 0.5 * torch.erfc(-_SQRT1_2 * u) + u * torch.exp(-0.5 * u * u) * _INV_SQRT_2PI


def _gelu(_: None) -> _Impl:
    # gelu has a minimum (≈ −0.17 at u ≈ −0.75): h does not determine f′, so f_ keeps f′(u)
    saved = _Saved("gelu")

    def f_(u):
        buf = saved.take(u, lambda u: torch.empty((2, *u.shape), dtype=u.dtype, device=u.device))
        df, tmp = buf[0], buf[1]
        torch.mul(u, -_SQRT1_2, out=df)
        df.erfc_().mul_(0.5)  # Φ(u)
        torch.mul(u, u, out=tmp)
        tmp.mul_(-0.5).exp_().mul_(_INV_SQRT_2PI).mul_(u)
        df.add_(tmp)  # Φ(u) + u φ(u), as _gelu_df
        torch.ops.aten.gelu.out(u, out=u)  # F.gelu (exact erf form) written into u
        saved.keep(u, buf)
        return u

    def backprop_(g, h, tmp):
        g.mul_(saved.get(h)[0])

    return _Impl("u Φ(u) (exact erf form)", F.gelu, _gelu_df, f_, backprop_)


def _silu_df(u: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(u)
    return s * (1 + u * torch.sigmoid(-u))  # σ(u)(1 + u(1 − σ(u)))


def _silu(_: None) -> _Impl:
    # silu has a minimum (≈ −0.28 at u ≈ −1.28): f_ keeps σ(u), and f′ = σ + h(1 − σ)
    saved = _Saved("silu")

    def f_(u):
        s = saved.take(u, torch.empty_like)
        torch.sigmoid(u, out=s)
        F.silu(u, inplace=True)
        saved.keep(u, s)
        return u

    def backprop_(g, h, tmp):
        s = saved.get(h)
        torch.mul(h, s, out=tmp)
        tmp.neg_().add_(h).add_(s)  # σ + h − hσ = σ(1 + u(1 − σ))
        g.mul_(tmp)

    return _Impl("u / (1 + exp(-u))", F.silu, _silu_df, f_, backprop_)


# --- the implementations of every named family ----------------------------------------------

#: family name (repgeom.activation_names.FAMILIES) → builder of its implementation
BUILDERS: dict[str, Callable[[float | None], _Impl]] = {
    "tanh": _tanh,
    "relu": _relu,
    "relu6": lambda _: _bounded(6.0),
    "hardtanh": _hardtanh,
    "softplus": _softplus,
    "identity": _identity,
    "leaky_relu": _leaky,
    "bounded_relu": _bounded,
    "shifted_relu": _shifted,
    "sigmoid": _sigmoid,
    "gelu": _gelu,
    "silu": _silu,
}
if set(BUILDERS) != set(FAMILIES):
    raise ImportError(
        f"activation families without an implementation or a name: {set(BUILDERS) ^ set(FAMILIES)}"
    )


@functools.cache
def _build(canonical: str) -> Activation:
    fam, x = parse_activation(canonical)
    return Activation(canonical, **BUILDERS[fam.name](x)._asdict(), family=fam.name)


def get_activation(name: str) -> Activation:
    """The activation of any valid spelling; ``.name`` is canonical and one instance is kept
    per canonical name. Raises ValueError, listing the families, for a bad name."""
    return _build(canonical_activation(name))
