#!/usr/bin/env bash
# Run by Snakemake inside the environment of repgeom.yaml right after creating it: installs
# this checkout's package (editable, so jobs run the checkout's code) with its dependencies
# from pyproject.toml. The checkout is found from this script's own path, whatever the
# workflow's working directory.
set -euo pipefail
python -m pip install --no-cache-dir --editable "$(cd "$(dirname "$0")/../.." && pwd)"
