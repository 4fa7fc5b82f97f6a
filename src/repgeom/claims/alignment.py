"""The paper's claims about the alignment-parameterised tasks (Fig. 4) and the activation
ablation on them (Fig. 5)."""

from __future__ import annotations

import pandas as pd

from ..activation_names import FAMILIES, activation_kind
from ..activation_names import ONE_SIDED as ONE_SIDED_KIND
from ..activation_names import TWO_SIDED as TWO_SIDED_KIND
from . import Claim, Contrast, about, activation_gap, groups, missing, paired, setting, varying

#: activations saturating on both sides (a banded derivative) other than tanh itself: the
#: registry's two-sided kind (repgeom.activation_names), so a new entry of that kind joins the
#: claim. Shifted variants (tanh_bias, relu_bias, shifted_relu) change the behaviour at the
#: origin, whose role the paper leaves open: no claim is made about them.
TWO_SIDED = tuple(
    f.name for f in FAMILIES.values() if f.kind == TWO_SIDED_KIND and f.name != "tanh"
)


def one_sided(name: str) -> bool:
    """An activation of the registry's one-sided kind other than relu itself and identity
    (softplus, gelu, silu, …), and a leaky relu only with slope in (0, 1): a slope ≥ 1 or < 0 is
    not relu-like."""
    if name in ("relu", "identity") or activation_kind(name) != ONE_SIDED_KIND:
        return False
    if name.startswith("leaky_relu_slope"):
        return 0 < float(name.removeprefix("leaky_relu_slope")) < 1
    return True


def _by(final: pd.DataFrame, keys: list[str]) -> list[str]:
    return varying(final, keys) or ["d"]


def aligned(df: pd.DataFrame) -> pd.DataFrame:
    """The runs of tasks with some input–target alignment (c > 0: grid index align ≥ 1). At
    c = 0 the target ignores the input's structure, the XOR-like end where, as at δ = 0 in the
    δ-task, the paper does not claim the ordering."""
    return df[df["align"] > 0] if "align" in df.columns else df


def _gap(final, keys, metric, a, b, label=None):
    if why := missing(final, a, b):
        return why
    return activation_gap(
        aligned(final), keys, metric, a, b, label, "needs an alignment c > 0", ("d",)
    )


def tanh_target_alignment(final, dich, keys):
    return _gap(final, keys, "target_alignment", "tanh", "relu")


def relu_input_alignment(final, dich, keys):
    return _gap(final, keys, "input_alignment", "relu", "tanh")


def target_ccgp(dich: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Each run's CCGP (proper splits) averaged over its trained latent bits (CCGP_T)."""
    d = dich[dich["role"] == "target, latent"]
    return d.groupby([*keys, "act", "seed"], observed=True)["ccgp_proper"].mean().reset_index()


def tanh_disentangled(final, dich, keys):
    ccgp = target_ccgp(dich, keys)
    ccgp = ccgp[ccgp["k"] == ccgp["d"]] if {"k", "d"} <= set(ccgp.columns) else ccgp.iloc[:0]
    if ccgp.empty:
        return "needs k = d (every latent bit trained)"
    return _gap(ccgp, keys, "ccgp_proper", "tanh", "relu", "CCGP of the target bits")


def _ablation(final, wanted):
    """(why not, activations): the activations ``wanted`` picks, with tanh and relu present
    and some alignment c > 0 (:func:`_about` has checked that there are some)."""
    acts = sorted(a for a in set(final["act"]) if wanted(a))
    if why := missing(final, "tanh", "relu"):
        return why, []
    if aligned(final).empty:
        return "needs an alignment c > 0", []
    return None, acts


_SATURATING = "an activation of " + ", ".join(TWO_SIDED)
_ONE_SIDED = "one-sided activations (softplus, gelu, silu, a leaky relu with slope in (0, 1))"


def _two_sided(name: str) -> bool:
    return name != "tanh" and activation_kind(name) == TWO_SIDED_KIND


def saturating_toward_tanh(final, dich, keys):
    why, acts = _ablation(final, _two_sided)
    if why:
        return why
    final = aligned(final)
    by = _by(final, keys)
    out = []
    for a in acts:
        for key, v in paired(
            final, "target_alignment", final["act"] == a, final["act"] == "relu", by
        ):
            out.append(Contrast(f"{a}, {setting(by, key)}", "target_alignment − relu's", v))
    return iter(out)


def one_sided_stay_relu_like(final, dich, keys):
    why, acts = _ablation(final, one_sided)
    if why:
        return why
    final = aligned(final)
    by = _by(final, keys)
    cell = [k for k in keys if k in final.columns]
    ta = final.set_index([*cell, "seed", "act"])["target_alignment"].unstack("act")
    out = []
    for a in acts:
        # closer to relu than to tanh, seed by seed
        closer = ((ta[a] - ta["tanh"]).abs() - (ta[a] - ta["relu"]).abs()).rename("c")
        closer = closer.dropna().reset_index()
        for key, g in groups(closer, by):
            out.append(
                Contrast(f"{a}, {setting(by, key)}", "|TA−tanh's| − |TA−relu's|", g["c"].to_numpy())
            )
    return iter(out)


CLAIMS = (
    Claim(
        "tanh_target_alignment",
        "tanh's final target alignment exceeds relu's, at every alignment c > 0, d, k and kernel",
        tanh_target_alignment,
    ),
    Claim(
        "relu_input_alignment",
        "relu's final input alignment exceeds tanh's, at every alignment c > 0, d, k and kernel",
        relu_input_alignment,
    ),
    Claim(
        "tanh_disentangled",
        "with k = d and c > 0, tanh's target bits are more disentangled (CCGP) than relu's",
        tanh_disentangled,
    ),
    Claim(
        "saturating_toward_tanh",
        "activations saturating on both sides move toward tanh (higher target alignment than relu)",
        saturating_toward_tanh,
        about(_two_sided, _SATURATING),
    ),
    Claim(
        "one_sided_stay_relu_like",
        "one-sided activations stay relu-like (target alignment closer to relu's than tanh's)",
        one_sided_stay_relu_like,
        about(one_sided, _ONE_SIDED),
    ),
)
