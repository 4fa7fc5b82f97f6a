"""Snakemake script: train one block of runs (see repgeom.pipeline.train_block)."""

import torch

from repgeom.pipeline import log_to, train_block

with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    train_block(
        snakemake.params.runs,
        list(snakemake.output.weights),
        list(snakemake.output.loss),
        device=snakemake.config["training"]["device"],
        progress_every_s=snakemake.config["training"]["progress_every_s"],
    )
