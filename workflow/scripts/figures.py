"""Snakemake script: an experiment's figures, drawn by its family's figure module."""

import os

from repgeom.figures import draw_experiment
from repgeom.pipeline import log_to
from repgeom.storage import verify_table

with log_to(snakemake.log[0]):
    for name in ("metrics.parquet", "dichotomies.parquet"):
        verify_table(os.path.dirname(snakemake.input.manifest), name)
    draw_experiment(
        snakemake.params.family,
        snakemake.input.metrics,
        snakemake.input.dichotomies,
        list(snakemake.output.png) + list(snakemake.output.extra),
        snakemake.params.figures,
    )
