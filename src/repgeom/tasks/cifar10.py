"""CIFAR-10 classification (E5, spec §4.4): a data-set task beside the condition-mean tasks.

The ten classes are the conditions, and the network has ten outputs trained with 10-way
cross-entropy on one-hot labels. The images are read from the binary distribution in the
folder ``task.data_dir`` (:mod:`repgeom.datasets.cifar10`, which checks every file's size and
SHA-256 first), scaled to [−1, 1] per channel (mean 0.5, std 0.5), and held once per job: every
run of a training job indexes into the same array (no copy per run).

Which images
------------
* training: the first ``n_train / 10`` images of each class in file order (all 50 000 by
  default); every run sees the same images, in its own minibatch order;
* evaluation: the first ``n_test / 10`` images of each class of the *test* set in file order
  (2000 by default, the spec's fixed subset): class-balanced, so the one-hot label Gram weighs
  every class alike, and fixed without a seed, so every run, seed and version sees the same
  images. Test loss, accuracy and every kernel alignment are computed on them; the training
  loss on as many training images chosen the same way.

Metrics by declaration
----------------------
There are no condition means and no latent variables: the task names no dichotomies (so
parallelism score, CCGP and decoding are not computed), no shattering dichotomies, and its
kernel alignments are computed on the evaluation images themselves (:attr:`kernel_on` is
``samples``): input alignment = CKA(hidden Gram, pixel Gram), target alignment = CKA(hidden
Gram, one-hot label Gram), task alignment = CKA(pixel Gram, label Gram).
"""

from __future__ import annotations

import functools
import os

import numpy as np

from ..protocols import CLEAN
from . import Family, register
from .base import Task

N_CLASSES = 10


@functools.lru_cache(maxsize=4)
def _split(folder: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The verified images (n, 3, 32, 32) uint8 and labels (n,) of one split (cached: the
    evaluation of a job's runs reads each split once)."""
    from ..datasets import cifar10

    return cifar10.load(folder, split)


def data_folder(path: str) -> str:
    """``task.data_dir`` with ``~`` and ``$VARS`` expanded (the job and the parse-time check
    read the same folder)."""
    return os.path.expandvars(os.path.expanduser(path))


def balanced_first(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first n/10 images of each class in file order, sorted: (n,) int64.

    Raises ValueError when a class has fewer images than that."""
    per = n // N_CLASSES
    out = []
    for c in range(N_CLASSES):
        idx = np.flatnonzero(labels == c)[:per]
        if len(idx) < per:
            raise ValueError(
                f"the data set has {len(idx)} images of class {c}, fewer than the {per} per "
                f"class that n = {n} asks for"
            )
        out.append(idx)
    return np.sort(np.concatenate(out))


class Cifar10Task(Task):
    """CIFAR-10 from the binary files in ``data_dir`` (see the module docstring)."""

    loss = "cross_entropy"
    kernel_on = "samples"
    fixed_data = True
    sigma = 0.0

    def __init__(self, data_dir: str, n_train: int, n_test: int):
        self.data_dir = data_folder(data_dir)
        self.n_train, self.n_test = n_train, n_test

    # -- data ------------------------------------------------------------------------------
    def _images(self, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        from ..datasets import cifar10

        images, labels = _split(self.data_dir, split)
        idx = balanced_first(labels, n)
        return labels[idx].astype(np.int64), cifar10.scale(images[idx])

    def training_samples(self) -> tuple[np.ndarray, np.ndarray]:
        """(classes (n,), images (n, 3, 32, 32) float32 in [−1, 1])."""
        return self._images("train", self.n_train)

    def evaluation_samples(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``train``: n_test training images, ``test``: the n_test evaluation images."""
        return {
            "train": self._images("train", self.n_test),
            "test": self._images("test", self.n_test),
        }

    def kernel_inputs(self):
        """(inputs for the network, the pixel features of K_x, the label features of K_y):
        the evaluation images, flattened pixels (n, 3072) and one-hot labels (n, 10)."""
        cond, x = self.evaluation_samples()["test"]
        return x, x.reshape(len(x), -1).astype(np.float64), np.eye(N_CLASSES)[cond]

    # -- the Task interface ------------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, ...]:
        return (3, 32, 32)

    @property
    def n_conditions(self) -> int:
        return N_CLASSES

    @property
    def means(self) -> np.ndarray:
        raise NotImplementedError("CIFAR-10 has no condition means (kernel_on = 'samples')")

    @property
    def target(self) -> np.ndarray:
        return np.eye(N_CLASSES, dtype=np.int64)  # condition = class → one-hot label

    @property
    def targets(self) -> dict[str, np.ndarray]:
        return {}

    @property
    def latents(self) -> dict[str, np.ndarray]:
        return {}

    @functools.cached_property
    def shattering_dichotomies(self) -> np.ndarray:
        return np.zeros((0, N_CLASSES), dtype=np.int64)

    @functools.cached_property
    def alignment(self) -> float:
        from ..metrics import linear_cka

        _, X, Y = self.kernel_inputs()
        return float(linear_cka(X, Y))


def _build(cfg: dict) -> Cifar10Task:
    return Cifar10Task(cfg["data_dir"], cfg["n_train"], cfg["n_test"])


def _check(exp: dict) -> list[tuple[str, str]]:
    """Parse-time checks: sizes divisible by the ten classes, the data folder present."""
    task, out = exp["task"], []
    for key in ("n_train", "n_test"):
        if task[key] % N_CLASSES:
            out.append((f"task.{key}", f"{task[key]} is not a multiple of {N_CLASSES} (classes)"))
    if task["n_test"] > task["n_train"]:  # the evaluated training loss reads n_test of them
        out.append(
            (
                "task.n_test",
                f"{task['n_test']} is more than n_train = {task['n_train']}: the training loss "
                "is evaluated on n_test of the training images, which must all be trained on",
            )
        )
    folder = data_folder(task["data_dir"])
    if not os.path.isdir(folder):
        out.append(
            (
                "task.data_dir",
                f"{task['data_dir']!r} is not a folder; fetch CIFAR-10's binary version once "
                "(README, 'CIFAR-10 data') and name its cifar-10-batches-bin folder here",
            )
        )
    return out


FAMILY = register(
    Family(
        name="cifar10",
        description="CIFAR-10 classification (E5, §6): ten classes, 10-way cross-entropy, "
        "kernel alignment per hidden layer on a fixed class-balanced test subset",
        keys={},
        axes_schema={
            "type": "object",
            "default": {},
            "additionalProperties": False,
            "description": "CIFAR-10 sweeps no axes of its own (seeds, activations and "
            "architectures only).",
            "properties": {},
        },
        task_schema={
            "data_dir": {
                "type": "string",
                "minLength": 1,
                "maxLength": 4096,
                "default": "data/cifar-10-batches-bin",
                "description": "Folder of CIFAR-10's binary files (data_batch_1.bin … "
                "test_batch.bin), checked by size and SHA-256 before use; ~ and $VARS expand.",
            },
        },
        expand=lambda axes: [{}],
        build=_build,
        defaults={
            "architectures": ["cnn"],
            "readouts": ["uniform"],
            "model": {"train_output_bias": False},
            "task": {"n_train": 50000, "n_test": 2000},
            "training": {"epochs": 20, "batch_size": 64, "optimizer": "adam", "lr": 0.001},
        },
        figures=(),
        protocols={"clean": CLEAN},
        check=_check,
        count=lambda axes: 1,
        inputs="image",
    )
)
