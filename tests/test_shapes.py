"""Tests of cnnlab.shapes: pinned values, error messages, naive oracles and PyTorch.

The PyTorch oracle tests take the ``torch`` fixture (conftest.py): skipped only without torch, never in CI,
so the rest of the file runs on a machine without torch.
"""
import doctest
import itertools
import math
import random

import pytest

from cnnlab import shapes
from cnnlab.shapes import (RFInfo, adaptive_bins, conv_output_size, conv_transpose_output_size,
                           effective_stride_and_padding, pool_output_size,
                           receptive_field, same_padding_tf, same_padding_torch,
                           unpool_output_size, valid_output_size_tf)


def test_docstring_examples():
    failed, attempted = doctest.testmod(shapes)
    assert attempted > 15 and failed == 0


# ------------------------------------------------------------------ pinned values

def test_conv_output_size_pins():
    assert conv_output_size(32, 5) == 28
    assert conv_output_size(32, 5, padding=2) == 32
    assert conv_output_size(7, 3, stride=2, padding=1) == 4
    assert conv_output_size(227, 11, stride=4) == 55          # AlexNet conv1
    assert conv_output_size(224, 7, stride=2, padding=3) == 112  # ResNet stem
    assert conv_output_size(10, 3, dilation=2) == 6
    assert conv_output_size(5, 5) == 1
    assert conv_output_size(6, 3, 2, padding=(0, 1)) == 3     # TF 'same' split
    assert conv_output_size(4, 5, padding=(1, 0)) == 1


def test_pool_output_size_pins():
    assert pool_output_size(5, 2, 2) == 2
    assert pool_output_size(5, 2, 2, ceil_mode=True) == 3
    assert pool_output_size(5, 2, 2, padding=1, ceil_mode=True) == 3
    assert pool_output_size(5, 2, 2, padding=1) == 3
    assert pool_output_size(224, 3, 2, padding=1) == 112       # ResNet max pool
    assert pool_output_size(55, 3, 2) == 27                    # AlexNet
    assert pool_output_size(6, 2) == 3                         # stride defaults to k
    assert pool_output_size(10, 3, 1, dilation=2) == 6
    assert pool_output_size(2, 3, 2, padding=1, dilation=2, ceil_mode=True) == 1


def test_pool_ceil_mode_drops_window_starting_in_right_padding():
    # n=5, k=2, s=2, p=1: padded input is [-1, 6); the ceil formula gives 4 windows
    # starting at -1, 1, 3, 5 -- the last starts at 5 = n, in the right padding.
    raw = (5 + 2 * 1 - 1 * (2 - 1) - 1 + (2 - 1)) // 2 + 1
    assert raw == 4
    assert pool_output_size(5, 2, 2, padding=1, ceil_mode=True) == 3
    # Same with n=7, k=3, s=3, p=1: windows at -1, 2, 5, 8 -> 8 >= n + p, dropped.
    assert pool_output_size(7, 3, 3, padding=1, ceil_mode=True) == 3
    # Kept when the last window starts inside the input: n=6, k=2, s=2, p=1.
    assert pool_output_size(6, 2, 2, padding=1, ceil_mode=True) == 4


def test_conv_transpose_and_unpool_pins():
    assert conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1) == 8
    assert conv_transpose_output_size(4, 4, stride=2, padding=1) == 8   # DCGAN upsample
    assert conv_transpose_output_size(3, 3) == 5
    assert conv_transpose_output_size(2, 1, stride=1, output_padding=2, dilation=3) == 4
    assert conv_transpose_output_size(5, 3, dilation=2, padding=2) == 5
    assert unpool_output_size(2, 2, 2) == 4
    assert unpool_output_size(3, 3, 2, padding=1) == 5
    assert unpool_output_size(4, 2) == 8


def test_conv_transpose_inverts_conv_size():
    for n, k, s, p, d in itertools.product(range(1, 12), range(1, 5), range(1, 4), range(3),
                                           range(1, 3)):
        try:
            o = conv_output_size(n, k, s, p, d)
        except ValueError:
            continue
        extra = n - ((o - 1) * s - 2 * p + d * (k - 1) + 1)  # rows the conv's floor dropped
        assert 0 <= extra < s
        if extra < max(s, d):
            assert conv_transpose_output_size(o, k, s, p, extra, d) == n


