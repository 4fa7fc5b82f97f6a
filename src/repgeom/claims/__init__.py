"""The paper's claims, checked on an experiment's results with seed-level statistics.

Each task family declares its claims in ``repgeom.claims.<family>`` (a ``CLAIMS`` tuple of
:class:`Claim`). A claim turns the final-epoch results of one experiment into *contrasts*: for
each setting it names (a δ and σ, say), one number per seed whose sign is the claim, e.g.
tanh's target alignment minus relu's for the same seed. Runs of one seed share their data,
initial weights and minibatch order across activations and cells, so differences are paired by
seed, which removes the variance the runs share.

The statistic is a two-sided 95 % Student-t interval on the mean contrast over seeds:
``supported`` when it lies above 0, ``contradicted`` when below, ``inconclusive`` when it
straddles 0 or fewer than :data:`MIN_SEEDS` seeds are there. A t interval rather than a sign
test: with the 4–10 seeds of a typical sweep a sign test cannot reach 95 % below 6 seeds
(two-sided p ≥ 0.0625 at n = 5), and seed-level contrasts of these smooth metrics are close to
normal; the interval also says how large the effect is. Where a contrast is the largest of
several candidates (a non-monotonicity: the interior point with the largest peak or dip), the
interval is Bonferroni-widened for the number of candidates. A claim whose data the sweep does not
hold (one δ only, no relu) is ``not run``, never an error; a claim about something the
experiment does not hold at all (an ablation claim on an experiment of tanh and relu only) is
``not applicable`` there.

Every verdict is per setting. A claim's overall verdict is ``supported`` only if every tested
setting is (an intersection–union test: valid at 5 % without correction), ``contradicted`` if
some setting's interval lies below 0 even at the Bonferroni level 1 − 0.05 / (settings), so
that one unlucky setting among many does not contradict a claim, and ``inconclusive`` otherwise.

Every claim is checked under every analysis the experiment evaluated (each decoder under each
protocol, ``repgeom.evaluation``). A verdict that differs between two decoders under one
protocol *depends on the decoder*; one that differs between two protocols with one decoder
*depends on the protocol*. Both are flagged, per setting (``flips``) and per claim
(``overall_flips``), so a conclusion that rests on an analysis choice is visible at a glance.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

MIN_SEEDS = 3
LEVEL = 0.95
VERDICTS = ("supported", "contradicted", "inconclusive", "not run", "not applicable")
#: verdicts that are no test of the claim: the sweep cannot test it (``not run``), or the
#: experiment holds nothing the claim is about (``not applicable``: an ablation claim on an
#: experiment of tanh and relu only)
UNTESTED = ("not run", "not applicable")
#: the columns of claims.parquet, in order
COLUMNS = (
    "experiment",
    "decoder",
    "protocol",
    "primary",
    "claim",
    "statement",
    "setting",
    "metric",
    "effect",
    "ci_low",
    "ci_high",
    "n",
    "verdict",
    "overall",
    "flips",
    "overall_flips",
)
#: the analysis of results evaluated before decoders and protocols were keys
UNKEYED = ("svm", "clean")


@dataclass(frozen=True)
class Contrast:
    """One setting of a claim: per-seed values whose mean is claimed positive."""

    setting: str
    metric: str
    values: np.ndarray  # (n_seeds,), NaN-free
    #: candidates this contrast was picked from as the largest (a peak or dip chosen among the
    #: interior points): its interval is widened to level 1 − (1 − LEVEL) / candidates
    #: (Bonferroni), so picking the best does not make a claim look supported by chance
    candidates: int = 1

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """The (low, high) interval at ``level``, corrected for the candidates."""
        return t_interval(self.values, 1 - (1 - level) / self.candidates)[1:]


@dataclass(frozen=True)
class Claim:
    """A claim of the paper about one task family.

    ``contrasts(final, dich, keys)`` gets the experiment's final-epoch run metrics and
    per-dichotomy metrics (one row per run; dichotomies in long form) and its cell keys (the
    run keys but act and seed), and yields the claim's contrasts, or a string saying why the
    sweep cannot test it.
    """

    id: str
    statement: str
    contrasts: Callable[[pd.DataFrame, pd.DataFrame, list[str]], Iterator[Contrast] | str]
    #: ``subject(final)``: None if the experiment holds what the claim is about, else why not
    #: (the claim is then ``not applicable`` there, not ``not run``); None: always applies
    subject: Callable[[pd.DataFrame], str | None] | None = None


def t_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, low, high): the two-sided Student-t interval of the mean of ``values`` (n ≥ 2)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    mean = float(v.mean())
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def verdict(
    values: np.ndarray, min_seeds: int = MIN_SEEDS, candidates: int = 1
) -> tuple[float, float, float, str]:
    """(effect, ci_low, ci_high, verdict) of a claimed-positive contrast over seeds; the
    interval's level is corrected for ``candidates`` (see :class:`Contrast`)."""
    v = np.asarray(values, dtype=float)
    if len(v) < max(min_seeds, 2):
        mean = float(v.mean()) if len(v) else float("nan")
        return mean, float("nan"), float("nan"), "inconclusive"
    mean, lo, hi = t_interval(v, 1 - (1 - LEVEL) / candidates)
    if lo > 0:
        return mean, lo, hi, "supported"
    if hi < 0:
        return mean, lo, hi, "contradicted"
    return mean, lo, hi, "inconclusive"


