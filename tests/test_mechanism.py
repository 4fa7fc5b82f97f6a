"""The weight-space picture (Fig. 1C–D, spec §6.8): a neuron's axes, its expected-gradient
field and the noise-smoothed derivative, against known answers."""

import numpy as np
import pytest
from scipy import special

from repgeom.mechanism import (
    activation_numpy,
    early_loss,
    errors,
    field_frame,
    gradient_field,
    movement,
    neuron_axes,
    neuron_coordinates,
    project,
    smoothed_df,
    smoothed_df_closed,
    trajectory_frame,
)

#: the E1 label: y = 1 for conditions {0, 3}
Y = np.array([1, 0, 0, 1])
SMOOTH = ["tanh", "sigmoid", "gelu", "silu", "softplus"]
KINKED = {"relu": (0.0,), "leaky_relu": (0.0,), "hardtanh": (-1.0, 1.0)}


def e1_conditions(seed, D=200):
    """E1's condition means (spec §3.2): four N(0, I_D) draws, centred over the conditions."""
    x = np.random.default_rng(seed).standard_normal((4, D))
    return x - x.mean(0)


def simplex_conditions(D=7, seed=0):
    """Four centred conditions of equal norm and equal pairwise overlaps (the centred one-hots
    e_c − ¼, rotated into D dimensions at random): every condition is like every other."""
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((D, 4)))
    return (np.eye(4) - 0.25) @ Q.T


def test_errors_are_plus_minus_half_and_follow_the_readout_sign():
    assert np.array_equal(errors(Y, 1), [0.5, -0.5, -0.5, 0.5])
    assert np.array_equal(errors(Y, -0.3), [-0.5, 0.5, 0.5, -0.5])
    with pytest.raises(ValueError, match="nonzero"):
        errors(Y, 0)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("sign", [1, -1])
def test_axes_are_orthonormal(seed, sign):
    """The axes are orthonormal; the intra axis keeps the direction x̄_a − x̄_a′ (a the lower
    index of the favoured pair) within the plane, and the inter axis points toward the class
    the neuron drives."""
    x = e1_conditions(seed)
    ax = neuron_axes(x, Y, sign)
    M = np.stack(ax)
    np.testing.assert_allclose(M @ M.T, np.eye(2), atol=1e-12)
    a, a2 = (0, 3) if sign > 0 else (1, 2)
    raw = x[a] - x[a2]
    assert raw @ ax.intra > 0
    residual = raw - (raw @ ax.intra) * ax.intra - (raw @ ax.inter) * ax.inter
    assert np.linalg.norm(residual) < 1e-10 * np.linalg.norm(raw)  # in the plane
    driven = Y == (1 if sign > 0 else 0)
    assert (x[driven].mean(0) - x[~driven].mean(0)) @ ax.inter > 0


def test_raw_intra_axis_is_orthogonal_only_for_equal_norms():
    """Centred, balanced conditions: Σ_c e_c x̄_c = x̄_a + x̄_a′, so (x̄_a − x̄_a′)·that is
    ‖x̄_a‖² − ‖x̄_a′‖², not 0 for random draws (hence the Gram–Schmidt step), 0 for the
    simplex, where the intra axis is then the raw difference itself."""
    x = e1_conditions(0)
    e = errors(Y, 1)
    assert np.allclose(e @ x, x[0] + x[3])
    dot = (x[0] - x[3]) @ (e @ x)
    assert np.isclose(dot, x[0] @ x[0] - x[3] @ x[3]) and abs(dot) > 1
    s = simplex_conditions()
    raw = s[0] - s[3]
    np.testing.assert_allclose(neuron_axes(s, Y, 1).intra, raw / np.linalg.norm(raw), atol=1e-12)


def test_axes_refuse_what_they_cannot_build():
    x = e1_conditions(0)
    with pytest.raises(ValueError, match="exactly two"):
        neuron_axes(x, np.array([1, 1, 1, 0]), 1)
    with pytest.raises(ValueError, match="degenerate"):
        neuron_axes(np.array([[1.0, 0], [0, 1], [0, -1], [-1, 0]]), Y, 1)  # x̄_0 + x̄_3 = 0
    with pytest.raises(ValueError, match=r"\(C, D\)"):
        neuron_axes(x, Y[:3], 1)


def test_project_gives_the_plane_coordinates():
    x = e1_conditions(1)
    ax = neuron_axes(x, Y, 1)
    w = np.random.default_rng(2).standard_normal((3, 5, 200))
    got = project(w, ax)
    assert got.shape == (3, 5, 2)
    np.testing.assert_allclose(project(0.3 * ax.intra - 2 * ax.inter, ax), [0.3, -2], atol=1e-12)


