"""Snakemake end to end on a tiny configuration, then incremental behaviour with `-n`."""

import base64
import os
import re
import shutil
import subprocess
import sys
from html import escape as html_escape
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import snakemake_cmd

from repgeom import manifests, storage
from repgeom.config import deep_merge
from repgeom.evaluation import DICHOTOMY_COLUMNS, RUN_COLUMNS
from repgeom.screenshot import find_chromium, report_results, screenshot

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.workflow

TINY_DELTA = {
    "family": "delta",
    "seeds": [0, 1, 2],
    "activations": ["tanh", "relu"],
    "axes": {"delta": [0.0, 0.5], "sigma": [0.1]},
    "task": {"dim": 12, "n_train": 200, "n_test": 100},
    "model": {"width": 8},
    "training": {"epochs": 20, "snapshots": {"schedule": "log", "count": 4}},
    # two analyses of each kind, so every stage meets decoder and protocol keys
    "evaluation": {"decoders": ["svm", "ridge"], "protocols": ["clean", "original"]},
}
TINY_ALIGN = {
    "family": "alignment",
    "seeds": [0, 1],
    "activations": ["tanh", "bounded_relu_ub1.0"],
    "axes": {"d": [2], "k": [1, "d"], "alignments": 2},
    "task": {"dim": 8, "n_train": 200, "n_test": 100},
    "model": {"width": 8},
    "training": {
        "epochs": 10,
        "snapshots": {"schedule": "log", "count": 3},
        "pack_axes": ["align"],
    },
}
TINY = {
    "experiments": {"delta": TINY_DELTA, "align": TINY_ALIGN},
    "training": {"runs_per_job": 2},
    "figures": {"formats": ["png", "pdf"]},
}
DELTA = "results/delta"
ALIGN = "results/align"


def snakemake(workdir, *args, check=True):
    proc = subprocess.run(
        snakemake_cmd(workdir) + list(args), capture_output=True, text=True, timeout=900
    )
    if check and proc.returncode:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_config(workdir, cfg):
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def planned(workdir) -> dict[str, int]:
    """Jobs that `snakemake -n` would run, per rule."""
    out = snakemake(workdir, "-n", "--quiet", "rules").stdout
    jobs = {}
    for line in out.splitlines():  # the first "Job stats" table, which ends at "total"
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if m and m.group(1) == "total":
            break
        if m and m.group(1) != "all":
            jobs[m.group(1)] = int(m.group(2))
    return jobs


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("wf")
    write_config(workdir, TINY)
    snakemake(workdir, "--cores", "2")
    return workdir


def test_outputs_exist_and_read_back(done):
    runs = storage.run_files(done / DELTA, "metrics.parquet")
    assert len(runs) == 2 * 2 * 3
    df = pd.read_parquet(runs[0])
    cols = ["epoch", "layer", "decoder", "protocol", *RUN_COLUMNS, "stop_epoch", "converged"]
    assert list(df.columns) == cols
    assert df["epoch"].iloc[0] == 0 and df["epoch"].iloc[-1] == 20
    # every analysis (2 decoders × 2 protocols) of each of the 4 snapshots, primary first
    assert len(df) == 4 * 4 and tuple(df.iloc[0][["decoder", "protocol"]]) == ("svm", "clean")
    dich = pd.read_parquet(runs[0].replace("metrics.parquet", "dichotomies.parquet"))
    cols = ["epoch", "layer", "decoder", "protocol", "dichotomy", "role", *DICHOTOMY_COLUMNS]
    assert list(dich.columns) == cols
    assert sorted(set(dich["dichotomy"])) == ["b1", "b2", "xor"] and len(dich) == 3 * len(df)
    meta = storage.read_metadata(runs[0])
    assert meta["config"]["task"]["dim"] == 12 and meta["schema_version"] == storage.SCHEMA_VERSION
    assert meta["config"]["experiment"] == "delta"
    assert {"torch", "numpy", "pyarrow"} <= set(meta["versions"])
    assert meta["provenance"]["device"] == "cpu"
    epochs, params = storage.read_weights(runs[0].replace("metrics.parquet", "weights.parquet"))
    assert params["W"].shape == (len(epochs), 8, 12)
    assert pq.read_table(runs[0].replace("metrics.parquet", "loss.parquet")).num_rows <= 20

    allm = pd.read_parquet(done / DELTA / "metrics.parquet")
    assert list(allm.columns[:11]) == [
        "experiment",
        "arch",
        "act",
        "readout",
        "sigma",
        "delta",
        "seed",
        "epoch",
        "layer",
        "decoder",
        "protocol",
    ]
    assert allm["delta"].dtype == "float64" and len(allm) == len(runs) * len(df)
    alld = pd.read_parquet(done / DELTA / "dichotomies.parquet")
    assert len(alld) == 3 * len(allm) and alld["dichotomy"].dtype == "string"
    summ = pd.read_parquet(done / DELTA / "summary.parquet")
    assert set(summ["metric"]) == set(RUN_COLUMNS) | set(DICHOTOMY_COLUMNS)
    assert (summ["n"] == 3).all()
    assert summ.loc[summ["metric"] == "ps", "dichotomy"].notna().all()
    assert summ.loc[summ["metric"] == "target_alignment", "dichotomy"].isna().all()
    ds = storage.open_runs(done / DELTA).to_table().to_pandas()
    assert set(ds["seed"]) == {0, 1, 2} and ds["delta"].dtype == "float64"
    assert len(summ) == len(summ.drop_duplicates()) and set(summ["decoder"]) == {"svm", "ridge"}
    for name in ("delta_sweep", "over_training", "analyses"):
        for ext in ("png", "pdf"):
            assert (done / DELTA / f"figures/{name}.{ext}").stat().st_size > 1000
    assert not (done / ALIGN / "figures/analyses.png").exists()  # one analysis: no such figure
    assert "epoch 20/20" in next((done / DELTA / "logs/train").iterdir()).read_text()


