"""The CIFAR-10 binary reader: format, verification, refusals, writer and the tiny data set.

Files are built here byte by byte (not with ``write_binary``), so that the reader is checked
against the format itself: 1 label byte, then the red, green and blue planes, 32×32 row-major.
"""

import hashlib
import json
import os

import numpy as np
import pytest

from repgeom.datasets import cifar10 as c10
from repgeom.datasets.cifar10 import DatasetError

PLANE = 32 * 32


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test hashes its files itself."""
    c10.clear_digest_cache()
    yield
    c10.clear_digest_cache()


def record(label: int, pixels: dict[int, int] | None = None) -> bytes:
    """One 3073-byte record: ``label``, then 3072 pixel bytes, zero except ``pixels``
    (offset within the 3072 pixel bytes → value)."""
    body = bytearray(3072)
    for offset, value in (pixels or {}).items():
        body[offset] = value
    return bytes([label]) + bytes(body)


def write_subset(folder, files: dict[str, bytes]) -> None:
    """Write ``files`` (name → bytes) and a subset manifest listing each with its digest."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        entries[name] = {"records": len(data) // 3073, "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {
        "format": "repgeom-cifar10-binary-subset",
        "version": 1,
        "record_bytes": 3073,
        "files": entries,
    }
    (folder / "repgeom-subset.json").write_text(json.dumps(manifest))


def test_labels_channel_order_and_row_major_layout(tmp_path):
    red = {i: 255 for i in range(PLANE)}  # the whole red plane, nothing else
    row1_col0 = {32: 200}  # pixel byte 32 = record byte 1 + 32: red, row 1, column 0
    green_r2_c5 = {PLANE + 2 * 32 + 5: 77}
    blue_last = {3 * PLANE - 1: 9}
    data = record(3, red) + record(7, row1_col0) + record(0, green_r2_c5) + record(9, blue_last)
    assert data[3073 + 1 + 32] == 200  # the byte the format puts there
    write_subset(tmp_path, {"test_batch.bin": data})

    images, labels = c10.load(tmp_path, "test")

    assert images.dtype == np.uint8 and images.shape == (4, 3, 32, 32)
    assert labels.dtype == np.int64 and labels.tolist() == [3, 7, 0, 9]
    assert (images[0, 0] == 255).all() and (images[0, 1:] == 0).all()  # R, G, B order
    assert images[1, 0, 1, 0] == 200 and images[1].sum() == 200  # (row 1, col 0)
    assert images[2, 1, 2, 5] == 77 and images[2].sum() == 77
    assert images[3, 2, 31, 31] == 9 and images[3].sum() == 9


def test_train_is_batches_one_to_five_in_order(tmp_path):
    # File i holds i records labelled i - 1, each marked with its file and position.
    files = {
        f"data_batch_{i}.bin": b"".join(record(i - 1, {0: 10 * i + j}) for j in range(i))
        for i in range(1, 6)
    }
    files["test_batch.bin"] = record(5)
    write_subset(tmp_path, files)

    images, labels = c10.load(tmp_path, "train")

    assert labels.tolist() == [i - 1 for i in range(1, 6) for _ in range(i)]
    assert images[:, 0, 0, 0].tolist() == [10 * i + j for i in range(1, 6) for j in range(i)]
    assert c10.load(tmp_path, "test")[1].tolist() == [5]


