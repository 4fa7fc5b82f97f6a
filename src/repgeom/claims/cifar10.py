"""The paper's §6 claim on the CIFAR-10 network: the tanh/relu difference in kernel alignment
persists in every hidden layer (target alignment: tanh above relu; input alignment: relu
above tanh). Each hidden layer of each architecture is a setting of its own (the claims step
pairs runs by their keys and layer), so the overall verdict is "supported" only if the
difference holds in every layer."""

from __future__ import annotations

from . import Claim, activation_gap


def tanh_target_alignment(final, dich, keys):
    return activation_gap(final, keys, "target_alignment", "tanh", "relu", default_by=("arch",))


def relu_input_alignment(final, dich, keys):
    return activation_gap(final, keys, "input_alignment", "relu", "tanh", default_by=("arch",))


CLAIMS = (
    Claim(
        "tanh_target_alignment",
        "in every hidden layer, tanh's final target alignment (with the one-hot label Gram) "
        "exceeds relu's",
        tanh_target_alignment,
    ),
    Claim(
        "relu_input_alignment",
        "in every hidden layer, relu's final input alignment (with the pixel Gram) exceeds tanh's",
        relu_input_alignment,
    ),
)
