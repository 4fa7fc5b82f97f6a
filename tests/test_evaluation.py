import numpy as np
import pytest

from repgeom import metrics as M
from repgeom.activations import get_activation
from repgeom.evaluation import METRIC_COLUMNS, EvalSettings, _hidden, evaluate_run, make_datasets
from repgeom.models import init_shallow
from repgeom.tasks import delta_dichotomies, task_alignment

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


def _snapshots(n=3):
    p = init_shallow(list(range(n)), 12, 8, ["uniform"] * n).to_numpy()
    p["W"][2] = p["W"][1]  # a repeated snapshot, as after early stopping
    p["b"][2] = p["b"][1]
    p["bo"][2] = p["bo"][1]
    return p


def test_columns_and_repeated_snapshots():
    out = evaluate_run(CFG, _snapshots(), EvalSettings())
    assert list(out) == list(METRIC_COLUMNS)
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
    with pytest.raises(ValueError, match="allowed: delta"):
        make_datasets(CFG["task"] | {"family": "cifar"})
