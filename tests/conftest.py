import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def square():
    """Condition means on a unit square in 2-D: c → (s1, s2), with the δ-task's bit order."""
    from repgeom.tasks.delta import condition_bits

    b1, b2 = condition_bits()
    return np.stack([2 * b1 - 1, 2 * b2 - 1], axis=1).astype(float)


def snakemake_cmd(workdir) -> list[str]:
    """The project's Snakefile run by this interpreter's Snakemake in ``workdir``."""
    import sys
    from pathlib import Path

    snakefile = Path(__file__).parents[1] / "Snakefile"
    return [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(workdir)]
