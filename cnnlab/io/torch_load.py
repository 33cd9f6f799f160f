"""PyTorch's checkpoint files read without torch and without running their pickles.

`load_torch(path)` reads what ``torch.save`` writes — the zip format (``.pt``/``.pth``
since PyTorch 1.6: ``<name>/data.pkl``, the storages ``<name>/data/<key>``, ``<name>/byteorder``)
— and safetensors files, and returns what was saved with every
tensor a cnnlab `Tensor`, as ``torch.load(path, weights_only=True)`` returns it with torch's.

The pickle is read by `_Restricted`, an unpickler that can build only what a checkpoint of
weights holds: ``collections.OrderedDict``, the storage types (``torch.FloatStorage`` and the
others of `STORAGE_DTYPES`), ``torch._utils._rebuild_tensor_v2`` and ``_rebuild_parameter``
(rebuilt here, by this module's own functions: torch's are never looked up), NumPy scalars,
and the plain containers and numbers of the pickle format itself. Any other global — a class, a
function, ``os.system`` — is refused with a `LoadError` naming it, before anything is called:
loading a hostile file cannot run code.

A tensor is rebuilt from (storage, offset, size, stride), checked to lie inside its storage, and
copied: views and tied weights (two tensors on one storage) come back with the right values, each
its own array. bfloat16 becomes float32 (exact: bfloat16 is the upper half of a float32).
"""
from __future__ import annotations

import collections
import io
import math
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np

from cnnlab.autograd import Tensor
from cnnlab.io import safetensors as st
from cnnlab.io.checkpoint import LoadError

OP = "cnnlab.io.load_torch"

#: torch's storage types -> the NumPy dtype of their elements ("bfloat16": read as uint16, then widened).
STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C      # the first pickled value of a torch.save file before 1.6
_MAX_PICKLE_BYTES = 256 * 2**20             # data.pkl of a state dict is kilobytes; refuse a giant one


class _Refused(Exception):
    """What is wrong with the file, raised inside the unpickler and turned into a LoadError."""


class _StorageType:
    """The value `find_class` gives for ``torch.<Type>Storage``: only its element dtype."""
    __slots__ = ("name", "dtype")

    def __init__(self, name: str):
        self.name, self.dtype = name, STORAGE_DTYPES[name]


def _element_dtype(dtype, big_endian: bool) -> np.dtype:
    base = np.dtype(np.uint16 if dtype == "bfloat16" else dtype)
    return base.newbyteorder(">" if big_endian else "<") if base.itemsize > 1 else base


def _widen(array: np.ndarray, dtype) -> np.ndarray:
    """A native-order copy; bfloat16 (held as uint16) widened to float32."""
    if dtype == "bfloat16":
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(np.dtype(dtype), copy=True)


class _Storage:
    """One storage: its elements as a 1-d array (file byte order) and the storage dtype."""
    __slots__ = ("array", "dtype")

    def __init__(self, array: np.ndarray, dtype):
        self.array, self.dtype = array, dtype


def _index(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Refused(f"{what} must be an int, got {type(value).__name__}")
    return value


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                    metadata=None) -> Tensor:
    """``torch._utils._rebuild_tensor_v2``: the view (offset, size, stride) of `storage`, copied."""
    if not isinstance(storage, _Storage):
        raise _Refused(f"a tensor's storage must come from the file's storages, got {type(storage).__name__}")
    offset = _index(storage_offset, "a tensor's storage offset")
    if not isinstance(size, tuple) or not isinstance(stride, tuple) or len(size) != len(stride):
        raise _Refused(f"a tensor's size and stride must be tuples of one length, got {size!r} and {stride!r}")
    size = tuple(_index(n, "a tensor's size") for n in size)
    stride = tuple(_index(s, "a tensor's stride") for s in stride)
    if min(size + stride + (offset,), default=0) < 0:
        raise _Refused(f"a tensor's size, stride and offset must be >= 0, got {size}, {stride}, {offset}")
    n = len(storage.array)
    if math.prod(size):
        last = offset + sum((m - 1) * s for m, s in zip(size, stride))
        if last >= n:
            raise _Refused(f"a tensor of size {list(size)}, stride {list(stride)} at offset {offset} reaches "
                           f"element {last} of a storage of {n}")
    item = storage.array.itemsize
    view = np.lib.stride_tricks.as_strided(storage.array[offset:] if offset < n else storage.array[:0],
                                           shape=size, strides=tuple(s * item for s in stride), writeable=False)
    return Tensor(_widen(view, storage.dtype))


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None) -> Tensor:
    """``torch._utils._rebuild_parameter``: a Parameter saved whole comes back as its tensor."""
    if not isinstance(data, Tensor):
        raise _Refused(f"a parameter's data must be a tensor, got {type(data).__name__}")
    return data


