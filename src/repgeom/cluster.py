"""What the Snakefile decides from Snakemake's resource settings when it is parsed: whether a
cluster profile still carries its placeholders, and whether the run goes to a cluster (where
training jobs ask for GPUs).

Kept free of Snakemake imports: the functions take the ``key=value`` strings Snakemake keeps
(``workflow.resource_settings.default_resources.args`` and, per rule, those of
``overwrite_resources``), so they are tested without a workflow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

#: a value the shipped profile leaves for the user to fill in, e.g. ``<your-partition>``
PLACEHOLDER = re.compile(r"<your-[^>]*>")
#: the profile that ships placeholders, named in the error (relative to the workflow)
SLURM_PROFILE = "profiles/slurm/config.v8+.yaml"
#: resources that only a SLURM submission uses; naming one means the run targets SLURM
SLURM_KEYS = ("slurm_partition", "slurm_account")


def _pairs(args: Iterable[str] | None) -> list[tuple[str, str]]:
    out = []
    for arg in args or ():
        key, _, value = str(arg).partition("=")
        out.append((key.strip(), value.strip().strip("'\"")))
    return out


def placeholder_errors(
    default_args: Iterable[str] | None, rule_args: Mapping[str, Iterable[str]] | None = None
) -> list[str]:
    """One message per resource whose value is still a ``<your-...>`` placeholder: its key,
    the file to edit and the command-line alternative."""
    found = [("default-resources", k, v) for k, v in _pairs(default_args)]
    for rule, args in (rule_args or {}).items():
        found += [(f"set-resources of rule {rule}", k, v) for k, v in _pairs(args)]
    errors = []
    for where, key, value in found:
        if PLACEHOLDER.search(value):
            what = key.removeprefix("slurm_")
            errors.append(
                f"resource '{key}' is still the placeholder '{value}' ({where}): replace it with "
                f'your cluster\'s {what} in {SLURM_PROFILE} (`{key}: "<name>"` under '
                f"default-resources), or pass `--default-resources {key}=<name> ...` on the "
                "command line (it replaces the profile's whole default-resources list: repeat the "
                "others, e.g. runtime and mem_mb)"
            )
    return errors


def targets_cluster(
    default_args: Iterable[str] | None,
    rule_args: Mapping[str, Iterable[str]] | None = None,
    remote_exec: bool = False,
) -> bool:
    """Whether this Snakemake run submits to (or runs inside a job of) a SLURM cluster: the
    resources name a SLURM partition or account (as ``profiles/slurm`` does), or Snakemake
    runs as a cluster job."""
    keys = {k for k, _ in _pairs(default_args)}
    for args in (rule_args or {}).values():
        keys |= {k for k, _ in _pairs(args)}
    return remote_exec or bool(keys & set(SLURM_KEYS))
