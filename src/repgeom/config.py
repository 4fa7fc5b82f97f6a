"""Configuration: JSON-schema validation with readable errors, defaults, numeric coercion, and
the resolution of each experiment's settings.

An experiment's effective settings are, from weakest to strongest: the schema's defaults, its
task family's defaults (the paper's settings for that family), the top-level shared sections,
and the experiment's own sections. Validation runs in two stages: the file's structure, then
each experiment against the schema completed with its family's axes and task keys, so every
error names its full key (``experiments.align.axes.d[0]``).

Light imports only (jsonschema, PyYAML, the NumPy task registry): the Snakefile imports this
on every parse.
"""

from __future__ import annotations

import copy
import math
import os
import re
from pathlib import Path

import jsonschema
import yaml

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and what is allowed."""


#: sections shared between the top level and each experiment
SHARED_SECTIONS = ("training", "model", "evaluation", "figures")


def _inline_refs(node, defs: dict):
    """The schema with every local ``{"$ref": "#/$defs/x"}`` replaced by a copy of ``x``."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline_refs(copy.deepcopy(defs[ref.split("/")[-1]]), defs)
        return {k: _inline_refs(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def load_schema(path: str | Path) -> dict:
    """The configuration schema with its local references inlined (``$defs`` kept)."""
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    defs = schema.get("$defs", {})
    out = _inline_refs({k: v for k, v in schema.items() if k != "$defs"}, defs)
    out["$defs"] = _inline_refs(defs, defs)
    return out


def deep_merge(*layers: dict) -> dict:
    """Merge dicts left to right; nested dicts merge key by key, anything else is replaced."""
    out: dict = {}
    for layer in layers:
        for k, v in layer.items():
            if isinstance(v, dict) and isinstance(out.get(k), dict):
                out[k] = deep_merge(out[k], v)
            else:
                out[k] = copy.deepcopy(v)
    return out


def experiment_schema(schema: dict, family) -> dict:
    """The schema of one experiment of ``family``: its axes and task keys filled in."""
    exp = copy.deepcopy(schema["$defs"]["experiment"])
    exp["properties"]["family"] = {"const": family.name, "description": family.description}
    exp["properties"]["axes"] = copy.deepcopy(family.axes_schema)
    exp["properties"]["task"] = {
        "type": "object",
        "default": {},
        "additionalProperties": False,
        "description": "Fixed task parameters.",
        "properties": copy.deepcopy(schema["$defs"]["task_common"]) | family.task_schema,
    }
    protocols = exp["properties"]["evaluation"]["properties"]["protocols"]["items"]
    protocols["enum"] = list(family.protocols)
    return exp


def _types(schema: dict) -> set:
    t = schema.get("type", [])
    return {t} if isinstance(t, str) else set(t)


def coerce_numbers(instance, schema: dict):
    """Turn numeric strings into numbers where the schema expects a number.

    YAML 1.1 (PyYAML, Snakemake) reads ``1e-1`` as a string; a researcher means 0.1.
    """
    types = _types(schema)
    if (
        isinstance(instance, str)
        and _NUMBER.match(instance.strip())
        and types & {"number", "integer"}
    ):
        value = float(instance)
        return (
            int(value)
            if "integer" in types and value.is_integer() and "number" not in types
            else value
        )
    if isinstance(instance, list) and "items" in schema:
        return [coerce_numbers(v, schema["items"]) for v in instance]
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        return {k: coerce_numbers(v, props[k]) if k in props else v for k, v in instance.items()}
    for key in ("oneOf", "anyOf"):
        for sub in schema.get(key, []):
            if _types(sub) & {"number", "integer", "array", "object"}:
                instance = coerce_numbers(instance, sub)
    return instance


def fill_defaults(instance: dict, schema: dict) -> dict:
    """Insert schema defaults for missing keys, recursively into nested objects."""
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if isinstance(instance.get(key), dict) and "properties" in sub:
            fill_defaults(instance[key], sub)
    return instance


def _key(error: jsonschema.ValidationError, prefix: tuple = ()) -> str:
    parts = []
    for p in (*prefix, *error.absolute_path):
        parts.append(f"[{p}]" if isinstance(p, int) else ("." if parts else "") + str(p))
    return "".join(parts) or "(top level)"


def _describe(error: jsonschema.ValidationError, prefix: tuple = ()) -> str:
    msg = error.message
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        msg += f"; allowed keys: {', '.join(allowed)}"
    elif error.validator in ("oneOf", "anyOf"):
        msg = f"{error.instance!r} is not valid: " + "; or ".join(
            s.get("description", str(s)) for s in error.validator_value
        )
    return f"config key '{_key(error, prefix)}': {msg}"


def _errors(instance, schema: dict, prefix: tuple = ()) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path])
    return [_describe(e, prefix) for e in errors]


#: evaluation.decoder keys replaced by the decoders list
_DECODER_MOVED = ("kind", "solver")

_MOVED = {
    "sweep": "sweeps are now named experiments: experiments.<name>.{family, seeds, "
    "activations, architectures, readouts, axes}",
    "task": "task parameters now belong to an experiment: experiments.<name>.task",
}


def resolve_experiment(name: str, raw: dict, shared: dict, schema: dict) -> tuple[dict, list]:
    """One experiment's effective settings and the problems found in them.

    ``raw``: the experiment as written; ``shared``: the top-level shared sections as written
    (before defaults). Returns (resolved experiment, error messages).
    """
    from .tasks import FAMILIES

    prefix = ("experiments", name)
    family = FAMILIES.get(raw.get("family")) if isinstance(raw.get("family"), str) else None
    if family is None:
        allowed = ", ".join(sorted(FAMILIES))
        return raw, [
            f"config key '{_key_of(prefix + ('family',))}': {raw.get('family')!r} is not a "
            f"task family; allowed: {allowed}"
        ]
    exp_schema = experiment_schema(schema, family)
    merged = deep_merge(
        family.defaults, {k: shared[k] for k in SHARED_SECTIONS if k in shared}, raw
    )
    merged = coerce_numbers(merged, exp_schema)
    errors = _errors(merged, exp_schema, prefix)
    if errors:
        return merged, errors
    fill_defaults(merged, exp_schema)
    return merged, _errors(merged, exp_schema, prefix)


