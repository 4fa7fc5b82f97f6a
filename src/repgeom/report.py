"""What ``snakemake --report`` shows of each experiment beyond its raw files.

Snakemake's report shows an image on its own (its caption in a side panel), an HTML file inline
(in a frame), and offers any other file, a TSV among them, only as a download. So each
experiment gets:

* ``headline.tsv``: the table ``python -m repgeom headline`` prints, written by the claims step;
* ``overview.html``: one self-contained page with the headline table, the claims table (the
  primary analysis) and every figure with its caption underneath, which the report shows
  inline. Figures are embedded as data URIs in 256 colours (:func:`compact_png`), each at most
  :data:`MAX_EMBED_BYTES`; a larger one is named instead, so the page (embedded once more in
  the report) stays small.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

#: largest PNG embedded in an overview page; larger figures are listed by name only
MAX_EMBED_BYTES = 1_000_000

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #1e293b; max-width: 1100px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
div.scroll { overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid #cbd5e1; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
th { background: #f1f5f9; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.supported { color: #166534; font-weight: 600; } .contradicted { color: #991b1b; font-weight: 600; }
.inconclusive { color: #92400e; } .notrun { color: #64748b; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #e2e8f0; }
figcaption { font-size: 0.9em; max-width: 60em; } .note { font-size: 0.9em; color: #475569; }
.literal, code { font-family: ui-monospace, monospace; font-size: 0.95em; }
"""


def write_headline(experiment_dir: str | Path, out: str | Path) -> pd.DataFrame:
    """Write the headline table of an aggregated experiment as TSV; returns it."""
    from .__main__ import headline_of
    from .files import atomic

    table = headline_of(Path(experiment_dir))[2]
    with atomic(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return table


def caption_html(rst: str) -> str:
    """A caption written in reStructuredText as an HTML fragment (as the report renders it)."""
    from docutils.core import publish_parts

    return publish_parts(
        rst,
        writer="html5",
        settings_overrides={"report_level": 5, "halt_level": 5, "input_encoding": "unicode"},
    )["fragment"]


def _cell(value) -> str:
    text = "" if pd.isna(value) else str(value)
    return html.escape(text)


def table_html(df: pd.DataFrame, numeric: tuple[str, ...] = ()) -> str:
    """``df`` as an HTML table, every cell escaped."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for row in df.itertuples(index=False):
        cells = []
        for col, value in zip(df.columns, row, strict=True):
            cls = ' class="num"' if col in numeric else ""
            if col in ("verdict", "overall") and isinstance(value, str):
                cls = f' class="{value.replace(" ", "")}"'
            cells.append(f"<td{cls}>{_cell(value)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    # a wide table (a headline with many cells) scrolls inside the page instead of being cut
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return f'<div class="scroll">{table}</div>'


def claims_for_page(claims: pd.DataFrame) -> pd.DataFrame:
    """The primary analysis's rows of a claims table, one per claim and setting, with the
    effect and its interval in one column; the claim's statement and overall verdict only on
    its first row."""
    from .claims import UNTESTED, keyed

    df = keyed(claims)
    df = df[df["primary"].astype(str).str.lower() == "true"].copy()

    def interval(r) -> str:
        if r["verdict"] in UNTESTED:
            return ""
        if pd.isna(r["ci_low"]) or not (abs(float(r["ci_low"])) < float("inf")):
            return f"{float(r['effect']):+.3f} (too few seeds)"
        return f"{float(r['effect']):+.3f} [{float(r['ci_low']):+.3f}, {float(r['ci_high']):+.3f}]"

    out = pd.DataFrame(
        {
            "claim": df["statement"],
            "overall": df["overall"],
            "setting": df["setting"],
            "metric": df["metric"],
            "effect [95% CI]": df.apply(interval, axis=1) if len(df) else [],
            "n": df["n"],
            "verdict": df["verdict"],
        }
    )
    flips = df["flips"].fillna("").astype(str)
    if (flips != "").any():
        out["changes with"] = flips.values
    repeat = out["claim"].eq(out["claim"].shift())
    out.loc[repeat, ["claim", "overall"]] = ""
    return out.reset_index(drop=True)


def compact_png(png: Path) -> bytes:
    """``png`` at full resolution in 256 colours (a plot has few; about a third of the bytes),
    or as it is where that is not smaller."""
    import io

    from PIL import Image

    raw = png.read_bytes()
    with Image.open(io.BytesIO(raw)) as im:
        small = im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
        buf = io.BytesIO()
        small.save(buf, "PNG", optimize=True)
    return buf.getvalue() if buf.tell() < len(raw) else raw


def _figure_html(png: Path, caption_rst: str) -> str:
    name = png.stem
    data = compact_png(png)
    if len(data) > MAX_EMBED_BYTES:
        img = (
            f'<p class="note">{html.escape(png.name)} ({len(data) // 1000} kB in 256 colours) is '
            "too large to embed here: open it from this experiment's list of results.</p>"
        )
    else:
        b64 = base64.b64encode(data).decode("ascii")
        img = f'<img alt="{html.escape(name)}" src="data:image/png;base64,{b64}">'
    return (
        f'<figure id="{html.escape(name)}"><h3>{html.escape(name)}</h3>{img}'
        f"<figcaption>{caption_html(caption_rst)}</figcaption></figure>"
    )


def overview_html(
    experiment: str,
    headline: tuple[str, str, pd.DataFrame],
    claims: pd.DataFrame,
    figures: list[tuple[Path, str]],
    claims_caption_rst: str = "",
) -> str:
    """The overview page of one experiment: ``headline`` as (title, legend, table), its claims
    table, and ``figures`` as (PNG, caption in reStructuredText), each caption under its
    figure."""
    title, legend, table = headline
    page = claims_for_page(claims)
    n_claims = int((page["claim"] != "").sum())
    verdicts = page.loc[page["claim"] != "", "overall"].value_counts()
    counts = ", ".join(f"{n} {v}" for v, n in verdicts.items())
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(experiment)}: '
        f"overview</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(experiment)}: headline, claims and figures</h1>",
        f"<p>{html.escape(title)}</p>",
        f'<h2 id="headline">{html.escape(experiment)}: headline</h2>',
        f'<p class="note">{html.escape(legend)}.</p>',
        table_html(table, numeric=tuple(c for c in table.columns if c != "act")),
        f'<h2 id="claims">{html.escape(experiment)}: claims</h2>',
        f'<p class="note">{n_claims} claims: {html.escape(counts)}. Primary analysis; every '
        "analysis is in claims.tsv.</p>",
        table_html(page, numeric=("effect [95% CI]", "n")),
        f'<div class="note">{caption_html(claims_caption_rst)}</div>' if claims_caption_rst else "",
        f'<h2 id="figures">{html.escape(experiment)}: figures</h2>',
        *(_figure_html(png, caption) for png, caption in figures),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def write_overview(
    experiment_dir: str | Path,
    experiment: str,
    claims_tsv: str | Path,
    figures: list[str | Path],
    captions: list[str | Path],
    claims_caption: str | Path | None,
    out: str | Path,
) -> None:
    """Write ``overview.html`` of an aggregated experiment (see :func:`overview_html`)."""
    from .__main__ import headline_of
    from .files import atomic

    claims = pd.read_csv(claims_tsv, sep="\t", keep_default_na=False, na_values=[""])
    page = overview_html(
        experiment,
        headline_of(Path(experiment_dir)),
        claims,
        [(Path(f), Path(c).read_text()) for f, c in zip(figures, captions, strict=True)],
        Path(claims_caption).read_text() if claims_caption else "",
    )
    with atomic(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
