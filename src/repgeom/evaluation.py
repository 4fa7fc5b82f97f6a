"""Metrics over training, computed from weight snapshots, for any task family (spec §6).

Evaluation regenerates a run's data from its seeds, so it never needs the trainer, and a change
of evaluation setting never retrains. Snapshots repeated after early stopping are evaluated
once. Two kinds of result per snapshot:

* run-level metrics (:data:`RUN_COLUMNS`): losses, accuracy, kernel alignment, shattering
  dimension, participation ratio, sparsity, ‖W‖; and a family's own run-level columns
  (:func:`run_columns`, :func:`extra_run_metrics`: e.g. the unstructured family's movement),
  computed from every saved snapshot;
* per-dichotomy metrics (:data:`DICHOTOMY_COLUMNS`) for each dichotomy the task names (its
  targets and latent variables): parallelism score, CCGP over all splits and over the proper
  splits, and decoding accuracy at the training noise and at ``test_sigma``.

Both are computed for every *analysis*: each configured decoder (``repgeom.decoders``) under
each configured protocol (``repgeom.protocols``), in one pass that computes the hidden
responses once and shares every decoder fit that two analyses have in common.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import metrics as M
from . import networks
from .activations import get_activation
from .decoders import DecoderSpec, Problem, accuracies
from .losses import get_loss
from .protocols import CLEAN, Protocol
from .samples import make_datasets
from .tasks import Task, build_task, get_family

#: run-level metric columns of metrics.parquet, in order (docs/data_dictionary.md)
RUN_COLUMNS = (
    "train_loss",
    "test_loss",
    "test_accuracy",
    "input_alignment",
    "target_alignment",
    "task_alignment",
    "shattering_dim",
    "shattering_dim_noisy",
    "participation_ratio",
    "sparsity",
    "weight_norm",
)


def run_columns(family: str) -> tuple[str, ...]:
    """The run-level metric columns of ``family``'s metrics.parquet, in order: the common
    :data:`RUN_COLUMNS`, then the family's ``extra_run_columns`` (:class:`repgeom.tasks.Family`)."""
    return RUN_COLUMNS + get_family(family).extra_run_columns


