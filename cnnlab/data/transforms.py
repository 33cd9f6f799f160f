"""Image transforms, as ``torchvision.transforms``, on NumPy images, one at a time or a whole batch at once.

Layouts (as torchvision, where a PIL/NumPy image is HWC and a tensor image is CHW):

- integer images (uint8, as read from MNIST or CIFAR files) are channels-last:
  one image ``(H, W)`` or ``(H, W, C)``, a batch ``(N, H, W)`` or ``(N, H, W, C)``;
- float images (what `ToTensor` makes) are channels-first: one image
  ``(C, H, W)`` or ``(H, W)``, a batch ``(N, C, H, W)`` or ``(N, H, W)``.

Every transform here has two entry points with the same semantics:
``t(img)`` for one image (an ndarray, a `cnnlab.Tensor`, or anything with
``__array_interface__`` such as a PIL image), and ``t.apply_batch(images)``
for a stacked ndarray batch, vectorised over it (each image of a batch gets its
own random parameters). `Compose` has ``supports_batch`` True when all its
members do; the datasets and `DataLoader` then transform a whole batch with one
call per transform instead of one Python call per image and transform.

Randomness: random transforms draw from `current_generator()`, which is the
generator that `DataLoader` installs (with `use_generator`) while it makes a
batch, and otherwise ``cnnlab.backend.generator()`` (seeded by
``cnnlab.manual_seed``). So a loader seed reproduces every crop and flip. A
batch draws each parameter for all its images at once, so the per-image and
the batch path give equally distributed but not identical random streams.
"""
from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnlab.autograd import Tensor
from cnnlab.data._image import (  # noqa: F401  (use_generator, current_generator, supports_batch are public here)
    Transform, all_numbers, check_batch, check_fill, current_generator, fill_array, from_nhwc, is_float,
    spatial_axes, supports_batch, to_nhwc, use_generator,
)
from cnnlab.data.affine import RandomAffine, affine, inverse_affine_matrix  # noqa: F401
from cnnlab.messages import counted

__all__ = ["Compose", "ToTensor", "Normalize", "Pad", "RandomCrop", "RandomHorizontalFlip", "RandomAffine",
           "Transform", "affine", "inverse_affine_matrix", "current_generator", "use_generator", "supports_batch"]


