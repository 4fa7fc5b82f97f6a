"""Checkpoints: a training loop resumed from any saved state ends exactly as an uninterrupted
one; saving is atomic; a checkpoint of other settings, or a damaged one, is never resumed."""

import numpy as np
import pytest
from test_training import _batch

from repgeom import checkpoints
from repgeom.training import Checkpointer, TrainingInterrupted, train

SPECS = [(0.5, 0.1, 1, "uniform"), (0.0, 0.3, 2, "balanced"), (1.0, 0.0, 3, "sphere")]


def _train(epochs=12, conv_tol=0.0, **kw):
    net, p, x, y, s = _batch(SPECS, epochs=epochs, conv_tol=conv_tol, act="relu")
    return train(net, p, x, y, s, [1, 2, 3], **kw)


def _states(**kw):
    """Every state the loop would checkpoint (one per epoch)."""
    saved = []
    _train(checkpointer=Checkpointer(saved.append, every_s=0.0), **kw)
    return saved


def _assert_same(a, b):
    assert sorted(a.snapshots) == sorted(b.snapshots)
    for e in a.snapshots:
        for k in a.snapshots[e]:
            assert np.array_equal(a.snapshots[e][k], b.snapshots[e][k]), (e, k)
    assert np.array_equal(a.loss, b.loss, equal_nan=True)
    assert np.array_equal(a.stop_epoch, b.stop_epoch)
    assert np.array_equal(a.converged, b.converged)


@pytest.mark.parametrize("at", [1, 5, 11])
def test_resumed_training_equals_uninterrupted(at):
    whole = _train()
    resumed = _train(resume=_states()[at - 1])
    _assert_same(whole, resumed)


def test_one_state_resumes_twice_alike():
    state = _states()[4]
    _assert_same(_train(resume=state), _train(resume=state))


def test_stop_requested_at_the_last_epoch_finishes():
    saved = []
    ckpt = Checkpointer(saved.append, every_s=1e9)
    ckpt.stop_requested = True
    net, p, x, y, s = _batch(SPECS, epochs=1, act="relu")
    r = train(net, p, x, y, s, [1, 2, 3], checkpointer=ckpt)
    assert saved == [] and (r.stop_epoch == 1).all()


def test_fingerprint_covers_device_and_versions(monkeypatch):
    from repgeom import storage

    runs = [{"run": {"seed": 0}}]
    assert checkpoints.fingerprint(runs, "cpu") != checkpoints.fingerprint(runs, "cuda")
    before = checkpoints.fingerprint(runs, "cpu")
    monkeypatch.setattr(
        storage, "package_versions", lambda: {"repgeom": "9.9", "torch": "0.0", "numpy": ""}
    )
    assert checkpoints.fingerprint(runs, "cpu") != before


def test_resume_after_some_runs_stopped_early():
    # a tolerance that stops runs at different epochs, so a state holds stopped and active runs
    full = _train(epochs=40, conv_tol=0.02)
    assert len(set(full.stop_epoch)) > 1
    states = _states(epochs=40, conv_tol=0.02)
    mid = next(s for s in states if 0 < (~s.active).sum() < len(SPECS))
    _assert_same(full, _train(epochs=40, conv_tol=0.02, resume=mid))


def test_checkpoint_file_round_trip(tmp_path):
    state = _states()[6]
    path = tmp_path / "block0.train.checkpoint.npz"
    checkpoints.save(path, state, "abc")
    back = checkpoints.load(path, "abc")
    assert back.epoch == state.epoch == 7 and back.rng_states == state.rng_states
    _assert_same(_train(resume=state), _train(resume=back))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left


def test_checkpoint_of_other_settings_or_damaged_is_ignored(tmp_path, caplog):
    path = tmp_path / "c.npz"
    checkpoints.save(path, _states()[2], "settings-a")
    assert checkpoints.load(path, "settings-b") is None
    assert "other settings" in caplog.text
    path.write_bytes(path.read_bytes()[:100])  # truncated, e.g. a disk that filled up
    assert checkpoints.load(path, "settings-a") is None
    assert "unreadable" in caplog.text
    assert checkpoints.load(tmp_path / "none.npz", "settings-a") is None


def test_fingerprint_follows_every_setting():
    a = [{"run": {"seed": 0}, "training": {"lr": 0.1}}]
    assert checkpoints.fingerprint(a) == checkpoints.fingerprint([dict(a[0])])
    assert checkpoints.fingerprint(a) != checkpoints.fingerprint(
        [{"run": {"seed": 0}, "training": {"lr": 0.2}}]
    )


def test_stop_request_saves_then_stops():
    saved = []
    ckpt = Checkpointer(saved.append, every_s=1e9)

    def stop_at_3(p):
        if p["epoch"] == 3:
            ckpt.stop_requested = True

    net, p, x, y, s = _batch(SPECS, epochs=12, act="relu")
    s = type(s)(**{**s.__dict__, "progress_every_s": 0.0})
    with pytest.raises(TrainingInterrupted, match="after epoch 3"):
        train(net, p, x, y, s, [1, 2, 3], stop_at_3, checkpointer=ckpt)
    assert [st.epoch for st in saved] == [3]
    _assert_same(_train(), _train(resume=saved[0]))


def test_stale_temporaries_are_removed(tmp_path):
    target = tmp_path / "c.npz"
    stale = tmp_path / ".c.npz.tmp-999999"
    stale.write_bytes(b"half written")
    checkpoints.save(target, _states()[0], "x")
    assert not stale.exists() and target.exists()
    checkpoints.remove(target)
    assert list(tmp_path.iterdir()) == []


def test_progress_reports_the_loss_of_the_epoch_where_all_runs_stop():
    seen = []
    net, p, x, y, s = _batch(SPECS, epochs=8, conv_tol=1e9)  # all stop at epoch 1
    s = type(s)(**{**s.__dict__, "progress_every_s": 1e9})
    train(net, p, x, y, s, [1, 2, 3], on_progress=seen.append)
    assert [q["epoch"] for q in seen] == [1]
    assert np.isfinite(seen[0]["mean_loss"])
