"""Every registered activation runs through one suite (f, f′, the in-place forms, names).

Each name below comes with f written out independently in numpy, its kinks and its bias
shift; a family without a name here fails ``test_every_family_is_covered``.
"""

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import special

from repgeom.activations import (
    ACTIVATION_FAMILIES,
    ACTIVATION_PATTERN,
    FAMILIES,
    canonical_activation,
    get_activation,
)


@dataclass(frozen=True)
class Spec:
    family: str
    f: object  # numpy u → f(u)
    kinks: tuple = ()
    bias_shift: float = 0.0


def _relu(u):
    return np.maximum(u, 0)


def _bounded(ub):
    return Spec("bounded_relu", lambda u: np.minimum(np.maximum(u, 0), ub), (0.0, ub))


def _shifted(s):
    return Spec("shifted_relu", lambda u: np.maximum(0, u + s), (-s,))


def _leaky(eps):
    return Spec("leaky_relu", lambda u: np.where(u > 0, u, eps * u), (0.0,))


SPECS = {
    "tanh": Spec("tanh", np.tanh),
    "relu": Spec("relu", _relu, (0.0,)),
    "relu6": Spec("relu6", lambda u: np.clip(u, 0, 6), (0.0, 6.0)),
    "hardtanh": Spec("hardtanh", lambda u: np.clip(u, -1, 1), (-1.0, 1.0)),
    "softplus": Spec("softplus", lambda u: np.logaddexp(0, u)),
    "identity": Spec("identity", lambda u: u),
    "sigmoid": Spec("sigmoid", special.expit),
    "gelu": Spec("gelu", lambda u: u * special.ndtr(u)),
    "silu": Spec("silu", lambda u: u * special.expit(u)),
    "leaky_relu": _leaky(0.01),
    "leaky_relu_slope0.2": _leaky(0.2),
    "leaky_relu_slope2.5": _leaky(2.5),
    "leaky_relu_slope-0.5": _leaky(-0.5),
    "bounded_relu_ub1": _bounded(1.0),
    "bounded_relu_ub1.5": _bounded(1.5),
    "bounded_relu_ub2": _bounded(2.0),
    "bounded_relu_ub0.3": _bounded(0.3),
    **{f"shifted_relu_s{s:+g}": _shifted(s) for s in (0.5, -0.5, 1.0, -1.0)},
    **{f"relu_bias{s:+g}": Spec("relu", _relu, (0.0,), s) for s in (0.5, -0.5, 1.0, -1.0)},
    **{f"tanh_bias{s:+g}": Spec("tanh", np.tanh, (), s) for s in (0.5, -0.5, 1.0, -1.0)},
}
NAMES = sorted(SPECS)

# a grid through every kink (step 0.01 over [-8, 8]), then the kinks themselves exactly
U = torch.cat(
    [
        torch.linspace(-8, 8, 1601, dtype=torch.float64),
        torch.tensor([0.0, 0.3, -0.5, 0.5, -1.0, 1.0, 1.5, 2.0, 6.0, 25.0], dtype=torch.float64),
    ]
)


def away_from_kinks(name, u=U):
    keep = torch.ones_like(u, dtype=torch.bool)
    for k in SPECS[name].kinks:
        keep &= (u - k).abs() >= 1e-3
    return u[keep]


def test_every_family_is_covered():
    assert {s.family for s in SPECS.values()} == set(FAMILIES)
    assert {get_activation(n).family for n in NAMES} == set(FAMILIES)


@pytest.mark.parametrize("name", NAMES)
def test_f_matches_formula(name):
    got = get_activation(name).f(U).numpy()
    # softplus is linear above 20 (torch's threshold): off log(1 + e^u) by < e^-20
    np.testing.assert_allclose(got, SPECS[name].f(U.numpy()), rtol=1e-12, atol=3e-9)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_autograd(name):
    act = get_activation(name)
    u0 = away_from_kinks(name)
    u = u0.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(act.f(u).sum(), u)
    torch.testing.assert_close(act.df(u0), g, rtol=1e-12, atol=3e-9)


