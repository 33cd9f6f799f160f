"""The machinery under `cnnlab.data.transforms`: image layouts, the `Transform` base, the generator in use.

Layouts: integer images are channels-last ((H, W) / (H, W, C), batches with N
first); float images are channels-first ((C, H, W) / (H, W), batches with N
first). See `cnnlab.data.transforms` for the whole story.
"""
from __future__ import annotations

import contextlib
import numbers
import threading

import numpy as np

from cnnlab import backend
from cnnlab.autograd import Tensor
from cnnlab.messages import counted

_local = threading.local()


@contextlib.contextmanager
def use_generator(generator: np.random.Generator):
    """Make random transforms in this thread draw from ``generator`` inside the ``with`` block."""
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"use_generator: generator must be a numpy.random.Generator, got {type(generator).__name__}")
    previous = getattr(_local, "generator", None)
    _local.generator = generator
    try:
        yield generator
    finally:
        _local.generator = previous


def current_generator() -> np.random.Generator:
    """The generator random transforms draw from now (see the module docstring)."""
    g = getattr(_local, "generator", None)
    return g if g is not None else backend.generator()


def supports_batch(transform) -> bool:
    """True when ``transform`` is None or can transform a stacked batch with ``apply_batch``."""
    return transform is None or bool(getattr(transform, "supports_batch", False))


# ------------------------------------------------------------------ helpers
def is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


def spatial_axes(images: np.ndarray) -> tuple[int, int]:
    """(H axis, W axis) of a batch: (1, 2) channels-last for integers, the last two for floats."""
    return (images.ndim - 2, images.ndim - 1) if is_float(images) else (1, 2)


def check_batch(images, name: str) -> np.ndarray:
    if not isinstance(images, np.ndarray):
        raise TypeError(f"{name}: apply_batch takes an ndarray batch, got {type(images).__name__}")
    if images.ndim not in (3, 4) or images.dtype.kind not in "biuf":
        raise ValueError(f"{name}: a batch must be (N, H, W) or (N, H, W, C) integer / (N, C, H, W) float "
                         f"numbers, got shape {images.shape} and dtype {images.dtype}")
    return images


def _channels(images: np.ndarray) -> int:
    if images.ndim == 3:
        return 1
    return images.shape[1] if is_float(images) else images.shape[3]


def to_nhwc(images: np.ndarray) -> np.ndarray:
    """A (N, H, W, C) view of any batch layout."""
    if images.ndim == 3:
        return images[..., None]
    return images.transpose(0, 2, 3, 1) if is_float(images) else images


def from_nhwc(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Back from (N, H, W, C) to the layout of ``like``."""
    if like.ndim == 3:
        return out[..., 0]
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2)) if is_float(like) else out


def fill_array(fill, images: np.ndarray, name: str) -> np.ndarray:
    """``fill`` (a number or one value per channel) as a (C,) or (1,) array of the image dtype."""
    values = np.atleast_1d(np.asarray(fill, dtype=np.float64))
    c = _channels(images)
    if values.size not in (1, c):
        raise ValueError(f"{name}: fill has {counted(values.size, 'value')}, but the image has {counted(c, 'channel')}")
    if images.dtype.kind in "biu":
        info = np.iinfo(images.dtype)
        if values.min() < info.min or values.max() > info.max:
            raise ValueError(f"{name}: fill={fill!r} does not fit the image dtype {images.dtype}")
    return values.astype(images.dtype)


def check_fill(fill, name: str):
    ok = isinstance(fill, numbers.Real) or (
        isinstance(fill, (tuple, list)) and len(fill) > 0 and all(isinstance(v, numbers.Real) for v in fill))
    if not ok or isinstance(fill, bool):
        raise TypeError(f"{name}: fill must be a number or a tuple of numbers (one per channel), got {fill!r}")
    return tuple(fill) if isinstance(fill, list) else fill


class Transform:
    """Base class: subclasses write ``apply_batch(images) -> images``; calling on one image reuses it."""

    supports_batch = True

    def apply_batch(self, images: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, img):
        name = type(self).__name__
        wrap = isinstance(img, Tensor)
        array = img.data if wrap else np.asarray(img)
        if array.ndim not in (2, 3):
            raise ValueError(f"{name}: an image must be (H, W), (H, W, C) integer or (C, H, W) float, "
                             f"got shape {array.shape}")
        out = self.apply_batch(array[None])[0]
        return Tensor(out) if wrap else out

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def all_numbers(v) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, numbers.Real):
        return True
    return isinstance(v, (tuple, list, np.ndarray)) and all(isinstance(x, numbers.Real) and not isinstance(x, bool)
                                                             for x in np.asarray(v).ravel().tolist())
