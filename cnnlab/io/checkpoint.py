"""``cnnlab.save`` / ``cnnlab.load``: checkpoints as safetensors files.

Mirrors ``torch.save`` / ``torch.load`` for what checkpoints hold: state dicts
and nested dicts, lists and tuples of tensors, arrays, numbers and strings.
The file is always a plain safetensors file (written atomically, read without
pickle), so ``safetensors.numpy.load_file`` and ``safetensors.torch.load_file``
read the arrays too.

Layout:
    Every array leaf (``Tensor``, ``Parameter``, ``np.ndarray``, NumPy scalar)
    is one safetensors tensor. Its name is its path with the keys and list
    indices joined by dots, as in PyTorch state dicts: ``{"model": {"fc.weight":
    w}, "optimizer": {"state": {0: {"momentum_buffer": m}}}}`` stores
    ``"model.fc.weight"`` and ``"optimizer.state.0.momentum_buffer"``; a
    state dict saved as it is keeps its keys. A leaf saved as the whole
    object is named ``"root"``.

    Dotted names are for people and other tools; the structure is never
    parsed back out of them (keys may contain dots, and ``{0: x}`` and
    ``{"0": x}`` give the same name). If two paths give the same name, the
    later leaf gets the first free name ``"<name>~1"``, ``"<name>~2"``, ...,
    so names never collide. The structure lives in ``__metadata__``::

        "cnnlab.format": "1"
        "cnnlab.tree":   JSON text of the root node

    where a node is one of:

        null, true, false, 3, 0.5, "text"    the value itself (a float is
                                             always written with "." or "e")
        {"float": "nan" | "inf" | "-inf"}    a non-finite float
        {"tensor": name}                     a Tensor (loads requires_grad=False)
        {"ndarray": name}                    an np.ndarray
        {"scalar": name}                     a NumPy scalar (np.float32(1) ...)
        {"list": [node, ...]}
        {"tuple": [node, ...]}
        {"dict": [[key, node], ...]}         key: a JSON string or int, so
                                             optimizer states keep int keys

    A safetensors file without ``cnnlab.tree`` (written by another tool)
    loads as a flat ``dict[str, Tensor]`` in file order.

Example:
    >>> import cnnlab                                         # doctest: +SKIP
    >>> cnnlab.save({"model": net.state_dict(), "epoch": 3}, "ckpt.safetensors")
    >>> ckpt = cnnlab.load("ckpt.safetensors")
    >>> net.load_state_dict(ckpt["model"])
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from cnnlab.autograd import Tensor
from cnnlab.io import safetensors as st
from cnnlab.io.files import atomic_write_bytes

__all__ = ["save", "load", "LoadError"]


class LoadError(ValueError):
    """A file that `load` can't take, with what is wrong apart from the file's name.

    Attributes:
        path: the file.
        problem: what is wrong, without the file name.
        not_safetensors: True when the file is not a safetensors file at all.

    `op` names the function in the message (``cnnlab.load``, ``cnnlab.io.load_torch``).
    """

    def __init__(self, path: str, problem: str, *, not_safetensors: bool = False, op: str = "cnnlab.load"):
        where = f"{path} is not a safetensors file" if not_safetensors else f"{path}"
        super().__init__(f"{op}: {where}: {problem}")
        self.path, self.problem, self.not_safetensors = path, problem, not_safetensors

FORMAT_KEY, FORMAT_VERSION, TREE_KEY = "cnnlab.format", "1", "cnnlab.tree"
_SUPPORTED = ("Tensor, numpy.ndarray, NumPy scalars, int, float, bool, None and str, "
              "inside dict, list and tuple")


def _where(keys: list) -> str:
    """A readable path for messages: ``obj['optimizer']['state'][0]``."""
    return "obj" + "".join(f"[{key!r}]" for key in keys)


class _Packer:
    """Walks an object once: builds the tree and collects the array leaves."""

    def __init__(self, path: str):
        self.path = path
        self.leaves: list[tuple[str, np.ndarray, dict]] = []  # (base name, array, node)
        self.open: set[int] = set()  # ids of containers being walked (cycle check)

    def leaf(self, kind: str, array: np.ndarray, keys: list) -> dict:
        if st.dtype_name(array.dtype) is None:
            raise TypeError(f"cnnlab.save: {self.path}: {_where(keys)} has dtype {array.dtype}, "
                            f"which safetensors cannot store")
        node = {kind: None}  # the name is filled in by names() once all are known
        self.leaves.append((".".join(str(k) for k in keys) or "root", array, node))
        return node

    def pack(self, value: object, keys: list) -> object:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, Tensor):
            return self.leaf("tensor", np.asarray(value.data), keys)
        if isinstance(value, np.ndarray):
            return self.leaf("ndarray", value, keys)
        if isinstance(value, np.generic):
            return self.leaf("scalar", np.asarray(value), keys)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else {"float": repr(float(value))}
        if isinstance(value, (dict, list, tuple)):
            if id(value) in self.open:
                raise ValueError(f"cnnlab.save: {self.path}: {_where(keys)} contains itself")
            self.open.add(id(value))
            node = self.container(value, keys)
            self.open.discard(id(value))
            return node
        raise TypeError(f"cnnlab.save: {self.path}: {_where(keys)} has type "
                        f"{type(value).__module__}.{type(value).__qualname__}; "
                        f"supported: {_SUPPORTED}")

    def container(self, value: dict | list | tuple, keys: list) -> dict:
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                if isinstance(key, np.integer):
                    key = int(key)
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise TypeError(f"cnnlab.save: {self.path}: {_where(keys)} has a key {key!r} "
                                    f"of type {type(key).__name__}; keys must be str or int")
                items.append([key, self.pack(item, keys + [key])])
            return {"dict": items}
        kind = "tuple" if isinstance(value, tuple) else "list"
        return {kind: [self.pack(item, keys + [i]) for i, item in enumerate(value)]}

    def names(self) -> dict[str, np.ndarray]:
        """Give every leaf a unique tensor name; return name -> array."""
        bases, tensors = {base for base, _, _ in self.leaves}, {}
        for base, array, node in self.leaves:
            name, k = base, 0
            while name in tensors or (k and name in bases):
                k += 1
                name = f"{base}~{k}"
            node[next(iter(node))] = name
            tensors[name] = array
        return tensors


def save(obj: object, path: str | os.PathLike) -> None:
    """Save a state dict or a nested checkpoint to a safetensors file.

    Mirrors ``torch.save(obj, path)``, without pickle. Everything is encoded
    in memory first, then written atomically: on any error, ``path`` keeps
    its old contents (or stays absent) and no temporary file is left.

    Args:
        obj: A ``Tensor``/``Parameter``, ``np.ndarray``, NumPy scalar, int,
            float (inf and nan included), bool, None, str, or a dict (str or
            int keys), list or tuple of these, nested (to Python's recursion
            limit, a few hundred levels). Dict
            subclasses come back as dict, tuple subclasses as tuple.
        path: The file to write, conventionally ``*.safetensors``.

    Raises:
        TypeError: A leaf has an unsupported type or dtype, or a dict key is
            not a str or int; the message names the path inside ``obj``.
        ValueError: ``obj`` contains itself or is nested too deeply.
        OSError: The file cannot be written.
    """
    path = os.fspath(path)
    packer = _Packer(path)
    try:
        tree = packer.pack(obj, [])
    except RecursionError:
        raise ValueError(f"cnnlab.save: {path}: the object is nested too deeply") from None
    tensors = packer.names()
    metadata = {FORMAT_KEY: FORMAT_VERSION, TREE_KEY: json.dumps(tree, allow_nan=False)}
    atomic_write_bytes(path, st.encode(tensors, metadata))


class _Unpacker:
    """Rebuilds the object from the tree, checking every node."""

    def __init__(self, path: str, tensors: dict[str, np.ndarray]):
        self.path, self.tensors = path, tensors

    def fail(self, problem: str) -> LoadError:
        return LoadError(self.path, f"bad {TREE_KEY}: {problem}")

    def parse(self, text: str) -> object:
        """The tree's JSON, strictly (no NaN/Infinity constants)."""
        def reject(constant: str) -> None:
            raise self.fail(f"{constant} is not valid JSON")
        try:
            return json.loads(text, parse_constant=reject)
        except RecursionError:
            raise self.fail("nested too deeply") from None
        except json.JSONDecodeError as e:
            raise self.fail(f"not valid JSON: {e}") from None

    @staticmethod
    def make_tensor(array: np.ndarray) -> Tensor:
        return Tensor(array, requires_grad=False)

    def array(self, name: object) -> np.ndarray:
        if not isinstance(name, str) or name not in self.tensors:
            raise self.fail(f"a node refers to tensor {st.short_repr(name)}, which is not in the file")
        return self.tensors[name]

    def unpack(self, node: object) -> object:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, dict) and len(node) == 1:
            (kind, body), = node.items()
            if kind == "tensor":
                return self.make_tensor(self.array(body))
            if kind == "ndarray":
                return self.array(body)
            if kind == "scalar" and self.array(body).ndim == 0:
                return self.array(body)[()]
            if kind == "float" and body in ("nan", "inf", "-inf"):
                return float(body)
            if kind in ("list", "tuple") and isinstance(body, list):
                items = [self.unpack(item) for item in body]
                return items if kind == "list" else tuple(items)
            if kind == "dict" and isinstance(body, list):
                return {self.key(pair): self.unpack(pair[1]) for pair in body}
        raise self.fail(f"unexpected node {st.short_repr(node)}")

    def key(self, pair: object) -> str | int:
        if (not isinstance(pair, list) or len(pair) != 2 or isinstance(pair[0], bool)
                or not isinstance(pair[0], (str, int))):
            raise self.fail(f"a dict entry must be [str or int key, node], got {st.short_repr(pair)}")
        return pair[0]


