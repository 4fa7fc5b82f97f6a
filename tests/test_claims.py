"""The claims check: its statistics against known answers, and each verdict on synthetic
results built to make a claim true, false, or untestable."""

import itertools

import numpy as np
import pandas as pd
import pytest

from repgeom import claims
from repgeom.claims import delta as delta_claims

KEYS = {"arch": "string", "act": "string", "readout": "string", "sigma": "float64",
        "delta": "float64", "seed": "int64"}  # fmt: skip


def test_t_interval_known_answer():
    # mean 2, sd 1, n 3: half-width t(0.975, 2) / sqrt(3) = 4.302652729911275 / 1.7320508
    mean, lo, hi = claims.t_interval(np.array([1.0, 2.0, 3.0]))
    assert mean == 2.0
    assert lo == pytest.approx(2 - 2.4841377118, abs=1e-9)
    assert hi == pytest.approx(2 + 2.4841377118, abs=1e-9)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.10, 0.12, 0.09, 0.11, 0.10], "supported"),
        ([-0.10, -0.12, -0.09, -0.11, -0.10], "contradicted"),
        ([0.1, -0.1, 0.05, -0.05, 0.0], "inconclusive"),
        ([0.5, 0.6], "inconclusive"),  # too few seeds, however large the effect
    ],
)
def test_verdicts(values, expected):
    assert claims.verdict(np.array(values))[3] == expected


def test_picking_the_best_of_several_widens_the_interval():
    v = np.array([0.10, 0.14, 0.07, 0.12, 0.09])
    _, lo1, hi1, _ = claims.verdict(v)
    _, lo4, hi4, _ = claims.verdict(v, candidates=4)
    assert lo4 < lo1 and hi4 > hi1
    # level 1 − 0.05/4: the t quantile at 0.99375 with 4 degrees of freedom
    half = (hi4 - lo4) / 2
    assert half == pytest.approx(4.314656 * v.std(ddof=1) / np.sqrt(5), rel=1e-6)


def test_bump_finds_a_dip_between_interior_points():
    # rises overall with a dip at 0.5: within the range of the two ends, still non-monotonic
    curve = [0.5, 0.7, 0.6, 0.8, 0.9]
    final = pd.DataFrame(
        {"seed": np.repeat(range(4), 5), "delta": [0, 0.25, 0.5, 0.75, 1] * 4,
         "input_alignment": np.tile(curve, 4) + np.repeat([0, 0.01, -0.01, 0.005], 5)}
    )  # fmt: skip
    [(label, values, candidates)] = delta_claims.bump(final, "input_alignment", "delta", [])
    assert candidates == 20 and values.mean() == pytest.approx(0.1)
    assert label.startswith(("dip at delta=0.5", "peak at delta=0.25"))


def test_overall_verdict():
    C = claims.Contrast
    assert claims.overall(["supported", "supported", "not run"]) == "supported"
    assert claims.overall(["not run"]) == "not run"
    clear = C("a", "m", np.array([-0.5, -0.52, -0.49, -0.51, -0.5]))
    marginal = C("b", "m", np.array([-0.02, -0.03, -0.01, -0.025, -0.015]))  # below 0 at 95 %
    assert claims.verdict(marginal.values)[3] == "contradicted"
    assert claims.overall(["supported", "contradicted"], [clear]) == "contradicted"
    # one marginal contradiction among 20 settings is what chance gives: not enough
    others = [C(str(i), "m", np.array([0.1, 0.12, 0.09, 0.11, 0.1])) for i in range(19)]
    verdicts = ["supported"] * 19 + ["contradicted"]
    assert claims.overall(verdicts, [*others, marginal]) == "inconclusive"


