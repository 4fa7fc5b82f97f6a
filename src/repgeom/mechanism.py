"""The weight-space picture of Fig. 1C–D: one hidden neuron's axes and its expected-gradient field.

Early in training the errors barely change, so a hidden neuron i of a one-hidden-layer network
with a frozen readout sign s_i = sgn(J_i) and a fixed bias b feels, on noise-free inputs, the
descent direction

    g(w) = Σ_c e_c f′(w·x̄_c + b) x̄_c,        e_c = s_i (y_c − ȳ)

(docs/science.md §5.9), where x̄_c (C, D) are the condition means and y_c ∈ {0, 1} the trained label.
g is the negative gradient of the "early-training loss" L(w) = −Σ_c e_c f(w·x̄_c + b)
(:func:`early_loss`). It is drawn in the plane of two axes (:func:`neuron_axes`): the
*inter-class* axis, the class-mean difference the neuron drives, and the *intra-class* axis, the
difference between the two conditions of the class it favours. tanh's f′ > 0 everywhere weighs
all conditions, whose intra-class pulls cancel, so w moves along the inter-class axis; relu's
f′ counts only the conditions with a positive preactivation, so w also moves along the
intra-class axis and the neuron specialises to single inputs.

Input noise x = x̄ + σξ makes the preactivation noisy, u + σ_h ε with σ_h = σ‖w‖; the field
then uses the noise-smoothed derivative E_ε[f′(u + σ_h ε)] (:func:`smoothed_df`), for any
registered activation by Gauss–Hermite quadrature, with the spec's closed forms for relu (exact)
and tanh (an approximation) in :func:`smoothed_df_closed`.

Everything here is NumPy; an activation's f and f′ come from :mod:`repgeom.activations`,
evaluated through torch on the CPU in float64 (torch is imported only then).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy import special

__all__ = [
    "Axes",
    "Field",
    "activation_numpy",
    "early_loss",
    "errors",
    "field_frame",
    "gradient_field",
    "movement",
    "network_coordinates",
    "neuron_axes",
    "neuron_coordinates",
    "project",
    "smoothed_df",
    "smoothed_df_closed",
    "trajectory_frame",
]

ArrayFn = Callable[[np.ndarray], np.ndarray]


class Axes(NamedTuple):
    """A neuron's orthonormal axes in input space, each (D,)."""

    intra: np.ndarray
    inter: np.ndarray


class Field(NamedTuple):
    """The projected field on a grid: ``alpha`` (G,) along the intra axis, ``beta`` (G,) along
    the inter axis; ``g_intra``, ``g_inter`` (G, G) indexed [j, i] for w = alpha[i] û_intra +
    beta[j] û_inter (the ``np.meshgrid(alpha, beta)`` layout that ``plt.quiver`` takes)."""

    alpha: np.ndarray
    beta: np.ndarray
    g_intra: np.ndarray
    g_inter: np.ndarray
    axes: Axes


# --------------------------------------------------------------------------- activations


@functools.cache
def activation_numpy(name: str) -> tuple[ArrayFn, ArrayFn]:
    """(f, f′) of a registered activation as NumPy functions (float64, any shape), evaluated
    by :mod:`repgeom.activations` through torch on the CPU."""
    import torch

    from .activations import get_activation

    act = get_activation(name)

    def wrap(fn):
        def numpy_fn(u):
            t = torch.from_numpy(np.ascontiguousarray(u, dtype=np.float64))
            return fn(t).numpy()

        return numpy_fn

    return wrap(act.f), wrap(act.df)