def test_alignment_experiment_outputs(done):
    runs = pd.read_parquet(done / ALIGN / "metrics.parquet")
    assert list(runs.columns[:11]) == [
        "experiment",
        "arch",
        "act",
        "readout",
        "kernel",
        "d",
        "k",
        "align",
        "task_seed",
        "sigma",
        "seed",
    ]
    # the canonical activation name is the folder, whatever the config's spelling
    assert set(runs["act"]) == {"tanh", "bounded_relu_ub1"}
    assert set(runs["readout"]) == {"gauss"} and runs["k"].dtype == "int64"
    assert len(runs.drop_duplicates(["act", "k", "align", "seed"])) == 2 * 2 * 2 * 2
    # the task's own alignment: the grid linspace(0, √(k/3), 2)
    c = runs.groupby("k")["task_alignment"].max()
    assert c[1] == pytest.approx(np.sqrt(1 / 3)) and c[2] == pytest.approx(np.sqrt(2 / 3))
    dich = pd.read_parquet(done / ALIGN / "dichotomies.parquet")
    roles = dich.drop_duplicates(["k", "dichotomy"]).set_index(["k", "dichotomy"])["role"]
    assert roles[1, "bit0"] == "target, latent" and roles[1, "bit1"] == "latent"
    assert roles[2, "bit1"] == "target, latent"
    meta = storage.read_metadata(next(iter(storage.run_files(done / ALIGN, "weights.parquet"))))
    assert meta["config"]["model"]["train_output_bias"] is False
    assert meta["training_outcome"]["batch_runs"] == 2 * 2  # the packed alignments × seeds
    epochs, params = storage.read_weights(storage.run_files(done / ALIGN, "weights.parquet")[-1])
    assert np.array_equal(params["bo"][0], params["bo"][-1])  # frozen output bias
    for name in ("alignment_sweep", "alignment_plane", "disentanglement", "ablation"):
        assert (done / ALIGN / f"figures/{name}.png").stat().st_size > 1000


