"""repgeom: task structure × nonlinearity → learned representational geometry.

Run locally with `snakemake --cores all`, on SLURM with `snakemake --profile profiles/slurm`.
The configuration is validated against workflow/schemas/config.schema.yaml at parse time.
"""


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        rules.aggregate.output,
        rules.figures.output,
