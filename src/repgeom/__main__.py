"""Command line.

``python -m repgeom headline [results_dir]`` prints, for each experiment under ``results_dir``,
the final target and input alignment of its networks (mean ± s.e.m. over seeds) from
``<results_dir>/<experiment>/metrics.parquet``, with the run count and training wall time
recorded in the runs' metadata.

``python -m repgeom movement [results_dir]`` prints, for each experiment whose family records
neuron movement (the unstructured family, E1), how far its hidden neurons moved along their
intra- and inter-class axes by the final epoch and the ratio (mean ± s.e.m. over seeds, per
activation and setting), with the verdicts of the family's claims.

``python -m repgeom claims [results_dir]`` prints the paper's claims about each experiment with
their verdicts on its results (``<results_dir>/<experiment>/claims.parquet``).

``python -m repgeom effects [results_dir]`` prints, for each experiment evaluated under more
than one analysis (decoder × protocol), how far each analysis moves the metrics from the
primary one.

``python -m repgeom verify [results_dir]`` checks every file of each experiment (tables, runs,
claims, figures) against the manifests its jobs wrote, before the results are shared or shown.

``python -m repgeom prune [--configfile F ...] [--directory D] [--delete]`` lists what the
configured experiments' folders hold that the sweep no longer makes, and removes it with
``--delete`` (experiment folders the configuration does not name only with
``--other-experiments``).
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import nullcontext
from pathlib import Path

import pandas as pd

#: at most this many activations are shown side by side; more are listed one per row
WIDE_ACTIVATIONS = 2


def _fmt(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std() / len(values) ** 0.5:.3f}"


#: (column, short name) of the headline's metrics, each shown where the table has it (the
#: movement columns: families that record them, repgeom.tasks.Family.extra_run_columns)
SHOWN = (
    ("target_alignment", "TA"),
    ("input_alignment", "IA"),
    ("ccgp_targets", "CCGP_T"),
    ("movement_intra", "mv intra"),
    ("movement_inter", "mv inter"),
    ("movement_ratio", "mv ratio"),
)
#: (column, short name) of the movement table (:func:`movement_table`)
MOVEMENT_SHOWN = (
    ("movement_intra", "intra"),
    ("movement_inter", "inter"),
    ("movement_ratio", "ratio"),
    ("target_alignment", "TA"),
)


def with_target_ccgp(
    df: pd.DataFrame, dichotomies: pd.DataFrame, key_types: dict[str, str]
) -> pd.DataFrame:
    """``df`` with ``ccgp_targets``: each run's mean CCGP (proper splits) over its trained
    dichotomies that are also latent variables (the disentanglement measure), where it has any."""
    trained = dichotomies[dichotomies["role"] == "target, latent"]
    if trained.empty:
        return df
    keys = [*key_types, "epoch"]
    mean = trained.groupby(keys, observed=True)["ccgp_proper"].mean().rename("ccgp_targets")
    return df.merge(mean.reset_index(), on=keys, how="left")


def headline_table(df: pd.DataFrame, key_types: dict[str, str]) -> pd.DataFrame:
    """Final-epoch target (TA) and input (IA) alignment per cell, mean ± s.e.m. over seeds, and
    CCGP_T (proper splits, mean over trained latent bits) where :func:`with_target_ccgp` added it.

    Keys that take one value are left out; the task's own alignment is shown as ``task c``.
    """
    final = _final(df, key_types)
    shown = [(c, s) for c, s in SHOWN if c in final.columns]
    keys = [k for k in key_types if k not in ("seed", "act") and final[k].nunique() > 1]
    acts = list(dict.fromkeys(final["act"]))
    wide = len(acts) <= WIDE_ACTIVATIONS
    rows = []
    for cell_key, cell in final.groupby(keys or (lambda _: 0), observed=True, sort=True):
        base = dict(
            zip(keys, cell_key if isinstance(cell_key, tuple) else (cell_key,), strict=False)
        )
        base["task c"] = f"{cell['task_alignment'].iloc[0]:.3f}"
        groups = [(act, cell[cell["act"] == act]) for act in acts]
        if wide:
            row = dict(base)
            for act, sub in groups:
                for col, short in shown:
                    row[f"{act} {short}"] = _fmt(sub[col])
            row["n"] = min(len(sub) for _, sub in groups)
            rows.append(row)
        else:
            for act, sub in groups:
                rows.append(
                    base
                    | {"act": act}
                    | {short: _fmt(sub[col]) for col, short in shown}
                    | {"n": len(sub)}
                )
    return pd.DataFrame(rows)


def _final(df: pd.DataFrame, key_types: dict[str, str]) -> pd.DataFrame:
    run_keys = [k for k in key_types if k != "seed"]
    last = df.groupby([*run_keys, "seed"], observed=True)["epoch"].transform("max")
    return df[df["epoch"] == last]


def movement_table(df: pd.DataFrame, key_types: dict[str, str]) -> pd.DataFrame:
    """Final-epoch movement along the intra- and inter-class axes, their ratio and the target
    alignment, mean ± s.e.m. over seeds, one row per activation and setting (the keys that take
    more than one value, e.g. the optimiser), activations in the experiment's order."""
    final = _final(df, key_types)
    keys = [k for k in key_types if k not in ("seed", "act") and final[k].nunique() > 1]
    rows = []
    for act in dict.fromkeys(final["act"]):
        mine = final[final["act"] == act]
        for cell_key, cell in mine.groupby(keys or (lambda _: 0), observed=True, sort=True):
            values = cell_key if isinstance(cell_key, tuple) else (cell_key,)
            row = {"act": act} | dict(zip(keys, values, strict=False))
            row |= {short: _fmt(cell[col].dropna()) for col, short in MOVEMENT_SHOWN}
            rows.append(row | {"n": len(cell)})
    return pd.DataFrame(rows)