def test_columns_are_documented(done):
    doc = (ROOT / "docs/data_dictionary.md").read_text()
    documented = set(re.findall(r"`(\w+)`", doc))
    for exp in (DELTA, ALIGN):
        for name in ("metrics.parquet", "dichotomies.parquet", "weights.parquet", "loss.parquet"):
            f = storage.run_files(done / exp, name)[0]
            assert set(pq.read_schema(f).names) <= documented, name
        for name in ("metrics.parquet", "dichotomies.parquet", "summary.parquet"):
            assert set(pq.read_schema(done / exp / name).names) <= documented, name
        claims = pq.read_schema(done / exp / "claims.parquet")
        assert set(claims.names) <= documented
        section = doc.split("### results/<experiment>/claims.parquet")[1]
        for key in claims.metadata:
            if key.startswith(b"repgeom."):
                assert f"`{key.decode()}`" in section, key
    # the row keys are declared once (storage.ROW_KEYS); every table and the dictionary follow
    run_keys = ["experiment", *storage.key_types(done / DELTA)]
    for name, extra in (("metrics.parquet", ()), ("dichotomies.parquet", ("dichotomy",))):
        names = pq.read_schema(done / DELTA / name).names
        assert names[: len(run_keys) + len(storage.ROW_KEYS) + len(extra)] == [
            *run_keys,
            *storage.ROW_KEYS,
            *extra,
        ], name
        section = doc.split(f"### {name}")[1].split("###")[0]
        cells = re.findall(r"^\| ([^|]+) \|", section, flags=re.M)
        rows = [c for cell in cells for c in re.findall(r"`(\w+)`", cell)]
        assert rows[: len(storage.ROW_KEYS)] == list(storage.ROW_KEYS), name


def test_nothing_to_do_after_a_run(done):
    assert planned(done) == {}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # a new δ: only its 2 cells × 2 blocks train
        (
            {"experiments": {"delta": {"axes": {"delta": [0.0, 0.5, 1.0]}}}},
            {
                "train_delta_block0": 2,
                "train_delta_block1": 2,
                "evaluate_delta_block0": 2,
                "evaluate_delta_block1": 2,
                "aggregate_delta": 1,
                "claims_delta": 1,
                "figures_delta": 1,
                "report_delta": 1,
            },
        ),
        # one more seed: only the partially filled block (2,) → (2, 3) retrains, in every cell
        (
            {"experiments": {"delta": {"seeds": [0, 1, 2, 3]}}},
            {
                "train_delta_block1": 4,
                "evaluate_delta_block1": 4,
                "aggregate_delta": 1,
                "claims_delta": 1,
                "figures_delta": 1,
                "report_delta": 1,
            },
        ),
        # an evaluation setting: re-evaluate everything, train nothing
        (
            {"experiments": {"delta": {"evaluation": {"test_sigma": 0.5}}}},
            {
                "evaluate_delta_block0": 4,
                "evaluate_delta_block1": 4,
                "aggregate_delta": 1,
                "claims_delta": 1,
                "figures_delta": 1,
                "report_delta": 1,
            },
        ),
        # a training setting: everything it touches
        (
            {"experiments": {"delta": {"training": {"lr": 0.05}}}},
            {
                "train_delta_block0": 4,
                "train_delta_block1": 4,
                "evaluate_delta_block0": 4,
                "evaluate_delta_block1": 4,
                "aggregate_delta": 1,
                "claims_delta": 1,
                "figures_delta": 1,
                "report_delta": 1,
            },
        ),
        # a figure setting: only redraw
        (
            {"experiments": {"delta": {"figures": {"dpi": 100}}}},
            {"figures_delta": 1, "report_delta": 1},
        ),
        # a new experiment: only its own jobs
        (
            {"experiments": {"more": TINY_ALIGN | {"activations": ["relu"]}}},
            {
                "train_more_block0": 2,
                "evaluate_more_block0": 2,
                "aggregate_more": 1,
                "claims_more": 1,
                "figures_more": 1,
                "report_more": 1,
            },
        ),
        # a value on a packed axis of one experiment: its jobs that gain it, nothing else
        (
            {"experiments": {"align": {"axes": {"alignments": 3}}}},
            {
                "train_align_block0": 4,
                "evaluate_align_block0": 4,
                "aggregate_align": 1,
                "claims_align": 1,
                "figures_align": 1,
                "report_align": 1,
            },
        ),
        # another spelling of the same floats, or execution-only settings: nothing
        ({"experiments": {"delta": {"axes": {"delta": ["0e0", "5e-1"], "sigma": ["1e-1"]}}}}, {}),
        ({"training": {"device": "cpu", "progress_every_s": 1, "threads": 2}}, {}),
    ],
)
def test_incremental_reruns(done, change, expected):
    base = yaml.safe_load((done / "config.yaml").read_text())
    try:
        write_config(done, deep_merge(base, change))
        assert planned(done) == expected
    finally:
        write_config(done, base)


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        (
            {"experiments": {"delta": {"activations": ["softsign"]}}},
            ["experiments.delta.activations[0]", "softsign", "bounded_relu_ub"],
        ),
        ({"training": {"epochs": -1}}, ["training.epochs", "minimum of 1"]),
        (
            {"experiments": {"delta": {"axes": {"delta": []}}}},
            ["experiments.delta.axes.delta", "non-empty"],
        ),
        ({"bogus": 1}, ["'bogus' was unexpected", "allowed keys"]),
        ({"training": {"lr": float("nan")}}, ["'training.lr'", "finite"]),
        ({"results_dir": "/"}, ["'results_dir'", "file-system root"]),
        (
            {"figures": {"training_delta": 0.7}},
            ["experiments.delta.figures.training_delta", "allowed: 0.0, 0.5"],
        ),
    ],
)
def test_bad_config_stops_before_any_job(done, change, needles):
    base = yaml.safe_load((done / "config.yaml").read_text())
    try:
        write_config(done, deep_merge(base, change))
        proc = snakemake(done, "-n", check=False)
        assert proc.returncode != 0
        text = proc.stdout + proc.stderr
        for needle in needles:
            assert needle in text
        assert "Traceback" not in text
    finally:
        write_config(done, base)
    assert planned(done) == {}  # nothing was lost


