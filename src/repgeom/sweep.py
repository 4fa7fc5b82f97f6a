"""Expansion of the configured experiments into runs, training blocks and result paths.

Imported by the Snakefile on every parse (also inside every cluster job), so it stays cheap: no
torch, no file-system scans.

An *experiment* is a named sweep of one task family. Its *cells* are the points of its axes
without the seed: the shared keys (arch, act, readout) and then the family's own keys. A
training job trains one block of seeds of every cell that differs only in the *packed* axes
(``training.pack_axes``, none by default): seed s belongs to block s // runs_per_job. Blocks
depend only on the seed values, so adding seeds leaves complete blocks untouched and retrains at
most one partially filled block per job. Each experiment writes its own hive-partitioned tree::

    <results_dir>/<experiment>/runs/arch=…/act=…/readout=…/<family keys>=…/seed=…/
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path

from . import networks
from .config import per_activation
from .manifests import RECIPE_PATTERN, claims_recipe, recipe_hash, report_recipe
from .tasks import Family, get_family

#: keys every experiment sweeps, in path order before the family's own keys
SHARED_KEYS = {"arch": "string", "act": "string", "readout": "string"}
_SHARED_AXES = {"arch": "architectures", "act": "activations", "readout": "readouts"}
#: shared keys an experiment sweeps only when it names their axis (after the others in path
#: order): ``opt`` once ``optimizers`` is given, so experiments without it keep their paths
OPTIONAL_KEYS = {"opt": "string"}
_OPTIONAL_AXES = {"opt": "optimizers"}
#: the settings of a training section that change results (not progress, device or packing)
EXECUTION_KEYS = (
    "runs_per_job",
    "pack_axes",
    "device",
    "threads",
    "progress_every_s",
    "checkpoint_every_s",
)
#: keys that can share a training job (all but the activation, the architecture and the
#: optimiser, which fix the model and the update rule that a job trains with)
_UNPACKABLE = ("arch", "act", "opt")


def fmt_float(x) -> str:
    """One canonical spelling of a float for paths: shortest round-trip digits, positional.

    0.1, 1e-1 and 0.10 all give '0.1'; 1 gives '1.0'; 1e-05 gives '0.00001'; -0.0 gives '0.0'
    (it equals 0.0: one value, one folder).
    """
    x = float(x)
    s = format(Decimal(repr(x if x != 0 else 0.0)), "f")
    return s if "." in s else s + ".0"


def fmt_value(value, kind: str) -> str:
    """A key's value as spelled in paths and wildcards."""
    if kind == "float64":
        return fmt_float(value)
    if kind == "int64":
        return str(int(value))
    return str(value)


def parse_value(text: str, kind: str):
    """Inverse of :func:`fmt_value`."""
    return float(text) if kind == "float64" else int(text) if kind == "int64" else text


def seed_list(seeds) -> list[int]:
    """``seeds`` as a sorted list of ints: an integer n (or an integral float such as 3.0) means
    0..n-1; a list is sorted, with equal values (2 and 2.0) once."""
    if isinstance(seeds, (int, float)) and not isinstance(seeds, bool):
        if not float(seeds).is_integer():
            raise ValueError(f"seeds: {seeds!r} is not a whole number")
        return list(range(int(seeds)))
    out = set()
    for s in seeds:
        if isinstance(s, bool) or not float(s).is_integer():
            raise ValueError(f"seeds: {s!r} is not a whole number")
        out.add(int(s))
    return sorted(out)


@dataclass(frozen=True)
class Block:
    """A training batch: the seeds of one block, shared by every cell of an experiment."""

    index: int
    seeds: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"block{self.index}"


def checkpoint_path(train_manifest: str) -> str:
    """Where the training job of ``train_manifest`` keeps its checkpoint until it is done."""
    return train_manifest.removesuffix(".json") + ".checkpoint.npz"


#: the wildcard of a job manifest's name that holds its recipe hash (repgeom.manifests)
RECIPE_WILDCARD = "recipe"


