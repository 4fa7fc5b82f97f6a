"""Known answers of the unstructured family's claims (E1 movement) on synthetic tables: claims
true by construction are supported, false ones contradicted, too few seeds inconclusive, and
claims about activations the experiment lacks are not applicable."""

import itertools

import numpy as np
import pandas as pd
import pytest

from repgeom import claims

KEYS = {"arch": "string", "act": "string", "readout": "string", "opt": "string",
        "sigma": "float64", "seed": "int64"}  # fmt: skip
#: final movement ratio and target alignment per activation (tanh-like: low ratio, high TA)
RATIO = {"tanh": 0.3, "relu": 1.2, "sigmoid": 0.4, "gelu": 1.0, "silu": 0.9}
TA = {"tanh": 0.9, "relu": 0.6, "sigmoid": 0.85, "gelu": 0.65, "silu": 0.62}


def synthetic(acts=tuple(RATIO), seeds=6, ratio=RATIO, ta=TA, seed_spread=0.0, rng_seed=0):
    """Final and initial E1 rows per activation × optimiser × seed; ``seed_spread``: a
    per-seed offset shared by every activation of the seed (what pairing removes)."""
    rng = np.random.default_rng(rng_seed)
    offset = rng.normal(0, seed_spread, size=seeds) if seed_spread else np.zeros(seeds)
    rows, dich = [], []
    for act, opt, seed in itertools.product(acts, ("sgd", "rmsprop"), range(seeds)):
        base = {"arch": "shallow", "act": act, "readout": "balanced", "opt": opt, "sigma": 1.0,
                "seed": seed}  # fmt: skip
        for epoch in (0, 2000):
            late = epoch > 0
            r = ratio[act] + offset[seed] + rng.normal(0, 0.01) if late else np.nan
            row = base | {"epoch": epoch, "movement_ratio": r}
            row["target_alignment"] = (ta[act] if late else 0.6) + rng.normal(0, 0.005)
            rows.append(row)
            dich.append(base | {"epoch": epoch, "dichotomy": "target", "role": "target"})
    return pd.DataFrame(rows), pd.DataFrame(dich)


def check(metrics, dich):
    return claims.check("e1", "unstructured", metrics, dich, KEYS)


def rows(df, claim):
    return df[df["claim"] == claim]


def test_the_family_declares_its_claims():
    ids = [c.id for c in claims.claims_of("unstructured")]
    assert ids == ["relu_moves_intra", "tanh_moves_inter", "two_sided_tanh_side",
                   "one_sided_relu_side"]  # fmt: skip
    beyond = [c for c in claims.claims_of("unstructured") if "[beyond the paper]" in c.statement]
    assert [c.id for c in beyond] == ["two_sided_tanh_side", "one_sided_relu_side"]


def test_claims_true_by_construction_are_supported():
    df = check(*synthetic())
    assert (df.groupby("claim")["overall"].first() == "supported").all(), df
    gap = rows(df, "relu_moves_intra")
    assert list(gap["setting"]) == ["opt=rmsprop", "opt=sgd"]  # per optimiser
    assert gap["effect"].to_numpy() == pytest.approx([0.9, 0.9], abs=0.02)
    assert rows(df, "tanh_moves_inter")["effect"].to_numpy() == pytest.approx([0.7] * 2, abs=0.02)
    two = rows(df, "two_sided_tanh_side")
    assert sorted(two["setting"]) == [
        "sigmoid, movement ratio, opt=rmsprop", "sigmoid, movement ratio, opt=sgd",
        "sigmoid, target alignment, opt=rmsprop", "sigmoid, target alignment, opt=sgd",
    ]  # fmt: skip
    # |0.4 − 1.2| − |0.4 − 0.3| = 0.7 on the ratio; |0.85 − 0.6| − |0.85 − 0.9| = 0.2 on TA
    effects = dict(zip(two["setting"], two["effect"], strict=True))
    assert effects["sigmoid, movement ratio, opt=sgd"] == pytest.approx(0.7, abs=0.02)
    assert effects["sigmoid, target alignment, opt=sgd"] == pytest.approx(0.2, abs=0.02)
    one = rows(df, "one_sided_relu_side")
    assert {s.split(",")[0] for s in one["setting"]} == {"gelu", "silu"} and len(one) == 8
    assert set(one["metric"]) == {"|x − tanh's| − |x − relu's|"}