class Compose(Transform):
    """Apply transforms one after the other, as ``torchvision.transforms.Compose``.

    Example:
        >>> t = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
    """

    def __init__(self, transforms):
        transforms = list(transforms) if isinstance(transforms, (list, tuple)) else None
        if transforms is None or not all(callable(t) for t in transforms):
            raise TypeError("Compose: transforms must be a list of callables")
        self.transforms = transforms

    @property
    def supports_batch(self) -> bool:
        return all(supports_batch(t) for t in self.transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def apply_batch(self, images):
        if not self.supports_batch:
            raise TypeError(f"Compose: {self.transforms} has a member that can't transform a batch")
        for t in self.transforms:
            images = t.apply_batch(images)
        return images

    def __repr__(self) -> str:
        return "Compose(" + "".join(f"\n    {t}" for t in self.transforms) + "\n)"


class ToTensor(Transform):
    """HWC image -> CHW `Tensor`; uint8 values are scaled to float32 in [0, 1], as ``torchvision ToTensor``.

    Other dtypes keep their values and dtype (torchvision's rule for NumPy input).

    Shape:
        (H, W) -> (1, H, W); (H, W, C) -> (C, H, W); a batch (N, H, W[, C]) -> (N, C, H, W).
    """

    def __call__(self, pic) -> Tensor:
        if isinstance(pic, Tensor):
            raise TypeError("ToTensor: pic should be an ndarray or a PIL Image, got a cnnlab Tensor")
        array = np.asarray(pic)
        if array.ndim not in (2, 3):
            raise ValueError(f"ToTensor: pic should be 2/3 dimensional, got {counted(array.ndim, 'dimension')}")
        return Tensor(self.apply_batch(array[None])[0])

    def apply_batch(self, images):
        if not isinstance(images, np.ndarray) or images.ndim not in (3, 4):
            raise ValueError(f"ToTensor: a batch must be (N, H, W) or (N, H, W, C), got {np.shape(images)}")
        chw = (images[..., None] if images.ndim == 3 else images).transpose(0, 3, 1, 2)  # (N, C, H, W)
        if images.dtype == np.uint8:
            return chw.astype(np.float32, order="C") / np.float32(255)
        return np.ascontiguousarray(chw)


class Normalize(Transform):
    """(x - mean[c]) / std[c] for each channel c of a float image, as ``torchvision.transforms.Normalize``.

    Args:
        mean: per-channel means (or one number for all channels).
        std: per-channel standard deviations, none zero.
        inplace: overwrite the input array. Default: False.

    Shape:
        (C, H, W) -> (C, H, W); a batch (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, mean, std, inplace: bool = False):
        def vector(v, arg):
            a = np.atleast_1d(np.asarray(v, dtype=np.float64)) if all_numbers(v) else None
            if a is None or a.ndim != 1 or a.size == 0:
                raise TypeError(f"Normalize: {arg} must be a number or a sequence of numbers, got {v!r}")
            return a

        self.mean, self.std, self.inplace = mean, std, bool(inplace)
        self._mean, self._std = vector(mean, "mean"), vector(std, "std")
        if self._mean.size != self._std.size and 1 not in (self._mean.size, self._std.size):
            raise ValueError(f"Normalize: mean has {counted(self._mean.size, 'value')} and std {self._std.size}; "
                             "give one per channel (or one for all)")
        if (self._std == 0).any():
            raise ValueError(f"Normalize: std must be non-zero (it divides), got std={std!r}")

    def __call__(self, img):
        array = img.data if isinstance(img, Tensor) else np.asarray(img)
        if array.ndim < 3:
            raise ValueError(f"Normalize: expected a (C, H, W) image, got shape {array.shape}")
        return super().__call__(img)

    def apply_batch(self, images):
        if not isinstance(images, np.ndarray) or not is_float(images):
            got = images.dtype if isinstance(images, np.ndarray) else type(images).__name__
            raise TypeError(f"Normalize: input should be a float image (C, H, W) (apply ToTensor first), got {got}")
        if images.ndim != 4:
            raise ValueError(f"Normalize: a batch must be (N, C, H, W), got shape {images.shape}")
        c, n = images.shape[1], max(self._mean.size, self._std.size)
        if n not in (1, c):
            raise ValueError(f"Normalize: mean/std have {counted(n, 'value')}, but the image has {counted(c, 'channel')}")
        mean = self._mean.astype(images.dtype)[:, None, None]  # (C, 1, 1)
        std = self._std.astype(images.dtype)[:, None, None]
        if (std == 0).any():
            raise ValueError(f"Normalize: std evaluated to zero after conversion to {images.dtype}")
        if self.inplace:
            images -= mean
            images /= std
            return images
        return (images - mean) / std

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


_PAD_MODES = ("constant", "edge", "reflect", "symmetric")


def _parse_padding(padding, name: str) -> tuple[int, int, int, int]:
    """torchvision's padding: int, or (all,), (left/right, top/bottom), (left, top, right, bottom)."""
    if isinstance(padding, bool) or not isinstance(padding, (numbers.Integral, tuple, list)):
        raise TypeError(f"{name}: padding must be an int or a tuple of 1, 2 or 4 ints, got {padding!r}")
    p = [padding] if isinstance(padding, numbers.Integral) else list(padding)
    if len(p) not in (1, 2, 4):
        raise ValueError(f"{name}: padding must be an int or a 1, 2, or 4 element tuple, not a {len(p)} element tuple")
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in p):
        raise TypeError(f"{name}: padding must be an int or a tuple of 1, 2 or 4 ints, got {padding!r}")
    if min(p) < 0:
        raise ValueError(f"{name}: padding must be non-negative, got {padding!r}")
    if len(p) == 1:
        p = p * 4
    elif len(p) == 2:
        p = [p[0], p[1], p[0], p[1]]
    return tuple(int(v) for v in p)  # (left, top, right, bottom)


def _pad(images, ltrb, fill, mode, name):
    left, top, right, bottom = ltrb
    if not any(ltrb):
        return images
    hax, wax = spatial_axes(images)
    widths = [(0, 0)] * images.ndim
    widths[hax], widths[wax] = (top, bottom), (left, right)
    if mode != "constant":
        return np.pad(images, widths, mode=mode)
    values = fill_array(fill, images, name)
    v = to_nhwc(images)
    n, h, w, c = v.shape
    out = np.empty((n, h + top + bottom, w + left + right, c), images.dtype)  # (N, H', W', C)
    out[...] = values
    out[:, top:top + h, left:left + w] = v
    return from_nhwc(out, images)