def test_scale_endpoints_shape_and_dtype():
    x = np.array([[0, 255], [127, 128]], dtype=np.uint8)
    y = c10.scale(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert y[0, 0] == -1.0 and y[0, 1] == 1.0
    np.testing.assert_allclose(y[1], (np.array([127, 128]) / 255 - 0.5) / 0.5, atol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        c10.scale(x.astype(np.float32))


def refusal(folder, split="test") -> str:
    """The message of the ``DatasetError`` that loading ``split`` of ``folder`` raises."""
    with pytest.raises(DatasetError) as info:
        c10.load(folder, split)
    return str(info.value)


def test_truncated_file_is_refused(tmp_path):
    data = record(1) * 2
    write_subset(tmp_path, {"test_batch.bin": data})
    (tmp_path / "test_batch.bin").write_bytes(data[:-1])
    msg = refusal(tmp_path)
    assert "test_batch.bin" in msg and "truncated" in msg
    assert "expected 6146 bytes" in msg and "found 6145" in msg
    assert "tiny()" in msg  # a generated subset says how to write it again


def test_oversized_file_is_refused(tmp_path):
    data = record(1)
    write_subset(tmp_path, {"test_batch.bin": data})
    (tmp_path / "test_batch.bin").write_bytes(data + b"\0")
    msg = refusal(tmp_path)
    assert "test_batch.bin" in msg and "too large" in msg and "found 3074" in msg


def test_altered_byte_is_refused(tmp_path):
    data = record(1, {100: 5}) + record(2)
    write_subset(tmp_path, {"test_batch.bin": data})
    altered = bytearray(data)
    altered[1 + 100] = 6
    (tmp_path / "test_batch.bin").write_bytes(bytes(altered))
    msg = refusal(tmp_path)
    assert "test_batch.bin" in msg and "SHA-256" in msg
    assert hashlib.sha256(data).hexdigest() in msg  # expected digest
    assert hashlib.sha256(altered).hexdigest() in msg  # found digest


def test_missing_file_is_refused(tmp_path):
    files = {f"data_batch_{i}.bin": record(0) for i in range(1, 6)}
    write_subset(tmp_path, files)
    (tmp_path / "data_batch_4.bin").unlink()
    msg = refusal(tmp_path, "train")
    assert "data_batch_4.bin" in msg and "not found" in msg


def test_label_byte_ten_is_refused(tmp_path):
    write_subset(tmp_path, {"test_batch.bin": record(2) + record(10) + record(3)})
    msg = refusal(tmp_path)
    assert "test_batch.bin" in msg and "record 1" in msg and "label byte 10" in msg


def test_official_layout_checks_the_official_size(tmp_path):
    # No manifest: the official table applies, 10 000 records of 3073 bytes per file.
    (tmp_path / "test_batch.bin").write_bytes(record(1))
    msg = refusal(tmp_path)
    assert "test_batch.bin" in msg and "expected 30730000 bytes" in msg and "found 3073" in msg
    assert "CIFAR-10 data (for the CNN experiment)" in msg and "login node" in msg


def test_official_layout_checks_the_official_digest(tmp_path):
    (tmp_path / "test_batch.bin").write_bytes(bytes(30_730_000))  # right size, wrong bytes
    msg = refusal(tmp_path)
    assert "test_batch.bin" in msg and c10.OFFICIAL_SHA256["test_batch.bin"] in msg
    assert "README.md" in msg


def test_official_table_is_complete():
    assert set(c10.OFFICIAL_SHA256) == set(c10.TRAIN_FILES) | set(c10.TEST_FILES)
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in c10.OFFICIAL_SHA256.values())
    assert len(set(c10.OFFICIAL_SHA256.values())) == 6
    assert c10.OFFICIAL_RECORDS * c10.RECORD_BYTES == 30_730_000


def test_missing_folder_unknown_split_and_bad_manifest(tmp_path):
    msg = refusal(tmp_path / "nowhere")
    assert "nowhere" in msg and "not found" in msg
    with pytest.raises(ValueError, match="split"):
        c10.load(tmp_path, "validation")
    write_subset(tmp_path, {"test_batch.bin": record(0)})
    msg = refusal(tmp_path, "train")  # the manifest lists no training file
    assert "repgeom-subset.json" in msg and "data_batch_1.bin" in msg
    (tmp_path / "repgeom-subset.json").write_text('{"format": "something else"}')
    assert "repgeom-subset.json" in refusal(tmp_path)


def test_each_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch):
    data = record(4) * 3
    write_subset(tmp_path, {"test_batch.bin": data})
    calls = []
    real = hashlib.sha256
    monkeypatch.setattr(c10.hashlib, "sha256", lambda *a: calls.append(1) or real(*a))

    c10.load(tmp_path, "test")
    c10.load(tmp_path, "test")
    assert len(calls) == 1

    # Altered in place with the same size; a new modification time invalidates the cache.
    path = tmp_path / "test_batch.bin"
    path.write_bytes(record(5) + data[3073:])
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert "SHA-256" in refusal(tmp_path)
    assert len(calls) == 2


