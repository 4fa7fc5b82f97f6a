# Metrics from weight snapshots, one job per training block: changing an evaluation setting
# re-runs these jobs and never the training.
for _exp in EXPERIMENTS:
    for _block in _exp.blocks:

        rule:
            name:
                f"evaluate_{_exp.name}_{_block.name}"
            input:
                block_files(_exp, _block, "weights.parquet"),
            output:
                metrics=block_files(_exp, _block, "metrics.parquet"),
                dichotomies=block_files(_exp, _block, "dichotomies.parquet"),
            log:
                f"{_exp.root}/logs/evaluate/{_exp.job_tag()}_{_block.name}.log",
            threads: _exp.cfg["training"]["threads"]
            resources:
                **job_resources("evaluate"),
            params:
                evaluation=_exp.cfg["evaluation"],
            script:
                "../scripts/evaluate.py"