def _training_time(experiment_dir: Path) -> tuple[int, int, float]:
    """(runs, training batches, summed training seconds) from the runs' metadata."""
    from . import manifests, storage

    # checked to exist, not checksummed: the metadata is all that is read, and reading it
    # fails loudly on a damaged file
    weights = manifests.current_run_files(experiment_dir, "weights.parquet", verify=False)
    seen, train_s = set(), 0.0
    for f in weights:  # the runs of a batch share one wall time: count each batch once
        try:
            out = storage.read_metadata(f)["training_outcome"]
        except Exception as err:  # noqa: BLE001 (damage of any kind: name the file)
            raise manifests.ManifestError(
                f"{f} cannot be read ({type(err).__name__}: {str(err)[:120]}); check it with "
                f"`python -m repgeom verify {experiment_dir.parent}`"
            ) from None
        key = out.get("batch_id") or (
            Path(f).parent.parent,
            out["train_wall_s"],
        )  # files from before batch ids
        if key not in seen:
            seen.add(key)
            train_s += out["train_wall_s"]
    return len(weights), len(seen), train_s


def headline_of(exp: Path) -> tuple[str, str, pd.DataFrame]:
    """The headline of one aggregated experiment folder: its title (runs, batches, training
    time), the legend of the table's columns, and the table (:func:`headline_table`)."""
    from . import manifests, storage

    metrics = manifests.verify_table(exp, "metrics.parquet")
    meta = storage.read_metadata(metrics)
    family = meta["config"]["family"]
    n, batches, train_s = _training_time(exp)
    evaluation = meta["config"]["evaluation"]
    frame = storage.primary(pd.read_parquet(metrics), evaluation)
    keys = storage.layer_keys(meta["key_types"], frame)
    runs = with_target_ccgp(
        frame,
        storage.primary(storage.verified_table(exp, "dichotomies.parquet").to_pandas(), evaluation),
        keys,
    )
    title = (
        f"{meta['experiment']} ({family}): {n} runs in {batches} training batches; "
        f"summed training time {train_s:.1f} s"
    )
    legend = (
        "Final epoch, mean ± s.e.m. over seeds. TA, IA: target and input alignment; "
        "task c: the task's own input–target alignment"
        + (
            "; mv intra, mv inter: the hidden neurons' mean absolute movement along their own "
            "intra- and inter-class axes since initialisation, mv ratio: intra/inter"
            if "movement_ratio" in runs.columns
            else ""
        )
        + (
            "; CCGP_T: CCGP (the ccgp_proper column) of the trained bits; analysis "
            + "/".join(storage.primary_analysis(evaluation) or ("svm", "clean"))
            if "ccgp_targets" in runs.columns
            else ""
        )
    )
    return title, legend, headline_table(runs, keys)


