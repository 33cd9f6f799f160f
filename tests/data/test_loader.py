"""DataLoader, default_collate, TensorDataset, Subset, random_split: torch.utils.data as the oracle where it
applies; batching, shuffling per seed and epoch, the fast path, the prefetch thread and its shutdown."""
from __future__ import annotations

import collections
import gc
import threading

import numpy as np
import pytest

import cnnlab
from cnnlab.data import transforms as T
from cnnlab.data.dataset import Dataset, ImageArrayDataset, Subset, TensorDataset, random_split
from cnnlab.data.loader import DataLoader, default_collate


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "cnnlab-DataLoader-prefetch"]


class Counting(Dataset):
    """i -> (float32 (2,) array [i, -i], i), counting __getitem__ calls."""

    def __init__(self, n, fail_at=None):
        self.n, self.fail_at, self.calls = n, fail_at, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.calls += 1
        if i == self.fail_at:
            raise KeyError(f"sample {i} is broken")
        return np.array([i, -i], np.float32), i


def small_images(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 8, 8), dtype=np.uint8), rng.integers(0, 10, n)


def as_numpy(batch):
    return [b.numpy() for b in batch]


# ---------------------------------------------------------------- datasets
def test_tensor_dataset_and_subset():
    x, y = cnnlab.randn(6, 3), np.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[2]
    assert isinstance(xi, cnnlab.Tensor) and xi.shape == (3,) and yi.item() == 2 and yi.dtype == np.int64
    np.testing.assert_array_equal(ds.get_batch(np.array([4, 1]))[0], x.numpy()[[4, 1]])
    sub = Subset(ds, [5, 0, 3])
    assert len(sub) == 3 and sub[0][1].item() == 5 and sub.get_batch([1, 2])[1].tolist() == [0, 3]
    with pytest.raises(ValueError, match=r"TensorDataset: size mismatch between tensors.*got \(6, 5\)"):
        TensorDataset(x, np.arange(5))
    with pytest.raises(TypeError, match="TensorDataset: tensor 0 must be a Tensor or ndarray with at least one dim"):
        TensorDataset(3)
    with pytest.raises(NotImplementedError, match="a Dataset subclass must define __getitem__"):
        Dataset()[0]


def test_random_split_lengths_fractions_and_seed():
    parts = random_split(range(10), [3, 7], seed=1)
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    again = random_split(range(10), [3, 7], seed=1)
    assert parts[0].indices == again[0].indices
    assert [len(p) for p in random_split(range(10), [0.33, 0.33, 0.34], seed=0)] == [4, 3, 3]  # torch's remainder rule
    assert parts[0].indices == random_split(range(10), [3, 7], generator=np.random.default_rng(1))[0].indices
    with pytest.raises(ValueError, match="random_split: sum of input lengths 9 does not equal the length of the input "
                                         "dataset 10"):
        random_split(range(10), [4, 5])
    with pytest.raises(ValueError, match="random_split: pass seed or generator, not both"):
        random_split(range(4), [2, 2], seed=0, generator=np.random.default_rng())


def test_random_split_lengths_agree_with_torch(torch):
    for n, fracs in [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (101, [0.1, 0.2, 0.7]), (5, [0.2, 0.8])]:
        ours = [len(p) for p in random_split(range(n), fracs, seed=0)]
        ref = [len(p) for p in torch.utils.data.random_split(range(n), fracs)]
        assert ours == ref


# ---------------------------------------------------------------- collate
def test_default_collate_agrees_with_torch(torch):
    Point = collections.namedtuple("Point", "x y")
    batches = [
        [(np.ones((2, 3), np.float32), 1), (np.zeros((2, 3), np.float32), 2)],
        [{"a": 1.5, "b": np.int32(3)}, {"a": 2.5, "b": np.int32(4)}],
        [[True, 1], [False, 2]],
        [Point(1, 2.0), Point(3, 4.0)],
        [np.arange(3, dtype=np.uint8), np.arange(3, dtype=np.uint8)],
    ]

    def flat(b):
        if isinstance(b, dict):
            return [x for k in sorted(b) for x in flat(b[k])]
        if isinstance(b, (list, tuple)):
            return [x for v in b for x in flat(v)]
        return [b]

    for batch in batches:
        ours, ref = default_collate(batch), torch.utils.data.default_collate(batch)
        assert type(ours) is type(ref) or isinstance(ours, cnnlab.Tensor)
        for o, r in zip(flat(ours), flat(ref), strict=True):
            assert isinstance(o, cnnlab.Tensor)
            assert str(o.dtype) == str(r.dtype).replace("torch.", "")
            np.testing.assert_array_equal(o.numpy(), r.numpy())
    assert default_collate(["a", "b"]) == ["a", "b"]
    stacked = default_collate([cnnlab.ones(2), cnnlab.zeros(2)])
    assert stacked.shape == (2, 2)


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got \(2,\) at entry 0 "
                                           r"and \(3,\) at entry 1"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers"):
        default_collate([object(), object()])


