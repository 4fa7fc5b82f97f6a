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


def test_nearest_pairs_ties_go_to_the_lowest_condition_labels():
    """Ties: of the matchings with the least summed squared distance (within a relative 1e-9,
    so sums that differ by rounding alone tie), the lowest positive condition gets the lowest
    negative condition it can have, then the next positive. XOR on a square: both matchings
    pair adjacent corners at the same cost."""
    Z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    xor = np.array([0, 1, 1, 0])
    P, Q = M.nearest_pairs(Z, xor)
    assert (P.tolist(), Q.tolist()) == ([1, 2], [0, 3])
    P, Q = M.nearest_pairs(Z, 1 - xor)  # the same rule whichever class is positive
    assert (P.tolist(), Q.tolist()) == ([0, 3], [1, 2])
    # 1e-13 closer is rounding: still tied, still the lowest labels; 1e-6 closer is not
    assert M.nearest_pairs(Z + [[0, 0], [0, 0], [0, 0], [1e-13, 0]], xor)[1].tolist() == [0, 3]
    assert M.nearest_pairs(Z + [[0, 0], [0, 0], [0, 0], [0, -1e-6]], xor)[1].tolist() == [3, 0]
    # every condition on one point (a silent layer): all matchings tie
    assert M.nearest_pairs(np.zeros((8, 3)), np.array([0, 1] * 4))[1].tolist() == [0, 2, 4, 6]


def test_first_optimal_assignment_is_the_lexicographically_first_minimum():
    import itertools

    rng = np.random.default_rng(0)
    for _ in range(200):
        m = int(rng.integers(2, 6))
        cost = rng.integers(0, 3, (m, m)).astype(float)  # many ties
        perms = list(itertools.permutations(range(m)))
        totals = [cost[np.arange(m), q].sum() for q in perms]
        want = min(q for q, v in zip(perms, totals, strict=True) if v == min(totals))
        assert tuple(M.first_optimal_assignment(cost).tolist()) == want


#: a toy of four conditions in 2-D: positives 0, 1 and negatives 2, 3 (hand-checked below)
TOY = np.array([[0.0, 0.0], [-2.0, -1.0], [1.0, 3.0], [1.0, 0.0]])
TOY_LABELS = np.array([1, 1, 0, 0])


def _toy_samples(points: np.ndarray, eps: float = 0.05):
    """Four samples per condition at ±eps along each axis: H (1, 16, 2) whose per-condition
    averages are exactly ``points`` (4, 2), and their conditions (16,)."""
    offsets = eps * np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    H = np.concatenate([pt + offsets for pt in points])[None]
    return H, np.repeat(np.arange(len(points)), 4)


def _toy_pairs_and_ccgp(H: np.ndarray, cond: np.ndarray) -> tuple[dict, float]:
    """The package's nearest-pair CCGP of TOY_LABELS on toy samples: (pairs, CCGP)."""
    from repgeom.evaluation import _accuracy_columns, nearest_pair_problems, pairing_averages

    problems = nearest_pair_problems(pairing_averages(H, cond, 4)[0], TOY_LABELS, "protocol")
    acc = _accuracy_columns(
        DecoderSpec(), {"protocol": H}, {"protocol": cond}, {"ccgp": problems}, "cpu"
    )
    return _problem_pairs(problems), float(acc["ccgp"][0])


def _problem_pairs(problems) -> dict[int, int]:
    """positive condition → negative condition of each nearest-pair problem's training pair."""
    trains = [np.asarray(q.train_labels) for q in problems]
    return {int(np.flatnonzero(v > 0)[0]): int(np.flatnonzero(v < 0)[0]) for v in trains}


