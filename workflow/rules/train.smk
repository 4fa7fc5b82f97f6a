# One job trains one block of seeds of one cell as a single vectorised model. Rules are made
# per experiment and block because a block's per-run outputs differ by their seed folders.
# Execution-only settings (device, progress interval) are read from the config by the script,
# not passed as params, so that changing them never retrains.
for _exp in EXPERIMENTS:
    for _block in _exp.blocks:

        rule:
            name:
                f"train_{_exp.name}_{_block.name}"
            output:
                weights=block_files(_exp, _block, "weights.parquet"),
                loss=block_files(_exp, _block, "loss.parquet"),
            log:
                f"{_exp.root}/logs/train/{_exp.job_tag()}_{_block.name}.log",
            threads: _exp.cfg["training"]["threads"]
            resources:
                **job_resources("train"),
            params:
                runs=block_configs(_exp, _block),
            script:
                "../scripts/train.py"
