"""The paper's claims about the δ-task (Figs. 2–3)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import Claim, Contrast, paired, setting, varying

#: "highly separable" settings of the main claims, as in the paper's discussion
MAIN_DELTA = 0.25
#: keys that a contrast is never taken over (it is per seed, between activations)
_FIXED = ("act", "seed")


def _others(final: pd.DataFrame, *exclude: str) -> list[str]:
    keys = [c for c in ("arch", "readout", "sigma", "delta") if c not in exclude]
    return varying(final, keys)


def _has(final: pd.DataFrame, *acts: str) -> str | None:
    missing = [a for a in acts if a not in set(final["act"])]
    return f"needs activations {', '.join(missing)}" if missing else None


def _untrained(dich: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Each run's mean of ``metric`` over the untrained bits b1, b2, as a run-level column."""
    d = dich[dich["dichotomy"].isin(["b1", "b2"])]
    keys = [c for c in d.columns if c in ("arch", "act", "readout", "sigma", "delta", "seed")]
    return d.groupby(keys, observed=True)[metric].mean().reset_index()


def _activation_gap(final, metric, a, b, min_delta=MAIN_DELTA):
    if why := _has(final, a, b):
        return why
    sub = final[final["delta"] >= min_delta]
    if sub.empty:
        return f"needs δ ≥ {min_delta}"
    by = _others(final) or ["delta"]
    return (
        Contrast(setting(by, key), metric, v)
        for key, v in paired(sub, metric, sub["act"] == a, sub["act"] == b, by)
    )


def tanh_target_alignment(final, dich):
    return _activation_gap(final, "target_alignment", "tanh", "relu")


def relu_input_alignment(final, dich):
    return _activation_gap(final, "input_alignment", "relu", "tanh")


def relu_untrained_abstract(final, dich):
    return _activation_gap(_untrained(dich, "ccgp"), "ccgp", "relu", "tanh")


def bump(
    final: pd.DataFrame, metric: str, axis: str, by: list[str]
) -> list[tuple[str, np.ndarray, int]] | str:
    """Non-monotonicity of ``metric`` along ``axis``, per group of ``by``: at the interior
    value with the largest mean excursion beyond both ends, the per-seed excursion (a peak:
    min(m_j − m_first, m_j − m_last); a dip: the same with signs reversed), and the number of
    candidates it was picked from (2 per interior value). Positive: the metric is non-monotonic
    there; negative: it lies between its ends (monotonic or flat)."""
    values = sorted(final[axis].unique())
    if len(values) < 3:
        return f"needs ≥ 3 values of {axis} (has {len(values)})"
    out = []
    groups = final.groupby(by, observed=True, sort=True) if by else [((), final)]
    for key, g in groups:
        wide = g.pivot_table(index="seed", columns=axis, values=metric).dropna()
        first, last = wide[values[0]], wide[values[-1]]
        best = None
        for v in values[1:-1]:
            for sign, kind in ((1, "peak"), (-1, "dip")):
                exc = np.minimum(sign * (wide[v] - first), sign * (wide[v] - last)).to_numpy()
                if best is None or exc.mean() > best[0].mean():
                    best = (exc, f"{kind} at {axis}={v:g}")
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(filter(None, [setting(by, key) if by else "", best[1]]))
        out.append((label, best[0], 2 * (len(values) - 2)))
    return out


def tanh_input_alignment_nonmonotonic(final, dich):
    if why := _has(final, "tanh"):
        return why
    tanh = final[final["act"] == "tanh"]
    res = bump(tanh, "input_alignment", "delta", _others(tanh, "delta"))
    if isinstance(res, str):
        return res
    return (Contrast(s, "input_alignment", v, n) for s, v, n in res)


def relu_noise_nonmonotonic(final, dich):
    if why := _has(final, "relu"):
        return why
    relu = final[final["act"] == "relu"]
    out = []
    for metric in ("target_alignment", "input_alignment"):
        res = bump(relu, metric, "sigma", _others(relu, "sigma"))
        if isinstance(res, str):
            return res
        out += [Contrast(s, metric, v, n) for s, v, n in res]
    return iter(out)


def gap_shrinks_toward_xor(final, dich):
    if why := _has(final, "tanh", "relu"):
        return why
    deltas = sorted(final["delta"].unique())
    if len(deltas) < 2:
        return "needs ≥ 2 values of delta"
    by = _others(final, "delta")
    gaps = dict(
        paired(
            final,
            "target_alignment",
            final["act"] == "tanh",
            final["act"] == "relu",
            by + ["delta"],
        )
    )  # (…, delta) → per-seed gap
    out = []
    for key in sorted({k[:-1] for k in gaps}):
        hi, lo = gaps.get((*key, deltas[-1])), gaps.get((*key, deltas[0]))
        if hi is not None and lo is not None and len(hi) == len(lo):
            label = ", ".join(
                filter(
                    None, [setting(by, key) if by else "", f"delta {deltas[-1]:g} vs {deltas[0]:g}"]
                )
            )
            out.append(Contrast(label, "target_alignment gap", hi - lo))
    return iter(out)


def tanh_untrained_decoding_drops(final, dich):
    if why := _has(final, "tanh"):
        return why
    dec = _untrained(dich, "decoding_noisy")
    tanh = dec[dec["act"] == "tanh"]
    deltas = sorted(tanh["delta"].unique())
    if len(deltas) < 2:
        return "needs ≥ 2 values of delta"
    by = _others(tanh, "delta")
    groups = tanh.groupby(by, observed=True, sort=True) if by else [((), tanh)]
    out = []
    for key, g in groups:
        wide = g.pivot_table(index="seed", columns="delta", values="decoding_noisy").dropna()
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(
            filter(None, [setting(by, key) if by else "", f"delta {deltas[0]:g} vs {deltas[-1]:g}"])
        )
        out.append(
            Contrast(
                label, "noisy decoding (b1, b2)", (wide[deltas[0]] - wide[deltas[-1]]).to_numpy()
            )
        )
    return iter(out)


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
)