def _key_of(path: tuple) -> str:
    return "".join(
        f"[{p}]" if isinstance(p, int) else ("." if i else "") + str(p) for i, p in enumerate(path)
    )


def nonfinite_keys(node, path: tuple = ()) -> list[str]:
    """Keys whose value is NaN or ±infinity, e.g. ``training.lr`` or ``axes.delta[0]``.

    JSON Schema's bounds let NaN through (every comparison with it is false), and a NaN
    learning rate trains to NaN weights; no setting of this workflow is meaningful as one.
    """
    if isinstance(node, float) and not math.isfinite(node):
        return [_key_of(path)]
    if isinstance(node, dict):
        return [k for key, v in node.items() for k in nonfinite_keys(v, (*path, key))]
    if isinstance(node, list):
        return [k for i, v in enumerate(node) for k in nonfinite_keys(v, (*path, i))]
    return []


def results_dir_problem(path: str) -> str | None:
    """Why ``path`` cannot hold results (None if it can).

    Refused: the empty string, the file-system root (what ``$UNSET/`` expands to), the working
    directory or a folder above it, the home folder (experiment folders would mix with
    everything else there, and ``prune`` would look at it all) and an existing file. ``~`` is
    expanded by :func:`normalise_results_dir` before this check.
    """
    if not path.strip():
        return "is empty; give a folder such as 'results'"
    resolved = Path(path).resolve()
    if resolved == Path(resolved.anchor):
        return f"{path!r} is the file-system root; give a folder of its own such as 'results'"
    if resolved == Path.home().resolve():
        return f"{path!r} is the home folder; give a folder of its own such as '~/results'"
    if Path.cwd().resolve().is_relative_to(resolved):
        return (
            f"{path!r} is the working directory or a folder above it; give a folder of its "
            "own such as 'results'"
        )
    if resolved.exists() and not resolved.is_dir():
        return f"{path!r} is an existing file, not a folder"
    return None


def normalise_results_dir(path: str) -> str:
    """``~`` expanded, ``./``, ``//`` and trailing slashes dropped (Snakemake would create a
    literal ``~`` folder and warns about the others)."""
    path = os.path.expanduser(path)
    return os.path.normpath(path) if path.strip() else path


def _shared_protocol_errors(shared: dict) -> list[str]:
    """Top-level ``evaluation.protocols`` names that no family defines (checked here so that the
    error names the key the user wrote, not each experiment that inherits it)."""
    from .tasks import FAMILIES

    names = (shared.get("evaluation") or {}).get("protocols") or []
    known = sorted({p for f in FAMILIES.values() for p in f.protocols})
    return [
        f"config key 'evaluation.protocols[{i}]': {n!r} is not an evaluation protocol; allowed: "
        f"{', '.join(known)}"
        for i, n in enumerate(names)
        if n not in known
    ]


def validate(config: dict, schema: dict) -> dict:
    """Return a validated copy of ``config`` with defaults filled, numbers coerced and each
    experiment resolved (``config["experiments"][name]`` holds its effective settings).

    Raises ConfigError listing every problem, each naming its key and the allowed values.
    """
    raw = dict(config)
    moved = [
        f"config key '{k}': the configuration format changed; {v} (README.md, 'Configuration')"
        for k, v in _MOVED.items()
        if k in raw
    ]
    sections = [("evaluation",)] + [
        ("experiments", name, "evaluation")
        for name, exp in (
            raw["experiments"] if isinstance(raw.get("experiments"), dict) else {}
        ).items()
        if isinstance(exp, dict)
    ]
    for path in sections:
        node = raw
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        decoder = node.get("decoder") if isinstance(node, dict) else None
        moved += [
            f"config key '{_key_of((*path, 'decoder', k))}': decoders are now chosen by name in "
            f"{_key_of((*path, 'decoders'))}, a list of svm (the exact minimiser; what "
            "solver: newton gave), liblinear_dual, liblinear_auto (what solver: liblinear "
            "gave), ridge"
            for k in _DECODER_MOVED
            if isinstance(decoder, dict) and k in decoder
        ]
    if moved:
        raise ConfigError("invalid configuration:\n" + "\n".join("  - " + m for m in moved))
    cfg = coerce_numbers(copy.deepcopy(raw), schema)
    errors = [
        f"config key '{k}': must be a finite number, not NaN or infinity"
        for k in nonfinite_keys(cfg)
    ]
    if errors:
        raise ConfigError("invalid configuration:\n" + "\n".join("  - " + e for e in errors))
    errors = _errors(cfg, schema)
    shared = copy.deepcopy(cfg)
    fill_defaults(cfg, schema)
    errors = errors or _errors(cfg, schema)
    if not errors:
        cfg["results_dir"] = normalise_results_dir(cfg["results_dir"])
        problem = results_dir_problem(cfg["results_dir"])
        errors += [f"config key 'results_dir': {problem}"] if problem else []
    if not errors:
        errors += _shared_protocol_errors(shared)
    if not errors:
        for name, exp in cfg["experiments"].items():
            resolved, problems = resolve_experiment(name, exp, shared, schema)
            cfg["experiments"][name] = resolved
            errors += problems
    if errors:
        raise ConfigError("invalid configuration:\n" + "\n".join("  - " + e for e in errors))
    return cfg
