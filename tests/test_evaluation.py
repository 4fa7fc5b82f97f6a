import numpy as np
import pytest
import torch
from conftest import mlp

from repgeom import metrics as M
from repgeom.activations import get_activation
from repgeom.evaluation import (
    DICHOTOMY_COLUMNS,
    RUN_COLUMNS,
    EvalSettings,
    make_datasets,
)
from repgeom.evaluation import evaluate_run as _evaluate_run
from repgeom.networks.base import to_numpy
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
    "model": {"arch": "shallow", "activation": "tanh", "width": 8},
}


def init_shallow(seeds, dim, width, readouts, n_out=1, init="uniform"):
    return mlp(seeds, dim, width, readouts, n_out=n_out, init=init)[1]


def _hidden(W, b, act, x):
    """f(x Wᵀ + b) for S snapshots: W (S, N, D), b (S, N), x (n, D) → (S, n, N) float32."""
    with torch.no_grad():
        pre = torch.tensor(b)[:, None, :] + torch.tensor(x, dtype=torch.float32) @ torch.tensor(
            W
        ).transpose(1, 2)
        return act.f(pre).numpy()


DICHOTOMIES = ("xor", "b1", "b2")
METRIC_COLUMNS = list(RUN_COLUMNS) + [f"{m}_{d}" for m in DICHOTOMY_COLUMNS for d in DICHOTOMIES]


def evaluate_run(*args, **kw) -> dict[str, np.ndarray]:
    """Run-level and per-dichotomy metrics in one flat dict (``<metric>_<dichotomy>``)."""
    run, dich = _evaluate_run(*args, **kw)
    return run | {f"{m}_{d}": v for (d, m), v in dich.items()}


def _snapshots(n=3):
    p = to_numpy(init_shallow(list(range(n)), 12, 8, ["uniform"] * n))
    for v in p.values():  # a repeated snapshot, as after early stopping
        v[2] = v[1]
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
    p = to_numpy(init_shallow(list(range(8)), 120, 120, ["uniform"] * 8))
    cfg = {"task": CFG["task"] | {"dim": 120}, "model": CFG["model"] | {"width": 120}}
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
    net, p = mlp([0], 30, 24, ["uniform"], act=act)
    r = train(net, p, torch.tensor(x[None]), torch.tensor(y[None]), settings, [0])
    params = {
        k: np.stack([r.snapshots[e][k][0] for e in (0, 5, 20)]) for k in ("W", "b", "J", "bo")
    }
    cfg = {"task": task, "model": CFG["model"] | {"activation": act, "width": 24}}
    newton = evaluate_run(cfg, params, EvalSettings((DecoderSpec("svm"),)))
    lib = evaluate_run(
        cfg, params, EvalSettings((DecoderSpec("liblinear_auto", tol=1e-8, max_iter=100_000),))
    )
    for col in METRIC_COLUMNS:
        tol = 0.02 if col.startswith(("ccgp", "decoding", "shattering")) else 0.0
        np.testing.assert_allclose(newton[col], lib[col], atol=tol, rtol=0, err_msg=col)


# ----------------------------------------------------------------- analyses: decoders × protocols

from repgeom.decoders import DecoderSpec  # noqa: E402
from repgeom.evaluation import _condition_averages, evaluate_analyses  # noqa: E402
from repgeom.protocols import CLEAN, Protocol  # noqa: E402
from repgeom.tasks.delta import ORIGINAL  # noqa: E402


