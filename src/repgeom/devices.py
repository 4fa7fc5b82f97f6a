"""Where a job computes: the configured ``training.device`` resolved against what torch sees."""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger("repgeom")

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str) -> str:
    """``auto`` → cuda if torch sees a GPU, else cpu; ``cuda`` without a GPU fails at once."""
    if choice not in DEVICES:
        raise ValueError(f"device {choice!r} not allowed; allowed: {', '.join(DEVICES)}")
    if choice == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if os.environ.get("CUDA_VISIBLE_DEVICES"):
            log.warning(
                "GPU(s) %s were allotted but torch %s sees no CUDA device; training on the CPU "
                "(install a CUDA build of torch to use them)",
                os.environ["CUDA_VISIBLE_DEVICES"],
                torch.__version__,
            )
        return "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "config key 'training.device' is 'cuda' but torch sees no CUDA device "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
            "use 'auto' or 'cpu', or install a CUDA build of torch"
        )
    return choice
