"""A small reader and writer of the safetensors format, in NumPy alone.

The format (https://github.com/huggingface/safetensors) is::

    [8 bytes]  N, the header length, unsigned 64-bit little-endian
    [N bytes]  the header: UTF-8 JSON, padded with spaces to a multiple of 8
               {"__metadata__": {"key": "value", ...},            (optional)
                "fc.weight": {"dtype": "F32", "shape": [10, 84],
                              "data_offsets": [begin, end]}, ...}
    [rest]     the byte buffer: each tensor's bytes, little-endian, C order,
               at buffer[begin:end]

Offsets are relative to the start of the buffer. The tensors must cover the
buffer exactly: no gaps, no overlaps, no trailing bytes. Metadata values are
strings. We write tensors into the buffer from the largest item size to the
smallest, so each tensor starts aligned to its item size (as the reference
implementation does); the header lists them in the caller's order.

Reading validates every field before touching the buffer and raises
:class:`SafetensorsError` (a ``ValueError``) naming the file and the problem.
Arrays come back as owned, writable copies in native byte order.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from cnnlab.io.files import atomic_write_bytes

__all__ = ["SafetensorsError", "decode", "dtype_name", "encode", "load_file", "save_file"]

# safetensors dtype name -> NumPy dtype, stored little-endian.
DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype("?"), "U8": np.dtype("u1"), "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"), "U16": np.dtype("<u2"), "F16": np.dtype("<f2"),
    "I32": np.dtype("<i4"), "U32": np.dtype("<u4"), "F32": np.dtype("<f4"),
    "I64": np.dtype("<i8"), "U64": np.dtype("<u8"), "F64": np.dtype("<f8"),
}
# (kind, itemsize) of a NumPy dtype -> safetensors dtype name.
_NAMES = {(dt.kind, dt.itemsize): name for name, dt in DTYPES.items()}
# Valid safetensors dtypes that NumPy has no type for.
_UNSUPPORTED = {"BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"}
MAX_HEADER_BYTES = 100_000_000  # the reference implementation's limit
METADATA_KEY = "__metadata__"


class SafetensorsError(ValueError):
    """A file (or bytes object) is not a valid safetensors file.

    Attributes:
        source: The file name (or ``"<bytes>"``) the data came from.
        problem: What is wrong, without the file name.
        not_safetensors: True when the data does not even frame as
            safetensors (too short, impossible header length, header not a
            JSON object): likely a foreign or badly truncated file.
    """

    def __init__(self, source: str, problem: str, *, not_safetensors: bool = False):
        super().__init__(f"safetensors: {source}: {problem}")
        self.source, self.problem, self.not_safetensors = source, problem, not_safetensors


def _supported_list() -> str:
    return ", ".join(DTYPES)


def dtype_name(dtype: np.dtype) -> str | None:
    """The safetensors name of a NumPy dtype (``float32`` -> ``"F32"``), or None."""
    dtype = np.dtype(dtype)
    return _NAMES.get((dtype.kind, dtype.itemsize))


def encode(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """Serialise arrays (and optional string metadata) to safetensors bytes.

    Args:
        tensors: Tensor name -> array. Names are strings; ``"__metadata__"``
            is reserved. Any memory layout and byte order is accepted.
        metadata: Optional string -> string map, stored as ``__metadata__``.

    Returns:
        The complete file contents.

    Raises:
        TypeError: A name or metadata entry is not a string, a value is not
            an ndarray, or an array's dtype has no safetensors equivalent
            (complex, object, string, datetime...).
        ValueError: A tensor is named ``"__metadata__"``.
    """
    header: dict[str, object] = {}
    if metadata is not None:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"safetensors.encode: metadata must map str to str, "
                                f"got {key!r}: {type(value).__name__}")
        header[METADATA_KEY] = dict(metadata)
    arrays = []
    for name, array in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"safetensors.encode: tensor names must be str, got {name!r}")
        if name == METADATA_KEY:
            raise ValueError(f"safetensors.encode: the name {METADATA_KEY!r} is reserved")
        if not isinstance(array, np.ndarray):
            raise TypeError(f"safetensors.encode: tensor {name!r} must be a numpy.ndarray, "
                            f"got {type(array).__name__}")
        st_dtype = dtype_name(array.dtype)
        if st_dtype is None:
            raise TypeError(f"safetensors.encode: tensor {name!r} has dtype {array.dtype}, "
                            f"which safetensors cannot store; supported: {_supported_list()}")
        arrays.append((name, st_dtype, array.astype(DTYPES[st_dtype], copy=False)))
        header[name] = None  # keep the caller's order; filled in below
    # Lay out the buffer from the largest item size down (stable), for alignment.
    chunks, offset = [], 0
    for name, st_dtype, array in sorted(arrays, key=lambda item: -item[2].itemsize):
        header[name] = {"dtype": st_dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        chunks.append(array.tobytes(order="C"))
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad so the buffer starts 8-byte aligned
    return b"".join([len(text).to_bytes(8, "little"), text, *chunks])


def save_file(tensors: dict[str, np.ndarray], path: str | os.PathLike,
              metadata: dict[str, str] | None = None) -> None:
    """Write arrays to ``path`` in the safetensors format, atomically.

    Everything is encoded before the file is opened, so a bad input leaves
    ``path`` untouched. See :func:`encode` for the arguments and errors.
    """
    atomic_write_bytes(path, encode(tensors, metadata))


def _reject_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {short_repr(key)}")
        result[key] = value
    return result


def _reject_constant(constant: str) -> None:
    raise ValueError(f"{constant} is not valid JSON")


def short_repr(value: object, limit: int = 80) -> str:
    """repr() clipped to ``limit`` characters, for messages about hostile input."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_header(data: memoryview, name: str) -> tuple[dict, int]:
    """Read the length prefix and the JSON header; return it and the buffer start."""
    def fail(problem: str) -> SafetensorsError:
        return SafetensorsError(name, problem, not_safetensors=True)

    if len(data) < 8:
        raise fail(f"file is {len(data)} bytes, shorter than the 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if n > MAX_HEADER_BYTES:
        raise fail(f"its first 8 bytes give a header length of {n}, over the limit of {MAX_HEADER_BYTES} bytes")
    if n > len(data) - 8:
        raise fail(f"header length {n} is larger than the rest of the file "
                   f"({len(data) - 8} bytes): truncated or not a safetensors file")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"),
                            object_pairs_hook=_reject_duplicates,
                            parse_constant=_reject_constant)
    except UnicodeDecodeError as e:
        raise fail(f"header is not valid UTF-8 ({e.reason} at byte {8 + e.start})") from None
    except RecursionError:
        raise fail("header JSON is nested too deeply") from None
    except ValueError as e:  # json.JSONDecodeError or a hook's error
        raise fail(f"header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise fail(f"header must be a JSON object, got {type(header).__name__}")
    return header, 8 + n


def _parse_entry(key: str, entry: object, name: str) -> tuple[np.dtype, tuple, int, int]:
    """Validate one tensor entry; return (dtype, shape, begin, end)."""
    def fail(problem: str) -> SafetensorsError:
        return SafetensorsError(name, f"tensor {short_repr(key)}: {problem}")

    if not isinstance(entry, dict):
        raise fail(f"entry must be a JSON object, got {short_repr(entry)}")
    missing = [field for field in ("dtype", "shape", "data_offsets") if field not in entry]
    if missing:
        raise fail(f"entry lacks {', '.join(missing)}")
    st_dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(st_dtype, str):
        raise fail(f"dtype must be a string, got {short_repr(st_dtype)}")
    if st_dtype in _UNSUPPORTED:
        raise fail(f"dtype {st_dtype} has no NumPy equivalent; supported: {_supported_list()}")
    if st_dtype not in DTYPES:
        raise fail(f"unknown dtype {short_repr(st_dtype)}; supported: {_supported_list()}")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise fail(f"shape must be a list of non-negative ints, got {short_repr(shape)}")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(_is_int(o) and o >= 0 for o in offsets) or offsets[0] > offsets[1]):
        raise fail(f"data_offsets must be [begin, end] with 0 <= begin <= end, got {short_repr(offsets)}")
    dtype, (begin, end) = DTYPES[st_dtype], offsets
    expected = math.prod(shape) * dtype.itemsize
    if end - begin != expected:
        raise fail(f"data_offsets {offsets} span {end - begin} bytes, but shape {short_repr(shape)} "
                   f"of {st_dtype} needs {expected}")
    return dtype, tuple(shape), begin, end


