"""Files written so that a kill never leaves one that looks complete, and their checksums.

Standard library only: the Snakefile imports this (through the manifests) on every parse.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """A process-private temporary name beside ``path``, after removing those that earlier
    writers of ``path`` left behind when they were killed (one job writes a file at a time)."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        stale.unlink(missing_ok=True)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic(path: str | Path):
    """Yield a temporary path to write ``path``'s content to; it is renamed into place when the
    block ends without an exception, and removed otherwise. A kill never leaves a file at
    ``path`` that looks complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
