"""Snakemake script: metrics of one job's runs from their snapshots, then the job's manifest."""

import torch

from repgeom.pipeline import evaluate_block, log_to
from repgeom.storage import verified_files, write_manifest

p = snakemake.params
with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    verified_files(snakemake.input[0])  # the snapshots are those the training wrote
    evaluate_block(p.weights, p.metrics, p.dichotomies, p.evaluation)
    write_manifest(snakemake.output[0], p.metrics + p.dichotomies)