@pytest.mark.parametrize(
    "name", ["tanh", "relu", "sigmoid", "gelu", "silu", "hardtanh", "bounded_relu_ub1"]
)
@pytest.mark.parametrize("bias", [-0.1, 0.0, 0.1])
def test_field_at_the_origin_lies_on_the_inter_axis(name, bias):
    """At w = 0 every preactivation is b, so every condition gets the same f′(b) and g = f′(b)
    Σ_c e_c x̄_c, the inter axis times f′(b)‖Σ_c e_c x̄_c‖: its intra component vanishes for
    every activation, relu included (the intra axis is orthogonal to Σ_c e_c x̄_c by
    construction). What sets relu apart is off the origin (the next tests); at the origin relu
    only decides whether there is a field at all: f′(b) = 1 for b = +0.1 (E1's relu bias), 0 for
    b ≤ 0 (f′(0) = 0 by convention)."""
    x = e1_conditions(3)
    fld = gradient_field(x, Y, 1, name, bias, grid=21, extent=0.5)
    assert fld.alpha[10] == 0 and fld.beta[10] == 0
    df = activation_numpy(name)[1]
    want = df(np.array([bias]))[0] * np.linalg.norm(errors(Y, 1) @ x)
    assert abs(fld.g_intra[10, 10]) < 1e-12 * np.linalg.norm(x)
    assert np.isclose(fld.g_inter[10, 10], want, rtol=1e-12, atol=1e-12)


def test_even_derivatives_cancel_the_intra_pull_along_the_intra_axis():
    """On symmetric conditions (equal norms and overlaps) with b = 0, at w = α û_intra the
    favoured pair sits at u = ±αk (k = x̄_a·û_intra = 1/√2) and the others at 0, so
    g_intra = ½k[f′(αk) − f′(−αk)]: zero for an even f′ (tanh, sigmoid: the two favoured inputs
    pull equally and oppositely, and w stays on the inter axis), but sgn(α)·k/2 for relu, whose
    f′ counts only the input on the positive side, pushing w further toward it (a neuron
    specialising to a single input)."""
    x = simplex_conditions()
    k = 1 / np.sqrt(2)
    for name in ("tanh", "sigmoid", "relu", "gelu"):
        fld = gradient_field(x, Y, 1, name, 0.0, grid=21, extent=2.0)
        row = fld.g_intra[10]  # β = 0
        if name in ("tanh", "sigmoid"):
            assert np.abs(row).max() < 1e-15, name
        elif name == "relu":
            np.testing.assert_allclose(row, 0.5 * k * np.sign(fld.alpha), atol=1e-15)
        else:  # gelu's f′ is not even: a pull toward the input it favours, as relu's
            assert np.all(row[fld.alpha > 0] > 0) and np.all(row[fld.alpha < 0] < 0)


def test_relu_field_where_one_input_is_active_is_that_input():
    """Where a single condition c has a positive preactivation, relu's field is e_c x̄_c in the
    plane: it pulls w toward that one input, with an intra-class component."""
    x = e1_conditions(4)
    ax = neuron_axes(x, Y, 1)
    fld = gradient_field(x, Y, 1, "relu", 0.1, grid=21, extent=0.3)
    A, B = np.meshgrid(fld.alpha, fld.beta)
    p, q = x @ ax.intra, x @ ax.inter
    u = A[..., None] * p + B[..., None] * q + 0.1
    single = (u > 0).sum(-1) == 1
    assert single.sum() >= 10
    c = (u > 0).argmax(-1)[single]
    e = errors(Y, 1)
    np.testing.assert_allclose(fld.g_intra[single], e[c] * p[c], atol=1e-12)
    np.testing.assert_allclose(fld.g_inter[single], e[c] * q[c], atol=1e-12)
    assert np.abs(fld.g_intra[single]).min() > 0.1


@pytest.mark.parametrize("seed", range(8))
def test_the_papers_picture_near_initialisation(seed):
    """Spec §6.8's expected picture, on E1 draws with E1's biases (tanh −0.1, relu +0.1), over
    the plane near the initial weights (their plane coordinates are ≈ 1/√(3D) ≈ 0.04): tanh's
    field is mostly along the inter axis (all four inputs contribute and their intra pulls
    largely cancel), relu's has at least twice tanh's share across it. A property of the draws
    rather than an identity (measured over 6 seeds: tanh ≈ 0.16, relu 0.33–0.44)."""
    x = e1_conditions(100 + seed)

    def intra_share(name, b):
        fld = gradient_field(x, Y, 1, name, b, extent=0.1)
        return np.abs(fld.g_intra).sum() / np.hypot(fld.g_intra, fld.g_inter).sum()

    assert 2 * intra_share("tanh", -0.1) < intra_share("relu", 0.1)


