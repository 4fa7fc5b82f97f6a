import itertools
import time

import numpy as np
import pytest
from conftest import square
from scipy.stats import ortho_group

from repgeom import metrics as M
from repgeom.tasks.base import balanced_dichotomies
from repgeom.tasks.delta import delta_dichotomies

D = delta_dichotomies()


@pytest.fixture(params=["svm", "liblinear_dual", "liblinear_auto", "ridge"])
def svm(request):
    """Each decoder: the known answers hold for all of them."""
    return M.DecoderSpec(request.param)


# ----------------------------------------------------------------- kernel alignment
def test_cka_self_is_one(rng):
    X = rng.normal(size=(6, 10))
    assert M.linear_cka(X, X) == pytest.approx(1.0)


def test_cka_invariant_to_isotropic_scaling_and_rotation(rng):
    X, Y = rng.normal(size=(8, 5)), rng.normal(size=(8, 7))
    Q = ortho_group.rvs(5, random_state=3)
    base = M.linear_cka(X, Y)
    assert M.linear_cka(3.7 * X, Y) == pytest.approx(base)
    assert M.linear_cka(X @ Q, Y) == pytest.approx(base)
    assert M.linear_cka(X + 5.0, Y) == pytest.approx(base)  # centring removes offsets


def test_cka_hand_computed():
    # K1 from x = (1, -1, 0, 0), K2 from y = (0, 0, 1, -1): orthogonal after centring → 0;
    # K2' from y = x + (0,0,1,-1): <K1,K2'> = (x·x)² / (‖x‖² ‖x+z‖²) = 4/(2·4) = 0.5
    x = np.array([[1.0], [-1.0], [0.0], [0.0]])
    z = np.array([[0.0], [0.0], [1.0], [-1.0]])
    assert M.linear_cka(x, z) == pytest.approx(0.0)
    assert M.linear_cka(x, x + z) == pytest.approx(0.5)


def test_cka_batched_over_leading_axes(rng):
    X, Y = rng.normal(size=(3, 2, 4, 6)), rng.normal(size=(3, 2, 4, 2))
    got = M.linear_cka(X, Y)
    assert got.shape == (3, 2)
    assert got[1, 0] == pytest.approx(M.linear_cka(X[1, 0], Y[1, 0]))


# ----------------------------------------------------------------- parallelism score
def test_ps_factorised_square_is_one():
    Z = square()
    assert M.parallelism_score(Z, D["b1"]) == pytest.approx(1.0)
    assert M.parallelism_score(Z, D["b2"]) == pytest.approx(1.0)


def test_ps_xor_square_is_minus_one():
    assert M.parallelism_score(square(), D["xor"]) == pytest.approx(-1.0)


def test_ps_batched_and_embedding_invariant(rng):
    Q = ortho_group.rvs(6, random_state=0)[:2]
    Z = np.stack([square() @ Q, 2 * square() @ Q])
    assert M.parallelism_score(Z, D["b1"]) == pytest.approx([1.0, 1.0])


def test_ps_eight_conditions_factorised_cube():
    bits = (np.arange(8)[:, None] >> np.arange(3)) & 1
    Z = 2.0 * bits - 1
    assert M.parallelism_score(Z, bits[:, 0]) == pytest.approx(1.0)


def test_ps_rejects_unbalanced():
    with pytest.raises(ValueError, match="balanced"):
        M.parallelism_score(square(), np.array([1, 0, 0, 0]))


def _bits(d):
    """(2^d, d) 0/1 bits of the conditions of a d-bit hypercube."""
    return (np.arange(2**d)[:, None] >> np.arange(d)) & 1


def _cube(d, N=None, seed=0):
    """±1 codes of a d-bit hypercube, embedded in R^N by a random orthogonal map."""
    Z = 2.0 * _bits(d) - 1
    if N is None:
        return Z
    return Z @ ortho_group.rvs(N, random_state=seed)[:d]


def _ps_brute(Z, labels):
    """Reference PS: every pairing, every pair of coding vectors, one at a time."""
    P, Q = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    m = len(P)
    out = np.full(Z.shape[:-2], -np.inf)
    for idx in np.ndindex(*Z.shape[:-2]):
        z = Z[idx]
        for perm in itertools.permutations(range(m)):
            V = [z[P[p]] - z[Q[perm[p]]] for p in range(m)]
            with np.errstate(invalid="ignore", divide="ignore"):
                cos = [
                    V[p] @ V[r] / (np.linalg.norm(V[p]) * np.linalg.norm(V[r]))
                    for p in range(m)
                    for r in range(p + 1, m)
                ]
            out[idx] = max(out[idx], np.mean(cos))
    return out


