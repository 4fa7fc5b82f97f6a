"""The training job: train the runs of one block as one vectorised model and write each
run's weights and loss."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid

import numpy as np
import pyarrow as pa
import torch

from .. import checkpoints, networks, storage
from ..activations import get_activation
from ..devices import resolve_device
from ..networks.base import to_device
from ..samples import training_samples
from ..tasks import build_task
from ..training import STOPPING_RULE, Checkpointer, TrainSettings, snapshot_epochs, train
from .faults import inject_failure

log = logging.getLogger("repgeom")


def train_settings(tcfg: dict) -> TrainSettings:
    snaps = tcfg["snapshots"]
    return TrainSettings(
        lr=tcfg["lr"],
        batch_size=tcfg["batch_size"],
        epochs=tcfg["epochs"],
        conv_tol=tcfg["conv_tol"],
        snapshot_epochs=tuple(
            snapshot_epochs(tcfg["epochs"], snaps["schedule"], snaps["count"], snaps["every"])
        ),
    )


def train_block(
    run_cfgs: list[dict],
    weights_out: list[str],
    loss_out: list[str],
    device: str = "auto",
    progress_every_s: float = 10.0,
    checkpoint: str | None = None,
    checkpoint_every_s: float = 60.0,
) -> None:
    """Train the runs of one block as one vectorised model and write each run's files.

    With ``checkpoint`` (a path), the loop's state is saved there every ``checkpoint_every_s``
    seconds and on SIGTERM, and a saved state of the same runs is resumed from; the caller
    removes it once the job's outputs are recorded.
    """
    inject_failure(run_cfgs)
    dev = resolve_device(device)
    m = run_cfgs[0]["model"]
    shared = {
        "activation": {c["model"]["activation"] for c in run_cfgs},
        "model": {
            repr({k: v for k, v in c["model"].items() if k not in ("init_seed", "readout")})
            for c in run_cfgs
        },
        "training": {
            repr({k: v for k, v in c["training"].items() if k != "shuffle_seed"}) for c in run_cfgs
        },
    }
    if any(len(v) != 1 for v in shared.values()):
        raise ValueError(
            f"a training block needs one activation, one model and one training setup; got {shared}"
        )
    act = get_activation(m["activation"])
    tcfg = run_cfgs[0]["training"]
    settings = dataclasses.replace(train_settings(tcfg), progress_every_s=progress_every_s)
    tasks = [build_task(c["task"]) for c in run_cfgs]
    shapes = {(t.input_shape, t.target.shape[1], t.loss) for t in tasks}
    if len(shapes) != 1:
        raise ValueError(f"a training block needs equal input and output sizes; got {shapes}")
    input_shape, n_out, loss = shapes.pop()
    # a data set's runs differ at most in their data seed, which it does not use
    data_cfgs = {repr({k: v for k, v in c["task"].items() if k != "data_seed"}) for c in run_cfgs}
    if all(t.fixed_data for t in tasks) and len(data_cfgs) == 1:
        # one data set for every run: held once (a leading run axis of 1), indexed per run
        cond, xs = training_samples(run_cfgs[0]["task"], tasks[0])
        x = torch.as_tensor(xs[None], device=dev)
        y = torch.as_tensor(tasks[0].target[cond][None].astype(np.float32), device=dev)
        log.info("one data set of %d samples, held once for the %d runs", len(xs), len(run_cfgs))
    else:
        data = [training_samples(c["task"], t) for c, t in zip(run_cfgs, tasks, strict=True)]
        x = torch.as_tensor(np.stack([xs for _, xs in data]), device=dev)
        targets = [t.target[c] for t, (c, _) in zip(tasks, data, strict=True)]
        y = torch.as_tensor(np.stack(targets).astype(np.float32), device=dev)
    net = networks.build(m["arch"], networks.model_settings(m["arch"], m), act, input_shape, n_out)
    params = to_device(
        net.init(
            [c["model"]["init_seed"] for c in run_cfgs], [c["model"]["readout"] for c in run_cfgs]
        ),
        dev,
    )
    log.info(
        "training %d runs (%s, %s) for up to %d epochs on %s",
        len(run_cfgs),
        m["arch"],
        act.name,
        settings.epochs,
        dev,
    )

    def progress(p):
        eta = p["elapsed_s"] / p["epoch"] * (p["epochs"] - p["epoch"])
        log.info(
            "epoch %d/%d  mean loss %.4g  converged %d/%d  elapsed %.1fs  eta ≤ %.0fs",
            p["epoch"],
            p["epochs"],
            p["mean_loss"],
            p["converged"],
            p["runs"],
            p["elapsed_s"],
            eta,
        )

    fp = checkpoints.fingerprint(run_cfgs, dev)
    resume = checkpoints.load(checkpoint, fp) if checkpoint else None
    if resume is not None:
        log.info(
            "resuming from checkpoint %s after epoch %d (%.1fs trained before; saved %s)",
            checkpoint,
            resume.epoch,
            resume.elapsed_s,
            resume.reason,
        )

    def save(state):
        reason = "on SIGTERM" if ckpt.stop_requested else "periodically"
        checkpoints.save(checkpoint, state, fp, reason)
        log.info("checkpoint saved %s after epoch %d", reason, state.epoch)

    ckpt = Checkpointer(save, checkpoint_every_s) if checkpoint else None
    with checkpoints.stop_on_sigterm(ckpt) if ckpt else contextlib.nullcontext():
        result = train(
            net,
            params,
            x,
            y,
            settings,
            [c["training"]["shuffle_seed"] for c in run_cfgs],
            progress,
            checkpointer=ckpt,
            resume=resume,
            loss=loss,
            optimiser=tcfg.get("optimizer", "sgd"),
        )
    log.info(
        "trained in %.1fs; converged %d/%d", result.wall_s, result.converged.sum(), len(run_cfgs)
    )
    epochs = list(result.snapshots)
    batch_id = uuid.uuid4().hex  # the runs trained together share it (and their wall time)
    prov = storage.provenance(dev)
    versions = storage.package_versions()
    for r, cfg in enumerate(run_cfgs):
        outcome = {
            "stop_epoch": int(result.stop_epoch[r]),
            "converged": bool(result.converged[r]),
            "stopping_rule": STOPPING_RULE,
            "batch_runs": len(run_cfgs),
            "batch_id": batch_id,
            "train_wall_s": result.wall_s,
        }
        meta = {
            "config": cfg,
            "training_outcome": outcome,
            "versions": versions,
            "provenance": prov,
        }
        snaps = [{k: v[r] for k, v in result.snapshots[e].items()} for e in epochs]
        n = int(result.stop_epoch[r])
        loss = pa.table(
            {
                "epoch": pa.array(np.arange(1, n + 1), pa.int32()),
                "train_loss": pa.array(result.loss[r, :n], pa.float32()),
            }
        )
        storage.write_parquet(loss, loss_out[r], meta)
        storage.write_weights(weights_out[r], epochs, snaps, meta)
