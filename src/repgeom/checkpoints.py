"""Training checkpoints: a job killed by a time limit, a preemption, a requeue or ``kill -9``
goes on from its last checkpoint when it runs again, and ends as if never interrupted.

A checkpoint is one ``.npz`` file (arrays, plus a JSON header for the rest) written to a
temporary name and renamed, so a kill while saving leaves the previous checkpoint intact. It
carries a fingerprint of the runs' resolved configurations: a checkpoint of other settings is
never resumed. The training step removes it once the job's manifest is written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
from pathlib import Path

import numpy as np

from . import storage
from .storage import atomic, temporary_name
from .training import LoopState

log = logging.getLogger("repgeom")

FORMAT = 2  # 2: the optimiser's state is saved too


def fingerprint(run_cfgs: list[dict], device: str = "cpu") -> str:
    """SHA-256 of what a resumed run must share with the interrupted one to end with its
    weights: the runs' resolved configurations (in order: the run axis), the device, and the
    versions of repgeom and torch (a code fix must not continue an old trajectory)."""
    versions = storage.package_versions()
    doc = {
        "runs": run_cfgs,
        "device": device,
        "versions": {k: versions[k] for k in ("repgeom", "torch")},
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def save(path: str | Path, state: LoopState, fp: str, reason: str = "") -> None:
    """Write ``state`` atomically to ``path`` (an ``.npz``); ``reason`` says why (for logs)."""
    arrays = {f"params.{k}": v for k, v in state.params.items()}
    arrays |= {f"opt.{k}": v for k, v in state.optimiser.items()}
    for e, snap in state.snapshots.items():
        arrays |= {f"snap.{e}.{k}": v for k, v in snap.items()}
    header = {
        "format": FORMAT,
        "fingerprint": fp,
        "epoch": state.epoch,
        "rng_states": state.rng_states,
        "elapsed_s": state.elapsed_s,
        "snapshot_epochs": sorted(state.snapshots),
        "reason": reason,
    }
    with atomic(path) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            header=np.array(json.dumps(header)),
            active=state.active,
            stop_epoch=state.stop_epoch,
            converged=state.converged,
            loss=state.loss,
            **arrays,
        )
        fh.flush()
        os.fsync(fh.fileno())


def load(path: str | Path, fp: str) -> LoopState | None:
    """The state saved at ``path``, or None if there is none, it is unreadable, or it belongs to
    other settings (each logged)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            if header.get("format") != FORMAT or header.get("fingerprint") != fp:
                log.warning("ignoring checkpoint %s: it was saved for other settings", path)
                return None
            params = {k.split(".", 1)[1]: z[k] for k in z.files if k.startswith("params.")}
            snapshots = {
                e: {k.split(".", 2)[2]: z[k] for k in z.files if k.startswith(f"snap.{e}.")}
                for e in header["snapshot_epochs"]
            }
            return LoopState(
                epoch=header["epoch"],
                params=params,
                rng_states=header["rng_states"],
                active=z["active"],
                stop_epoch=z["stop_epoch"],
                converged=z["converged"],
                loss=z["loss"],
                snapshots=snapshots,
                elapsed_s=header["elapsed_s"],
                reason=header.get("reason", ""),
                optimiser={k.split(".", 1)[1]: z[k] for k in z.files if k.startswith("opt.")},
            )
    except Exception as err:  # noqa: BLE001 (any damage means: start over, never crash)
        log.warning("ignoring unreadable checkpoint %s (%s); starting over", path, err)
        return None


def remove(path: str | Path) -> None:
    """Remove a checkpoint and any temporary left by a killed save."""
    path = Path(path)
    temporary_name(path)
    path.unlink(missing_ok=True)


@contextlib.contextmanager
def stop_on_sigterm(checkpointer):
    """While active, SIGTERM (SLURM's signal at a time limit or preemption) asks the training
    loop to save a checkpoint and stop, instead of killing it mid-epoch."""
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):
        log.warning("received SIGTERM: saving a checkpoint and stopping")
        checkpointer.stop_requested = True

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: keep the default behaviour
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
