"""The IDX reader and the bundled MNIST: real files, and small broken ones the tests write."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from cnnlab.data import load_mnist_arrays, read_idx


def idx_bytes(array: np.ndarray, type_byte: int) -> bytes:
    header = bytes([0, 0, type_byte, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype,code", [(np.uint8, 8), (np.int8, 9), (np.int16, 0x0B), (np.int32, 0x0C),
                                        (np.float32, 0x0D), (np.float64, 0x0E)])
@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_every_type(tmp_path, dtype, code, gz):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    data = idx_bytes(a, code)
    path = tmp_path / ("x.idx.gz" if gz else "x.idx")
    path.write_bytes(gzip.compress(data) if gz else data)
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, a)


def test_bundled_mnist_is_the_real_one():
    x, y = load_mnist_arrays(train=True)
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8 and y.shape == (60000,)
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the well-known first labels
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    xt, yt = load_mnist_arrays(train=False)
    assert xt.shape == (10000, 28, 28) and yt[:5].tolist() == [7, 2, 1, 0, 4]


def test_broken_files_are_rejected_with_the_file_name(tmp_path):
    good = idx_bytes(np.zeros((3, 2, 2), np.uint8), 8)
    cases = {
        "short": (b"\x00\x00", "file is too short for an IDX header"),
        "magic": (b"\x01\x02\x08\x03" + good[4:], "wrong magic number 0x01020803"),
        "type": (b"\x00\x00\x07\x03" + good[4:], "wrong magic number 0x00000703"),
        "ndim": (b"\x00\x00\x08\x00" + good[4:], "an IDX file needs 1 to 4 dims, the header says 0"),
        "header": (good[:9], "file is truncated inside its header"),
        "truncated": (good[:-1], r"file is truncated: shape \(3, 2, 2\) needs 12 data bytes, found 11"),
        "trailing": (good + b"\x00", "file is longer than its header says"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / f"{name}.idx"
        path.write_bytes(data)
        with pytest.raises(ValueError, match=f"read_idx: .*{name}.idx: {message}"):
            read_idx(path)
    gz = tmp_path / "cut.gz"
    gz.write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(ValueError, match="cut.gz: the gzip stream is truncated or corrupt"):
        read_idx(gz)


def test_missing_and_mismatched_mnist_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="mnist: neither train-images-idx3-ubyte.gz nor"):
        load_mnist_arrays(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((3, 2, 2), np.uint8), 8))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, np.uint8), 8))
    with pytest.raises(ValueError, match=r"holds \(3, 2, 2\) and .* holds \(4,\)"):
        load_mnist_arrays(tmp_path, train=False)
