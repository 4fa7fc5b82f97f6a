# Metrics from weight snapshots, one job per training block: changing an evaluation setting
# re-runs these jobs and never the training.
for _block in SWEEP.blocks:

    rule:
        name:
            f"evaluate_{_block.name}"
        input:
            block_files(_block, "weights.parquet"),
        output:
            block_files(_block, "metrics.parquet"),
        log:
            f"{LOGS}/evaluate/{CELL_TAG}_{_block.name}.log",
        threads: config["training"]["threads"]
        resources:
            **job_resources("evaluate"),
        params:
            evaluation=config["evaluation"],
        script:
            "../scripts/evaluate.py"