def test_same_padding_pins():
    assert same_padding_torch(3) == (1, 1)
    assert same_padding_torch(4) == (1, 2)
    assert same_padding_torch(1) == (0, 0)
    assert same_padding_torch(3, dilation=2) == (2, 2)
    assert same_padding_torch(2, dilation=3) == (1, 2)
    assert same_padding_tf(96, 7, stride=2) == (48, 2, 3)
    assert same_padding_tf(6, 3, stride=2) == (3, 0, 1)
    assert same_padding_tf(5, 3, stride=2) == (3, 1, 1)
    assert same_padding_tf(7, 1, stride=3) == (3, 0, 0)
    assert same_padding_tf(5, 3) == (5, 1, 1)
    assert same_padding_tf(5, 4) == (5, 1, 2)
    assert same_padding_tf(3, 7, stride=5) == (1, 2, 2)
    assert same_padding_tf(10, 3, dilation=2) == (10, 2, 2)
    assert valid_output_size_tf(7, 3, stride=2) == 3
    assert valid_output_size_tf(10, 3, stride=3, dilation=2) == 2


def test_same_padding_tf_properties():
    for n, k, s, d in itertools.product(range(1, 20), range(1, 6), range(1, 5), range(1, 4)):
        o, before, after = same_padding_tf(n, k, s, d)
        assert o == math.ceil(n / s)
        assert 0 <= after - before <= 1
        assert conv_output_size(n, k, s, (before, after), d) == o
        if s == 1:
            assert (before, after) == same_padding_torch(k, d)
        if n > d * (k - 1):
            assert valid_output_size_tf(n, k, s, d) == math.ceil((n - d * (k - 1)) / s)


def test_adaptive_bins():
    assert adaptive_bins(5, 3) == [(0, 2), (1, 4), (3, 5)]
    assert adaptive_bins(6, 3) == [(0, 2), (2, 4), (4, 6)]
    assert adaptive_bins(7, 1) == [(0, 7)]
    assert adaptive_bins(2, 4) == [(0, 1), (0, 1), (1, 2), (1, 2)]
    for n, o in itertools.product(range(1, 15), range(1, 15)):
        bins = adaptive_bins(n, o)
        assert len(bins) == o and bins[0][0] == 0 and bins[-1][1] == n
        assert all(0 <= a < b <= n for a, b in bins)


# -------------------------------------------------------------- receptive fields

def test_receptive_field_small_stack_by_hand():
    # conv3 p1 -> pool2 s2 -> conv3 p1 -> conv3 s2 d2 p2
    layers = [(3, 1, 1, 1), (2, 2, 0, 1), (3, 1, 1, 1), (3, 2, 2, 2)]
    # r: 1+2=3; 3+1*1=4; 4+2*2=8; 8+4*2=16.   j: 1, 2, 2, 4.
    # start: 0.5+(1-1)=0.5; 0.5+(0.5-0)*1=1.0; 1.0+(1-1)*2=1.0; 1.0+(2-2)*2=1.0
    assert receptive_field(layers) == [RFInfo(3, 1, 0.5), RFInfo(4, 2, 1.0),
                                       RFInfo(8, 2, 1.0), RFInfo(16, 4, 1.0)]
    # P: 0+1*1=1; 1+0*1=1; 1+1*2=3; 3+2*2=7.  S = 1*2*1*2 = 4.
    assert effective_stride_and_padding(layers) == (4, 7)


def test_receptive_field_three_tuples_pairs_and_empty():
    assert receptive_field([(3, 1, 0)]) == [RFInfo(3, 1, 1.5)]
    assert receptive_field([(4, 1, (1, 2))]) == [RFInfo(4, 1, 1.0)]
    assert receptive_field([]) == []
    assert effective_stride_and_padding([]) == (1, 0)
    assert effective_stride_and_padding(iter([(7, 2, 3), (3, 2, 1)])) == (4, 5)


def _naive_field(layers):
    """Walk output unit 0 back to the input: (leftmost, rightmost) input pixel it sees."""
    lo = hi = 0
    for k, s, p, d in reversed(layers):
        lo, hi = lo * s - p, hi * s - p + d * (k - 1)
    return lo, hi


def test_receptive_field_against_naive_walk():
    rng = random.Random(0)
    for _ in range(300):
        layers = [(rng.randint(1, 5), rng.randint(1, 3), rng.randint(0, 2), rng.randint(1, 3))
                  for _ in range(rng.randint(1, 6))]
        info = receptive_field(layers)
        for depth in range(1, len(layers) + 1):
            lo, hi = _naive_field(layers[:depth])
            r, j, start = info[depth - 1]
            assert r == hi - lo + 1
            assert start == (lo + hi + 1) / 2
            assert j == math.prod(s for _, s, _, _ in layers[:depth])
            S, P = effective_stride_and_padding(layers[:depth])
            assert (S, P) == (j, -lo)
            assert start == (r - 1) / 2 - P + 0.5


