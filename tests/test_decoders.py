"""The batched decoders against their objectives and against scikit-learn itself."""

import numpy as np
import pytest
import torch
from sklearn.svm import LinearSVC

from repgeom.decoders import DecoderSpec, Problem, accuracies, least_squares, squared_hinge_svm


def _objective(w, b, X, y, C=1.0):
    return 0.5 * (w @ w + b * b) + C * np.sum(np.maximum(0, 1 - y * (X @ w + b)) ** 2)


def _blobs(rng, n=600, F=20, noise=1.0):
    """Four noisy conditions through a tanh, like hidden responses of the δ-task."""
    means = rng.normal(size=(4, F))
    cond = rng.integers(0, 4, n)
    return np.tanh(means[cond] + noise * rng.normal(size=(n, F))), cond


LABELS = np.array([[1, 1, -1, -1], [1, -1, -1, 1], [1, -1, 0, 0], [0, 0, -1, 1]])


def _solve(X, cond, labels, C=1.0):
    w, b, iters = squared_hinge_svm(
        torch.as_tensor(X)[None],
        torch.as_tensor(cond),
        torch.as_tensor(labels != 0)[None],
        torch.as_tensor(labels[:, cond], dtype=torch.float64)[None],
        C,
    )
    return w[0].numpy(), b[0].numpy(), iters[0].numpy()


@pytest.mark.parametrize("C", [0.1, 1.0, 10.0])
def test_newton_reaches_the_minimiser_liblinear_converges_to(rng, C):
    X, cond = _blobs(rng)
    w, b, iters = _solve(X, cond, LABELS, C)
    assert (iters < 100).all()
    for p, lab in enumerate(LABELS):
        rows = lab[cond] != 0
        Xr, yr = X[rows], lab[cond][rows]
        ref = LinearSVC(C=C, tol=1e-10, max_iter=100_000).fit(Xr, yr)
        ours = _objective(w[p], b[p], Xr, yr, C)
        theirs = _objective(ref.coef_[0], ref.intercept_[0], Xr, yr, C)
        assert ours <= theirs + 1e-9 * theirs
        np.testing.assert_allclose(w[p], ref.coef_[0], rtol=1e-5, atol=1e-6)
        # first-order optimality: the gradient of the objective vanishes
        r = np.maximum(0, 1 - yr * (Xr @ w[p] + b[p]))
        grad = np.append(w[p], b[p]) - 2 * C * (
            np.c_[Xr, np.ones(len(Xr))] * (yr * r)[:, None]
        ).sum(0)
        assert np.abs(grad).max() <= 1e-8 * max(1.0, np.abs(w[p]).max())