def test_false_claims_are_contradicted():
    # tanh and relu swapped: relu moves along the inter axis, sigmoid and gelu on the wrong side
    swapped = RATIO | {"tanh": 1.2, "relu": 0.3}
    df = check(*synthetic(ratio=swapped, ta=TA | {"tanh": 0.6, "relu": 0.9}))
    for claim in claims.claims_of("unstructured"):
        assert set(rows(df, claim.id)["overall"]) == {"contradicted"}, claim.id


def test_one_setting_against_the_claim_makes_it_not_supported():
    metrics, dich = synthetic()
    rms_tanh = (metrics["act"] == "tanh") & (metrics["opt"] == "rmsprop")
    metrics.loc[rms_tanh & (metrics["epoch"] > 0), "movement_ratio"] = 1.5  # above relu's
    df = check(metrics, dich)
    gap = rows(df, "relu_moves_intra").set_index("setting")["verdict"]
    assert gap.to_dict() == {"opt=rmsprop": "contradicted", "opt=sgd": "supported"}
    assert rows(df, "relu_moves_intra")["overall"].iloc[0] == "contradicted"


def test_too_few_seeds_is_inconclusive():
    df = check(*synthetic(seeds=2))
    tested = df[~df["verdict"].isin(claims.UNTESTED)]
    assert set(tested["verdict"]) == {"inconclusive"} and (tested["n"] == 2).all()


def test_pairing_by_seed_removes_what_the_seed_shares():
    # a seed-to-seed spread 20× the relu − tanh gap, shared by both activations of a seed
    metrics, dich = synthetic(acts=("tanh", "relu"), ratio={"tanh": 0.3, "relu": 0.35},
                              seed_spread=1.0)  # fmt: skip
    assert set(rows(check(metrics, dich), "relu_moves_intra")["verdict"]) == {"supported"}
    # unpaired (seeds relabelled for relu) the same numbers prove nothing
    relu = metrics["act"] == "relu"
    metrics.loc[relu, "seed"] = (metrics.loc[relu, "seed"] + 1) % 6
    assert "supported" not in set(rows(check(metrics, dich), "relu_moves_intra")["verdict"])


def test_claims_about_absent_activations_are_not_applicable():
    df = check(*synthetic(acts=("tanh", "relu")))
    for claim in ("two_sided_tanh_side", "one_sided_relu_side"):
        r = rows(df, claim)
        assert set(r["verdict"]) == set(r["overall"]) == {"not applicable"}
        assert r["setting"].str.endswith("(it runs relu, tanh)").all()
    assert set(rows(df, "relu_moves_intra")["overall"]) == {"supported"}
    # an other activation without relu: applicable but not run; no relu: the gap not run
    df = check(*synthetic(acts=("tanh", "sigmoid")))
    assert set(rows(df, "two_sided_tanh_side")["verdict"]) == {"not run"}
    assert rows(df, "relu_moves_intra")["setting"].iloc[0] == "needs activations relu"
    assert set(rows(df, "tanh_moves_inter")["overall"]) == {"supported"}


def test_tables_without_movement_columns_are_not_run():
    metrics, dich = synthetic()
    df = check(metrics.drop(columns="movement_ratio"), dich)
    for claim in ("relu_moves_intra", "tanh_moves_inter", "two_sided_tanh_side"):
        assert set(rows(df, claim)["verdict"]) == {"not run"}, claim
        assert "movement columns" in rows(df, claim)["setting"].iloc[0]