# ---------------------------------------------------------------- batching
@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False),
                                            (2, 5, True), (0, 4, False)])
def test_len_and_batches_agree_with_torch(torch, n, bs, drop_last):
    loader = DataLoader(Counting(n), batch_size=bs, drop_last=drop_last)
    ref = torch.utils.data.DataLoader(Counting(n), batch_size=bs, drop_last=drop_last)
    assert len(loader) == len(ref)
    ours, theirs = list(loader), list(ref)
    assert len(ours) == len(theirs) == len(loader)
    for (x, y), (rx, ry) in zip(ours, theirs):
        np.testing.assert_array_equal(x.numpy(), rx.numpy())
        assert y.dtype == np.int64 and y.numpy().tolist() == ry.tolist()


def test_batch_size_none_and_argument_errors():
    items = list(DataLoader(Counting(3), batch_size=None))
    assert len(items) == 3 and isinstance(items[1][0], cnnlab.Tensor) and items[1][1] == 1
    ds = Counting(4)
    with pytest.raises(ValueError, match="DataLoader: num_workers must be 0, got 2: .*pass prefetch=N"):
        DataLoader(ds, num_workers=2)
    with pytest.raises(ValueError, match="DataLoader: batch_size should be a positive integer value or None, "
                                         "got batch_size=0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="DataLoader: pass seed or generator, not both"):
        DataLoader(ds, seed=1, generator=np.random.default_rng())
    with pytest.raises(ValueError, match="DataLoader: prefetch must be a non-negative int"):
        DataLoader(ds, prefetch=-1)
    with pytest.raises(ValueError, match="DataLoader: seed must be a non-negative int, got -3"):
        DataLoader(ds, seed=-3)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(TypeError, match="DataLoader: dataset must support len\\(\\) and indexing"):
        DataLoader(5)


def test_a_sampler_gives_the_order_and_hears_set_epoch():
    class Reversed:
        def __init__(self, n):
            self.n, self.epochs = n, []

        def __iter__(self):
            return iter(range(self.n - 1, -1, -1))

        def __len__(self):
            return self.n

        def set_epoch(self, epoch):
            self.epochs.append(epoch)

    sampler = Reversed(5)
    loader = DataLoader(Counting(10), batch_size=2, sampler=sampler)
    assert len(loader) == 3 and [y.tolist() for _, y in loader] == [[4, 3], [2, 1], [0]]
    loader.set_epoch(3)
    assert sampler.epochs == [3]
    with pytest.raises(ValueError, match="DataLoader: sampler option is mutually exclusive with shuffle"):
        DataLoader(Counting(4), sampler=sampler, shuffle=True)
    with pytest.raises(TypeError, match="DataLoader: sampler must be an iterable of indices with len\\(\\), got int"):
        DataLoader(Counting(4), sampler=3)


# ---------------------------------------------------------------- shuffling
def epoch_orders(loader, epochs=2):
    return [np.concatenate([y.numpy() for _, y in loader]).tolist() for _ in range(epochs)]


def test_shuffle_is_reproducible_per_seed_and_differs_between_epochs():
    a = epoch_orders(DataLoader(Counting(20), batch_size=6, shuffle=True, seed=5))
    b = epoch_orders(DataLoader(Counting(20), batch_size=6, shuffle=True, seed=5))
    c = epoch_orders(DataLoader(Counting(20), batch_size=6, shuffle=True, seed=6))
    assert a == b and a != c and a[0] != a[1]
    assert all(sorted(order) == list(range(20)) for order in a + c)
    assert a[0] == np.random.default_rng([5, 0]).permutation(20).tolist()  # the documented rule
    loader = DataLoader(Counting(20), batch_size=6, shuffle=True, seed=5)
    loader.set_epoch(1)
    assert epoch_orders(loader, 1)[0] == a[1]


def test_shuffle_with_a_generator_or_manual_seed():
    g = epoch_orders(DataLoader(Counting(20), batch_size=4, shuffle=True, generator=np.random.default_rng(3)))
    h = epoch_orders(DataLoader(Counting(20), batch_size=4, shuffle=True, generator=np.random.default_rng(3)))
    assert g == h and g[0] != g[1]
    cnnlab.manual_seed(11)
    m = epoch_orders(DataLoader(Counting(20), batch_size=4, shuffle=True))
    cnnlab.manual_seed(11)
    assert m == epoch_orders(DataLoader(Counting(20), batch_size=4, shuffle=True))
    assert epoch_orders(DataLoader(Counting(5), batch_size=2), 1)[0] == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------- the fast path
def test_fast_path_gathers_whole_batches_and_equals_the_per_sample_path():
    images, labels = small_images()
    t = T.Compose([T.Pad(1), T.ToTensor(), T.Normalize((0.5,), (0.25,))])
    ds = ImageArrayDataset(images, labels, transform=t)
    calls = []
    ds.__class__ = type("Spy", (ImageArrayDataset,), {"__getitem__": lambda s, i: calls.append(i) or
                                                      ImageArrayDataset.__getitem__(s, i)})
    fast = list(DataLoader(ds, batch_size=16, shuffle=True, seed=0))
    assert calls == []  # no per-sample call
    slow = list(DataLoader(ds, batch_size=16, shuffle=True, seed=0, collate_fn=default_collate))
    assert len(calls) == 50
    for (fx, fy), (sx, sy) in zip(fast, slow, strict=True):
        assert fx.dtype == np.float32 and fx.shape[1:] == (1, 10, 10) and fy.dtype == np.int64
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())