def extra_run_metrics(
    family: str, task: Task, epochs: np.ndarray, params: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The family's own run-level columns (its ``run_metrics``) at every snapshot of ``params``
    (name → (S, …), the run's saved snapshots in epoch order, the first one its
    initialisation): column → (S,) float64, in ``extra_run_columns`` order; {} for a family
    without any. ValueError if the family's function gives other columns or lengths."""
    fam = get_family(family)
    if not fam.extra_run_columns:
        return {}
    out = fam.run_metrics(task, np.asarray(epochs), params)
    S = len(epochs)
    if tuple(out) != fam.extra_run_columns or any(np.shape(v) != (S,) for v in out.values()):
        got = {k: np.shape(v) for k, v in out.items()}
        raise ValueError(
            f"family {family!r}: run_metrics gave {got}, not {fam.extra_run_columns} of ({S},)"
        )
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


#: per-dichotomy metric columns of dichotomies.parquet, in order
DICHOTOMY_COLUMNS = ("ps", "ccgp", "ccgp_proper", "decoding", "decoding_noisy")

#: snapshots whose decoders are solved in one batch (bounds memory: ~10 MB per snapshot at C=4)
SNAPSHOT_CHUNK = 16


@dataclass(frozen=True)
class EvalSettings:
    """``decoders`` and ``protocols``: the analyses, every decoder under every protocol (the
    first of each is the experiment's primary analysis); ``ccgp_noise``: ``training`` fits and
    scores CCGP on the run's own train/test samples, ``test`` on fresh samples at
    ``test_sigma``; ``ccgp_max_splits`` bounds CCGP's splits."""

    decoders: tuple[DecoderSpec, ...] = (DecoderSpec(),)
    protocols: tuple[Protocol, ...] = (CLEAN,)
    test_sigma: float = 1.0
    ccgp_noise: str = "training"
    ccgp_max_splits: int = 36


def eval_settings(ecfg: dict, family: str) -> EvalSettings:
    """Settings from a resolved ``evaluation`` config section of an experiment of ``family``."""
    d = ecfg["decoder"]
    specs = tuple(
        DecoderSpec(name, d["C"], d["max_iter"], d["tol"], d["alpha"]) for name in ecfg["decoders"]
    )
    known = get_family(family).protocols
    protocols = tuple(known[name] for name in ecfg["protocols"])
    return EvalSettings(
        specs, protocols, ecfg["test_sigma"], ecfg["ccgp_noise"], ecfg["ccgp_max_splits"]
    )


def _labels(labels: np.ndarray, conds=None) -> tuple[int, ...]:
    """±1 per condition, 0 where a condition is not in ``conds``."""
    v = 2 * np.asarray(labels).astype(int) - 1
    if conds is not None:
        v = np.where(np.isin(np.arange(len(v)), conds), v, 0)
    return tuple(int(a) for a in v)


def decoding_problems(
    task: Task, settings: EvalSettings, protocol: Protocol = CLEAN
) -> dict[tuple[str, str], list[Problem]]:
    """The decoders behind each decoding-based metric under ``protocol``, keyed (dichotomy,
    metric); the shattering dimension's under ("*shatter*", "decoding") and ("*shatter*",
    "decoding_noisy").

    ``decoding``: train on the training samples, test on the test samples (``decoding_noisy``
    the same at ``test_sigma``). ``ccgp``: every split that trains on half of each class's
    conditions and tests on the others (a fixed sample when there are more than
    ``ccgp_max_splits``); ``ccgp_proper``: the splits across the halves of each latent
    variable that splits the dichotomy evenly (spec §6.4). A metric is the mean accuracy of
    its problems. A protocol with nearest-pair CCGP gets no CCGP problems here: its splits
    depend on the snapshot (:func:`nearest_pair_problems`).
    """
    if protocol.ccgp_samples == "test":
        tr, te = "test", "test"
    elif settings.ccgp_noise == "training":
        tr, te = "train", "test"
    else:
        tr, te = "noisy_train", "noisy_test"
    icpt = protocol.intercept
    out: dict[tuple[str, str], list[Problem]] = {}
    for name, lab in task.dichotomies.items():
        full = _labels(lab)
        out[name, "decoding"] = [Problem("train", "test", full, full, icpt)]
        out[name, "decoding_noisy"] = [Problem("noisy_train", "noisy_test", full, full, icpt)]
        if protocol.ccgp_splits != "all":
            continue
        out[name, "ccgp"] = [
            Problem(tr, te, _labels(lab, a), _labels(lab, b))
            for a, b in M.ccgp_all_splits(lab, settings.ccgp_max_splits)
        ]
        out[name, "ccgp_proper"] = [
            Problem(tr, te, _labels(lab, a), _labels(lab, b))
            for a, b in M.ccgp_proper_splits(lab, task.proper_contexts(name))
        ]
    shatter = [_labels(lab) for lab in task.shattering_dichotomies]
    out["*shatter*", "decoding"] = [Problem("train", "test", s, s, icpt) for s in shatter]
    out["*shatter*", "decoding_noisy"] = [
        Problem("noisy_train", "noisy_test", s, s, icpt) for s in shatter
    ]
    return out


def nearest_pair_problems(Z: np.ndarray, labels: np.ndarray, samples: str) -> list[Problem]:
    """Nearest-pair CCGP of one dichotomy at one snapshot: C/2 problems, one per pair.

    Z (C, N): the per-condition averages of the hidden responses to ``samples``; labels (C,)
    0/1, balanced. Each positive condition is paired with a negative one by the matching that
    minimises the summed squared distance between their averages (:func:`metrics.nearest_pairs`,
    its tie rule included); problem j trains on the samples of pair j and tests on the samples
    of every other condition, both from ``samples``. Pairs are kept as explicit condition
    labels (the original code mapped ``argsort`` output onto sorted condition lists, which
    mispairs when the sort reorders ties).
    """
    P, Q = M.nearest_pairs(Z, labels)
    full = np.asarray(_labels(labels))
    out = []
    for p, q in zip(P, Q, strict=True):
        train = np.zeros(len(labels), dtype=int)
        train[[p, q]] = full[[p, q]]
        test = np.where(train != 0, 0, full)
        out.append(Problem(samples, samples, tuple(int(v) for v in train), tuple(test.tolist())))
    return out


def pairing_averages(H: np.ndarray, cond: np.ndarray, C: int) -> np.ndarray:
    """What nearest-pair CCGP pairs conditions by: the per-condition averages (S, C, N) float64
    of the hidden responses H (S, n, N) to the samples of conditions ``cond`` (n,). Raises
    ValueError when a condition has no sample (its average, and so the pairing, is undefined)."""
    missing = np.setdiff1d(np.arange(C), cond)
    if len(missing):
        raise ValueError(
            f"nearest-pair CCGP pairs conditions by the average response to their fresh samples, "
            f"but condition(s) {missing.tolist()} drew none of the {len(cond)} samples "
            f"(task.n_train); raise n_train"
        )
    return _condition_averages(H, cond, C)


def _unique_snapshots(params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of distinct snapshots and, per snapshot, the position of its distinct copy."""
    flat = np.concatenate([v.reshape(len(v), -1) for v in params.values()], axis=1)
    _, uniq, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    return uniq, inverse.reshape(-1)


def network_for(run_cfg: dict, task: Task):
    """The run's network (:mod:`repgeom.networks`), built as its training job built it."""
    m = run_cfg["model"]
    return networks.build(
        m["arch"],
        networks.model_settings(m["arch"], m),
        get_activation(m["activation"]),
        task.input_shape,
        task.target.shape[1],
    )


def representations(net, params: dict[str, torch.Tensor], x: np.ndarray):
    """The network's forward pass on one input set for S snapshots at once (the snapshots are
    the run axis): x (n, …) → (logits (S, n, K), [h_l (S, n, F_l)]) as float32 tensors."""
    S = next(iter(params.values())).shape[0]
    with torch.no_grad():
        xt = torch.as_tensor(x, dtype=torch.float32)
        return net.forward(params, xt.expand(S, *xt.shape))


def _accuracy_columns(
    spec: DecoderSpec,
    H: dict[str, np.ndarray],
    cond: dict[str, np.ndarray],
    columns: dict,
    device,
) -> dict:
    """Each column's mean accuracy over its problems at every snapshot of H: columns maps any
    key → list of problems; every distinct problem is fitted once (in snapshot chunks)."""
    problems = sorted({p for ps in columns.values() for p in ps}, key=repr)
    S = next(iter(H.values())).shape[0]
    acc = (
        np.concatenate(
            [
                accuracies(
                    spec,
                    {k: v[lo : lo + SNAPSHOT_CHUNK] for k, v in H.items()},
                    cond,
                    problems,
                    device,
                )
                for lo in range(0, S, SNAPSHOT_CHUNK)
            ]
        )
        if problems
        else np.empty((S, 0))
    )
    where = {p: i for i, p in enumerate(problems)}
    return {
        key: acc[:, [where[p] for p in ps]].mean(axis=1) if ps else np.full(S, np.nan)
        for key, ps in columns.items()
    }


def _condition_averages(H: np.ndarray, cond: np.ndarray, C: int) -> np.ndarray:
    """Per-condition mean of H (S, n, N) over samples of each condition → (S, C, N) float64."""
    onehot = np.eye(C)[cond]  # (n, C)
    return np.einsum("nc,snh->sch", onehot / onehot.sum(0), H.astype(np.float64))


def evaluate_analyses(
    run_cfg: dict,
    params: dict[str, np.ndarray],
    settings: EvalSettings,
    device: str | torch.device = "cpu",
    task: Task | None = None,
) -> dict[tuple[int, str, str], tuple[dict[str, np.ndarray], dict[tuple[str, str], np.ndarray]]]:
    """All metrics of one run at each snapshot, for every hidden layer and every analysis.

    params: name → (S, ...) snapshot arrays of one run; ``device`` runs the batched decoders;
    ``task`` is the run's task when the caller has built it already.
    Returns (layer, decoder, protocol) → (run-level column → (S,), (dichotomy, metric) → (S,)),
    layer 1 … L counted from the input. The losses and the accuracy belong to the network and
    repeat in every layer's rows.
    """
    task_cfg = run_cfg["task"]
    task = task or build_task(task_cfg)
    net = network_for(run_cfg, task)
    loss = get_loss(task.loss)
    pair_sigmas = {
        p.ccgp_sigma if p.ccgp_sigma is not None else settings.test_sigma
        for p in settings.protocols
        if p.ccgp_splits == "nearest_pairs"
    }
    if len(pair_sigmas) > 1:
        raise ValueError(f"protocols ask for fresh samples at several noises: {pair_sigmas}")
    data = make_datasets(task_cfg, settings.test_sigma, task, next(iter(pair_sigmas), None))
    uniq, inverse = _unique_snapshots(params)
    # torch.tensor copies: snapshot arrays read from Parquet are read-only
    snap = {k: torch.tensor(v[uniq]) for k, v in params.items()}
    S = len(uniq)

    kernel_x, input_features, target_features = task.kernel_inputs()
    grams = (M.centered_gram(input_features), M.centered_gram(target_features))  # once a run
    zbar = representations(net, snap, kernel_x)[1]
    out_by_split = {k: representations(net, snap, x) for k, (_, x) in data.items()}
    cond = {k: c for k, (c, _) in data.items()}
    network: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        z = out_by_split[split][0]
        y = torch.as_tensor(task.target[cond[split]], dtype=torch.float32).expand(z.shape)
        network[f"{split}_loss"] = loss.value(z, y).numpy()
        if split == "test":
            network["test_accuracy"] = loss.correct(z, y).numpy()
    out = {}
    for i, layer in enumerate(net.layers):
        H = {k: hs[i].numpy() for k, (_, hs) in out_by_split.items()}
        weights = snap[net.weights[layer]].reshape(S, -1).numpy()
        run = network | {"weight_norm": np.linalg.norm(weights, axis=-1)}
        Zbar = zbar[i].numpy().astype(np.float64)  # (S, C, N)
        features = grams
        analyses = _layer_analyses(task, settings, Zbar, H, cond, run, features, device)
        for key, value in analyses.items():
            out[(i + 1, *key)] = (
                {k: np.asarray(v, dtype=np.float64)[inverse] for k, v in value[0].items()},
                {k: np.asarray(v, dtype=np.float64)[inverse] for k, v in value[1].items()},
            )
    return out


def _layer_analyses(task, settings, Zbar, H, cond, run, features, device):
    """Every analysis of one hidden layer at the S distinct snapshots: Zbar (S, C, N) the
    responses the kernels are computed on (the condition means, or a data-set task's fixed
    samples), H split → (S, n, N) the sample responses, ``run`` the columns computed already
    (losses, accuracy, the layer's weight norm), ``features`` the centred K_x and K_y."""
    S = len(Zbar)
    target = task.target  # (C, K)
    run = dict(run)
    Kx, Ky = features
    # one snapshot at a time: a data-set task's Gram matrices are n × n (2000 × 2000)
    grams = [M.centered_gram(z) for z in Zbar]
    run["input_alignment"] = np.array([M.kernel_alignment(K, Kx) for K in grams])
    run["target_alignment"] = np.array([M.kernel_alignment(K, Ky) for K in grams])
    run["task_alignment"] = np.full(S, task.alignment)
    run["participation_ratio"] = M.participation_ratio(H["test"].astype(np.float64))
    run["sparsity"] = np.mean(H["test"] > 0, axis=(1, 2))

    sources = {"means": Zbar}
    if any(p.ps_on == "test_averages" for p in settings.protocols):
        sources["test_averages"] = _condition_averages(H["test"], cond["test"], len(target))
    ps = {
        src: {name: M.parallelism_score(Z, lab) for name, lab in task.dichotomies.items()}
        for src, Z in sources.items()
    }

    # Every analysis's decoders of every snapshot, batched; a problem that two protocols share
    # (same data, labels and intercept use) is fitted once per decoder.
    fixed = {
        (p.name, key): ps_
        for p in settings.protocols
        for key, ps_ in decoding_problems(task, settings, p).items()
    }
    # nearest-pair splits depend on each snapshot's geometry: group snapshots that share them.
    # The pairs follow the same fresh samples the decoders use (their per-condition averages).
    paired: dict[tuple, tuple[list[int], dict]] = {}
    if any(p.ccgp_splits == "nearest_pairs" for p in settings.protocols):
        pair_on = pairing_averages(H["protocol"], cond["protocol"], len(target))
    for p in settings.protocols:
        if p.ccgp_splits != "nearest_pairs":
            continue
        for s in range(S):
            cols = {}
            for name, lab in task.dichotomies.items():
                problems = nearest_pair_problems(pair_on[s], lab, "protocol")
                for metric in ("ccgp", "ccgp_proper"):
                    cols[p.name, (name, metric)] = problems
            key = tuple(sorted((k, tuple(v)) for k, v in cols.items()))
            paired.setdefault(key, ([], cols))[0].append(s)

    out = {}
    for spec in settings.decoders:
        acc = _accuracy_columns(spec, H, cond, fixed, device)
        for snaps, cols in paired.values():
            sub = _accuracy_columns(spec, {k: v[snaps] for k, v in H.items()}, cond, cols, device)
            for key, v in sub.items():
                acc.setdefault(key, np.full(S, np.nan))[snaps] = v
        for p in settings.protocols:
            dich = {(name, "ps"): v for name, v in ps[p.ps_on].items()}
            dich |= {key: v for (pname, key), v in acc.items() if pname == p.name}
            r = dict(run)
            r["shattering_dim"] = dich.pop(("*shatter*", "decoding"))
            r["shattering_dim_noisy"] = dich.pop(("*shatter*", "decoding_noisy"))
            out[spec.name, p.name] = (
                {k: r[k] for k in RUN_COLUMNS},
                {(name, m): dich[name, m] for name in task.dichotomies for m in DICHOTOMY_COLUMNS},
            )
    return out


def evaluate_run(
    run_cfg: dict,
    params: dict[str, np.ndarray],
    settings: EvalSettings,
    device: str | torch.device = "cpu",
    task: Task | None = None,
) -> tuple[dict[str, np.ndarray], dict[tuple[str, str], np.ndarray]]:
    """The primary analysis (first decoder, first protocol) of :func:`evaluate_analyses` at the
    last hidden layer: (run-level column → (S,), (dichotomy, metric) → (S,))."""
    out = evaluate_analyses(run_cfg, params, settings, device, task)
    last = max(layer for layer, _, _ in out)
    return out[last, settings.decoders[0].name, settings.protocols[0].name]