def test_ps_cube_bits_one_parity_below_one():
    Z = _cube(3, N=10)
    bits = _bits(3)
    for j in range(3):
        assert M.parallelism_score(Z, bits[:, j]) == pytest.approx(1.0)
    # parity of two bits: each coding vector flips both bits, parallel pairs cancel
    for j, k in itertools.combinations(range(3), 2):
        assert M.parallelism_score(Z, bits[:, j] ^ bits[:, k]) < 1.0
    # parity of all three bits: coding vectors are along one axis, paired antiparallel at best
    par3 = bits[:, 0] ^ bits[:, 1] ^ bits[:, 2]
    assert M.parallelism_score(Z, par3) < 1.0


def test_ps_parities_on_cube_match_brute_force():
    # no pairing makes all coding vectors of a parity parallel: the best pairing still mixes
    # opposite directions, so the score is negative (as the square's XOR, −1 by hand)
    Z = _cube(3)
    bits = _bits(3)
    for lab in (bits[:, 0] ^ bits[:, 1], bits[:, 0] ^ bits[:, 1] ^ bits[:, 2]):
        got = M.parallelism_score(Z, lab)
        assert got == pytest.approx(_ps_brute(Z, lab)[()], abs=1e-12)
        assert got < 0


@pytest.mark.parametrize("C", [4, 8])
def test_ps_fast_exhaustive_equals_brute_force(C, rng):
    Z = rng.normal(size=(2, 3, C, 7))
    for lab in balanced_dichotomies(C)[:5]:
        got = M.parallelism_score(Z, lab, method="exhaustive")
        assert got.shape == (2, 3)
        np.testing.assert_allclose(got, _ps_brute(Z, lab), rtol=0, atol=1e-12)
        # without leading axes: a scalar
        assert np.ndim(M.parallelism_score(Z[1, 2], lab)) == 0
        assert M.parallelism_score(Z[1, 2], lab) == pytest.approx(got[1, 2], abs=1e-12)


def test_ps_sixteen_conditions_exhaustive_fast():
    Z = np.stack([_cube(4, N=128, seed=s) for s in range(10)])  # (S=10, 16, 128)
    bits = _bits(4)
    M.parallelism_score(Z, bits[:, 0])  # builds the cached pairing index
    t = time.perf_counter()
    for j in range(4):
        np.testing.assert_allclose(M.parallelism_score(Z, bits[:, j]), 1.0, atol=1e-12)
    assert time.perf_counter() - t < 8.0  # well under 2 s per dichotomy


def test_ps_thirty_two_conditions_assignment():
    Z = _cube(5, N=40)
    bits = _bits(5)
    for j in range(5):
        assert M.parallelism_score(Z, bits[:, j]) == pytest.approx(1.0)
        assert M.parallelism_score(Z, bits[:, j], method="assignment") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="exhaustive"):
        M.parallelism_score(Z, bits[:, 0], method="exhaustive")


def test_ps_assignment_is_a_lower_bound(rng):
    Z = rng.normal(size=(4, 8, 6))
    for lab in balanced_dichotomies(8):
        ex = M.parallelism_score(Z, lab, method="exhaustive")
        asg = M.parallelism_score(Z, lab, method="assignment")
        assert asg.shape == (4,)
        assert np.all(ex >= asg - 1e-12)
    # on a factorised cube both find the parallel pairing
    bits = _bits(3)
    assert M.parallelism_score(_cube(3), bits[:, 1], method="assignment") == pytest.approx(1.0)


def test_ps_zero_coding_vector_is_ignored():
    # conditions 0 and 1 coincide: the pairing (0,1) has a zero coding vector → NaN, ignored
    Z = _cube(3)
    bits = _bits(3)
    Z[1] = Z[0]
    got = M.parallelism_score(Z, bits[:, 0], method="exhaustive")
    assert np.isfinite(got)
    assert got == pytest.approx(_ps_brute(Z, bits[:, 0])[()], abs=1e-12)
    # the assignment takes the zero-distance pairing, whose score is undefined
    assert np.isnan(M.parallelism_score(Z, bits[:, 0], method="assignment"))
    assert np.isnan(M.parallelism_score(np.zeros((8, 3)), bits[:, 0]))


