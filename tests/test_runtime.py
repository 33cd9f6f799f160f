"""cnnlab.runtime: the worker threads of batch-parallel ops (set/get_num_threads, batch_parts, results that
do not depend on how the batch was split, checked against PyTorch too), BLAS lanes and their scoped thread
count, scratch buffers, the opt-in malloc setting, and an import of cnnlab that changes nothing process-wide."""
import contextlib
import subprocess
import sys

import numpy as np
import pytest
from helpers import requires

import cnnlab
import cnnlab.nn.functional as F
from cnnlab import runtime


@pytest.fixture
def tuned():
    """tuned(NAME=value, ...) sets tuned constants (`cnnlab.tuning.override`) until the test ends."""
    with contextlib.ExitStack() as stack:
        yield lambda **values: stack.enter_context(cnnlab.tuning.override(**values))


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
    assert [(p.start, p.stop) for p in runtime.batch_parts(n, item)] == expected


def test_parallel_map_keeps_order(threads):
    cnnlab.set_num_threads(2)
    assert runtime.parallel_map(lambda i: i * i, range(7)) == [0, 1, 4, 9, 16, 25, 36]


def _batch_norm_run(x, g, w, b):
    xt, wt, bt = (cnnlab.Tensor(a, requires_grad=True) for a in (x, w, b))
    rm, rv = cnnlab.zeros(x.shape[1], dtype=x.dtype), cnnlab.ones(x.shape[1], dtype=x.dtype)
    y = F.batch_norm(xt, rm, rv, wt, bt, training=True)
    y.backward(cnnlab.Tensor(g))
    return [y.data, xt.grad.data, wt.grad.data, bt.grad.data, rm.data, rv.data]


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-9), (np.float32, 1e-4)])
def test_batch_norm_split_over_threads_matches_one_thread_and_torch(threads, tuned, torch, dtype, rtol):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((5, 3, 4, 6)) * 2 + 1).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    w, b = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)
    cnnlab.set_num_threads(1)
    single = _batch_norm_run(x, g, w, b)
    tuned(MIN_PART_ELEMENTS=1)   # split even this small batch: 3 parts of 5 samples
    cnnlab.set_num_threads(3)
    assert len(runtime.batch_parts(5, 3 * 24)) == 3
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
def test_pooling_split_over_threads_matches_one_thread_and_torch(threads, tuned, torch, name, fn):
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 4, size=(5, 3, 7, 8)).astype(np.float64)   # small integers: many ties
    x[1, 2, 3, 4] = np.nan                                          # a NaN in the second part
    with cnnlab.no_grad():
        shape = fn(F, cnnlab.Tensor(x)).shape
    g = rng.standard_normal(shape)
    cnnlab.set_num_threads(1)
    single = _pool_run(fn, x, g)
    tuned(MIN_PART_ELEMENTS=1)
    cnnlab.set_num_threads(3)
    split = _pool_run(fn, x, g)
    xt = torch.tensor(x, requires_grad=True)
    y = fn(torch.nn.functional, xt)
    y.backward(torch.tensor(g))
    for s, a, e in zip(split, single, (y.detach().numpy(), xt.grad.numpy())):
        np.testing.assert_array_equal(s, a)
        np.testing.assert_allclose(s, e, rtol=1e-12, atol=1e-12)


def test_parallel_map_inside_a_worker_runs_inline(threads):
    """An op called from another op's part (a nested parallel_map) must not wait on the busy pool."""
    cnnlab.set_num_threads(2)
    inner = lambda i: runtime.parallel_map(lambda j: (i, j), range(3))   # noqa: E731
    assert runtime.parallel_map(inner, range(2)) == [[(0, 0), (0, 1), (0, 2)], [(1, 0), (1, 1), (1, 2)]]


def test_parallel_map_waits_for_every_item_before_raising(threads):
    """An exception leaves parallel_map only once every item is done: a lane section's BLAS setting is
    restored after its last lane, and no item still writes to memory that the caller frees."""
    import time

    cnnlab.set_num_threads(3)
    done = []

    def item(i):
        if i == 1:
            raise RuntimeError("item 1 failed")
        time.sleep(0.05 * i)
        done.append(i)

    with pytest.raises(RuntimeError, match="item 1 failed"):
        runtime.parallel_map(item, range(3))
    assert sorted(done) == [0, 2]


@requires("threadpoolctl", "fast")
def test_lanes_need_several_threads_and_blas_control(threads):
    cnnlab.set_num_threads(2)
    assert runtime.lanes_available()          # threadpoolctl (the fast extra, in the test extra) found BLAS
    cnnlab.set_num_threads(1)
    assert not runtime.lanes_available()


