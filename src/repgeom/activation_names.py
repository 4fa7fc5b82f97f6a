"""Activation names: the grammar, canonical spellings and the pattern the schema checks.

Torch-free, so that the Snakefile can canonicalise the configured activations on every parse.
The implementations (f, f′ and their in-place forms) live in :mod:`repgeom.activations`, keyed
by the family names defined here; adding an activation is one entry here and one builder there
(checked when that module is imported).

Names
-----
An activation is named by its family and at most one number; the name becomes a folder
``act=<name>``, so it uses only lower-case letters, digits and ``_ . + -``:

=========================  ====================================  =======================  ========
spelling                   f(u)                                  f′(u)                    b init
=========================  ====================================  =======================  ========
``tanh``                   tanh(u)                               1 − tanh²(u)
``tanh_bias<±s>``          tanh(u)                               1 − tanh²(u)             b + s
``relu``                   max(0, u)                             1[u > 0]
``relu_bias<±s>``          max(0, u)                             1[u > 0]                 b + s
``relu6``                  min(max(u, 0), 6)                     1[0 < u < 6]
``hardtanh``               min(max(u, −1), 1)                    1[−1 < u < 1]
``sigmoid``                1 / (1 + e⁻ᵘ)                         σ(u)(1 − σ(u))
``softplus``               log(1 + eᵘ)  (β = 1)                  σ(u)
``gelu``                   u·Φ(u)  (exact, erf form)             Φ(u) + u·φ(u)
``silu``                   u·σ(u)                                σ(u)(1 + u(1 − σ(u)))
``identity``               u                                     1
``leaky_relu``             u if u > 0 else 0.01·u                1 or 0.01
``leaky_relu_slope<ε>``    u if u > 0 else ε·u  (any finite ε)   1 or ε
``bounded_relu_ub<ub>``    min(max(u, 0), ub)  (ub > 0)          1[0 < u < ub]
``shifted_relu_s<±s>``     max(0, u + s)                         1[u > −s]
=========================  ====================================  =======================  ========

σ is the logistic sigmoid, Φ and φ the standard normal CDF and density. At a kink f′ takes the
value of the open condition above (f′ = 0 at the corners of the ReLUs, ε at 0 for the leaky
ReLU). ``b init`` is :attr:`Activation.bias_shift`, added by the model's initialiser to the
initial hidden bias. Since the hidden bias is trained, ``shifted_relu_s<s>`` and
``relu_bias<s>`` start from the same function (f_shifted(u) = relu(u + s)); they are kept
apart because the paper runs both.

Numbers are decimals, optionally signed, with an optional exponent (``1.5``, ``+.5``, ``2e-1``);
``nan``, ``inf`` and other spellings are rejected. :func:`canonical_activation` maps every
spelling to one canonical name, which :func:`get_activation` returns as ``.name``:

- numbers in their shortest round-trip decimal form, positional, without trailing zeros or a
  trailing ``.0`` (``ub1.50`` → ``ub1.5``, ``ub2.0`` → ``ub2``, ``s-1e-1`` → ``s-0.1``);
- shifts (``<±s>``) always carry their sign (``shifted_relu_s0.5`` → ``shifted_relu_s+0.5``),
  other numbers only a minus sign (``leaky_relu_slope+0.2`` → ``leaky_relu_slope0.2``);
- a parameter that makes the activation another one gives that one's name, so the same model
  never runs in two folders: ``relu_bias+0``, ``shifted_relu_s0`` and ``leaky_relu_slope0`` →
  ``relu``; ``tanh_bias-0`` → ``tanh``; ``leaky_relu_slope0.01`` → ``leaky_relu``;
  ``leaky_relu_slope1`` → ``identity``; ``bounded_relu_ub6`` → ``relu6``.

Kinds
-----
Every activation has a *kind* (:func:`activation_kind`, one of :data:`KINDS`), the shape that
the paper's ablation (Fig. 5) groups by: saturating on both sides (a banded derivative, as
tanh and sigmoid), saturating on at most one side (relu, softplus, gelu, silu), relu with its
kink moved off the origin, and tanh or relu with a shifted initial bias. A family declares its
kind, and the kind of its non-default parameter values where the number changes it (the bias
shifts of ``tanh`` and ``relu``).

Canonical examples: ``bounded_relu_ub1``, ``bounded_relu_ub1.5``, ``shifted_relu_s-0.5``,
``shifted_relu_s+1``, ``relu_bias+0.5``, ``tanh_bias-1``, ``leaky_relu_slope-0.2``.
An unknown or malformed name, or an invalid parameter (ub ≤ 0, a number out of range), raises
``ValueError`` naming the value and listing :data:`ACTIVATION_FAMILIES`. :data:`ACTIVATION_PATTERN`
is a regular expression (JSON-schema compatible) that accepts every valid spelling.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

#: the kinds of activation the ablation contrasts (spec §8.1, Fig. 5), in the order figures
#: show them: the paper's argument runs from tanh-like shapes to relu-like ones, then shifts
TWO_SIDED = "two-sided saturating"
ONE_SIDED = "one-sided or non-saturating"
KINK_SHIFT = "kink shift"
BIAS_SHIFT = "bias shift"
KINDS: tuple[str, ...] = (TWO_SIDED, ONE_SIDED, KINK_SHIFT, BIAS_SHIFT)


@dataclass(frozen=True)
class Family:
    """A registry entry: the bare name, and for a parameterised family the text before its
    number (``param``), how that number is shown in documentation (``symbol``), whether its
    canonical form always carries a sign, the value that the bare name stands for (``default``;
    None: the number is required), parameter values that make it another activation
    (``same_as``: value → that canonical name), a check returning an error text or None, the
    family's ``kind`` (one of :data:`KINDS`) and ``param_kind``, the kind of a name whose
    number differs from ``default`` where that number changes the kind (None: it does not)."""

    name: str
    param: str = ""
    symbol: str = ""
    signed: bool = False
    default: float | None = None
    same_as: Mapping[float, str] = field(default_factory=dict)
    check: Callable[[float], str | None] = lambda x: None
    #: the shape of f that the ablation groups by (one of KINDS); every entry must state it
    kind: str = field(kw_only=True)
    #: the kind of a non-default number (a shifted bias), or None where it keeps ``kind``
    param_kind: str | None = None

    @property
    def spelling(self) -> str:
        if not self.param:
            return self.name
        tail = f"{self.param}<{self.symbol}>"
        return f"{self.name}[{tail}]" if self.default is not None else self.name + tail


def _positive(what: str) -> Callable[[float], str | None]:
    return lambda x: None if x > 0 else f"{what} must be > 0"


_SHIFT = {
    "param": "_bias",
    "symbol": "±s",
    "signed": True,
    "default": 0.0,
    "param_kind": BIAS_SHIFT,
}

#: family name → entry; the order is that of the error messages and ACTIVATION_FAMILIES
FAMILIES: dict[str, Family] = {
    fam.name: fam
    for fam in (
        Family("tanh", kind=TWO_SIDED, **_SHIFT),
        Family("relu", kind=ONE_SIDED, **_SHIFT),
        # relu6 is bounded_relu_ub6: flat below 0 and above 6
        Family("relu6", kind=TWO_SIDED),
        Family("hardtanh", kind=TWO_SIDED),
        # σ(u) = ½ + ½ tanh(u/2): f′ = ¼(1 − tanh²(u/2)) is tanh's band, twice as wide and
        # centred at 0 like it. Only f is off-centre (f(0) = ½), a constant the kernels' centring
        # and the output bias absorb: the shape the ablation groups by is tanh's
        Family("sigmoid", kind=TWO_SIDED),
        Family("softplus", kind=ONE_SIDED),
        # gelu and silu are smooth relus: f′ → 0 as u → −∞ but → 1 as u → +∞, so they saturate
        # on one side only (f′ dips slightly below 0 and above 1 near the origin; f is not
        # monotone, which does not make it two-sided)
        Family("gelu", kind=ONE_SIDED),
        Family("silu", kind=ONE_SIDED),
        Family("identity", kind=ONE_SIDED),
        Family(
            "leaky_relu",
            "_slope",
            "ε",
            default=0.01,
            same_as={0.0: "relu", 1.0: "identity"},
            kind=ONE_SIDED,
        ),
        Family(
            "bounded_relu",
            "_ub",
            "ub",
            same_as={6.0: "relu6"},
            check=_positive("the upper bound ub"),
            kind=TWO_SIDED,
        ),
        Family("shifted_relu", "_s", "±s", signed=True, same_as={0.0: "relu"}, kind=KINK_SHIFT),
    )
}

#: the spelling of every family, for error messages and documentation
ACTIVATION_FAMILIES: tuple[str, ...] = tuple(fam.spelling for fam in FAMILIES.values())

# a decimal number as accepted in names (plain groups only: the pattern is also a JSON schema's)
_NUMBER = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(e[+-]?[0-9]+)?"
_MAX_NUMBER_CHARS = 32


def _name_pattern(fam: Family) -> str:
    if not fam.param:
        return re.escape(fam.name)
    tail = f"{re.escape(fam.param)}{_NUMBER}"
    return re.escape(fam.name) + (f"({tail})?" if fam.default is not None else tail)


#: regular expression matching every valid spelling (a JSON schema ``pattern``); values that
#: only the parser rejects (``bounded_relu_ub0``, numbers too long) still match
ACTIVATION_PATTERN: str = "^(" + "|".join(_name_pattern(f) for f in FAMILIES.values()) + ")$"


def fmt_number(x: float, signed: bool = False) -> str:
    """Shortest round-trip decimal of x, positional, without trailing zeros."""
    if x == 0:
        text = "0"
    else:
        text = format(Decimal(repr(float(x))).normalize(), "f")
    return "+" + text if signed and x > 0 else text


def _error(name: object, why: str = "") -> ValueError:
    what = f"invalid activation {name!r} ({why})" if why else f"unknown activation {name!r}"
    return ValueError(f"{what}; allowed: {', '.join(ACTIVATION_FAMILIES)}")


def parse_activation(name: str) -> tuple[Family, float | None]:
    """The family of a name and its number (the family's default for a bare name)."""
    for fam in FAMILIES.values():
        if name == fam.name:
            if fam.param and fam.default is None:
                raise _error(name, f"needs a number: {fam.spelling}")
            return fam, fam.default
        if fam.param and name.startswith(fam.name + fam.param):
            text = name[len(fam.name + fam.param) :]
            if not text:
                raise _error(name, f"missing the number of {fam.spelling}")
            if not re.fullmatch(_NUMBER, text):
                raise _error(name, f"{text!r} is not a decimal number, in {fam.spelling}")
            x = float(text)
            if not math.isfinite(x) or (x == 0 and re.search("[1-9]", text.split("e")[0])):
                raise _error(name, f"{text!r} is out of range")
            if (why := fam.check(x)) is not None:
                raise _error(name, why)
            return fam, x
    raise _error(name)


def canonical_activation(name: str) -> str:
    """The canonical spelling of an activation name (see the module docstring); raises
    ValueError, listing the families, for an unknown or malformed name."""
    if not isinstance(name, str):
        raise _error(name, "not a string")
    return _canonical(name)


@functools.lru_cache(maxsize=1024)
def _canonical(name: str) -> str:
    fam, x = parse_activation(name)
    if x is None or x == fam.default:
        return fam.name
    if x in fam.same_as:
        return fam.same_as[x]
    number = fmt_number(x, fam.signed)
    if len(number) > _MAX_NUMBER_CHARS:
        raise _error(name, f"its number takes over {_MAX_NUMBER_CHARS} characters written out")
    return fam.name + fam.param + number


def activation_kind(name: str) -> str:
    """The kind (one of :data:`KINDS`) of an activation, from its family in :data:`FAMILIES`:
    ``tanh`` is two-sided saturating, ``tanh_bias-1`` a bias shift."""
    canonical = canonical_activation(name)
    fam, x = parse_activation(canonical)
    if fam.param_kind is not None and x is not None and x != fam.default:
        return fam.param_kind
    return fam.kind
