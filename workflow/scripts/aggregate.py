"""Snakemake script: one experiment's runs into its metrics, dichotomies and summary tables."""

from repgeom.pipeline import aggregate, log_to
from repgeom.storage import verified_files

with log_to(snakemake.log[0]):
    files = [f for m in snakemake.input for f in verified_files(m)]
    aggregate(
        [f for f in files if f.endswith("/metrics.parquet")],
        [f for f in files if f.endswith("/dichotomies.parquet")],
        dict(snakemake.output.items()),
        snakemake.params.experiment,
        snakemake.params.key_types,
        snakemake.params.config,
    )
