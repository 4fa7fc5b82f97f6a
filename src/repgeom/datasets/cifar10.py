"""CIFAR-10, binary version: an offline reader that verifies every file before it is used.

Format (the dataset's "CIFAR-10 binary version", ``cifar-10-binary.tar.gz``, which extracts to
``cifar-10-batches-bin/``): ``data_batch_1.bin`` … ``data_batch_5.bin`` (training) and
``test_batch.bin`` (test) are each a run of 3073-byte records with nothing between them: one
label byte (0–9), then 3072 pixel bytes: the red plane (1024 bytes, 32×32 row-major), then the
green, then the blue. ``batches.meta.txt`` names the classes, one per line (``CLASSES``). No
pickle is read anywhere (the "python version" of CIFAR-10 is never used).

Which bytes are accepted
------------------------
A folder is one of two layouts, told apart by one file, ``repgeom-subset.json``:

* **Official layout** (no manifest): every file must have exactly 10 000 records
  (30 730 000 bytes) and the SHA-256 listed in ``OFFICIAL_SHA256``. We ship the digests
  (rather than asking the user for a ``SHA256SUMS`` file made on their machine) because a
  checksum file made after the download only proves that the files did not change since; the
  shipped table proves they are the dataset's files, on every machine, with nothing to keep
  beside the data. Source of the table: ankane/torchvision-ruby,
  ``lib/torchvision/datasets/cifar10.rb`` (``TRAIN_LIST``/``TEST_LIST``), the Ruby port of
  torchvision, which checks them after extracting the official tarball (whose SHA-256 it also
  pins, equal to tensorflow/datasets' ``url_checksums/cifar10.txt``). ``test_batch.bin``'s
  digest is pinned independently by another public project that reads the official test batch.
  The README's fetch recipe checks the tarball's MD5 from the dataset's page first, so a
  mismatch after that recipe means this table, not the download, is at fault: report it.
* **Subset layout** (tests, demos, CI): ``repgeom-subset.json`` names each file with its record
  count and SHA-256; each file must have records × 3073 bytes and that digest. ``write_binary``
  and ``tiny`` write such folders. The manifest is trusted as written: it guards against
  truncation and corruption, not against whoever wrote it, and an official folder has none.

Either way a file is checked before any of its bytes are used: it exists, has the expected
size, and the SHA-256 of the bytes read equals the expected one (hashed in chunks while the file
is read into memory, so the bytes parsed are exactly the bytes hashed); then every label byte
must be ≤ 9. Any failure raises ``DatasetError`` naming the file, what is wrong, and where the
README says how to fetch the data. A file's digest is computed once per process (cached by
path, size, modification time and inode); later loads still read and compare.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from repgeom.files import atomic

CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
CHANNELS, HEIGHT, WIDTH = 3, 32, 32
IMAGE_BYTES = CHANNELS * HEIGHT * WIDTH  # 3072
RECORD_BYTES = 1 + IMAGE_BYTES  # 3073: the label byte, then the image
OFFICIAL_RECORDS = 10_000  # records per official file: 30 730 000 bytes

TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
SPLITS = {"train": TRAIN_FILES, "test": TEST_FILES}

# SHA-256 of each file of the official cifar-10-batches-bin/ (source: module docstring).
OFFICIAL_SHA256 = {
    "data_batch_1.bin": "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
    "data_batch_2.bin": "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
    "data_batch_3.bin": "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
    "data_batch_4.bin": "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
    "data_batch_5.bin": "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
    "test_batch.bin": "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
}

MANIFEST = "repgeom-subset.json"
MANIFEST_FORMAT = "repgeom-cifar10-binary-subset"
MANIFEST_VERSION = 1
META_FILE = "batches.meta.txt"

README_SECTION = 'README.md, section "CIFAR-10 data (for the CNN experiment)"'
FETCH_HINT = (
    "Fetch and check CIFAR-10 once on a login node with internet access as described in "
    f"{README_SECTION}; jobs never download."
)
SUBSET_HINT = (
    f"This folder is a generated subset ({MANIFEST}): write it again with "
    "repgeom.datasets.cifar10.tiny() or write_binary()."
)

_CHUNK = 8 << 20  # bytes read and hashed at a time: large enough for full disk speed
_HEX64 = re.compile(r"[0-9a-f]{64}")

# The one piece of module state: path, size, mtime and inode of each file hashed in this process,
# mapped to its SHA-256, so that loading the same unchanged file again does not hash 30 MB again.
_DIGESTS: dict[tuple[str, int, int, int], str] = {}


class DatasetError(ValueError):
    """A data set file is missing, has the wrong size or digest, or holds an invalid record."""


def clear_digest_cache() -> None:
    """Forget every digest computed in this process (the next load hashes its files again)."""
    _DIGESTS.clear()


def _problem(path: Path, what: str, hint: str) -> DatasetError:
    """The error for ``path``: the file, what is wrong with it, and how to get good data."""
    return DatasetError(f"{path}: {what}. {hint}")


# ---------------------------------------------------------------- expected files of a folder


def _expected_official(names: Sequence[str]) -> dict[str, tuple[int, str]]:
    """(records, sha256) of each of ``names`` in the official layout."""
    return {name: (OFFICIAL_RECORDS, OFFICIAL_SHA256[name]) for name in names}


def _read_manifest(path: Path) -> dict[str, tuple[int, str]]:
    """The (records, sha256) of every file a subset manifest names, after checking its form."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _problem(path, f"cannot read the subset manifest ({exc})", SUBSET_HINT) from exc
    if (
        not isinstance(doc, dict)
        or doc.get("format") != MANIFEST_FORMAT
        or doc.get("version") != MANIFEST_VERSION
        or doc.get("record_bytes") != RECORD_BYTES
        or not isinstance(doc.get("files"), dict)
    ):
        raise _problem(
            path,
            f"not a {MANIFEST_FORMAT} manifest of version {MANIFEST_VERSION} with "
            f"record_bytes {RECORD_BYTES} and a 'files' table",
            SUBSET_HINT,
        )
    table = {}
    for name, entry in doc["files"].items():
        records = entry.get("records") if isinstance(entry, dict) else None
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        # bool is an int in Python; a manifest saying "records": true is malformed.
        valid_records = isinstance(records, int) and not isinstance(records, bool) and records > 0
        if not valid_records or not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise _problem(
                path,
                f"entry {name!r} needs 'records' (a positive integer) and 'sha256' "
                "(64 lowercase hex digits)",
                SUBSET_HINT,
            )
        table[name] = (records, digest)
    return table