def decode(data: bytes, *, name: str = "<bytes>") -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse safetensors bytes into arrays and metadata, validating everything.

    Args:
        data: The complete file contents (``bytes``, ``bytearray``,
            ``memoryview`` or ``mmap``).
        name: What to call the data in error messages (the file path).

    Returns:
        ``(tensors, metadata)``: name -> owned, writable, native-byte-order
        array, in header order; and the ``__metadata__`` map (``{}`` when
        the file has none).

    Raises:
        SafetensorsError: (a ``ValueError``) naming ``name`` and the problem:
            too short, header length too large, header not UTF-8 JSON
            object, duplicate names, bad metadata, unknown dtype, bad shape
            or offsets, size mismatch, overlapping or gapped offsets,
            trailing bytes, or a truncated buffer.
    """
    data = memoryview(data).cast("B")
    header, start = _parse_header(data, name)
    metadata = header.pop(METADATA_KEY, None)
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise SafetensorsError(name, f"{METADATA_KEY} must map strings to strings, got {short_repr(metadata)}")
    entries = {key: _parse_entry(key, entry, name) for key, entry in header.items()}

    # The tensors must tile the buffer exactly: sorted by offsets, each one
    # begins where the previous one ended, and the last one ends at the end.
    covered = 0
    for key, (_, _, begin, end) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin != covered:
            kind = "overlaps the previous tensor" if begin < covered else "leaves a gap"
            raise SafetensorsError(name, f"tensor {short_repr(key)}: data_offsets [{begin}, {end}] {kind} "
                                         f"(expected begin {covered})")
        covered = end
    available = len(data) - start
    if available < covered:
        raise SafetensorsError(name, f"file is truncated: the buffer holds {available} bytes, "
                                     f"but the offsets need {covered}")
    if available > covered:
        raise SafetensorsError(name, f"{available - covered} trailing bytes after the last tensor")

    tensors = {}
    for key, (dtype, shape, begin, end) in entries.items():
        raw = data[start + begin:start + end]
        if dtype.kind == "b" and np.frombuffer(raw, np.uint8).max(initial=0) > 1:
            raise SafetensorsError(name, f"tensor {short_repr(key)}: BOOL bytes must be 0 or 1")
        try:
            array = np.frombuffer(raw, dtype).reshape(shape)
        except (ValueError, OverflowError) as e:
            raise SafetensorsError(name, f"tensor {short_repr(key)}: cannot build shape {list(shape)}: {e}") from None
        tensors[key] = array.astype(dtype.newbyteorder("="))  # an owned, native copy
    return tensors, metadata


def load_file(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a safetensors file. See :func:`decode` for the result and errors.

    Args:
        path: The file to read.

    Raises:
        SafetensorsError: If the file is not a valid safetensors file.
        OSError: If the file cannot be read.
    """
    with open(path, "rb") as f:
        data = f.read()
    return decode(data, name=os.fspath(path))
