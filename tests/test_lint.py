"""`make lint` as part of `make test` (and so of CI, which runs `make test`): ruff, ruff format,
snakefmt and Snakemake's own linter, each failing with its output."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
PYTHON_PATHS = ["src", "tests", "workflow", "benchmarks"]


@pytest.mark.parametrize(
    "cmd",
    [
        [str(BIN / "ruff"), "check", *PYTHON_PATHS],
        [str(BIN / "ruff"), "format", "--check", *PYTHON_PATHS],
        [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow/rules"],
        # the default configuration, parsed only: no job runs, nothing is written
        [sys.executable, "-m", "snakemake", "--lint"],
    ],
    ids=["ruff", "ruff-format", "snakefmt", "snakemake-lint"],
)
def test_lint(cmd):
    if not Path(cmd[0]).exists():
        pytest.skip(f"{Path(cmd[0]).name} is not installed (pip install -e '.[dev]')")
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"`{' '.join(cmd)}` failed:\n{proc.stdout}\n{proc.stderr}"
    if cmd[-1] == "--lint":
        # Snakemake's linter exits 0 even with findings; it says so when there are none
        assert (
            "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr
        ), proc.stdout + proc.stderr


def test_conda_environment_is_complete():
    """The environment every rule names exists, with the script that installs the package."""
    env = ROOT / "workflow/envs/repgeom.yaml"
    deploy = ROOT / "workflow/envs/repgeom.post-deploy.sh"
    assert "python" in env.read_text() and "pip" in env.read_text()
    assert "pip install" in deploy.read_text() and "--editable" in deploy.read_text()
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        text = smk.read_text()
        assert text.count("script:") == text.count("conda:\n"), smk.name
