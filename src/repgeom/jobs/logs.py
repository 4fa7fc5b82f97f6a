"""A job's log: the ``repgeom`` logger sent to the rule's log file and stderr."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

log = logging.getLogger("repgeom")


@contextlib.contextmanager
def log_to(path: str):
    """Send the ``repgeom`` logger to ``path`` and stderr for the duration of a job step.

    An exception is logged before it propagates, so the rule's log says why the job failed:
    a damaged or missing input (ManifestError) by its message, which names the file and the
    fix, anything else with its traceback.
    """
    from ..datasets.cifar10 import DatasetError
    from ..manifests import ManifestError

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    handlers = [logging.FileHandler(path, mode="w"), logging.StreamHandler()]
    for h in handlers:
        h.setFormatter(fmt)
        log.addHandler(h)
    log.setLevel(logging.INFO)
    try:
        yield log
    except (ManifestError, DatasetError) as err:
        log.error("step failed: %s", err)
        raise
    except Exception:
        log.exception("step failed")
        raise
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()