# ------------------------------------------------------------------ error messages

def test_conv_errors():
    with pytest.raises(ValueError, match=r"^conv2d: kernel size \(after dilation\) 5 is larger "
                                         r"than the padded input size 4"):
        conv_output_size(4, 5, op="conv2d")
    with pytest.raises(ValueError, match=r"kernel size \(after dilation\) 5 is larger than the "
                                         r"padded input size 4 \(input_size=2, padding=1, "
                                         r"kernel_size=3, dilation=2\)"):
        conv_output_size(2, 3, padding=1, dilation=2)
    with pytest.raises(ValueError, match=r"^conv2d: stride must be positive, got stride=0$"):
        conv_output_size(8, 3, stride=0, op="conv2d")
    with pytest.raises(ValueError, match=r"^conv: dilation must be positive, got dilation=-1$"):
        conv_output_size(8, 3, dilation=-1)
    with pytest.raises(ValueError, match=r"^conv: kernel_size must be positive, got kernel_size=0"):
        conv_output_size(8, 0)
    with pytest.raises(ValueError, match=r"^conv: input_size must be positive, got input_size=0"):
        conv_output_size(0, 1)
    with pytest.raises(ValueError, match=r"^conv: padding must be non-negative, got padding=-1$"):
        conv_output_size(8, 3, padding=-1)
    with pytest.raises(ValueError, match=r"padding must be non-negative, got padding=\(0, -1\)"):
        conv_output_size(8, 3, padding=(0, -1))
    with pytest.raises(TypeError, match=r"^conv1d: padding must be an int or a \(before, after\) "
                                        r"pair of ints, got padding=\(1, 2, 3\)"):
        conv_output_size(8, 3, padding=(1, 2, 3), op="conv1d")
    with pytest.raises(TypeError, match=r"^conv: stride must be an int, got stride=True \(bool\)"):
        conv_output_size(8, 3, stride=True)
    with pytest.raises(TypeError, match=r"^conv: kernel_size must be an int, got "
                                        r"kernel_size=3.0 \(float\)"):
        conv_output_size(8, 3.0)


def test_validation_comes_before_size_rules():
    # A bad stride is reported even though the kernel is also too large.
    with pytest.raises(ValueError, match="stride must be positive"):
        conv_output_size(2, 5, stride=0)
    with pytest.raises(TypeError, match=r"ceil_mode must be True or False, got ceil_mode=1 \(int\)"):
        pool_output_size(2, 3, padding=2, ceil_mode=1)


def test_pool_errors():
    with pytest.raises(ValueError, match=r"^max_pool2d: padding should be at most half of kernel "
                                         r"size, but got padding=2 and kernel_size=3$"):
        pool_output_size(8, 3, 2, padding=2, op="max_pool2d")
    # Dilation does not widen the limit: p <= k // 2, not half the dilated kernel.
    with pytest.raises(ValueError, match="at most half of kernel size"):
        pool_output_size(8, 3, 1, padding=2, dilation=2)
    with pytest.raises(ValueError, match=r"padding=\(0, 2\) and kernel_size=2"):
        pool_output_size(8, 2, 2, padding=(0, 2))
    with pytest.raises(ValueError, match=r"^max_pool1d: given input size 4, calculated output "
                                         r"size 0; output size is too small"):
        pool_output_size(4, 5, 1, op="max_pool1d")
    with pytest.raises(ValueError, match=r"^pool: stride must be positive, got stride=0$"):
        pool_output_size(4, 2, 0)
    with pytest.raises(ValueError, match=r"^pool: padding must be non-negative"):
        pool_output_size(4, 2, 2, padding=-1)


def test_conv_transpose_errors():
    with pytest.raises(ValueError, match=r"^conv_transpose2d: output padding must be smaller than "
                                         r"either stride or dilation, got output_padding=2, "
                                         r"stride=2, dilation=1$"):
        conv_transpose_output_size(4, 3, stride=2, output_padding=2, op="conv_transpose2d")
    with pytest.raises(ValueError, match="output padding must be smaller"):
        conv_transpose_output_size(4, 3, stride=1, output_padding=1)
    with pytest.raises(ValueError, match=r"^conv_transpose: given input size 1, calculated output "
                                         r"size -1; output size is too small"):
        conv_transpose_output_size(1, 1, padding=1)
    with pytest.raises(ValueError, match=r"output_padding must be non-negative"):
        conv_transpose_output_size(4, 3, output_padding=-1)


