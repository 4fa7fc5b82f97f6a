import pytest
import torch

from repgeom.activations import ACTIVATIONS, get_activation

U = torch.linspace(-4, 4, 801, dtype=torch.float64)


def test_formulas():
    assert torch.allclose(get_activation("tanh").f(U), torch.tanh(U))
    assert torch.allclose(get_activation("relu").f(U), torch.clamp(U, min=0))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_derivative_matches_autograd(name):
    act = get_activation(name)
    u = U.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(act.f(u).sum(), u)
    assert torch.allclose(act.df(U), g)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_in_place_forms_match_f_and_df(name):
    act = get_activation(name)
    u = torch.cat([U, torch.zeros(3, dtype=U.dtype)])
    g = torch.linspace(-2, 3, len(u), dtype=U.dtype)
    h = act.f_(u.clone())
    assert torch.allclose(h, act.f(u), rtol=0, atol=1e-15)
    u32 = torch.linspace(-30, 30, 200_001)
    assert (act.f_(u32.clone()) - act.f(u32)).abs().max() <= 5e-7  # float32, as training runs
    got = g.clone()
    act.backprop_(got, h, torch.empty_like(g))
    assert torch.allclose(got, g * act.df(u), rtol=1e-12, atol=1e-12)


def test_relu_derivative_at_zero_is_zero():
    assert get_activation("relu").df(torch.zeros(1)).item() == 0.0


def test_unknown_activation_lists_allowed():
    with pytest.raises(KeyError, match="allowed: relu, tanh"):
        get_activation("gelu")


def test_schema_lists_every_registered_activation():
    from pathlib import Path

    from repgeom.config import load_schema

    schema = load_schema(Path(__file__).parents[1] / "workflow/schemas/config.schema.yaml")
    enum = schema["properties"]["sweep"]["properties"]["activations"]["items"]["enum"]
    assert sorted(enum) == sorted(ACTIVATIONS)
