"""Claims about unstructured inputs (E1, Fig. 1C–D): where the hidden neurons' weights move.

The measure is the family's ``movement_ratio`` column (``repgeom.tasks.unstructured``): at the
final snapshot, the mean over neurons of how far each moved along its own intra-class axis
since initialisation, divided by the same along its inter-class axis. Runs of one seed share
the four means (the task seed), their samples, the initial W and the readout J across
activations and optimisers, so activations are compared seed by seed.

The paper's picture: tanh's neurons move along the inter-class axis, relu's also along the
intra-class axis (they specialise to single inputs), so relu's ratio exceeds tanh's, and
tanh's is below 1. Beyond the paper, the experiment's other activations are placed between the
two by the registry's kind (``repgeom.activation_names``): the two-sided saturating ones
(sigmoid, hardtanh, bounded relus …) should land on tanh's side, the one-sided ones (gelu, silu,
softplus, leaky relus …) on relu's side, by the movement ratio and by the final target
alignment alike.
"""

from __future__ import annotations

import pandas as pd

from . import (
    Claim,
    Contrast,
    about,
    activation_gap,
    groups,
    missing,
    one_sided_beyond_relu,
    setting,
    side_contrasts,
    two_sided_beyond_tanh,
    varying,
)

#: the two measures an activation is placed by, with their short names
MEASURES = (("movement_ratio", "movement ratio"), ("target_alignment", "target alignment"))


#: why a claim is not run on tables evaluated before the family had its movement columns
NO_MOVEMENT = "needs the movement columns (tables evaluated before they existed: run again)"


def relu_moves_intra(final: pd.DataFrame, dich, keys: list[str]):
    if "movement_ratio" not in final.columns:
        return NO_MOVEMENT
    return activation_gap(final, keys, "movement_ratio", "relu", "tanh", "ratio − tanh's")


def tanh_moves_inter(final: pd.DataFrame, dich, keys: list[str]):
    if "movement_ratio" not in final.columns:
        return NO_MOVEMENT
    tanh = final[final["act"] == "tanh"].dropna(subset=["movement_ratio"])
    if tanh.empty:
        return "needs activation tanh"
    by = varying(final, keys)
    return (
        Contrast(setting(by, key), "1 − tanh's ratio", 1 - g["movement_ratio"].to_numpy())
        for key, g in groups(tanh, by)
    )


def _side(wanted, near: str, far: str):
    """The claim's contrasts (:func:`repgeom.claims.side_contrasts`) on both
    :data:`MEASURES`."""

    def contrasts(final: pd.DataFrame, dich, keys: list[str]):
        if why := missing(final, "tanh", "relu"):
            return why
        if "movement_ratio" not in final.columns:
            return NO_MOVEMENT
        return iter(side_contrasts(final, keys, wanted, MEASURES, near, far))

    return contrasts


CLAIMS = (
    Claim(
        "relu_moves_intra",
        "tanh's neurons move along the inter-class axis, relu's also along the intra-class "
        "axis: relu's final movement ratio (intra/inter) exceeds tanh's",
        relu_moves_intra,
    ),
    Claim(
        "tanh_moves_inter",
        "tanh's neurons move more along the inter-class axis than along the intra-class axis "
        "(final movement ratio below 1)",
        tanh_moves_inter,
    ),
    Claim(
        "two_sided_tanh_side",
        "[beyond the paper] two-sided saturating activations land on tanh's side: movement "
        "ratio and target alignment nearer tanh's than relu's",
        _side(two_sided_beyond_tanh, "tanh", "relu"),
        about(two_sided_beyond_tanh, "two-sided saturating activations other than tanh"),
    ),
    Claim(
        "one_sided_relu_side",
        "[beyond the paper] one-sided activations land on relu's side: movement ratio and "
        "target alignment nearer relu's than tanh's",
        _side(one_sided_beyond_relu, "relu", "tanh"),
        about(one_sided_beyond_relu, "one-sided activations other than relu"),
    ),
)