def test_unpool_same_padding_adaptive_rf_errors():
    with pytest.raises(ValueError, match=r"^max_unpool1d: given input size 1, calculated output "
                                         r"size 0; output size is too small"):
        unpool_output_size(1, 2, 2, padding=1, op="max_unpool1d")
    with pytest.raises(ValueError, match=r"^conv2d: dilation must be positive, got dilation=0$"):
        same_padding_torch(3, 0, op="conv2d")
    with pytest.raises(ValueError, match=r"^conv: stride must be positive, got stride=0$"):
        same_padding_tf(5, 3, 0)
    with pytest.raises(ValueError, match=r"kernel size \(after dilation\) 7 is larger than the "
                                         r"padded input size 5"):
        valid_output_size_tf(5, 4, dilation=2)
    with pytest.raises(ValueError, match=r"^adaptive_avg_pool2d: output_size must be positive, "
                                         r"got output_size=0$"):
        adaptive_bins(5, 0, op="adaptive_avg_pool2d")
    with pytest.raises(ValueError, match=r"^adaptive_pool: input_size must be positive"):
        adaptive_bins(0, 3)
    with pytest.raises(TypeError, match=r"^receptive_field: layer 1 must be \(kernel_size, stride, "
                                        r"padding\[, dilation\]\), got \(3, 1\)$"):
        receptive_field([(3, 1, 1), (3, 1)])
    with pytest.raises(ValueError, match=r"^receptive_field: layer 0 stride must be positive, "
                                         r"got layer 0 stride=0$"):
        receptive_field([(3, 0, 1)])
    with pytest.raises(ValueError, match=r"^effective_stride_and_padding: layer 0 padding must be "
                                         r"non-negative"):
        effective_stride_and_padding([(3, 1, -1)])


# --------------------------------------------------------------- PyTorch oracles

def _torch_size(fn):
    """Last dim of fn()'s output, or None when PyTorch rejects the configuration."""
    try:
        size = fn().shape[-1]
    except RuntimeError:
        return None
    return size if size >= 1 else None


def _ours(fn):
    try:
        return fn()
    except ValueError:
        return None


def _random_configs(seed, count, **ranges):
    rng = random.Random(seed)
    return [{name: rng.randint(lo, hi) for name, (lo, hi) in ranges.items()} for _ in range(count)]


def test_pool_output_size_matches_torch(torch):
    F = torch.nn.functional
    rng = random.Random(1)
    configs = _random_configs(1, 400, n=(1, 16), k=(1, 5), s=(1, 4), p=(0, 2), d=(1, 3))
    rejected = accepted = 0
    for c in configs:
        n, k, s, p, d = c["n"], c["k"], c["s"], c["p"], c["d"]
        ceil = rng.random() < 0.5
        ours = _ours(lambda: pool_output_size(n, k, s, p, d, ceil))
        x = torch.zeros(1, 1, n)
        xg = torch.zeros(1, 1, n, requires_grad=True)  # the max_pool2d-based path
        for fn in (lambda: F.max_pool1d(x, k, s, p, d, ceil),
                   lambda: F.max_pool1d(xg, k, s, p, d, ceil),
                   lambda: F.max_pool2d(x[None], (1, k), (1, s), (0, p), (1, d), ceil)):
            assert ours == _torch_size(fn), (c, ceil)
        if d == 1:
            assert ours == _torch_size(lambda: F.avg_pool1d(x, k, s, p, ceil)), (c, ceil)
        rejected, accepted = rejected + (ours is None), accepted + (ours is not None)
    assert rejected > 50 and accepted > 150


