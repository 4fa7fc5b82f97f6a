"""Network kinds and their registry: names, settings and how to build one.

Torch-free, so that the Snakefile and the configuration schema can read it on every parse. A
kind is one module of this package (``mlp``, ``cnn``) that holds the implementation (a
:class:`repgeom.networks.base.Network`, imported only when a job builds one) and registers a
:class:`Kind` here: its name grammar, the model settings it reads with their JSON schema and
defaults, the inputs it takes, and its paper defaults for training. Nothing outside this
package lists a network's name or its parameters.

Names
-----
``shallow`` is ``mlp1``, the one-hidden-layer network of every E1–E3/E6 experiment, and stays
its canonical spelling (its folders keep ``arch=shallow``); ``mlp<L>`` (L = 2…16) is a
multi-layer perceptron with L hidden layers of equal width; ``cnn`` is the CIFAR-10
convolutional network. :func:`canonical_network` maps every spelling to one name (``mlp1`` →
``shallow``, ``mlp02`` → ``mlp2``) and refuses others, listing the kinds.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

#: frozen readouts a network can draw (:func:`repgeom.networks.base.readout_weights`)
READOUTS = ("uniform", "sphere", "balanced", "gauss")

#: the input kinds a task can give: condition-mean tasks give feature vectors (``vector``),
#: image data sets give (channels, height, width) arrays (``image``)
INPUTS = ("vector", "image")


@dataclass(frozen=True)
class Kind:
    """A registered network kind.

    ``name``: the family name; ``pattern``: a regular expression its spellings match (group 1,
    if any, the depth); ``canonical``: a match → the canonical name; ``description``: one line
    for the schema; ``settings``: the ``model`` keys it reads, name → JSON schema (with a
    default); ``inputs``: the input kind it takes (:data:`INPUTS`); ``build``:
    ``"module:function"``, the builder ``(canonical name, model settings, activation,
    input shape, n_out) → Network``, imported when a job needs it; ``layer_names``: a
    canonical name → the names of its hidden layers in order (layer l of the tables is the
    l-th; the network's ``layers``); ``training``:
    suggested training settings, for the docs (``{"optimizer": "adam", "lr": 1e-3}``);
    ``examples``: spellings listed in messages (every kind's, in registration order).
    """

    name: str
    pattern: str
    canonical: Callable[[re.Match], str]
    description: str
    settings: dict[str, dict]
    inputs: str
    build: str
    layer_names: Callable[[str], tuple[str, ...]]
    examples: tuple[str, ...] = ()
    training: dict = field(default_factory=dict)


KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    if kind.name in KINDS:
        raise ValueError(f"network kind {kind.name!r} is registered twice")
    if any(re.fullmatch(other.pattern, ex) for other in KINDS.values() for ex in kind.examples):
        raise ValueError(f"network kind {kind.name!r}: its names overlap another kind's")
    if kind.inputs not in INPUTS:
        raise ValueError(f"network kind {kind.name!r}: inputs must be one of {INPUTS}")
    KINDS[kind.name] = kind
    return kind


def _kind_of(name: str) -> tuple[Kind, re.Match]:
    for kind in KINDS.values():
        m = re.fullmatch(kind.pattern, name)
        if m:
            return kind, m
    raise ValueError(f"unknown architecture {name!r}; allowed: {', '.join(NAME_EXAMPLES)}")


def canonical_network(name: str) -> str:
    """The canonical spelling of an architecture name; ValueError naming the kinds if none."""
    if not isinstance(name, str):
        raise ValueError(
            f"architecture {name!r} is not a name; allowed: {', '.join(NAME_EXAMPLES)}"
        )
    kind, m = _kind_of(name)
    return kind.canonical(m)


def kind_of(name: str) -> Kind:
    """The registered kind of any valid spelling."""
    return _kind_of(name)[0]


def layer_names(arch: str) -> tuple[str, ...]:
    """The names of the hidden layers of ``arch`` (any valid spelling), from the input on."""
    name = canonical_network(arch)
    return tuple(kind_of(name).layer_names(name))


def n_layers(arch: str) -> int:
    """The number of hidden layers of the architecture ``arch`` (any valid spelling)."""
    return len(layer_names(arch))


def settings_schema() -> dict[str, dict]:
    """Every model setting any kind reads, name → JSON schema (the ``model`` section's
    properties besides what every network shares)."""
    out: dict[str, dict] = {}
    for kind in KINDS.values():
        for key, schema in kind.settings.items():
            if out.setdefault(key, schema) != schema:
                raise ValueError(
                    f"network kind {kind.name!r}: model setting {key!r} is declared by another "
                    "kind with another schema; a shared key needs one schema (or a new name)"
                )
    return out


def model_settings(arch: str, model_cfg: dict) -> dict:
    """The settings ``arch`` reads from a resolved ``model`` section, in its declared order."""
    kind = kind_of(arch)
    return {k: model_cfg[k] for k in kind.settings if k in model_cfg}


def build(arch: str, settings: dict, activation, input_shape: tuple[int, ...], n_out: int):
    """The :class:`repgeom.networks.base.Network` named ``arch`` (imports torch)."""
    name = canonical_network(arch)
    module, _, fn = kind_of(name).build.partition(":")
    return getattr(importlib.import_module(module), fn)(
        name, settings, activation, input_shape, n_out
    )


# -- the kinds --------------------------------------------------------------------------------

MAX_DEPTH = 16
_WIDTH = {
    "type": "integer",
    "minimum": 2,
    "maximum": 100000,
    "multipleOf": 2,
    "default": 120,
    "description": "Hidden width N of every hidden layer (family defaults: 120 for delta, 128 "
    "for alignment; the deep MLPs use 128).",
}
_INIT = {
    "type": "string",
    "enum": ["uniform", "normal"],
    "default": "uniform",
    "description": "Hidden weights of each layer ~ U(-1,1)/√fan_in (uniform, the δ-task) or "
    "N(0,1)/√fan_in (normal, the alignment tasks); biases ~ N(0,1)/√fan_in either way.",
}
_TRAIN_OUT = {
    "type": "boolean",
    "default": True,
    "description": "Whether the output bias b_o is trained (δ-task) or frozen (alignment "
    "tasks; the CNN's spec freezes it too: CNN configs set false).",
}
_TRAIN_HIDDEN = {
    "type": "boolean",
    "default": True,
    "description": "Whether the hidden biases are trained (true in E2/E3; the weight-space "
    "experiment holds them fixed).",
}

#: the largest magnitude of a fixed bias value
MAX_BIAS = 100.0
_BIAS_NUMBER = {"type": "number", "minimum": -MAX_BIAS, "maximum": MAX_BIAS}
_HIDDEN_BIAS = {
    "description": "Initial value of every hidden bias (with train_hidden_bias: false, its fixed "
    "value): one number for every activation, or a mapping activation → number that names "
    "every activation of the experiment (the weight-space experiment: {tanh: -0.1, relu: "
    "0.1}); an activation's own bias shift (relu_bias+s) is added. Absent or null: random, "
    "N(0,1)/√fan_in. The random draw is made either way, so runs that differ only in this "
    "setting share their weights and readout.",
    "oneOf": [
        {"type": "null", "description": "null: random, N(0,1)/√fan_in"},
        _BIAS_NUMBER | {"description": f"a number in [−{MAX_BIAS:g}, {MAX_BIAS:g}]"},
        {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1000,
            "propertyNames": {"maxLength": 64},
            "additionalProperties": _BIAS_NUMBER,
            "description": f"a mapping activation name → a number in [−{MAX_BIAS:g}, {MAX_BIAS:g}]",
        },
    ],
}
_OUTPUT_BIAS = {
    "description": "Initial value of the output bias b_o (with train_output_bias: false, its "
    "fixed value; the weight-space experiment: 0). Absent or null: random, N(0,1)/√N (drawn "
    "either way, so the other parameters do not change).",
    "oneOf": [
        {"type": "null", "description": "null: random, N(0,1)/√N"},
        _BIAS_NUMBER | {"description": f"a number in [−{MAX_BIAS:g}, {MAX_BIAS:g}]"},
    ],
}
#: model settings whose absence (or null) means a random draw: left out of a run's recipe then
NULLABLE_SETTINGS = ("hidden_bias", "output_bias")
#: model settings a mapping activation → value may give (resolved per run)
PER_ACTIVATION_SETTINGS = ("hidden_bias",)


def _mlp_name(m: re.Match) -> str:
    depth = int(m.group(1)) if m.group(1) else 1
    return "shallow" if depth == 1 else f"mlp{depth}"


register(
    Kind(
        name="mlp",
        pattern=r"shallow|mlp0*([1-9]|1[0-6])",
        canonical=_mlp_name,
        description="shallow (= mlp1): one hidden layer; mlp<L>: L = 2…16 hidden layers of "
        "equal width, the same activation in each, a frozen random readout",
        settings={
            "width": _WIDTH,
            "init": _INIT,
            "train_output_bias": _TRAIN_OUT,
            "train_hidden_bias": _TRAIN_HIDDEN,
            "hidden_bias": _HIDDEN_BIAS,
            "output_bias": _OUTPUT_BIAS,
        },
        inputs="vector",
        build="repgeom.networks.mlp:build",
        layer_names=lambda name: tuple(
            str(i) for i in range(1, 2 if name == "shallow" else int(name[3:]) + 1)
        ),
        training={"optimizer": "sgd", "lr": 0.1},
        examples=("shallow", "mlp1", "mlp2", "mlp3", "mlp4", f"… mlp{MAX_DEPTH}"),
    )
)

_CHANNELS = {
    "type": "integer",
    "minimum": 1,
    "maximum": 4096,
    "default": 16,
    "description": "CNN: channels c of both 5×5 conv layers.",
}
_FC_WIDTH = {
    "type": "integer",
    "minimum": 1,
    "maximum": 100000,
    "default": 100,
    "description": "CNN: width F of both fully connected hidden layers.",
}

register(
    Kind(
        name="cnn",
        pattern=r"cnn",
        canonical=lambda m: "cnn",
        description="cnn: the CIFAR-10 ConvNet of depth 2: conv(5×5, c) → f → maxpool 2 → "
        "conv(5×5, c) → f → maxpool 2 → FC(F) → f → FC(F) → f → a frozen random readout; "
        "hidden layers conv1, conv2 (after the pool, flattened), fc1, fc2",
        settings={
            "channels": _CHANNELS,
            "fc_width": _FC_WIDTH,
            # shared by name with the MLPs (their schema entry is the one kept): the CNN's
            # spec freezes the readout bias, so its configs set train_output_bias: false
            "train_output_bias": _TRAIN_OUT,
            "train_hidden_bias": _TRAIN_HIDDEN,
        },
        inputs="image",
        build="repgeom.networks.cnn:build",
        layer_names=lambda name: ("conv1", "conv2", "fc1", "fc2"),
        examples=("cnn",),
    )
)

#: spellings to show in messages and the schema's description
NAME_EXAMPLES = tuple(ex for kind in KINDS.values() for ex in kind.examples)
#: a regular expression every valid spelling matches (for the JSON schema)
NETWORK_PATTERN = "^(" + "|".join(k.pattern for k in KINDS.values()) + ")$"