@functools.cache
def _hermite(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss–Hermite nodes and weights normalised to N(0, 1): E[h(ε)] ≈ Σ w h(x)."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    return x, w / w.sum()


#: the most Gauss–Hermite nodes :func:`smoothed_df` takes (NumPy's weights overflow beyond ~350)
MAX_NODES = 300


def smoothed_df(name: str, u: np.ndarray, sigma: float, nodes: int = 128) -> np.ndarray:
    """E_ε[f′(u + σ ε)], ε ~ N(0, 1), of any registered activation, elementwise: u (...) → (...).

    Gauss–Hermite quadrature (``nodes`` points) of Stein's identity E[f′(u + σε)] =
    E[ε f(u + σε)] / σ, which integrates f rather than f′: every registered f is continuous,
    while the f′ of the relu family jumps, and a quadrature of a jump errs by up to the largest
    weight (≈ 0.1 at 128 nodes). Measured at 128 nodes: a smooth f (tanh, sigmoid, gelu, silu,
    softplus) to ~1e-14 for σ ≤ 1 and ~3e-6 at σ = 3 (tanh, the steepest), ~1e-3 at σ = 10,
    where f turns kink-like on the nodes' scale; a kinked f (the relu family) to ~1e-3,
    falling as 1/nodes (relu: tested against Φ(u/σ)). σ = 0 gives f′(u) itself.
    """
    u = np.asarray(u, dtype=np.float64)
    if sigma < 0 or not math.isfinite(sigma):
        raise ValueError(f"sigma must be finite and ≥ 0, not {sigma}")
    if not 1 <= nodes <= MAX_NODES:
        raise ValueError(f"nodes must be in 1..{MAX_NODES}, not {nodes}")
    f, df = activation_numpy(name)
    if sigma == 0:
        return df(u)
    x, w = _hermite(nodes)
    values = f(u[..., None] + sigma * x)  # (..., nodes)
    return (values * (w * x)).sum(-1) / sigma


def smoothed_df_closed(name: str, u: np.ndarray, sigma: float) -> np.ndarray:
    """The closed forms of E_ε[f′(u + σ ε)] (docs/science.md §5.9), elementwise: u (...) → (...).

    * ``relu``: Φ(u/σ), exact (f′ = 1[u > 0]).
    * ``tanh``: exp(−u²/(1 + 2σ²)) / √(1 + 2σ²), an **approximation**: it is exact for the
      Gaussian bump exp(−u²) that stands in for tanh′ = sech² u (equal at 0 to second order, but
      sech² decays as 4e^(−2|u|), e.g. 0.42 against 0.37 at u = 1): off the exact smoothed
      tanh′ by up to 0.076 as σ → 0, 0.04 at σ = 1, 0.03 at σ = 2. The spec writes it without
      the factor 1/√(1 + 2σ²), which is common to all conditions at one σ: it leaves the
      field's direction alone but not its length; here the factor is kept.

    Other activations raise ValueError (use :func:`smoothed_df`).
    """
    u = np.asarray(u, dtype=np.float64)
    if sigma <= 0 or not math.isfinite(sigma):
        raise ValueError(f"sigma must be finite and > 0, not {sigma}")
    if name == "relu":
        return special.ndtr(u / sigma)
    if name == "tanh":
        s2 = 1 + 2 * sigma * sigma
        return np.exp(-u * u / s2) / np.sqrt(s2)
    raise ValueError(f"no closed form for {name!r}; closed forms: relu (exact), tanh (approx.)")


# --------------------------------------------------------------------------- axes and field


def errors(y: np.ndarray, sign: float) -> np.ndarray:
    """A neuron's error direction e_c = s (y_c − ȳ) over conditions: y (C,) 0/1 → (C,); s is
    the sign of the neuron's readout weight (any nonzero number; only its sign is used)."""
    y = np.asarray(y, dtype=np.float64)
    s = np.sign(sign)
    if s == 0:
        raise ValueError("the readout sign must be nonzero")
    return s * (y - y.mean())


def _unit(v: np.ndarray, what: str) -> np.ndarray:
    n = np.linalg.norm(v)
    if not n > 1e-12 * max(1.0, np.abs(v).max(initial=0.0)):
        raise ValueError(f"the {what} axis is degenerate (zero length)")
    return v / n


def neuron_axes(xbar: np.ndarray, y: np.ndarray, sign: float) -> Axes:
    """The neuron's (û_intra, û_inter), orthonormal: xbar (C, D), y (C,) 0/1, sign s_i.

    û_inter ∝ Σ_c e_c x̄_c (the class-mean difference, toward the class the neuron drives).
    The intra axis starts from x̄_a − x̄_a′, {a, a′} the two conditions with e_c > 0 (a the lower
    index), and is made orthogonal to û_inter (Gram–Schmidt) before normalising. The raw
    difference is orthogonal to the inter axis only when ‖x̄_a‖ = ‖x̄_a′‖ (centred, balanced
    conditions: Σ_c e_c x̄_c = x̄_a + x̄_a′, whose dot with x̄_a − x̄_a′ is ‖x̄_a‖² − ‖x̄_a′‖²),
    which random draws never are; with the correction, w·û_intra and w·û_inter are coordinates
    in the plane, and at w = 0 (all f′ equal) the field lies on the inter axis for every f.
    Raises ValueError unless exactly two conditions have e_c > 0, or if an axis is degenerate.
    """
    xbar = np.asarray(xbar, dtype=np.float64)
    e = errors(y, sign)
    if xbar.ndim != 2 or e.shape != (xbar.shape[0],):
        raise ValueError(f"xbar must be (C, D) and y (C,), not {xbar.shape} and {e.shape}")
    favoured = np.flatnonzero(e > 0)
    if len(favoured) != 2:
        raise ValueError(f"needs exactly two conditions with e_c > 0, not {favoured.tolist()}")
    inter = _unit(e @ xbar, "inter-class")
    a, a2 = favoured
    raw = xbar[a] - xbar[a2]
    intra = _unit(raw - (raw @ inter) * inter, "intra-class")
    return Axes(intra, inter)


def project(w: np.ndarray, axes: Axes) -> np.ndarray:
    """Coordinates (w·û_intra, w·û_inter) of weight vectors: w (..., D) → (..., 2)."""
    return np.stack([np.asarray(w) @ axes.intra, np.asarray(w) @ axes.inter], axis=-1)


def early_loss(w: np.ndarray, xbar: np.ndarray, y: np.ndarray, sign: float, name: str, bias):
    """L(w) = −Σ_c e_c f(w·x̄_c + b), whose negative gradient is g(w) (constant errors e_c):
    w (..., D), xbar (C, D) → (...)."""
    f, _ = activation_numpy(name)
    u = np.asarray(w) @ np.asarray(xbar, dtype=np.float64).T + bias  # (..., C)
    return -(f(u) * errors(y, sign)).sum(-1)


def gradient_field(
    xbar: np.ndarray,
    y: np.ndarray,
    sign: float,
    activation: str,
    bias: float = 0.0,
    grid: int = 21,
    extent: float = 1.0,
    smoothing_sigma: float | None = None,
    smoothing: str = "quadrature",
) -> Field:
    """The expected-gradient field g(w) = Σ_c e_c f′(w·x̄_c + b) x̄_c projected on the neuron's
    axes, at w = α û_intra + β û_inter for α, β on ``grid`` points over [−extent, extent].

    xbar (C, D) noise-free condition means; y (C,) the 0/1 label; sign the readout weight's
    sign; ``activation`` any registered name; ``bias`` the neuron's fixed hidden bias b (a
    ``*_bias<s>`` name's shift is not added: pass the bias the neuron has). The component of g
    out of the plane is dropped. With ``smoothing_sigma`` σ_h, f′ is replaced by
    E_ε[f′(u + σ_h ε)] (:func:`smoothed_df`, or the spec's closed forms with
    ``smoothing="closed"``); input noise σ per coordinate gives σ_h = σ‖w‖, so a constant σ_h
    is the field of one weight norm. Only f′ is smoothed: the extra term that noise adds to
    E[f′(w·x + b) x] along w itself (Stein: σ² w E[f″]) is left out, as in the original code.
    """
    axes = neuron_axes(xbar, y, sign)
    xbar = np.asarray(xbar, dtype=np.float64)
    e = errors(y, sign)
    p, q = xbar @ axes.intra, xbar @ axes.inter  # (C,): the conditions in the plane
    alpha = np.linspace(-extent, extent, grid)
    beta = np.linspace(-extent, extent, grid)
    A, B = np.meshgrid(alpha, beta)  # (G, G), [j, i]
    u = A[..., None] * p + B[..., None] * q + bias  # (G, G, C)
    if smoothing_sigma is None:
        d = activation_numpy(activation)[1](u)
    elif smoothing == "quadrature":
        d = smoothed_df(activation, u, smoothing_sigma)
    elif smoothing == "closed":
        d = smoothed_df_closed(activation, u, smoothing_sigma)
    else:
        raise ValueError(f"smoothing must be 'quadrature' or 'closed', not {smoothing!r}")
    weighted = d * e  # (G, G, C)
    return Field(alpha, beta, weighted @ p, weighted @ q, axes)


def field_frame(*args, **kwargs):
    """:func:`gradient_field` as a tidy pandas DataFrame, one row per grid point: columns
    ``alpha``, ``beta``, ``g_intra``, ``g_inter`` (same arguments)."""
    import pandas as pd

    fld = gradient_field(*args, **kwargs)
    A, B = np.meshgrid(fld.alpha, fld.beta)
    return pd.DataFrame(
        {
            "alpha": A.ravel(),
            "beta": B.ravel(),
            "g_intra": fld.g_intra.ravel(),
            "g_inter": fld.g_inter.ravel(),
        }
    )


# --------------------------------------------------------------------------- trajectories


def neuron_coordinates(
    W: np.ndarray, xbar: np.ndarray, y: np.ndarray, readout: np.ndarray
) -> np.ndarray:
    """Each hidden neuron's weights on its own axes over training.

    W (S, N, D): the input weights at S snapshots; xbar (C, D) the condition means; y (C,) the
    trained 0/1 label; readout (N,) each neuron's readout weight J_i, whose sign picks its axes
    (:func:`neuron_axes`; a zero weight counts as positive). Returns (S, N, 2): per snapshot
    and neuron, (w_i·û_intra, w_i·û_inter). Neurons of one sign share their axes, so the axes
    are built twice, not N times.
    """
    W = np.asarray(W, dtype=np.float64)
    signs = np.where(np.asarray(readout) < 0, -1.0, 1.0)
    if W.ndim != 3 or signs.shape != (W.shape[1],):
        raise ValueError(f"W must be (S, N, D) and readout (N,), not {W.shape}, {signs.shape}")
    out = np.empty(W.shape[:2] + (2,))
    for s in (-1.0, 1.0):
        mine = signs == s
        if mine.any():
            out[:, mine] = project(W[:, mine], neuron_axes(xbar, y, s))
    return out


#: snapshots projected at once by :func:`network_coordinates` (bounds its float64 copies)
COORDINATE_CHUNK = 128


def network_coordinates(xbar: np.ndarray, y: np.ndarray, params: dict) -> np.ndarray:
    """:func:`neuron_coordinates` of a one-hidden-layer network's saved snapshots.

    params: name → (S, …) arrays as :func:`repgeom.storage.read_weights` returns them, with the
    input weights ``W`` (S, N, D) and the frozen readout ``J`` (S, 1, N) of one output, whose
    first snapshot gives the signs. Returns (S, N, 2) float64, computed in chunks of
    :data:`COORDINATE_CHUNK` snapshots. ValueError names what is missing or misshapen.
    """
    W, J = params.get("W"), params.get("J")
    if W is None or J is None or np.ndim(W) != 3 or np.ndim(J) != 3 or J.shape[1] != 1:
        shapes = {k: np.shape(params[k]) for k in ("W", "J") if k in params}
        raise ValueError(
            "neuron trajectories need a one-hidden-layer network with one output: input "
            f"weights W (S, N, D) and readout J (S, 1, N), not {shapes}"
        )
    readout = np.asarray(J[0, 0])
    return np.concatenate(
        [
            neuron_coordinates(W[lo : lo + COORDINATE_CHUNK], xbar, y, readout)
            for lo in range(0, len(W), COORDINATE_CHUNK)
        ]
    )


def movement(coords: np.ndarray) -> np.ndarray:
    """How far the neurons moved along their axes: coords (S, N, 2) from
    :func:`neuron_coordinates` → (S, 2), per snapshot the mean over neurons of the absolute
    displacement from the first snapshot, (intra, inter). Their ratio intra/inter is the
    paper's contrast: tanh moves along the inter-class axis (ratio ≪ 1), relu along both."""
    coords = np.asarray(coords, dtype=np.float64)
    return np.abs(coords - coords[:1]).mean(axis=1)


def trajectory_frame(epochs: np.ndarray, coords: np.ndarray):
    """Trajectories as a tidy pandas DataFrame, one row per snapshot and neuron: ``epoch``
    (int64), ``neuron`` (int32), ``intra``, ``inter`` (float32); epochs (S,), coords
    (S, N, 2). 16 bytes per row before compression."""
    import pandas as pd

    S, N, _ = coords.shape
    return pd.DataFrame(
        {
            "epoch": np.repeat(np.asarray(epochs, dtype=np.int64), N),
            "neuron": np.tile(np.arange(N, dtype=np.int32), S),
            "intra": coords[..., 0].ravel().astype(np.float32),
            "inter": coords[..., 1].ravel().astype(np.float32),
        }
    )
