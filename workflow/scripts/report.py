"""Snakemake script: an experiment's overview page for the report (repgeom.report) and the
manifest that vouches for it."""

from pathlib import Path

from repgeom import manifests
from repgeom.jobs.logs import log_to
from repgeom.report import write_overview

inp, out = snakemake.input, snakemake.output
with log_to(snakemake.log[0]):
    exp = Path(inp.manifest).parent
    manifests.invalidate(out.stamp)
    write_overview(
        exp,
        snakemake.params.experiment,
        inp.claims,
        list(inp.figures),
        list(inp.captions),
        inp.claims_caption,
        out.page,
    )
    manifests.check_name(out.stamp, snakemake.params.made_from)
    manifests.write_manifest(
        out.stamp,
        [out.page],
        stage="report",
        experiment=snakemake.params.experiment,
        made_from=snakemake.params.made_from,
    )