def test_batched_problems_equal_problems_solved_alone(rng):
    X, cond = _blobs(rng)
    X2, _ = _blobs(rng)
    both = squared_hinge_svm(
        torch.as_tensor(np.stack([X, X2])),
        torch.as_tensor(cond),
        torch.as_tensor(LABELS != 0)[None].expand(2, -1, -1),
        torch.as_tensor(LABELS[:, cond], dtype=torch.float64)[None].expand(2, -1, -1),
    )
    for g, Xg in enumerate((X, X2)):
        for p in range(len(LABELS)):
            w, b, _ = _solve(Xg, cond, LABELS[p : p + 1])
            np.testing.assert_allclose(both[0][g, p].numpy(), w[0], rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(both[1][g, p].item(), b[0], rtol=1e-9, atol=1e-12)


def test_separable_problem_gets_the_hard_margin_answer():
    # two points ±e1 with a large C: w → e1 (margin exactly 1), intercept → 0
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    w, b, _ = _solve(X, np.array([0, 1]), np.array([[1, -1]]), C=1e6)
    np.testing.assert_allclose(w[0], [1.0, 0.0], atol=1e-5)
    assert abs(b[0]) < 1e-9


def _sets(S=2, n=400):
    """Train and test sets of S snapshots over the same samples' conditions."""
    H, cond = {}, {}
    for k, name in enumerate(("train", "test")):
        cond[name] = np.random.default_rng(k).integers(0, 4, n)
        means = np.random.default_rng(10).normal(size=(S, 4, 20))
        noise = np.random.default_rng(20 + k).normal(size=(S, n, 20))
        H[name] = np.tanh(means[:, cond[name]] + noise)
    return H, cond


def test_accuracies_agree_between_solvers_and_sign_flips_share_a_fit():
    H, cond = _sets()
    p = Problem("train", "test", (1, -1, 0, 0), (0, 0, 1, -1))
    flipped = Problem("train", "test", (-1, 1, 0, 0), (0, 0, 1, -1))
    full = Problem("train", "test", (1, 1, -1, -1), (1, 1, -1, -1))
    newton = accuracies(DecoderSpec("svm"), H, cond, [p, flipped, full])
    lib = accuracies(DecoderSpec("liblinear_dual", tol=1e-10, max_iter=100_000), H, cond, [p, full])
    np.testing.assert_allclose(newton[:, 0], 1 - newton[:, 1])  # same decoder, opposite labels
    np.testing.assert_allclose(newton[:, [0, 2]], lib, atol=1e-12)


def test_single_class_training_set_predicts_that_class_with_either_solver():
    H, cond = _sets()
    p = Problem("train", "test", (1, 1, 0, 0), (1, 1, -1, -1))  # trained on one class only
    expected = np.mean(np.isin(cond["test"], (0, 1)))
    for name in ("svm", "liblinear_dual", "liblinear_auto", "ridge"):
        np.testing.assert_allclose(accuracies(DecoderSpec(name), H, cond, [p]), expected)


def test_unknown_solver_names_the_allowed_ones():
    with pytest.raises(ValueError, match="allowed: svm, liblinear_dual, liblinear_auto, ridge"):
        DecoderSpec("sgd").check()


# ----------------------------------------------------------------------------- ridge


@pytest.mark.parametrize("alpha", [1e-3, 1.0, 100.0])
def test_ridge_equals_scikit_learns_ridge_classifier(rng, alpha):
    """Known answer: the batched least-squares decoder is RidgeClassifier (unpenalised
    intercept), problem by problem, on rows picked by blocks."""
    from sklearn.linear_model import RidgeClassifier

    X, cond = _blobs(rng)
    w, b = least_squares(
        torch.as_tensor(X)[None],
        torch.as_tensor(cond),
        torch.as_tensor(LABELS != 0)[None],
        torch.as_tensor(LABELS[:, cond], dtype=torch.float64)[None],
        alpha,
    )
    for p, lab in enumerate(LABELS):
        rows = lab[cond] != 0
        ref = RidgeClassifier(alpha=alpha).fit(X[rows], lab[cond][rows])
        np.testing.assert_allclose(w[0, p].numpy(), np.ravel(ref.coef_), rtol=1e-8, atol=1e-10)
        assert b[0, p].item() == pytest.approx(np.ravel(ref.intercept_)[0], abs=1e-10)


def test_ridge_hand_computed():
    """x = (−1, 0, 1) with labels (−1, ?, +1) on rows 0 and 2: the centred problem gives
    w = Σ x y / (Σ x² + α) = 2 / (2 + α), b = ȳ − w x̄ = 0; with a shifted x, b = −w·shift."""
    X = np.array([[-1.0], [0.0], [1.0]]) + 3.0
    y = np.array([[[-1.0, 0.0, 1.0]]])
    w, b = least_squares(
        torch.as_tensor(X)[None],
        torch.tensor([0, 1, 2]),
        torch.tensor([[[True, False, True]]]),
        torch.as_tensor(y),
        alpha=2.0,
    )
    assert w.item() == pytest.approx(0.5)
    assert b.item() == pytest.approx(-1.5)


def test_prediction_without_intercept_uses_the_same_fit():
    """The original code's decoding bug: same decoder, decision w·h without b. On data whose
    classes sit far from the origin on one side, dropping b predicts one class everywhere."""
    X = np.array([[10.0], [11.0], [12.0], [13.0]])
    H = {"s": X[None]}
    cond = {"s": np.arange(4)}
    lab = (-1, -1, 1, 1)
    with_b = Problem("s", "s", lab, lab)
    without = Problem("s", "s", lab, lab, intercept=False)
    for name in ("svm", "liblinear_auto", "ridge"):
        acc = accuracies(DecoderSpec(name, C=100.0, max_iter=100_000), H, cond, [with_b, without])
        assert acc[0, 0] == 1.0, name
        assert acc[0, 1] == 0.5, name  # w > 0 and h > 0: every sample called +1


def test_identical_rows_converge_in_a_few_newton_steps():
    """σ = 0 data: each condition's samples are one point repeated. The derivative of the
    objective along a Newton direction then jumps where a whole condition leaves the active
    set; a line search that stops short of its root (8 safeguarded steps did, here: 26
    iterations) multiplies the outer iterations."""
    means = np.tanh(np.random.default_rng(4).normal(size=(4, 12)))
    cond = np.repeat(np.arange(4), 1250)
    labels = np.array(
        [[1, 1, -1, -1], [1, -1, 1, -1], [1, -1, -1, 1], [1, -1, 0, 0], [0, 0, 1, -1],
         [1, 0, -1, 0], [0, 1, 0, -1], [1, 0, 0, -1], [0, 1, -1, 0]]
    )  # fmt: skip
    w, b, iters = _solve(means[cond], cond, labels)
    assert iters.max() <= 3, iters
    for p, lab in enumerate(labels):  # at the minimiser: the gradient vanishes
        rows = lab[cond] != 0
        Xr, yr = means[cond][rows], lab[cond][rows]
        r = np.maximum(0, 1 - yr * (Xr @ w[p] + b[p]))
        grad = np.append(w[p], b[p]) - 2 * (np.c_[Xr, np.ones(len(Xr))] * (yr * r)[:, None]).sum(0)
        assert np.abs(grad).max() <= 1e-8 * max(1.0, np.abs(w[p]).max())
