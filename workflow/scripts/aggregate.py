"""Snakemake script: one experiment's runs into its metrics, dichotomies and summary tables."""

from repgeom.pipeline import aggregate, log_to

with log_to(snakemake.log[0]):
    aggregate(
        list(snakemake.input.metrics),
        list(snakemake.input.dichotomies),
        dict(snakemake.output.items()),
        snakemake.params.experiment,
        snakemake.params.key_types,
        snakemake.params.config,
    )
