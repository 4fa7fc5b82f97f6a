import numpy as np
import pytest

from repgeom import metrics as M
from repgeom.activations import get_activation
from repgeom.evaluation import (
    DICHOTOMY_COLUMNS,
    RUN_COLUMNS,
    EvalSettings,
    _hidden,
    make_datasets,
)
from repgeom.evaluation import evaluate_run as _evaluate_run
from repgeom.models import init_shallow
from repgeom.tasks.delta import delta_dichotomies, task_alignment

CFG = {
    "task": {
        "family": "delta",
        "delta": 0.5,
        "sigma": 0.2,
        "dim": 12,
        "task_seed": 0,
        "data_seed": 3,
        "n_train": 400,
        "n_test": 200,
    },
    "model": {"activation": "tanh"},
}


DICHOTOMIES = ("xor", "b1", "b2")
METRIC_COLUMNS = list(RUN_COLUMNS) + [f"{m}_{d}" for m in DICHOTOMY_COLUMNS for d in DICHOTOMIES]


def evaluate_run(*args, **kw) -> dict[str, np.ndarray]:
    """Run-level and per-dichotomy metrics in one flat dict (``<metric>_<dichotomy>``)."""
    run, dich = _evaluate_run(*args, **kw)
    return run | {f"{m}_{d}": v for (d, m), v in dich.items()}


def _snapshots(n=3):
    p = init_shallow(list(range(n)), 12, 8, ["uniform"] * n).to_numpy()
    p["W"][2] = p["W"][1]  # a repeated snapshot, as after early stopping
    p["b"][2] = p["b"][1]
    p["bo"][2] = p["bo"][1]
    return p


def test_columns_and_repeated_snapshots():
    out = evaluate_run(CFG, _snapshots(), EvalSettings())
    assert sorted(out) == sorted(METRIC_COLUMNS)
    for col in METRIC_COLUMNS:
        assert out[col].shape == (3,)
        assert out[col][1] == out[col][2], col


def test_decoding_metrics_equal_their_straightforward_definitions():
    params = _snapshots()
    out = evaluate_run(CFG, params, EvalSettings())
    dich, spec = delta_dichotomies(), M.DecoderSpec()
    data = make_datasets(CFG["task"], 1.0)
    act = get_activation("tanh")
    H = {k: _hidden(params["W"], params["b"], act, x)[0] for k, (_, x) in data.items()}
    c = {k: v for k, (v, _) in data.items()}
    args = (spec, H["train"], c["train"], H["test"], c["test"])
    assert out["ccgp_b1"][0] == pytest.approx(M.ccgp(*args, dich["b1"], [dich["b2"], dich["xor"]]))
    assert out["ccgp_proper_b1"][0] == pytest.approx(M.ccgp(*args, dich["b1"], [dich["b2"]]))
    assert out["ccgp_xor"][0] == pytest.approx(M.ccgp(*args, dich["xor"], [dich["b1"], dich["b2"]]))
    dec = [out[f"decoding_{d}"][0] for d in ("xor", "b1", "b2")]
    assert out["shattering_dim"][0] == pytest.approx(np.mean(dec))
    assert out["decoding_b2"][0] == M.decoder_accuracy(
        spec, H["train"], dich["b2"][c["train"]], H["test"], dich["b2"][c["test"]]
    )


def test_initial_alignment_tracks_task():
    p = init_shallow(list(range(8)), 120, 120, ["uniform"] * 8).to_numpy()
    cfg = {"task": CFG["task"] | {"dim": 120}, "model": {"activation": "tanh"}}
    out = evaluate_run(cfg, p, EvalSettings())
    assert out["input_alignment"].min() >= 0.9
    assert out["target_alignment"].mean() == pytest.approx(task_alignment(0.5), abs=0.03)
    assert np.all((out["test_accuracy"] >= 0) & (out["test_accuracy"] <= 1))


def test_unknown_task_family():
    with pytest.raises(KeyError, match="allowed: "):
        make_datasets(CFG["task"] | {"family": "cifar"})


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_newton_and_liblinear_agree_on_the_delta_task_metrics(act):
    """The batched exact solver against LinearSVC itself (run to a tight tolerance), on the
    metrics of a trained run: every decoding-based column within 0.02 (the issue's bound)."""
    import torch

    from repgeom.decoders import DecoderSpec
    from repgeom.training import TrainSettings, train

    task = CFG["task"] | {"dim": 30, "sigma": 0.3}
    cond, x = make_datasets(task)["train"]
    y = delta_dichotomies()["xor"][cond][:, None].astype(np.float32)
    settings = TrainSettings(
        lr=0.5, batch_size=50, epochs=20, conv_tol=0.0, snapshot_epochs=(0, 5, 20)
    )
    r = train(
        init_shallow([0], 30, 24, ["uniform"]),
        torch.tensor(x[None]),
        torch.tensor(y[None]),
        get_activation(act),
        settings,
        [0],
    )
    params = {
        k: np.stack([r.snapshots[e][k][0] for e in (0, 5, 20)]) for k in ("W", "b", "J", "bo")
    }
    cfg = {"task": task, "model": {"activation": act}}
    newton = evaluate_run(cfg, params, EvalSettings(DecoderSpec(solver="newton")))
    lib = evaluate_run(
        cfg, params, EvalSettings(DecoderSpec(solver="liblinear", tol=1e-8, max_iter=100_000))
    )
    for col in METRIC_COLUMNS:
        tol = 0.02 if col.startswith(("ccgp", "decoding", "shattering")) else 0.0
        np.testing.assert_allclose(newton[col], lib[col], atol=tol, rtol=0, err_msg=col)
