"""Configuration: JSON-schema validation with readable errors, defaults, numeric coercion.

Pure Python (jsonschema + PyYAML): imported by the Snakefile on every parse.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import yaml

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and what is allowed."""


def load_schema(path: str | Path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


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


def _key(error: jsonschema.ValidationError) -> str:
    parts = []
    for p in error.absolute_path:
        parts.append(f"[{p}]" if isinstance(p, int) else ("." if parts else "") + str(p))
    return "".join(parts) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    msg = error.message
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        msg += f"; allowed keys: {', '.join(allowed)}"
    elif error.validator in ("oneOf", "anyOf"):
        msg = f"{error.instance!r} is not valid: " + "; or ".join(
            s.get("description", str(s)) for s in error.validator_value
        )
    return f"config key '{_key(error)}': {msg}"


def validate(config: dict, schema: dict) -> dict:
    """Return a validated copy of ``config`` with defaults filled and numbers coerced.

    Raises ConfigError listing every problem, each naming its key and the allowed values.
    """
    cfg = coerce_numbers(copy.deepcopy(dict(config)), schema)
    fill_defaults(cfg, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError(
            "invalid configuration:\n" + "\n".join("  - " + _describe(e) for e in errors)
        )
    return cfg