class _DtypeSpec:
    """``numpy.dtype(name, align, copy)`` as a NumPy scalar's pickle holds it: the name and (from the
    pickle's BUILD state) the byte order, checked; never a real dtype object that BUILD could change."""
    __slots__ = ("dtype",)

    def __init__(self, name, align=False, copy=False):
        try:
            self.dtype = np.dtype(name) if isinstance(name, str) else None
        except TypeError:
            self.dtype = None
        if self.dtype is None or self.dtype.kind not in "biuf":
            raise _Refused(f"only numeric NumPy dtypes are read, got {name!r}"[:200])

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "=")):
            raise _Refused("a NumPy dtype's state is malformed")
        self.dtype = self.dtype.newbyteorder(state[1])


def _numpy_scalar(spec, data=None):
    """``numpy.core.multiarray.scalar(dtype, bytes)``: a number or bool, nothing else."""
    if not isinstance(spec, _DtypeSpec) or not isinstance(data, bytes) or len(data) != spec.dtype.itemsize:
        raise _Refused("a NumPy scalar must be a number of its dtype's size")
    return np.frombuffer(data, spec.dtype)[0].item()


def _latin1(text, encoding="latin1"):
    """``_codecs.encode(text, 'latin1')``: how protocol 2 pickles bytes."""
    if not isinstance(text, str) or encoding != "latin1":
        raise _Refused("only _codecs.encode(str, 'latin1') is read")
    return text.encode("latin1")


def _ordered_dict(*args):
    if args:
        raise _Refused("collections.OrderedDict is built empty in a checkpoint")
    return collections.OrderedDict()


_ALLOWED = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _DtypeSpec,
    ("_codecs", "encode"): _latin1,
}


class _Restricted(pickle.Unpickler):
    """An unpickler that builds only `_ALLOWED` and the storage types, with storages from `read`."""

    def __init__(self, data: bytes, read_storage):
        super().__init__(io.BytesIO(data))
        self._read_storage, self._storages = read_storage, {}

    def find_class(self, module, name):
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise _Refused(f"it refers to {module}.{name}, which a checkpoint of weights does not hold "
                       f"(only tensors, storages, OrderedDict, numbers and containers are read)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str)):
            raise _Refused(f"a persistent id must be ('storage', type, key, location, size), got {pid!r}"[:200])
        kind, key, numel = pid[1], pid[2], _index(pid[4], "a storage's size")
        if key not in self._storages:
            self._storages[key] = _Storage(self._read_storage(key, kind.dtype, numel), kind.dtype)
        return self._storages[key]


def _unpickle(data: bytes, read_storage):
    try:
        return _Restricted(data, read_storage).load()
    except _Refused:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError, RecursionError, OverflowError) as e:
        raise _Refused(f"its pickle is malformed ({type(e).__name__}: {e})"[:300]) from None


# ---------------------------------------------------------------- the two torch.save formats
def _from_zip(archive: zipfile.ZipFile):
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise _Refused("it is a zip file, but not one that torch.save wrote (no <name>/data.pkl)")
    prefix = pickles[0][:-len("data.pkl")]
    big_endian = False
    if prefix + "byteorder" in names:
        order = archive.read(prefix + "byteorder")
        if order not in (b"little", b"big"):
            raise _Refused(f"its byteorder is {order[:20]!r}, not 'little' or 'big'")
        big_endian = order == b"big"
    info = archive.getinfo(pickles[0])
    if info.file_size > _MAX_PICKLE_BYTES:
        raise _Refused(f"its data.pkl holds {info.file_size} bytes, over the limit of {_MAX_PICKLE_BYTES}")

    def read_storage(key, dtype, numel):
        element = _element_dtype(dtype, big_endian)
        entry = f"{prefix}data/{key}"
        if entry not in names:
            raise _Refused(f"its pickle refers to storage {key!r}, which the archive does not hold")
        expected = numel * element.itemsize
        size = archive.getinfo(entry).file_size
        if size != expected:
            raise _Refused(f"storage {key!r} holds {size} bytes, but its {numel} elements need {expected}")
        return np.frombuffer(archive.read(entry), element)

    return _unpickle(archive.read(pickles[0]), read_storage)


