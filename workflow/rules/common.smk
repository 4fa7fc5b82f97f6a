# Configuration and sweep expansion. Kept cheap: every cluster job re-parses this file, so
# nothing here imports torch or scans directories.
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from repgeom.cluster import placeholder_errors, targets_cluster
from repgeom.config import (
    ConfigError,
    check_config_files,
    format_errors,
    load_schema,
    shadowed_overrides,
    validate,
)
from repgeom.locking import ResultsLocked, lock_results
from repgeom.sweep import Sweep, checkpoint_path

try:
    # Snakemake has read the files already, keeping the last of a key written twice and
    # expanding every YAML alias: read them again strictly before anything walks the config
    check_config_files(workflow.configfiles)
    _validated = validate(
        config,
        load_schema(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"),
    )
except ConfigError as err:
    raise WorkflowError(str(err)) from None
# an experiment's own sections win over the shared ones, so a shared --config override can
# change nothing; say so rather than run the old settings silently
for _message in shadowed_overrides(
    workflow.config_settings.config, config["experiments"]
):
    logger.warning(_message)
config.clear()
config.update(_validated)

SWEEP = Sweep(config)
_sweep_errors = SWEEP.errors()
if _sweep_errors:
    raise WorkflowError(format_errors(_sweep_errors))
EXPERIMENTS = list(SWEEP.experiments.values())

# A cluster profile's `<your-...>` placeholders are refused by name now, also in a dry run,
# rather than by sbatch once jobs are submitted.
_default_res = workflow.resource_settings.default_resources
_default_res = _default_res.args if _default_res is not None else []
_rule_res = {
    r: v.args for r, v in workflow.resource_settings.overwrite_resources.items()
}
_placeholders = placeholder_errors(_default_res, _rule_res)
if _placeholders:
    raise WorkflowError(
        "the cluster profile is not filled in:\n  - " + "\n  - ".join(_placeholders)
    )
# Training jobs ask for GPUs where a GPU can be had: on SLURM (the resources name a partition
# or account, as profiles/slurm does; or this is a job on the cluster) or where the config
# asks for it (resources.train.gpus_locally). A local run on a CPU-only machine asks for none.
ON_CLUSTER = targets_cluster(_default_res, _rule_res, workflow.remote_exec)

#: the software of every rule that runs code, for --use-conda (relative to workflow/rules/)
REPGEOM_ENV = "../envs/repgeom.yaml"

_RESULTS_LOCK = []  # the open lock file, held until this Snakemake process ends


# Runs only in the main Snakemake process, never in dry runs or cluster jobs (--no-hooks).
onstart:
    try:
        _RESULTS_LOCK.append(lock_results(config["results_dir"]))
    except ResultsLocked as err:
        raise WorkflowError(str(err)) from None


onsuccess:
    from repgeom.prune import find_stale

    _stale = find_stale(SWEEP, other_experiments=False)
    if _stale:
        print(
            f"{len(_stale)} paths in this configuration's experiment folders are not made "
            "by it (runs of earlier configurations, say); the workflow's tables ignore them. "
            "`python -m repgeom prune` lists them."
        )


wildcard_constraints:
    **SWEEP.wildcard_constraints(),


def run_files(exp, block, name):
    """Params function: the per-run files ``name`` of a job of ``block`` of ``exp``."""
    return lambda wildcards: exp.job_run_files(wildcards, block, name)


def block_configs(exp, block):
    """Params function: the resolved configuration of each run of a training job."""
    return lambda wildcards: exp.block_configs(wildcards, block)


def job_manifest(exp, block, stage):
    """Input function: the manifest of the ``stage`` job of a job's wildcards and ``block``."""
    return lambda wildcards: exp.manifest(block, stage, wildcards)


def job_recipe(exp, block, stage):
    """Params function: what the ``stage`` job of a job's wildcards makes its files from."""
    return lambda wildcards: exp.recipe(wildcards, block, stage)


def job_resources(stage):
    """Scheduler resources of a stage from config['resources'], scaled by the attempt.

    The GPU request of training jobs is written as `gpu` (sbatch --gpus) or `gres`
    (sbatch --gres), as configured, and only on a cluster (ON_CLUSTER) or where
    `resources.train.gpus_locally` asks for it.
    """
    r = config["resources"][stage]
    res = {
        "runtime": lambda wildcards, attempt: r["runtime"] * attempt,
        "mem_mb": lambda wildcards, attempt: r["mem_mb"] * attempt,
    }
    if r.get("gpus", 0) > 0 and (ON_CLUSTER or r.get("gpus_locally", False)):
        if r["gpu_syntax"] == "gpu":
            res["gpu"] = r["gpus"]
            if r["gpu_model"]:
                res["gpu_model"] = r["gpu_model"]
        else:
            model = f"{r['gpu_model']}:" if r["gpu_model"] else ""
            res["gres"] = f"gpu:{model}{r['gpus']}"
    return res