def load(path: str | os.PathLike) -> object:
    """Load what :func:`save` wrote, or any safetensors file.

    Mirrors ``torch.load(path)``, but never unpickles: the file is parsed and
    validated as data. Tensors come back with ``requires_grad=False``.

    Args:
        path: A safetensors file.

    Returns:
        The saved object, rebuilt with the same types (see the module
        docstring). A file without cnnlab metadata gives a flat
        ``dict[str, Tensor]``.

    Raises:
        LoadError (a ValueError): Naming the file: it is not a safetensors file, is
            truncated or malformed, or its cnnlab metadata is malformed or
            refers to tensors that are not in the file.
        OSError: The file cannot be read.
    """
    path = os.fspath(path)
    try:
        tensors, metadata = st.load_file(path)
    except st.SafetensorsError as e:
        raise LoadError(path, e.problem, not_safetensors=e.not_safetensors) from None
    unpacker = _Unpacker(path, tensors)
    if TREE_KEY not in metadata:  # a plain safetensors file: a flat state dict
        return {name: unpacker.make_tensor(array) for name, array in tensors.items()}
    if metadata.get(FORMAT_KEY) != FORMAT_VERSION:
        raise LoadError(path, f"{FORMAT_KEY} is {st.short_repr(metadata.get(FORMAT_KEY))}; this version reads "
                              f"{FORMAT_VERSION!r}")
    tree = unpacker.parse(metadata[TREE_KEY])
    try:
        return unpacker.unpack(tree)
    except RecursionError:
        raise unpacker.fail("nested too deeply") from None
