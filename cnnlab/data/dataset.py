"""Datasets as ``torch.utils.data``: `Dataset`, `TensorDataset`, `Subset`, `random_split`.

A map-style dataset answers ``len(ds)`` and ``ds[i]`` (one sample, e.g. an
``(image, label)`` pair). A dataset that holds its samples in arrays may also
answer ``ds.get_batch(indices)``: the whole batch at once, already stacked (a
list of arrays, one per field), or None when it can't (e.g. its transform works
on single images only). `DataLoader` uses it when it is there: one fancy index
and one vectorised transform per batch instead of one Python call per sample.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from cnnlab import backend
from cnnlab.autograd import Tensor
from cnnlab.data.transforms import supports_batch

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "ImageArrayDataset", "transformed_batch"]


class Dataset:
    """Abstract map-style dataset, as ``torch.utils.data.Dataset``: subclasses define __getitem__ and __len__."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: a Dataset subclass must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__}: a Dataset subclass must define __len__")


def _raw(t):
    return t.data if isinstance(t, Tensor) else t


class TensorDataset(Dataset):
    """Samples are the i-th rows of equally long tensors, as ``torch.utils.data.TensorDataset``.

    Args:
        *tensors: cnnlab Tensors or NumPy arrays with the same first dim (the number of samples).

    Example:
        >>> ds = TensorDataset(cnnlab.randn(100, 3), cnnlab.arange(100))
        >>> x, y = ds[0]          # a (3,) Tensor and a 0-d int64 Tensor
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        arrays = []
        for k, t in enumerate(tensors):
            a = _raw(t)
            if not isinstance(a, np.ndarray) or a.ndim == 0:
                raise TypeError(f"TensorDataset: tensor {k} must be a Tensor or ndarray with at least one dim, "
                                f"got {type(t).__name__} of shape {getattr(a, 'shape', None)}")
            arrays.append(a)
        sizes = tuple(len(a) for a in arrays)
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: every tensor needs the same first dim "
                             f"(the number of samples), got {sizes}")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        self._arrays = arrays

    def __getitem__(self, index):
        return tuple(Tensor(a[index]) for a in self._arrays)

    def __len__(self) -> int:
        return len(self._arrays[0])

    def get_batch(self, indices):
        """The rows ``indices`` of every tensor, as a list of arrays."""
        return [a[indices] for a in self._arrays]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, as ``torch.utils.data.Subset``."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        self._index_array = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __getitem__(self, index):
        if isinstance(index, (list, tuple)):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices):
        get_batch = getattr(self.dataset, "get_batch", None)
        return None if get_batch is None else get_batch(self._index_array[np.asarray(indices)])


def random_split(dataset, lengths, seed=None, generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets, as ``torch.utils.data.random_split``.

    Args:
        dataset: the dataset to split.
        lengths: the subsets' lengths (summing to ``len(dataset)``), or fractions
            summing to 1; then each gets ⌊n·f⌋ and the remainder is handed out one
            by one, round-robin from the first subset (PyTorch's rule).
        seed: an int that makes the split reproducible (``np.random.default_rng(seed)``).
        generator: a ``numpy.random.Generator`` to draw from instead. With
            neither, cnnlab's generator (``cnnlab.manual_seed``) is used.

    Example:
        >>> train, val = random_split(range(10), [0.8, 0.2], seed=0)
    """
    if seed is not None and generator is not None:
        raise ValueError("random_split: pass seed or generator, not both")
    n = len(dataset)
    lengths = list(lengths)
    if not lengths or not all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in lengths):
        raise TypeError(f"random_split: lengths must be a sequence of ints or of fractions, got {lengths!r}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1 and not all(isinstance(x, numbers.Integral) for x in lengths):
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {frac}")
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if not all(isinstance(x, numbers.Integral) and x >= 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, got {lengths!r}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(lengths)} does not equal the length of the "
                         f"input dataset {n}")
    if generator is None:
        generator = np.random.default_rng(seed) if seed is not None else backend.generator()
    order = generator.permutation(n)
    offsets = np.cumsum([0] + [int(x) for x in lengths])
    return [Subset(dataset, order[a:b].tolist()) for a, b in zip(offsets[:-1], offsets[1:])]


def transformed_batch(images, targets, indices, transform=None, target_transform=None):
    """``[images[indices], targets[indices]]`` (targets as int64), each transformed as a whole batch by its
    transform's ``apply_batch``; None when a transform can't take a batch (the loader then goes sample by sample).
    The ``get_batch`` of datasets that hold their images and targets in two arrays."""
    if not (supports_batch(transform) and supports_batch(target_transform)):
        return None
    indices = np.asarray(indices)
    images, targets = images[indices], targets[indices].astype(np.int64)
    if transform is not None:
        images = transform.apply_batch(images)
    if target_transform is not None:
        targets = target_transform.apply_batch(targets)
    return [images, targets]


class ImageArrayDataset(Dataset):
    """Images and labels held in two arrays, with torchvision-style transforms; the base of MNIST and CIFAR10.

    ``ds[i]`` is ``(transform(images[i]), target_transform(int(targets[i])))``.
    ``ds.get_batch(indices)`` gathers a whole batch with one fancy index and
    transforms it with one ``apply_batch`` call per transform, when both
    transforms support batches (see `cnnlab.data.transforms.supports_batch`);
    otherwise it returns None and the loader goes sample by sample.

    Args:
        images: uint8 (N, H, W) or (N, H, W, C) (or any array with N first).
        targets: (N,) integer labels.
        transform: applied to each image (None: the uint8 array as it is).
        target_transform: applied to each label (None: a Python int).
    """

    def __init__(self, images, targets, transform=None, target_transform=None):
        images, targets = np.asarray(_raw(images)), np.asarray(_raw(targets))
        if images.ndim < 1 or targets.ndim != 1 or len(images) != len(targets):
            raise ValueError(f"{type(self).__name__}: need N images and N labels, got shapes {images.shape} "
                             f"and {targets.shape}")
        if transform is not None and not callable(transform):
            raise TypeError(f"{type(self).__name__}: transform must be callable, got {type(transform).__name__}")
        if target_transform is not None and not callable(target_transform):
            raise TypeError(f"{type(self).__name__}: target_transform must be callable, "
                            f"got {type(target_transform).__name__}")
        self.data, self.targets = images, targets
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index):
        img, target = np.array(self.data[index]), int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def get_batch(self, indices):
        return transformed_batch(self.data, self.targets, indices, self.transform, self.target_transform)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        lines += [f"    {line}" for line in self.extra_repr().splitlines()]
        for label, t in (("Transform", self.transform), ("Target transform", self.target_transform)):
            if t is not None:
                body = repr(t).splitlines()
                lines.append(f"    {label}: {body[0]}")
                lines += [f"    {line}" for line in body[1:]]
        return "\n".join(lines)
