"""Configuration: strict YAML reading, JSON-schema validation with readable errors, defaults,
numeric canonicalisation, and the resolution of each experiment's settings.

An experiment's effective settings are, from weakest to strongest: the schema's defaults, its
task family's defaults (the paper's settings for that family), the top-level shared sections,
and the experiment's own sections. Validation runs in two stages: the file's structure, then
each experiment against the schema completed with its family's axes and task keys, so every
error names its full key (``experiments.align.axes.d[0]``). Cross-key constraints that a job
would otherwise hit (an input dimension too small for the task, arrays too large for memory)
are checked here too, so that a bad value stops the workflow at parse time with one message
naming its key, never inside a job and never as a traceback.

Every message quotes at most a short excerpt of a value (:func:`excerpt`), and a configuration
with many problems lists the first :data:`MAX_LISTED`.

Light imports only (jsonschema, PyYAML, the NumPy task registry): the Snakefile imports this
on every parse.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import os
import re
from pathlib import Path

import jsonschema
import yaml

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

#: the workflow's configuration schema
SCHEMA_PATH = Path(__file__).parents[2] / "workflow/schemas/config.schema.yaml"


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and what is allowed."""


#: sections shared between the top level and each experiment
SHARED_SECTIONS = ("training", "model", "evaluation", "figures")

#: the longest excerpt of a value that a message quotes
EXCERPT_CHARS = 80
#: a message lists at most this many problems (then says how many more there are)
MAX_LISTED = 20
#: the most values (mappings, lists and scalars) a configuration may hold once its YAML aliases
#: are expanded: an alias "bomb" (each level repeating the previous one) stops here instead of
#: eating the memory and time of every step that walks the configuration
MAX_CONFIG_VALUES = 2_000_000
#: the most float32 values any one array of a run may hold (1 GB): the training inputs, the
#: saved weights, the hidden responses of the evaluation
MAX_RUN_VALUES = 250_000_000
#: ``results_dir``: the longest path and path component, in bytes (file systems refuse
#: components over 255 bytes; run paths add about 200 bytes below ``results_dir``)
MAX_PATH_BYTES = 1024
MAX_NAME_BYTES = 255
#: folders of the kernel's virtual file systems, where nothing can be written
_SYSTEM_FOLDERS = ("/proc", "/sys", "/dev")


# --------------------------------------------------------------------------- messages


def _short_repr(value, limit: int = EXCERPT_CHARS) -> str:
    """``repr(value)``, built only as far as ``limit`` characters (never the repr of a
    100 000-item list)."""
    if isinstance(value, str):
        return repr(value[: limit + 1])
    if isinstance(value, (list, tuple, dict)):
        opening, closing = {list: "[]", tuple: "()", dict: "{}"}[type(value)]
        items = value.items() if isinstance(value, dict) else value
        parts, length, cut = [], 0, False
        for item in items:
            if length > limit:
                cut = True
                break
            if isinstance(value, dict):
                piece = f"{_short_repr(item[0], limit)}: {_short_repr(item[1], limit)}"
            else:
                piece = _short_repr(item, limit)
            parts.append(piece)
            length += len(piece) + 2
        return opening + ", ".join(parts + (["…"] if cut else [])) + closing
    return repr(value)


