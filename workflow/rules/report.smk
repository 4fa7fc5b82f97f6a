# Each experiment's overview for `snakemake --report`: one page with its headline and claims
# tables and every figure with its caption underneath (repgeom.report). The report shows an
# HTML result inline, while it offers TSV files only for download and figure captions only in
# a side panel.
REPORT_DIR = Path(workflow.basedir, "workflow/report").as_posix()


for _exp in EXPERIMENTS:

    rule:
        name:
            f"report_{_exp.name}"
        input:
            manifest=f"{_exp.root}/manifest.json",
            claims=f"{_exp.root}/claims.tsv",
            headline=f"{_exp.root}/headline.tsv",
            figures=[f"{_exp.root}/figures/{name}.png" for name in _exp.figures],
            # a caption's edit rewrites the page
            captions=[f"{REPORT_DIR}/{name}.rst" for name in _exp.figures],
            claims_caption=f"{REPORT_DIR}/claims.rst",
        output:
            page=report(
                f"{_exp.root}/overview.html",
                caption="../report/overview.rst",
                category=_exp.name,
                labels={
                    "result": f"{_exp.name}: all tables, and figures with captions"
                },
            ),
            # the page's checksum, so that `prune` can prove it wrote the page
            stamp=_exp.stage_manifest("report"),
        log:
            f"{_exp.root}/logs/report.log",
        localrule: True
        conda:
            REPGEOM_ENV
        params:
            experiment=_exp.name,
            made_from=_exp.stage_recipe("report"),
        script:
            "../scripts/report.py"