def overall(verdicts: list[str], contrasts: list[Contrast] = ()) -> str:
    """A claim's verdict over its settings (see the module docstring); ``contrasts``, the
    tested settings' contrasts, decide ``contradicted`` at the Bonferroni level."""
    tested = [v for v in verdicts if v not in UNTESTED]
    if not tested:
        return "not applicable" if "not applicable" in verdicts else "not run"
    if all(v == "supported" for v in tested):
        return "supported"
    usable = [c for c in contrasts if len(c.values) >= max(MIN_SEEDS, 2)]
    if any(c.interval(1 - (1 - LEVEL) / len(usable))[1] < 0 for c in usable):
        return "contradicted"
    return "inconclusive"


def final_epoch(df: pd.DataFrame, run_keys: list[str]) -> pd.DataFrame:
    """Each run's rows at its last snapshot."""
    last = df.groupby(run_keys, observed=True)["epoch"].transform("max")
    return df[df["epoch"] == last].reset_index(drop=True)


def claims_of(family: str) -> tuple[Claim, ...]:
    """The claims the family ``family`` declares (none if it has no claims module)."""
    name = f"{__name__}.{family}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name != name:
            raise
        return ()
    return module.CLAIMS


def check(
    experiment: str,
    family: str,
    metrics: pd.DataFrame,
    dichotomies: pd.DataFrame,
    key_types: dict[str, str],
    primary: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """Every claim of ``family`` on one experiment's aggregated tables under every analysis:
    one row per analysis, claim and setting (columns :data:`COLUMNS`). ``primary``: the
    (decoder, protocol) shown first (default: the first in the tables)."""
    if "decoder" not in metrics.columns:
        metrics = metrics.assign(decoder=UNKEYED[0], protocol=UNKEYED[1])
        dichotomies = dichotomies.assign(decoder=UNKEYED[0], protocol=UNKEYED[1])
    analyses = list(dict.fromkeys(zip(metrics["decoder"], metrics["protocol"], strict=True)))
    primary = primary or analyses[0]
    frames = []
    for dec, prot in analyses:
        m = metrics[(metrics["decoder"] == dec) & (metrics["protocol"] == prot)]
        d = dichotomies[(dichotomies["decoder"] == dec) & (dichotomies["protocol"] == prot)]
        df = check_one(experiment, family, m, d, key_types)
        df.insert(1, "decoder", dec)
        df.insert(2, "protocol", prot)
        df.insert(3, "primary", (dec, prot) == primary)
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    out["flips"] = _flips(out, ["claim", "setting"], "verdict")
    heads = out.drop_duplicates(["claim", "decoder", "protocol"])
    claim_flips = dict(zip(heads["claim"], _flips(heads, ["claim"], "overall"), strict=True))
    out["overall_flips"] = out["claim"].map(claim_flips)
    order = {a: i for i, a in enumerate([primary] + [a for a in analyses if a != primary])}
    out["_order"] = [order[a] for a in zip(out["decoder"], out["protocol"], strict=True)]
    out = out.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    return out[list(COLUMNS)]


def _flips(df: pd.DataFrame, by: list[str], column: str) -> pd.Series:
    """Per row: "depends on decoder" / "depends on protocol" / both / "" where ``column``
    differs between decoders under one protocol / between protocols with one decoder, within
    the row's group ``by`` (:data:`UNTESTED` are no verdicts and never flip)."""
    tested = df[~df[column].isin(UNTESTED)]
    flags: dict[tuple, list[str]] = {}
    for key, g in tested.groupby(by, sort=False):
        what = []
        if (g.groupby("protocol")[column].nunique() > 1).any():
            what.append("decoder")
        if (g.groupby("decoder")[column].nunique() > 1).any():
            what.append("protocol")
        flags[key if isinstance(key, tuple) else (key,)] = what
    keys = [tuple(r) for r in df[by].itertuples(index=False)]
    return pd.Series(
        ["depends on " + " and ".join(flags[k]) if flags.get(k) else "" for k in keys],
        index=df.index,
        dtype="string",
    )


def check_one(
    experiment: str,
    family: str,
    metrics: pd.DataFrame,
    dichotomies: pd.DataFrame,
    key_types: dict[str, str],
) -> pd.DataFrame:
    """Every claim of ``family`` on one analysis of an experiment: one row per claim and
    setting."""
    from ..storage import layer_keys

    keys = list(layer_keys(key_types, metrics))  # each hidden layer is a setting of its own
    cell = [k for k in keys if k not in ("act", "seed")]
    final = final_epoch(metrics, keys)
    dich = final_epoch(dichotomies, keys + ["dichotomy"])
    rows = []
    for claim in claims_of(family):
        base = {"experiment": experiment, "claim": claim.id, "statement": claim.statement}
        if claim.subject is not None and (why := claim.subject(final)):
            rows.append(
                base
                | {"setting": why, "metric": "", "n": 0}
                | {"verdict": "not applicable", "overall": "not applicable"}
            )
            continue
        out = claim.contrasts(final, dich, cell)
        contrasts = [] if isinstance(out, str) else [c for c in out if len(c.values)]
        if not contrasts:
            why = out if isinstance(out, str) else "no seed has the runs this claim compares"
            rows.append(base | {"setting": why, "metric": "", "n": 0, "verdict": "not run"})
            rows[-1]["overall"] = "not run"
            continue
        mine = []
        for c in contrasts:
            effect, lo, hi, v = verdict(c.values, candidates=c.candidates)
            mine.append(
                base
                | {"setting": c.setting, "metric": c.metric, "effect": effect}
                | {"ci_low": lo, "ci_high": hi, "n": len(c.values), "verdict": v}
            )
        verdict_all = overall([r["verdict"] for r in mine], contrasts)
        rows += [r | {"overall": verdict_all} for r in mine]
    columns = [c for c in COLUMNS if c not in ("decoder", "protocol", "primary", "flips",
                                                "overall_flips")]  # fmt: skip
    df = pd.DataFrame(rows, columns=columns)
    df["n"] = df["n"].fillna(0).astype("int64")
    for c in ("effect", "ci_low", "ci_high"):
        df[c] = df[c].astype("float64")
    return df


# --------------------------------------------------------------------------- helpers for claims


def paired(
    final: pd.DataFrame, metric: str, a: pd.Series, b: pd.Series, by: list[str]
) -> Iterator[tuple[tuple, np.ndarray]]:
    """Per group of ``by``: ``metric`` where ``a`` minus where ``b``, paired by seed.

    ``a`` and ``b`` are boolean masks over ``final`` (e.g. act == tanh, act == relu).
    """
    A = final[a].set_index(by + ["seed"])[metric]
    B = final[b].set_index(by + ["seed"])[metric]
    diff = (A - B).dropna()
    if diff.empty:
        return
    if not by:
        yield (), diff.to_numpy()
        return
    for key, vals in diff.groupby(level=list(range(len(by))), sort=True):
        yield (key if isinstance(key, tuple) else (key,)), vals.to_numpy()


def two_sided_beyond_tanh(name: str) -> bool:
    """An activation of the registry's two-sided saturating kind other than tanh itself."""
    from ..activation_names import TWO_SIDED, activation_kind

    return name != "tanh" and activation_kind(name) == TWO_SIDED


def one_sided_beyond_relu(name: str) -> bool:
    """An activation of the registry's one-sided kind other than relu itself."""
    from ..activation_names import ONE_SIDED, activation_kind

    return name != "relu" and activation_kind(name) == ONE_SIDED


def side_contrasts(
    final: pd.DataFrame,
    keys: list[str],
    wanted: Callable[[str], bool],
    measures: tuple[tuple[str, str], ...],
    near: str,
    far: str,
) -> list[Contrast]:
    """Which side of ``near`` and ``far`` (tanh and relu) each activation ``wanted`` picks
    lands on: per activation, measure (column, label) and cell, the per-seed contrast
    |x − far's| − |x − near's|, positive when nearer ``near``. Beyond either end it equals the
    near–far gap itself: the contrast tells the side, not how far past it."""
    acts = sorted(a for a in set(final["act"]) if wanted(a))
    by = varying(final, keys)
    cell = [k for k in keys if k in final.columns]
    out = []
    for metric, name in measures:
        table = final.set_index([*cell, "seed", "act"])[metric].unstack("act")
        for a in acts:
            gap = (table[a] - table[far]).abs() - (table[a] - table[near]).abs()
            gap = gap.dropna().rename("c").reset_index()
            for key, g in groups(gap, by):
                where = setting(by, key)
                out.append(
                    Contrast(
                        f"{a}, {name}" + (f", {where}" if by else ""),
                        f"|x − {far}'s| − |x − {near}'s|",
                        g["c"].to_numpy(),
                    )
                )
    return out


def about(wanted: Callable[[str], bool], what: str) -> Callable[[pd.DataFrame], str | None]:
    """A claim's ``subject`` (:class:`Claim`): the claim is about the activations ``wanted``
    picks (``what`` names them), and not applicable to an experiment that runs none."""

    def subject(final: pd.DataFrame) -> str | None:
        if any(wanted(a) for a in set(final["act"])):
            return None
        runs = ", ".join(sorted(set(final["act"])))
        return f"about {what}, and this experiment runs none (it runs {runs})"

    return subject


def missing(df: pd.DataFrame, *acts: str) -> str | None:
    """Why a claim comparing ``acts`` cannot be tested on ``df`` (None if it can)."""
    gone = [a for a in acts if a not in set(df["act"])]
    return f"needs activations {', '.join(gone)}" if gone else None


def activation_gap(
    df: pd.DataFrame,
    keys: list[str],
    metric: str,
    a: str,
    b: str,
    label: str | None = None,
    empty: str = "no runs",
    default_by: tuple[str, ...] = (),
):
    """The contrast ``metric`` of ``a`` minus ``b``, per setting of the varying ``keys``
    (``default_by`` names the setting when none varies), or why not (``empty`` if ``df`` has
    no rows)."""
    if df.empty:
        return empty
    if why := missing(df, a, b):
        return why
    by = varying(df, keys) or list(default_by)
    return (
        Contrast(setting(by, key), label or metric, v)
        for key, v in paired(df, metric, df["act"] == a, df["act"] == b, by)
    )


def groups(df: pd.DataFrame, by: list[str]):
    """(key tuple, group) over ``by``; the whole frame as one group when ``by`` is empty."""
    if not by:
        yield (), df
        return
    for key, g in df.groupby(by, observed=True, sort=True):
        yield (key if isinstance(key, tuple) else (key,)), g


def setting(by: list[str], key: tuple) -> str:
    """``delta=0.5, sigma=0.1``."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in zip(by, key, strict=True)) or "all"


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def varying(final: pd.DataFrame, keys: list[str]) -> list[str]:
    """The keys among ``keys`` that take more than one value in ``final``."""
    return [k for k in keys if k in final.columns and final[k].nunique() > 1]


STATISTIC = (
    f"paired by seed; two-sided {LEVEL:.0%} Student-t interval on the mean contrast, "
    f"Bonferroni-widened where a contrast is the best of several; inconclusive below "
    f"{MIN_SEEDS} seeds with data; a claim is contradicted only at the Bonferroni level over "
    "its settings"
)


def write_claims(experiment_dir, experiment: str, family: str, parquet_out, table_out) -> None:
    """Check the claims of one aggregated experiment; write claims.parquet and a TSV table."""
    import pyarrow as pa

    from .. import manifests, storage

    metrics = manifests.verify_table(experiment_dir, "metrics.parquet")
    dichotomies = storage.verified_table(experiment_dir, "dichotomies.parquet").to_pandas()
    meta = storage.read_metadata(metrics)
    primary = storage.primary_analysis(meta["config"]["evaluation"])
    df = check(
        experiment, family, pd.read_parquet(metrics), dichotomies, meta["key_types"], primary
    )
    meta = {
        "experiment": experiment,
        "statistic": STATISTIC,
        "versions": storage.package_versions(),
    }
    storage.write_parquet(pa.Table.from_pandas(df, preserve_index=False), parquet_out, meta)
    with storage.atomic(table_out) as tmp:
        df.to_csv(tmp, sep="\t", index=False, float_format="%.4f")


def keyed(claims: pd.DataFrame) -> pd.DataFrame:
    """``claims`` with the analysis columns, which a table written before analyses were keys
    lacks (it holds one analysis: the primary one)."""
    missing = {
        "decoder": UNKEYED[0],
        "protocol": UNKEYED[1],
        "primary": True,
        "flips": "",
        "overall_flips": "",
    }
    return claims.assign(**{k: v for k, v in missing.items() if k not in claims.columns})


def _analysis(r) -> str:
    return f"{r.decoder}/{r.protocol}"


def table(claims: pd.DataFrame) -> str:
    """The claims of one or more experiments as readable text: per claim, its overall verdict
    under the primary analysis with its flip flag, then one line per setting (primary
    analysis); where other analyses were evaluated, each claim's overall verdict under each,
    and each flipped setting's verdicts."""
    claims = keyed(claims)
    lines = []
    for (exp, _), rows in claims.groupby(["experiment", "claim"], sort=False):
        main = rows[rows["primary"]]
        others = rows[~rows["primary"]]
        head = main["overall"].iloc[0]
        flag = main["overall_flips"].iloc[0]
        analysis = _analysis(main.iloc[0])
        lines.append(
            f"[{head}{'; ' + flag if flag else ''}] {exp}: {main['statement'].iloc[0]}"
            f"  ({analysis})"
        )
        for r in main.itertuples():
            if r.verdict in UNTESTED:
                lines.append(f"    {r.verdict}: {r.setting}")
                continue
            ci = (
                f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]"
                if np.isfinite(r.ci_low)
                else "[too few seeds]"
            )
            lines.append(
                f"    {r.setting:<36} {r.metric:<24} {r.effect:+.3f} {ci:<18} n={r.n:<3} "
                f"{r.verdict}"
            )
            if r.flips:
                alt = others[(others["setting"] == r.setting) & (others["verdict"] != r.verdict)]
                lines.append(
                    f"      {r.flips}: "
                    + ", ".join(
                        f"{_analysis(a)} {a.verdict} ({a.effect:+.3f})" for a in alt.itertuples()
                    )  # fmt: skip
                )
        if not others.empty:
            per = others.drop_duplicates(["decoder", "protocol"])
            lines.append(
                "    overall under the other analyses: "
                + ", ".join(f"{_analysis(a)} {a.overall}" for a in per.itertuples())
            )
    return "\n".join(lines)
