"""Batched training of R independent networks as one vectorised model.

Every run has its own data (R, n, …), its own shuffling generator and its own early stop, so
its trajectory does not depend on the other runs in the batch (tested to ≤ 1e-5). The loop sees
a network (:mod:`repgeom.networks`: forward pass, gradient, trained parameters), a loss
(:mod:`repgeom.losses`) and an optimiser (:mod:`repgeom.optimisers`) through their interfaces
only: a new architecture, loss or optimiser never edits it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .losses import Loss, get_loss
from .networks.base import Network, Params, clone, max_change, to_numpy
from .optimisers import Optimiser, get_optimiser

log = logging.getLogger(__name__)

#: how early stopping is decided; recorded in every run's metadata
STOPPING_RULE = "per-run: stop when max |Δparam| over one epoch ≤ conv_tol"


def shuffle_rng(seed: int) -> np.random.Generator:
    """The generator of one run's minibatch order (one permutation per epoch)."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(7,)))


def snapshot_epochs(epochs: int, schedule: str = "log", count: int = 20, every: int = 0) -> list:
    """Epochs at which weights are saved; always includes 0 and ``epochs``.

    ``log``: about ``count`` roughly log-spaced epochs in [1, epochs] plus 0;
    ``linear``: every ``every`` epochs.
    """
    if schedule == "linear":
        pts = set(range(0, epochs + 1, max(1, every)))
    elif schedule == "log":
        pts = {int(round(v)) for v in np.logspace(0, math.log10(max(epochs, 1)), max(count - 1, 1))}
    else:
        raise ValueError(f"unknown snapshot schedule {schedule!r}; allowed: log, linear")
    pts |= {0, epochs}
    return sorted(p for p in pts if 0 <= p <= epochs)


def evaluated_epochs(saved, epochs: int, spec: dict | None = None) -> list[int]:
    """The saved snapshot epochs that the evaluation computes metrics at (``evaluation.snapshots``).

    ``saved``: the epochs a run's weights were saved at (sorted, with 0 and the last);
    ``spec``: None or ``{"schedule": "all"}`` evaluates every saved epoch; otherwise the
    schedule's epochs (:func:`snapshot_epochs` with the same keys as ``training.snapshots``:
    ``log`` with ``count``, ``linear`` with ``every``) are each replaced by the nearest saved
    epoch (the earlier one on a tie) and repeats collapse. The first and last saved epochs are
    always evaluated, so the result is a subset of ``saved`` that keeps both ends, and a
    schedule denser than the saved one evaluates every saved epoch.
    """
    saved = sorted(int(e) for e in saved)
    if not saved:
        return []
    if spec is None or spec.get("schedule", "all") == "all":
        return saved
    wanted = snapshot_epochs(epochs, spec["schedule"], spec.get("count", 10), spec.get("every", 10))
    arr = np.asarray(saved)
    picked = {saved[0], saved[-1]}
    for e in wanted:
        i = int(np.searchsorted(arr, e))  # arr[i - 1] < e <= arr[i]
        lo, hi = arr[max(i - 1, 0)], arr[min(i, len(arr) - 1)]
        picked.add(int(hi if hi - e < e - lo else lo))
    return sorted(picked)


@dataclass(frozen=True)
class TrainSettings:
    lr: float = 0.1
    batch_size: int = 200
    epochs: int = 5000
    conv_tol: float = 1e-5
    snapshot_epochs: tuple[int, ...] = (0, 5000)
    progress_every_s: float = 10.0


@dataclass
class TrainResult:
    """Snapshots (epoch → numpy params, each with a leading run axis), per-epoch training loss
    (R, epochs) with NaN after a run stopped, and each run's last trained epoch."""

    snapshots: dict[int, dict[str, np.ndarray]]
    loss: np.ndarray
    stop_epoch: np.ndarray
    converged: np.ndarray
    wall_s: float = 0.0


@dataclass
class LoopState:
    """The training loop after a whole epoch: everything it needs to go on as if it had never
    stopped (a checkpoint's content). Arrays have a leading run axis R."""

    epoch: int
    params: dict[str, np.ndarray]
    rng_states: list[dict]
    active: np.ndarray
    stop_epoch: np.ndarray
    converged: np.ndarray
    loss: np.ndarray  # (R, epoch) float32
    snapshots: dict[int, dict[str, np.ndarray]]
    elapsed_s: float
    reason: str = ""  # why it was saved, as read back from a checkpoint
    optimiser: dict[str, np.ndarray] = field(default_factory=dict)  # the optimiser's state


