# Metrics from weight snapshots, one job per training job: changing an evaluation setting
# re-runs these jobs and never the training.
for _exp in EXPERIMENTS:
    for _block in _exp.blocks:

        rule:
            name:
                f"evaluate_{_exp.name}_{_block.name}"
            input:
                _exp.manifest(_block, "train"),
            output:
                _exp.manifest(_block, "evaluate"),
            log:
                f"{_exp.root}/logs/evaluate/{_exp.job_tag()}_{_block.name}.log",
            threads: _exp.cfg["training"]["threads"]
            resources:
                **job_resources("evaluate"),
            params:
                evaluation=_exp.cfg["evaluation"],
                weights=run_files(_exp, _block, "weights.parquet"),
                metrics=run_files(_exp, _block, "metrics.parquet"),
                dichotomies=run_files(_exp, _block, "dichotomies.parquet"),
            script:
                "../scripts/evaluate.py"