def test_every_decoder_under_every_protocol_in_one_pass():
    decoders = (DecoderSpec("svm"), DecoderSpec("ridge"), DecoderSpec("liblinear_dual"))
    settings = EvalSettings(decoders, (CLEAN, ORIGINAL))
    out = evaluate_analyses(CFG, _snapshots(), settings)
    assert list(out) == [(1, d.name, p) for d in decoders for p in ("clean", "original")]
    alone = evaluate_run(CFG, _snapshots(), EvalSettings((DecoderSpec("ridge"),)))
    run, dich = out[1, "ridge", "clean"]
    got = run | {f"{m}_{d}": v for (d, m), v in dich.items()}
    for col in METRIC_COLUMNS:  # sharing fits between analyses changes nothing
        np.testing.assert_array_equal(got[col], alone[col], err_msg=col)
    for d in decoders:  # metrics that no decoder touches are the same in every analysis
        for p in ("clean", "original"):
            for col in ("target_alignment", "test_loss", "sparsity"):
                np.testing.assert_array_equal(out[1, d.name, p][0][col], run[col])


def test_original_protocol_equals_its_straightforward_definition():
    """E2 as the original code ran it: PS on test-sample condition averages, CCGP fitted and
    scored on the test samples, decoding and shattering predicted without the intercept."""
    params = _snapshots()
    spec = DecoderSpec("svm")
    run, dich = evaluate_analyses(CFG, params, EvalSettings((spec,), (ORIGINAL,)))[
        1, "svm", "original"
    ]
    D = delta_dichotomies()
    data = make_datasets(CFG["task"], 1.0)
    act = get_activation("tanh")
    H = {k: _hidden(params["W"], params["b"], act, x)[0] for k, (_, x) in data.items()}
    c = {k: v for k, (v, _) in data.items()}
    Zavg = np.stack([H["test"][c["test"] == k].mean(0) for k in range(4)]).astype(np.float64)
    for name in ("xor", "b1", "b2"):
        assert dich[name, "ps"][0] == pytest.approx(M.parallelism_score(Zavg, D[name]))
    test = (spec, H["test"], c["test"], H["test"], c["test"])
    assert dich["b1", "ccgp_proper"][0] == pytest.approx(M.ccgp(*test, D["b1"], [D["b2"]]))
    assert dich["xor", "ccgp"][0] == pytest.approx(M.ccgp(*test, D["xor"], [D["b1"], D["b2"]]))
    # decoding without the intercept: the same fit, decision w·h
    from repgeom.decoders import batched_fit

    for name in ("xor", "b1", "b2"):
        y = 2.0 * D[name][c["train"]] - 1
        w, _ = batched_fit(
            spec,
            torch.as_tensor(H["train"])[None],
            torch.zeros(len(y), dtype=torch.int64),
            torch.ones(1, 1, 1, dtype=torch.bool),
            torch.as_tensor(y)[None, None],
        )
        pred = (H["test"] @ w[0, 0].numpy() > 0).astype(int)
        assert dich[name, "decoding"][0] == pytest.approx(np.mean(pred == D[name][c["test"]]))
    dec = [dich[n, "decoding"][0] for n in ("xor", "b1", "b2")]
    assert run["shattering_dim"][0] == pytest.approx(np.mean(dec))


def test_condition_averages_hand_computed():
    H = np.array([[[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]]])  # (S=1, n=3, N=2)
    got = _condition_averages(H, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(got, [[[2.0, 1.0], [5.0, 5.0]]])


def test_nearest_pairs_known_matching():
    # positives 0 and 1 sit next to negatives 3 and 2: the matching pairs them so, whatever
    # the order of the labels (the original code's argsort mapping mispaired such cases)
    Z = np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 1.0], [0.0, 1.0]])
    P, Q = M.nearest_pairs(Z, np.array([1, 1, 0, 0]))
    assert dict(zip(P.tolist(), Q.tolist(), strict=True)) == {0: 3, 1: 2}
    P, Q = M.nearest_pairs(Z[::-1], np.array([0, 0, 1, 1]))
    assert dict(zip(P.tolist(), Q.tolist(), strict=True)) == {2: 1, 3: 0}
    with pytest.raises(ValueError, match="balanced"):
        M.nearest_pairs(Z, np.array([1, 1, 1, 0]))


