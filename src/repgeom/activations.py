"""Registry of hidden-layer nonlinearities.

Each entry gives f and its derivative f′ as functions of the preactivation, both elementwise on
tensors. The trainer uses f′ explicitly (hand-written backward pass, as in the original code),
so a new nonlinearity is one registry entry and never touches the training code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Fn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Activation:
    name: str
    f: Fn
    df: Fn
    formula: str


def _tanh_df(u: torch.Tensor) -> torch.Tensor:
    t = torch.tanh(u)
    return 1 - t * t


def _relu_df(u: torch.Tensor) -> torch.Tensor:
    return (u > 0).to(u.dtype)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("tanh", torch.tanh, _tanh_df, "tanh(u)"),
        Activation("relu", torch.relu, _relu_df, "max(0, u), f'(0) = 0"),
    )
}


def get_activation(name: str) -> Activation:
    """Look an activation up by name; the error lists the names that exist."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise KeyError(
            f"unknown activation {name!r}; allowed: {', '.join(sorted(ACTIVATIONS))}"
        ) from None
