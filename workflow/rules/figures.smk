FIGURES = f"{RESULTS}/figures"
FIGURE_NAMES = ("delta_sweep", "over_training")


rule figures:
    input:
        metrics=rules.aggregate.output.metrics,
    output:
        # PNGs always (the report embeds them); other formats as configured
        sweep=report(
            f"{FIGURES}/delta_sweep.png",
            caption="../report/delta_sweep.rst",
            category="δ-task",
        ),
        training=report(
            f"{FIGURES}/over_training.png",
            caption="../report/over_training.rst",
            category="δ-task",
        ),
        extra=expand(
            f"{FIGURES}/{{name}}.{{ext}}",
            name=FIGURE_NAMES,
            ext=[e for e in config["figures"]["formats"] if e != "png"],
        ),
    log:
        f"{LOGS}/figures.log",
    localrule: True
    params:
        figures=config["figures"],
        sweep=config["sweep"],
    script:
        "../scripts/figures.py"