def test_nearest_pairs_minimise_squared_not_euclidean_distance():
    """Known answer. Pairs (0,2), (1,3) are √10 and √10 apart (sum 6.32; squared 20); pairs
    (0,3), (1,2) are 1 and 5 apart (sum 6; squared 26). The summed Euclidean distance would
    take the second matching, the summed squared distance (the original's) takes the first.
    CCGP by hand, each decoder the bisector of its training pair: trained on 0 vs 2 it calls
    both 1 and 3 positive (1/2 right), trained on 1 vs 3 it calls both 0 and 2 negative (1/2):
    CCGP 0.5; the other matching would have given 1.0 (0 vs 3 splits at x = 0.5, 1 vs 2 along
    (3, 4)·z = 2.5, each separating the held-out pair)."""
    d = np.linalg.norm(TOY[[0, 1]][:, None] - TOY[[2, 3]][None], axis=-1)
    assert d[0, 0] + d[1, 1] > d[0, 1] + d[1, 0]  # Euclidean prefers (0,3), (1,2)
    pairs, ccgp = _toy_pairs_and_ccgp(*_toy_samples(TOY))
    assert pairs == {0: 2, 1: 3}
    assert ccgp == pytest.approx(0.5)


def test_nearest_pairs_follow_the_sample_averages():
    """The pairs are made from the per-condition averages of the samples: moving condition 2's
    samples from around (1, 3) to around (−3, −1) makes (0,3), (1,2) the nearer matching
    (squared 1 + 1 against 10 + 10). CCGP by hand: 0 vs 3 splits at x = 0.5 and calls both 1
    and 2 positive, 1 vs 2 splits at x = −2.5 and calls both 0 and 3 positive: 0.5. Moving one
    sample of a condition and another the opposite way leaves the averages, and so the pairs,
    alone."""
    H, cond = _toy_samples(TOY)
    moved = H.copy()
    moved[0, cond == 2] += np.array([-4.0, -4.0])
    pairs, ccgp = _toy_pairs_and_ccgp(moved, cond)
    assert pairs == {0: 3, 1: 2}
    assert ccgp == pytest.approx(0.5)
    spread = H.copy()
    spread[0, 8] += [0.5, -0.4]
    spread[0, 9] -= [0.5, -0.4]
    assert _toy_pairs_and_ccgp(spread, cond)[0] == {0: 2, 1: 3}


def test_nearest_pairs_need_a_sample_of_every_condition():
    from repgeom.evaluation import pairing_averages

    H, cond = _toy_samples(TOY)
    with pytest.raises(ValueError, match=r"condition\(s\) \[3\] drew none of the 12"):
        pairing_averages(H[:, :12], cond[:12], 4)


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


ALIGN_TASK = {"family": "alignment", "kernel": "maxdim", "d": 3, "k": 3, "align": 1,
              "alignments": 3, "task_seed": 0, "sigma": 1.0, "dim": 10, "alpha": 2.0,
              "data_seed": 5, "n_train": 400, "n_test": 200}  # fmt: skip


def _original_pairs(h: np.ndarray, c: np.ndarray, coloring: np.ndarray) -> dict[int, int]:
    """The original code's nearest-pair matching (``efficient_ccgp``, ``num_pairs=1``), written
    out as it ran, with its argsort bug fixed (pairs read by condition label): h (n, N) the
    responses to the fresh samples of conditions c (n,), coloring (C,) 0/1. Condition averages,
    their Gram matrix, squared distances from it, SciPy's assignment on positives × negatives."""
    from scipy.optimize import linear_sum_assignment

    conds = np.unique(c)
    z_ = np.stack([h[c == k].astype(np.float64).mean(0) for k in conds], axis=1)  # (N, C)
    Kz = z_.T @ z_
    norms = np.diag(Kz)
    d = norms[:, None] + norms[None, :] - 2 * Kz
    pos, neg = conds[coloring > 0], conds[coloring <= 0]
    aye, jay = linear_sum_assignment(d[np.ix_(pos, neg)])
    return {int(pos[i]): int(neg[j]) for i, j in zip(aye, jay, strict=True)}


