"""The window primitives that pooling, adaptive pooling and unpooling share (nn/functional/_window_ops.py)."""
import numpy as np

from cnnlab.nn.functional._window_ops import PutFlat, TakeFlat, WindowSum, along, max_and_first_tap, tap_code_dtype


class Ctx:
    """The context a Function's forward saves into, when it is called on arrays directly."""


def test_max_and_first_tap_is_pytorchs_choice():
    taps = [np.array([1.0, 5.0, np.nan, 2.0]), np.array([3.0, 5.0, 1.0, np.nan]), np.array([3.0, 4.0, np.nan, 0.0])]
    best, first = max_and_first_tap(lambda i: taps[i], len(taps))
    np.testing.assert_array_equal(best, [3.0, 5.0, np.nan, np.nan])
    np.testing.assert_array_equal(first, [1, 0, 2, 1])      # first maximum on ties, last NaN
    assert first.dtype == tap_code_dtype(3) == np.int8
    best, none = max_and_first_tap(lambda i: taps[i], len(taps), want_first=False)
    assert none is None and np.isnan(best[2])


def test_take_and_put_flat_are_adjoint():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    index = rng.integers(0, 20, size=(2, 3, 6))                  # flat positions in each (N, C) plane
    y = rng.standard_normal((2, 3, 6))
    take, put = Ctx(), Ctx()
    taken = TakeFlat.forward(take, x, index)
    np.testing.assert_array_equal(taken, np.take_along_axis(x.reshape(2, 3, 20), index, axis=2))
    gx, _ = TakeFlat.backward(take, y)                            # <take(x), y> = <x, take's adjoint(y)>
    np.testing.assert_allclose((taken * y).sum(), (x * gx).sum(), rtol=1e-12)
    PutFlat.forward(put, y, index, shape=x.shape)
    g = rng.standard_normal(x.shape)
    gy, _ = PutFlat.backward(put, g)                              # put's gradient gathers at the index
    np.testing.assert_array_equal(gy, np.take_along_axis(g.reshape(2, 3, 20), index, axis=2))


def test_window_sum_matches_a_naive_box_sum_and_its_adjoint():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 7, 6))
    kernel, stride, pads = (3, 2), (2, 1), ((1, 1), (0, 0))
    out = (4, 5)                                                  # (7 + 2 − 3)//2 + 1, (6 − 2)//1 + 1
    ctx = Ctx()
    y = WindowSum.forward(ctx, x, kernel=kernel, stride=stride, pads=pads, out=out)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)))
    naive = np.array([[[[xp[n, c, i * 2:i * 2 + 3, j:j + 2].sum() for j in range(5)] for i in range(4)]
                       for c in range(2)] for n in range(2)])
    np.testing.assert_allclose(y, naive, rtol=1e-12)
    g = rng.standard_normal(y.shape)
    np.testing.assert_allclose((y * g).sum(), (x * WindowSum.backward(ctx, g)).sum(), rtol=1e-12)


def test_along():
    a = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(a[along(2, slice(1, 3))], a[:, :, 1:3])