@pytest.mark.parametrize("name", [*SMOOTH, *KINKED])
@pytest.mark.parametrize("bias", [-0.1, 0.1])
def test_field_is_minus_the_gradient_of_the_early_loss(name, bias):
    """With the errors e_c held constant, g(w) = −∇L(w) for L(w) = −Σ_c e_c f(w·x̄_c + b): its
    components on the axes are −∂L/∂α and −∂L/∂β at w = α û_intra + β û_inter, here by central
    finite differences (points within reach of a kink are skipped)."""
    x = e1_conditions(5)
    ax = neuron_axes(x, Y, 1)
    fld = gradient_field(x, Y, 1, name, bias, grid=11, extent=0.3)
    A, B = np.meshgrid(fld.alpha, fld.beta)
    h = 1e-6

    def loss(a, b):
        w = a[..., None] * ax.intra + b[..., None] * ax.inter
        return early_loss(w, x, Y, 1, name, bias)

    fd_intra = -(loss(A + h, B) - loss(A - h, B)) / (2 * h)
    fd_inter = -(loss(A, B + h) - loss(A, B - h)) / (2 * h)
    u = A[..., None] * (x @ ax.intra) + B[..., None] * (x @ ax.inter) + bias
    keep = np.ones(A.shape, bool)
    for kink in KINKED.get(name, ()):
        keep &= (np.abs(u - kink) > 1e-3).all(-1)
    assert keep.sum() > 100
    scale = np.abs(np.stack([fld.g_intra, fld.g_inter])).max()
    assert scale > 0.1
    np.testing.assert_allclose(fld.g_intra[keep], fd_intra[keep], rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(fld.g_inter[keep], fd_inter[keep], rtol=0, atol=1e-6 * scale)


# --------------------------------------------------------------------------- smoothing

U = np.linspace(-6, 6, 241)


def test_relu_quadrature_matches_its_exact_closed_form():
    """relu's E[1[u + σε > 0]] = Φ(u/σ) exactly; the quadrature of the kinked f converges to
    it as 1/nodes."""
    for sigma in (0.2, 1.0, 3.0):
        exact = smoothed_df_closed("relu", U, sigma)
        np.testing.assert_array_equal(exact, special.ndtr(U / sigma))
        errs = [np.abs(smoothed_df("relu", U, sigma, n) - exact).max() for n in (32, 128, 300)]
        assert errs[0] > errs[1] > errs[2] and errs[1] < 2e-3, errs


@pytest.mark.parametrize("name", ["tanh", "relu", "sigmoid", "gelu", "hardtanh"])
@pytest.mark.parametrize("sigma", [0.5, 2.0])
def test_quadrature_matches_monte_carlo(name, sigma):
    u = np.array([-2.5, -0.7, 0.0, 0.3, 1.9])
    eps = np.random.default_rng(0).standard_normal(400_000)
    df = activation_numpy(name)[1]
    samples = df(u[:, None] + sigma * eps)
    mc, se = samples.mean(1), samples.std(1) / np.sqrt(eps.size)
    got = smoothed_df(name, u, sigma)
    assert np.all(np.abs(got - mc) <= 5 * se + 2e-3 * (name in KINKED)), (got, mc, se)


def test_smooth_quadrature_converges_and_reduces_to_f_prime():
    for name in SMOOTH:
        a, b = smoothed_df(name, U, 0.7, 128), smoothed_df(name, U, 0.7, 300)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12, err_msg=name)
        df = activation_numpy(name)[1]
        np.testing.assert_array_equal(smoothed_df(name, U, 0.0), df(U))
        np.testing.assert_allclose(smoothed_df(name, U, 1e-4), df(U), rtol=0, atol=1e-7)


