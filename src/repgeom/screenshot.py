"""Render the workflow's HTML report with headless Chromium to a PNG, opened at one
experiment's overview (its headline and claims tables, and its figures with captions)::

    python -m repgeom.screenshot [results/report.html] [-o results/report.png] [--experiment delta]

``make report-screenshot`` runs it. Snakemake's report is a JavaScript app without addresses
for its pages, so the command renders a copy of the report with a few lines appended that open
the experiment's overview, as a click on it in the report would; the report itself is left as
it is. Chromium is looked up as ``chromium``, ``chromium-browser``, ``google-chrome`` (or
``$CHROMIUM``); Debian: ``apt-get install chromium``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: opens ``experiment``'s overview once the report's app has started
_OPEN = """
<script>
(function () {
  var experiment = %s;
  var path = Object.keys(results).find(function (p) {
    return p.endsWith("/" + experiment + "/overview.html");
  });
  if (path === undefined) {
    document.title = "repgeom-screenshot: no overview of " + experiment;
    return;
  }
  // React mounts the app asynchronously: wait for it
  var timer = setInterval(function () {
    if (typeof app === "undefined" || !app) {
      return;
    }
    clearInterval(timer);
    // one update (the app's state merges only its own fields): the experiment's results in the
    // side bar, its overview in the main pane
    var subcategories = Object.keys(categories[experiment] || {});
    var single = subcategories.length === 1;
    app.setView({
      navbarMode: single ? "subcategory" : "category",
      category: experiment,
      subcategory: single ? subcategories[0] : undefined,
      content: "html",
      contentPath: results[path].data_uri,
      resultPath: path,
    });
    document.title = "repgeom-screenshot: " + path;
  }, 50);
})();
</script>
"""


def find_chromium() -> str | None:
    """The Chromium executable: ``$CHROMIUM`` or the first of :data:`BROWSERS` on the PATH."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    return next((b for b in map(shutil.which, BROWSERS) if b), None)


def report_results(report: str) -> dict | None:
    """The results a Snakemake report holds (path → name, labels, caption, data URI): the JSON
    of its ``<script id="results">``, or None if it has none."""
    tag = report.find('<script id="results">')
    start = report.find("var results = ", tag) if tag >= 0 else -1
    if start < 0:
        return None
    return json.JSONDecoder().raw_decode(report, start + len("var results = "))[0]


def first_experiment(report: str) -> str | None:
    """The first experiment with an overview page in a report's results."""
    results = report_results(report)
    for path in results or {}:
        p = Path(path)
        if p.name == "overview.html":
            return p.parent.name
    return None


def screenshot(
    report: Path,
    out: Path,
    experiment: str | None = None,
    size: tuple[int, int] = (1600, 2000),
    chromium: str | None = None,
    timeout: float = 120,
) -> Path:
    """Render ``report`` at ``experiment``'s overview (default: the first) to the PNG ``out``.
    Raises RuntimeError naming what is missing or what Chromium said."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise RuntimeError(
            "no Chromium found (tried $CHROMIUM, " + ", ".join(BROWSERS) + "); install it, "
            "e.g. `apt-get install chromium` on Debian"
        )
    text = report.read_text(encoding="utf-8")
    experiment = experiment or first_experiment(text)
    if experiment is None:
        raise RuntimeError(f"{report} has no experiment overview; run the workflow and "
                           "`snakemake --report` again")  # fmt: skip
    body = text.rfind("</body>")
    opened = text[:body] + _OPEN % json.dumps(experiment) + text[body:]
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="repgeom-screenshot-") as tmp:
        page = Path(tmp, "report.html")
        page.write_text(opened, encoding="utf-8")
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",  # as root, and in containers, Chromium's sandbox does not start
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp}/profile",
            f"--window-size={size[0]},{size[1]}",
            # the report is a React app: let it (and the overview's frame) render first
            "--virtual-time-budget=15000",
            f"--screenshot={out}",
            page.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not out.is_file():
        raise RuntimeError(
            f"Chromium wrote no screenshot (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
        )
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m repgeom.screenshot", description=__doc__.splitlines()[0]
    )
    parser.add_argument("report", nargs="?", default="results/report.html", type=Path)
    parser.add_argument("-o", "--output", default="results/report.png", type=Path)
    parser.add_argument("--experiment", help="whose overview to show (default: the first)")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=2000)
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"error: no {args.report}; run `make run` (or `snakemake --report "
              f"{args.report}`) first", file=sys.stderr)  # fmt: skip
        return 2
    try:
        out = screenshot(args.report, args.output, args.experiment, (args.width, args.height))
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
