"""Training throughput of the batched trainer against the matmul FLOP rate, same device, same run.

    python benchmarks/training_throughput.py [--threads 1] [--device cpu] [--runs 1 10 20 50]
    python benchmarks/training_throughput.py --runs 1 2 --acts tanh --epochs 1   # smoke test

For R runs at the paper's sizes (D = N = 120, n = 5000 training samples, minibatch 200, one
output) it times the trainer itself (``train``: whole epochs, shuffling and early-stop checks
included) and, as references measured in the same run, the two batched matmuls of that shape
that a step needs, and one large square matmul (the device's practical peak). FLOPs per step
and run are counted as the two matmuls, 2·2·B·D·N, plus the readout terms; the activation and
the loss are not counted. Prints a table and a JSON line. ``--device cuda`` measures a GPU
(and exits with a message when there is none).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from repgeom import networks
from repgeom.activations import get_activation
from repgeom.networks.base import to_device
from repgeom.training import TrainSettings, train

D = N = 120
B = 200
N_TRAIN = 5000


def _rate(fn, flops: float, min_s: float = 1.0, sync=lambda: None) -> float:
    fn()
    sync()
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_s:
        fn()
        reps += 1
    sync()
    return flops * reps / (time.perf_counter() - t0)


def shallow(seeds, dim, width, readouts, act, n_out=1, init="uniform"):
    """The shallow network and its initial parameters (repgeom.networks)."""
    net = networks.build(
        "shallow",
        {"width": width, "init": init, "train_output_bias": True, "train_hidden_bias": True},
        act,
        (dim,),
        n_out,
    )
    return net, net.init(list(seeds), list(readouts))


def step_flops(runs: int) -> float:
    # forward W x (2BDN), readout (2BN), backward J^T dz (2BN), dW = dpre^T x (2BDN)
    return runs * (2 * 2 * B * D * N + 2 * 2 * B * N)


def _measure(R: int, dev, act, peak: float, sync, epochs: int) -> dict:
    net, params = shallow(range(R), D, N, ["uniform"] * R, act)
    params = to_device(params, dev)
    x = torch.randn(R, N_TRAIN, D, device=dev)
    y = (x[..., :1] * x[..., 1:2] > 0).float()  # an XOR-like labelling, so the loss stays busy
    settings = TrainSettings(epochs=epochs, conv_tol=0.0, snapshot_epochs=(), progress_every_s=1e9)
    steps = epochs * -(-N_TRAIN // B)
    rate = _rate(
        lambda: train(net, params, x, y, settings, list(range(R))), steps * step_flops(R), 0.5, sync
    )
    xb = x[:, :B]
    Wt = params["W"].transpose(1, 2).contiguous()
    mm = _rate(
        lambda: (torch.bmm(xb, Wt), torch.bmm(Wt, xb.transpose(1, 2))), 4 * R * B * D * N, sync=sync
    )
    train_rate = rate
    step_s = step_flops(R) / train_rate
    return {
        "runs": R,
        "step_ms": 1e3 * step_s,
        "us_per_run_step": 1e6 * step_s / R,
        "train_gflops": train_rate / 1e9,
        "bmm_gflops": mm / 1e9,
        "train_vs_bmm": train_rate / mm,
        "train_vs_peak": train_rate / peak,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (workflow jobs use 1)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs", type=int, nargs="+", default=[1, 10, 20, 50])
    p.add_argument("--acts", nargs="+", default=["tanh", "relu"])
    p.add_argument("--epochs", type=int, default=2, help="epochs per timed call of train")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here: skipping the GPU measurement")
        return {"device": args.device, "skipped": "no CUDA device"}
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    big = torch.randn(2048, 2048, device=dev)
    peak = _rate(lambda: big @ big, 2 * 2048**3, sync=sync)
    rows = [
        {"act": a} | _measure(R, dev, get_activation(a), peak, sync, args.epochs)
        for a in args.acts
        for R in args.runs
    ]
    print(f"device {dev}, {args.threads} thread(s); square 2048 matmul: {peak / 1e9:.1f} GFLOP/s")
    print(
        f"{'act':>5} {'runs':>5} {'step ms':>8} {'µs/run-step':>12} {'train GF/s':>11} "
        f"{'bmm GF/s':>9} {'train/bmm':>10} {'train/peak':>11}"
    )
    for r in rows:
        print(
            f"{r['act']:>5} {r['runs']:>5} {r['step_ms']:>8.3f} {r['us_per_run_step']:>12.1f} "
            f"{r['train_gflops']:>11.1f} {r['bmm_gflops']:>9.1f} {r['train_vs_bmm']:>10.2f} "
            f"{r['train_vs_peak']:>11.2f}"
        )
    result = {"device": str(dev), "threads": args.threads, "peak_gflops": peak / 1e9, "rows": rows}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