def _expected(folder: Path, names: Sequence[str]) -> tuple[dict[str, tuple[int, str]], str]:
    """(records, sha256) of each of ``names`` in ``folder`` and the hint for its errors:
    from the subset manifest when the folder has one, from ``OFFICIAL_SHA256`` otherwise."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return _expected_official(names), FETCH_HINT
    table = _read_manifest(manifest)
    missing = [name for name in names if name not in table]
    if missing:
        raise _problem(manifest, f"the subset manifest does not list {missing}", SUBSET_HINT)
    return {name: table[name] for name in names}, SUBSET_HINT


# ---------------------------------------------------------------- verified reading


def _read_verified(path: Path, out: np.ndarray, sha256: str, hint: str) -> None:
    """Fill ``out`` (uint8, records × 3073 bytes) with the bytes of ``path``, after checking
    that the file exists and has exactly ``out.size`` bytes, and that those bytes (hashed in
    chunks as they are read) have SHA-256 ``sha256``."""
    expected_size = out.size
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _problem(path, "file not found", hint) from None
    if not path.is_file():
        raise _problem(path, "not a regular file", hint)
    if st.st_size != expected_size:
        kind = "truncated" if st.st_size < expected_size else "too large"
        raise _problem(
            path,
            f"{kind}: expected {expected_size} bytes "
            f"({expected_size // RECORD_BYTES} records of {RECORD_BYTES}), found {st.st_size}",
            hint,
        )
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    cached = _DIGESTS.get(key)
    view = memoryview(out)
    digest = hashlib.sha256() if cached is None else None
    with open(path, "rb") as fh:
        done = 0
        while done < expected_size:
            n = fh.readinto(view[done : done + _CHUNK])
            if not n:
                break
            if digest is not None:
                digest.update(view[done : done + n])
            done += n
        grew = fh.read(1) != b""
    # The file changed between stat and read (another writer): refuse rather than guess.
    if done != expected_size or grew:
        raise _problem(path, f"changed while being read ({done} bytes read)", hint)
    found = digest.hexdigest() if digest is not None else cached
    _DIGESTS[key] = found
    if found != sha256:
        raise _problem(path, f"altered or corrupt: SHA-256 expected {sha256}, found {found}", hint)


def _check_labels(labels: np.ndarray, path: Path, hint: str) -> None:
    """Refuse a label byte above 9 among ``labels`` (uint8 (n,), the records of ``path``)."""
    bad = np.flatnonzero(labels >= len(CLASSES))
    if bad.size:
        i = int(bad[0])
        raise _problem(
            path,
            f"record {i} has label byte {labels[i]} (labels are 0..{len(CLASSES) - 1}); "
            f"{bad.size} such record(s)",
            hint,
        )


def load(folder: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One split of a CIFAR-10 binary folder, every file verified first (module docstring).

    ``split`` is ``"train"`` (``data_batch_1.bin`` … ``data_batch_5.bin`` concatenated in that
    order) or ``"test"`` (``test_batch.bin``). Returns images uint8 (n, 3, 32, 32), channels R,
    G, B, pixel values 0..255, row-major (axis 2 is the row, from the top); and labels int64
    (n,) in 0..9 (``CLASSES``). n is 50 000 / 10 000 for the official data.

    Raises ``DatasetError`` for a missing, truncated, oversized or altered file, or a label
    byte above 9; ``ValueError`` for an unknown split.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, not {split!r}")
    folder = Path(folder)
    if not folder.is_dir():
        raise _problem(folder, "data folder not found", FETCH_HINT)
    expected, hint = _expected(folder, SPLITS[split])
    # The split's files are read, in order, into one buffer of records (no copy per file);
    # all are verified before any is parsed, so no partial split is ever returned.
    ends = np.cumsum([expected[name][0] for name in SPLITS[split]])
    rec = np.empty((int(ends[-1]), RECORD_BYTES), dtype=np.uint8)
    for name, end in zip(SPLITS[split], ends, strict=True):
        records, sha = expected[name]
        _read_verified(folder / name, rec[end - records : end].reshape(-1), sha, hint)
    for name, end in zip(SPLITS[split], ends, strict=True):
        _check_labels(rec[end - expected[name][0] : end, 0], folder / name, hint)
    # Each record's pixel bytes are the R, G and B planes, each 32 rows of 32: C, H, W order.
    # A strided view of the buffer; one copy makes it contiguous and frees the label bytes.
    images = np.ascontiguousarray(rec[:, 1:].reshape(-1, CHANNELS, HEIGHT, WIDTH))
    return images, rec[:, 0].astype(np.int64)


def verify(folder: str | os.PathLike) -> dict[str, int]:
    """Check every file of both splits of ``folder`` as ``load`` does; the number of images
    per split. Raises ``DatasetError`` for the first bad file."""
    return {split: len(load(folder, split)[1]) for split in SPLITS}


def scale(images: np.ndarray) -> np.ndarray:
    """Pixel bytes to float32 in [−1, 1]: (x / 255 − 0.5) / 0.5, i.e. 0 → −1, 255 → 1.

    ``images`` is uint8 of any shape (normally (n, 3, 32, 32)); the result has the same shape.
    Both endpoints are exact in float32 (x / 127.5 − 1 with 127.5 representable).
    """
    if images.dtype != np.uint8:
        raise ValueError(f"scale expects uint8 pixel bytes, got {images.dtype}")
    return images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


# ---------------------------------------------------------------- writing (tests, demos)


def _split_counts(n: int, files: Sequence[str] | Mapping[str, int]) -> dict[str, int]:
    """Records per file: the counts given, or ``n`` shared as evenly as possible in order
    (the first files take one more), each file at least one record."""
    names = [str(name) for name in files]
    if len(set(names)) != len(names):
        raise ValueError(f"file names repeat in split_files: {names}")
    for name in names:
        if Path(name).name != name or not name.endswith(".bin"):
            raise ValueError(f"split_files names plain '*.bin' file names, not {name!r}")
    if isinstance(files, Mapping):
        counts = {str(name): int(k) for name, k in files.items()}
        if sum(counts.values()) != n:
            raise ValueError(f"split_files counts sum to {sum(counts.values())}, not {n} images")
    else:
        base, extra = divmod(n, len(names)) if names else (0, 0)
        counts = {name: base + (i < extra) for i, name in enumerate(names)}
    if not counts or min(counts.values()) < 1:
        raise ValueError(f"each file needs at least one record: {counts}")
    return counts


def _encode(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Records uint8 (n, 3073) from images uint8 (n, 3, 32, 32) and labels in 0..9 (n,)."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8 or images.shape[1:] != (CHANNELS, HEIGHT, WIDTH):
        raise ValueError(f"images must be uint8 (n, 3, 32, 32), got {images.dtype} {images.shape}")
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape ({len(images)},), got {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise ValueError(f"labels must be in 0..{len(CLASSES) - 1}")
    rec = np.empty((len(images), RECORD_BYTES), dtype=np.uint8)
    rec[:, 0] = labels
    rec[:, 1:] = images.reshape(len(images), IMAGE_BYTES)
    return rec


def write_binary(
    folder: str | os.PathLike,
    images: np.ndarray,
    labels: np.ndarray,
    split_files: Sequence[str] | Mapping[str, int] = TRAIN_FILES,
) -> dict[str, dict[str, Any]]:
    """Write ``images`` (uint8 (n, 3, 32, 32), R, G, B) and ``labels`` (n,) in 0..9 as CIFAR-10
    binary files in ``folder``, and record them in its subset manifest.

    ``split_files`` names the files the records go to, in order: a sequence of names shares
    the n records as evenly as possible (the first files take one more); a mapping gives each
    file's record count. Pass ``TRAIN_FILES`` and ``TEST_FILES`` in two calls to write a
    folder that ``load`` reads. The manifest keeps the entries of files this call does not
    write. Each file is written atomically. Returns the manifest's ``files`` table.

    Refuses a folder that holds official data (a data file but no manifest), which a manifest
    would otherwise take out of the official checks.
    """
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.exists() and any((folder / name).exists() for name in OFFICIAL_SHA256):
        raise ValueError(f"{folder} holds CIFAR-10 files but no {MANIFEST}: not writing there")
    rec = _encode(images, labels)
    counts = _split_counts(len(rec), split_files)
    table = (
        {name: {"records": k, "sha256": d} for name, (k, d) in _read_manifest(manifest).items()}
        if manifest.exists()
        else {}
    )
    folder.mkdir(parents=True, exist_ok=True)
    start = 0
    for name, k in counts.items():
        chunk = rec[start : start + k]
        start += k
        with atomic(folder / name) as tmp:
            chunk.tofile(tmp)
        table[name] = {"records": k, "sha256": hashlib.sha256(chunk.tobytes()).hexdigest()}
    doc = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "record_bytes": RECORD_BYTES,
        "files": dict(sorted(table.items())),
    }
    with atomic(manifest) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return doc["files"]


def _tiny_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Synthetic images uint8 (n, 3, 32, 32) for ``labels`` (n,): class c is a sinusoidal
    grating in its own colour, horizontal for even c and vertical for odd c, with c // 2 + 1
    cycles across the image, a random phase per image, and Gaussian pixel noise (sd 20 of 255).
    Colour, orientation and frequency all carry the class, so a small CNN learns it quickly."""
    n = len(labels)
    # Ten well separated colours: hues 36° apart at full saturation, as R, G, B in [0.2, 1].
    hue = np.arange(len(CLASSES)) / len(CLASSES)
    colours = 0.2 + 0.8 * np.clip(
        np.abs((hue[:, None] * 6 + np.array([0.0, 4.0, 2.0])) % 6 - 3) - 1, 0, 1
    )
    coord = np.arange(HEIGHT) / HEIGHT  # 0 .. 31/32 along the grating's axis
    cycles = labels // 2 + 1
    phase = rng.uniform(0, 2 * np.pi, size=n)
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * cycles[:, None] * coord + phase[:, None])  # (n, 32)
    vertical = (labels % 2 == 1)[:, None, None]
    grating = np.where(vertical, wave[:, None, :], wave[:, :, None])  # (n, rows, cols)
    pixels = 255 * (0.1 + 0.8 * colours[labels][:, :, None, None] * grating[:, None])
    pixels += rng.normal(0, 20, size=pixels.shape)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def tiny(
    folder: str | os.PathLike,
    n_per_class: int = 10,
    seed: int = 0,
    n_test_per_class: int | None = None,
) -> Path:
    """Write a small deterministic synthetic data set in the CIFAR-10 binary format.

    ``n_per_class`` training and ``n_test_per_class`` (default: half of ``n_per_class``, at
    least one) test images per class, in shuffled order, spread over ``TRAIN_FILES`` and
    ``TEST_FILES`` as in the official layout, plus ``batches.meta.txt`` and the subset
    manifest. The images (``_tiny_images``) carry their class in colour and a grating, so a
    small CNN learns them. The same arguments give the same bytes (numpy's PCG64 streams).
    Returns ``folder``.
    """
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be at least 1, got {n_per_class}")
    n_test = max(1, n_per_class // 2) if n_test_per_class is None else n_test_per_class
    if n_test < 1:
        raise ValueError(f"n_test_per_class must be at least 1, got {n_test}")
    folder = Path(folder)
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    for rng, per_class, files in (
        (train_rng, n_per_class, TRAIN_FILES),
        (test_rng, n_test, TEST_FILES),
    ):
        labels = rng.permutation(np.repeat(np.arange(len(CLASSES)), per_class))
        write_binary(folder, _tiny_images(labels, rng), labels, split_files=files)
    with atomic(folder / META_FILE) as tmp:
        tmp.write_text("\n".join(CLASSES) + "\n", encoding="ascii")
    return folder


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m repgeom.datasets.cifar10 verify FOLDER`` or ``tiny FOLDER [N [SEED]]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m repgeom.datasets.cifar10")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="check every file's size, SHA-256 and labels")
    check.add_argument("folder")
    gen = sub.add_parser("tiny", help="write a small synthetic data set in the same format")
    gen.add_argument("folder")
    gen.add_argument("--n-per-class", type=int, default=10)
    gen.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "tiny":
        tiny(args.folder, args.n_per_class, args.seed)
    try:
        counts = verify(args.folder)
    except DatasetError as exc:
        print(f"error: {exc}")
        return 1
    print(f"{args.folder}: verified; {counts['train']} train, {counts['test']} test images")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
