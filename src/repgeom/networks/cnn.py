"""The CIFAR-10 convolutional network (``cnn``), vectorised over runs.

The paper's ConvNet of depth 2 ("2 conv layers and 2 FC hidden layers"), with f the
configured activation in every hidden layer::

    conv(C→c, 5×5, stride 1, no padding) → f → maxpool 2×2
    → conv(c→c, 5×5) → f → maxpool 2×2 → flatten
    → FC(c·h·w → F) → f → FC(F → F) → f → frozen readout z = J h + b_o (F → K)

For 32×32 inputs the spatial sizes are 32 → 28 → 14 → 10 → 5, so the flattened size is c·5·5;
it is computed from the input shape (C, H, W) in general (valid convolutions, max-pool
floors). Settings: ``channels`` c (16), ``fc_width`` F (100), ``train_hidden_bias`` and
``train_output_bias`` (shared with the MLPs by name, so their schema is the MLPs'; the spec
freezes the CNN's readout bias, so CNN configs set ``train_output_bias: false``).

Hidden layers (the rows of the per-layer metrics): ``conv1``, ``conv2``, ``fc1``, ``fc2``. A
conv layer's representation is its output *after f and the max-pool*, flattened in PyTorch's
(channel, row, column) order: (R, n, c·14·14) and (R, n, c·5·5) for 32×32 inputs; an FC
layer's is its output after f, (R, n, F).

Parameters, with a leading run axis R: ``conv1_w`` (R, c, C, 5, 5), ``conv1_b`` (R, c),
``conv2_w`` (R, c, c, 5, 5), ``conv2_b`` (R, c), ``fc1_w`` (R, F, c·h·w), ``fc1_b`` (R, F),
``fc2_w`` (R, F, F), ``fc2_b`` (R, F), the frozen readout ``J`` (R, K, F) and ``bo`` (R, K).
``weights`` maps each layer to its ``*_w``. Trained: the four hidden weights, the hidden biases
(unless ``train_hidden_bias`` is false) and ``bo`` when ``train_output_bias``.

Initialisation per run, from its own ``torch.Generator(seed)``, PyTorch's default for Conv2d and
Linear (kaiming_uniform with a = √5 for the weight, which is U(−1/√fan_in, 1/√fan_in), and the
same bound for the bias), drawn in this order: conv1_w, conv1_b, conv2_w, conv2_b, fc1_w,
fc1_b, fc2_w, fc2_b (fan_in = C·25, c·25, c·h·w, F), each hidden bias plus the activation's
bias shift; then J by the run's readout kind (:func:`repgeom.networks.base.readout_weights`;
``uniform`` is PyTorch's default Linear init) and b_o ~ U(−1/√F, 1/√F).

Runs are batched by a loop over the run axis for the two conv layers (each run's
``conv2d`` → f → ``max_pool2d`` on its own n images, its own (c, C_in, 5, 5) filters), and by
batched matmuls over runs for the FC layers and the readout, as in the MLPs. A run's conv
arithmetic is then the same whatever R is, so a run trained alone and in a batch agree to the
last bit in the conv layers. x[r] is a view, so an input set shared by every run (stride 0 on
the run axis, the evaluation's ``x.expand(S, …)``) is never copied; the only copies are the
pooled maps stacked into the (R, n, F_l) representations. Measured on the CPU (torch 2.13,
2 threads, a shared machine; R = 5, n = 64, c = 16, F = 100; interleaved repeats, best of
60), forward / forward + autograd gradient: this loop 36 / 57 ms, one grouped ``conv2d`` per
layer (runs side by side as channels, (n, R·C, H, W), filters (R·c, C_in, 5, 5),
``groups=R``) 43–48 / 90–100 ms, ``torch.func.vmap`` over a one-run functional forward
(which lowers conv2d to that grouped conv) 49 / 93 ms. The grouped conv was also not batch
invariant to 1e-5 under RMSprop (its kernel differs from the one-run conv's in the last bits,
and RMSprop's normalised steps amplify that). On a GPU, where R kernel launches per layer
cost more, the grouped form may win (not measured).

The gradient is the base class's autograd ``backward`` (no hand-written one): the forward uses
the activation's out-of-place ``f`` when a parameter requires grad and the in-place ``f_``
otherwise.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..activations import Activation
from .base import Network, Params, readout_weights

KERNEL = 5
POOL = 2
#: (weight, bias) parameter names of each hidden layer, in layer order
CONV = (("conv1_w", "conv1_b"), ("conv2_w", "conv2_b"))
FC = (("fc1_w", "fc1_b"), ("fc2_w", "fc2_b"))


def conv_out(size: int) -> int:
    """A side after one valid 5×5 convolution and a 2×2 max-pool (floored, as MaxPool2d)."""
    return (size - KERNEL + 1) // POOL


class CNN(Network):
    layers = ("conv1", "conv2", "fc1", "fc2")
    weights = {"conv1": "conv1_w", "conv2": "conv2_w", "fc1": "fc1_w", "fc2": "fc2_w"}

    def __init__(
        self,
        name: str,
        input_shape: tuple[int, int, int],
        channels: int,
        fc_width: int,
        n_out: int,
        activation: Activation,
        train_output_bias: bool = True,
        train_hidden_bias: bool = True,
    ):
        if len(input_shape) != 3:
            raise ValueError(f"cnn takes images (C, H, W); got input shape {tuple(input_shape)}")
        C, H, W = (int(s) for s in input_shape)
        h1, w1 = conv_out(H), conv_out(W)
        h2, w2 = conv_out(h1), conv_out(w1)
        if min(h2, w2) < 1:
            raise ValueError(
                f"cnn: images of {H}×{W} are too small for two 5×5 convolutions and 2×2 "
                "pools (at least 16×16)"
            )
        self.name, self.input_shape = name, (C, H, W)
        self.channels, self.fc_width, self.n_out, self.act = channels, fc_width, n_out, activation
        #: each hidden layer's output shape for one sample (after f and, for convs, the pool)
        self.shapes = ((channels, h1, w1), (channels, h2, w2), (fc_width,), (fc_width,))
        self.flat = channels * h2 * w2
        self.trained = tuple(
            name for w, b in CONV + FC for name in (w, b) if name == w or train_hidden_bias
        ) + (("bo",) if train_output_bias else ())

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each parameter's shape for one run, in the order they are drawn."""
        C, c, Fw, k = self.input_shape[0], self.channels, self.fc_width, KERNEL
        return {
            "conv1_w": (c, C, k, k),
            "conv1_b": (c,),
            "conv2_w": (c, c, k, k),
            "conv2_b": (c,),
            "fc1_w": (Fw, self.flat),
            "fc1_b": (Fw,),
            "fc2_w": (Fw, Fw),
            "fc2_b": (Fw,),
            "J": (self.n_out, Fw),
            "bo": (self.n_out,),
        }

    # -- initialisation ------------------------------------------------------------------------
    def init(self, seeds: list[int], readouts: list[str]) -> Params:
        shapes = self.param_shapes()
        runs = []
        for seed, readout in zip(seeds, readouts, strict=True):
            gen = torch.Generator().manual_seed(int(seed))
            run = {}
            for w, b in CONV + FC:
                fan_in = math.prod(shapes[w][1:])
                bound = 1 / math.sqrt(fan_in)
                run[w] = (2 * torch.rand(shapes[w], generator=gen) - 1) * bound
                bias = (2 * torch.rand(shapes[b], generator=gen) - 1) * bound
                run[b] = bias + self.act.bias_shift if self.act.bias_shift else bias
            run["J"] = readout_weights(readout, self.n_out, self.fc_width, gen)
            bound = 1 / math.sqrt(self.fc_width)
            run["bo"] = (2 * torch.rand(self.n_out, generator=gen) - 1) * bound
            runs.append(run)
        return {k: torch.stack([r[k] for r in runs]) for k in runs[0]}

    # -- forward -----------------------------------------------------------------------------
    def forward(self, p: Params, x: torch.Tensor, workspace: dict | None = None):
        """x (R, n, C, H, W) → (logits (R, n, K), [conv1, conv2, fc1, fc2] each (R, n, F_l)).

        In place (f_) unless a parameter needs gradients (autograd needs f's own graph).
        """
        graded = any(v.requires_grad for v in p.values())
        f = self.act.f if graded else self.act.f_
        R, n = x.shape[:2]
        maps: tuple[list, list] = ([], [])
        for r in range(R):
            h = x[r]  # (n, C, H, W), a view (also of an expanded, stride-0 x)
            for i, (w, b) in enumerate(CONV):
                h = F.max_pool2d(f(F.conv2d(h, p[w][r], p[b][r])), POOL)
                maps[i].append(h)
        hidden = [torch.stack(m).view(R, n, -1) for m in maps]
        a = hidden[-1]
        for w, b in FC:
            a = f(torch.baddbmm(p[b].unsqueeze(1), a, p[w].transpose(1, 2)))
            hidden.append(a)
        z = torch.baddbmm(p["bo"].unsqueeze(1), a, p["J"].transpose(1, 2))
        return z, hidden


def build(name: str, settings: dict, activation: Activation, input_shape, n_out: int) -> CNN:
    """The CNN on images of shape (C, H, W) with ``n_out`` outputs (10 for CIFAR-10)."""
    return CNN(
        name,
        tuple(input_shape),
        settings.get("channels", 16),
        settings.get("fc_width", 100),
        n_out,
        activation,
        settings.get("train_output_bias", True),
        settings.get("train_hidden_bias", True),
    )