class Checkpointer:
    """When and how the training loop saves its state.

    ``save(state)`` is called after an epoch once ``every_s`` seconds passed since the last
    save, and at once when ``stop_requested`` is set (by a SIGTERM handler, say); the loop then
    raises :class:`TrainingInterrupted`.
    """

    def __init__(self, save: Callable[[LoopState], None], every_s: float):
        self.save = save
        self.every_s = every_s
        self.stop_requested = False


class TrainingInterrupted(RuntimeError):
    """Training stopped on request after saving a checkpoint."""


def step(
    net: Network,
    p: Params,
    xb: torch.Tensor,
    yb: torch.Tensor,
    loss: Loss,
    optimiser: Optimiser,
    opt_state: dict,
    lr: torch.Tensor,
    workspace: dict | None = None,
    grads: Params | None = None,
) -> torch.Tensor:
    """One optimiser step on every run, in place; returns each run's minibatch loss (R,).

    xb (R, B, …), yb (R, B, K) float, lr (R,) (0 freezes a run); ``workspace`` from
    ``net.workspace`` for this minibatch shape and ``grads`` (trained name → zeros like the
    parameter) are allocated here when not given. The error at the logits is scaled once by
    the optimiser (the minibatch mean, and for SGD the learning rate too).
    """
    z, hidden = net.forward(p, xb, workspace)
    value = loss.value(z, yb)
    dz = loss.error(z, yb).mul_(optimiser.error_scale(lr, xb.shape[1])[:, None, None])
    if optimiser.fused:
        net.backward(p, xb, hidden, dz, p, alpha=-1.0, accumulate=True, workspace=workspace)
    else:
        if grads is None:
            grads = {k: torch.zeros_like(p[k]) for k in net.trained}
        net.backward(p, xb, hidden, dz, grads, workspace=workspace)
        optimiser.step(p, grads, opt_state, lr)
    return value


