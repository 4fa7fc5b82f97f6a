"""The workflow's steps as functions: train a block of runs, evaluate it, aggregate all runs.

The Snakemake scripts in ``workflow/scripts`` are thin wrappers around these.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from . import checkpoints, networks, storage
from .activations import get_activation
from .evaluation import DICHOTOMY_COLUMNS, RUN_COLUMNS, eval_settings, evaluate_analyses
from .networks.base import to_device
from .samples import training_samples
from .tasks import build_task
from .training import STOPPING_RULE, Checkpointer, TrainSettings, snapshot_epochs, train

log = logging.getLogger("repgeom")

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(choice: str) -> str:
    """``auto`` → cuda if torch sees a GPU, else cpu; ``cuda`` without a GPU fails at once."""
    if choice not in DEVICES:
        raise ValueError(f"device {choice!r} not allowed; allowed: {', '.join(DEVICES)}")
    if choice == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if os.environ.get("CUDA_VISIBLE_DEVICES"):
            log.warning(
                "GPU(s) %s were allotted but torch %s sees no CUDA device; training on the CPU "
                "(install a CUDA build of torch to use them)",
                os.environ["CUDA_VISIBLE_DEVICES"],
                torch.__version__,
            )
        return "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "config key 'training.device' is 'cuda' but torch sees no CUDA device "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); "
            "use 'auto' or 'cpu', or install a CUDA build of torch"
        )
    return choice


FAIL_ENV = "REPGEOM_FAIL_IF"


def inject_failure(run_cfgs: list[dict]) -> None:
    """Testing hook: raise if ``$REPGEOM_FAIL_IF`` (``key=value``, e.g. ``act=relu``) matches a
    run key of this block, so tests can make one job fail on a real cluster."""
    rule = os.environ.get(FAIL_ENV, "")
    if not rule:
        return
    key, _, value = rule.partition("=")
    if any(str(c["run"].get(key)) == value for c in run_cfgs):
        raise RuntimeError(f"failure injected by {FAIL_ENV}={rule}")


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
    if all(t.fixed_data for t in tasks) and len({repr(c["task"]) for c in run_cfgs}) == 1:
        # one data set for every run: held once (a leading run axis of 1), indexed per run
        cond, xs = training_samples(run_cfgs[0]["task"], tasks[0])
        x = torch.as_tensor(xs[None], device=dev)
        y = torch.as_tensor(tasks[0].target[cond][None].astype(np.float32), device=dev)
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


def evaluate_block(
    weights_in: list[str], metrics_out: list[str], dichotomies_out: list[str], ecfg: dict
) -> None:
    """Evaluate every snapshot of each run under every analysis (decoder × protocol); write its
    metrics.parquet (run-level metrics) and dichotomies.parquet (per-dichotomy metrics, long
    form), one row per snapshot and analysis (and dichotomy)."""
    for src, dst, dst_d in zip(weights_in, metrics_out, dichotomies_out, strict=True):
        t0 = time.perf_counter()
        meta = storage.read_metadata(src)
        epochs, params = storage.read_weights(src)
        task = build_task(meta["config"]["task"])
        settings = eval_settings(ecfg, meta["config"]["task"]["family"])
        analyses = evaluate_analyses(meta["config"], params, settings, task=task)
        outcome = meta["training_outcome"]
        S, A = len(epochs), len(analyses)
        names = list(task.dichotomies)
        layer, decoder, protocol = (list(col) for col in zip(*analyses, strict=True))
        table = pa.table(
            {
                "epoch": pa.array(np.tile(epochs, A), pa.int32()),
                "layer": pa.array(np.repeat(layer, S), pa.int32()),
                "decoder": pa.array(np.repeat(decoder, S), pa.string()),
                "protocol": pa.array(np.repeat(protocol, S), pa.string()),
            }
            | {
                k: pa.array(np.concatenate([run[k] for run, _ in analyses.values()]), pa.float64())
                for k in RUN_COLUMNS
            }
            | {
                "stop_epoch": pa.array(np.full(S * A, outcome["stop_epoch"]), pa.int32()),
                "converged": pa.array(np.full(S * A, outcome["converged"])),
            }
        )
        rows = S * len(names)
        long = pa.table(
            {
                "epoch": pa.array(np.tile(epochs, len(names) * A), pa.int32()),
                "layer": pa.array(np.repeat(layer, rows), pa.int32()),
                "decoder": pa.array(np.repeat(decoder, rows), pa.string()),
                "protocol": pa.array(np.repeat(protocol, rows), pa.string()),
                # a task may name no dichotomies (CIFAR-10): then the table has no rows
                "dichotomy": pa.array(np.tile(np.repeat(np.array(names, str), S), A), pa.string()),
                "role": pa.array(
                    np.tile(np.repeat(np.array([task.role(n) for n in names], str), S), A),
                    pa.string(),
                ),
            }
            | {
                k: pa.array(
                    np.concatenate(
                        [dich[n, k] for _, dich in analyses.values() for n in names]
                        or [np.empty(0)]
                    ),
                    pa.float64(),
                )
                for k in DICHOTOMY_COLUMNS
            }
        )
        meta_out = {
            "config": meta["config"],
            "evaluation": ecfg,
            "training_outcome": outcome,
            "versions": storage.package_versions(),
            "provenance": meta["provenance"],
        }
        storage.write_parquet(table, dst, meta_out)
        storage.write_parquet(long, dst_d, meta_out)
        log.info(
            "evaluated %s (%d snapshots × %d layer-analyses) in %.1fs",
            dst,
            S,
            A,
            time.perf_counter() - t0,
        )


_PANDAS_TYPES = {"string": "string", "float64": "float64", "int64": "int64"}


def collect(files: list[str], experiment: str, key_types: dict[str, str]) -> pd.DataFrame:
    """Per-run tables in one frame, with ``experiment`` and the run keys as typed columns
    first (in path order)."""
    frames = []
    for f in files:
        run = storage.read_metadata(f)["config"]["run"]
        df = pd.read_parquet(f)
        for k in reversed(list(key_types)):
            df.insert(0, k, run[k])
        df.insert(0, "experiment", experiment)
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    df["experiment"] = df["experiment"].astype("string")
    for k, t in key_types.items():
        df[k] = df[k].astype(_PANDAS_TYPES[t])
    return df


def summarise(runs: pd.DataFrame, dich: pd.DataFrame, key_types: dict[str, str]) -> pd.DataFrame:
    """Mean, std, sem and n over seeds per cell, epoch and metric, in long form; per-dichotomy
    metrics carry their dichotomy (null for run-level metrics)."""
    keys = ["experiment"] + [k for k in key_types if k != "seed"] + list(storage.ROW_KEYS)
    run_long = runs.melt(id_vars=keys + ["seed"], value_vars=list(RUN_COLUMNS), var_name="metric")
    run_long["dichotomy"] = pd.Series(pd.NA, index=run_long.index, dtype="string")
    d_long = dich.melt(
        id_vars=keys + ["seed", "dichotomy"], value_vars=list(DICHOTOMY_COLUMNS), var_name="metric"
    )
    long = pd.concat([run_long, d_long], ignore_index=True)
    g = long.groupby(keys + ["metric", "dichotomy"], observed=True, sort=True, dropna=False)
    out = g["value"].agg(mean="mean", std="std", n="count").reset_index()
    out["sem"] = out["std"] / np.sqrt(out["n"])
    out["dichotomy"] = out["dichotomy"].astype("string")
    return out[keys + ["metric", "dichotomy", "mean", "std", "sem", "n"]]


def aggregate(
    metrics_in: list[str],
    dichotomies_in: list[str],
    out: dict[str, str],
    experiment: str,
    key_types: dict[str, str],
    config: dict,
) -> None:
    """All runs of one experiment into ``out['metrics']``, ``out['dichotomies']`` and
    ``out['summary']``."""
    runs = collect(metrics_in, experiment, key_types)
    dich = collect(dichotomies_in, experiment, key_types)
    meta = {
        "config": config,
        "experiment": experiment,
        "key_types": key_types,
        "versions": storage.package_versions(),
        "n_runs": len(metrics_in),
    }
    for name, df in (("metrics", runs), ("dichotomies", dich)):
        storage.write_parquet(pa.Table.from_pandas(df, preserve_index=False), out[name], meta)
    summary = summarise(runs, dich, key_types)
    storage.write_parquet(pa.Table.from_pandas(summary, preserve_index=False), out["summary"], meta)
    log.info("aggregated %d runs of %s", len(metrics_in), experiment)


@contextlib.contextmanager
def log_to(path: str):
    """Send the ``repgeom`` logger to ``path`` and stderr for the duration of a job step.

    An exception is logged before it propagates, so the rule's log says why the job failed:
    a damaged or missing input (ManifestError) by its message, which names the file and the
    fix, anything else with its traceback.
    """
    from .datasets.cifar10 import DatasetError
    from .manifests import ManifestError

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
