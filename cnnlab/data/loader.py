"""`DataLoader` and `default_collate`, as ``torch.utils.data``; one optional background thread.

An epoch: draw the order (``0..n-1``, or a permutation when shuffling), cut it
into batches of ``batch_size`` (the last one shorter unless ``drop_last``), and
for each batch fetch the samples and collate them into cnnlab Tensors.

Fetching takes the fast path when the dataset has ``get_batch`` (array-backed
datasets: MNIST, CIFAR10, TensorDataset, their Subsets) and no ``collate_fn``
was given: one fancy index and one vectorised transform per batch. Otherwise it
calls ``dataset[i]`` for each index and ``collate_fn`` on the list.

Randomness (the shuffle order and every random transform) comes from one
generator per epoch, installed for the transforms with
`cnnlab.data.transforms.use_generator`:

- ``seed=s``: epoch k (the k-th ``iter(loader)``, or the value given to
  `DataLoader.set_epoch`) uses ``np.random.default_rng([s, k])``: reproducible
  from the seed, different from epoch to epoch, independent of what else draws.
- ``generator=g``: every epoch draws from ``g`` itself; its state carries over
  from epoch to epoch, so re-creating ``g`` with the same seed replays them.
- neither: each epoch seeds a fresh generator with a number drawn from
  cnnlab's generator, so ``cnnlab.manual_seed`` reproduces the run.

``prefetch=N`` makes batches in ONE background thread, at most N ahead of the
training loop (NumPy releases the GIL in its copies and arithmetic). The
batches are the same as without it: the order and the generator are fixed
before the thread starts, and only that thread draws from the epoch's generator.
"""
from __future__ import annotations

import collections.abc
import math
import numbers
import queue
import threading

import numpy as np

from cnnlab import backend
from cnnlab.autograd import Tensor
from cnnlab.data.transforms import use_generator

__all__ = ["DataLoader", "default_collate", "default_convert"]

_COLLATE_ERROR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def default_collate(batch):
    """Stack a list of samples into a batch, as ``torch.utils.data.default_collate``.

    - Tensors and NumPy arrays -> one Tensor with a new first dim (same dtype);
    - Python ints -> int64 Tensor, floats -> float64 Tensor (PyTorch's choice), bools -> bool;
    - NumPy scalars -> a Tensor of their dtype; strings -> the list as it is;
    - dicts -> a dict of collated values; namedtuples -> the same namedtuple;
      tuples -> a *list* of collated fields (as PyTorch); lists -> a list.

    Example:
        >>> x, y = default_collate([(np.zeros((1, 2, 2), np.float32), 3), (np.ones((1, 2, 2), np.float32), 5)])
        >>> x.shape, x.dtype, y.tolist(), y.dtype
        ((2, 1, 2, 2), dtype('float32'), [3, 5], dtype('int64'))
    """
    elem = batch[0]
    if isinstance(elem, (Tensor, np.ndarray)):
        arrays = [x.data if isinstance(x, Tensor) else x for x in batch]
        if isinstance(elem, np.ndarray) and elem.dtype.kind in "SUaOV":
            raise TypeError(_COLLATE_ERROR.format(elem.dtype))
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            first = next(k for k, a in enumerate(arrays) if a.shape != arrays[0].shape)
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got "
                               f"{arrays[0].shape} at entry 0 and {arrays[first].shape} at entry {first}")
        return Tensor(np.stack(arrays))
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "SUaOV":
            raise TypeError(_COLLATE_ERROR.format(elem.dtype))
        return Tensor(np.array(batch))
    if isinstance(elem, bool):
        return Tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return Tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(x) == size for x in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        return [default_collate(list(samples)) for samples in zip(*batch)]
    raise TypeError(_COLLATE_ERROR.format(type(elem)))