def test_a_transform_without_batch_support_falls_back_to_samples():
    images, labels = small_images(10)
    ds = ImageArrayDataset(images, labels, transform=T.Compose([T.ToTensor(), lambda x: x * 2]))
    assert ds.get_batch([0, 1]) is None
    (x, y), *_ = DataLoader(ds, batch_size=4)
    np.testing.assert_array_equal(x.numpy(), T.ToTensor().apply_batch(images[:4]) * 2)
    assert y.numpy().tolist() == labels[:4].tolist()


# ---------------------------------------------------------------- the prefetch thread
def test_prefetch_gives_the_same_batches_as_no_prefetch():
    images, labels = small_images(64)
    t = T.Compose([T.RandomCrop(8, padding=2), T.RandomHorizontalFlip(), T.RandomAffine(10), T.ToTensor()])
    ds = ImageArrayDataset(images, labels, transform=t)
    for kwargs in ({"seed": 3}, {"generator": None}):
        runs = []
        for prefetch in (0, 1, 3):
            cnnlab.manual_seed(0)
            loader = DataLoader(ds, batch_size=10, shuffle=True, prefetch=prefetch, **kwargs)
            runs.append([as_numpy(b) for _ in range(2) for b in loader])
        for run in runs[1:]:
            for a, b in zip(runs[0], run, strict=True):
                np.testing.assert_array_equal(a[0], b[0])
                np.testing.assert_array_equal(a[1], b[1])
    assert not prefetch_threads()


def test_per_sample_random_transforms_are_seeded_by_the_loader():
    images, labels = small_images(12)
    ds = ImageArrayDataset(images, labels, transform=T.Compose([T.RandomCrop(6), lambda a: a.copy()]))
    a = [as_numpy(b) for b in DataLoader(ds, batch_size=5, seed=9, prefetch=2)]
    b = [as_numpy(b) for b in DataLoader(ds, batch_size=5, seed=9)]
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u[0], v[0])


@pytest.mark.parametrize("prefetch", [0, 2])
def test_exceptions_in_fetching_reach_the_loop(prefetch):
    loader = DataLoader(Counting(20, fail_at=13), batch_size=4, prefetch=prefetch)
    seen = []
    with pytest.raises(KeyError, match="sample 13 is broken"):
        for _, y in loader:
            seen.append(y.numpy().tolist())
    assert seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert not prefetch_threads()


def test_early_break_and_garbage_collection_stop_the_thread():
    loader = DataLoader(Counting(1000), batch_size=2, prefetch=2)
    for i, _ in enumerate(loader):
        if i == 3:
            break
    gc.collect()
    assert not prefetch_threads()
    it = iter(loader)
    next(it)
    assert len(prefetch_threads()) == 1
    del it
    assert not prefetch_threads()
    it = iter(loader)
    it.close()
    assert not prefetch_threads() and list(it) == []
