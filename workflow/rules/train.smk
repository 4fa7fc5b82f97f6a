# One job trains one block of seeds of one cell as a single vectorised model. Rules are made
# per block because a block's per-run outputs differ by their seed folders. Execution-only
# settings (device, progress interval) are read from the config by the script, not passed as
# params, so that changing them never retrains.
for _block in SWEEP.blocks:

    rule:
        name:
            f"train_{_block.name}"
        output:
            weights=block_files(_block, "weights.parquet"),
            loss=block_files(_block, "loss.parquet"),
        log:
            f"{LOGS}/train/{CELL_TAG}_{_block.name}.log",
        threads: config["training"]["threads"]
        resources:
            **job_resources("train"),
        params:
            runs=block_configs(_block),
        script:
            "../scripts/train.py"
