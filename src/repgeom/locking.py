"""One workflow at a time per results folder.

Snakemake locks its working directory, not the outputs: two working directories (or a laptop
and a cluster login node) writing one absolute ``results_dir`` would train the same runs twice
and race on the aggregated tables. The workflow takes an advisory lock on
``<results_dir>/.repgeom.lock`` for as long as it runs (released by the kernel when the process
ends, however it ends); ``python -m repgeom prune --delete`` takes it too. Across machines this
holds where the shared file system supports flock (NFSv4, most Lustre and GPFS mounts); where it
does not, a warning says so and the workflow goes on unlocked.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from pathlib import Path
from typing import IO

LOCK_NAME = ".repgeom.lock"
log = logging.getLogger("repgeom")


class ResultsLocked(RuntimeError):
    """Another process holds the results folder."""


class ResultsUnwritable(ResultsLocked):
    """The results folder's lock file cannot be written (permissions, a read-only file
    system): nothing could be written there either."""


def lock_results(results_dir: str | Path, what: str = "a Snakemake run") -> IO:
    """Hold the lock of ``results_dir`` while the returned file stays open; raises
    ResultsLocked naming the holder (process, host, working directory, start time)."""
    path = Path(results_dir, LOCK_NAME)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+")  # noqa: SIM115 (held open: the lock lives as long as the file)
    except OSError as err:  # a results folder of another user, a read-only file system
        raise ResultsUnwritable(
            f"cannot write {path} ({err.strerror or err}): results_dir '{results_dir}' is not "
            "writable by you; give a results_dir of your own, or ask its owner"
        ) from None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise ResultsLocked(
            f"results_dir '{results_dir}' is in use by {holder}; wait for it to end, or give "
            "this run another results_dir"
        ) from None
    except OSError as err:  # file systems mounted without locks (Lustre noflock, some NFS)
        log.warning(
            "cannot lock %s (%s): nothing stops another workflow from writing there at the "
            "same time",
            path,
            err.strerror or err,
        )
    fh.seek(0)
    fh.truncate()
    fh.write(
        f"{what} (pid {os.getpid()} on {socket.gethostname()}, working directory "
        f"{os.getcwd()}, since {time.strftime('%Y-%m-%d %H:%M:%S')})\n"
    )
    fh.flush()
    return fh
