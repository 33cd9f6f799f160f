"""Small helpers of the layers: the dtype of new parameters, type names for messages, repr indentation,
hook handles, and load_state_dict's result. (Argument checks are `cnnlab.shapes`'s, shared with the ops.)"""
from __future__ import annotations

import itertools
from collections import namedtuple

import numpy as np

from cnnlab import backend
from cnnlab.messages import counted


def float_dtype(dtype, layer: str) -> np.dtype:
    """A floating dtype for new parameters: `dtype`, or the default (float32) when None."""
    if dtype is None:
        return backend.get_default_dtype()
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise TypeError(f"{layer}: dtype must be a floating point dtype such as cnnlab.float32, "
                        f"got {repr(dtype) if dt is None else dt}")
    return dt


def spatial_input(input_shape, D: int, layer: str, channels: int | None = None):
    """(head, spatial) of a layer's input shape (N, C, *spatial) or (C, *spatial) with D spatial dims:
    head is (N, C) or (C,). Checks the rank and, when `channels` is given, C."""
    shape = tuple(input_shape)
    if len(shape) not in (D + 1, D + 2):
        raise ValueError(f"{layer}: expected an input shape of {D + 1} dims (C, *spatial) or {D + 2} dims "
                         f"(N, C, *spatial), got {shape}")
    if channels is not None and shape[-D - 1] != channels:
        raise ValueError(f"{layer}: input shape {shape} has {counted(shape[-D - 1], 'channel')}, but the layer "
                         f"expects {channels}")
    return shape[:-D], shape[-D:]


def typename(value) -> str:
    """``int``, ``numpy.ndarray``, ``cnnlab.autograd.Tensor``: the type of `value` for messages."""
    t = type(value)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def addindent(s: str, num_spaces: int) -> str:
    """Indent every line but the first (PyTorch's helper for nested reprs)."""
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join((num_spaces * " ") + line if line.strip() else "" for line in lines[1:])


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What `load_state_dict` returns: ``(missing_keys, unexpected_keys)``."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by ``register_forward_hook`` and friends; ``handle.remove()`` unregisters the hook.

    Also a context manager: the hook is removed when the ``with`` block ends.
    """

    _next_id = itertools.count()

    def __init__(self, hooks: dict):
        self.hooks = hooks
        self.id = next(RemovableHandle._next_id)

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False
