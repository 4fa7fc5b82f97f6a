"""Snakemake script: all runs' metrics into results/metrics.parquet and summary.parquet."""

from repgeom.pipeline import aggregate, log_to

with log_to(snakemake.log[0]):
    aggregate(
        list(snakemake.input),
        snakemake.output.metrics,
        snakemake.output.summary,
        snakemake.params.config,
    )
