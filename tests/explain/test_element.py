"""cnnlab.explain.element: the parts every explanation shares, on the op's own window view."""
from __future__ import annotations

import numpy as np
import pytest

from cnnlab.explain import element as el
from cnnlab.messages import SettingError
from cnnlab.nn.functional._windows import windows


def test_term_prints_as_a_product():
    assert str(el.Term(0, (1, 1), 5.0, (0, 0, 1, 1), 40.0)) == "5×40"
    assert str(el.Term(2, (0,), -1.5, (), 1.0)) == "(-1.5)×1"


def test_agreement_allows_float_rounding_only():
    assert el.agreement("conv2d", 770.0, 770.0, 770.0, np.float64) == (True, "conv2d computes 770: the same")
    near = 1.0 + 4 * np.finfo(np.float32).eps
    assert el.agreement("conv2d", 1.0, near, 1.0, np.float32) == (True, "conv2d computes 1: the same to float "
                                                                         "rounding")
    assert el.agreement("op", 1.0, 1.001, 1.0, np.float32) == (False, "op computes 1.001: DIFFERENT from 1 by -0.001")
    assert el.agreement("op", float("nan"), float("nan"), 1.0, np.float64)[0]


def test_element_index_checks_at_and_batch():
    assert el.element_index("explain.conv2d", (0, 1, 1), (1, 2, 2), 2, np.int64(1), 2) == ((0, 1, 1), 1)
    assert el.element_index("op", [np.int32(2), 0], (3, 4), 1, 0, 1) == ((2, 0), 0)
    with pytest.raises(SettingError, match=r"^op: at must be \(channel, d, i, j\), 4 ints, got \(0, 0, 0\)$"):
        el.element_index("op", (0, 0, 0), (1, 2, 2, 2), 3, 0, 1)
    with pytest.raises(SettingError, match=r"^op: at must be \(channel, i\), 2 ints, got \(True, 0\)$"):
        el.element_index("op", (True, 0), (1, 2), 1, 0, 1)
    with pytest.raises(SettingError, match=r"^op: at must be \(channel, i\) inside the input's \(1, 2\), got 0, 2$"):
        el.element_index("op", (0, 2), (1, 2), 1, 0, 1, "input")
    with pytest.raises(SettingError, match=r"^op: batch must be an int in \[0, 2\) \(the input's batch size\), "
                                           r"got -1$"):
        el.element_index("op", (0, 0), (1, 2), 1, -1, 2)
    with pytest.raises(SettingError, match=r"got 0.0$") as info:
        el.element_index("op", (0, 0), (1, 2), 1, 0.0, 2)
    assert info.value.with_flags({"batch": "--batch"}).startswith("--batch must be")


def test_batched_adds_the_batch_axis_of_an_unbatched_input():
    assert el.batched(np.zeros((3, 4, 5)), 2).shape == (1, 3, 4, 5)
    assert el.batched(np.zeros((2, 3, 4, 5)), 2).shape == (2, 3, 4, 5)


def test_window_cells_and_values_are_the_window_view():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 9))
    k, s, d, out = (2, 3), (2, 1), (2, 2), (2, 5)
    cells = el.window_cells((7, 9), k, s, d, out, (1, 3))
    assert cells.tolist() == [[2 + 2 * m, 3 + 2 * n] for m in range(2) for n in range(3)]   # i·s + t·d
    values = el.window_values(x, k, s, d, out, 1, slice(1, 3), (1, 3))
    np.testing.assert_array_equal(values, [[x[1, c, r, q] for r, q in cells] for c in (1, 2)])
    view = windows(x, k, s, d, out)
    np.testing.assert_array_equal(values, view[1, 1:3, :, :, 1, 3].reshape(2, -1))


def test_inside_tells_input_from_padding():
    assert el.inside([(0, 0), (1, 1), (3, 3), (4, 1)], ((1, 1), (1, 1)), (3, 3)) == [False, True, True, False]
