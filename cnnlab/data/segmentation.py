"""MNIST canvases for semantic segmentation: 1-3 digits on a black 64×64 canvas, a class for every pixel.

Canvas i of a split is made from its own generator, ``numpy.random.default_rng([seed, split, i])``
(split 0 for train, 1 for test), so it depends only on (seed, split, i): the first n canvases
are the same whatever the size asked for, and nothing is downloaded or stored.

    k ~ uniform{1, ..., max_digits}                      digits on the canvas
    for each digit: an MNIST image of the split, drawn uniformly, cropped to the box of its
        non-zero pixels; placed at a uniform random position where its box, grown by one pixel,
        overlaps no box placed before (up to 100 tries; a digit that finds no place is left out,
        so some canvases hold fewer than k digits; the first always fits)
    label of a pixel: 0 (background), or 1 + d for a pixel of digit d brighter than ``threshold``

Training canvases take the 60,000 training digits and test canvases the 10,000 test digits, so
no test digit is seen in training. The boxes never overlap, so every label is unambiguous.
"""
from __future__ import annotations

import numbers

import numpy as np

from cnnlab.data.dataset import Dataset, transformed_batch
from cnnlab.data.datasets import MNIST

__all__ = ["MNISTSegmentation"]

_TRIES = 100  # placements tried for one digit before it is left out


def _box(image: np.ndarray) -> np.ndarray:
    """The digit cropped to the rows and columns that hold a non-zero pixel."""
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    return image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _check(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low or \
            (high is not None and value > high):
        rule = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"MNISTSegmentation: {name} must be an int {rule}, got {value!r}")
    return int(value)


class MNISTSegmentation(Dataset):
    """Canvases of MNIST digits with a label per pixel; samples are (uint8 (S, S) canvas, int64 (S, S) mask).

    Args:
        root: the MNIST folder, as `cnnlab.data.MNIST`; None: the copy bundled with cnnlab.
        train: canvases of the training digits, or of the test digits. Default: True.
        size: the number of canvases; None: 10,000 for train, 2,000 for test. Default: None.
        seed: the seed of every canvas (see the module docstring). Default: 0.
        canvas_size: the side S of the square canvas, at least 28. Default: 64.
        max_digits: the most digits on a canvas, 1 to 3. Default: 3.
        threshold: a digit's pixels brighter than this (of 255) get its label. Default: 127.
        transform: applied to each canvas, e.g. ``Compose([ToTensor(), Normalize(MEAN, STD)])``.
        target_transform: applied to each mask.

    Attributes:
        data: uint8 (N, S, S) canvases; masks: uint8 (N, S, S) labels in 0..10;
        digits: per canvas, a tuple (index in MNIST's split, digit, top, left, height, width) for each digit
            placed (its box on the canvas);
        classes: the 11 class names (background first); MEAN, STD: the statistics of the
        default training canvases (seed 0), for `Normalize`.

    Example:
        >>> ds = MNISTSegmentation(train=False, size=100)
        >>> canvas, mask = ds[0]            # (64, 64) uint8 and int64; mask 0 background, 1 + d on digit d
    """

    classes = ["background"] + [f"digit {d}" for d in range(10)]
    SIZES = {True: 10000, False: 2000}
    MEAN, STD = (0.0503,), (0.2015,)

    def __init__(self, root=None, train: bool = True, size: int | None = None, seed: int = 0,
                 canvas_size: int = 64, max_digits: int = 3, threshold: int = 127, transform=None,
                 target_transform=None):
        self.train = bool(train)
        size = self.SIZES[self.train] if size is None else _check("size", size, 1)
        self.seed = _check("seed", seed, 0)
        self.canvas_size = _check("canvas_size", canvas_size, 28)
        self.max_digits = _check("max_digits", max_digits, 1, 3)
        self.threshold = _check("threshold", threshold, 0, 254)
        for name, t in (("transform", transform), ("target_transform", target_transform)):
            if t is not None and not callable(t):
                raise TypeError(f"MNISTSegmentation: {name} must be callable, got {type(t).__name__}")
        self.transform, self.target_transform = transform, target_transform
        source = MNIST(root, train=self.train)
        self.data, self.masks, self.digits = self._generate(source.data, source.targets, size)

    def _generate(self, images, labels, n):
        s = self.canvas_size
        canvases, masks = np.zeros((n, s, s), np.uint8), np.zeros((n, s, s), np.uint8)
        digits = []
        for i in range(n):
            rng = np.random.default_rng([self.seed, 0 if self.train else 1, i])
            placed = []
            for _ in range(int(rng.integers(1, self.max_digits + 1))):
                j = int(rng.integers(len(images)))
                box = _box(images[j])
                h, w = box.shape
                for _ in range(_TRIES):
                    top, left = int(rng.integers(s - h + 1)), int(rng.integers(s - w + 1))
                    if all(top > t + hh or t > top + h or left > l + ww or l > left + w
                           for _, _, t, l, hh, ww in placed):   # the boxes, one pixel apart at least
                        break
                else:
                    continue
                canvases[i, top:top + h, left:left + w] = box
                masks[i, top:top + h, left:left + w][box > self.threshold] = 1 + int(labels[j])
                placed.append((j, int(labels[j]), top, left, h, w))
            digits.append(placed)
        return canvases, masks, digits

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        canvas, mask = np.array(self.data[index]), self.masks[index].astype(np.int64)
        if self.transform is not None:
            canvas = self.transform(canvas)
        if self.target_transform is not None:
            mask = self.target_transform(mask)
        return canvas, mask

    def get_batch(self, indices):
        """The canvases and masks at ``indices`` (masks as int64), each transform applied to the whole batch;
        None when a transform can't take a batch (the loader then goes sample by sample)."""
        return transformed_batch(self.data, self.masks, indices, self.transform, self.target_transform)

    def __repr__(self) -> str:
        return (f"Dataset MNISTSegmentation\n    Number of datapoints: {len(self)}\n"
                f"    Split: {'Train' if self.train else 'Test'}\n    Seed: {self.seed}\n"
                f"    Canvas: {self.canvas_size}×{self.canvas_size}, 1-{self.max_digits} digits, "
                f"threshold {self.threshold}")
