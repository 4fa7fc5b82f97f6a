"""Losses on the logits, one function for the trainer and the evaluation alike.

A task names its loss (:attr:`repgeom.tasks.Task.loss`); targets are float tensors shaped like
the logits z (R, n, K): 0/1 labels per output for ``bce``, one-hot classes for
``cross_entropy``.

* ``value(z, y)`` → (R,): the loss averaged over the samples (and, for ``bce``, the outputs);
* ``error(z, y)`` → (R, n, K): ∂ℓ_n/∂z_n of each sample's loss ℓ_n, summed over the outputs
  for ``bce`` (spec §5: the gradient sums over outputs while the logged loss averages over
  them, which changes only the effective learning rate by a factor K);
* ``correct(z, y)`` → (R,): the fraction of correct outputs (``bce``: logit > 0 ⇔ label 1, per
  output) or samples (``cross_entropy``: arg max of the logits is the class).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Loss:
    name: str
    formula: str
    value: Fn
    error: Fn
    correct: Fn


def _bce_value(z, y):
    return F.binary_cross_entropy_with_logits(z, y, reduction="none").mean(dim=(-2, -1))


def _bce_error(z, y):
    return torch.sigmoid(z) - y


def _bce_correct(z, y):
    return ((z > 0) == (y > 0.5)).to(z.dtype).mean(dim=(-2, -1))


def _ce_value(z, y):
    return -(torch.log_softmax(z, dim=-1) * y).sum(-1).mean(-1)


def _ce_error(z, y):
    return torch.softmax(z, dim=-1) - y


def _ce_correct(z, y):
    return (z.argmax(-1) == y.argmax(-1)).to(z.dtype).mean(-1)


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss(
            "bce",
            "mean over samples and outputs of −y log σ(z) − (1−y) log(1−σ(z))",
            _bce_value,
            _bce_error,
            _bce_correct,
        ),
        Loss(
            "cross_entropy",
            "mean over samples of −log softmax(z)_class",
            _ce_value,
            _ce_error,
            _ce_correct,
        ),
    )
}


def get_loss(name: str) -> Loss:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; allowed: {', '.join(LOSSES)}")
    return LOSSES[name]