@pytest.fixture(scope="module")
def report_html(done) -> Path:
    snakemake(done, "--report", "report.html")
    return done / "report.html"


def test_report(done, report_html):
    html = report_html.read_text(errors="replace")
    for name in (
        "delta_sweep.png",
        "alignment_sweep.png",
        "disentanglement.png",
        "ablation.png",
        "claims.tsv",
        "headline.tsv",
        "overview.html",
    ):
        assert name in html, name
    results = report_results(html)
    # every result has a name that says whose it is: no two experiments' "claims.tsv"
    names = [r["labels"]["result"] for r in results.values()]
    assert len(names) == len(set(names)) == len(results)
    for exp in ("delta", "align"):
        for what in ("claims (claims.tsv)", "headline (headline.tsv)", "figure "):
            assert any(n.startswith(f"{exp}: {what}") for n in names), (exp, what, names)
    # the overview, shown inline, holds the tables and each figure with its caption under it
    for exp, figure in ((DELTA, "delta_sweep"), (ALIGN, "alignment_sweep")):
        path = next(p for p in results if p.endswith(f"{exp}/overview.html"))
        assert results[path]["mime_type"] == "text/html"
        page = base64.b64decode(results[path]["data_uri"].split("base64,", 1)[1]).decode()
        headline = pd.read_csv(done / exp / "headline.tsv", sep="\t", dtype=str)
        for col in [c for c in headline.columns if " TA" in c or " IA" in c]:
            for value in headline[col]:
                assert f">{value}</td>" in page, (col, value)
        claims = pd.read_csv(done / exp / "claims.tsv", sep="\t")
        for statement in claims["statement"].unique():
            assert html_escape(statement) in page, statement
        caption = (ROOT / f"workflow/report/{figure}.rst").read_text().split()[:4]
        after = page.split(f'<img alt="{figure}"', 1)[1]
        assert after.index(" ".join(caption)) < after.index("</figure>")
    assert report_html.stat().st_size < 20e6  # the figures are embedded in 256 colours


@pytest.mark.skipif(
    find_chromium() is None, reason="no Chromium (Debian: apt-get install chromium) to render it"
)
def test_report_renders_in_headless_chromium(report_html, tmp_path):
    """`make report-screenshot`: the report, opened at an experiment's overview, as a PNG."""
    from PIL import Image

    out = screenshot(report_html, tmp_path / "report.png", "delta", size=(1200, 1600))
    with Image.open(out) as im:
        assert im.size == (1200, 1600)
        # tables and figures, not an empty page: many colours in the main pane
        colours = im.convert("RGB").crop((400, 0, 1200, 1600)).getcolors(maxcolors=1 << 20)
        assert len(colours) > 500


