"""Snakemake script: an experiment's claims table (repgeom.claims.write_claims)."""

from pathlib import Path

from repgeom.claims import write_claims
from repgeom.pipeline import log_to

with log_to(snakemake.log[0]):
    write_claims(
        Path(snakemake.input.manifest).parent,
        snakemake.params.experiment,
        snakemake.params.family,
        snakemake.output.parquet,
        snakemake.output.table,
    )