def headline(results: Path) -> str:
    """The headline of every aggregated experiment under ``results``."""
    from . import manifests

    parts = []
    for exp in manifests.experiments_under(results)[0]:
        title, legend, table = headline_of(exp)
        parts.append(f"== {title}\n{legend}:\n{table.to_string(index=False)}")
    return "\n\n".join(parts)


def movement(results: Path) -> str:
    """The ``movement`` command: :func:`movement_table` and the claims' verdicts (primary
    analysis) of every experiment under ``results`` whose tables have the movement columns."""
    from . import manifests, storage
    from .claims import STATISTIC, keyed
    from .claims import table as claims_table

    parts = []
    for exp in manifests.experiments_under(results)[0]:
        metrics = manifests.verify_table(exp, "metrics.parquet")
        df = pd.read_parquet(metrics)
        if "movement_ratio" not in df.columns:
            continue
        meta = storage.read_metadata(metrics)
        frame = storage.primary(df, meta["config"]["evaluation"])
        keys = storage.layer_keys(meta["key_types"], frame)
        frame = storage.last_layer(frame) if "layer" in frame.columns else frame
        table = movement_table(frame, keys)
        verdicts = keyed(pd.read_parquet(manifests.verified_claims(exp)[0]))
        text = claims_table(verdicts[verdicts["primary"]])
        parts.append(
            f"== {meta['experiment']}: final movement of the hidden neurons along their own "
            "intra- and inter-class axes since initialisation (mean |Δ| over neurons), ratio "
            "intra/inter, and target alignment (TA); mean ± s.e.m. over seeds\n"
            f"{table.to_string(index=False)}\n\nclaims ({STATISTIC}):\n{text}"
        )
    return "\n\n".join(parts) or f"no experiment under {results} records neuron movement"


def claims(results: Path) -> int:
    """The ``claims`` command; returns the exit status."""
    import pandas as pd

    from . import manifests
    from .claims import STATISTIC, UNTESTED, keyed, table

    files = []
    for exp in manifests.experiments_under(results)[0]:
        # the claims are current only if the tables they were checked on still are
        for name in ("metrics.parquet", "dichotomies.parquet"):
            manifests.verify_table(exp, name)
        files.append(manifests.verified_claims(exp)[0])
    df = pd.concat([keyed(pd.read_parquet(f)) for f in files], ignore_index=True)
    print(f"The paper's claims, checked ({STATISTIC}):\n")
    print(table(df))
    main = df[df["primary"]]
    heads = [g.iloc[0] for _, g in main.groupby(["experiment", "claim"])]
    verdicts = [h["overall"] for h in heads]
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in dict.fromkeys(sorted(verdicts)))
    print(f"\n{len(verdicts)} claims: {counts}")
    flips = [h["overall_flips"] for h in heads if h.get("overall_flips")]
    if df[["decoder", "protocol"]].drop_duplicates().shape[0] > 1:
        settings = main[main["flips"].fillna("") != ""]
        print(
            f"overall verdicts that change with the analysis: {len(flips)} of {len(heads)} "
            f"(with the decoder: {sum('decoder' in f for f in flips)}, with the protocol: "
            f"{sum('protocol' in f for f in flips)}); settings whose verdict changes: "
            f"{len(settings)} of {int((~main['verdict'].isin(UNTESTED)).sum())}"
        )
    return 0