def test_pool_ceil_mode_edge_grid_matches_torch(torch):
    F = torch.nn.functional
    for n, k, s in itertools.product(range(1, 9), range(1, 5), range(1, 5)):
        for p in range(k // 2 + 1):
            ours = _ours(lambda: pool_output_size(n, k, s, p, 1, True))
            theirs = _torch_size(lambda: F.max_pool1d(torch.zeros(1, 1, n), k, s, p, 1, True))
            assert ours == theirs, (n, k, s, p)


def test_conv_output_size_matches_torch(torch):
    F = torch.nn.functional
    configs = _random_configs(2, 400, n=(1, 12), k=(1, 6), s=(1, 4), p=(0, 3), q=(0, 3),
                              d=(1, 3))
    rejected = 0
    for c in configs:
        n, k, s, p, q, d = c["n"], c["k"], c["s"], c["p"], c["q"], c["d"]
        x, w = torch.zeros(1, 1, n), torch.zeros(1, 1, k)
        ours = _ours(lambda: conv_output_size(n, k, s, p, d))
        assert ours == _torch_size(lambda: F.conv1d(x, w, None, s, p, d)), c
        # (before, after) padding == explicit zero pad, then an unpadded conv
        ours = _ours(lambda: conv_output_size(n, k, s, (p, q), d))
        assert ours == _torch_size(lambda: F.conv1d(F.pad(x, (p, q)), w, None, s, 0, d)), c
        rejected += ours is None
    assert rejected > 30


def test_conv_transpose_output_size_matches_torch(torch):
    F = torch.nn.functional
    configs = _random_configs(3, 400, n=(1, 8), k=(1, 5), s=(1, 4), p=(0, 4), op=(0, 3),
                              d=(1, 3))
    rejected = 0
    for c in configs:
        n, k, s, p, op, d = c["n"], c["k"], c["s"], c["p"], c["op"], c["d"]
        ours = _ours(lambda: conv_transpose_output_size(n, k, s, p, op, d))
        theirs = _torch_size(lambda: F.conv_transpose1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k),
                                                        None, s, p, op, 1, d))
        assert ours == theirs, c
        rejected += ours is None
    assert rejected > 50


def test_unpool_output_size_matches_torch(torch):
    F = torch.nn.functional
    for c in _random_configs(4, 300, n=(1, 8), k=(1, 5), s=(1, 4), p=(0, 3)):
        n, k, s, p = c["n"], c["k"], c["s"], c["p"]
        ours = _ours(lambda: unpool_output_size(n, k, s, p))
        x, idx = torch.zeros(1, 1, n), torch.zeros(1, 1, n, dtype=torch.long)
        try:
            theirs = F.max_unpool1d(x, idx, k, s, p).shape[-1]
        except (RuntimeError, ValueError):
            theirs = None
        # PyTorch returns an empty output where the size is 0; cnnlab refuses it.
        assert ours == (theirs if theirs else None), c
    # after a real max pool whose windows tile its input, the default size is that input's
    # (otherwise it may be smaller, and PyTorch wants output_size)
    for n, k, s in itertools.product(range(1, 13), range(1, 5), range(1, 5)):
        for p in range(k // 2 + 1):
            if n + 2 * p < k or (n + 2 * p - k) % s:
                continue
            o = pool_output_size(n, k, s, p)
            y, idx = F.max_pool1d(torch.arange(float(n)).reshape(1, 1, n), k, s, p,
                                  return_indices=True)
            assert F.max_unpool1d(y, idx, k, s, p).shape[-1] == n
            assert unpool_output_size(o, k, s, p) == n


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_same_padding_torch_matches_torch(torch):
    F = torch.nn.functional
    gen = torch.Generator().manual_seed(5)
    for n, k, d in itertools.product((1, 4, 7), range(1, 6), range(1, 4)):
        before, after = same_padding_torch(k, d)
        x = torch.randn(1, 2, n, dtype=torch.float64, generator=gen)
        w = torch.randn(3, 2, k, dtype=torch.float64, generator=gen)
        same = F.conv1d(x, w, padding="same", dilation=d)
        explicit = F.conv1d(F.pad(x, (before, after)), w, dilation=d)
        assert same.shape[-1] == n
        torch.testing.assert_close(explicit, same, rtol=1e-12, atol=1e-12)


def test_adaptive_bins_match_torch(torch):
    F = torch.nn.functional
    gen = torch.Generator().manual_seed(6)
    for n, o in itertools.product(range(1, 11), range(1, 11)):
        x = torch.randn(1, 1, n, dtype=torch.float64, generator=gen)
        bins = adaptive_bins(n, o)
        mean = torch.stack([x[..., a:b].mean(-1) for a, b in bins], -1)
        top = torch.stack([x[..., a:b].amax(-1) for a, b in bins], -1)
        torch.testing.assert_close(F.adaptive_avg_pool1d(x, o), mean, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(F.adaptive_max_pool1d(x, o), top, rtol=0, atol=0)


def test_receptive_field_matches_torch_gradient(torch):
    F = torch.nn.functional
    rng = random.Random(7)
    for _ in range(20):
        layers = [(rng.randint(1, 4), rng.randint(1, 2), rng.randint(0, 1), rng.randint(1, 2))
                  for _ in range(rng.randint(1, 4))]
        r, j, start = receptive_field(layers)[-1]
        S, P = effective_stride_and_padding(layers)
        u = P // j + 1  # an output unit whose field starts inside the input
        x = torch.zeros(1, 1, u * j + r + 8, dtype=torch.float64, requires_grad=True)
        y = x
        for k, s, p, d in layers:
            y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), None, s, p, d)
        y[0, 0, u].backward()
        seen = x.grad[0, 0].nonzero().flatten().tolist()
        assert max(seen) - min(seen) + 1 == r, layers
        assert (min(seen) + max(seen) + 1) / 2 == start + u * j, layers


