"""Evaluation protocols: what the metrics are computed on, as an analysis axis.

The metrics' formulas are fixed (docs/science.md); a protocol says which data feed them. The
``clean`` protocol is the definitions as stated; a task family may register others, such as
``original``: the evaluation as the paper's own code ran it, bugs included where they change
results, so a reproduction can say where it agrees with the published numbers and by how much
the clean definitions differ. Every protocol is evaluated from the same snapshots, so adding
one re-evaluates and never retrains.

This module imports nothing heavy: the task registry (read on every Snakefile parse) uses it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: where the parallelism score takes its condition representations
PS_SOURCES = ("means", "test_averages")
#: how the CCGP splits are chosen
CCGP_SPLITS = ("all", "nearest_pairs")


@dataclass(frozen=True)
class Protocol:
    """What the metrics are computed on.

    ``ps_on``: ``means`` takes the hidden responses to the noise-free condition means;
    ``test_averages`` averages, per condition, the hidden responses to the run's test samples
    (at the training noise σ; the mean of f, not f of the mean).
    ``ccgp_samples``: ``None`` uses the evaluation settings' ``ccgp_noise``; ``test`` fits each
    CCGP decoder on the test samples of its training conditions and scores it on the test
    samples of the held-out ones (the training samples unused).
    ``ccgp_splits``: ``all`` gives CCGP over all splits and over the proper splits;
    ``nearest_pairs`` gives, in both columns, the mean over the C/2 splits that each train on one
    positive and one negative condition and test on every other condition; the pairs are the
    matching that minimises the summed squared distance between the conditions' average hidden
    responses to the fresh samples below (the samples the decoders use).
    ``ccgp_sigma``: with ``nearest_pairs``, the noise of the fresh samples that the decoders are
    fitted and scored on (``None``: the evaluation's ``test_sigma``).
    ``intercept``: decoding accuracy and shattering dimension predict with the decoder's
    intercept (False uses w·h alone).
    ``description``: one line for docs and logs.
    ``revision``: counts the changes of what the protocol computes (0: none yet). An
    evaluation's recipe carries the revisions of its protocols that are above 0, so revising a
    protocol re-evaluates the experiments that use it (never retrains) instead of mixing results
    of two definitions; experiments of unrevised protocols keep their names.
    """

    name: str = "clean"
    description: str = "the metrics' definitions as stated"
    ps_on: str = "means"
    ccgp_samples: str | None = None
    ccgp_splits: str = "all"
    ccgp_sigma: float | None = None
    intercept: bool = True
    revision: int = 0

    def __post_init__(self):
        if self.ps_on not in PS_SOURCES:
            raise ValueError(f"ps_on {self.ps_on!r} not in {PS_SOURCES}")
        if self.ccgp_splits not in CCGP_SPLITS:
            raise ValueError(f"ccgp_splits {self.ccgp_splits!r} not in {CCGP_SPLITS}")
        if self.ccgp_samples not in (None, "test"):
            raise ValueError(f"ccgp_samples {self.ccgp_samples!r} not in (None, 'test')")


CLEAN = Protocol()
