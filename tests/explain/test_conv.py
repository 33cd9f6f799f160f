"""cnnlab.explain.conv: the lecture's worked examples as printed; every element against the op and PyTorch."""
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


# ---------------------------------------------------------------- conv against the op and PyTorch
CONV_CASES = [  # D, N, C_in, C_out, groups, spatial, kernel, stride, padding, dilation, bias
    (1, 2, 3, 4, 1, (9,), (3,), (2,), (1,), (2,), True),
    (2, 2, 4, 6, 2, (7, 8), (3, 2), (2, 1), (1, 0), (1, 2), True),
    (2, 1, 3, 3, 3, (6, 5), (2, 3), (1, 2), (2, 1), (2, 1), False),
    (2, 3, 2, 2, 1, (5, 5), (3, 3), 1, "same", 1, True),
    (2, 1, 2, 2, 1, (5, 6), (2, 4), 1, "same", (2, 1), True),      # PyTorch's 'same' split: the odd one after
    (2, 2, 2, 2, 1, (4, 5), (3, 2), (2, 1), "valid", 1, False),
    (3, 2, 2, 4, 2, (4, 5, 4), (2, 3, 2), (1, 2, 1), (1, 0, 1), (2, 1, 1), True),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")   # PyTorch's note on its copy
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: f"{c[0]}d-g{c[4]}-{c[5]}-{c[8]}")
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


def test_float32_agrees_to_float_rounding_under_every_conv_kernel(kernel):
    rng = rng_for("f32")
    x = cnnlab.tensor(rng.standard_normal((1, 16, 5, 5)).astype(np.float32))
    w = cnnlab.tensor(rng.standard_normal((8, 16, 3, 3)).astype(np.float32))
    e = explain.conv2d(x, w, padding=1, at=(3, 2, 2))
    assert e.agrees and "the same" in e.check
    assert len(e.grids) == explain.printing.GRID_CHANNELS
    assert "(grids of 12 more channels left out: the window is the same)" in str(e)


def test_a_large_input_shows_only_the_window_and_around_it():
    x = cnnlab.tensor(np.arange(30.0 * 30).reshape(1, 30, 30))
    e = explain.conv2d(x, cnnlab.tensor(np.ones((1, 1, 3, 3))), padding=2, dilation=2, at=(0, 10, 3))
    rows = str(e.grids[0][1]).splitlines()
    assert rows[0].split() == ["…"] + [str(c) for c in range(1, 10)] and rows[1].strip() == "…"
    assert rows[2].split()[:3] == ["8", "…", "0"] and rows[-1].strip() == "…"
    assert "[241]" in e.grids[0][1]          # padded (10, 3) is input (8, 1): 8·30 + 1


def test_a_disagreement_with_the_op_is_said(monkeypatch):
    monkeypatch.setitem(explain.conv._CONV, 2, lambda *args: cnnlab.zeros(1, 1, 2, 2, dtype=cnnlab.float64))
    e = explain.conv2d(t64(LECTURE_X), t64(LECTURE_W), at=(0, 1, 1))
    assert not e.agrees and e.check == "conv2d computes 0: DIFFERENT from 770 by 770"


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
])
def test_bad_conv_arguments_fail_first_naming_explain_and_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call(t64(LECTURE_X), t64(LECTURE_W))