def default_convert(data):
    """Arrays -> Tensors inside lists, tuples and dicts (a batch that is already stacked)."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "SUaOV":
        return Tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)) and not hasattr(data, "_fields"):
        return [default_convert(v) for v in data]
    return data


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


class DataLoader:
    """Iterate over a dataset in (shuffled) batches, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a map-style dataset (``len`` and ``[i]``).
        batch_size: samples per batch; None yields single samples, converted to Tensors. Default: 1.
        shuffle: a new random order every epoch. Default: False.
        drop_last: drop the last batch when it is smaller than ``batch_size``. Default: False.
        seed: int >= 0; epoch k draws from ``np.random.default_rng([seed, k])``. Default: None.
        generator: a ``numpy.random.Generator`` to draw from instead (not with ``seed``).
        collate_fn: turns a list of samples into a batch. Default: `default_collate`
            (and the dataset's ``get_batch`` fast path when it has one).
        prefetch: number of batches one background thread prepares ahead; 0 (default) makes
            them in the loop.
        num_workers: must be 0 (there are no worker processes; use ``prefetch``).
        sampler: where the indices of an epoch come from instead (an iterable of ints with
            ``len``, e.g. `cnnlab.distributed.DistributedSampler`); not with shuffle.
            `set_epoch` is passed on to it when it has one. Default: None.

    Shape:
        ``len(loader)`` = ⌈n / batch_size⌉, or ⌊n / batch_size⌋ with drop_last, n = len(sampler or dataset).

    Example:
        >>> from cnnlab.data import MNIST
        >>> from cnnlab.data.transforms import ToTensor
        >>> loader = DataLoader(MNIST(train=False, transform=ToTensor()), batch_size=64, shuffle=True, seed=0)
        >>> images, labels = next(iter(loader))
        >>> images.shape, images.dtype, labels.shape, labels.dtype
        ((64, 1, 28, 28), dtype('float32'), (64,), dtype('int64'))
    """

    def __init__(self, dataset, batch_size=1, shuffle: bool = False, drop_last: bool = False, seed=None,
                 generator=None, collate_fn=None, prefetch: int = 0, num_workers: int = 0, sampler=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: dataset must support len() and indexing (a map-style Dataset), "
                            f"got {type(dataset).__name__}")
        if batch_size is not None and (not _is_int(batch_size) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer value or None, "
                             f"got batch_size={batch_size!r}")
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None disables batching and is mutually exclusive with drop_last")
        shuffle = False if shuffle is None else shuffle  # torch's default is None, meaning False
        if not isinstance(shuffle, bool) or not isinstance(drop_last, bool):
            raise TypeError(f"DataLoader: shuffle and drop_last must be bools, got shuffle={shuffle!r}, "
                            f"drop_last={drop_last!r}")
        if seed is not None and (not _is_int(seed) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed!r}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a numpy.random.Generator, got {type(generator).__name__}")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: pass seed or generator, not both")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        if not _is_int(prefetch) or prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be a non-negative int (batches made ahead by one "
                             f"background thread), got {prefetch!r}")
        if num_workers != 0:
            raise ValueError(f"DataLoader: num_workers must be 0, got {num_workers!r}: cnnlab has no worker "
                             f"processes; pass prefetch=N to prepare N batches in one background thread")
        if sampler is not None and not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")):
            raise TypeError(f"DataLoader: sampler must be an iterable of indices with len(), "
                            f"got {type(sampler).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.sampler = sampler
        self.seed, self.generator, self.prefetch, self.num_workers = seed, generator, int(prefetch), 0
        self.collate_fn = collate_fn
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.dataset if self.sampler is None else self.sampler)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter(loader)`` epoch ``epoch`` (with ``seed``: to resume a run exactly),
        and the sampler's too when it has a ``set_epoch``."""
        if not _is_int(epoch) or epoch < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be a non-negative int, got {epoch!r}")
        self.epoch = int(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(self.epoch)

    def _epoch_generator(self) -> np.random.Generator:
        if self.generator is not None:
            return self.generator
        if self.seed is not None:
            return np.random.default_rng([self.seed, self.epoch])
        return np.random.default_rng(int(backend.generator().integers(2**63)))

    def _batches(self, rng):
        """The index batches of one epoch."""
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64, count=len(self.sampler))
        else:
            order = rng.permutation(len(self.dataset)) if self.shuffle else np.arange(len(self.dataset))
        n = len(order)
        if self.batch_size is None:
            return [int(i) for i in order]
        stop = len(self) * self.batch_size if self.drop_last else n
        return [order[i:i + self.batch_size] for i in range(0, stop, self.batch_size)]

    def _fetch(self, indices):
        if self.batch_size is None:
            return default_convert(self.dataset[indices])
        if self.collate_fn is None:
            get_batch = getattr(self.dataset, "get_batch", None)
            batch = get_batch(indices) if get_batch is not None else None
            if batch is not None:
                return default_convert(batch)
        samples = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)

    def __iter__(self):
        rng = self._epoch_generator()
        batches = self._batches(rng)
        self.epoch += 1
        if self.prefetch == 0:
            return _SerialIterator(self._fetch, batches, rng)
        return _PrefetchIterator(self._fetch, batches, rng, self.prefetch)

    def __repr__(self) -> str:
        return (f"DataLoader(dataset={type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, prefetch={self.prefetch})")


class _SerialIterator:
    def __init__(self, fetch, batches, rng):
        self._fetch, self._batches, self._rng, self._next = fetch, batches, rng, 0

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._batches) - self._next

    def __next__(self):
        if self._next >= len(self._batches):
            raise StopIteration
        indices = self._batches[self._next]
        self._next += 1
        with use_generator(self._rng):
            return self._fetch(indices)

    def close(self):
        self._next = len(self._batches)


_END = object()


class _Failure:
    def __init__(self, error):
        self.error = error


def _produce(fetch, batches, rng, out: queue.Queue, stop: threading.Event):
    """The prefetch thread: fetch each batch and put it on ``out`` until done or told to stop.

    It holds no reference to the iterator, so dropping the iterator (an early
    ``break``) lets it be collected, and its ``__del__`` stops this thread.
    """
    def put(item) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    try:
        with use_generator(rng):
            for indices in batches:
                if stop.is_set() or not put(fetch(indices)):
                    return
    except BaseException as e:  # noqa: BLE001 - handed to the main thread, which re-raises it
        put(_Failure(e))
        return
    put(_END)


class _PrefetchIterator:
    def __init__(self, fetch, batches, rng, prefetch: int):
        self._queue = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._left = len(batches)
        self._thread = threading.Thread(target=_produce, args=(fetch, batches, rng, self._queue, self._stop),
                                        name="cnnlab-DataLoader-prefetch", daemon=True)
        self._thread.start()

    def __iter__(self):
        return self

    def __len__(self):
        return self._left

    def __next__(self):
        if self._stop.is_set():
            raise StopIteration
        while True:
            try:
                item = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self.close()
                    raise RuntimeError("DataLoader: the prefetch thread stopped without finishing the epoch") from None
        if item is _END:
            self.close()
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.error
        self._left -= 1
        return item

    def close(self) -> None:
        """Stop the background thread and wait for it (also done on garbage collection)."""
        self._stop.set()
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def __del__(self):
        if hasattr(self, "_thread"):
            self.close()
