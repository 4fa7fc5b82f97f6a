"""Snakemake script: the δ-sweep and over-training figures."""

from repgeom.figures import draw_all
from repgeom.pipeline import log_to

with log_to(snakemake.log[0]):
    draw_all(
        snakemake.input.metrics,
        snakemake.output.sweep,
        snakemake.output.training,
        list(snakemake.output.extra),
        snakemake.params.figures,
        snakemake.params.sweep,
    )
