"""Snakemake script: an experiment's figures, drawn by its family's figure module, and the
manifest that vouches for them."""

import os

from repgeom import manifests
from repgeom.figures import draw_experiment
from repgeom.jobs.logs import log_to

out = snakemake.output
with log_to(snakemake.log[0]):
    exp = os.path.dirname(snakemake.input.manifest)
    for name in ("metrics.parquet", "dichotomies.parquet"):
        manifests.verify_table(exp, name)
    figures = list(out.png) + list(out.extra)
    # the figures are about to change: no figures record of other settings may vouch for them
    manifests.invalidate(out.stamp)
    draw_experiment(
        snakemake.params.family,
        snakemake.input.metrics,
        snakemake.input.dichotomies,
        figures,
        snakemake.params.figures,
    )
    made_from = {
        "aggregate": manifests.experiment_manifest(exp)["recipe"],
        "figures": snakemake.params.figures,
        "names": [os.path.splitext(os.path.basename(p))[0] for p in out.png],
    }
    manifests.check_name(out.stamp, made_from)
    manifests.write_manifest(
        out.stamp,
        figures,
        stage="figures",
        experiment=snakemake.params.experiment,
        made_from=made_from,
    )
