import numpy as np
import pytest
from conftest import square
from scipy.stats import ortho_group

from repgeom import metrics as M
from repgeom.tasks import delta_dichotomies

D = delta_dichotomies()


@pytest.fixture(params=["liblinear", "newton"])
def svm(request):
    """The paper's decoder, with each solver: the known answers hold for both."""
    return M.DecoderSpec(solver=request.param)


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
    # held-out conditions lie on the decision boundary: chance in expectation, noisy in a sample
    assert xor_context == pytest.approx(0.5, abs=0.1)
    assert both == pytest.approx((proper + xor_context) / 2)
    assert both == pytest.approx(0.75, abs=0.05)


def test_ccgp_splits_two_directions():
    splits = M.ccgp_splits(D["b1"], D["b2"])
    assert [(a.tolist(), b.tolist()) for a, b in splits] == [([0, 1], [2, 3]), ([2, 3], [0, 1])]
    with pytest.raises(ValueError, match="balanced"):
        M.ccgp_splits(D["b1"], D["b1"])


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
