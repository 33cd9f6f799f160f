"""Weights written for PyTorch, without torch: `save_torch` (``torch.save``'s zip format) and
`save_torch_compatible` (safetensors with PyTorch's names and dtypes).

`save_torch` writes the archive that ``torch.load`` reads (``weights_only=True`` included):
``<name>/data.pkl``, each tensor's storage as ``<name>/data/<i>``, ``<name>/byteorder``
(``little``) and ``<name>/version``. Its pickle is written opcode by opcode (protocol 2, the one
torch.save uses), so that no torch object is needed to write it: each tensor is a call of
``torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())`` on a persistent
id ``('storage', torch.<Type>Storage, key, 'cpu', numel)``, every storage contiguous and owned by
one tensor. Containers are dicts (OrderedDicts stay OrderedDicts), lists and tuples; leaves are
str, int, float, bool and None.
"""
from __future__ import annotations

import collections
import io
import os
import struct
import zipfile

import numpy as np

from cnnlab.autograd import Tensor
from cnnlab.io import safetensors as st
from cnnlab.io.files import atomic_write_bytes
from cnnlab.io.torch_load import STORAGE_DTYPES

#: NumPy dtype -> torch's storage type name (bfloat16 has no NumPy dtype: it is never written).
_STORAGE_NAMES = {np.dtype(dt): name for name, dt in STORAGE_DTYPES.items() if dt != "bfloat16"}


