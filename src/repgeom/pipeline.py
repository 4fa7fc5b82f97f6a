"""The workflow's steps as functions: train a block of runs, evaluate it, aggregate all runs.

The Snakemake scripts in ``workflow/scripts`` are thin wrappers around these.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from . import storage
from .activations import get_activation
from .decoders import DecoderSpec
from .evaluation import METRIC_COLUMNS, EvalSettings, evaluate_run, make_datasets
from .models import init_shallow
from .sweep import KEY_TYPES, RUN_KEYS
from .tasks import delta_dichotomies
from .training import STOPPING_RULE, TrainSettings, snapshot_epochs, train

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
) -> None:
    """Train the runs of one block as one vectorised model and write each run's files."""
    inject_failure(run_cfgs)
    dev = resolve_device(device)
    acts = {c["model"]["activation"] for c in run_cfgs}
    archs = {c["model"]["arch"] for c in run_cfgs}
    trainings = {
        repr({k: v for k, v in c["training"].items() if k != "shuffle_seed"}) for c in run_cfgs
    }
    if len(acts) != 1 or archs != {"shallow"} or len(trainings) != 1:
        raise ValueError(
            "a training block needs one activation, the shallow arch and one training setup"
        )
    act = get_activation(acts.pop())
    settings = dataclasses.replace(
        train_settings(run_cfgs[0]["training"]), progress_every_s=progress_every_s
    )
    data = [make_datasets(c["task"])["train"] for c in run_cfgs]
    x = torch.as_tensor(np.stack([xs for _, xs in data]), device=dev)
    xor = delta_dichotomies()["xor"]
    y = torch.as_tensor(np.stack([xor[c][:, None] for c, _ in data]).astype(np.float32), device=dev)
    m = run_cfgs[0]["model"]
    params = init_shallow(
        [c["model"]["init_seed"] for c in run_cfgs],
        run_cfgs[0]["task"]["dim"],
        m["width"],
        [c["model"]["readout"] for c in run_cfgs],
    ).to(dev)
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

    result = train(
        params, x, y, act, settings, [c["training"]["shuffle_seed"] for c in run_cfgs], progress
    )
    log.info(
        "trained in %.1fs; converged %d/%d", result.wall_s, result.converged.sum(), len(run_cfgs)
    )
    epochs = list(result.snapshots)
    prov = storage.provenance(dev)
    versions = storage.package_versions()
    for r, cfg in enumerate(run_cfgs):
        outcome = {
            "stop_epoch": int(result.stop_epoch[r]),
            "converged": bool(result.converged[r]),
            "stopping_rule": STOPPING_RULE,
            "batch_runs": len(run_cfgs),
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


def eval_settings(ecfg: dict) -> EvalSettings:
    d = ecfg["decoder"]
    spec = DecoderSpec(d["kind"], d["C"], d["max_iter"], d["solver"], d["tol"])
    return EvalSettings(spec, ecfg["test_sigma"])


def evaluate_block(weights_in: list[str], metrics_out: list[str], ecfg: dict) -> None:
    """Evaluate every snapshot of each run and write its metrics.parquet."""
    settings = eval_settings(ecfg)
    for src, dst in zip(weights_in, metrics_out, strict=True):
        t0 = time.perf_counter()
        meta = storage.read_metadata(src)
        epochs, params = storage.read_weights(src)
        cols = evaluate_run(meta["config"], params, settings)
        outcome = meta["training_outcome"]
        table = pa.table(
            {"epoch": pa.array(epochs, pa.int32())}
            | {k: pa.array(cols[k], pa.float64()) for k in METRIC_COLUMNS}
            | {
                "stop_epoch": pa.array(np.full(len(epochs), outcome["stop_epoch"]), pa.int32()),
                "converged": pa.array(np.full(len(epochs), outcome["converged"])),
            }
        )
        storage.write_parquet(
            table,
            dst,
            {
                "config": meta["config"],
                "evaluation": ecfg,
                "training_outcome": outcome,
                "versions": storage.package_versions(),
                "provenance": meta["provenance"],
            },
        )
        log.info("evaluated %s (%d snapshots) in %.1fs", dst, len(epochs), time.perf_counter() - t0)


def collect_metrics(files: list[str]) -> pd.DataFrame:
    """All runs' metrics in one frame, with the run keys as typed columns first."""
    frames = []
    for f in files:
        run = storage.read_metadata(f)["config"]["run"]
        df = pd.read_parquet(f)
        for k in reversed(RUN_KEYS):
            df.insert(0, k, run[k])
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    for k in RUN_KEYS:
        df[k] = df[k].astype(
            {"string": "string", "float64": "float64", "int64": "int64"}[KEY_TYPES[k]]
        )
    return df


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, std, sem and n over seeds per cell and epoch, in long form (one row per metric)."""
    keys = [k for k in RUN_KEYS if k != "seed"] + ["epoch"]
    long = df.melt(id_vars=keys + ["seed"], value_vars=list(METRIC_COLUMNS), var_name="metric")
    g = long.groupby(keys + ["metric"], observed=True, sort=True)["value"]
    out = g.agg(mean="mean", std="std", n="count").reset_index()
    out["sem"] = out["std"] / np.sqrt(out["n"])
    return out[keys + ["metric", "mean", "std", "sem", "n"]]


def aggregate(files: list[str], metrics_out: str, summary_out: str, config: dict) -> None:
    df = collect_metrics(files)
    meta = {"config": config, "versions": storage.package_versions(), "n_runs": len(files)}
    storage.write_parquet(pa.Table.from_pandas(df, preserve_index=False), metrics_out, meta)
    storage.write_parquet(
        pa.Table.from_pandas(summarise(df), preserve_index=False), summary_out, meta
    )
    log.info("aggregated %d runs into %s and %s", len(files), metrics_out, summary_out)


@contextlib.contextmanager
def log_to(path: str):
    """Send the ``repgeom`` logger to ``path`` and stderr for the duration of a job step.

    An exception is logged with its traceback before it propagates, so the rule's log says why
    the job failed.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    handlers = [logging.FileHandler(path, mode="w"), logging.StreamHandler()]
    for h in handlers:
        h.setFormatter(fmt)
        log.addHandler(h)
    log.setLevel(logging.INFO)
    try:
        yield log
    except Exception:
        log.exception("step failed")
        raise
    finally:
        for h in handlers:
            log.removeHandler(h)
            h.close()
