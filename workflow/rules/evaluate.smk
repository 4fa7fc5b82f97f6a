# Metrics from weight snapshots, one job per training job: changing an evaluation setting
# names a new evaluation manifest (its recipe: the training's and the evaluation settings) and
# re-runs these jobs, never the training.
for _exp in EXPERIMENTS:
    for _block in _exp.blocks:

        rule:
            name:
                f"evaluate_{_exp.name}_{_block.name}"
            input:
                job_manifest(_exp, _block, "train"),
            output:
                _exp.manifest(_block, "evaluate"),
            log:
                f"{_exp.root}/logs/evaluate/{_exp.job_tag()}_{_block.name}-{{recipe}}.log",
            conda:
                REPGEOM_ENV
            threads: _exp.cfg["training"]["threads"]
            resources:
                **job_resources("evaluate"),
            params:
                evaluation=_exp.cfg["evaluation"],
                made_from=job_recipe(_exp, _block, "evaluate"),
                weights=run_files(_exp, _block, "weights.parquet"),
                metrics=run_files(_exp, _block, "metrics.parquet"),
                dichotomies=run_files(_exp, _block, "dichotomies.parquet"),
            script:
                "../scripts/evaluate.py"