def test_tanh_closed_form_is_the_gaussian_bump_approximation():
    """The closed form is exact for the bump exp(−u²) that stands in for sech² u (checked by
    quadrature of the bump itself), and only approximates smoothed tanh′: off by up to 0.076
    at σ → 0 (sech² against exp(−u²)), 0.04 at σ = 1, 0.03 at σ = 2."""
    x, w = np.polynomial.hermite_e.hermegauss(150)
    w = w / w.sum()
    for sigma in (0.1, 0.5, 1.0, 2.0):
        bump = (np.exp(-((U[:, None] + sigma * x) ** 2)) * w).sum(1)
        closed = smoothed_df_closed("tanh", U, sigma)
        np.testing.assert_allclose(closed, bump, rtol=0, atol=1e-12)
        gap = np.abs(closed - smoothed_df("tanh", U, sigma)).max()
        assert 0.02 < gap < 0.076, (sigma, gap)
    with pytest.raises(ValueError, match="no closed form"):
        smoothed_df_closed("gelu", U, 1.0)


def test_smoothed_field():
    x = e1_conditions(6)
    plain = gradient_field(x, Y, 1, "tanh", -0.1)
    for sigma in (None, 0.0):
        same = gradient_field(x, Y, 1, "tanh", -0.1, smoothing_sigma=sigma)
        np.testing.assert_array_equal(same.g_intra, plain.g_intra)
    quad = gradient_field(x, Y, 1, "relu", 0.1, smoothing_sigma=0.5)
    closed = gradient_field(x, Y, 1, "relu", 0.1, smoothing_sigma=0.5, smoothing="closed")
    scale = np.abs(closed.g_inter).max()
    for got, want in ((quad.g_intra, closed.g_intra), (quad.g_inter, closed.g_inter)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-2 * scale)
    # the smoothed field is the plain formula with f′ replaced by its smoothed form
    ax = closed.axes
    A, B = np.meshgrid(closed.alpha, closed.beta)
    p, q = x @ ax.intra, x @ ax.inter
    d = special.ndtr((A[..., None] * p + B[..., None] * q + 0.1) / 0.5) * errors(Y, 1)
    np.testing.assert_allclose(closed.g_intra, d @ p, atol=1e-12)
    with pytest.raises(ValueError, match="smoothing"):
        gradient_field(x, Y, 1, "relu", smoothing_sigma=0.5, smoothing="exact")


def test_field_frame_is_tidy():
    x = e1_conditions(7)
    fld = gradient_field(x, Y, -1, "silu", 0.0, grid=5, extent=0.2)
    df = field_frame(x, Y, -1, "silu", 0.0, grid=5, extent=0.2)
    assert list(df.columns) == ["alpha", "beta", "g_intra", "g_inter"] and len(df) == 25
    row = df[(df["alpha"] == fld.alpha[1]) & (df["beta"] == fld.beta[3])]
    assert row["g_intra"].item() == fld.g_intra[3, 1]
    assert row["g_inter"].item() == fld.g_inter[3, 1]


def test_neuron_coordinates_use_each_neurons_own_axes():
    xbar, y = e1_conditions(0, D=20), Y
    rng = np.random.default_rng(1)
    W = rng.normal(size=(3, 5, 20))
    readout = np.array([0.5, -0.5, 0.5, -0.1, 0.0])  # a zero weight counts as positive
    got = neuron_coordinates(W, xbar, y, readout)
    assert got.shape == (3, 5, 2)
    for i, s in enumerate([1, -1, 1, -1, 1]):
        np.testing.assert_allclose(got[:, i], project(W[:, i], neuron_axes(xbar, y, s)))
    with pytest.raises(ValueError, match="must be"):
        neuron_coordinates(W[0], xbar, y, readout)


def test_movement_is_the_mean_absolute_displacement_from_the_first_snapshot():
    coords = np.zeros((3, 2, 2))
    coords[1] = [[1.0, -2.0], [-3.0, 0.0]]  # neuron 0 moves (1, −2), neuron 1 (−3, 0)
    coords[2] = [[0.5, 1.0], [0.5, 1.0]]
    np.testing.assert_allclose(movement(coords), [[0, 0], [2.0, 1.0], [0.5, 1.0]])
    np.testing.assert_allclose(movement(coords + 7.0), movement(coords))  # a start offset


def test_trajectory_frame_is_tidy_and_typed():
    coords = np.arange(12, dtype=float).reshape(2, 3, 2)
    df = trajectory_frame(np.array([0, 10]), coords)
    assert list(df.columns) == ["epoch", "neuron", "intra", "inter"]
    assert df["epoch"].tolist() == [0, 0, 0, 10, 10, 10] and df["neuron"].tolist() == [0, 1, 2] * 2
    assert df["intra"].tolist() == [0, 2, 4, 6, 8, 10] and str(df["inter"].dtype) == "float32"