class _PickleWriter:
    """The opcodes of pickle protocol 2 that a state dict needs, written one by one."""

    def __init__(self, op: str):
        self.op, self.out, self.storages = op, io.BytesIO(), []
        self.out.write(b"\x80\x02")                                        # PROTO 2

    def _global(self, module: str, name: str):
        self.out.write(b"c" + f"{module}\n{name}\n".encode())               # GLOBAL

    def _text(self, text: str):
        data = text.encode("utf-8")
        self.out.write(b"X" + struct.pack("<I", len(data)) + data)          # BINUNICODE

    def _int(self, value: int):
        if -2**31 <= value < 2**31:
            self.out.write(b"J" + struct.pack("<i", value))                 # BININT
        else:
            data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
            self.out.write(b"\x8a" + bytes([len(data)]) + data)             # LONG1

    def _items(self, items, close: bytes):
        self.out.write(b"(")                                                 # MARK
        for item in items:
            self.value(item)
        self.out.write(close)

    def value(self, obj, where: str = "obj"):
        if obj is None:
            self.out.write(b"N")
        elif obj is True or obj is False:
            self.out.write(b"\x88" if obj else b"\x89")
        elif isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
            self._int(int(obj))
        elif isinstance(obj, (float, np.floating)):
            self.out.write(b"G" + struct.pack(">d", float(obj)))            # BINFLOAT
        elif isinstance(obj, str):
            self._text(obj)
        elif isinstance(obj, (Tensor, np.ndarray)):
            self._tensor(obj.data if isinstance(obj, Tensor) else obj, where)
        elif isinstance(obj, dict):
            if isinstance(obj, collections.OrderedDict):
                self._global("collections", "OrderedDict")
                self.out.write(b")R")                                        # EMPTY_TUPLE, REDUCE
            else:
                self.out.write(b"}")                                         # EMPTY_DICT
            if obj:
                self.out.write(b"(")
                for k, v in obj.items():
                    if not isinstance(k, (str, int)) or isinstance(k, bool):
                        raise TypeError(f"{self.op}: {where} has a key {k!r}; keys must be str or int")
                    self.value(k)
                    self.value(v, f"{where}[{k!r}]")
                self.out.write(b"u")                                         # SETITEMS
        elif isinstance(obj, list):
            self.out.write(b"]")                                             # EMPTY_LIST
            if obj:
                self.out.write(b"(")
                for i, v in enumerate(obj):
                    self.value(v, f"{where}[{i}]")
                self.out.write(b"e")                                         # APPENDS
        elif isinstance(obj, tuple):
            self.out.write(b"(")
            for i, v in enumerate(obj):
                self.value(v, f"{where}[{i}]")
            self.out.write(b"t")                                             # TUPLE
        else:
            raise TypeError(f"{self.op}: {where} has type {type(obj).__name__}; supported: Tensor, numpy.ndarray, "
                            "int, float, bool, None and str, inside dict, list and tuple")

    def _tensor(self, array: np.ndarray, where: str):
        if array.dtype not in _STORAGE_NAMES:
            raise TypeError(f"{self.op}: {where} has dtype {array.dtype}, which torch has no storage for")
        key = str(len(self.storages))
        data = np.require(array, array.dtype.newbyteorder("<"), "C")      # little-endian, C order, 0-d kept
        self.storages.append((key, data.tobytes()))
        item = array.itemsize
        self._global("torch._utils", "_rebuild_tensor_v2")
        self.out.write(b"(")                                                 # the call's arguments
        self.out.write(b"(")                                                 # the persistent id
        self._text("storage")
        self._global("torch", _STORAGE_NAMES[array.dtype])
        self._text(key)
        self._text("cpu")
        self._int(array.size)
        self.out.write(b"tQ")                                                # TUPLE, BINPERSID
        self._int(0)                                                         # storage offset
        self._items(array.shape, b"t")                                       # size
        self._items(tuple(s // item for s in data.strides), b"t")            # stride, in elements
        self.out.write(b"\x89")                                              # requires_grad False
        self._global("collections", "OrderedDict")
        self.out.write(b")R")                                                # backward hooks: OrderedDict()
        self.out.write(b"tR")                                                # TUPLE, REDUCE

    def finish(self) -> bytes:
        return self.out.getvalue() + b"."                                    # STOP


def save_torch(obj, path: str | os.PathLike) -> None:
    """Write `obj` (a state dict, or a nested checkpoint of dicts, lists, tuples and numbers) in
    ``torch.save``'s zip format, without torch; ``torch.load(path)`` gives it back with torch tensors.

    Args:
        obj: a mapping of name -> Tensor (e.g. ``model.state_dict()``), or nested dicts, lists and tuples
            of Tensors, NumPy arrays, str, int, float, bool and None.
        path: the file to write (``.pt``/``.pth``), atomically.

    Raises:
        TypeError: a value of another type, a key that is not str or int, or a dtype torch has no
            storage for; nothing is written then.

    Example:
        >>> cnnlab.io.save_torch(model.state_dict(), "model.pt")   # doctest: +SKIP
        >>> torch_model.load_state_dict(torch.load("model.pt"))     # doctest: +SKIP
    """
    path = os.fspath(path)
    writer = _PickleWriter("cnnlab.io.save_torch")
    writer.value(obj)
    name = os.path.splitext(os.path.basename(path))[0] or "archive"
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{name}/data.pkl", writer.finish())
        archive.writestr(f"{name}/byteorder", "little")
        for key, data in writer.storages:
            archive.writestr(f"{name}/data/{key}", data)
        archive.writestr(f"{name}/version", "3\n")
    atomic_write_bytes(path, buffer.getvalue())


def save_torch_compatible(model_or_state_dict, path: str | os.PathLike) -> None:
    """Write a model's weights as a safetensors file that PyTorch loads into the twin model.

    The keys are the state dict's, which are PyTorch's names (``features.0.weight``,
    ``bn1.running_mean``, ``bn1.num_batches_tracked``), with their dtypes (float32 weights, int64
    counters), so that ``torch_model.load_state_dict(safetensors.torch.load_file(path))`` takes it
    strictly. Written atomically.

    Args:
        model_or_state_dict: a cnnlab Module, or a mapping of name -> Tensor or NumPy array.
        path: the safetensors file to write.

    Raises:
        TypeError: `model_or_state_dict` is neither, or a value is not a tensor.
        ValueError: a tensor's dtype has no safetensors name.
    """
    op = "cnnlab.io.save_torch_compatible"
    state = model_or_state_dict.state_dict() if hasattr(model_or_state_dict, "state_dict") else model_or_state_dict
    if not isinstance(state, dict):
        raise TypeError(f"{op}: model_or_state_dict must be a Module or a dict of tensors, "
                        f"got {type(model_or_state_dict).__name__}")
    arrays = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise TypeError(f"{op}: state dict keys must be str, got {name!r}")
        if isinstance(value, Tensor):
            value = value.data
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{op}: {name!r} must be a Tensor or a NumPy array, got {type(value).__name__}")
        arrays[name] = np.require(value, requirements="C")                # C order, 0-d kept
    st.save_file(arrays, path)