class Pad(Transform):
    """Pad the borders of an image, as ``torchvision.transforms.Pad``.

    Args:
        padding: int (all borders), (left/right, top/bottom), or (left, top, right, bottom).
        fill: the value of constant padding, a number or one per channel. Default: 0.
        padding_mode: ``'constant'``, ``'edge'`` (repeat the border pixel),
            ``'reflect'`` ([1, 2, 3, 4] padded by 2 -> [3, 2, 1, 2, 3, 4, 3, 2]) or
            ``'symmetric'`` (-> [2, 1, 1, 2, 3, 4, 4, 3]). Default: ``'constant'``.

    Shape:
        H_out = H + top + bottom, W_out = W + left + right.
    """

    def __init__(self, padding, fill=0, padding_mode: str = "constant"):
        self._ltrb = _parse_padding(padding, "Pad")
        self.fill = check_fill(fill, "Pad")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"Pad: padding_mode should be one of {', '.join(_PAD_MODES)}, got {padding_mode!r}")
        self.padding, self.padding_mode = padding, padding_mode

    def apply_batch(self, images):
        return _pad(check_batch(images, "Pad"), self._ltrb, self.fill, self.padding_mode, "Pad")

    def extra_repr(self) -> str:
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode}"


def _size_pair(size, name: str) -> tuple[int, int]:
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (size, size)
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if not (isinstance(size, (tuple, list)) and len(size) == 2
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in size)):
        raise ValueError(f"{name}: size must be an int or a (h, w) pair of ints, got {size!r}")
    if min(size) <= 0:
        raise ValueError(f"{name}: size must be positive, got {tuple(size)}")
    return int(size[0]), int(size[1])


class RandomCrop(Transform):
    """Crop a random (h, w) window, as ``torchvision.transforms.RandomCrop``.

    Args:
        size: output (h, w), or an int for a square crop.
        padding: padding applied first (see `Pad`), e.g. 4 for the CIFAR recipe. Default: None.
        pad_if_needed: pad an image smaller than ``size`` (torchvision's rule: the
            whole shortfall is added on both sides). Default: False.
        fill, padding_mode: as `Pad`.

    Shape:
        (.., H, W) -> (.., h, w); the top-left corner is uniform in [0, H - h] x [0, W - w].
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0, padding_mode: str = "constant"):
        self.size = _size_pair(size, "RandomCrop")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"RandomCrop: padding_mode should be one of {', '.join(_PAD_MODES)}, "
                             f"got {padding_mode!r}")
        if padding is not None:
            _parse_padding(padding, "RandomCrop")
        self._pad = None if padding is None else Pad(padding, fill, padding_mode)
        self.padding, self.pad_if_needed = padding, bool(pad_if_needed)
        self.fill, self.padding_mode = check_fill(fill, "RandomCrop"), padding_mode

    def apply_batch(self, images):
        images = check_batch(images, "RandomCrop")
        if self._pad is not None:
            images = self._pad.apply_batch(images)
        th, tw = self.size
        hax, wax = spatial_axes(images)
        if self.pad_if_needed:
            dw, dh = max(tw - images.shape[wax], 0), max(th - images.shape[hax], 0)
            images = _pad(images, (dw, dh, dw, dh), self.fill, self.padding_mode, "RandomCrop")
        h, w = images.shape[hax], images.shape[wax]
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the input image size {(h, w)}")
        if (h, w) == (th, tw):
            return images
        n, rng = len(images), current_generator()
        top = rng.integers(0, h - th + 1, size=n)
        left = rng.integers(0, w - tw + 1, size=n)
        windows = sliding_window_view(images, (th, tw), axis=(hax, wax))  # (N, .., H-th+1, W-tw+1, .., th, tw)
        if hax == 1:  # channels-last integers: (N, H', W', [C,] th, tw)
            out = windows[np.arange(n), top, left]  # (N, [C,] th, tw)
            return np.moveaxis(out, 1, -1) if images.ndim == 4 else out  # (N, th, tw, C)
        return windows[np.arange(n), :, top, left]  # float (N, C, H', W', th, tw) -> (N, C, th, tw)

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self.padding}"


class RandomHorizontalFlip(Transform):
    """Mirror the image left-right with probability p, as ``torchvision.transforms.RandomHorizontalFlip``."""

    def __init__(self, p: float = 0.5):
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must be a probability in [0, 1], got {p!r}")
        self.p = p

    def apply_batch(self, images):
        images = check_batch(images, "RandomHorizontalFlip")
        flip = current_generator().random(len(images)) < self.p  # (N,)
        wax = spatial_axes(images)[1]
        return np.where(flip.reshape((-1,) + (1,) * (images.ndim - 1)), np.flip(images, wax), images)

    def extra_repr(self) -> str:
        return f"p={self.p}"
