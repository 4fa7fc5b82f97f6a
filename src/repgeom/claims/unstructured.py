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

from ..activation_names import ONE_SIDED, TWO_SIDED, activation_kind
from . import Claim, Contrast, about, activation_gap, groups, missing, setting, varying

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


def _two_sided(name: str) -> bool:
    return name != "tanh" and activation_kind(name) == TWO_SIDED


def _one_sided(name: str) -> bool:
    return name != "relu" and activation_kind(name) == ONE_SIDED


def _side(wanted, near: str, far: str):
    """Contrasts |x − far's| − |x − near's| per seed, for each activation ``wanted`` picks and
    each measure of :data:`MEASURES`: positive when the activation lands nearer ``near``."""

    def contrasts(final: pd.DataFrame, dich, keys: list[str]):
        if why := missing(final, "tanh", "relu"):
            return why
        if "movement_ratio" not in final.columns:
            return NO_MOVEMENT
        acts = sorted(a for a in set(final["act"]) if wanted(a))
        by = varying(final, keys)
        cell = [k for k in keys if k in final.columns]
        out = []
        for metric, name in MEASURES:
            table = final.set_index([*cell, "seed", "act"])[metric].unstack("act")
            for a in acts:
                gap = (table[a] - table[far]).abs() - (table[a] - table[near]).abs()
                gap = gap.dropna().rename("c").reset_index()
                for key, g in groups(gap, by):
                    where = setting(by, key)
                    out.append(
                        Contrast(
                            f"{a}, {name}" + (f", {where}" if by else ""),
                            f"|x − {far}'s| − |x − {near}'s|",
                            g["c"].to_numpy(),
                        )
                    )
        return iter(out)

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
        _side(_two_sided, "tanh", "relu"),
        about(_two_sided, "two-sided saturating activations other than tanh"),
    ),
    Claim(
        "one_sided_relu_side",
        "[beyond the paper] one-sided activations land on relu's side: movement ratio and "
        "target alignment nearer relu's than tanh's",
        _side(_one_sided, "relu", "tanh"),
        about(_one_sided, "one-sided activations other than relu"),
    ),
)
