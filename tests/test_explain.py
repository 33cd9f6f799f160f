"""cnnlab.explain: one output element term by term, from the ops' own code, held to the ops and to PyTorch."""
from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

import cnnlab
from cnnlab import explain, shapes
from cnnlab.messages import SettingError

LECTURE_X = [[[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]]
LECTURE_W = [[[[10.0, 20], [30, 40]]]]


def rng_for(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def t64(a):
    return cnnlab.tensor(np.asarray(a, dtype=np.float64))


# ---------------------------------------------------------------- the lecture's worked examples, as printed
def test_the_lecture_example_at_0_0_0_prints_370():
    e = explain.conv2d(cnnlab.tensor(LECTURE_X), cnnlab.tensor(LECTURE_W), at=(0, 0, 0))
    assert str(e).splitlines() == [
        "conv2d output[0, 0, 0, 0] (batch 0, channel 0, at (0, 0)): stride 1, dilation 1, input channel 0",
        "  1×10 + 2×20 + 4×30 + 5×40 = 370",
        "  input 3×3 (no padding), the window in [ ]:",
        "        0   1   2",
        "    0  [1] [2]  3",
        "    1  [4] [5]  6",
        "    2   7   8   9",
        "  conv2d computes 370: the same",
    ]
    assert e.value == e.op_value == 370 and e.agrees
    assert e.window == ((0, 0), (0, 1), (1, 0), (1, 1))
    assert [(t.value, t.weight) for t in e.terms] == [(1, 10), (2, 20), (4, 30), (5, 40)]
    assert [t.weight_index for t in e.terms] == [(0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 0), (0, 0, 1, 1)]


def test_the_lecture_example_at_0_1_1_prints_770():
    e = explain.conv2d(cnnlab.tensor(LECTURE_X), cnnlab.tensor(LECTURE_W), at=(0, 1, 1))
    lines = str(e).splitlines()
    assert lines[1] == "  5×10 + 6×20 + 8×30 + 9×40 = 770"
    assert lines[4:7] == ["    0   1   2   3", "    1   4  [5] [6]", "    2   7  [8] [9]"]
    assert e.sum_line() == "5×10 + 6×20 + 8×30 + 9×40 = 770"
    assert e.value == 770 and e.agrees and e.channel_sums == ((0, 770.0),)


def test_the_lecture_dilated_size_example_has_five_windows_not_four():
    e = explain.output_size(11, 3, stride=2, padding=1, dilation=2)
    assert str(e).splitlines() == [
        "conv output size along one axis: n = 11, k = 3, s = 2, p = 1, d = 2",
        "  dilated kernel d(k−1) + 1 = 2×(3−1) + 1 = 5",
        "  padded input n + 2p = 11 + 2×1 = 13",
        "  o = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 = ⌊(11 + 2 − 4 − 1)/2⌋ + 1 = ⌊8/2⌋ + 1 = 5",
        "  5 windows start at 0, 2, 4, 6, 8 of the padded axis's 13 positions 0..12; each reads start + 0, 2, 4",
    ]
    assert (e.span, e.positions, e.out, e.starts, e.taps) == (5, 13, 5, (0, 2, 4, 6, 8), (0, 2, 4))


def test_alexnet_conv1_size():
    e = explain.output_size(227, 11, stride=4)
    assert e.out == 55 == shapes.conv_output_size(227, 11, 4)
    assert e.lines[3] == "  o = ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 = ⌊(227 + 0 − 10 − 1)/4⌋ + 1 = ⌊216/4⌋ + 1 = 55"
    assert e.starts == tuple(range(0, 217, 4))
    assert "55 windows start at 0, 4, 8, 12, 16, 20, 24, 28, 32, …, 212, 216 of" in e.lines[4]


# ---------------------------------------------------------------- conv against the op and PyTorch
CONV_CASES = [  # D, N, C_in, C_out, groups, spatial, kernel, stride, padding, dilation, bias
    (1, 2, 3, 4, 1, (9,), (3,), (2,), (1,), (2,), True),
    (2, 2, 4, 6, 2, (7, 8), (3, 2), (2, 1), (1, 0), (1, 2), True),
    (2, 1, 3, 3, 3, (6, 5), (2, 3), (1, 2), (2, 1), (2, 1), False),
    (2, 3, 2, 2, 1, (5, 5), (3, 3), 1, "same", 1, True),
    (3, 2, 2, 4, 2, (4, 5, 4), (2, 3, 2), (1, 2, 1), (1, 0, 1), (2, 1, 1), True),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}d-g{c[4]}-{c[5]}")
def test_conv_agrees_with_the_op_and_torch_at_every_element(case, torch):
    D, N, C, O, G, spatial, k, s, p, d, with_bias = case
    rng = rng_for("conv", case)
    x, w = rng.standard_normal((N, C) + spatial), rng.standard_normal((O, C // G) + k)
    b = rng.standard_normal(O) if with_bias else None
    ours = getattr(explain, f"conv{D}d")
    ref = getattr(torch.nn.functional, f"conv{D}d")(torch.tensor(x), torch.tensor(w),
                                                    None if b is None else torch.tensor(b), s, p, d, G).numpy()
    x_t, w_t, b_t = t64(x), t64(w), None if b is None else t64(b)
    for index in itertools.product(*(range(m) for m in ref.shape)):
        e = ours(x_t, w_t, b_t, s, p, d, G, at=index[1:], batch=index[0])
        assert e.agrees and e.index == index
        np.testing.assert_allclose(e.value, ref[index], rtol=1e-10, atol=1e-12)
        assert len(e.terms) == (C // G) * int(np.prod(k))


def test_conv_terms_are_the_naive_window_of_the_padded_input():
    """A second oracle: the terms are I_pad[c, i·s + t·d]·K[o, c, t], the group's channels in order."""
    rng = rng_for("naive")
    x, w, b = rng.standard_normal((2, 4, 6, 7)), rng.standard_normal((6, 2, 2, 3)), rng.standard_normal(6)
    s, p, d = (2, 1), (1, 2), (2, 1)
    x_pad = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)))
    e = explain.conv2d(t64(x), t64(w), t64(b), s, p, d, 2, at=(4, 1, 2), batch=1)
    expected = [(c, (1 * 2 + m * 2, 2 * 1 + n * 1), x_pad[1, c, 1 * 2 + m * 2, 2 + n], w[4, c - 2, m, n])
                for c in (2, 3) for m in range(2) for n in range(3)]
    assert [(t.channel, t.position, t.value, t.weight) for t in e.terms] == expected
    assert e.window == tuple(pos for c, pos, _, _ in expected[:6])
    assert e.padded_shape == (8, 11) and e.pads == ((1, 1), (2, 2)) and e.stride == s and e.dilation == d
    sums = [sum(v * ww for c, _, v, ww in expected if c == ch) for ch in (2, 3)]
    np.testing.assert_allclose([v for _, v in e.channel_sums], sums, rtol=1e-12)
    np.testing.assert_allclose(e.value, sum(sums) + b[4], rtol=1e-12)
    assert e.bias == b[4]


def test_multichannel_conv_prints_channel_sums_and_the_bias():
    x = cnnlab.tensor(np.arange(18.0).reshape(2, 3, 3))
    w = cnnlab.tensor(np.array([[[[1.0, 0], [0, 1]], [[2.0, 0], [0, -1]]]]))
    e = explain.conv2d(x, w, cnnlab.tensor([0.5]).double(), padding=1, at=(0, 0, 0))
    assert str(e).splitlines()[:5] == [
        "conv2d output[0, 0, 0, 0] (batch 0, channel 0, at (0, 0)): stride 1, dilation 1, input channels 0-1",
        "  channel 0: 0×1 + 0×0 + 0×0 + 0×1 = 0",
        "  channel 1: 0×2 + 0×0 + 0×0 + 9×(-1) = -9",
        "  0 + (-9) + bias 0.5 = -8.5",
        "  padded input 5×5 (padding 1 on each side), the window in [ ]:",
    ]
    assert "  input channel 1:" in str(e).splitlines()
    assert str(e).splitlines()[-1] == "  conv2d computes -8.5: the same"


def test_a_single_channel_with_bias_adds_it_on_its_own_line():
    e = explain.conv2d(cnnlab.tensor(LECTURE_X), cnnlab.tensor(LECTURE_W), cnnlab.tensor([5.0]), at=(0, 0, 0))
    assert e.sum_line().splitlines() == ["1×10 + 2×20 + 4×30 + 5×40 = 370", "370 + bias 5 = 375"]
    assert e.value == 375 == e.op_value


def test_float32_agrees_to_float_rounding():
    rng = rng_for("f32")
    x = cnnlab.tensor(rng.standard_normal((1, 16, 5, 5)).astype(np.float32))
    w = cnnlab.tensor(rng.standard_normal((8, 16, 3, 3)).astype(np.float32))
    e = explain.conv2d(x, w, padding=1, at=(3, 2, 2))
    assert e.agrees and "the same" in e.check
    assert len(e.grids) == explain.GRID_CHANNELS
    assert "(grids of 12 more channels left out: the window is the same)" in str(e)


def test_a_large_input_shows_only_the_window_and_around_it():
    x = cnnlab.tensor(np.arange(30.0 * 30).reshape(1, 30, 30))
    e = explain.conv2d(x, cnnlab.tensor(np.ones((1, 1, 3, 3))), padding=2, dilation=2, at=(0, 10, 3))
    rows = str(e.grids[0][1]).splitlines()
    assert rows[0].split() == ["…"] + [str(c) for c in range(1, 10)] and rows[1].strip() == "…"
    assert rows[2].split()[:3] == ["8", "…", "0"] and rows[-1].strip() == "…"
    assert "[241]" in e.grids[0][1]          # padded (10, 3) is input (8, 1): 8·30 + 1


def test_a_disagreement_with_the_op_is_said(monkeypatch):
    monkeypatch.setitem(explain._CONV, 2, lambda *args: cnnlab.zeros(1, 1, 2, 2, dtype=cnnlab.float64))
    e = explain.conv2d(t64(LECTURE_X), t64(LECTURE_W), at=(0, 1, 1))
    assert not e.agrees and e.check == "conv2d computes 0: DIFFERENT from 770 by 770"


# ---------------------------------------------------------------- transposed conv
TRANSPOSE_CASES = [  # D, N, C_in, C_out, groups, spatial, kernel, stride, padding, output_padding, dilation
    (1, 2, 2, 3, 1, (5,), (3,), (2,), (1,), (1,), (1,)),
    (2, 2, 4, 2, 2, (3, 4), (3, 2), (2, 3), (1, 0), (1, 2), (1, 1)),
    (2, 1, 3, 3, 3, (3, 3), (2, 2), (1, 2), (0, 1), (0, 0), (2, 1)),
    (3, 1, 2, 2, 1, (2, 3, 2), (2, 2, 3), (2, 1, 2), (0, 1, 1), (1, 0, 0), (1, 1, 1)),
]


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: f"{c[0]}d-g{c[4]}-{c[5]}")
def test_conv_transpose_agrees_with_the_op_and_torch_at_every_element(case, torch):
    D, N, C, O, G, spatial, k, s, p, op_, d = case
    rng = rng_for("transpose", case)
    x, w, b = rng.standard_normal((N, C) + spatial), rng.standard_normal((C, O // G) + k), rng.standard_normal(O)
    ref = getattr(torch.nn.functional, f"conv_transpose{D}d")(torch.tensor(x), torch.tensor(w), torch.tensor(b),
                                                              s, p, op_, G, d).numpy()
    ours = getattr(explain, f"conv_transpose{D}d")
    for index in itertools.product(*(range(m) for m in ref.shape)):
        e = ours(t64(x), t64(w), t64(b), s, p, op_, G, d, at=index[1:], batch=index[0])
        assert e.agrees and e.index == index
        np.testing.assert_allclose(e.value, ref[index], rtol=1e-10, atol=1e-12)
        for term in e.terms:      # each term's input lands here: i·s + t·d = position + p
            tap = term.weight_index[2:]
            assert all(i * ss + t * dd == j + pp for i, t, ss, dd, j, pp in
                       zip(term.position, tap, s, d, index[2:], p))


@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: f"{c[0]}d-g{c[4]}-{c[5]}")
def test_conv_transpose_scatter_lists_what_torch_writes(case, torch):
    D, N, C, O, G, spatial, k, s, p, op_, d = case
    rng = rng_for("scatter", case)
    x, w = rng.standard_normal((N, C) + spatial), rng.standard_normal((C, O // G) + k)
    ours = getattr(explain, f"conv_transpose{D}d_scatter")
    for index in itertools.product(range(N), range(C), *(range(m) for m in spatial)):
        e = ours(t64(x), t64(w), None, s, p, op_, G, d, at=index[1:], batch=index[0])
        alone = np.zeros_like(x)
        alone[index] = x[index]
        ref = getattr(torch.nn.functional, f"conv_transpose{D}d")(torch.tensor(alone), torch.tensor(w), None,
                                                                  s, p, op_, G, d).numpy()[index[0]]
        written = np.zeros_like(ref)
        for sc in e.scatters:
            if sc.position is not None:
                written[(sc.channel,) + sc.position] += sc.contribution
        assert e.agrees and e.value == x[index]
        np.testing.assert_allclose(written, ref, rtol=1e-12, atol=0)
        assert len(e.scatters) == (O // G) * int(np.prod(k))


def test_conv_transpose_prints_its_terms():
    x = cnnlab.tensor([[[1.0, 2], [3, 4]]])
    w = cnnlab.tensor([[[[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]]])
    e = explain.conv_transpose2d(x, w, cnnlab.tensor([0.5]), stride=2, padding=1, output_padding=1, at=(0, 1, 2))
    assert str(e).splitlines()[:4] == [
        "conv_transpose2d output[0, 0, 1, 2] (batch 0, channel 0, at (1, 2)): stride 2, padding 1, dilation 1",
        "  the inputs i and taps t with i·s + t·d = (2, 3) (the position + padding on the full output):",
        "  2×8 + 4×2 = 24",
        "  24 + bias 0.5 = 24.5",
    ]
    assert e.full_position == (2, 3) and e.value == 24.5 and e.agrees


def test_conv_transpose_scatter_prints_where_each_tap_goes():
    x = cnnlab.tensor([[[1.0, 2], [3, 4]]])
    e = explain.conv_transpose2d_scatter(x, cnnlab.ones(1, 1, 3, 3), stride=2, padding=1, at=(0, 1, 1))
    lines = str(e).splitlines()
    assert lines[0] == ("conv_transpose2d input[0, 0, 1, 1] = 4 (batch 0, channel 0, at (1, 1)) scatters x×K[t] to "
                        "i·s + t·d − p: stride 2, padding 1, dilation 1")
    assert lines[1] == "  channel 0, tap (0, 0): 4×1 = 4 to output (1, 1)"
    assert lines[9] == "  channel 0, tap (2, 2): 4×1 = 4 to full position (4, 4), cut off (padding or the output's end)"
    assert lines[-1] == "  conv_transpose2d of this input alone computes exactly these contributions"


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


# ---------------------------------------------------------------- output sizes
@pytest.mark.parametrize("n, k, s, p, d", [(7, 3, 2, 1, 1), (10, 3, 1, 0, 2), (8, 4, 3, (1, 2), 1), (5, 5, 1, 0, 1)])
def test_output_size_conv_is_shapes_and_its_windows_fit(n, k, s, p, d):
    e = explain.output_size(n, k, s, p, d)
    assert e.out == shapes.conv_output_size(n, k, s, p, d)
    assert e.starts == tuple(range(0, s * e.out, s)) and e.taps == tuple(range(0, d * k, d))
    assert e.starts[-1] + e.span <= e.positions


@pytest.mark.parametrize("n, k, s, p, d, ceil", [(5, 2, 2, 1, 1, True), (6, 3, 2, 0, 1, True), (7, 3, 2, 1, 2, False),
                                                 (10, 3, 3, 1, 1, True)])
def test_output_size_pool_is_shapes_with_the_ceil_rule(n, k, s, p, d, ceil):
    e = explain.output_size(n, k, s, p, d, ceil, mode="pool")
    assert e.out == shapes.pool_output_size(n, k, s, p, d, ceil)
    assert e.starts[-1] < n + p                                       # PyTorch's last-window rule
    assert e.starts[-1] + e.span <= e.positions


def test_output_size_pool_says_when_the_last_window_is_dropped():
    e = explain.output_size(5, 2, padding=1, ceil_mode=True, mode="pool")
    assert e.lines[3:] == (
        "  o = ⌈(n + 2p − d(k−1) − 1)/s⌉ + 1 = ⌈(5 + 2 − 1 − 1)/2⌉ + 1 = ⌈5/2⌉ + 1 = 4",
        "  the last window would start at (o − 1)s = 6 ≥ n + p = 6, in the right padding: it is dropped, o = 3",
        "  3 windows start at 0, 2, 4 of the padded axis's 7 positions 0..6; each reads start + 0, 1",
        "  position 6 is read by no window")
    assert e.stride == 2                                               # PyTorch's default stride: the kernel
    assert explain.output_size(6, 3, stride=2, ceil_mode=True, mode="pool").lines[2] == \
        "  padded input n + 2p = 6 + 2×0 = 6, and 1 of ceil-mode overhang after it: 7"


def test_output_size_transpose_and_same_tf():
    e = explain.output_size(4, 3, stride=2, padding=1, output_padding=1, mode="transpose")
    assert e.out == 8 == shapes.conv_transpose_output_size(4, 3, 2, 1, 1)
    assert e.starts == (0, 2, 4, 6) and e.lines[-1] == "  the output is full positions 1..8: the padding cuts 1 at " \
                                                       "the start and 0 at the end"
    e = explain.output_size(3, 1, stride=2, output_padding=1, mode="transpose")
    assert e.out == 6 and e.lines[-1].endswith("; the last 1 (output_padding) get no input, only the bias")
    e = explain.output_size(96, 7, stride=2, mode="same-tf")
    assert (e.out, e.padding) == (48, (2, 3)) and shapes.same_padding_tf(96, 7, 2) == (48, 2, 3)
    assert e.lines[3] == ("  padding = max((o − 1)s + d(k−1) + 1 − n, 0) = max((48−1)×2 + 7 − 96, 0) = 5: before "
                          "⌊5/2⌋ = 2, after 5 − 2 = 3 (the odd one after)")
    assert e.out == shapes.conv_output_size(96, 7, 2, (2, 3))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(mode="valid"), ValueError, r"explain.output_size: mode must be 'conv', 'pool', 'transpose' or 'same-tf', "
                                     r"got mode='valid'"),
    (dict(ceil_mode=True), ValueError, r"ceil_mode applies to mode='pool' only"),
    (dict(output_padding=1), ValueError, r"output_padding applies to mode='transpose' only"),
    (dict(mode="same-tf", padding=1), ValueError, r"computes its own padding .* got padding=1"),
    (dict(kernel_size=9), ValueError, r"explain.output_size: kernel size \(after dilation\) 9 is larger than the "
                                      r"padded input size 5"),
    (dict(n=0), ValueError, r"explain.output_size: n must be positive, got n=0"),
    (dict(stride=1.5), TypeError, r"explain.output_size: stride must be an int, got stride=1.5"),
    (dict(mode="pool", padding=2), ValueError, r"padding should be at most half of kernel size"),
    (dict(mode="pool", padding=(1, 0)), TypeError, r"padding must be an int, got padding=\(1, 0\)"),
])
def test_output_size_errors(kwargs, error, match):
    args = dict(n=5, kernel_size=3) | kwargs
    with pytest.raises(error, match=match):
        explain.output_size(**args)


# ---------------------------------------------------------------- errors: the op's checks, under explain's name
@pytest.mark.parametrize("call, error, match", [
    (lambda x, w: explain.conv2d(x, w, at=(0, 2, 0)), SettingError,
     r"explain.conv2d: at must be \(channel, i, j\) inside the output's \(1, 2, 2\), got 0, 2, 0"),
    (lambda x, w: explain.conv2d(x, w, at=(1, 0, 0)), SettingError, r"inside the output's \(1, 2, 2\), got 1, 0, 0"),
    (lambda x, w: explain.conv2d(x, w, at=(0, -1, 0)), SettingError, r"got 0, -1, 0"),
    (lambda x, w: explain.conv2d(x, w, at=(0, 0)), SettingError,
     r"explain.conv2d: at must be \(channel, i, j\), 3 ints, got \(0, 0\)"),
    (lambda x, w: explain.conv2d(x, w, at=(0, 0, 0.5)), SettingError, r"3 ints, got \(0, 0, 0.5\)"),
    (lambda x, w: explain.conv2d(x, w, at=(0, 0, 0), batch=1), SettingError,
     r"explain.conv2d: batch must be an int in \[0, 1\) \(the input's batch size\), got 1"),
    (lambda x, w: explain.conv2d(x, w, padding=-1, at=(0, 0, 0)), ValueError,
     r"explain.conv2d: padding must be non-negative"),
    (lambda x, w: explain.conv2d(x, cnnlab.ones(1, 2, 2, 2, dtype=cnnlab.float64), at=(0, 0, 0)), ValueError,
     r"explain.conv2d: input has 1 channel, but weight expects 2"),
    (lambda x, w: explain.conv2d(x, cnnlab.ones(1, 1, 4, 4, dtype=cnnlab.float64), at=(0, 0, 0)), ValueError,
     r"explain.conv2d: kernel size \(after dilation\) 4 is larger than the padded input size 3"),
    (lambda x, w: explain.conv2d(x.numpy(), w, at=(0, 0, 0)), TypeError,
     r"explain.conv2d: input must be a Tensor, got ndarray"),
    (lambda x, w: explain.conv1d(x, w, at=(0, 0)), ValueError, r"explain.conv1d: weight must be 3-d"),
    (lambda x, w: explain.conv_transpose2d(x, w, stride=2, output_padding=2, at=(0, 0, 0)), ValueError,
     r"explain.conv_transpose2d: output padding must be smaller than either stride or dilation"),
    (lambda x, w: explain.conv_transpose2d(x, w, at=(0, 4, 0)), SettingError,
     r"explain.conv_transpose2d: at must be \(channel, i, j\) inside the output's \(1, 4, 4\)"),
    (lambda x, w: explain.conv_transpose2d_scatter(x, w, at=(0, 3, 0)), SettingError,
     r"explain.conv_transpose2d: at must be \(channel, i, j\) inside the output's \(1, 3, 3\)"),
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
def test_bad_arguments_fail_first_naming_explain_and_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call(t64(LECTURE_X), t64(LECTURE_W))


# ---------------------------------------------------------------- helpers
def test_number_writes_integers_without_a_trailing_zero():
    assert [explain.number(v) for v in (370.0, -2.0, 0.1 + 0.2, np.float32(0.1), 1e20, float("nan"), -0.0)] == \
        ["370", "-2", "0.3", "0.1", "1e+20", "nan", "0"]
    assert str(explain.Term(0, (0, 0), -2.0, (0, 0, 0, 0), 3.0)) == "(-2)×3"


def test_grid_marks_the_window_and_the_winner():
    assert explain.grid(np.arange(1.0, 5).reshape(2, 2), [(0, 1), (1, 1)]).splitlines() == \
        ["    0   1", "0   1  [2]", "1   3  [4]"]
    assert explain.grid(np.array([1.0, 2, 3]), [(1,), (2,)], [(2,)]).splitlines() == ["  0   1   2", "  1  [2] <3>"]
    three = explain.grid(np.arange(8.0).reshape(2, 2, 2), [(1, 0, 0)])
    assert three.splitlines()[0] == "slice 1:" and "[4]" in three


def test_matrix_reads_inline_rows_channels_and_npy_files(tmp_path):
    np.testing.assert_array_equal(explain.matrix("1 2 3; 4,5,6", arg="input", ndim=3), [[[1, 2, 3], [4, 5, 6]]])
    assert explain.matrix("1 2; 3 4 | 5 6; 7 8", arg="kernel", ndim=4).shape == (1, 2, 2, 2)
    np.save(tmp_path / "x.npy", np.arange(12, dtype=np.int32).reshape(3, 4))
    a = explain.matrix(str(tmp_path / "x.npy"), arg="input", ndim=3)
    assert a.shape == (1, 3, 4) and a.dtype == np.float64
    np.save(tmp_path / "b.npy", np.array(["a"]))
    with pytest.raises(SettingError, match=r"explain.matrix: input: .*b.npy holds <U1 values, not numbers"):
        explain.matrix(str(tmp_path / "b.npy"), arg="input", ndim=3)
    np.save(tmp_path / "o.npy", np.array([object()]), allow_pickle=True)
    with pytest.raises(SettingError, match=r"explain.matrix: input: .*o.npy is not a plain .npy array"):
        explain.matrix(str(tmp_path / "o.npy"), arg="input", ndim=3)


@pytest.mark.parametrize("text, match", [
    ("1 2; 3", r"explain.matrix: kernel: channel 0, row 1 has 1 number, but row 0 has 2"),
    ("1 x", r"kernel: 'x' in channel 0, row 0 is not a number"),
    ("", r"kernel: channel 0 has no numbers"),
    ("1 2 | 3", r"kernel: channel 1 is 1×1, but channel 0 is 1×2"),
    ("missing.npy", r"kernel: there is no .npy file missing.npy"),
])
def test_matrix_errors_name_the_setting(text, match):
    with pytest.raises(SettingError, match=match) as info:
        explain.matrix(text, arg="kernel", ndim=4)
    assert info.value.with_flags({"kernel": "--kernel"}).startswith("--kernel: ")


def test_matrix_refuses_too_many_axes(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 1, 2, 2)))
    with pytest.raises(SettingError, match=r"input must have 2 to 4 axes, got shape \(1, 1, 1, 2, 2\)"):
        explain.matrix(str(tmp_path / "x.npy"), arg="input", ndim=4)
    np.save(tmp_path / "y.npy", np.zeros((2, 3, 2, 2)))
    assert explain.matrix(str(tmp_path / "y.npy"), arg="input", ndim=3).shape == (2, 3, 2, 2)
    with pytest.raises(SettingError, match=r"bias must have 2 to 2 axes, got shape \(2, 3, 2, 2\)"):
        explain.matrix(str(tmp_path / "y.npy"), arg="bias", ndim=2, most=2)
