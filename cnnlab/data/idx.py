"""Reading the IDX format of MNIST and Fashion-MNIST (gzipped or raw), with every size checked.

An IDX file is: two zero bytes, a type byte, a byte giving the number of dims,
one big-endian uint32 per dim, then the values, big-endian, in C order.
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

#: IDX type byte -> big-endian NumPy dtype
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_BYTES = 1 << 31  # refuse to inflate more than 2 GiB from one file


def _read_bytes(path) -> bytes:
    with open(path, "rb") as f:
        head = f.read(2)
        f.seek(0)
        if head != b"\x1f\x8b":
            return f.read()
        try:
            with gzip.GzipFile(fileobj=f) as gz:
                data = gz.read(MAX_BYTES + 1)
        except (EOFError, OSError, zlib.error) as e:
            raise ValueError(f"read_idx: {path}: the gzip stream is truncated or corrupt ({e})") from None
    if len(data) > MAX_BYTES:
        raise ValueError(f"read_idx: {path}: inflates to more than {MAX_BYTES} bytes")
    return data


def read_idx(path) -> np.ndarray:
    """Read an IDX file (``.gz`` or raw) into an array of its native dtype.

    Raises:
        ValueError: naming the file, when the magic number, the type byte, the
            number of dims, or the data size (truncated or with trailing bytes) is wrong.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"read_idx: {path}: file is too short for an IDX header ({len(data)} bytes)")
    zero, type_byte, ndim = data[:2], data[2], data[3]
    if zero != b"\x00\x00" or type_byte not in IDX_DTYPES:
        raise ValueError(f"read_idx: {path}: wrong magic number 0x{data[:4].hex()} "
                         f"(an IDX file starts with 00 00, a type byte in {sorted(IDX_DTYPES)}, and the dim count)")
    if not 1 <= ndim <= 4:
        raise ValueError(f"read_idx: {path}: an IDX file needs 1 to 4 dims, the header says {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"read_idx: {path}: file is truncated inside its header")
    shape = tuple(int(n) for n in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_DTYPES[type_byte])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header
    if got != expected:
        kind = "truncated" if got < expected else "longer than its header says"
        raise ValueError(f"read_idx: {path}: file is {kind}: shape {shape} needs {expected} data bytes, found {got}")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