@pytest.mark.parametrize("name", NAMES)
def test_in_place_forms_match_f_and_df(name):
    act = get_activation(name)
    u = torch.cat([U, torch.zeros(3, dtype=U.dtype)])
    g = torch.linspace(-2, 3, len(u), dtype=U.dtype)
    u32 = torch.linspace(-30, 30, 200_001)
    assert (act.f_(u32.clone()) - act.f(u32)).abs().max() <= 5e-7  # float32, as training runs
    h = act.f_(u.clone())  # the latest f_ (a negative leaky slope's backprop_ needs it)
    torch.testing.assert_close(h, act.f(u), rtol=0, atol=1e-15)
    got = g.clone()
    act.backprop_(got, h, torch.empty_like(g))
    # the kinks included: backprop_ follows df's convention there
    torch.testing.assert_close(got, g * act.df(u), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_in_place_forms_allocate_nothing_new(name):
    """f_ returns its argument; backprop_ writes only g (and tmp)."""
    act = get_activation(name)
    u = torch.linspace(-3, 3, 101, dtype=torch.float32)
    h = act.f_(u)
    assert h is u
    g, tmp = torch.ones_like(u), torch.empty_like(u)
    h_before = h.clone()
    assert act.backprop_(g, h, tmp) is None
    assert torch.equal(h, h_before)


def test_derivative_conventions_at_kinks():
    z = torch.zeros(1, dtype=torch.float64)
    assert get_activation("relu").df(z).item() == 0.0
    assert get_activation("leaky_relu").df(z).item() == 0.01
    assert get_activation("bounded_relu_ub1.5").df(z + 1.5).item() == 0.0
    assert get_activation("shifted_relu_s+0.5").df(z - 0.5).item() == 0.0
    assert get_activation("hardtanh").df(z - 1).item() == 0.0


def test_tanh_and_relu_are_unchanged():
    """The two original activations keep their exact functions (trained results are pinned)."""
    from repgeom import activations as A

    tanh, relu = get_activation("tanh"), get_activation("relu")
    assert (tanh.f, tanh.df, tanh.f_, tanh.backprop_) == (
        torch.tanh,
        A._tanh_df,
        A._tanh_,
        A._tanh_backprop_,
    )
    assert (relu.f, relu.f_, relu.backprop_) == (torch.relu, torch.relu_, A._relu_backprop_)
    assert (tanh.formula, relu.formula) == ("tanh(u)", "max(0, u), f'(0) = 0")
    for base in ("tanh", "relu"):
        shifted = get_activation(f"{base}_bias-1")
        assert shifted.f_ is get_activation(base).f_  # same numerics, only the init differs


def test_shifted_relu_equals_relu_of_shifted_preactivation():
    """max(0, u + s) is relu at a bias larger by s: with a trained hidden bias, shifted_relu_s<s>
    and relu with b_init + s compute the same function."""
    u = U.to(torch.float32)
    relu = get_activation("relu")
    for s in (0.5, -0.5, 1.0, -1.0):
        shifted = get_activation(f"shifted_relu_s{s}")
        assert torch.equal(shifted.f(u), relu.f(u + s))
        assert torch.equal(shifted.f_(u.clone()), relu.f_(u + s))
        assert torch.equal(shifted.df(u), relu.df(u + s))


@pytest.mark.parametrize("name", NAMES)
def test_bias_shift(name):
    assert get_activation(name).bias_shift == SPECS[name].bias_shift


@pytest.mark.parametrize(
    "spellings, canonical",
    [
        (
            ["bounded_relu_ub1.5", "bounded_relu_ub1.50", "bounded_relu_ub+1.5"],
            "bounded_relu_ub1.5",
        ),
        (
            ["bounded_relu_ub2", "bounded_relu_ub2.0", "bounded_relu_ub2.", "bounded_relu_ub.2e1"],
            "bounded_relu_ub2",
        ),
        (["bounded_relu_ub0.5", "bounded_relu_ub.5", "bounded_relu_ub5e-1"], "bounded_relu_ub0.5"),
        (["bounded_relu_ub100", "bounded_relu_ub1e2", "bounded_relu_ub1e+2"], "bounded_relu_ub100"),
        (["bounded_relu_ub6", "bounded_relu_ub6.0", "relu6"], "relu6"),
        (["shifted_relu_s+0.5", "shifted_relu_s0.5", "shifted_relu_s.50"], "shifted_relu_s+0.5"),
        (["shifted_relu_s-1", "shifted_relu_s-1.0", "shifted_relu_s-1e0"], "shifted_relu_s-1"),
        (["shifted_relu_s0", "shifted_relu_s-0", "relu_bias+0", "relu_bias0.0", "relu"], "relu"),
        (["relu_bias+0.5", "relu_bias0.5", "relu_bias+.5"], "relu_bias+0.5"),
        (["tanh_bias-1", "tanh_bias-1.00"], "tanh_bias-1"),
        (["tanh_bias+0", "tanh_bias-0.0", "tanh"], "tanh"),
        (["leaky_relu", "leaky_relu_slope0.01", "leaky_relu_slope+1e-2"], "leaky_relu"),
        (["leaky_relu_slope0.2", "leaky_relu_slope+0.20"], "leaky_relu_slope0.2"),
        (["leaky_relu_slope-0.5", "leaky_relu_slope-.5"], "leaky_relu_slope-0.5"),
        (["leaky_relu_slope0", "leaky_relu_slope-0"], "relu"),
        (["leaky_relu_slope1", "identity"], "identity"),
        (["shifted_relu_s1e-7"], "shifted_relu_s+0.0000001"),
        (["shifted_relu_s0.30000000000000004"], "shifted_relu_s+0.30000000000000004"),
        (["hardtanh"], "hardtanh"),
        (["softplus"], "softplus"),
        (["sigmoid"], "sigmoid"),
        (["gelu"], "gelu"),
        (["silu"], "silu"),
    ],
)
def test_canonical_names(spellings, canonical):
    assert canonical_activation(canonical) == canonical  # a fixed point
    for x in spellings:
        assert canonical_activation(x) == canonical, x
        assert get_activation(x).name == canonical
        assert get_activation(x) is get_activation(canonical)  # one cached instance
        assert re.fullmatch(ACTIVATION_PATTERN, x)


@pytest.mark.parametrize("name", NAMES)
def test_representative_names_are_canonical(name):
    assert canonical_activation(name) == name
    assert get_activation(name).name == name
    assert re.fullmatch(r"[a-z0-9_.+-]+", name)
    assert re.fullmatch(ACTIVATION_PATTERN, name)


def test_numbers_round_trip_positionally():
    for x in (1e-7, 123456789.0, 1e16, 0.1 + 0.2, 2.5e-5, 7.0, 0.125):
        name = canonical_activation(f"bounded_relu_ub{x!r}")
        number = name.removeprefix("bounded_relu_ub")
        assert "e" not in number and not number.endswith(".0") and float(number) == x
        assert canonical_activation(f"shifted_relu_s{-x!r}") == f"shifted_relu_s-{number}"


@pytest.mark.parametrize(
    "bad",
    [
        "swish",
        "bounded_relu_ub0",
        "bounded_relu_ub-1",
        "bounded_relu_ub-0",
        "bounded_relu",
        "bounded_relu_ub",
        "shifted_relu_snan",
        "shifted_relu_sinf",
        "shifted_relu_s1e999",
        "shifted_relu_s1e-999",  # written out: too long for a folder name
        "shifted_relu_s1_0",
        "shifted_relu_s+-1",
        "relu_bias",
        "relu_bias+",
        "leaky_relu_slopeabc",
        "leaky_relu_slope",
        "",
        "ReLU",
        "relu ",
        "relu_bias=0.5",
        "relu_bias+0.5\n",
        "tanh_bias(1)",
        None,
    ],
)
def test_bad_names_raise_listing_the_families(bad):
    with pytest.raises(ValueError, match="activation") as err:
        get_activation(bad)
    msg = str(err.value)
    assert repr(bad) in msg
    assert msg.endswith("allowed: " + ", ".join(ACTIVATION_FAMILIES))
    with pytest.raises(ValueError):
        canonical_activation(bad)


def test_families_are_spelled_as_documented():
    assert ACTIVATION_FAMILIES == (
        "tanh[_bias<±s>]",
        "relu[_bias<±s>]",
        "relu6",
        "hardtanh",
        "sigmoid",
        "softplus",
        "gelu",
        "silu",
        "identity",
        "leaky_relu[_slope<ε>]",
        "bounded_relu_ub<ub>",
        "shifted_relu_s<±s>",
    )
    from repgeom import activation_names

    for spelling in ACTIVATION_FAMILIES:  # the docstring's table has both forms of a [...] part
        for form in {re.sub(r"\[.*\]", "", spelling), re.sub(r"[][]", "", spelling)}:
            assert f"``{form}``" in activation_names.__doc__, form


def test_pattern_rejects_what_is_not_a_name():
    for bad in ("swish", "", "relu_bias", "shifted_relu_snan", "relu_bias=1", "tanh bias", "Relu"):
        assert not re.fullmatch(ACTIVATION_PATTERN, bad), bad
    # looser than the parser: valid syntax with an invalid value still matches
    assert re.fullmatch(ACTIVATION_PATTERN, "bounded_relu_ub0")


def test_schema_pattern_accepts_every_canonical_name():
    import yaml

    def patterns(node):  # every activations list's item pattern, wherever the schema puts it
        if isinstance(node, dict):
            items = node.get("activations", {}).get("items", {}) if "activations" in node else {}
            if isinstance(items, dict) and "pattern" in items:
                yield items["pattern"]
            for v in node.values():
                yield from patterns(v)
        elif isinstance(node, list):
            for v in node:
                yield from patterns(v)

    path = Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml"
    found = list(patterns(yaml.safe_load(path.read_text())))
    assert found
    for pattern in found:
        for name in NAMES:
            assert re.search(pattern, name), (pattern, name)


#: f′ of the smooth activations, written out in SciPy (σ = expit, Φ = ndtr, φ the density)
SMOOTH_DF = {
    "sigmoid": lambda u: special.expit(u) * special.expit(-u),
    "gelu": lambda u: special.ndtr(u) + u * np.exp(-0.5 * u * u) / np.sqrt(2 * np.pi),
    "silu": lambda u: special.expit(u) * (1 + u * special.expit(-u)),
}


@pytest.mark.parametrize("name", sorted(SMOOTH_DF))
def test_smooth_activations_are_accurate_far_out(name):
    """f and f′ of sigmoid, gelu and silu to relative precision out to |u| = 60, where naive
    forms overflow (e^(−u) for u ≪ 0), cancel (1 + erf(u/√2) for u ≪ 0) or lose the tail (1 − σ
    for u ≫ 0); in float32 too, as training runs, without a nan or inf. gelu's f is torch's
    own (u·½(1 + erf(u/√2)), the form autograd differentiates): below u ≈ −8 it is 0 instead of
    u·Φ(u), off by < 1e-15 absolute."""
    act = get_activation(name)
    u = np.concatenate([np.linspace(-60, 60, 2401), [-1e4, 1e4]])
    t = torch.from_numpy(u)
    with np.errstate(over="ignore", under="ignore"):
        want_f, want_df = SPECS[name].f(u), SMOOTH_DF[name](u)
    atol = 1e-15 if name == "gelu" else 1e-300
    np.testing.assert_allclose(act.f(t).numpy(), want_f, rtol=1e-13, atol=atol)
    # gelu's f′ = Φ + uφ is a difference of two tiny terms for u ≪ 0: relative to the larger
    scale = np.abs(want_df) + (np.exp(-0.5 * u * u) * np.abs(u) if name == "gelu" else 0)
    assert np.all(np.abs(act.df(t).numpy() - want_df) <= 1e-13 * scale + 1e-300)
    for f in (act.f, act.df):
        assert torch.isfinite(f(t.float())).all()


def test_sigmoid_is_a_rescaled_tanh():
    """σ(u) = ½ + ½ tanh(u/2), so σ′(u) = ¼ tanh′(u/2): tanh's band, twice as wide, centred at 0
    (why the registry files sigmoid with tanh as two-sided saturating)."""
    sig, tanh = get_activation("sigmoid"), get_activation("tanh")
    torch.testing.assert_close(sig.f(U), 0.5 + 0.5 * tanh.f(U / 2), rtol=0, atol=1e-15)
    torch.testing.assert_close(sig.df(U), 0.25 * tanh.df(U / 2), rtol=1e-12, atol=1e-15)
    assert torch.equal(sig.df(U), sig.df(-U))  # an even band


def test_gelu_and_silu_are_not_monotone():
    """Both dip below 0 at some u < 0, so h = f(u) does not give f′(u) (their f_ keeps it) and
    f′ is negative there; both tend to relu far from 0 (one-sided)."""
    u = torch.linspace(-6, 6, 12001, dtype=torch.float64)
    for name, (u_min, f_min) in {"gelu": (-0.7518, -0.1700), "silu": (-1.2785, -0.2785)}.items():
        act = get_activation(name)
        h = act.f(u)
        i = int(h.argmin())
        assert abs(u[i].item() - u_min) < 1e-3 and abs(h[i].item() - f_min) < 1e-4, name
        assert act.df(u).min() < 0 < act.df(u).max() - 1  # below 0 and above 1 near the origin
        far = torch.tensor([-30.0, 30.0], dtype=torch.float64)
        torch.testing.assert_close(act.f(far), torch.relu(far), rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_non_injective_smooth_backprop_needs_its_forward(name):
    act = get_activation(name)
    u = torch.linspace(-3, 3, 7, dtype=torch.float64)
    h = act.f_(u.clone())
    with pytest.raises(RuntimeError, match="returned by this thread"):
        act.backprop_(torch.ones(7, dtype=u.dtype), h.clone(), torch.empty(7, dtype=u.dtype))
    h2 = act.f_(-u)  # a second layer's forward keeps the first one's
    g, g2 = torch.ones_like(u), torch.ones_like(u)
    act.backprop_(g2, h2, torch.empty_like(u))
    act.backprop_(g, h, torch.empty_like(u))
    torch.testing.assert_close(g, act.df(u), rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(g2, act.df(-u), rtol=1e-12, atol=1e-15)


def test_negative_leaky_slope_backprop_needs_its_forward():
    """For ε < 0, h does not determine the sign of u; backprop_ refuses a foreign h."""
    act = get_activation("leaky_relu_slope-0.5")
    u = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])
    h = act.f_(u.clone())
    assert torch.equal(h, torch.tensor([1.0, 0.5, 0.0, 1.0, 2.0]))
    g = torch.ones(5)
    act.backprop_(g, h, torch.empty(5))
    assert torch.equal(g, torch.tensor([-0.5, -0.5, -0.5, 1.0, 1.0]))
    with pytest.raises(RuntimeError, match="returned by this thread"):
        act.backprop_(torch.ones(5), h.clone(), torch.empty(5))
    h.add_(0)  # changed since f_
    with pytest.raises(RuntimeError, match="returned by this thread"):
        act.backprop_(torch.ones(5), h, torch.empty(5))
    h2 = act.f_(u.clone())
    h3 = act.f_(-u.clone())  # a second layer's forward keeps the first one's mask
    g2, g3 = torch.ones(5), torch.ones(5)
    act.backprop_(g3, h3, torch.empty(5))
    act.backprop_(g2, h2, torch.empty(5))
    assert torch.equal(g2, act.df(u)) and torch.equal(g3, act.df(-u))
    errors = []

    def other_thread():  # its own latest forward, none yet
        try:
            act.backprop_(torch.ones(5), h2, torch.empty(5))
        except RuntimeError as err:
            errors.append(err)

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    assert len(errors) == 1


def test_reductions_name_canonical_activations():
    for fam in FAMILIES.values():
        for value, other in fam.same_as.items():
            assert canonical_activation(other) == other
            spelled = f"{fam.name}{fam.param}{value!r}"
            assert get_activation(spelled) is get_activation(other), spelled


@pytest.mark.parametrize(
    "name, kind",
    [
        ("tanh", "two-sided saturating"),
        ("hardtanh", "two-sided saturating"),
        ("bounded_relu_ub1", "two-sided saturating"),
        ("relu6", "two-sided saturating"),
        ("sigmoid", "two-sided saturating"),
        ("relu", "one-sided or non-saturating"),
        ("gelu", "one-sided or non-saturating"),
        ("silu", "one-sided or non-saturating"),
        ("softplus", "one-sided or non-saturating"),
        ("leaky_relu", "one-sided or non-saturating"),
        ("identity", "one-sided or non-saturating"),
        ("shifted_relu_s-0.5", "kink shift"),
        ("relu_bias+0.5", "bias shift"),
        ("tanh_bias-1", "bias shift"),
        # a number that gives back the plain activation gives back its kind
        ("relu_bias+0", "one-sided or non-saturating"),
        ("shifted_relu_s0", "one-sided or non-saturating"),
    ],
)
def test_activation_kind(name, kind):
    from repgeom.activation_names import activation_kind

    assert activation_kind(name) == kind


def test_every_family_declares_a_known_kind():
    from repgeom.activation_names import KINDS

    for fam in FAMILIES.values():
        assert fam.kind in KINDS and fam.param_kind in (*KINDS, None), fam.name
