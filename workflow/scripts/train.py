"""Snakemake script: train one block of runs (see repgeom.pipeline.train_block)."""

import torch

from repgeom.pipeline import log_to, train_block

runs = snakemake.params.runs
training = snakemake.config["experiments"][runs[0]["experiment"]]["training"]
with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    train_block(
        runs,
        list(snakemake.output.weights),
        list(snakemake.output.loss),
        device=training["device"],
        progress_every_s=training["progress_every_s"],
    )