def test_headline_command(done):
    proc = subprocess.run(
        [sys.executable, "-m", "repgeom", "headline", str(done / "results")],
        capture_output=True,
        text=True,
        check=True,
    )
    out = proc.stdout
    assert "== delta (delta): 12 runs" in out and "tanh TA" in out and "relu IA" in out
    missing = subprocess.run(
        [sys.executable, "-m", "repgeom", "headline", str(done / "nowhere")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "run the workflow first" in missing.stderr


#: what a run of profiles/slurm with its placeholders filled in passes (tests/test_slurm.py too)
SLURM_RESOURCES = ["--default-resources", "slurm_partition=debug", "slurm_account=root"]


def train_resources(workdir, *args) -> str:
    """The resources line of the first training job that `snakemake -n` plans."""
    out = snakemake(workdir, "-n", "--until", "train_delta_block0", *args).stdout
    jobs = [b for b in out.split("\n\n") if "rule train_delta_block0" in b]
    assert jobs, out
    return next(line for line in jobs[0].splitlines() if "resources:" in line)


@pytest.mark.parametrize(
    ("train", "args", "present", "absent"),
    [
        # a local run on a CPU-only machine asks for no GPU ...
        ({}, [], ["runtime=60", "mem_mb=4000"], ["gpu", "gres"]),
        # ... a SLURM run does, as configured ...
        ({}, SLURM_RESOURCES, ["gpu=1", "runtime=60", "mem_mb=4000"], ["gres="]),
        (
            {"gpu_syntax": "gres", "gpu_model": "a100", "gpus": 2},
            SLURM_RESOURCES,
            ["gres=gpu:a100:2"],
            ["gpu=2"],
        ),
        ({"gpus": 0, "runtime": 5, "mem_mb": 300}, SLURM_RESOURCES, ["runtime=5"], ["gpu", "gres"]),
        # ... and a local one where the config asks for it
        ({"gpus_locally": True}, [], ["gpu=1"], ["gres="]),
    ],
)
def test_training_resources_follow_config(tmp_path, train, args, present, absent):
    write_config(tmp_path, TINY | {"resources": {"train": train}})
    res = train_resources(tmp_path, *args)
    for item in present:
        assert item in res, res
    for item in absent:
        assert item not in res, res


def test_slurm_profile_placeholders_are_refused_by_name(tmp_path):
    """The shipped profile's `<your-...>` values stop even a dry run, naming key and file; with
    them replaced, the dry run plans GPU training jobs."""
    write_config(tmp_path, TINY)
    profile = ["--profile", str(ROOT / "profiles/slurm")]
    proc = snakemake(tmp_path, "-n", *profile, check=False)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    for needle in (
        "'slurm_partition' is still the placeholder '<your-partition>'",
        "'slurm_account' is still the placeholder '<your-account>'",
        "profiles/slurm/config.v8+.yaml",
        "--default-resources slurm_partition=<name>",
    ):
        assert needle in err, err
    filled = ["--default-resources", "slurm_partition=x", "slurm_account=y"]
    assert "gpu=1" in train_resources(tmp_path, *profile, *filled)


def test_delta_task_metrics_unchanged_since_recorded(done):
    """The tiny sweep's metrics (primary analysis: the exact SVM, clean protocol) equal those
    recorded before the task-family refactor with that decoder (then ``solver: newton``)."""
    want = pd.read_csv(ROOT / "tests/data/e2_regression_newton.csv")
    got = pd.read_parquet(done / DELTA / "metrics.parquet")
    dich = pd.read_parquet(done / DELTA / "dichotomies.parquet")
    assert set(zip(got["decoder"], got["protocol"], strict=True)) == {
        (d, p) for d in ("svm", "ridge") for p in ("clean", "original")
    }
    got = got[(got["decoder"] == "svm") & (got["protocol"] == "clean")]
    dich = dich[(dich["decoder"] == "svm") & (dich["protocol"] == "clean")]
    for metric in DICHOTOMY_COLUMNS:  # the recorded tables had one column per dichotomy
        wide = dich.pivot_table(
            index=["act", "delta", "seed", "epoch"],
            columns="dichotomy",
            values=metric,
            observed=True,
        )
        wide.columns = [f"{metric}_{d}" for d in wide.columns]
        got = got.merge(wide.reset_index(), on=["act", "delta", "seed", "epoch"])
    keys = ["act", "delta", "seed", "epoch"]
    got = got.sort_values(keys).reset_index(drop=True)
    want = want.sort_values(keys).reset_index(drop=True)
    cols = [c for c in want.columns if c not in ("task", "arch", "readout", "sigma")]
    assert {"ccgp_proper_b1", "ps_xor", "decoding_noisy_b2", "shattering_dim"} <= set(cols)
    pd.testing.assert_frame_equal(
        got[cols], want[cols], check_dtype=False, check_exact=False, rtol=0, atol=1e-6
    )


def test_delta_task_metrics_unchanged_with_liblinear(done, tmp_path):
    """The same runs re-evaluated with today's ``LinearSVC()`` (``liblinear_auto``) equal the
    values recorded before the refactor with it (then ``solver: liblinear``)."""
    from repgeom.config import load_schema, validate
    from repgeom.pipeline import evaluate_block

    cfg = validate(
        deep_merge(
            TINY,
            {
                "experiments": {
                    "delta": {
                        "evaluation": {"decoders": ["liblinear_auto"], "protocols": ["clean"]}
                    }
                }
            },
        ),
        load_schema(ROOT / "workflow/schemas/config.schema.yaml"),
    )
    weights = storage.run_files(done / DELTA, "weights.parquet")
    out = [tmp_path / f"{i}" for i in range(len(weights))]
    evaluate_block(
        weights,
        [f"{o}/metrics.parquet" for o in out],
        [f"{o}/dichotomies.parquet" for o in out],
        cfg["experiments"]["delta"]["evaluation"],
    )
    want = pd.read_csv(ROOT / "tests/data/e2_regression_liblinear.csv")
    for w, o in zip(weights, out, strict=True):
        run = storage.read_metadata(w)["config"]["run"]
        rows = want[
            (want["act"] == run["act"])
            & np.isclose(want["delta"], float(run["delta"]))
            & (want["seed"] == run["seed"])
        ].reset_index(drop=True)
        got = pd.read_parquet(o / "metrics.parquet")
        dich = pd.read_parquet(o / "dichotomies.parquet")
        assert set(got["decoder"]) == {"liblinear_auto"} and set(got["protocol"]) == {"clean"}
        for metric in DICHOTOMY_COLUMNS:
            for name, sub in dich.groupby("dichotomy"):
                got[f"{metric}_{name}"] = sub[metric].to_numpy()
        cols = [c for c in rows.columns if c in got.columns and c not in ("stop_epoch",)]
        assert len(cols) == 26  # every recorded metric column
        pd.testing.assert_frame_equal(
            got[cols], rows[cols], check_dtype=False, check_exact=False, rtol=0, atol=1e-6
        )


def _repgeom(workdir, *args):
    return subprocess.run(
        [sys.executable, "-m", "repgeom", *args], capture_output=True, text=True, cwd=workdir
    )


def test_readers_see_the_configured_sweep_and_prune_removes_the_rest(done, tmp_path):
    work = tmp_path / "wf"
    shutil.copytree(done, work, symlinks=True)
    # a user's copy of a run, a copy of an experiment under another name and a folder that is
    # none of repgeom's business (all left alone), and a killed writer's temporary (removed)
    seed0 = next((work / DELTA / "runs").rglob("seed=0"))
    shutil.copytree(seed0, seed0.with_name("seed=7"))
    shutil.copytree(work / ALIGN, work / "results/other")
    (work / "results/notes/runs").mkdir(parents=True)
    (seed0 / ".weights.parquet.tmp-4242").write_bytes(b"half")

    n = len(pd.read_parquet(work / DELTA / "metrics.parquet").groupby(["act", "delta", "seed"]))
    assert n == 12
    # runs × snapshots × analyses (2 decoders × 2 protocols)
    assert storage.open_runs(work / DELTA).count_rows() == 12 * 4 * 4
    assert storage.open_runs(work / DELTA, all_on_disk=True).count_rows() == 13 * 4 * 4
    head = _repgeom(work, "headline", "results")
    assert "== delta (delta): 12 runs" in head.stdout, head.stderr

    listing = _repgeom(tmp_path, "prune", "--directory", "wf")
    assert listing.returncode == 0, listing.stderr
    for needle in ("1 temporaries of killed writers", "nothing removed; run again with --delete"):
        assert needle in listing.stdout, listing.stdout
    for foreign in ("notes", "seed=7", "results/other"):
        assert foreign not in listing.stdout, listing.stdout
    removed = _repgeom(work, "prune", "--delete")
    assert "removed 1 files" in removed.stdout, removed.stdout + removed.stderr
    assert seed0.with_name("seed=7").is_dir() and (work / "results/other").is_dir()
    assert (work / "results/notes").is_dir()
    assert planned(work) == {}  # nothing of the sweep was touched

    # a configuration without the alignment experiment: its folder is another's, removed
    # only on request, and then whole (repgeom made everything in it)
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    del cfg["experiments"]["align"]
    write_config(work, cfg)
    listing = _repgeom(work, "prune", "--delete")
    assert "1 experiment folders this configuration does not name" in listing.stdout
    assert "removed only with --other-experiments" in listing.stdout and (work / ALIGN).is_dir()
    removed = _repgeom(work, "prune", "--delete", "--other-experiments")
    assert removed.returncode == 0, removed.stderr
    assert not (work / ALIGN).exists() and (work / "results/other").is_dir()
    assert "everything repgeom made there belongs" in _repgeom(work, "prune").stdout


def test_damaged_outputs_are_named_with_the_fix(done, tmp_path):
    work = tmp_path / "wf"
    shutil.copytree(done, work, symlinks=True)
    agg = work / DELTA / "metrics.parquet"
    stat = agg.stat()
    agg.write_bytes(agg.read_bytes()[:-100])  # truncated, mtime kept: Snakemake sees nothing
    os.utime(agg, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert planned(work) == {}
    head = _repgeom(work, "headline", "results")
    assert head.returncode == 1 and "Traceback" not in head.stderr
    assert f"{DELTA}/metrics.parquet was changed after it was written" in head.stderr
    assert "delete results/delta/metrics.parquet and run the workflow again" in head.stderr
    agg.unlink()  # the advice
    assert planned(work) == {
        "aggregate_delta": 1,
        "claims_delta": 1,
        "figures_delta": 1,
        "report_delta": 1,
    }

    run = manifests.current_run_files(work / DELTA, "dichotomies.parquet")[0]
    Path(run).write_bytes(Path(run).read_bytes()[:50])
    with pytest.raises(manifests.ManifestError, match="dichotomies.parquet was changed") as err:
        storage.open_runs(work / DELTA, "dichotomies.parquet")
    advice = re.search(r"delete (\S+\.evaluate\.json) and (\S+/manifest\.json)", str(err.value))
    for path in advice.groups():
        Path(path).unlink()
    block = re.search(r"block\d", advice.group(1)).group(0)
    assert planned(work) == {
        f"evaluate_delta_{block}": 1,
        "aggregate_delta": 1,
        "claims_delta": 1,
        "figures_delta": 1,
        "report_delta": 1,
    }
    snakemake(work, "--cores", "2")
    assert _repgeom(work, "headline", "results").returncode == 0
    assert storage.open_runs(work / DELTA, "dichotomies.parquet").count_rows() > 0


def test_a_second_workflow_on_the_same_results_is_refused(done):
    from repgeom.locking import lock_results

    holder = lock_results(done / "results", "the other test workflow")
    try:
        proc = snakemake(done, "--cores", "1", "--forcerun", "figures_delta", check=False)
    finally:
        holder.close()
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in text
    assert "is in use by the other test workflow (pid" in text
    assert planned(done) == {}


def test_claims_are_checked_and_printed(done):
    from repgeom.claims import COLUMNS, VERDICTS

    for exp in (DELTA, ALIGN):
        df = pd.read_parquet(done / exp / "claims.parquet")
        assert tuple(df.columns) == COLUMNS and set(df["verdict"]) <= set(VERDICTS)
        tsv = pd.read_csv(done / exp / "claims.tsv", sep="\t")
        assert len(tsv) == len(df)
    delta = pd.read_parquet(done / DELTA / "claims.parquet")
    # two δ and one σ: the δ non-monotonicity and the noise claims cannot be tested
    not_run = set(delta[delta["verdict"] == "not run"]["claim"])
    assert {"tanh_input_alignment_nonmonotonic", "relu_noise_nonmonotonic"} <= not_run
    tested = delta[delta["claim"] == "tanh_target_alignment"]
    # one row per analysis (2 decoders × 2 protocols), the primary one first
    assert list(tested["setting"]) == ["delta=0.5"] * 4 and (tested["n"] == 3).all()
    assert tuple(tested.iloc[0][["decoder", "protocol"]]) == ("svm", "clean")
    assert tested["primary"].tolist() == [True, False, False, False]
    out = _repgeom(done, "claims", "results")
    assert out.returncode == 0, out.stderr
    assert "The paper's claims, checked (paired by seed" in out.stdout
    assert re.search(r"\d+ claims: ", out.stdout)
    assert "overall under the other analyses: svm/original" in out.stdout
    assert re.search(r"overall verdicts that change with the analysis: \d+ of \d+", out.stdout)
    effects = _repgeom(done, "effects", "results")
    assert effects.returncode == 0, effects.stderr
    assert "ridge/original minus svm/clean:" in effects.stdout
    assert "ccgp_proper" in effects.stdout


def test_readme_recipe_gives_the_headline_numbers(done, monkeypatch, tmp_path):
    """The README's reading recipe, run on the tiny sweep, reproduces every number `headline`
    prints for target and input alignment and CCGP_T; other selections are refused by name."""
    from repgeom.results import SelectionError, cell_means, final_runs

    readme = (ROOT / "README.md").read_text()
    code = readme.split("<!-- recipe: final-runs -->")[1].split("```python")[1].split("```")[0]
    monkeypatch.chdir(done)
    ns: dict = {}
    exec(code.replace("results/alignment", "results/align"), ns)
    shown = subprocess.run(
        [sys.executable, "-m", "repgeom", "headline", "results"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    delta = cell_means(ns["runs"], ["target_alignment", "input_alignment"], ["act", "delta"])
    ccgp = cell_means(ns["per_run"], ["ccgp_proper"], ["act", "k", "align"])
    for frame, cols in ((delta, ["target_alignment", "input_alignment"]), (ccgp, ["ccgp_proper"])):
        for _, row in frame.iterrows():
            for c in cols:
                assert f"{row[c]:.3f} ± {row[c + '_sem']:.3f}" in shown, (c, dict(row))
    assert len(ns["runs"]) == 12 and set(ns["original"]["epoch"]) == {20}
    with pytest.raises(SelectionError, match="has no analysis liblinear_dual/clean; it has"):
        final_runs("results/delta", decoder="liblinear_dual")
    with pytest.raises(SelectionError, match="no snapshot at epoch 7"):
        final_runs("results/delta", epoch=7)
    out = subprocess.run(
        [sys.executable, "-m", "repgeom", "table", "results/delta", "--csv", tmp_path / "t.csv"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and len(pd.read_csv(tmp_path / "t.csv")) == 12
    bad = subprocess.run(
        [sys.executable, "-m", "repgeom", "table", "results/delta", "--layer", "3"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "no hidden layer 3" in bad.stderr


def test_readme_raw_recipes_filter_to_the_headline_numbers(done, monkeypatch):
    """The README's plain-Parquet recipes (pandas, duckdb, polars), run on the tiny sweep, give
    the same final-epoch cell means as `final_runs`, which the test above ties to `headline`."""
    import duckdb

    from repgeom.results import cell_means, final_runs

    readme = (ROOT / "README.md").read_text()
    part = readme.split("The raw tables are plain Parquet")[1].split("### Results of earlier")[0]
    blocks = re.findall(r"```(python|sql)\n(.*?)```", part, flags=re.S)
    assert [lang for lang, _ in blocks] == ["python", "sql", "python"]
    monkeypatch.chdir(done)
    # the README's epochs are the default config's last ones; the tiny sweep's are 20 and 10
    tiny = {"epoch = 300": "epoch = 20", "epoch = 200": "epoch = 10"}
    tiny |= {"results/alignment": ALIGN}
    ns: dict = {}
    exec(blocks[0][1], ns)
    runs = final_runs(DELTA)
    want = cell_means(runs, ["target_alignment", "input_alignment"], ["act", "delta"])
    got = ns["final"].groupby(["act", "delta"])[["target_alignment", "input_alignment"]].mean()
    assert len(ns["final"]) == len(runs)
    for _, row in want.iterrows():
        for c in ("target_alignment", "input_alignment"):
            assert np.isclose(got.loc[(row["act"], row["delta"]), c], row[c]), c
    sql = blocks[1][1]
    for old, new in tiny.items():
        sql = sql.replace(old, new)
    first, second = (duckdb.sql(q).df() for q in sql.split(";") if q.strip(" \n-"))
    aligned = want[want["delta"] >= 0.25].reset_index(drop=True)
    assert np.allclose(first.iloc[:, 2], aligned["target_alignment"])
    assert np.allclose(first.iloc[:, 3], aligned["input_alignment"])
    dich = final_runs(ALIGN, table="dichotomies")
    trained = dich[dich.role == "target, latent"]
    per_run = trained.groupby(["act", "k", "align", "seed"])["ccgp_proper"].mean().reset_index()
    ccgp = cell_means(per_run, ["ccgp_proper"], ["act", "k", "align"])
    assert np.allclose(second.iloc[:, 3], ccgp["ccgp_proper"])
    exec(blocks[2][1], {})
