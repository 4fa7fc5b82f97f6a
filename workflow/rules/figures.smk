# The figures of each experiment, as its task family defines them (repgeom.figures.<family>).
for _exp in EXPERIMENTS:

    rule:
        name:
            f"figures_{_exp.name}"
        input:
            metrics=f"{_exp.root}/metrics.parquet",
            dichotomies=f"{_exp.root}/dichotomies.parquet",
            manifest=f"{_exp.root}/manifest.json",
        output:
            # PNGs always (the report embeds them); other formats as configured
            png=[
                report(
                    f"{_exp.root}/figures/{name}.png",
                    caption=f"../report/{name}.rst",
                    category=_exp.name,
                    labels={"result": f"{_exp.name}: figure {name}"},
                )
                for name in _exp.figures
            ],
            extra=[
                f"{_exp.root}/figures/{name}.{ext}"
                for name in _exp.figures
                for ext in _exp.cfg["figures"]["formats"]
                if ext != "png"
            ],
            # the figures' settings and checksums (`python -m repgeom verify` checks them)
            stamp=_exp.stage_manifest("figures"),
        log:
            f"{_exp.root}/logs/figures.log",
        localrule: True
        conda:
            REPGEOM_ENV
        params:
            family=_exp.family.name,
            experiment=_exp.name,
            figures=_exp.cfg["figures"],
        script:
            "../scripts/figures.py"
