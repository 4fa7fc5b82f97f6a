rule aggregate:
    input:
        SWEEP.all_run_files("metrics.parquet"),
    output:
        metrics=f"{RESULTS}/metrics.parquet",
        summary=f"{RESULTS}/summary.parquet",
    log:
        f"{LOGS}/aggregate.log",
    localrule: True
    params:
        config={k: config[k] for k in ("sweep", "task", "model", "evaluation")}
        | {"training": semantic("training")},
    script:
        "../scripts/aggregate.py"