def test_alignment_original_protocol_is_the_original_nearest_pair_ccgp_on_a_trained_network():
    """The alignment tasks as the paper's Fig. 4 analysis ran per network, against the original
    algorithm written out (:func:`_original_pairs`) on a trained network's snapshots: the same
    pairs, and both CCGP columns equal to the mean, over the C/2 pairs, of a decoder trained on
    one pair's fresh samples (σ = 0.5) and tested on every other condition's; every other column
    equals the clean protocol's. Pairing instead by the Euclidean distance between the
    noise-free responses (the rule before) picks other pairs somewhere here, so the check
    tells the two rules apart."""
    import torch

    from repgeom.evaluation import nearest_pair_problems, network_for, pairing_averages
    from repgeom.tasks import build_task
    from repgeom.tasks.alignment import ORIGINAL as ALIGN_ORIGINAL
    from repgeom.training import TrainSettings, train

    cfg = {"task": ALIGN_TASK, "model": CFG["model"] | {"width": 16}}
    t = build_task(ALIGN_TASK)
    cond, x = make_datasets(ALIGN_TASK)["train"]
    epochs = (0, 1, 2, 4, 8, 16)
    net, p0 = mlp([0, 1], 10, 16, ["gauss"] * 2, n_out=3, init="normal")
    y = torch.tensor(t.target[cond][None], dtype=torch.float32)
    r = train(net, p0, torch.tensor(x[None]), y, TrainSettings(0.1, 64, 16, 0.0, epochs), [0, 1])
    p = {k: np.concatenate([r.snapshots[e][k] for e in epochs]) for k in r.snapshots[0]}
    settings = EvalSettings(protocols=(CLEAN, ALIGN_ORIGINAL), test_sigma=0.5, ccgp_noise="test")
    out = evaluate_analyses(cfg, p, settings)
    (run_c, dich_c), (run_o, dich_o) = out[1, "svm", "clean"], out[1, "svm", "original"]
    for col in run_c:
        np.testing.assert_array_equal(run_c[col], run_o[col], err_msg=col)
    fresh_c, fresh_x = make_datasets(ALIGN_TASK, 0.5, protocol_sigma=0.5)["protocol"]
    net = network_for(cfg, t)
    snaps = {k: torch.tensor(v) for k, v in p.items()}
    S = len(p["W"])

    def hidden_of(x):  # (n, D) → (S, n, N), the evaluation's forward pass
        with torch.no_grad():
            xt = torch.as_tensor(x, dtype=torch.float32)
            return net.forward(snaps, xt.expand(S, *xt.shape))[1][0].numpy()

    H, Zbar = hidden_of(fresh_x), hidden_of(t.means).astype(np.float64)
    averages = pairing_averages(H, fresh_c, t.n_conditions)
    spec, other_rule = DecoderSpec(), 0
    for s in range(S):
        for name, lab in t.dichotomies.items():
            pairs = _original_pairs(H[s], fresh_c, lab)
            got = _problem_pairs(nearest_pair_problems(averages[s], lab, "protocol"))
            assert got == pairs, (s, name)
            # the rule before: the summed Euclidean distance between noise-free responses
            P, Q = np.flatnonzero(lab == 1), np.flatnonzero(lab == 0)
            old = np.linalg.norm(Zbar[s][P][:, None] - Zbar[s][Q][None], axis=-1)
            old_pairs = dict(
                zip(P.tolist(), Q[M.first_optimal_assignment(old)].tolist(), strict=True)
            )
            other_rule += old_pairs != pairs
            accs = []
            for a, b in pairs.items():
                tr = np.isin(fresh_c, [a, b])
                accs.append(
                    M.decoder_accuracy(
                        spec, H[s][tr], lab[fresh_c[tr]], H[s][~tr], lab[fresh_c[~tr]]
                    )
                )
            assert dich_o[name, "ccgp"][s] == pytest.approx(np.mean(accs)), (s, name)
            assert dich_o[name, "ccgp_proper"][s] == dich_o[name, "ccgp"][s]
            np.testing.assert_array_equal(dich_o[name, "ps"], dich_c[name, "ps"])
            np.testing.assert_array_equal(dich_o[name, "decoding"], dich_c[name, "decoding"])
    assert other_rule > 0
