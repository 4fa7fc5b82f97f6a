"""Snakemake script: an experiment's figures, drawn by its family's figure module."""

from repgeom.figures import draw_experiment
from repgeom.pipeline import log_to

with log_to(snakemake.log[0]):
    draw_experiment(
        snakemake.params.family,
        snakemake.input.metrics,
        snakemake.input.dichotomies,
        list(snakemake.output.png) + list(snakemake.output.extra),
        snakemake.params.figures,
    )