def excerpt(value) -> str:
    """A value as a message quotes it: its ``repr`` cut to :data:`EXCERPT_CHARS` characters
    with ``…``."""
    text = _short_repr(value)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _clip(message: str, limit: int = 1000) -> str:
    """``message`` cut in the middle to at most ``limit`` characters (a last resort: messages
    quote excerpts of values already)."""
    if len(message) > limit:
        message = message[: limit // 2] + " … " + message[-limit // 2 :]
    return message


def format_errors(errors: list[str]) -> str:
    """The message of a ConfigError listing ``errors`` (at most :data:`MAX_LISTED`)."""
    shown = [_clip(e) for e in errors[:MAX_LISTED]]
    if len(errors) > MAX_LISTED:
        shown.append(f"… and {len(errors) - MAX_LISTED} more problems")
    return "invalid configuration:\n" + "\n".join("  - " + e for e in shown)


def _kind(value) -> str:
    """What YAML made of a value, for messages: 'a list', 'a boolean (YAML reads yes, …)'."""
    if value is None:
        return "null (YAML reads ~, null and an empty value as null)"
    if isinstance(value, bool):
        return "a boolean (YAML reads yes, no, on, off, true and false as booleans)"
    kinds = {int: "a number", float: "a number", str: "a string", list: "a list"}
    kinds |= {dict: "a mapping", datetime.date: "a date", datetime.datetime: "a date and time"}
    return kinds.get(type(value), f"a {type(value).__name__}")


# --------------------------------------------------------------------------- strict YAML


class _DuplicateKey(Exception):
    def __init__(self, key_node, first_node):
        self.key_node, self.first_node = key_node, first_node


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that refuses a key written twice in one mapping (YAML merge keys
    ``<<`` may still override) and records every alias, so that their expansion can be
    measured before anything is built."""

    def __init__(self, stream):
        super().__init__(stream)
        self.aliases: list[tuple[str, yaml.Mark, yaml.Node]] = []

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            self.aliases.append((event.anchor, event.start_mark, node))
            return node
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                try:
                    key = self.construct_object(key_node, deep=True)
                    hash(key)
                except (TypeError, yaml.YAMLError):
                    continue  # the base constructor reports unhashable keys
                if key in seen:
                    raise _DuplicateKey(key_node, seen[key])
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


class _Cycle(Exception):
    def __init__(self, node):
        self.node = node


def _node_size(node, memo: dict, active: set) -> int:
    """Values under ``node`` counted as if every alias were copied out (memoised, so linear in
    the document's own size whatever the expansion)."""
    key = id(node)
    if key in memo:
        return memo[key]
    if isinstance(node, yaml.ScalarNode):
        return 1
    if key in active:
        raise _Cycle(node)
    active.add(key)
    if isinstance(node, yaml.MappingNode):
        children = [child for pair in node.value for child in pair]
    else:
        children = node.value
    total = 1 + sum(_node_size(child, memo, active) for child in children)
    active.discard(key)
    memo[key] = total
    return total


def _check_aliases(loader: _StrictLoader, root, where: str) -> None:
    if not loader.aliases:
        return
    memo: dict = {}
    try:
        total = _node_size(root, memo, set())
    except _Cycle as cycle:
        anchor, mark = next((a, m) for a, m, n in loader.aliases if n is cycle.node)
        raise ConfigError(
            f"{where}, line {mark.line + 1}: the alias *{anchor} refers to a value that contains "
            "it, which never ends; write the values out"
        ) from None
    if total > MAX_CONFIG_VALUES:
        anchor, mark, _ = max(loader.aliases, key=lambda a: memo.get(id(a[2]), 1))
        raise ConfigError(
            f"{where}, line {mark.line + 1}: its YAML aliases (here *{anchor}) expand to "
            f"{total:,} values, more than the {MAX_CONFIG_VALUES:,} a configuration may hold; "
            "repeat fewer aliases or write the values out"
        )


def _no_duplicate_pairs(where: str):
    def hook(pairs):
        keys = [k for k, _ in pairs]
        for k in keys:
            if keys.count(k) > 1:
                raise ConfigError(
                    f"{where}: key {excerpt(k)} appears twice in one mapping; keep one"
                )
        return dict(pairs)

    return hook


def _parse(text: str, where: str):
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(loader, node, where)
        return loader.construct_document(node)
    except _DuplicateKey as dup:
        key, first = dup.key_node, dup.first_node
        name = key.value if isinstance(key, yaml.ScalarNode) else "?"
        raise ConfigError(
            f"{where}, line {key.start_mark.line + 1}: key {excerpt(name)} appears twice "
            f"(first on line {first.start_mark.line + 1}); YAML would silently keep the last "
            "value: keep one"
        ) from None
    except yaml.MarkedYAMLError as err:
        try:  # JSON that YAML 1.1 does not read (tab indentation, say) is fine
            return json.loads(text, object_pairs_hook=_no_duplicate_pairs(where))
        except json.JSONDecodeError:
            pass
        mark = err.problem_mark or err.context_mark
        line = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = "; ".join(p for p in (err.context, err.problem) if p)
        hint = " (indent with spaces, not tabs)" if "'\\t'" in what else ""
        raise ConfigError(f"{where}{line}: not valid YAML: {what}{hint}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{where}: not valid YAML: {_clip(str(err), 300)}") from None
    except RecursionError:
        raise ConfigError(f"{where}: its values are nested too deeply") from None
    finally:
        loader.dispose()


def load_yaml(path: str | Path) -> dict:
    """One configuration file read strictly: a mapping, or ``{}`` for an empty file.

    Raises ConfigError naming the file (and the line where there is one) for a file that
    cannot be read, is not UTF-8, is not valid YAML (or JSON), writes a key twice in one
    mapping (YAML would silently keep the last), has aliases that expand to more than
    :data:`MAX_CONFIG_VALUES` values or refer to themselves, or whose top level is not a
    mapping (a list, say).
    """
    where = f"config file {path}"
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ConfigError(f"{where}: cannot be read ({err.strerror or err})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ConfigError(f"{where}, line {line}: not UTF-8 text") from None
    config = _parse(text, where)
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ConfigError(
            f"{where}: the top level is {_kind(config)} ({excerpt(config)}); a configuration is "
            "a mapping of keys (results_dir:, experiments:, training:, …)"
        )
    return config


def check_config_files(paths) -> list[dict]:
    """Read every file strictly (:func:`load_yaml`): what the Snakefile runs on the files that
    Snakemake has already read (``workflow.configfiles``), since Snakemake keeps the last of a
    key written twice without a word."""
    return [load_yaml(p) for p in paths]


def load_config_files(paths, schema: dict | None = None) -> dict:
    """The validated configuration of ``paths`` merged in order, as Snakemake merges its
    ``--configfile`` files (pass ``["config.yaml"]`` for the Snakefile's default).

    Every file is read strictly (:func:`load_yaml`), the merge validated (:func:`validate`)
    and the sweep's own checks run (:func:`check_config`): the same configuration that the
    Snakefile accepts, or a ConfigError with the message it would stop with. ``schema``
    defaults to the workflow's (:data:`SCHEMA_PATH`).
    """
    raw: dict = {}
    for config in check_config_files(paths):
        raw = deep_merge(raw, config)
    return check_config(raw, schema if schema is not None else load_schema(SCHEMA_PATH))


def check_config(config: dict, schema: dict) -> dict:
    """:func:`validate`, then the checks only the expanded sweep can make
    (:meth:`repgeom.sweep.Sweep.errors`): everything the Snakefile checks at parse time."""
    from .sweep import Sweep

    cfg = validate(config, schema)
    errors = Sweep(cfg).errors()
    if errors:
        raise ConfigError(format_errors(errors))
    return cfg


# --------------------------------------------------------------------------- schema


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


def _fill_registries(defs: dict) -> None:
    """Write the registries' names into the schema, so that no list is written twice:
    architectures (a pattern), readouts, optimisers, decoders and every network's model
    settings."""
    from . import networks
    from .decoder_names import DECODERS
    from .networks import READOUTS
    from .optimisers import OPTIMISERS

    exp = defs["experiment"]["properties"]
    exp["architectures"]["items"]["pattern"] = networks.NETWORK_PATTERN
    exp["architectures"]["items"]["x-allowed"] = ", ".join(networks.NAME_EXAMPLES)
    exp["readouts"]["items"]["enum"] = list(READOUTS)
    exp["optimizers"]["items"]["enum"] = list(OPTIMISERS)
    defs["model"]["properties"] = copy.deepcopy(networks.settings_schema())
    defs["training"]["properties"]["optimizer"]["enum"] = list(OPTIMISERS)
    by_name = defs["training"]["properties"]["lr"]["oneOf"][1]
    by_name["propertyNames"]["enum"] = list(OPTIMISERS)
    defs["evaluation"]["properties"]["decoders"]["items"]["enum"] = list(DECODERS)


def load_schema(path: str | Path) -> dict:
    """The configuration schema with its local references inlined (``$defs`` kept) and the
    registries' names filled in (:func:`_fill_registries`)."""
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    defs = schema.get("$defs", {})
    _fill_registries(defs)
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
    """Canonicalise numbers where the schema expects one.

    Numeric strings become numbers (YAML 1.1, as PyYAML and Snakemake read it, takes ``1e-1``
    for a string; a researcher means 0.1); integral floats become ints where the schema says
    integer (``seeds: 3.0``, ``epochs: 2e3``; JSON Schema counts them as integers, Python's
    ``range`` does not), also inside ``oneOf``/``anyOf`` and lists; ints become floats where the
    schema says number (``delta: [1]`` is ``[1.0]``); ``-0.0`` becomes ``0.0`` (one value, one
    folder, one recipe).
    """
    types = _types(schema)
    if (
        isinstance(instance, str)
        and _NUMBER.match(instance.strip())
        and types & {"number", "integer"}
    ):
        instance = float(instance)
    if isinstance(instance, float) and not isinstance(instance, bool):
        if (
            "integer" in types
            and "number" not in types
            and instance.is_integer()
            and abs(instance) <= 2**53  # larger ones exceed every maximum: quoted as written
        ):
            return int(instance)
        if types & {"number", "integer"} and instance == 0:
            return 0.0
    if (
        isinstance(instance, int)
        and not isinstance(instance, bool)
        and "number" in types
        and "integer" not in types
        and abs(instance) <= 2**53
    ):
        return float(instance)  # 1 and 1.0 are one value: one recipe, nothing reruns
    if isinstance(instance, list) and "items" in schema:
        return [coerce_numbers(v, schema["items"]) for v in instance]
    props, extra = schema.get("properties", {}), schema.get("additionalProperties")
    if isinstance(instance, dict) and (props or isinstance(extra, dict) or "oneOf" not in schema):
        return {
            k: coerce_numbers(v, props[k])
            if k in props
            else coerce_numbers(v, extra)
            if isinstance(extra, dict)
            else v
            for k, v in instance.items()
        }
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
    return _key_of((*prefix, *error.absolute_path)) or "(top level)"


def _relative(path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _branch_detail(error: jsonschema.ValidationError) -> str:
    """For a value that fits no branch of a oneOf/anyOf: what is wrong with it under the one
    branch of its type (a list of seeds with one out of range, say), or ''."""
    by_branch: dict[int, list] = {}
    for sub in error.context or ():
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [
        subs
        for subs in by_branch.values()
        if not any(s.validator in ("type", "const", "enum") and not s.relative_path for s in subs)
    ]
    if len(fitting) != 1:
        return ""
    parts = []
    for sub in fitting[0][:3]:
        where, msg = _relative(sub.relative_path), _message(sub)
        if not where and msg.startswith(excerpt(sub.instance)):
            msg = "it" + msg[len(excerpt(sub.instance)) :]  # the value is quoted already
        parts.append((f"item {where}: " if where else "") + msg)
    return "; ".join(parts)


def _message(error: jsonschema.ValidationError) -> str:
    """jsonschema's message with the value it quotes cut to an excerpt, and the bound of a
    too long list or string."""
    value = error.instance
    if error.validator in ("maxItems", "maxLength") and isinstance(value, (list, str, dict)):
        what = "characters" if isinstance(value, str) else "items"
        return f"{excerpt(value)} has {len(value)} {what}; at most {error.validator_value}"
    if error.validator == "additionalProperties" and isinstance(value, dict):
        known = error.schema.get("properties", {})
        extra = [excerpt(k) for k in value if k not in known]
        verb = "was" if len(extra) == 1 else "were"
        return f"Additional properties are not allowed ({', '.join(extra[:5])} {verb} unexpected)"
    if error.validator == "pattern" and "x-allowed" in error.schema:
        return f"{excerpt(value)} is not allowed; allowed: {error.schema['x-allowed']}"
    msg = error.message
    if isinstance(value, (list, dict, str, tuple, int)):
        full = repr(value)
        if len(full) > EXCERPT_CHARS:
            msg = msg.replace(full, excerpt(value))
    return msg


def _describe(error: jsonschema.ValidationError, prefix: tuple = ()) -> str:
    msg = _message(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        msg += f"; allowed keys: {', '.join(allowed)}"
    elif error.validator in ("oneOf", "anyOf"):
        msg = f"{excerpt(error.instance)} is not valid: " + "; or ".join(
            s.get("description", str(s)) for s in error.validator_value
        )
        detail = _branch_detail(error)
        if detail:
            msg += f" (here: {detail})"
    elif error.validator == "pattern" and "propertyNames" in error.schema_path:
        msg += f"; {error.schema['description']}"
    return _clip(f"config key '{_key(error, prefix)}': {msg}")


def _errors(instance, schema: dict, prefix: tuple = ()) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path])
    return [_describe(e, prefix) for e in errors]


# --------------------------------------------------------------------------- structure


def _value_count(node, memo: dict, active: set) -> int:
    """Values under ``node``, a shared list or mapping counted at every place it appears."""
    if not isinstance(node, (dict, list)):
        return 1
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise _Cycle(node)
    active.add(key)
    children = node.values() if isinstance(node, dict) else node
    total = 1 + sum(_value_count(child, memo, active) for child in children)
    active.discard(key)
    memo[key] = total
    return total


def _size_problem(config) -> str | None:
    try:
        total = _value_count(config, {}, set())
    except _Cycle:
        return "a value contains itself (a YAML alias to an enclosing value); write it out"
    except RecursionError:
        return "its values are nested too deeply"
    if total > MAX_CONFIG_VALUES:
        return (
            f"it holds {total:,} values (YAML aliases count once per use), more than the "
            f"{MAX_CONFIG_VALUES:,} a configuration may hold; use fewer aliases or split it"
        )
    return None


#: what a key that is not a string would stand for; experiment names become folder names
_EXPERIMENT_NAMES = (
    "experiment names are folder names: a lower-case letter, then up to 39 lower-case letters, "
    "digits or _"
)


def _key_errors(node, path: tuple = ()) -> list[str]:
    """Keys that YAML read as something other than a string (``1:``, ``yes:``, ``~:``)."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str):
                rule = _EXPERIMENT_NAMES if path == ("experiments",) else "keys are names"
                out.append(
                    f"config key '{_key_of(path) or '(top level)'}': the key {excerpt(str(k))} "
                    f"is {_kind(k)}, not a name; {rule}"
                )
            else:
                out += _key_errors(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _key_errors(v, (*path, i))
    return out


#: evaluation.decoder keys replaced by the decoders list
_DECODER_MOVED = ("kind", "solver")

_MOVED = {
    "sweep": "sweeps are now named experiments: experiments.<name>.{family, seeds, "
    "activations, architectures, readouts, axes}",
    "task": "task parameters now belong to an experiment: experiments.<name>.task",
}


# --------------------------------------------------------------------------- experiments


def _family_only_keys(schema: dict, path: tuple = ()):
    """(path, families) of every setting marked ``x-families`` (it applies only to
    experiments of those families), under the shared sections of ``schema``."""
    for key, sub in schema.get("properties", {}).items():
        if not isinstance(sub, dict):
            continue
        if "x-families" in sub:
            yield (*path, key), tuple(sub["x-families"])
        yield from _family_only_keys(sub, (*path, key))


def _lookup(node, path: tuple):
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _own_family_key_errors(name: str, raw: dict, family, exp_schema: dict) -> list[str]:
    """Settings written in the experiment's own sections that its family ignores."""
    shared = {k: exp_schema["properties"][k] for k in SHARED_SECTIONS}
    return [
        f"config key '{_key_of(('experiments', name, *path))}': applies only to "
        f"{' and '.join(fams)} experiments, and this one is {family.name}; remove it"
        for path, fams in _family_only_keys({"properties": shared})
        if family.name not in fams and _lookup(raw, path) is not None
    ]


def _shared_family_key_errors(shared: dict, schema: dict, experiments: dict) -> list[str]:
    """Shared settings of one family when no experiment is of that family. A shared setting
    applies to every experiment that can use it and is ignored by the others, so that one
    configuration can hold experiments of several families."""
    present = {
        e["family"]
        for e in experiments.values()
        if isinstance(e, dict) and isinstance(e.get("family"), str)
    }
    sections = {k: schema["properties"][k] for k in SHARED_SECTIONS}
    return [
        f"config key '{_key_of(path)}': applies only to {' and '.join(fams)} experiments, and "
        f"none is configured; remove it"
        for path, fams in _family_only_keys({"properties": sections})
        if not present & set(fams) and _lookup(shared, path) is not None
    ]


def _leaf_paths(node, path: tuple = ()):
    """The paths of a nested mapping's leaves (a list or any non-mapping value is a leaf)."""
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from _leaf_paths(v, path + (k,))
    else:
        yield path


def shadowed_overrides(overrides, experiments) -> list[str]:
    """Messages for command-line settings that change nothing because an experiment's own
    section sets the same key (an experiment's sections are the strongest layer).

    ``overrides``: the ``--config`` values (Snakemake's ``config_settings.config``);
    ``experiments``: the ``experiments`` mapping as written, before resolution. A shared key
    (``training.epochs``) is reported once per experiment that shadows it, with the key to set
    instead. Keys the experiments leave alone are not reported: those overrides work.
    """
    if not isinstance(experiments, dict):
        return []
    overrides = dict(overrides or {})
    out = []
    for section in SHARED_SECTIONS:
        for path in _leaf_paths(overrides.get(section)):
            key = _key_of((section,) + path)
            for name, raw in experiments.items():
                if not isinstance(raw, dict) or not path:
                    continue
                own = _lookup(raw, (section,) + path)
                if own is not None:
                    value = _lookup(overrides, (section,) + path)
                    # Snakemake hands nested --config values over as written (strings)
                    text = value if isinstance(value, str) else excerpt(value)
                    parts = (name, section) + path
                    example = "".join(f"{{{p}: " for p in parts) + text + "}" * len(parts)
                    out.append(
                        f"--config {key}={text} changes nothing in experiment "
                        f"'{name}': its own 'experiments.{name}.{key}' ({excerpt(own)}) wins. "
                        f"Set that key instead: --config 'experiments={example.strip()}'"
                    )
    return out


def _n_snapshots(training: dict) -> int:
    """About how many weight snapshots a run keeps (repgeom.training.snapshot_epochs)."""
    epochs, snaps = training["epochs"], training["snapshots"]
    if snaps["schedule"] == "linear":
        return min(epochs, epochs // snaps["every"] + 1) + 1
    return min(epochs, snaps["count"]) + 1


def _memory_errors(name: str, exp: dict) -> list[str]:
    """Arrays of one run over :data:`MAX_RUN_VALUES` values (a job would ask for them)."""
    task, width = exp["task"], exp["model"]["width"]
    if "dim" not in task:
        return []
    n_key = "n_train" if task["n_train"] >= task["n_test"] else "n_test"
    n, dim, snaps = task[n_key], task["dim"], _n_snapshots(exp["training"])
    snap_keys = (
        "training.snapshots.count"
        if exp["training"]["snapshots"]["schedule"] == "log"
        else "training.epochs/training.snapshots.every"
    )
    evaluated, eval_keys = snaps, snap_keys
    spec = exp["evaluation"].get("snapshots")
    if spec is not None:  # the evaluation holds only the snapshots it evaluates
        evaluated = min(
            snaps, _n_snapshots({"epochs": exp["training"]["epochs"], "snapshots": spec})
        )
        eval_keys = (
            "evaluation.snapshots.count"
            if spec["schedule"] == "log"
            else "training.epochs/evaluation.snapshots.every"
        )
    arrays = [
        ((f"task.{n_key}", "task.dim"), (n, dim), "input values (the task's samples)"),
        (
            ("model.width", "task.dim", snap_keys),
            (width, dim, snaps),
            "weights (all snapshots)",
        ),
        (
            (f"task.{n_key}", "model.width", eval_keys),
            (n, width, evaluated),
            "hidden responses (evaluation of the evaluated snapshots)",
        ),
    ]
    out = []
    for keys, sizes, what in arrays:
        total = math.prod(sizes)
        if total > MAX_RUN_VALUES:
            named = " × ".join(f"'{_key_of(('experiments', name, *k.split('.')))}'" for k in keys)
            out.append(
                f"config keys {named}: {' × '.join(map(str, sizes))} = {total:,} {what} per "
                f"run, more than the {MAX_RUN_VALUES:,} (1 GB) a run may hold; lower one of them"
            )
            break
    return out


def _canonical_absences(exp: dict) -> None:
    """Settings written out at the value their absence means, removed (in place): one recipe,
    so writing them out never retrains or re-evaluates. ``evaluation.snapshots`` with
    ``schedule: all`` (every saved snapshot) and a null ``model.hidden_bias`` or
    ``model.output_bias`` (the random draw)."""
    from .networks import NULLABLE_SETTINGS

    if exp["evaluation"].get("snapshots", {}).get("schedule") == "all":
        del exp["evaluation"]["snapshots"]
    for key in NULLABLE_SETTINGS:
        if key in exp["model"] and exp["model"][key] is None:
            del exp["model"][key]


def run_optimizers(exp: dict) -> list[str]:
    """The optimisers an experiment's runs train with: its ``optimizers`` axis, else
    ``training.optimizer``."""
    return list(exp.get("optimizers") or [exp["training"]["optimizer"]])


def _per_name_errors(name: str, raw: dict, exp: dict) -> list[str]:
    """Settings given per activation or per optimiser that miss one the experiment runs, name
    an unknown activation, or an optimiser set twice (``training.optimizer`` beside the
    ``optimizers`` axis)."""
    from .activation_names import canonical_activation
    from .networks import PER_ACTIVATION_SETTINGS

    prefix, out = ("experiments", name), []
    if "optimizers" in raw and "optimizer" in (raw.get("training") or {}):
        out.append(
            f"config key '{_key_of(prefix + ('training', 'optimizer'))}': the experiment "
            f"sweeps '{_key_of(prefix + ('optimizers',))}', which sets each run's optimiser; "
            "remove one of them"
        )
    lr = exp["training"]["lr"]
    if isinstance(lr, dict):
        missing = [o for o in run_optimizers(exp) if o not in lr]
        if missing:
            out.append(
                f"config key '{_key_of(prefix + ('training', 'lr'))}': no learning rate for "
                f"optimizer {', '.join(map(repr, missing))} (it gives {', '.join(lr)}); add "
                f"{missing[0]}: <lr> or give one number"
            )
    acts = []
    for a in exp["activations"]:
        try:
            acts.append(canonical_activation(a))
        except ValueError:
            pass  # reported with its key by the sweep's checks
    for key in PER_ACTIVATION_SETTINGS:
        value = exp["model"].get(key)
        if not isinstance(value, dict):
            continue
        where = prefix + ("model", key)
        given = set()
        for act in value:
            try:
                given.add(canonical_activation(act))
            except ValueError as err:
                out.append(f"config key '{_key_of(where + (act,))}': {err}")
        missing = [a for a in acts if a not in given]
        if missing:
            out.append(
                f"config key '{_key_of(where)}': no value for activation "
                f"{', '.join(map(repr, missing))} of the experiment (it gives "
                f"{', '.join(map(str, value))}); add {missing[0]}: <value> or give one number"
            )
    return out


def per_activation(value, activation: str):
    """A setting's value for one activation: ``value`` itself unless it is a mapping activation
    name (in any spelling) → value; ``activation`` is canonical."""
    if not isinstance(value, dict):
        return value
    from .activation_names import canonical_activation

    for act, v in value.items():
        if canonical_activation(act) == activation:
            return v
    raise KeyError(f"no value for activation {activation!r} in {excerpt(value)}")


def resolve_experiment(name: str, raw: dict, shared: dict, schema: dict) -> tuple[dict, list]:
    """One experiment's effective settings and the problems found in them.

    ``raw``: the experiment as written; ``shared``: the top-level shared sections as written
    (before defaults). Returns (resolved experiment, error messages): the schema's, then
    settings of another family written in the experiment's own sections, the family's
    cross-key checks (:attr:`repgeom.tasks.Family.check`) and arrays too large for a job.
    """
    from .tasks import FAMILIES

    prefix = ("experiments", name)
    family = FAMILIES.get(raw.get("family")) if isinstance(raw.get("family"), str) else None
    if family is None:
        allowed = ", ".join(sorted(FAMILIES))
        return raw, [
            f"config key '{_key_of(prefix + ('family',))}': {excerpt(raw.get('family'))} is not "
            f"a task family; allowed: {allowed}"
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
    errors = _errors(merged, exp_schema, prefix)
    if errors:
        return merged, errors
    _canonical_absences(merged)
    errors = _own_family_key_errors(name, raw, family, exp_schema)
    errors += _per_name_errors(name, raw, merged)
    if family.check is not None:
        errors += [f"config key '{_key_of(prefix)}.{k}': {why}" for k, why in family.check(merged)]
    return merged, errors or _memory_errors(name, merged)


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


# --------------------------------------------------------------------------- results_dir

_ENV_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def normalise_results_dir(path: str) -> str:
    """``~`` and environment variables (``$SCRATCH``, ``${SCRATCH}``) expanded, ``./``, ``//``
    and trailing slashes dropped (Snakemake would create a literal ``~`` or ``$SCRATCH`` folder
    and warns about the others). Raises ConfigError for an unknown user (``~bob``) or an
    environment variable that is unset or empty."""
    if not path.strip():
        return path
    expanded = os.path.expanduser(path)
    if expanded.startswith("~"):
        user = expanded.split("/", 1)[0]
        raise ConfigError(f"{excerpt(path)} starts with {user}, but there is no such user")

    def var(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        value = os.environ.get(name)
        if value is None:
            raise ConfigError(
                f"{excerpt(path)} uses the environment variable {name}, which is not set; set "
                "it or write the folder out"
            )
        if not value.strip():
            raise ConfigError(
                f"{excerpt(path)} uses the environment variable {name}, which is empty; set it "
                "or write the folder out"
            )
        return value

    expanded = _ENV_VAR.sub(var, expanded)
    return os.path.normpath(expanded)


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def results_dir_problem(path: str) -> str | None:
    """Why ``path`` (as :func:`normalise_results_dir` returns it) cannot hold results (None
    if it can).

    Refused: the empty string; control characters; a folder name that starts or ends with a
    blank (a stray space in quotes); braces (Snakemake reads ``{x}`` in a path
    as a wildcard); a path over :data:`MAX_PATH_BYTES` bytes or with a component over
    :data:`MAX_NAME_BYTES`; the file-system root (what ``$UNSET/`` would expand to), the
    home folder (experiment folders would mix with everything else there, and ``prune`` would
    look at it all), the working directory or a folder above it; an existing file; a folder in
    a ``.git`` or ``.snakemake`` folder or in ``/proc``, ``/sys``, ``/dev``; a folder that
    cannot be created (its nearest existing parent is a file, not writable or on a read-only
    file system).
    """
    if not path.strip():
        return "is empty; give a folder such as 'results'"
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        return f"{excerpt(path)} contains control characters (a newline, a tab, …); remove them"
    if any(part != part.strip() for part in Path(path).parts):
        return (
            f"{excerpt(path)} has a folder name that starts or ends with a space (or another "
            "invisible blank); remove it"
        )
    if "{" in path or "}" in path:
        return (
            f"{excerpt(path)} contains braces, which Snakemake reads as wildcards in every "
            "output path; rename the folder"
        )
    absolute = os.path.abspath(path)
    if len(os.fsencode(absolute)) > MAX_PATH_BYTES:
        return (
            f"{excerpt(path)} is {len(os.fsencode(absolute))} bytes long as an absolute path; at "
            f"most {MAX_PATH_BYTES} (run files add about 200 more)"
        )
    long = [p for p in Path(absolute).parts if len(os.fsencode(p)) > MAX_NAME_BYTES]
    if long:
        return (
            f"{excerpt(path)} has a folder name of {len(os.fsencode(long[0]))} bytes; file "
            f"systems allow at most {MAX_NAME_BYTES}"
        )
    resolved = Path(path).resolve()
    if resolved == Path(resolved.anchor):
        return (
            f"{excerpt(path)} is the file-system root; give a folder of its own such as 'results'"
        )
    if resolved == Path.home().resolve():
        return f"{excerpt(path)} is the home folder; give a folder of its own such as '~/results'"
    if Path.cwd().resolve().is_relative_to(resolved):
        return (
            f"{excerpt(path)} is the working directory or a folder above it; give a folder of "
            "its own such as 'results'"
        )
    if resolved.exists() and not resolved.is_dir():
        return f"{excerpt(path)} is an existing file, not a folder"
    if ".git" in resolved.parts or ".git" in Path(path).parts:
        return f"{excerpt(path)} is inside a .git folder, which belongs to git; give another folder"
    if ".snakemake" in resolved.parts or ".snakemake" in Path(path).parts:
        return (
            f"{excerpt(path)} is inside a .snakemake folder, Snakemake's own records (which "
            "`snakemake --cleanup-metadata` and users delete); give another folder"
        )
    if any(resolved.is_relative_to(s) for s in _SYSTEM_FOLDERS):
        return f"{excerpt(path)} is in a system folder ({', '.join(_SYSTEM_FOLDERS)}); give another"
    if not resolved.exists():
        parent = _nearest_existing(resolved)
        if not parent.is_dir():
            return f"{excerpt(path)} cannot be created: {parent} is a file"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"{excerpt(path)} cannot be created: {parent} is not writable"
        try:
            read_only = bool(os.statvfs(parent).f_flag & os.ST_RDONLY)
        except OSError:
            read_only = False
        if read_only:
            return f"{excerpt(path)} cannot be created: {parent} is on a read-only file system"
    return None


def _results_dir_errors(cfg: dict) -> list[str]:
    """``cfg['results_dir']`` normalised in place, or why it cannot hold results."""
    try:
        cfg["results_dir"] = normalise_results_dir(cfg["results_dir"])
    except ConfigError as err:
        return [f"config key 'results_dir': {err}"]
    problem = results_dir_problem(cfg["results_dir"])
    return [f"config key 'results_dir': {problem}"] if problem else []


# --------------------------------------------------------------------------- validate


def _shared_protocol_errors(shared: dict) -> list[str]:
    """Top-level ``evaluation.protocols`` names that no family defines (checked here so that the
    error names the key the user wrote, not each experiment that inherits it)."""
    from .tasks import FAMILIES

    names = (shared.get("evaluation") or {}).get("protocols") or []
    known = sorted({p for f in FAMILIES.values() for p in f.protocols})
    return [
        f"config key 'evaluation.protocols[{i}]': {excerpt(n)} is not an evaluation protocol; "
        f"allowed: {', '.join(known)}"
        for i, n in enumerate(names)
        if n not in known
    ]


def _moved_errors(raw: dict) -> list[str]:
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
        decoder = _lookup(raw, (*path, "decoder"))
        moved += [
            f"config key '{_key_of((*path, 'decoder', k))}': decoders are now chosen by name in "
            f"{_key_of((*path, 'decoders'))}, a list of svm (the exact minimiser; what "
            "solver: newton gave), liblinear_dual, liblinear_auto (what solver: liblinear "
            "gave), ridge"
            for k in _DECODER_MOVED
            if isinstance(decoder, dict) and k in decoder
        ]
    return moved


def validate(config: dict, schema: dict) -> dict:
    """Return a validated copy of ``config`` with defaults filled, numbers canonicalised
    (:func:`coerce_numbers`), ``results_dir`` expanded and each experiment resolved
    (``config["experiments"][name]`` holds its effective settings).

    Raises ConfigError listing every problem (:func:`format_errors`), each naming its key and
    the allowed values; the checks of the expanded sweep are :func:`check_config`'s.
    """
    if not isinstance(config, dict):
        raise ConfigError(
            format_errors(
                [
                    f"config key '(top level)': the configuration is {_kind(config)}; it must "
                    "be a mapping of keys (results_dir:, experiments:, training:, …)"
                ]
            )
        )
    problem = _size_problem(config)
    if problem:
        raise ConfigError(format_errors([f"config key '(top level)': {problem}"]))
    errors = _key_errors(config) or _moved_errors(config)
    if errors:
        raise ConfigError(format_errors(errors))
    cfg = coerce_numbers(copy.deepcopy(dict(config)), schema)
    errors = [
        f"config key '{k}': must be a finite number, not NaN or infinity"
        for k in nonfinite_keys(cfg)
    ]
    if errors:
        raise ConfigError(format_errors(errors))
    errors = _errors(cfg, schema)
    shared = copy.deepcopy(cfg)
    fill_defaults(cfg, schema)
    errors = errors or _errors(cfg, schema)
    if not errors:
        errors += _results_dir_errors(cfg)
    if not errors:
        errors += _shared_protocol_errors(shared)
    if not errors:
        for name, exp in cfg["experiments"].items():
            resolved, problems = resolve_experiment(name, exp, shared, schema)
            cfg["experiments"][name] = resolved
            errors += problems
    if not errors:
        errors += _shared_family_key_errors(shared, schema, cfg["experiments"])
    if errors:
        raise ConfigError(format_errors(errors))
    return cfg
