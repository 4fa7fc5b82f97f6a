"""Snakemake script: one experiment's runs into its metrics, dichotomies and summary tables,
and the experiment's manifest (its jobs and the tables' checksums)."""

from repgeom.jobs.aggregate import aggregate
from repgeom.jobs.logs import log_to
from repgeom.manifests import invalidate, verified_files, write_experiment_manifest

with log_to(snakemake.log[0]):
    files = [f for m in snakemake.input.evaluate for f in verified_files(m)]
    # the tables are about to change: no aggregation record of another recipe may vouch for them
    invalidate(snakemake.output.stamp)
    tables = {k: snakemake.output[k] for k in ("metrics", "dichotomies", "summary")}
    aggregate(
        [f for f in files if f.endswith("/metrics.parquet")],
        [f for f in files if f.endswith("/dichotomies.parquet")],
        tables,
        snakemake.params.experiment,
        snakemake.params.key_types,
        snakemake.params.config,
    )
    write_experiment_manifest(
        snakemake.output.manifest,
        snakemake.output.stamp,
        snakemake.params.experiment,
        list(snakemake.input.train) + list(snakemake.input.evaluate),
        list(tables.values()),
        snakemake.params.made_from,
    )
