# Every run of an experiment in one table per kind: run-level metrics, per-dichotomy metrics
# in long form, and the mean ± s.e.m. over seeds. The recipe-named manifest (the job list and
# the settings) makes a changed sweep re-aggregate even where Snakemake has no records.
for _exp in EXPERIMENTS:

    rule:
        name:
            f"aggregate_{_exp.name}"
        input:
            evaluate=_exp.all_manifests("evaluate"),
            train=_exp.all_manifests("train"),
        output:
            metrics=f"{_exp.root}/metrics.parquet",
            dichotomies=f"{_exp.root}/dichotomies.parquet",
            summary=f"{_exp.root}/summary.parquet",
            # the jobs of the configured sweep and the tables' checksums, for the readers
            manifest=f"{_exp.root}/manifest.json",
            stamp=_exp.stage_manifest("aggregate"),
        log:
            f"{_exp.root}/logs/aggregate.log",
        localrule: True
        conda:
            REPGEOM_ENV
        params:
            experiment=_exp.name,
            key_types=_exp.run_key_types,
            config=_exp.semantic_config(),
            made_from=_exp.aggregate_recipe(),
        script:
            "../scripts/aggregate.py"
