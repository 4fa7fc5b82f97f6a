"""The report's per-experiment pages (repgeom.report) and the screenshot command's helpers."""

import base64
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from repgeom import report  # noqa: E402
from repgeom.screenshot import first_experiment  # noqa: E402

CLAIMS = pd.DataFrame(
    {
        "experiment": ["delta"] * 3,
        "decoder": ["svm", "svm", "ridge"],
        "protocol": ["clean"] * 3,
        "primary": [True, True, False],
        "claim": ["c1", "c1", "c1"],
        "statement": ["tanh's <target> alignment exceeds relu's"] * 3,
        "setting": ["delta=0.5", "delta=1", "delta=0.5"],
        "metric": ["target_alignment"] * 3,
        "effect": [0.41, 0.24, 0.40],
        "ci_low": [0.40, np.nan, 0.39],
        "ci_high": [0.42, np.nan, 0.41],
        "n": [4, 2, 4],
        "verdict": ["supported", "inconclusive", "supported"],
        "overall": ["inconclusive"] * 3,
        "flips": ["", "depends on decoder", ""],
        "overall_flips": [""] * 3,
    }
)


def _png(path):
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot([0, 1], [0, 1])
    fig.savefig(path)
    plt.close(fig)
    return path


def test_claims_page_shows_the_primary_analysis_one_claim_per_block():
    page = report.claims_for_page(CLAIMS)
    assert list(page["setting"]) == ["delta=0.5", "delta=1"]  # ridge's row left to claims.tsv
    assert list(page["claim"]) == ["tanh's <target> alignment exceeds relu's", ""]
    assert page["effect [95% CI]"].iloc[0] == "+0.410 [+0.400, +0.420]"
    assert page["effect [95% CI]"].iloc[1] == "+0.240 (too few seeds)"
    assert list(page["changes with"]) == ["", "depends on decoder"]


def test_claims_that_were_not_tested_show_no_effect():
    untested = CLAIMS.iloc[:2].assign(
        claim="c2", effect=np.nan, ci_low=np.nan, ci_high=np.nan, n=0,
        verdict=["not applicable", "not run"], overall="not applicable",
    )  # fmt: skip
    page = report.claims_for_page(untested)
    assert list(page["effect [95% CI]"]) == ["", ""]
    assert "nan" not in report.table_html(page)


def test_overview_has_both_tables_and_each_caption_under_its_figure(tmp_path):
    headline = pd.DataFrame({"delta": [0.5], "tanh TA": ["0.999 ± 0.001"], "n": [4]})
    figs = [(_png(tmp_path / "delta_sweep.png"), "The *sweep* caption."),
            (_png(tmp_path / "over_training.png"), "Over ``training``.")]  # fmt: skip
    page = report.overview_html(
        "delta", ("delta (delta): 4 runs", "Final epoch", headline), CLAIMS, figs, "Claims *note*."
    )
    assert '<h2 id="headline">delta: headline</h2>' in page
    assert '<h2 id="claims">delta: claims</h2>' in page
    assert '<td class="num">0.999 ± 0.001</td>' in page
    assert "tanh&#x27;s &lt;target&gt; alignment" in page  # escaped
    assert '<td class="supported">supported</td>' in page
    assert "1 claims: 1 inconclusive" in page and "<em>note</em>" in page
    # each figure, embedded, then its caption rendered from reStructuredText
    order = [
        m.group(0) for m in re.finditer(r"<img[^>]*>|<figcaption>.*?</figcaption>", page, re.S)
    ]
    assert len(order) == 4 and order[0].startswith("<img") and "<em>sweep</em>" in order[1]
    assert order[2].startswith("<img") and 'literal">training<' in order[3]
    data = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_large_figures_are_named_not_embedded(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "MAX_EMBED_BYTES", 10)
    png = _png(tmp_path / "big.png")
    page = report.overview_html("e", ("t", "l", pd.DataFrame({"a": [1]})), CLAIMS, [(png, "c")])
    assert "<img" not in page and "too large to embed" in page


def test_compact_png_is_a_smaller_png(tmp_path):
    png = _png(tmp_path / "f.png")
    data = report.compact_png(png)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) <= png.stat().st_size


def test_first_experiment_is_read_from_the_reports_results():
    html = (
        "var results = new Array(3);\n"  # the report's own scripts use the name too
        '<script id="results">\nvar results = {"results/b/claims.tsv": {}, '
        '"results/a/overview.html": {}};\n</script>'
    )
    assert first_experiment(html) == "a"
    assert first_experiment("no results here") is None
