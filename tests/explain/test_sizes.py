"""cnnlab.explain.sizes: output sizes with the formula in the lecture's letters, the numbers from shapes."""
from __future__ import annotations

import pytest

from cnnlab import explain, shapes


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