def _is_legacy(data: bytes) -> bool:
    """Whether `data` starts as torch.save's format before PyTorch 1.6 (its first pickle is a magic number)."""
    try:
        return _Restricted(data, _no_storages).load() == _LEGACY_MAGIC
    except Exception:   # noqa: BLE001 — anything else is simply not that format
        return False


def _no_storages(key, dtype, numel):
    raise _Refused("the pickle refers to a storage")


def _read_zip(f):
    try:
        with zipfile.ZipFile(f) as archive:
            return _from_zip(archive)
    except _Refused:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, UnicodeDecodeError, NotImplementedError,
            EOFError, zlib.error, struct.error) as e:
        raise _Refused(f"it is a damaged or truncated zip file ({type(e).__name__}: {e})"[:300]) from None


# ---------------------------------------------------------------- the result
def _select(obj, key: str, path: str):
    """obj[key], where key may be dotted ("model.state_dict") through nested dicts."""
    for part in key.split("."):
        if not isinstance(obj, dict) or part not in obj:
            held = f"it holds {_some_keys(obj)}" if isinstance(obj, dict) else f"it is a {type(obj).__name__}"
            raise LoadError(path, f"key {key!r}: {part!r} is not in the checkpoint ({held})", op=OP)
        obj = obj[part]
    return obj


def _some_keys(mapping: dict, limit: int = 8) -> str:
    keys = [repr(k) for k in list(mapping)[:limit]]
    return ", ".join(keys) + (f" and {len(mapping) - limit} more" if len(mapping) > limit else "")


def _plain(obj):
    """The loaded object with fresh containers: OrderedDicts without torch's `_metadata` attribute."""
    if isinstance(obj, dict):
        return type(obj)((k, _plain(v)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_plain(v) for v in obj)
    return obj


def load_torch(path: str | os.PathLike, key: str | None = None):
    """What ``torch.save`` (or safetensors) wrote, with cnnlab Tensors, without torch and without
    running the file's pickle.

    As ``torch.load(path, weights_only=True)``: a state dict comes back as an ordered dict of
    name -> Tensor, a nested checkpoint (``{"model": state_dict, "optimizer": ..., "epoch": 3}``)
    as nested dicts; `key` picks one entry (dotted for nested dicts: ``"model.encoder"``).

    Args:
        path: a ``.pt``/``.pth`` file of ``torch.save`` (the zip format of PyTorch 1.6 and later) or a
            safetensors file.
        key: the entry of a nested checkpoint to return, e.g. ``"model"`` or ``"state_dict"``.

    Returns:
        The saved object; every tensor a cnnlab `Tensor` (float16/32/64, bfloat16 as float32,
        int8-64, uint8, bool), each a copy with its own memory.

    Raises:
        LoadError (a ValueError): naming the file: not a checkpoint, truncated, a pickle that refers to
            anything but weights (the global named; nothing was run), a tensor outside its storage,
            or a `key` that is not there.
        OSError: the file cannot be read.

    Example:
        >>> model.load_state_dict(cnnlab.io.load_torch("resnet18.pth"))   # doctest: +SKIP
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(0)
        try:
            if head.startswith(b"PK"):
                obj = _read_zip(f)
            elif head[:1] == b"\x80":
                if _is_legacy(f.read(4096)):
                    raise _Refused("it is a torch.save file of PyTorch before 1.6 (the legacy format), which is not "
                                   "read: load it with torch and save it again (torch.save writes zip files since 1.6)")
                raise _Refused("it is a bare pickle, not a torch.save file")
            else:
                tensors, _ = st.load_file(path)
                obj = collections.OrderedDict((name, Tensor(array)) for name, array in tensors.items())
        except _Refused as e:
            raise LoadError(path, str(e), op=OP) from None
        except st.SafetensorsError as e:
            problem = ("it is neither a torch.save file nor a safetensors file" if e.not_safetensors
                       else e.problem)
            raise LoadError(path, problem, op=OP) from None
    try:
        obj = _plain(obj)
    except RecursionError:
        raise LoadError(path, "its containers are nested too deeply for a checkpoint", op=OP) from None
    return obj if key is None else _select(obj, key, path)

