"""repgeom: task structure × nonlinearity → learned representational geometry.

Run locally with `snakemake --cores all`, on SLURM with `snakemake --profile profiles/slurm`.
The configuration is validated against workflow/schemas/config.schema.yaml at parse time.
"""

# A configuration given with --configfile stands on its own (configs/*.yaml hold complete
# experiments); merging it into config.yaml would run the default experiments too.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/claims.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        # every aggregated output, so that deleting any one of them regenerates it
        [
            f"{e.root}/{name}"
            for e in EXPERIMENTS
            for name in (
                "metrics.parquet",
                "dichotomies.parquet",
                "summary.parquet",
                "manifest.json",
                "claims.parquet",
                "claims.tsv",
                "headline.tsv",
                "overview.html",
            )
        ],
        [f"{e.root}/figures/{name}.png" for e in EXPERIMENTS for name in e.figures],
        # the recipe-named records: a changed sweep or setting names new ones, so the steps
        # run again even without Snakemake's own records (results copied elsewhere)
        [
            e.stage_manifest(stage)
            for e in EXPERIMENTS
            for stage in ("aggregate", "claims", "figures", "report")
        ],
