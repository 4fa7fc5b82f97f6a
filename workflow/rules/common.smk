# Configuration and sweep expansion. Kept cheap: every cluster job re-parses this file, so
# nothing here imports torch or scans directories.
from pathlib import Path

from snakemake.exceptions import WorkflowError

from repgeom.config import ConfigError, load_schema, validate
from repgeom.sweep import CELL_KEYS, Sweep

try:
    _validated = validate(
        config,
        load_schema(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"),
    )
except ConfigError as err:
    raise WorkflowError(str(err)) from None
config.clear()
config.update(_validated)

SWEEP = Sweep(config)
_figure_errors = SWEEP.figure_errors()
if _figure_errors:
    raise WorkflowError("invalid configuration:\n  - " + "\n  - ".join(_figure_errors))
RESULTS = SWEEP.root
LOGS = f"{RESULTS}/logs"
CELL = SWEEP.cell_pattern()
# the cell as a flat folder name for logs
CELL_TAG = "_".join(f"{k}={{{k}}}" for k in CELL_KEYS)


wildcard_constraints:
    task="[a-z]+",
    arch="[a-z0-9]+",
    act="[a-z0-9_.+-]+",
    readout="[a-z]+",
    sigma=r"\d+\.\d+",
    delta=r"\d+\.\d+",


def block_files(block, name):
    """Per-run files of one training block, with the cell's wildcards left open."""
    return [f"{CELL}/seed={seed}/{name}" for seed in block.seeds]


def block_configs(block):
    """Params function: the resolved configuration of each run of ``block`` in a cell."""
    return lambda wildcards: SWEEP.block_configs(wildcards, block)


def semantic(section):
    """The settings of a config section that change results (not progress or device)."""
    skip = {"runs_per_job", "device", "threads", "progress_every_s"}
    return {k: v for k, v in config[section].items() if k not in skip}


def job_resources(stage):
    """Scheduler resources of a stage from config['resources'], scaled by the attempt.

    The GPU request of training jobs is written as `gpu` (sbatch --gpus) or `gres`
    (sbatch --gres), as configured; a local run ignores both.
    """
    r = config["resources"][stage]
    res = {
        "runtime": lambda wildcards, attempt: r["runtime"] * attempt,
        "mem_mb": lambda wildcards, attempt: r["mem_mb"] * attempt,
    }
    if r.get("gpus", 0) > 0:
        if r["gpu_syntax"] == "gpu":
            res["gpu"] = r["gpus"]
            if r["gpu_model"]:
                res["gpu_model"] = r["gpu_model"]
        else:
            model = f"{r['gpu_model']}:" if r["gpu_model"] else ""
            res["gres"] = f"gpu:{model}{r['gpus']}"
    return res
