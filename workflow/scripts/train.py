"""Snakemake script: train one job's runs (see repgeom.jobs.train.train_block), then write the
job's manifest and remove its checkpoint."""

import torch

from repgeom import checkpoints, manifests
from repgeom.jobs.logs import log_to
from repgeom.jobs.train import train_block

runs = snakemake.params.runs
made_from = {"runs": runs}
training = snakemake.config["experiments"][runs[0]["experiment"]]["training"]
with log_to(snakemake.log[0]):
    manifests.check_name(snakemake.output[0], made_from)
    # the runs' files are about to change: no manifest of another recipe may vouch for them
    manifests.invalidate(snakemake.output[0])
    torch.set_num_threads(snakemake.threads)
    train_block(
        runs,
        snakemake.params.weights,
        snakemake.params.loss,
        device=training["device"],
        progress_every_s=training["progress_every_s"],
        checkpoint=snakemake.params.checkpoint,
        checkpoint_every_s=training["checkpoint_every_s"],
    )
    manifests.write_manifest(
        snakemake.output[0],
        snakemake.params.weights + snakemake.params.loss,
        stage="train",
        experiment=runs[0]["experiment"],
        made_from=made_from,
    )
    checkpoints.remove(snakemake.params.checkpoint)
