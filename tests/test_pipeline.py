import logging

import pytest
import torch

from repgeom.pipeline import FAIL_ENV, inject_failure, resolve_device

cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without CUDA")


@cpu_only
def test_explicit_cuda_without_gpu_fails_with_a_clear_message():
    with pytest.raises(RuntimeError, match="'training.device' is 'cuda' but torch sees no CUDA"):
        resolve_device("cuda")


@cpu_only
def test_auto_falls_back_to_cpu_and_says_so_when_gpus_were_allotted(monkeypatch, caplog):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with caplog.at_level(logging.WARNING, logger="repgeom"):
        assert resolve_device("auto") == "cpu"
    assert "allotted but torch" in caplog.text


def test_unknown_device():
    with pytest.raises(ValueError, match="allowed: auto, cpu, cuda"):
        resolve_device("tpu")


def test_failure_injection_matches_run_keys(monkeypatch):
    runs = [{"run": {"act": "relu", "seed": 0}}]
    inject_failure(runs)  # unset: nothing happens
    monkeypatch.setenv(FAIL_ENV, "act=tanh")
    inject_failure(runs)
    monkeypatch.setenv(FAIL_ENV, "act=relu")
    with pytest.raises(RuntimeError, match="failure injected"):
        inject_failure(runs)