def test_ps_unknown_method():
    with pytest.raises(ValueError, match="allowed"):
        M.parallelism_score(square(), D["b1"], method="greedy")


# ----------------------------------------------------------------- decoders, CCGP, SD
def _samples(means, n, sigma, rng):
    cond = rng.integers(0, len(means), n)
    return cond, means[cond] + sigma * rng.normal(size=(n, means.shape[1]))


def test_ccgp_proper_factorised_square_is_one(rng, svm):
    means = square() @ ortho_group.rvs(10, random_state=1)[:2] * 3
    ctr, Htr = _samples(means, 800, 0.1, rng)
    cte, Hte = _samples(means, 400, 0.1, rng)
    for bit, other in (("b1", "b2"), ("b2", "b1")):
        got = M.ccgp(svm, Htr, ctr, Hte, cte, D[bit], [D[other]])
        assert got == pytest.approx(1.0, abs=0.01)


def test_ccgp_xor_on_square_at_or_below_chance(rng, svm):
    # On a square the XOR anti-generalises across every context: a decoder trained on one
    # side's two conditions labels the other side's two conditions the wrong way round, so the
    # analytic value is 0 (below the chance level 0.5).
    means = square() * 3
    ctr, Htr = _samples(means, 800, 0.1, rng)
    cte, Hte = _samples(means, 400, 0.1, rng)
    got = M.ccgp(svm, Htr, ctr, Hte, cte, D["xor"], [D["b1"], D["b2"]])
    assert got <= 0.5
    assert got == pytest.approx(0.0, abs=0.01)


def test_ccgp_all_on_factorised_square_is_three_quarters(rng, svm):
    # spec §6.4 caveat: including the XOR context, a perfectly factorised square scores 0.75
    means = square() * 3
    ctr, Htr = _samples(means, 800, 0.05, rng)
    cte, Hte = _samples(means, 400, 0.05, rng)
    proper = M.ccgp(svm, Htr, ctr, Hte, cte, D["b1"], [D["b2"]])
    xor_context = M.ccgp(svm, Htr, ctr, Hte, cte, D["b1"], [D["xor"]])
    both = M.ccgp(svm, Htr, ctr, Hte, cte, D["b1"], [D["b2"], D["xor"]])
    assert proper == pytest.approx(1.0, abs=0.01)
    assert both == pytest.approx((proper + xor_context) / 2)
    if svm.name == "ridge":
        # least squares fits the within-class noise as well (it has no margin): its boundary
        # tilts at random, so the held-out pair is far from chance in any one sample
        return
    # held-out conditions lie on the decision boundary: chance in expectation, noisy in a sample
    assert xor_context == pytest.approx(0.5, abs=0.1)
    assert both == pytest.approx(0.75, abs=0.05)


def test_ccgp_splits_two_directions():
    splits = M.ccgp_splits(D["b1"], D["b2"])
    assert [(a.tolist(), b.tolist()) for a, b in splits] == [([0, 1], [2, 3]), ([2, 3], [0, 1])]
    with pytest.raises(ValueError, match="balanced"):
        M.ccgp_splits(D["b1"], D["b1"])


def _as_set(splits):
    return {(tuple(a.tolist()), tuple(b.tolist())) for a, b in splits}


@pytest.mark.parametrize(("C", "n"), [(4, 4), (8, 36), (16, 36), (32, 36), (16, 100)])
def test_ccgp_all_splits_counts_and_balance(C, n):
    lab = balanced_dichotomies(C)[1] if C <= 8 else ((np.arange(C) >> 1) & 1)
    splits = M.ccgp_all_splits(lab, max_splits=n)
    assert len(splits) == n
    assert len(_as_set(splits)) == n  # distinct
    for tr, te in splits:
        assert tr.dtype == te.dtype == np.int64
        assert np.all(np.diff(tr) > 0) and np.all(np.diff(te) > 0)
        assert len(np.intersect1d(tr, te)) == 0
        np.testing.assert_array_equal(np.union1d(tr, te), np.arange(C))
        assert lab[tr].sum() == C // 4 and len(tr) == C // 2


def test_ccgp_all_splits_enumerates_all_when_allowed():
    lab = (np.arange(16) >> 2) & 1
    assert M.n_ccgp_splits(16) == 4900
    everything = M.ccgp_all_splits(lab, max_splits=None)
    assert len(_as_set(everything)) == 4900
    # a sample is a subset of all splits
    assert _as_set(M.ccgp_all_splits(lab, 36)) <= _as_set(everything)
    assert len(M.ccgp_all_splits(_bits(3)[:, 0], max_splits=36)) == 36 == M.n_ccgp_splits(8)