def test_nearest_pair_ccgp_on_a_factorised_square():
    """Known answer: on a factorised square (δ = 0, identity network), each b1 = 1 condition's
    nearest b1 = 0 condition shares its b2, and a decoder trained on that pair generalises to
    the other pair (CCGP 1); the XOR's pairs are adjacent corners, and a decoder trained on one
    pair calls the other pair the wrong way (CCGP 0)."""
    cfg = {
        "task": CFG["task"] | {"delta": 0.0, "sigma": 0.05, "dim": 3},
        "model": CFG["model"] | {"activation": "identity"},
    }
    eye = {
        "W": np.eye(3, dtype=np.float32)[None] * 3,
        "b": np.zeros((1, 3), np.float32),
        "J": np.ones((1, 1, 3), np.float32),
        "bo": np.zeros((1, 1), np.float32),
    }
    pairs = Protocol("pairs", ccgp_splits="nearest_pairs", ccgp_sigma=0.05)
    _, dich = evaluate_analyses(cfg, eye, EvalSettings(protocols=(pairs,)))[1, "svm", "pairs"]
    for name in ("b1", "b2"):
        assert dich[name, "ccgp"][0] == pytest.approx(1.0)
        assert dich[name, "ccgp_proper"][0] == dich[name, "ccgp"][0]
    assert dich["xor", "ccgp"][0] == pytest.approx(0.0, abs=0.02)


def test_alignment_original_protocol_is_nearest_pair_ccgp_on_fresh_samples():
    """The alignment tasks as the paper's Fig. 4 analysis ran per network: both CCGP columns
    are the mean, over the C/2 nearest pairs, of a decoder trained on one pair's samples and
    tested on every other condition's, all from n_train fresh samples at σ = 0.5; the other
    columns equal the clean protocol's."""
    from repgeom.tasks.alignment import ORIGINAL as ALIGN_ORIGINAL

    task = {"family": "alignment", "kernel": "maxdim", "d": 3, "k": 3, "align": 1,
            "alignments": 3, "task_seed": 0, "sigma": 1.0, "dim": 10, "alpha": 2.0,
            "data_seed": 5, "n_train": 400, "n_test": 200}  # fmt: skip
    cfg = {"task": task, "model": CFG["model"] | {"width": 16}}
    p = to_numpy(init_shallow([0, 1], 10, 16, ["gauss"] * 2, n_out=3, init="normal"))
    settings = EvalSettings(protocols=(CLEAN, ALIGN_ORIGINAL), test_sigma=0.5, ccgp_noise="test")
    out = evaluate_analyses(cfg, p, settings)
    (run_c, dich_c), (run_o, dich_o) = out[1, "svm", "clean"], out[1, "svm", "original"]
    for col in run_c:
        np.testing.assert_array_equal(run_c[col], run_o[col], err_msg=col)
    data = make_datasets(task, 0.5, protocol_sigma=0.5)
    fresh_c, fresh_x = data["protocol"]
    act, spec = get_activation("tanh"), DecoderSpec()
    from repgeom.tasks import build_task

    t = build_task(task)
    for s in range(2):
        Z = _hidden(p["W"][s : s + 1], p["b"][s : s + 1], act, t.means.astype(np.float32))[0]
        H = _hidden(p["W"][s : s + 1], p["b"][s : s + 1], act, fresh_x)[0]
        for name, lab in t.dichotomies.items():
            P, Q = M.nearest_pairs(Z.astype(np.float64), lab)
            accs = []
            for a, b in zip(P, Q, strict=True):
                tr = np.isin(fresh_c, [a, b])
                accs.append(
                    M.decoder_accuracy(spec, H[tr], lab[fresh_c[tr]], H[~tr], lab[fresh_c[~tr]])
                )
            assert dich_o[name, "ccgp"][s] == pytest.approx(np.mean(accs)), name
            assert dich_o[name, "ccgp_proper"][s] == dich_o[name, "ccgp"][s]
            np.testing.assert_array_equal(dich_o[name, "ps"], dich_c[name, "ps"])
            np.testing.assert_array_equal(dich_o[name, "decoding"], dich_c[name, "decoding"])
