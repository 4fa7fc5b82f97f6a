"""The workflow's steps, gathered under their earlier names.

The jobs live in :mod:`repgeom.jobs` (one module each) and the device policy in
:mod:`repgeom.devices`; this module re-exports them for code written against it.
"""

from .devices import DEVICES, resolve_device
from .jobs.aggregate import aggregate, collect, summarise
from .jobs.evaluate import evaluate_block
from .jobs.faults import FAIL_ENV, inject_failure
from .jobs.logs import log_to
from .jobs.train import train_block, train_settings

__all__ = [
    "DEVICES",
    "FAIL_ENV",
    "aggregate",
    "collect",
    "evaluate_block",
    "inject_failure",
    "log_to",
    "resolve_device",
    "summarise",
    "train_block",
    "train_settings",
]
