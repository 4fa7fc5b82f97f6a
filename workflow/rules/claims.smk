# The paper's claims about each experiment, checked on its aggregated tables (repgeom.claims).
for _exp in EXPERIMENTS:

    rule:
        name:
            f"claims_{_exp.name}"
        input:
            metrics=f"{_exp.root}/metrics.parquet",
            dichotomies=f"{_exp.root}/dichotomies.parquet",
            manifest=f"{_exp.root}/manifest.json",
        output:
            parquet=f"{_exp.root}/claims.parquet",
            table=report(
                f"{_exp.root}/claims.tsv",
                caption="../report/claims.rst",
                category=_exp.name,
            ),
            # what the claims were checked on and the files' checksums, for the readers
            stamp=_exp.stage_manifest("claims"),
        log:
            f"{_exp.root}/logs/claims.log",
        localrule: True
        conda:
            REPGEOM_ENV
        params:
            family=_exp.family.name,
            experiment=_exp.name,
        script:
            "../scripts/claims.py"