class Experiment:
    """The runs of one named experiment of a resolved configuration."""

    def __init__(self, name: str, cfg: dict, results_dir: str):
        self.name = name
        self.cfg = cfg
        self.family: Family = get_family(cfg["family"])
        self.root = f"{results_dir.rstrip('/')}/{name}"
        self.seeds = seed_list(cfg["seeds"])

    # -- structure ---------------------------------------------------------------------
    @property
    def analyses(self) -> list[tuple[str, str]]:
        """(decoder, protocol) of every analysis, the primary one first."""
        ev = self.cfg["evaluation"]
        return [(d, p) for d in ev["decoders"] for p in ev["protocols"]]

    @property
    def figures(self) -> tuple[str, ...]:
        """Names of the experiment's figures: its family's that its axes call for
        (:attr:`Family.figures_for`), ``analyses`` when it has more than one analysis,
        ``layers`` when an architecture has more than one hidden layer."""
        deep = any(networks.n_layers(a) > 1 for a in self.cfg["architectures"])
        own = self.family.figures
        if self.family.figures_for is not None:
            own = self.family.figures_for({k: self.axis_values(k) for k in self.key_types})
        return (
            own + (("analyses",) if len(self.analyses) > 1 else ()) + (("layers",) if deep else ())
        )

    @property
    def shared_axes(self) -> dict[str, str]:
        """Shared cell keys in path order → the experiment's list that sweeps them."""
        optional = {k: a for k, a in _OPTIONAL_AXES.items() if a in self.cfg}
        return _SHARED_AXES | optional

    @property
    def key_types(self) -> dict[str, str]:
        """Cell keys in path order with their types (seed excluded)."""
        optional = {k: t for k, t in OPTIONAL_KEYS.items() if _OPTIONAL_AXES[k] in self.cfg}
        return SHARED_KEYS | optional | self.family.keys

    @property
    def run_key_types(self) -> dict[str, str]:
        return self.key_types | {"seed": "int64"}

    @cached_property
    def _expanded(self) -> list[tuple[dict, dict]]:
        """(cell, extra task parameters) pairs: the product of the shared axes and the family's
        own cells, values spelled as in paths."""
        from .activation_names import canonical_activation

        shared = {k: list(self.cfg[a]) for k, a in self.shared_axes.items()}
        shared["act"] = list(dict.fromkeys(canonical_activation(a) for a in shared["act"]))
        shared["arch"] = list(dict.fromkeys(networks.canonical_network(a) for a in shared["arch"]))
        fam_keys = self.family.keys
        own = []
        for c in self.family.expand(self.cfg["axes"]):
            key = {k: fmt_value(c[k], t) for k, t in fam_keys.items()}
            extra = {k: v for k, v in c.items() if k not in fam_keys}
            own.append((key, extra))
        own = list({tuple(k.values()): (k, e) for k, e in own}.values())  # 0.1 and 0.10 are one
        out = []
        for vals in itertools.product(*shared.values()):
            for key, extra in own:
                out.append((dict(zip(shared, vals, strict=True)) | key, extra))
        return out

    @property
    def cells(self) -> list[dict]:
        return [c for c, _ in self._expanded]

    @cached_property
    def blocks(self) -> list[Block]:
        size = self.cfg["training"]["runs_per_job"]
        by: dict[int, list[int]] = {}
        for s in self.seeds:
            by.setdefault(s // size, []).append(s)
        return [Block(i, tuple(v)) for i, v in sorted(by.items())]

    @property
    def n_runs(self) -> int:
        return len(self._expanded) * len(self.seeds)

    # -- packing ---------------------------------------------------------------------------
    @property
    def pack_keys(self) -> list[str]:
        """Keys whose values share a training job, in path order."""
        packed = set(self.cfg["training"].get("pack_axes", []))
        return [k for k in self.key_types if k in packed]

    @property
    def packable_keys(self) -> list[str]:
        return [k for k in self.key_types if k not in _UNPACKABLE]

    @property
    def job_keys(self) -> list[str]:
        """Keys that tell training jobs apart (the rule's wildcards)."""
        return [k for k in self.key_types if k not in self.pack_keys]

    @cached_property
    def packed_combos(self) -> list[dict]:
        """The values of the packed keys that every training job holds (one empty dict when
        nothing is packed). They must not depend on the other keys."""
        by_job: dict[tuple, list[dict]] = {}
        for c in self.cells:
            by_job.setdefault(tuple(c[k] for k in self.job_keys), []).append(
                {k: c[k] for k in self.pack_keys}
            )
        combos = list(by_job.values())
        if any(c != combos[0] for c in combos):
            raise ValueError(
                f"training.pack_axes: {', '.join(self.pack_keys)} take different values in "
                "different cells, so they cannot share a job; pack other axes"
            )
        return combos[0]

    def pack_errors(self) -> list[str]:
        bad = [k for k in self.cfg["training"].get("pack_axes", []) if k not in self.packable_keys]
        if bad:
            return [
                f"training.pack_axes: {', '.join(bad)} cannot be packed into one job; allowed: "
                f"{', '.join(self.packable_keys)}"
            ]
        return []

    def axis_values(self, key: str) -> list[str]:
        """The distinct values of a cell key, in sweep order."""
        return list(dict.fromkeys(c[key] for c in self.cells))

    # -- paths -------------------------------------------------------------------------
    def cell_dir(self, cell: dict) -> str:
        return "/".join([self.root + "/runs"] + [f"{k}={cell[k]}" for k in self.key_types])

    def job_cells(self) -> list[dict]:
        """The distinct values of the job keys: one training job per job cell and block."""
        return list(
            {
                tuple(c[k] for k in self.job_keys): {k: c[k] for k in self.job_keys}
                for c in self.cells
            }.values()
        )

    def manifest(self, block: Block, stage: str, job: dict | None = None) -> str:
        """The manifest a ``stage`` (train, evaluate) job writes once all its runs' files are
        complete: the file Snakemake tracks, named for the job's recipe (so a changed
        configuration names another file, which Snakemake then makes). Wildcards for the job
        keys and the recipe unless ``job`` gives the job keys' values."""
        if job is None:
            job = {k: "{" + k + "}" for k in self.job_keys}
            recipe = "{" + RECIPE_WILDCARD + "}"
        else:
            recipe = self._recipe_hash(tuple(job[k] for k in self.job_keys), block, stage)
        keys = "/".join(f"{k}={job[k]}" for k in self.job_keys)
        return f"{self.root}/jobs/{keys}/{block.name}-{recipe}.{stage}.json"

    def recipe(self, job, block: Block, stage: str) -> dict:
        """What the ``stage`` job of ``job`` (its job keys' values) and ``block`` makes its
        files from: the runs' resolved configurations (train), or the training's recipe hash,
        the evaluation settings and the revisions of its revised protocols (evaluate)."""
        job = tuple(job[k] for k in self.job_keys)
        return self._recipe(job, block, stage)

    @functools.cache  # noqa: B019 (an experiment lives as long as the workflow's parse)
    def _recipe_hash(self, job: tuple, block: Block, stage: str) -> str:
        return recipe_hash(self._recipe(job, block, stage))

    @functools.cache  # noqa: B019 (an experiment lives as long as the workflow's parse)
    def _recipe(self, job: tuple, block: Block, stage: str) -> dict:
        train = {"runs": self.block_configs(dict(zip(self.job_keys, job, strict=True)), block)}
        if stage == "train":
            return train
        return (
            {
                "train": self._recipe_hash(job, block, "train"),
                "evaluation": self.cfg["evaluation"],
            }
            | self.protocol_revisions()
            | self.family_outputs()
        )

    def family_outputs(self) -> dict:
        """``{"family_outputs": {...}}`` for a family whose evaluation writes more than every
        family's files and columns (``trajectories``: each run's trajectories.parquet;
        ``run_columns``: its own run-level columns, :class:`repgeom.tasks.Family`), else
        ``{}``: evaluations made before the family had them name other manifests and are
        redone, and the recipes of every other family are unchanged."""
        fam, out = self.family, {}
        if fam.trajectories:
            out["trajectories"] = True
        if fam.extra_run_columns:
            out["run_columns"] = list(fam.extra_run_columns)
        return {"family_outputs": out} if out else {}

    def protocol_revisions(self) -> dict:
        """``{"protocol_revisions": {name: revision}}`` for the experiment's protocols revised
        at least once (``repgeom.protocols.Protocol.revision``), else ``{}``: a revision names
        new evaluation manifests, so results of a protocol's earlier definition are
        re-evaluated, and the recipes of experiments without revised protocols are unchanged."""
        known = self.family.protocols
        revised = {
            n: known[n].revision for n in self.cfg["evaluation"]["protocols"] if known[n].revision
        }
        return {"protocol_revisions": revised} if revised else {}

    @functools.cache  # noqa: B019 (an experiment lives as long as the workflow's parse)
    def aggregate_recipe(self) -> dict:
        """What the experiment's aggregation is made from: its jobs (whose names carry their
        recipes) and the settings that change results."""
        return {
            "jobs": [
                Path(m).relative_to(self.root).as_posix()
                for stage in ("train", "evaluate")
                for m in self.all_manifests(stage)
            ],
            "config": self.semantic_config(),
        }

    def semantic_config(self) -> dict:
        """The experiment's settings that change results (not progress, device, packing or
        figures)."""
        from .activation_names import canonical_activation

        cfg = dict(self.cfg)
        cfg["training"] = {k: v for k, v in cfg["training"].items() if k not in EXECUTION_KEYS}
        # names in any spelling are one setting (relu_bias+.50 is relu_bias+0.5): the same runs
        cfg["activations"] = list(dict.fromkeys(map(canonical_activation, cfg["activations"])))
        canonical = map(networks.canonical_network, cfg["architectures"])
        cfg["architectures"] = list(dict.fromkeys(canonical))
        for key in networks.PER_ACTIVATION_SETTINGS:  # values per activation: names canonical
            value = (cfg.get("model") or {}).get(key)
            if isinstance(value, dict):
                canonical_keys = {canonical_activation(a): v for a, v in value.items()}
                cfg["model"] = dict(cfg["model"]) | {key: canonical_keys}
        return {k: v for k, v in cfg.items() if k != "figures"}

    def stage_manifest(self, stage: str) -> str:
        """The recipe-named manifest of an experiment-wide ``stage`` (aggregate, claims,
        figures, report)."""
        return f"{self.root}/jobs/{stage}-{recipe_hash(self.stage_recipe(stage))}.json"

    def stage_recipe(self, stage: str) -> dict:
        """What an experiment-wide ``stage`` makes its files from (its manifest's recipe)."""
        agg = recipe_hash(self.aggregate_recipe())
        figures = {"aggregate": agg, "figures": self.cfg["figures"]} | {
            # the names too: a version that draws another figure draws it on the next run
            "names": list(self.figures)
        }
        return {
            "aggregate": self.aggregate_recipe(),
            "claims": claims_recipe(agg),
            "figures": figures,
            "report": report_recipe(agg, figures),
        }[stage]

    def all_manifests(self, stage: str) -> list[str]:
        return [self.manifest(b, stage, j) for j in self.job_cells() for b in self.blocks]

    def job_tag(self) -> str:
        """A training job as one flat name with wildcards (for log files)."""
        return "_".join(f"{k}={{{k}}}" for k in self.job_keys)

    def job_run_files(self, wildcards, block: Block, name: str) -> list[str]:
        """The per-run files ``name`` of one job, in the order of :meth:`block_configs`."""
        job = {k: wildcards[k] for k in self.job_keys}
        return [
            self.run_file(job | combo, seed, name)
            for combo in self.packed_combos
            for seed in block.seeds
        ]

    def run_file(self, cell: dict, seed: int, name: str) -> str:
        return f"{self.cell_dir(cell)}/seed={seed}/{name}"

    # -- resolved run configuration ------------------------------------------------------
    @cached_property
    def _extra_by_cell(self) -> dict[tuple, dict]:
        return {tuple(c.values()): e for c, e in self._expanded}

    def run_config(self, cell: dict, seed: int) -> dict:
        """The full configuration of one run, as stored in its parquet metadata.

        Holds only what determines the trained weights (no progress or device settings), so
        Snakemake's params trigger retrains exactly when results would change.
        """
        c = self.cfg
        t, tr, m = c["task"], c["training"], c["model"]
        fam = self.family.keys
        cell = {k: cell[k] for k in self.key_types}
        extra = self._extra_by_cell[tuple(cell.values())]
        data_seed = seed if t["data_seed"] is None else t["data_seed"]
        model = networks.model_settings(cell["arch"], m)
        for key in networks.PER_ACTIVATION_SETTINGS:
            if key in model:  # a mapping activation → value: this run's activation's value
                model[key] = per_activation(model[key], cell["act"])
        training = {k: v for k, v in tr.items() if k not in EXECUTION_KEYS}
        if "opt" in cell:  # the optimisers axis sets each run's optimiser
            training["optimizer"] = cell["opt"]
        if isinstance(training.get("lr"), dict):  # a learning rate per optimiser: this run's
            training["lr"] = training["lr"][training["optimizer"]]
        return {
            "experiment": self.name,
            "run": cell | {"seed": seed},
            "task": {"family": self.family.name}
            | {k: parse_value(cell[k], typ) for k, typ in fam.items()}
            | extra
            | {k: v for k, v in t.items() if k != "data_seed"}
            | {"data_seed": data_seed},
            "model": {"arch": cell["arch"], "activation": cell["act"]}
            | model
            | {"readout": cell["readout"], "init_seed": seed},
            "training": training | {"shuffle_seed": seed},
        }

    def block_configs(self, wildcards, block: Block) -> list[dict]:
        """The run configurations of one training job, in the order of :meth:`job_run_files`."""
        job = {k: wildcards[k] for k in self.job_keys}
        return [
            self.run_config(job | combo, s) for combo in self.packed_combos for s in block.seeds
        ]

    # -- figure settings -------------------------------------------------------------------
    def count_errors(self) -> list[str]:
        """An experiment too large to plan, found by counting its runs without expanding its
        cells (a typo such as ``alignments: 3e7`` must not build 30 million cells first)."""
        from .activation_names import canonical_activation

        if self.family.count is None:
            n_runs = self.n_runs
        else:
            acts = {canonical_activation(a) for a in self.cfg["activations"]}
            archs = {networks.canonical_network(a) for a in self.cfg["architectures"]}
            shared = len(archs) * len(self.cfg["readouts"]) * len(acts)
            shared *= len(self.cfg.get("optimizers") or [None])
            n_runs = len(self.seeds) * shared * self.family.count(self.cfg["axes"])
        if n_runs > MAX_RUNS:
            return [
                f"config key 'experiments.{self.name}': {n_runs} runs (seeds × activations × "
                f"the axes); at most {MAX_RUNS} per experiment, split it into several experiments"
            ]
        return []

    def size_errors(self) -> list[str]:
        """An experiment too large to plan, or a value spelled too long for a folder name."""
        where = f"config key 'experiments.{self.name}"
        too_many = self.count_errors()
        if too_many:
            return too_many
        long = sorted(
            {
                f"{where}.{self.shared_axes.get(k, 'axes.' + k)}': the value spelled {v[:24]}… "
                f"needs {len(v)} characters in folder names "
                f"(at most {MAX_SEGMENT - len(k) - 1}); round it"
                for c in self.cells
                for k, v in c.items()
                if len(k) + 1 + len(v) > MAX_SEGMENT
            }
        )
        return long

    def figure_errors(self) -> list[str]:
        """Figure settings that name values the sweep does not have (checked at parse time,
        so a typo stops the workflow before training rather than at the figures job)."""
        f, errors = self.cfg["figures"], []
        wanted = {"sigma": "sigma", "readout": "readout", "arch": "arch"}
        if self.family.name == "delta":
            wanted["training_delta"] = "delta"
        for key, axis in wanted.items():
            value = f[key]
            if value is None or axis not in self.key_types:
                continue
            value = fmt_value(value, self.key_types[axis])
            allowed = self.axis_values(axis)
            if value not in allowed:
                errors.append(
                    f"config key 'experiments.{self.name}.figures.{key}': {value} is not in the "
                    f"sweep; allowed: {', '.join(allowed)} (or null)"
                )
        return errors


#: at most this many runs per experiment (a typo such as seeds: 1000000 stops here, not in a
#: scheduler flooded with jobs)
MAX_RUNS = 1_000_000
#: the longest ``key=value`` folder name; file systems refuse components over 255 bytes
MAX_SEGMENT = 64


class Sweep:
    """Every experiment of a validated configuration."""

    def __init__(self, config: dict):
        self.config = config
        self.root = config["results_dir"].rstrip("/")
        self.experiments = {
            name: Experiment(name, cfg, self.root) for name, cfg in config["experiments"].items()
        }

    def errors(self) -> list[str]:
        """Problems only the expanded sweep reveals: bad axis values a family rejects, bad
        activation names, figure settings outside the sweep."""
        from .activation_names import canonical_activation

        out = []
        for exp in self.experiments.values():
            where = f"config key 'experiments.{exp.name}"
            bad = []
            for i, act in enumerate(exp.cfg["activations"]):
                try:
                    canonical_activation(act)
                except ValueError as err:
                    bad.append(f"{where}.activations[{i}]': {err}")
            for i, arch in enumerate(exp.cfg["architectures"]):
                try:
                    kind = networks.kind_of(arch)
                except ValueError as err:
                    bad.append(f"{where}.architectures[{i}]': {err}")
                    continue
                if kind.inputs != exp.family.inputs:
                    fits = ", ".join(
                        k.name for k in networks.KINDS.values() if k.inputs == exp.family.inputs
                    )
                    bad.append(
                        f"{where}.architectures[{i}]': {arch!r} takes {kind.inputs} inputs and "
                        f"the {exp.family.name} family gives {exp.family.inputs} inputs; "
                        f"allowed here: {fits}"
                    )
            bad += [
                f"{where}.{e.split(': ', 1)[0]}': {e.split(': ', 1)[1]}" for e in exp.pack_errors()
            ]
            bad = bad or exp.count_errors()  # before anything is expanded
            if bad:
                out += bad
                continue
            try:
                exp.packed_combos  # noqa: B018 (expands, raising on what the family rejects)
            except ValueError as err:
                key, _, why = str(err).partition(": ")
                if not bad:  # the family or the packing name the key they reject: "key: why"
                    bad.append(
                        f"{where}.{key}': {why}"
                        if key.startswith(("axes.", "training."))
                        else f"{where}': {err}"
                    )
            out += bad or exp.figure_errors() or exp.size_errors()
        return out

    @property
    def n_runs(self) -> int:
        return sum(e.n_runs for e in self.experiments.values())

    def wildcard_constraints(self) -> dict[str, str]:
        """Every key's wildcard matches one path segment (``key=value`` folders)."""
        keys = {k for e in self.experiments.values() for k in e.key_types}
        return {k: "[^/]+" for k in sorted(keys)} | {RECIPE_WILDCARD: RECIPE_PATTERN}