def synthetic(
    deltas=(0.0, 0.5, 1.0), sigmas=(0.1,), seeds=5, ta_gap=0.2, ia=None, rng_seed=0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Final-epoch δ-task results: tanh's target alignment ``ta_gap`` above relu's at every
    δ > 0 (none at δ = 0), relu's input alignment 0.1 above tanh's; tanh's input alignment
    along δ given by ``ia`` (a function of δ); small seed noise."""
    rng = np.random.default_rng(rng_seed)
    rows, dich = [], []
    for act, d, s, seed in itertools.product(("tanh", "relu"), deltas, sigmas, range(seeds)):
        tanh = act == "tanh"
        base_ia = ia(d) if ia else 0.6
        row = {"arch": "shallow", "act": act, "readout": "uniform", "sigma": s, "delta": d,
               "seed": seed, "epoch": 10}  # fmt: skip
        row["target_alignment"] = 0.5 + (ta_gap * d if tanh else 0) + rng.normal(0, 0.005)
        row["input_alignment"] = base_ia + (0 if tanh else 0.1) + rng.normal(0, 0.005)
        rows.append(row)
        for name in ("xor", "b1", "b2"):
            dich.append(
                {k: row[k] for k in KEYS} | {"epoch": 10, "dichotomy": name}
                | {"ccgp": (0.9 if not tanh else 0.6) + rng.normal(0, 0.01),
                   "decoding_noisy": (1.0 - 0.3 * d if tanh else 1.0) + rng.normal(0, 0.005)}
            )  # fmt: skip
    return pd.DataFrame(rows), pd.DataFrame(dich)


def _check(metrics, dich):
    return claims.check("d", "delta", metrics, dich, KEYS)


def _verdicts(df, claim):
    return list(df[df["claim"] == claim]["verdict"])


def test_claims_true_by_construction_are_supported():
    df = _check(*synthetic(ia=lambda d: 0.6 + 0.2 * (d == 0.5)))
    for c in ("tanh_target_alignment", "relu_input_alignment", "relu_untrained_abstract",
              "tanh_input_alignment_nonmonotonic", "gap_shrinks_toward_xor",
              "tanh_untrained_decoding_drops"):  # fmt: skip
        assert set(_verdicts(df, c)) == {"supported"}, df[df["claim"] == c]
    row = df[df["claim"] == "tanh_input_alignment_nonmonotonic"].iloc[0]
    assert "peak at delta=0.5" in row["setting"]
    assert row["effect"] == pytest.approx(0.2, abs=0.01)  # min(0.2, 0.2) above both ends
    gap = df[df["claim"] == "tanh_target_alignment"]
    assert list(gap["setting"]) == ["delta=0.5", "delta=1"]  # δ ≥ 0.25 only
    assert gap["effect"].to_numpy() == pytest.approx([0.1, 0.2], abs=0.01)


def test_false_claims_are_contradicted():
    # relu above tanh in target alignment, and tanh's input alignment monotonic in δ
    df = _check(*synthetic(ta_gap=-0.2, ia=lambda d: 0.5 + 0.2 * d))
    assert set(_verdicts(df, "tanh_target_alignment")) == {"contradicted"}
    assert _verdicts(df, "tanh_input_alignment_nonmonotonic") == ["contradicted"]


def test_too_few_seeds_is_inconclusive_and_missing_data_is_not_run():
    df = _check(*synthetic(seeds=2))
    assert set(_verdicts(df, "tanh_target_alignment")) == {"inconclusive"}
    # one σ: the noise claim cannot be tested; it is reported, not an error
    noise = df[df["claim"] == "relu_noise_nonmonotonic"].iloc[0]
    assert noise["verdict"] == "not run" and "needs ≥ 3 values of sigma" in noise["setting"]
    metrics, dich = synthetic()
    only_tanh = _check(metrics[metrics["act"] == "tanh"], dich[dich["act"] == "tanh"])
    assert "needs activations relu" in set(only_tanh["setting"])


def test_bump_known_answer():
    final = pd.DataFrame(
        {
            "seed": [0, 0, 0, 1, 1, 1],
            "delta": [0, 0.5, 1] * 2,
            "input_alignment": [0.5, 0.4, 0.7, 0.6, 0.45, 0.8],
        }  # fmt: skip
    )
    [(label, values, candidates)] = delta_claims.bump(final, "input_alignment", "delta", [])
    assert label == "dip at delta=0.5 (0, 1)" and candidates == 2
    assert values == pytest.approx([0.1, 0.15])  # min(0.5−0.4, 0.7−0.4), min(0.6−0.45, 0.8−0.45)


def test_seeds_pair_by_label_not_position():
    metrics, dich = synthetic(seeds=4)
    # seed 0 lacks δ = 1 for relu, seed 3 lacks δ = 0 for tanh: 2 seeds have both ends
    drop = ((metrics["seed"] == 0) & (metrics["delta"] == 1.0) & (metrics["act"] == "relu")) | (
        (metrics["seed"] == 3) & (metrics["delta"] == 0.0) & (metrics["act"] == "tanh")
    )
    df = _check(metrics[~drop], dich)
    row = df[df["claim"] == "gap_shrinks_toward_xor"].iloc[0]
    assert row["n"] == 2 and row["effect"] == pytest.approx(0.2, abs=0.02)


def test_nan_metric_is_dropped_not_a_crash():
    metrics, dich = synthetic()
    tanh_mid = (metrics["act"] == "tanh") & (metrics["delta"] == 0.5)
    metrics.loc[tanh_mid, "input_alignment"] = np.nan  # a zero kernel gives NaN alignment
    df = _check(metrics, dich)
    row = df[df["claim"] == "tanh_input_alignment_nonmonotonic"].iloc[0]
    assert row["verdict"] == "not run" and "no seed" in row["setting"]


ALIGN_KEYS = {"arch": "string", "act": "string", "readout": "string", "kernel": "string",
              "d": "int64", "k": "int64", "align": "int64", "task_seed": "int64",
              "sigma": "float64", "seed": "int64"}  # fmt: skip


def synthetic_alignment(acts=("tanh", "relu", "bounded_relu_ub1", "softplus"), seeds=4):
    """Final alignment-task results: tanh's TA 0.9, relu's 0.6, bounded relu 0.85, softplus
    0.62 (near relu); IA the other way; tanh's target bits more abstract at k = d."""
    ta = {"tanh": 0.9, "relu": 0.6, "bounded_relu_ub1": 0.85, "softplus": 0.62}
    rng = np.random.default_rng(1)
    rows, dich = [], []
    for act, k, align, seed in itertools.product(acts, (1, 3), (0, 1, 2), range(seeds)):
        row = {"arch": "shallow", "act": act, "readout": "gauss", "kernel": "maxdim", "d": 3,
               "k": k, "align": align, "task_seed": 0, "sigma": 1.0, "seed": seed, "epoch": 5,
               "target_alignment": ta[act] + rng.normal(0, 0.01),
               "input_alignment": 1.5 - ta[act] + rng.normal(0, 0.01)}  # fmt: skip
        rows.append(row)
        for bit in ("bit0", "bit1", "bit2"):
            ccgp = (1.0 if act == "tanh" else 0.7) + rng.normal(0, 0.01)
            role = "target, latent" if k == 3 else "latent"
            extra = {"epoch": 5, "dichotomy": bit, "role": role, "ccgp_proper": ccgp}
            dich.append({key: row[key] for key in ALIGN_KEYS} | extra)
    return pd.DataFrame(rows), pd.DataFrame(dich)


def test_alignment_claims_on_synthetic_results():
    df = claims.check("a", "alignment", *synthetic_alignment(), ALIGN_KEYS)
    overall = df.groupby("claim")["overall"].first()
    assert (overall == "supported").all(), df
    ta = df[df["claim"] == "tanh_target_alignment"]
    assert sorted(ta["setting"]) == ["k=1, align=1", "k=1, align=2", "k=3, align=1",
                                     "k=3, align=2"]  # c = 0 left out  # fmt: skip
    assert set(df[df["claim"] == "tanh_disentangled"]["setting"]) == {"align=1", "align=2"}
    sat = df[df["claim"] == "saturating_toward_tanh"]
    assert sat["setting"].str.startswith("bounded_relu_ub1").all()
    one = df[df["claim"] == "one_sided_stay_relu_like"]
    assert one["setting"].str.startswith("softplus").all()


def test_alignment_claims_without_ablation_or_alignment_are_not_run():
    # an experiment of tanh and relu only: the ablation claims are about activations it does
    # not run, so they are not applicable there (and say why), not merely not run
    metrics, dich = synthetic_alignment(acts=("tanh", "relu"))
    df = claims.check("a", "alignment", metrics, dich, ALIGN_KEYS)
    for claim in ("saturating_toward_tanh", "one_sided_stay_relu_like"):
        rows = df[df["claim"] == claim]
        assert set(rows["verdict"]) == set(rows["overall"]) == {"not applicable"}
        assert rows["setting"].str.endswith("this experiment runs none (it runs relu, tanh)").all()
    assert "    not applicable: about one-sided activations (softplus, gelu" in claims.table(df)
    # one ablation activation without tanh: applicable, but not run
    metrics, dich = synthetic_alignment(acts=("relu", "softplus"))
    df = claims.check("a", "alignment", metrics, dich, ALIGN_KEYS)
    assert set(df[df["claim"] == "one_sided_stay_relu_like"]["verdict"]) == {"not run"}
    flat = claims.check(
        "a", "alignment", *(t[t["align"] == 0] for t in synthetic_alignment()), ALIGN_KEYS
    )
    assert set(flat["verdict"]) == {"not run"}
    assert "needs an alignment c > 0" in set(flat["setting"])


def test_leaky_slopes_that_are_not_relu_like():
    from repgeom.claims.alignment import one_sided

    assert one_sided("leaky_relu") and one_sided("leaky_relu_slope0.1")
    assert not one_sided("leaky_relu_slope-0.2") and not one_sided("leaky_relu_slope1.5")
    # the registry's one-sided kind decides: today's smooth relus join, relu itself and the
    # identity (no nonlinearity) do not, nor a two-sided or shifted activation
    assert one_sided("gelu") and one_sided("silu") and one_sided("softplus")
    for name in ("relu", "identity", "sigmoid", "tanh", "relu_bias+0.5", "shifted_relu_s-0.5"):
        assert not one_sided(name), name


def test_table_reads_as_text():
    text = claims.table(_check(*synthetic()))
    assert "[supported] d: for δ ≥ 0.25, tanh's final target alignment exceeds relu's" in text
    assert "delta=0.5" in text and "n=5" in text and "not run: needs ≥ 3 values of sigma" in text


def _analysis(frames, decoder, protocol):
    return [f.assign(decoder=decoder, protocol=protocol) for f in frames]


def test_a_verdict_that_changes_with_the_decoder_or_protocol_is_flagged():
    """Three analyses of one sweep: under ridge/clean relu's target alignment is made to beat
    tanh's (the claim flips with the decoder); under svm/original tanh's input alignment is
    made monotonic (the non-monotonicity claim flips with the protocol); everything else
    agrees and is not flagged."""
    a = _analysis(synthetic(ia=lambda d: 0.6 + 0.2 * (d == 0.5)), "svm", "clean")
    b = _analysis(synthetic(ta_gap=-0.2, ia=lambda d: 0.6 + 0.2 * (d == 0.5)), "ridge", "clean")
    c = _analysis(synthetic(ia=lambda d: 0.5 + 0.2 * d), "svm", "original")
    metrics = pd.concat([a[0], b[0], c[0]], ignore_index=True)
    dich = pd.concat([a[1], b[1], c[1]], ignore_index=True)
    df = claims.check("d", "delta", metrics, dich, KEYS, primary=("svm", "clean"))
    assert list(df.columns) == list(claims.COLUMNS)
    assert df.iloc[0][["decoder", "protocol"]].tolist() == ["svm", "clean"]  # primary first
    assert df["primary"].sum() == len(df) // 3
    ta = df[df["claim"] == "tanh_target_alignment"]
    assert set(ta["overall_flips"]) == {"depends on decoder"}
    assert set(ta["flips"]) == {"depends on decoder"}
    bump = df[df["claim"] == "tanh_input_alignment_nonmonotonic"]
    assert set(bump["overall_flips"]) == {"depends on protocol"}
    steady = df[df["claim"] == "relu_input_alignment"]
    assert set(steady["overall_flips"]) == {""} and set(steady["flips"]) == {""}
    text = claims.table(df)
    assert "[supported; depends on decoder] d:" in text
    assert "ridge/clean contradicted" in text
    assert "overall under the other analyses: ridge/clean" in text


def test_tables_from_before_analyses_were_keys_still_print():
    """A claims.parquet written before decoder/protocol columns existed, beside a new one."""
    new = claims.check("d", "delta", *synthetic(), KEYS)
    old = new.drop(columns=["decoder", "protocol", "primary", "flips", "overall_flips"])
    both = pd.concat([claims.keyed(old.assign(experiment="old")), claims.keyed(new)])
    text = claims.table(both)
    assert "] old: " in text and "] d: " in text


def test_delta_side_claims_place_todays_activations_by_kind():
    """Beyond the paper: an activation that copies tanh's results (plus a little) lands on
    tanh's side, one that copies relu's on relu's side; one that copies tanh's results but is of
    the one-sided kind contradicts its claim; without such activations both are not applicable."""
    metrics, dich = synthetic()
    near_tanh = metrics[metrics["act"] == "tanh"].assign(act="sigmoid")
    near_relu = metrics[metrics["act"] == "relu"].assign(act="gelu")
    wrong = metrics[metrics["act"] == "tanh"].assign(act="silu")
    more = pd.concat([metrics, near_tanh, near_relu], ignore_index=True)
    df = _check(more, dich)
    for claim in ("two_sided_tanh_side", "one_sided_relu_side"):
        rows = df[df["claim"] == claim]
        assert set(rows["verdict"]) == {"supported"}, rows
        assert rows["setting"].str.contains("delta=0.5").any()
        assert not rows["setting"].str.contains("delta=0,|delta=0$").any()  # δ ≥ 0.25 only
    df = _check(pd.concat([metrics, wrong], ignore_index=True), dich)
    rows = df[(df["claim"] == "one_sided_relu_side") & df["setting"].str.contains("target")]
    assert set(rows["verdict"]) == {"contradicted"}
    plain = _check(metrics, dich)
    assert set(plain[plain["claim"].str.endswith("_side")]["verdict"]) == {"not applicable"}
