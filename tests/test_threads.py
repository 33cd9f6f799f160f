"""The worker threads of batch-parallel ops: set/get_num_threads, batch_parts, and results that do not
depend on how the batch was split (checked against PyTorch too)."""
import numpy as np
import pytest

import cnnlab
import cnnlab.nn.functional as F
from cnnlab import backend


@pytest.fixture
def threads():
    """Restore the thread count after a test that changes it."""
    before = cnnlab.get_num_threads()
    yield
    cnnlab.set_num_threads(before)


def test_num_threads_round_trip_and_rejects_bad_values(threads):
    cnnlab.set_num_threads(3)
    assert cnnlab.get_num_threads() == 3
    for bad in (0, -1, 2.0, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads: n must be a positive int"):
            cnnlab.set_num_threads(bad)


@pytest.mark.parametrize("n, item, threads_, expected", [
    (10, 2**20, 2, [(0, 5), (5, 10)]),
    (5, 2**20, 3, [(0, 1), (1, 3), (3, 5)]),
    (2, 2**20, 4, [(0, 1), (1, 2)]),             # never more parts than items
    (64, 100, 2, [(0, 64)]),                     # small work stays in one part
    (1, 2**30, 2, [(0, 1)]),
])
def test_batch_parts_cover_the_batch(threads, n, item, threads_, expected):
    cnnlab.set_num_threads(threads_)
    assert [(p.start, p.stop) for p in backend.batch_parts(n, item)] == expected


def test_parallel_map_keeps_order(threads):
    cnnlab.set_num_threads(2)
    assert backend.parallel_map(lambda i: i * i, range(7)) == [0, 1, 4, 9, 16, 25, 36]


def _batch_norm_run(x, g, w, b):
    xt, wt, bt = (cnnlab.Tensor(a, requires_grad=True) for a in (x, w, b))
    rm, rv = cnnlab.zeros(x.shape[1], dtype=x.dtype), cnnlab.ones(x.shape[1], dtype=x.dtype)
    y = F.batch_norm(xt, rm, rv, wt, bt, training=True)
    y.backward(cnnlab.Tensor(g))
    return [y.data, xt.grad.data, wt.grad.data, bt.grad.data, rm.data, rv.data]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-9), (np.float32, 1e-4)])
def test_batch_norm_split_over_threads_matches_one_thread_and_torch(threads, monkeypatch, torch, dtype, rtol):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((5, 3, 4, 6)) * 2 + 1).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    w, b = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)
    cnnlab.set_num_threads(1)
    single = _batch_norm_run(x, g, w, b)
    monkeypatch.setattr(backend, "MIN_PART_ELEMENTS", 1)   # split even this small batch: 3 parts of 5 samples
    cnnlab.set_num_threads(3)
    assert len(backend.batch_parts(5, 3 * 24)) == 3
    split = _batch_norm_run(x, g, w, b)

    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    rm, rv = torch.zeros(3, dtype=xt.dtype), torch.ones(3, dtype=xt.dtype)
    y = torch.nn.functional.batch_norm(xt, rm, rv, wt, bt, training=True)
    y.backward(torch.tensor(g))
    expected = [y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(), rm.numpy(), rv.numpy()]
    for a, s, e in zip(single, split, expected):
        np.testing.assert_allclose(s, a, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(s, e, rtol=rtol, atol=rtol)


def _pool_run(fn, x, g):
    xt = cnnlab.Tensor(x, requires_grad=True)
    y = fn(F, xt)
    y.backward(cnnlab.Tensor(g))
    return y.data, xt.grad.data


@pytest.mark.parametrize("name, fn", [
    ("max k3 s2 p1 ceil", lambda F, x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
    ("max k2 dilation 2", lambda F, x: F.max_pool2d(x, 2, 1, dilation=2)),
    ("avg k3 s2 p1 ceil", lambda F, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    ("avg (2, 3) s1", lambda F, x: F.avg_pool2d(x, (2, 3), 1)),
])
def test_pooling_split_over_threads_matches_one_thread_and_torch(threads, monkeypatch, torch, name, fn):
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 4, size=(5, 3, 7, 8)).astype(np.float64)   # small integers: many ties
    x[1, 2, 3, 4] = np.nan                                          # a NaN in the second part
    with cnnlab.no_grad():
        shape = fn(F, cnnlab.Tensor(x)).shape
    g = rng.standard_normal(shape)
    cnnlab.set_num_threads(1)
    single = _pool_run(fn, x, g)
    monkeypatch.setattr(backend, "MIN_PART_ELEMENTS", 1)
    cnnlab.set_num_threads(3)
    split = _pool_run(fn, x, g)
    xt = torch.tensor(x, requires_grad=True)
    y = fn(torch.nn.functional, xt)
    y.backward(torch.tensor(g))
    for s, a, e in zip(split, single, (y.detach().numpy(), xt.grad.numpy())):
        np.testing.assert_array_equal(s, a)
        np.testing.assert_allclose(s, e, rtol=1e-12, atol=1e-12)