def test_without_threadpoolctl_everything_runs_in_one_lane():
    code = ("import sys; sys.modules['threadpoolctl'] = None; import cnnlab; cnnlab.set_num_threads(2);"
            "print(cnnlab.runtime.lanes_available(),"
            "      cnnlab.runtime.in_lanes(lambda chunks: [(p.start, p.stop) for p in chunks], 10, 2**30, 4))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split(None, 1) == ["False", "[[(0, 4), (4, 8), (8, 10)]]\n"]


@requires("threadpoolctl", "fast")
def test_lanes_share_the_chunks(threads, tuned):
    """Every chunk goes to exactly one lane, and the lanes take them as they finish (a slow lane takes fewer)."""
    import threading
    import time

    cnnlab.set_num_threads(2)
    tuned(MIN_PART_ELEMENTS=1)

    def lane(chunks):
        slow = threading.current_thread() is not threading.main_thread()
        taken = []
        for p in chunks:
            taken.append((p.start, p.stop))
            time.sleep(0.02 if slow else 0.001)
        return taken

    lanes = runtime.in_lanes(lane, 20, 1, 2)
    assert len(lanes) == 2 and sorted(sum(lanes, [])) == [(b, b + 2) for b in range(0, 20, 2)]
    assert len(lanes[0]) > len(lanes[1])          # the calling thread's lane was the fast one here
    # one chunk of the whole batch is cut in two, so that both lanes have work
    lanes = runtime.in_lanes(lambda chunks: [(p.start, p.stop) for p in chunks], 3, 1, 3)
    assert sorted(sum(lanes, [])) == [(0, 2), (2, 3)]
    # ordered: each lane its own part, in consecutive chunks, whatever the lanes' speed
    for _ in range(2):
        assert runtime.in_lanes(lane, 20, 1, 4, ordered=True) == [[(0, 4), (4, 8), (8, 10)],
                                                                  [(10, 14), (14, 18), (18, 20)]]
    assert runtime.in_lanes(lambda chunks: [(p.start, p.stop) for p in chunks], 3, 1, 3, ordered=True) == [
        [(0, 1)], [(1, 3)]]


def _blas_threads() -> list:
    """The thread count of each BLAS library loaded in this process."""
    from threadpoolctl import threadpool_info

    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@requires("threadpoolctl", "fast")
def test_lanes_set_blas_to_one_thread_and_restore_it(threads, tuned):
    cnnlab.set_num_threads(2)
    tuned(MIN_PART_ELEMENTS=1)
    before = _blas_threads()
    inside = runtime.in_lanes(lambda chunks: _blas_threads(), 4, 1, 1)
    assert len(inside) == 2 and all(t == [1] * len(before) for t in inside)
    assert _blas_threads() == before


@requires("threadpoolctl", "fast")
def test_small_matrix_products_run_on_single_threaded_blas(threads, tuned, monkeypatch, request):
    from threadpoolctl import threadpool_limits

    cnnlab.set_num_threads(2)
    limits = threadpool_limits(limits=2, user_api="blas")       # BLAS with 2 threads, whatever this machine says
    request.addfinalizer(limits.restore_original_limits)
    before = _blas_threads()
    assert before and all(n == 2 for n in before)
    seen = []
    matmul = np.matmul

    def recording(*args, **kwargs):               # what BLAS's thread count is while the product runs
        seen.append(_blas_threads())
        return matmul(*args, **kwargs)

    monkeypatch.setattr(np, "matmul", recording)
    a, b = cnnlab.randn(4, 5, requires_grad=True), cnnlab.randn(5, 3, requires_grad=True)
    tuned(BLAS_THREADS_MIN_FLOPS=2 * 4 * 5 * 3 + 1)            # 120 flops: one more than this product
    (a @ b).sum().backward()
    assert seen == [[1] * len(before)] * 3                       # forward and both gradients
    assert _blas_threads() == before
    seen.clear()
    tuned(BLAS_THREADS_MIN_FLOPS=2 * 4 * 5 * 3)                  # as large as the threshold: BLAS as it was
    (a @ b).sum().backward()
    assert seen == [before] * 3
    seen.clear()
    cnnlab.set_num_threads(1)                                    # one thread: cnnlab leaves BLAS alone
    tuned(BLAS_THREADS_MIN_FLOPS=2**40)
    (a @ b).sum().backward()
    assert seen == [before] * 3


@requires("threadpoolctl", "fast")
def test_large_linear_products_are_split_into_lanes_never_on_blas_threads(threads, tuned, monkeypatch, request):
    """Above BLAS_THREADS_MIN_FLOPS, `runtime.matmul` (linear's products) splits the result's rows, or its
    columns where it has fewer rows, over two lanes, each on a single-threaded BLAS; the numbers are
    those of one product."""
    from threadpoolctl import threadpool_limits

    cnnlab.set_num_threads(2)
    limits = threadpool_limits(limits=2, user_api="blas")
    request.addfinalizer(limits.restore_original_limits)
    before = _blas_threads()
    seen = []
    matmul = np.matmul

    def recording(a, b, *args, **kwargs):
        seen.append((a.shape[0], b.shape[1], _blas_threads()))
        return matmul(a, b, *args, **kwargs)

    tuned(BLAS_THREADS_MIN_FLOPS=2)
    rng = np.random.default_rng(0)
    for rows, out in [(6, 4), (2, 7)]:                   # more rows than columns, and fewer
        x = rng.standard_normal((rows, 5))
        w, b = rng.standard_normal((out, 5)), rng.standard_normal(out)
        xt, wt, bt = (cnnlab.tensor(v, requires_grad=True) for v in (x, w, b))
        monkeypatch.setattr(np, "matmul", recording)
        y = F.linear(xt, wt, bt)
        y.backward(cnnlab.ones(rows, out))
        monkeypatch.setattr(np, "matmul", matmul)
        np.testing.assert_allclose(y.data, x @ w.T + b, rtol=1e-12)
        np.testing.assert_allclose(xt.grad.data, np.ones((rows, out)) @ w, rtol=1e-12)
        np.testing.assert_allclose(wt.grad.data, np.ones((rows, out)).T @ x, rtol=1e-12)
        single = [1] * len(before)
        assert all(threads_then == single for _, _, threads_then in seen)
        halves = sorted((m, n) for m, n, _ in seen[:2])  # the forward, in two blocks (the lanes in any order)
        assert halves == ([(rows // 2, out)] * 2 if rows >= out else [(rows, out // 2), (rows, out - out // 2)])
        assert len(seen) == 6 and _blas_threads() == before
        seen.clear()


CONV_CASES = [  # (conv, input shape, weight shape, kwargs): dense channels-last, few-channel, grouped, 1-d, 3-d
    ("conv2d", (5, 9, 7, 8), (4, 9, 3, 2), dict(stride=(2, 1), padding=1)),
    ("conv2d", (5, 2, 7, 8), (3, 2, 3, 3), dict(padding=(0, 2), dilation=(2, 1))),
    ("conv2d", (5, 6, 7, 8), (6, 2, 3, 3), dict(groups=3, padding=1)),
    ("conv1d", (5, 8, 13), (4, 8, 3), dict(stride=2)),
    ("conv3d", (3, 8, 4, 5, 4), (2, 8, 2, 3, 2), dict(padding=1)),
    ("conv_transpose2d", (5, 9, 4, 5), (9, 3, 3, 3), dict(stride=2, output_padding=1)),
]


@requires("threadpoolctl", "fast")
@pytest.mark.parametrize("op, x_shape, w_shape, kwargs", CONV_CASES)
def test_conv_in_lanes_matches_one_thread_and_torch(threads, tuned, torch, kernel, op, x_shape, w_shape, kwargs):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    tuned(COLUMN_BUFFER_BYTES=1)         # one sample per chunk: several chunks per lane

    def run():
        xt, wt = cnnlab.Tensor(x, requires_grad=True), cnnlab.Tensor(w, requires_grad=True)
        y = getattr(F, op)(xt, wt, **kwargs)
        y.backward(cnnlab.Tensor(np.cos(np.arange(y.data.size)).reshape(y.shape)))
        return y.data, xt.grad.data, wt.grad.data

    cnnlab.set_num_threads(1)
    single = run()
    tuned(MIN_PART_ELEMENTS=1)
    cnnlab.set_num_threads(3)
    assert len(runtime.batch_parts(x_shape[0], 1)) == 3 and runtime.lanes_available()
    split = run()
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    y = getattr(torch.nn.functional, op)(xt, wt, **kwargs)
    y.backward(torch.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape))))
    for s, a, e in zip(split, single, (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy())):
        np.testing.assert_allclose(s, a, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(s, e, rtol=1e-9, atol=1e-9)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_fresh_pool(threads):
    import os

    cnnlab.set_num_threads(2)
    assert runtime.parallel_map(lambda i: i + 1, range(4)) == [1, 2, 3, 4]   # the parent's pool is running
    pid = os.fork()
    if pid == 0:                                                            # child: would hang on the parent's pool
        import signal
        signal.alarm(20)                                                    # so a hang fails instead of blocking
        ok = runtime.parallel_map(lambda i: i + 1, range(4)) == [1, 2, 3, 4]
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_scratch_buffers_are_reused_up_to_their_limit(tuned):
    a = runtime.scratch("test-slot", (4, 8), np.float32)
    b = runtime.scratch("test-slot", (2, 3), np.float64)           # smaller: the same memory again
    assert np.shares_memory(a, b) and b.shape == (2, 3) and b.dtype == np.float64
    tuned(SCRATCH_KEEP_BYTES=100)
    c = runtime.scratch("test-slot", (50,), np.float32)            # 200 bytes: over the limit, not kept
    d = runtime.scratch("test-slot", (50,), np.float32)
    assert not np.shares_memory(c, d) and not np.shares_memory(c, a)


def test_keep_freed_memory_takes_effect_on_glibc_only():
    import platform

    on_glibc = platform.libc_ver()[0] == "glibc"
    before = runtime.keeps_freed_memory()
    try:
        assert runtime.keep_freed_memory(True) is on_glibc
        assert runtime.keeps_freed_memory() is on_glibc
        assert runtime.keep_freed_memory(False) is on_glibc
        assert runtime.keeps_freed_memory() is False
    finally:
        runtime.keep_freed_memory(before)


# Run in a fresh interpreter: BLAS set to 2 threads first (a count that lanes would change to 1), then
# `import cnnlab`; then the same checks after `keep_freed_memory(True)`, which must see it (so that the
# malloc check can fail). malloc's probe: a 30 MB block is mmapped under glibc's defaults (the dynamic
# threshold is at most 32 MB and grows only when such a block is freed) and comes from the heap once
# freed memory is kept (threshold 32 MB); mallinfo2's hblkhd counts the mmapped bytes.
_IMPORT_PROBE = """
import ctypes, json, platform, threading
from threadpoolctl import ThreadpoolController, threadpool_info
import numpy

for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
    lib.set_num_threads(2)

def blas():
    return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas")

def mmapped():
    if platform.libc_ver()[0] != "glibc":
        return None
    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                         "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype, libc.malloc.restype, libc.free.argtypes = Mallinfo2, ctypes.c_void_p, [ctypes.c_void_p]
    before, block = libc.mallinfo2().hblkhd, libc.malloc(30 * 2**20)
    grown = libc.mallinfo2().hblkhd - before
    libc.free(block)
    return grown >= 30 * 2**20

def state(probe_malloc=True):
    return {"blas": blas(), "threads": threading.active_count(), "mmapped": probe_malloc and mmapped()}

# malloc is probed after the import only: freeing a mmapped block raises glibc's dynamic threshold
report = {"before": state(probe_malloc=False)}
import cnnlab
import cnnlab.nn.functional
report["after_import"] = state()
report["keeps"] = cnnlab.runtime.keeps_freed_memory()
cnnlab.runtime.keep_freed_memory(True)
report["after_opt_in"] = state()
print(json.dumps(report))
"""


def _probe_import():
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@requires("threadpoolctl", "fast")
def test_import_leaves_blas_threads_and_starts_no_thread():
    report = _probe_import()
    assert report["before"]["blas"] and all(n == 2 for _, n in report["before"]["blas"])
    assert report["after_import"]["blas"] == report["before"]["blas"]
    assert report["after_import"]["threads"] == report["before"]["threads"]


@requires("threadpoolctl", "fast")
@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_import_leaves_malloc_settings_and_the_opt_in_changes_them():
    report = _probe_import()
    assert report["after_import"]["mmapped"] is True and report["keeps"] is False   # glibc's defaults
    assert report["after_opt_in"]["mmapped"] is False                               # the probe sees the setting


@requires("threadpoolctl", "fast")
def test_blas_threads_come_back_when_a_lane_raises(threads, tuned):
    from threadpoolctl import threadpool_limits

    def lane(chunks):
        for p in chunks:
            if p.start == 2:
                raise RuntimeError("lane failed")

    cnnlab.set_num_threads(2)
    tuned(MIN_PART_ELEMENTS=1)
    with threadpool_limits(limits=2, user_api="blas"):   # a count that lanes change, on any machine
        before = _blas_threads()
        assert before and all(n == 2 for n in before)
        with pytest.raises(RuntimeError, match="lane failed"):
            runtime.in_lanes(lane, 4, 1, 1)
        assert _blas_threads() == before
        with pytest.raises(ZeroDivisionError):
            with runtime.single_threaded_blas():
                assert _blas_threads() == [1] * len(before)
                1 / 0
        assert _blas_threads() == before
        # the count of open sections is back to zero: the next one sets one thread and restores again
        assert runtime.in_lanes(lambda chunks: _blas_threads(), 4, 1, 1) == [[1] * len(before)] * 2
        assert _blas_threads() == before