def prune(configfiles: list[str], remove: bool, other_experiments: bool) -> int:
    """The ``prune`` command, run in the workflow's directory; returns the exit status."""
    from . import prune as pr
    from .config import ConfigError
    from .locking import ResultsLocked, lock_results

    try:
        sweep = pr.Sweep(pr.load_config(configfiles))
    except (ConfigError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    source = " ".join(configfiles) or "config.yaml"
    where = Path(sweep.root).resolve()
    if not where.is_dir():
        print(
            f"{where}: no such folder (results_dir of {source}, from {Path.cwd()}); nothing to "
            "prune. Give the workflow's --directory and --configfile if they differ"
        )
        return 0
    problems: list[str] = []
    try:
        # the listing is made under the lock when deleting: no workflow changes it meanwhile
        with lock_results(sweep.root, "python -m repgeom prune") if remove else nullcontext():
            plan = pr.find_stale(sweep)
            if not plan and not plan.other_experiments:
                print(f"{where}: everything repgeom made there belongs to the sweep of {source}")
                if plan.left:
                    print(pr.report(plan))
                return 0
            print(f"{where}: not made by the sweep of {source}:\n{pr.report(plan)}")
            if remove:
                n, problems = pr.delete(plan, other_experiments)
                print(f"removed {n} files")
    except ResultsLocked as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"error: could not remove {problem}", file=sys.stderr)
    if plan.other_experiments and not (remove and other_experiments):
        print(
            "experiment folders this configuration does not name may belong to another "
            "configuration sharing the results folder: removed only with --other-experiments"
        )
    if not remove:
        print("nothing removed; run again with --delete to remove them")
    return 1 if problems else 0


def effects(results: Path) -> str:
    """The effects of every analysis against the primary one, per experiment under ``results``
    that has more than one analysis."""
    from . import manifests, storage
    from .effects import effects as compute
    from .effects import format_effects

    parts = []
    for exp in manifests.experiments_under(results)[0]:
        metrics = manifests.verify_table(exp, "metrics.parquet")
        meta = storage.read_metadata(metrics)
        ev = meta["config"]["evaluation"]
        primary = storage.primary_analysis(ev)
        if primary is None or len(ev["decoders"]) * len(ev["protocols"]) < 2:
            continue
        tables = {
            "metrics": pd.read_parquet(metrics),
            "dichotomies": storage.verified_table(exp, "dichotomies.parquet").to_pandas(),
        }
        df = compute(tables, meta["key_types"], primary)
        parts.append(f"== {meta['experiment']}\n{format_effects(df, primary)}")
    return "\n\n".join(parts) or f"no experiment under {results} has more than one analysis"


