"""Snakemake script: metrics of one job's runs from their snapshots, then the job's manifest."""

import torch

from repgeom import manifests
from repgeom.jobs.evaluate import evaluate_block
from repgeom.jobs.logs import log_to

p = snakemake.params
with log_to(snakemake.log[0]):
    manifests.check_name(snakemake.output[0], p.made_from)
    # the runs' metrics are about to change: no evaluation of another recipe may vouch for them
    manifests.invalidate(snakemake.output[0])
    torch.set_num_threads(snakemake.threads)
    manifests.verified_files(snakemake.input[0])  # the snapshots are those the training wrote
    # a family's own per-run files (trajectories.parquet) come back from the job itself
    extra = evaluate_block(p.weights, p.metrics, p.dichotomies, p.evaluation)
    manifests.write_manifest(
        snakemake.output[0],
        p.metrics + p.dichotomies + extra,
        stage="evaluate",
        experiment=manifests.read_manifest(snakemake.input[0])["experiment"],
        made_from=p.made_from,
    )
