"""Snakemake script: metrics of one block of runs from their snapshots."""

import torch

from repgeom.pipeline import evaluate_block, log_to

with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    evaluate_block(
        list(snakemake.input),
        list(snakemake.output.metrics),
        list(snakemake.output.dichotomies),
        snakemake.params.evaluation,
    )