def test_ccgp_all_splits_deterministic():
    lab = (np.arange(32) >> 4) & 1
    a, b = M.ccgp_all_splits(lab, 36, seed=5), M.ccgp_all_splits(lab, 36, seed=5)
    assert [(x.tolist(), y.tolist()) for x, y in a] == [(x.tolist(), y.tolist()) for x, y in b]
    assert _as_set(M.ccgp_all_splits(lab, 36, seed=6)) != _as_set(a)
    # the full enumeration's order: lexicographic in the training halves
    lab8 = _bits(3)[:, 2]
    first = M.ccgp_all_splits(lab8)[0]
    assert first[0].tolist() == [0, 1, 4, 5] and first[1].tolist() == [2, 3, 6, 7]


def test_ccgp_all_splits_delta_task_equals_context_splits():
    # C = 4: the splits over all halves equal the splits across the two other dichotomies
    for name, lab in D.items():
        contexts = [ctx for other, ctx in D.items() if other != name]
        via_contexts = [s for ctx in contexts for s in M.ccgp_splits(lab, ctx)]
        assert _as_set(M.ccgp_all_splits(lab)) == _as_set(via_contexts)
        assert len(M.ccgp_all_splits(lab)) == 4


def test_ccgp_all_splits_rejects_unsplittable():
    with pytest.raises(ValueError, match="balanced"):
        M.ccgp_all_splits(np.array([1, 0, 0, 0]))
    with pytest.raises(ValueError, match="multiple of 4"):
        M.ccgp_all_splits(np.array([1, 1, 1, 0, 0, 0]))


def test_ccgp_proper_splits_cube():
    bits = _bits(3)
    splits = M.ccgp_proper_splits(bits[:, 0], [bits[:, 1], bits[:, 2]])
    assert len(splits) == 4
    got = _as_set(splits)
    for j in (1, 2):
        for v in (0, 1):
            tr = np.flatnonzero(bits[:, j] == v)
            te = np.flatnonzero(bits[:, j] != v)
            assert (tuple(tr.tolist()), tuple(te.tolist())) in got
    # the δ-task: proper splits of b1 are those of context b2
    assert _as_set(M.ccgp_proper_splits(D["b1"], [D["b2"]])) == _as_set(
        M.ccgp_splits(D["b1"], D["b2"])
    )
    assert M.ccgp_proper_splits(D["b1"], []) == []


def test_decoding_separable_and_chance(rng, svm):
    means = square() * 3
    ctr, Htr = _samples(means, 600, 0.1, rng)
    cte, Hte = _samples(means, 400, 0.1, rng)
    assert M.decoder_accuracy(svm, Htr, D["b1"][ctr], Hte, D["b1"][cte]) == 1.0
    # XOR of a square is not linearly decodable: at best 3 of 4 conditions
    assert M.decoder_accuracy(svm, Htr, D["xor"][ctr], Hte, D["xor"][cte]) <= 0.8
    # pure noise labels: chance
    y = rng.integers(0, 2, 600)
    acc = M.decoder_accuracy(svm, Htr, y, Hte, rng.integers(0, 2, 400))
    assert acc == pytest.approx(0.5, abs=0.08)


def test_decoder_single_class_training_set(svm):
    X = np.zeros((4, 2))
    assert M.decoder_accuracy(svm, X, np.ones(4), X, np.array([1, 1, 0, 0])) == 0.5


def test_unknown_decoder():
    with pytest.raises(ValueError, match="allowed: svm"):
        M.decoder_accuracy(M.DecoderSpec("lda"), np.zeros((2, 1)), np.array([0, 1]), None, None)


def test_shattering_dimension_is_mean_of_decodings():
    assert M.shattering_dimension([1.0, 0.5, 0.75]) == pytest.approx(0.75)


# ----------------------------------------------------------------- secondary
def test_participation_ratio_known_values(rng):
    # k orthogonal directions with equal variance → PR = k; one direction → 1
    Q = ortho_group.rvs(12, random_state=2)
    codes = rng.choice([-1.0, 1.0], size=(4000, 3))
    codes -= codes.mean(0)
    H = codes @ Q[:3]
    assert M.participation_ratio(H) == pytest.approx(3.0, rel=0.02)
    assert M.participation_ratio(H[:, :1] * 0 + codes[:, :1]) == pytest.approx(1.0)