def test_write_binary_writes_the_format_and_manifest(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 3, 32, 32), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5, 9])
    table = c10.write_binary(tmp_path, images[:6], labels[:6])  # shared over 5 train files
    c10.write_binary(tmp_path, images[6:], labels[6:], split_files=c10.TEST_FILES)

    assert [table[name]["records"] for name in c10.TRAIN_FILES] == [2, 1, 1, 1, 1]
    first = (tmp_path / "data_batch_1.bin").read_bytes()
    by_hand = b"".join(bytes([labels[i]]) + images[i].tobytes() for i in range(2))
    assert first == by_hand
    manifest = json.loads((tmp_path / "repgeom-subset.json").read_text())
    assert set(manifest["files"]) == set(c10.TRAIN_FILES) | {"test_batch.bin"}  # kept both
    assert manifest["files"]["data_batch_1.bin"]["sha256"] == hashlib.sha256(first).hexdigest()

    x, y = c10.load(tmp_path, "train")
    np.testing.assert_array_equal(x, images[:6])
    np.testing.assert_array_equal(y, labels[:6])
    x, y = c10.load(tmp_path, "test")
    np.testing.assert_array_equal(x, images[6:])
    assert y.tolist() == [9]

    counts = {"data_batch_1.bin": 1, "data_batch_2.bin": 5}
    assert c10.write_binary(tmp_path / "b", images[:6], labels[:6], counts)["data_batch_2.bin"] == {
        "records": 5,
        "sha256": hashlib.sha256(_encode(images[1:6], labels[1:6])).hexdigest(),
    }


def _encode(images, labels) -> bytes:
    return b"".join(bytes([int(k)]) + im.tobytes() for im, k in zip(images, labels, strict=True))


def test_write_binary_refusals(tmp_path):
    images = np.zeros((2, 3, 32, 32), dtype=np.uint8)
    with pytest.raises(ValueError, match="0..9"):
        c10.write_binary(tmp_path / "a", images, np.array([0, 10]))
    with pytest.raises(ValueError, match="at least one record"):
        c10.write_binary(tmp_path / "a", images, np.array([0, 1]))  # 2 images, 5 files
    with pytest.raises(ValueError, match="uint8"):
        c10.write_binary(tmp_path / "a", images.astype(float), np.array([0, 1]), ["x.bin"])
    official = tmp_path / "official"
    official.mkdir()
    (official / "test_batch.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="no repgeom-subset.json"):
        c10.write_binary(official, images, np.array([0, 1]), c10.TEST_FILES)


def test_tiny_is_deterministic_balanced_and_learnable(tmp_path):
    a = c10.tiny(tmp_path / "a", n_per_class=6, seed=3)
    b = c10.tiny(tmp_path / "b", n_per_class=6, seed=3)
    other = c10.tiny(tmp_path / "c", n_per_class=6, seed=4)
    for name in (*c10.TRAIN_FILES, *c10.TEST_FILES):
        assert (a / name).read_bytes() == (b / name).read_bytes()
        assert (a / name).read_bytes() != (other / name).read_bytes()
    assert (a / "batches.meta.txt").read_text().split() == list(c10.CLASSES)

    x, y = c10.load(a, "train")
    xt, yt = c10.load(a, "test")
    assert x.shape == (60, 3, 32, 32) and np.bincount(y).tolist() == [6] * 10
    assert xt.shape == (30, 3, 32, 32) and np.bincount(yt).tolist() == [3] * 10
    assert c10.verify(a) == {"train": 60, "test": 30}

    # Class structure a learner can find: nearest class mean on raw pixels beats chance well.
    feats, test_feats = c10.scale(x).reshape(60, -1), c10.scale(xt).reshape(30, -1)
    means = np.stack([feats[y == k].mean(0) for k in range(10)])
    guess = np.argmin(((test_feats[:, None] - means) ** 2).sum(-1), axis=1)
    assert (guess == yt).mean() >= 0.5


def test_command_line_tiny_and_verify(tmp_path, capsys):
    assert c10._main(["tiny", str(tmp_path / "t"), "--n-per-class", "2"]) == 0
    assert "20 train, 10 test" in capsys.readouterr().out
    (tmp_path / "t" / "data_batch_3.bin").write_bytes(b"x")
    assert c10._main(["verify", str(tmp_path / "t")]) == 1
    assert "data_batch_3.bin" in capsys.readouterr().out


def test_readme_has_the_section_the_errors_point_to():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "\n## CIFAR-10 data (for the CNN experiment)\n" in readme
    assert "CIFAR-10 data (for the CNN experiment)" in c10.FETCH_HINT
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in readme
    assert "c32a1d4ab5d03f1284b67883e8d87530  cifar-10-binary.tar.gz" in readme


def test_loaded_arrays_are_contiguous_and_own_their_memory(tmp_path):
    c10.tiny(tmp_path, n_per_class=1)
    images, labels = c10.load(tmp_path, "train")
    assert images.flags["C_CONTIGUOUS"] and labels.flags["C_CONTIGUOUS"]
    assert not np.shares_memory(images, labels)
