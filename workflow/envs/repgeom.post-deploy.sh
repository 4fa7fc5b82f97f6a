#!/usr/bin/env bash
# Run by Snakemake inside the environment of repgeom.yaml right after creating it: installs
# this checkout's package (editable, so jobs run the checkout's code) with its dependencies
# from pyproject.toml. Snakemake runs a copy of this script from <workdir>/.snakemake/conda/,
# so two folders up is the workflow's working directory: the checkout when Snakemake runs in
# it (as the README does). With --conda-prefix or --directory elsewhere, install the package
# into the environment yourself (pip install -e <checkout>).
set -euo pipefail
python -m pip install --no-cache-dir --editable "$(cd "$(dirname "$0")/../.." && pwd)"