def train(
    net: Network,
    params: Params,
    x: torch.Tensor,
    y: torch.Tensor,
    settings: TrainSettings,
    shuffle_seeds: list[int],
    on_progress: Callable[[dict], None] | None = None,
    checkpointer: Checkpointer | None = None,
    resume: LoopState | None = None,
    loss: Loss | str = "bce",
    optimiser: Optimiser | str = "sgd",
) -> TrainResult:
    """Train the R networks ``params`` of ``net`` in place.

    x (R, n, …) float32 inputs, y (R, n, K) float32 targets (as ``loss`` reads them), both on
    the parameters' device; a leading axis of 1 instead of R gives every run the same samples
    (a data set held once; each run still draws its own minibatch order).
    ``shuffle_seeds`` (R,) seeds each run's minibatch order. With ``resume`` (a saved
    :class:`LoopState` of the same runs), training goes on from its epoch and ends exactly as
    an uninterrupted one; ``params`` are then overwritten by the saved ones.
    """
    loss = get_loss(loss) if isinstance(loss, str) else loss
    optimiser = get_optimiser(optimiser) if isinstance(optimiser, str) else optimiser
    R, n = next(iter(params.values())).shape[0], x.shape[1]
    if x.shape[0] != y.shape[0] or x.shape[0] not in (1, R) or y.shape[1] != n:
        raise ValueError(
            f"inputs {tuple(x.shape)} and targets {tuple(y.shape)} need one leading axis, of "
            f"{R} runs or 1 (shared by every run), and as many samples"
        )
    dev = x.device
    rngs = [shuffle_rng(s) for s in shuffle_seeds]
    lr_on = torch.full((R,), settings.lr, device=dev)
    active = torch.ones(R, dtype=torch.bool, device=dev)
    stop_epoch = np.full(R, settings.epochs)
    converged = np.zeros(R, dtype=bool)
    loss_hist = np.full((R, settings.epochs), np.nan, dtype=np.float32)
    wanted = set(settings.snapshot_epochs)
    snapshots = {0: to_numpy(params)} if 0 in wanted else {}
    opt_state = optimiser.init_state(params, net.trained)
    start, elapsed_before = 1, 0.0
    if resume is not None:
        for name, value in resume.params.items():
            params[name].copy_(torch.as_tensor(value))
        for name, value in resume.optimiser.items():
            opt_state[name].copy_(torch.as_tensor(value))
        for g, state in zip(rngs, resume.rng_states, strict=True):
            g.bit_generator.state = state
        active = torch.tensor(resume.active, device=dev)  # a copy: it changes in place
        stop_epoch, converged = resume.stop_epoch.copy(), resume.converged.copy()
        loss_hist[:, : resume.epoch] = resume.loss
        snapshots = dict(resume.snapshots)
        start, elapsed_before = resume.epoch + 1, resume.elapsed_s
    # minibatches are gathered straight from the flattened data into small reused buffers, so
    # the matmuls read them from cache; row r·n + i of the flat view is sample i of run r
    x_flat, y_flat = x.reshape(x.shape[0] * n, -1), y.reshape(y.shape[0] * n, -1)
    offset = (torch.arange(R, device=dev) * n)[:, None] if x.shape[0] == R else 0
    bufs: dict[int, tuple] = {}
    grads = None if optimiser.fused else {k: torch.zeros_like(params[k]) for k in net.trained}
    t0 = last = last_save = time.perf_counter()
    t0 -= elapsed_before
    epoch = start - 1

    def state() -> LoopState:
        return LoopState(
            epoch=epoch,
            params=to_numpy(params),
            rng_states=[g.bit_generator.state for g in rngs],
            active=active.cpu().numpy().copy(),
            stop_epoch=stop_epoch.copy(),
            converged=converged.copy(),
            loss=loss_hist[:, :epoch].copy(),
            snapshots=dict(snapshots),
            elapsed_s=time.perf_counter() - t0,
            optimiser=to_numpy(opt_state),
        )

    for epoch in range(start, settings.epochs + 1):
        perm = torch.as_tensor(np.stack([g.permutation(n) for g in rngs]), device=dev) + offset
        before = clone({k: params[k] for k in net.trained})
        lr = lr_on * active
        total = torch.zeros(R, device=dev)
        n_batches = 0
        for i in range(0, n, settings.batch_size):
            idx = perm[:, i : i + settings.batch_size]
            B = idx.shape[1]
            if B not in bufs:
                xb = x.new_empty(R, B, *x.shape[2:])
                bufs[B] = (xb, y.new_empty(R, B, y.shape[2]), net.workspace(R, B, xb))
            xb, yb, ws = bufs[B]
            torch.index_select(x_flat, 0, idx.reshape(-1), out=xb.view(R * B, -1))
            torch.index_select(y_flat, 0, idx.reshape(-1), out=yb.view(R * B, -1))
            total += step(net, params, xb, yb, loss, optimiser, opt_state, lr, ws, grads)
            n_batches += 1
        # a copy: on the CPU .numpy() is a view, and `active` changes in place below
        was_active = active.cpu().numpy().copy()
        loss_hist[was_active, epoch - 1] = (total / n_batches).cpu().numpy()[was_active]
        newly = active & (max_change(params, before, net.trained) <= settings.conv_tol)
        if newly.any():
            idx = newly.cpu().numpy()
            stop_epoch[idx] = epoch
            converged[idx] = True
            active &= ~newly
        if epoch in wanted:
            snapshots[epoch] = to_numpy(params)
        now = time.perf_counter()
        all_done = not bool(active.any())
        if on_progress and (
            now - last >= settings.progress_every_s or epoch == settings.epochs or all_done
        ):
            last = now
            on_progress(
                {
                    "epoch": epoch,
                    "epochs": settings.epochs,
                    "mean_loss": float(np.nanmean(loss_hist[:, epoch - 1]))
                    if was_active.any()
                    else float("nan"),
                    "converged": int(converged.sum()),
                    "runs": R,
                    "elapsed_s": now - t0,
                }
            )
        if all_done:
            break
        if (
            checkpointer
            and epoch < settings.epochs  # at the last epoch, finishing is quicker
            and (checkpointer.stop_requested or now - last_save >= checkpointer.every_s)
        ):
            checkpointer.save(state())
            last_save = time.perf_counter()
            if checkpointer.stop_requested:
                raise TrainingInterrupted(f"stopped on request after epoch {epoch}")
    # Runs frozen by early stopping keep their weights: later scheduled snapshots repeat them.
    final = to_numpy(params)
    for e in wanted:
        if e > epoch:
            snapshots[e] = final
    return TrainResult(
        snapshots=dict(sorted(snapshots.items())),
        loss=loss_hist,
        stop_epoch=stop_epoch,
        converged=converged,
        wall_s=time.perf_counter() - t0,
    )
