"""The paper's claims about the δ-task (Figs. 2–3)."""

from __future__ import annotations

import itertools

import numpy as np
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

#: "highly separable" settings of the main claims, as in the paper's discussion
MAIN_DELTA = 0.25


def _untrained(dich: pd.DataFrame, metric: str, keys: list[str]) -> pd.DataFrame:
    """Each run's mean of ``metric`` over the untrained bits b1, b2, as a run-level column."""
    d = dich[dich["dichotomy"].isin(["b1", "b2"])]
    return d.groupby([*keys, "act", "seed"], observed=True)[metric].mean().reset_index()


def _activation_gap(final, keys, metric, a, b, label=None):
    if why := missing(final, a, b):
        return why
    return activation_gap(
        final[final["delta"] >= MAIN_DELTA],
        keys,
        metric,
        a,
        b,
        label,
        empty=f"needs δ ≥ {MAIN_DELTA}",
        default_by=("delta",),
    )


def tanh_target_alignment(final, dich, keys):
    return _activation_gap(final, keys, "target_alignment", "tanh", "relu")


def relu_input_alignment(final, dich, keys):
    return _activation_gap(final, keys, "input_alignment", "relu", "tanh")


def relu_untrained_abstract(final, dich, keys):
    ccgp = _untrained(dich, "ccgp", keys)
    return _activation_gap(ccgp, keys, "ccgp", "relu", "tanh", "ccgp (b1, b2)")


def _by_seed(g: pd.DataFrame, axis: str, metric: str, values: list) -> pd.DataFrame:
    """``metric`` as a seed × ``axis`` table with every value of ``axis`` as a column; seeds
    missing any value are dropped (pairs stay paired)."""
    wide = g.pivot_table(index="seed", columns=axis, values=metric, dropna=False)
    return wide.reindex(columns=values).dropna()


def bump(
    final: pd.DataFrame, metric: str, axis: str, by: list[str]
) -> list[tuple[str, np.ndarray, int]] | str:
    """Non-monotonicity of ``metric`` along ``axis``, per group of ``by``.

    Candidates: every triple of values v_i < v_j < v_k and both shapes, a peak with per-seed
    excursion min(m_j − m_i, m_j − m_k) and a dip min(m_i − m_j, m_k − m_j). Returns, per
    group, the candidate with the largest mean excursion (label, per-seed values) and the
    number of candidates it was picked from. Positive: the metric goes up and down there.
    """
    values = sorted(final[axis].unique())
    if len(values) < 3:
        return f"needs ≥ 3 values of {axis} (has {len(values)})"
    triples = list(itertools.combinations(values, 3))
    out = []
    for key, g in groups(final, by):
        wide = _by_seed(g, axis, metric, values)
        if wide.empty:
            continue
        best = None
        for i, j, k in triples:
            for sign, kind in ((1, "peak"), (-1, "dip")):
                exc = np.minimum(sign * (wide[j] - wide[i]), sign * (wide[j] - wide[k]))
                exc = exc.to_numpy()
                if best is None or exc.mean() > best[0].mean():
                    best = (exc, f"{kind} at {axis}={j:g} ({i:g}, {k:g})")
        label = ", ".join(filter(None, [setting(by, key) if by else "", best[1]]))
        out.append((label, best[0], 2 * len(triples)))
    return out


def tanh_input_alignment_nonmonotonic(final, dich, keys):
    if why := missing(final, "tanh"):
        return why
    tanh = final[final["act"] == "tanh"]
    res = bump(tanh, "input_alignment", "delta", varying(tanh, [k for k in keys if k != "delta"]))
    if isinstance(res, str):
        return res
    return (Contrast(s, "input_alignment", v, n) for s, v, n in res)


def relu_noise_nonmonotonic(final, dich, keys):
    if why := missing(final, "relu"):
        return why
    relu = final[final["act"] == "relu"]
    by = varying(relu, [k for k in keys if k != "sigma"])
    out = []
    for metric in ("target_alignment", "input_alignment"):
        res = bump(relu, metric, "sigma", by)
        if isinstance(res, str):
            return res
        out += [Contrast(s, metric, v, n) for s, v, n in res]
    return iter(out)


