# One job trains one block of seeds of one job cell (a cell, or the cells that differ only in
# packed axes) as a single vectorised model and writes each run's files. Snakemake tracks the
# job by its manifest, written once every run's files are complete: planning then scales with
# the number of jobs, not of per-run files. The manifest's name carries the hash of the runs'
# resolved configurations, so a changed setting names a new manifest and retrains, also where
# Snakemake has no records of its own (results copied without .snakemake/). Execution-only
# settings (device, progress interval) are read from the config by the script, not passed as
# params, so changing them never retrains.
for _exp in EXPERIMENTS:
    for _block in _exp.blocks:

        rule:
            name:
                f"train_{_exp.name}_{_block.name}"
            output:
                _exp.manifest(_block, "train"),
            log:
                f"{_exp.root}/logs/train/{_exp.job_tag()}_{_block.name}-{{recipe}}.log",
            conda:
                REPGEOM_ENV
            threads: _exp.cfg["training"]["threads"]
            resources:
                **job_resources("train"),
            params:
                runs=block_configs(_exp, _block),
                weights=run_files(_exp, _block, "weights.parquet"),
                loss=run_files(_exp, _block, "loss.parquet"),
                # not an output: Snakemake keeps it when a job fails, so the rerun resumes
                checkpoint=lambda wildcards, output: checkpoint_path(output[0]),
            script:
                "../scripts/train.py"