def verify(results: Path) -> int:
    """The ``verify`` command; returns the exit status (1 if any experiment fails)."""
    from . import manifests

    status = 0
    for exp in manifests.experiments_under(results)[0]:
        try:
            counts = manifests.verify_experiment(exp)
        except manifests.ManifestError as err:
            print(f"error: {err}", file=sys.stderr)
            status = 1
            continue
        print(f"{exp}: verified " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m repgeom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    h = sub.add_parser("headline", help="tanh vs relu target and input alignment per experiment")
    h.add_argument("results", nargs="?", default="results", type=Path)
    mv = sub.add_parser(
        "movement", help="E1: neuron movement along the intra/inter-class axes, with verdicts"
    )
    mv.add_argument("results", nargs="?", default="results", type=Path)
    c = sub.add_parser("claims", help="the paper's claims and their verdicts per experiment")
    c.add_argument("results", nargs="?", default="results", type=Path)
    e = sub.add_parser(
        "effects", help="how far each decoder and protocol moves the metrics from the primary"
    )
    e.add_argument("results", nargs="?", default="results", type=Path)
    v = sub.add_parser(
        "verify", help="check every result file against the manifests its jobs wrote"
    )
    v.add_argument("results", nargs="?", default="results", type=Path)
    p = sub.add_parser(
        "prune",
        help="list (and with --delete remove) results the configured sweep no longer makes",
    )
    p.add_argument(
        "--configfile",
        nargs="+",
        action="extend",  # given twice, both count (as Snakemake merges them)
        default=[],
        help="the configuration(s) given to snakemake (default: config.yaml)",
    )
    p.add_argument("--delete", action="store_true", help="remove what is listed")
    p.add_argument(
        "--other-experiments",
        action="store_true",
        help="with --delete, also remove experiment folders the configuration does not name",
    )
    p.add_argument(
        "--directory",
        default=".",
        type=Path,
        help="the workflow's working directory (snakemake --directory; default: here)",
    )
    t = sub.add_parser(
        "table",
        help="one experiment's results, one row per run, at one epoch, layer and analysis",
    )
    t.add_argument("experiment", type=Path, help="the experiment folder, e.g. results/delta")
    t.add_argument("--table", choices=("metrics", "dichotomies"), default="metrics")
    t.add_argument("--decoder", help="the analysis's decoder (default: the primary one)")
    t.add_argument("--protocol", help="the analysis's protocol (default: the primary one)")
    t.add_argument("--epoch", default="final", help="a snapshot epoch, or final (default)")
    t.add_argument("--layer", default="last", help="a hidden layer, last (default) or all")
    t.add_argument("--csv", type=Path, help="write the rows to this CSV file instead")
    args = parser.parse_args(argv)
    if args.command == "table":
        return table(args)
    if args.command == "prune":
        if not args.directory.is_dir():
            print(f"error: --directory {args.directory} is not a folder", file=sys.stderr)
            return 2
        try:
            os.chdir(args.directory)
            return prune(args.configfile, args.delete, args.other_experiments)
        except OSError as err:  # a folder or file we may not read: name it, no traceback
            print(f"error: {_os_error(err)}", file=sys.stderr)
            return 1
    try:
        return _read(args)
    except OSError as err:  # a file we may not read (permissions, a stale NFS handle)
        print(f"error: {_os_error(err)}", file=sys.stderr)
        return 1


def table(args) -> int:
    """``python -m repgeom table``: :func:`repgeom.results.final_runs` printed or written."""
    from .manifests import ManifestError
    from .results import SelectionError, final_runs

    if not (args.experiment / "manifest.json").is_file():
        print(
            f"error: {args.experiment} is not an aggregated experiment folder (no manifest.json);"
            " give results/<experiment>, or run the workflow first",
            file=sys.stderr,
        )
        return 2
    try:
        df = final_runs(
            args.experiment, args.table, args.decoder, args.protocol, args.epoch, args.layer
        )
    except (SelectionError, ManifestError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except ValueError as err:  # --epoch or --layer not a number
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.csv:
        df.to_csv(args.csv, index=False)
        print(f"wrote {len(df)} rows to {args.csv}")
    else:
        with pd.option_context("display.max_rows", 60, "display.width", 160):
            print(df)
    return 0


def _os_error(err: OSError) -> str:
    where = f"{err.filename}: " if err.filename else ""
    return f"{where}{err.strerror or err}; check the permissions of the results (or ask its owner)"


def _read(args) -> int:
    """The reading commands (headline, movement, claims, effects, verify); returns the exit
    status."""
    from .manifests import EXPERIMENT_MANIFEST, ManifestError, experiments_under

    if not args.results.is_dir():
        print(f"error: {args.results} is not a folder; give the results folder, or run the "
              "workflow first", file=sys.stderr)  # fmt: skip
        return 2
    found, notes = experiments_under(args.results)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not found:
        inside = (args.results / EXPERIMENT_MANIFEST).exists()
        print(
            f"error: no aggregated experiment (<experiment>/{EXPERIMENT_MANIFEST}) under "
            f"{args.results}; "
            + (
                f"it is an experiment folder itself: give the results folder above it "
                f"({args.results.resolve().parent})"
                if inside
                else "run the workflow first"
            ),
            file=sys.stderr,
        )
        return 2
    try:
        if args.command == "claims":
            return claims(args.results)
        if args.command == "verify":
            return verify(args.results)
        if args.command == "movement":
            print(movement(args.results))
            return 0
        print(effects(args.results) if args.command == "effects" else headline(args.results))
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