def test_field_after_is_the_articles_recurrence_and_agrees_with_receptive_field():
    layers = [(7, 2, 3, 1), (3, 2, 1, 1), (3, 1, 2, 2), (2, 2, (0, 1), 1)]
    field = shapes.Field(1, 1, 0)
    for layer, info in zip(layers, receptive_field(layers)):
        field = shapes.field_after(field, *layer)
        assert (field.size, field.stride, field.size / 2 - field.padding) == tuple(info)
    assert (field.stride, field.padding) == effective_stride_and_padding(layers)
    assert shapes.field_after(shapes.Field(3, 2, 1), 2, 2, (0, 1), 1) == shapes.Field(5, 4, 1)


def test_field_after_a_transposed_conv_is_a_conv_of_stride_one_over_s():
    F = shapes.Fraction
    assert shapes.field_after(shapes.Field(1, 1, 0), 3, 2, 0, transposed=True) == \
        shapes.Field(2, F(1, 2), 1)
    up = shapes.field_after(shapes.Field(3, 2, 1), 4, 2, 1, transposed=True)
    assert up == shapes.Field(6, 1, 3) and all(type(v) is int for v in up)
    # brute force: transposed output y reads input i where y = i·s − p + t·d, t < k
    k, s, p, d = 3, 3, 1, 2
    f = shapes.field_after(shapes.Field(1, 1, 0), k, s, p, d, transposed=True)
    for y in range(10):
        reads = [i for i in range(-5, 10) for t in range(k) if y == i * s - p + t * d]
        a, b = shapes.field_region(f, y)
        assert math.ceil(a) <= min(reads) and max(reads) <= math.floor(b)


def test_field_after_checks_its_arguments():
    with pytest.raises(ValueError, match="field_after: kernel_size must be positive, got kernel_size=0"):
        shapes.field_after(shapes.Field(1, 1, 0), 0)
    with pytest.raises(ValueError, match="summary: padding must be non-negative"):
        shapes.field_after(shapes.Field(1, 1, 0), 3, 1, -1, op="summary")


def test_merge_fields_covers_every_path_and_tells_alignment():
    assert shapes.merge_fields([shapes.Field(5, 2, 2), shapes.Field(1, 2, 0)]) == (shapes.Field(5, 2, 2), True)
    assert shapes.merge_fields([shapes.Field(3, 1, 1), shapes.Field(2, 1, 0)]) == (shapes.Field(3, 1, 1), False)
    assert shapes.merge_fields([shapes.Field(3, 1, 0), shapes.Field(7, 1, 5)]) == (shapes.Field(8, 1, 5), False)
    assert shapes.merge_fields([shapes.Field(3, 1, 1), shapes.Field(3, 2, 1)]) == (None, False)
    # the union of the regions, unit by unit
    fields = [shapes.Field(3, 2, 0), shapes.Field(9, 2, 4), shapes.Field(2, 2, 1)]
    merged, _ = shapes.merge_fields(fields)
    for x in range(5):
        regions = [shapes.field_region(f, x) for f in fields]
        assert shapes.field_region(merged, x) == (min(a for a, _ in regions), max(b for _, b in regions))


def test_field_region():
    assert shapes.field_region(shapes.Field(212, 32, 90), 0) == (-90, 121)
    assert shapes.field_region(shapes.Field(212, 32, 90), 6) == (102, 313)
    assert shapes.field_region(shapes.Field(shapes.Fraction(5, 2), shapes.Fraction(1, 2), 1), 3) == \
        (shapes.Fraction(1, 2), 2)
