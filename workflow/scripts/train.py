"""Snakemake script: train one job's runs (see repgeom.pipeline.train_block), then write the
job's manifest and remove its checkpoint."""

import torch

from repgeom import checkpoints
from repgeom.pipeline import log_to, train_block
from repgeom.storage import write_manifest

runs = snakemake.params.runs
training = snakemake.config["experiments"][runs[0]["experiment"]]["training"]
with log_to(snakemake.log[0]):
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
    write_manifest(snakemake.output[0], snakemake.params.weights + snakemake.params.loss)
    checkpoints.remove(snakemake.params.checkpoint)