def _ends(df: pd.DataFrame, keys: list[str], metric: str, label: str, first_minus_last: bool):
    """Per group of the keys other than δ: ``metric`` at the largest δ minus at the smallest
    (or the reverse), seed by seed."""
    deltas = sorted(df["delta"].unique())
    if len(deltas) < 2:
        return "needs ≥ 2 values of delta"
    lo, hi = (deltas[-1], deltas[0]) if first_minus_last else (deltas[0], deltas[-1])
    by = varying(df, [k for k in keys if k != "delta"])
    out = []
    for key, g in groups(df, by):
        wide = _by_seed(g, "delta", metric, [lo, hi])
        where = ", ".join(filter(None, [setting(by, key) if by else "", f"delta {hi:g} vs {lo:g}"]))
        out.append(Contrast(where, label, (wide[hi] - wide[lo]).to_numpy()))
    return iter(out)


def gap_shrinks_toward_xor(final, dich, keys):
    if why := missing(final, "tanh", "relu"):
        return why
    cell = [k for k in keys if k in final.columns]
    ta = final.set_index([*cell, "seed", "act"])["target_alignment"].unstack("act")
    gap = (ta["tanh"] - ta["relu"]).rename("gap").reset_index()
    return _ends(gap, keys, "gap", "target_alignment gap", first_minus_last=False)


def tanh_untrained_decoding_drops(final, dich, keys):
    if why := missing(final, "tanh"):
        return why
    dec = _untrained(dich, "decoding_noisy", keys)
    tanh = dec[dec["act"] == "tanh"]
    return _ends(tanh, keys, "decoding_noisy", "noisy decoding (b1, b2)", first_minus_last=True)


#: the measures an activation beyond tanh and relu is placed by (column, label)
SIDE_MEASURES = (("target_alignment", "target alignment"), ("input_alignment", "input alignment"))


def _side(wanted, near: str, far: str):
    """Beyond the paper: which side of tanh and relu each activation ``wanted`` picks lands
    on, by final target and input alignment, at every δ ≥ MAIN_DELTA (where tanh and relu
    differ; at δ = 0 the paper claims no ordering)."""

    def contrasts(final: pd.DataFrame, dich, keys: list[str]):
        if why := missing(final, "tanh", "relu"):
            return why
        final = final[final["delta"] >= MAIN_DELTA]
        if final.empty:
            return f"needs δ ≥ {MAIN_DELTA}"
        return iter(side_contrasts(final, keys, wanted, SIDE_MEASURES, near, far))

    return contrasts


CLAIMS = (
    Claim(
        "tanh_target_alignment",
        f"for δ ≥ {MAIN_DELTA}, tanh's final target alignment exceeds relu's",
        tanh_target_alignment,
    ),
    Claim(
        "relu_input_alignment",
        f"for δ ≥ {MAIN_DELTA}, relu's final input alignment exceeds tanh's",
        relu_input_alignment,
    ),
    Claim(
        "relu_untrained_abstract",
        f"for δ ≥ {MAIN_DELTA}, relu keeps the untrained bits b1, b2 more abstract (CCGP)"
        " than tanh",
        relu_untrained_abstract,
    ),
    Claim(
        "tanh_input_alignment_nonmonotonic",
        "tanh's input alignment is non-monotonic in δ",
        tanh_input_alignment_nonmonotonic,
    ),
    Claim(
        "relu_noise_nonmonotonic",
        "input noise has non-monotonic effects on relu's target and input alignment",
        relu_noise_nonmonotonic,
    ),
    Claim(
        "gap_shrinks_toward_xor",
        "the tanh–relu gap in target alignment shrinks as δ → 0 (toward XOR)",
        gap_shrinks_toward_xor,
    ),
    Claim(
        "tanh_untrained_decoding_drops",
        "tanh decodes the untrained bits worse (at the test noise) when the trained dichotomy "
        "is more separable",
        tanh_untrained_decoding_drops,
    ),
    Claim(
        "two_sided_tanh_side",
        f"[beyond the paper] for δ ≥ {MAIN_DELTA}, two-sided saturating activations land on "
        "tanh's side: target and input alignment nearer tanh's than relu's",
        _side(two_sided_beyond_tanh, "tanh", "relu"),
        about(two_sided_beyond_tanh, "two-sided saturating activations other than tanh"),
    ),
    Claim(
        "one_sided_relu_side",
        f"[beyond the paper] for δ ≥ {MAIN_DELTA}, one-sided activations land on relu's side: "
        "target and input alignment nearer relu's than tanh's",
        _side(one_sided_beyond_relu, "relu", "tanh"),
        about(one_sided_beyond_relu, "one-sided activations other than relu"),
    ),
)
