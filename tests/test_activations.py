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
