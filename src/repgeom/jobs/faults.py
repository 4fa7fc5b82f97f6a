"""A testing hook: make a chosen job fail, also on a real cluster."""

from __future__ import annotations

import os

FAIL_ENV = "REPGEOM_FAIL_IF"


def inject_failure(run_cfgs: list[dict]) -> None:
    """Testing hook: raise if ``$REPGEOM_FAIL_IF`` (``key=value``, e.g. ``act=relu``) matches a
    run key of this block, so tests can make one job fail on a real cluster."""
    rule = os.environ.get(FAIL_ENV, "")
    if not rule:
        return
    key, _, value = rule.partition("=")
    if any(str(c["run"].get(key)) == value for c in run_cfgs):
        raise RuntimeError(f"failure injected by {FAIL_ENV}={rule}")
