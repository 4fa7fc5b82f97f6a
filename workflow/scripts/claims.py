"""Snakemake script: an experiment's claims table (repgeom.claims.write_claims), its headline
table (repgeom.report.write_headline) and the manifest that vouches for them."""

from pathlib import Path

from repgeom import manifests
from repgeom.claims import write_claims
from repgeom.jobs.logs import log_to
from repgeom.report import write_headline

out = snakemake.output
with log_to(snakemake.log[0]):
    exp = Path(snakemake.input.manifest).parent
    # claims.parquet is about to change: no claims record of another aggregation may vouch
    manifests.invalidate(out.stamp)
    write_claims(exp, snakemake.params.experiment, snakemake.params.family, out.parquet, out.table)
    write_headline(exp, out.headline)
    made_from = manifests.claims_recipe(manifests.experiment_manifest(exp)["recipe"])
    manifests.check_name(out.stamp, made_from)
    manifests.write_manifest(
        out.stamp,
        [out.parquet, out.table, out.headline],
        stage="claims",
        experiment=snakemake.params.experiment,
        made_from=made_from,
    )
