# The paper's claims about each experiment, checked on its aggregated tables (repgeom.claims),
# and its headline table (repgeom.report.write_headline).
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
                labels={"result": f"{_exp.name}: claims (claims.tsv)"},
            ),
            # what `python -m repgeom headline` prints of this experiment, as a table
            headline=report(
                f"{_exp.root}/headline.tsv",
                caption="../report/headline.rst",
                category=_exp.name,
                labels={"result": f"{_exp.name}: headline (headline.tsv)"},
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
