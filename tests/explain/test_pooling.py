"""cnnlab.explain.pooling: max pooling's winner and average pooling's divisor, against PyTorch."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import float64 as t64, seeded as rng_for

import cnnlab
from cnnlab import explain
from cnnlab.messages import SettingError

LECTURE_X = [[[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]]
LECTURE_W = [[[[10.0, 20], [30, 40]]]]


# ---------------------------------------------------------------- pooling
POOL_CASES = [  # D, spatial, kernel, stride, padding, dilation, ceil_mode
    (1, (9,), (3,), (2,), (1,), (2,), True),
    (2, (7, 6), (3, 2), (2, 1), (1, 1), (1, 2), False),
    (2, (5, 7), (2, 3), (2, 2), (1, 0), (1, 1), True),
    (3, (4, 5, 3), (2, 3, 2), (2, 1, 1), (1, 1, 0), (1, 1, 2), True),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: f"{c[0]}d-{c[1]}-ceil{c[-1]}")
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool_value_and_winner_agree_with_torch(case, ties, torch):
    D, spatial, k, s, p, d, ceil = case
    rng = rng_for("max", case, ties)
    x = rng.integers(0, 3, (2, 2) + spatial).astype(np.float64) if ties else rng.standard_normal((2, 2) + spatial)
    ref, idx = getattr(torch.nn.functional, f"max_pool{D}d")(torch.tensor(x), k, s, p, d, ceil, return_indices=True)
    for index in itertools.product(*(range(m) for m in ref.shape)):
        e = getattr(explain, f"max_pool{D}d")(t64(x), k, s, p, d, ceil, at=index[1:], batch=index[0])
        assert e.agrees and e.value == ref.numpy()[index] and e.winner_index == idx.numpy()[index]
        inputs = [t.value for t in e.terms]
        assert e.value == max(inputs)
        first = inputs.index(e.value)                                # PyTorch's rule: the first maximum
        assert e.winner == e.terms[first].position


def test_max_pool_prints_the_winner():
    e = explain.max_pool2d(cnnlab.tensor([[[1.0, 9, 3], [4, 9, 6], [7, 8, 2]]]), 2, 1, at=(0, 0, 0))
    assert str(e).splitlines() == [
        "max_pool2d output[0, 0, 0, 0] (batch 0, channel 0, at (0, 0)): kernel 2, stride 1, padding 0, dilation 1, "
        "ceil mode False",
        "  max(1, 9, 4, 9) = 9, at input (0, 1): flat index 1 of its plane (return_indices); ties go to the first in "
        "the window's row-major order",
        "  input 3×3 (no padding), the window in [ ], the maximum in < >:",
        "        0   1   2",
        "    0  [1] <9>  3",
        "    1  [4] [9]  6",
        "    2   7   8   2",
        "  max_pool2d computes 9 at index 1: the same",
    ]


def test_max_pool_of_minus_infinity_and_nan_follows_torch(torch):
    x = np.array([[[-np.inf, -np.inf, 1.0], [np.nan, 2.0, np.nan]]])
    for at in [(0, 0), (1, 0), (0, 1), (1, 1)]:
        e = explain.max_pool1d(t64(x), 2, 1, padding=1, at=at)
        ref, idx = torch.nn.functional.max_pool1d(torch.tensor(x), 2, 1, 1, return_indices=True)
        assert e.agrees and e.winner_index == idx.numpy()[0][at]
        np.testing.assert_array_equal(e.value, ref.numpy()[0][at])


def test_max_pool_of_a_window_of_padding_only_has_no_winner(torch):
    x = np.array([[[5.0]]])                       # the window reads -1 and 1: padding and ceil-mode overhang
    e = explain.max_pool1d(t64(x), 2, 1, padding=1, dilation=2, ceil_mode=True, at=(0, 0))
    ref = torch.nn.functional.max_pool1d(torch.tensor(x), 2, 1, 1, 2, True).numpy()
    assert e.winner is None and e.winner_index is None and e.value == ref[0, 0, 0] == -np.inf and e.agrees
    assert "max(-inf, -inf) = -inf, the window holds padding only" in str(e)


AVG_CASES = [  # D, spatial, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
    (1, (9,), (3,), (2,), (1,), True, True, None),
    (1, (8,), (4,), (3,), (2,), True, False, None),
    (2, (7, 6), (3, 2), (2, 1), (1, 1), True, True, None),
    (2, (5, 7), (2, 3), (2, 2), (1, 0), True, False, None),
    (2, (5, 5), (3, 3), (2, 2), (1, 1), False, True, 5),
    (3, (4, 5, 3), (2, 3, 2), (2, 1, 1), (1, 1, 0), True, False, None),
]


@pytest.mark.parametrize("case", AVG_CASES, ids=lambda c: f"{c[0]}d-{c[1]}-{c[5:]}")
def test_avg_pool_sum_and_divisor_agree_with_torch(case, torch):
    D, spatial, k, s, p, ceil, cip, override = case
    rng = rng_for("avg", case)
    x = rng.standard_normal((2, 2) + spatial)
    extra = () if D == 1 else (override,)
    ref = getattr(torch.nn.functional, f"avg_pool{D}d")(torch.tensor(x), k, s, p, ceil, cip, *extra).numpy()
    for index in itertools.product(*(range(m) for m in ref.shape)):
        e = getattr(explain, f"avg_pool{D}d")(t64(x), k, s, p, ceil, cip, *extra, at=index[1:], batch=index[0])
        assert e.agrees
        np.testing.assert_allclose(e.value, ref[index], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(e.total, sum(t.value for t in e.terms), rtol=1e-12, atol=1e-12)
        if override is None:   # the window's cells in the padded input (or the input), never the overhang
            low, high = (0, np.add(spatial, 2 * np.array(p))) if cip else (np.array(p), np.add(spatial, p))
            inside = [np.all((low <= np.array(t.position)) & (np.array(t.position) < high)) for t in e.terms]
            assert e.divisor == sum(inside) == int(np.prod(e.divisor_factors))
        else:
            assert e.divisor == override and e.divisor_factors == ()


def test_avg_pool_prints_the_divisor_and_the_overhang():
    x = cnnlab.tensor(LECTURE_X)
    e = explain.avg_pool2d(x, 2, 2, ceil_mode=True, at=(0, 1, 1))
    assert str(e).splitlines()[1:4] == [
        "  (9 + 0 + 0 + 0) / 1 = 9 / 1 = 9",
        "  divisor 1 = 1×1: the window's cells in the padded input (count_include_pad=True; the ceil-mode overhang "
        "never counts)",
        "  padded input 4×4 (ceil-mode overhang 1 after each axis; it reads 0), the window in [ ]:",
    ]
    e = explain.avg_pool2d(x, 2, 2, padding=1, count_include_pad=False, at=(0, 0, 0))
    assert str(e).splitlines()[1:3] == [
        "  (0 + 0 + 0 + 1) / 1 = 1 / 1 = 1",
        "  divisor 1 = 1×1: the window's cells in the input (count_include_pad=False)"]
    e = explain.avg_pool2d(x, 2, 2, padding=1, divisor_override=3, at=(0, 0, 0))
    assert str(e).splitlines()[1:3] == ["  (0 + 0 + 0 + 1) / 3 = 1 / 3 = 0.333333", "  divisor 3 (divisor_override)"]
    assert e.overhang == (0, 0)


@pytest.mark.parametrize("call, error, match", [
    (lambda x, w: explain.max_pool2d(x, 2, padding=2, at=(0, 0, 0)), ValueError,
     r"explain.max_pool2d: padding should be at most half of kernel size"),
    (lambda x, w: explain.max_pool2d(x, 2, ceil_mode=1, at=(0, 0, 0)), TypeError,
     r"explain.max_pool2d: ceil_mode must be True or False"),
    (lambda x, w: explain.max_pool2d(x, 2, at=(0, 1, 1)), SettingError, r"inside the output's \(1, 1, 1\)"),
    (lambda x, w: explain.avg_pool2d(x, 2, divisor_override=0, at=(0, 0, 0)), ValueError,
     r"explain.avg_pool2d: divisor_override must not be zero"),
    (lambda x, w: explain.avg_pool3d(x, 2, at=(0, 0, 0, 0)), ValueError,
     r"explain.avg_pool3d: expected a 4-d \(unbatched\) or 5-d \(batched\) input"),
])
def test_bad_pooling_arguments_fail_first_naming_explain_and_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call(t64(LECTURE_X), t64(LECTURE_W))
