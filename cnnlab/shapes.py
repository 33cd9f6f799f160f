"""The arithmetic of the lecture: every size formula of cnnlab, in one place.

Pure functions on Python ints; ops, layers, ``summary`` and ``explain`` all
call these, so a formula is written exactly once. The output sizes that the ops
ask for on every call remember their answers (`cnnlab.arguments.memoized`). Each function checks its
arguments first with the parsers of `cnnlab.arguments`, whose messages name the
op (the ``op`` keyword), the argument, the rule and what came:
``conv: kernel_size must be positive, got kernel_size=0``.

Notation (one spatial axis):
    n  input size        k  kernel size      s  stride
    p  padding           d  dilation         o  output size
    d(k-1)+1 is the dilated ("effective") kernel size.

Example:
    >>> conv_output_size(32, 5, stride=1, padding=2)
    32
    >>> pool_output_size(5, 2, 2, ceil_mode=True)
    3
"""
from __future__ import annotations

from collections import namedtuple
from fractions import Fraction

from cnnlab.arguments import boolean, check_positive, memoized, nonnegative_int, padding_pair, positive_int

__all__ = ["conv_output_size", "pool_output_size", "conv_transpose_output_size", "unpool_output_size",
           "same_padding_torch", "conv_pads", "same_padding_tf", "valid_output_size_tf", "conv_transpose_padding_tf", "adaptive_bins",
           "RFInfo", "receptive_field", "effective_stride_and_padding", "Field", "field_after", "merge_fields",
           "field_region"]


# ------------------------------------------------------------- output sizes

@memoized
def conv_output_size(n, kernel_size, stride=1, padding=0, dilation=1, *, op="conv"):
    """Output size of a (dilated) convolution along one axis, as PyTorch's conv.

    o = floor((n + p_before + p_after - d(k-1) - 1) / s) + 1, where ``padding``
    is p (both sides) or a (p_before, p_after) pair. The dilated kernel
    d(k-1)+1 must fit in the padded input n + p_before + p_after.

    Example:
        >>> conv_output_size(7, 3, stride=2, padding=1)
        4
        >>> conv_output_size(10, 3, dilation=2)   # effective kernel 5
        6
    """
    n = positive_int(n, op=op, arg="input_size")
    k = positive_int(kernel_size, op=op, arg="kernel_size")
    s = positive_int(stride, op=op, arg="stride")
    d = positive_int(dilation, op=op, arg="dilation")
    before, after = padding_pair(padding, op=op)
    span, padded = d * (k - 1) + 1, n + before + after
    if span > padded:
        raise ValueError(f"{op}: kernel size (after dilation) {span} is larger than the padded "
                         f"input size {padded} (input_size={n}, padding={padding!r}, "
                         f"kernel_size={k}, dilation={d})")
    return (padded - span) // s + 1


@memoized
def pool_output_size(n, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, *,
                     op="pool"):
    """Output size of max/avg pooling along one axis: PyTorch's rule exactly.

    o = floor((n + 2p - d(k-1) - 1 + (s-1 if ceil_mode else 0)) / s) + 1, and in
    ceil mode the last window must start inside the input or the left padding:
    if (o-1)s >= n + p then o = o - 1. Rules (as PyTorch): p <= k // 2 and o >= 1.
    ``stride=None`` means s = k (PyTorch's default). ``padding`` may also be a
    (before, after) pair; the rules then hold for each side.

    Example:
        >>> pool_output_size(5, 2, 2)                  # floor
        2
        >>> pool_output_size(5, 2, 2, ceil_mode=True)  # last window is [4, 6)
        3
    """
    n = positive_int(n, op=op, arg="input_size")
    k = positive_int(kernel_size, op=op, arg="kernel_size")
    s = k if stride is None else positive_int(stride, op=op, arg="stride")
    d = positive_int(dilation, op=op, arg="dilation")
    before, after = padding_pair(padding, op=op)
    ceil_mode = boolean(ceil_mode, op=op, arg="ceil_mode")
    if max(before, after) > k // 2:
        raise ValueError(f"{op}: padding should be at most half of kernel size, but got "
                         f"padding={padding!r} and kernel_size={k}")
    o = (n + before + after - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + before:
        o -= 1  # the last window would start in the right padding: drop it
    if o < 1:
        raise ValueError(f"{op}: given input size {n}, calculated output size {o}; output size "
                         f"is too small (kernel_size={k}, stride={s}, padding={padding!r}, "
                         f"dilation={d}, ceil_mode={ceil_mode})")
    return o


@memoized
def conv_transpose_output_size(n, kernel_size, stride=1, padding=0, output_padding=0,
                               dilation=1, *, op="conv_transpose"):
    """Output size of a transposed convolution along one axis, as PyTorch's.

    o = (n-1)s - 2p + d(k-1) + output_padding + 1. Rules (as PyTorch):
    output_padding < s or output_padding < d, and o >= 1.

    Example:
        >>> conv_transpose_output_size(4, 3, stride=2, padding=1, output_padding=1)
        8
    """
    n = positive_int(n, op=op, arg="input_size")
    k = positive_int(kernel_size, op=op, arg="kernel_size")
    s = positive_int(stride, op=op, arg="stride")
    p = nonnegative_int(padding, op=op, arg="padding")
    op_ = nonnegative_int(output_padding, op=op, arg="output_padding")
    d = positive_int(dilation, op=op, arg="dilation")
    if not (op_ < s or op_ < d):
        raise ValueError(f"{op}: output padding must be smaller than either stride or dilation, "
                         f"got output_padding={op_}, stride={s}, dilation={d}")
    o = (n - 1) * s - 2 * p + d * (k - 1) + op_ + 1
    if o < 1:
        raise ValueError(f"{op}: given input size {n}, calculated output size {o}; output size "
                         f"is too small (kernel_size={k}, stride={s}, padding={p}, "
                         f"output_padding={op_}, dilation={d})")
    return o


def unpool_output_size(n, kernel_size, stride=None, padding=0, *, op="max_unpool"):
    """Default output size of max unpooling along one axis (PyTorch's ``max_unpool``).

    o = (n-1)s - 2p + k, the size of the input of the max pool that is undone
    (in floor mode without dilation). ``stride=None`` means s = k. Rule: o >= 1.

    Example:
        >>> unpool_output_size(2, 2, 2)
        4
    """
    n = positive_int(n, op=op, arg="input_size")
    k = positive_int(kernel_size, op=op, arg="kernel_size")
    s = k if stride is None else positive_int(stride, op=op, arg="stride")
    p = nonnegative_int(padding, op=op, arg="padding")
    o = (n - 1) * s - 2 * p + k
    if o < 1:
        raise ValueError(f"{op}: given input size {n}, calculated output size {o}; output size "
                         f"is too small (kernel_size={k}, stride={s}, padding={p})")
    return o


# ------------------------------------------------------------ 'same' padding

def same_padding_torch(kernel_size, dilation=1, *, op="conv"):
    """PyTorch's ``padding='same'`` split (stride 1 only in PyTorch) -> (before, after).

    total = d(k-1); before = total // 2; after = total - before, so the odd
    pixel goes to the right/bottom.

    Example:
        >>> same_padding_torch(4)
        (1, 2)
    """
    k = positive_int(kernel_size, op=op, arg="kernel_size")
    d = positive_int(dilation, op=op, arg="dilation")
    total = d * (k - 1)
    return total // 2, total - total // 2


def conv_pads(padding, kernel_size, dilation):
    """(before, after) zeros per axis of a conv's canonical padding (`arguments.conv_padding`):
    'valid' none, 'same' PyTorch's split (`same_padding_torch`), p ints p on each side.

    Example:
        >>> conv_pads("same", (4, 3), (1, 2)), conv_pads((1, 0), (3, 3), (1, 1))
        (((1, 2), (2, 2)), ((1, 1), (0, 0)))
    """
    if padding == "valid":
        return ((0, 0),) * len(kernel_size)
    if padding == "same":
        return tuple(same_padding_torch(k, d) for k, d in zip(kernel_size, dilation))
    return tuple((p, p) for p in padding)


def same_padding_tf(n, kernel_size, stride=1, dilation=1, *, op="conv"):
    """TensorFlow/Keras ``padding='same'`` for any stride -> (o, before, after).

    o = ceil(n / s); total = max((o-1)s + d(k-1) + 1 - n, 0);
    before = total // 2; after = total - before (the odd pixel on the right).

    Example:
        >>> same_padding_tf(96, 7, stride=2)
        (48, 2, 3)
        >>> same_padding_tf(6, 3, stride=2)
        (3, 0, 1)
    """
    n = positive_int(n, op=op, arg="input_size")
    k = positive_int(kernel_size, op=op, arg="kernel_size")
    s = positive_int(stride, op=op, arg="stride")
    d = positive_int(dilation, op=op, arg="dilation")
    o = -(-n // s)
    total = max((o - 1) * s + d * (k - 1) + 1 - n, 0)
    return o, total // 2, total - total // 2


def valid_output_size_tf(n, kernel_size, stride=1, dilation=1, *, op="conv"):
    """TensorFlow/Keras ``padding='valid'`` output size.

    o = ceil((n - d(k-1)) / s), the same number as ``conv_output_size`` with p = 0
    (which is what this calls).

    Example:
        >>> valid_output_size_tf(7, 3, stride=2)
        3
    """
    return conv_output_size(n, kernel_size, stride, 0, dilation, op=op)


def conv_transpose_padding_tf(n, kernel_size, stride=1, dilation=1, padding="valid", output_padding=None,
                              *, op="conv_transpose"):
    """Keras' transposed-conv output size along one axis, and where it sits in the full output.

    The full transposed output (PyTorch's with padding 0) has (n−1)s + k' elements, k' = d(k−1)+1.
    Keras keeps o of them starting at `crop_before`; a negative `crop_after` means zeros are
    appended (then the bias is added everywhere). This is Keras 3's rule for every backend
    (``keras/src/backend/common/backend_utils.py``): the JAX padding (left, right) of the
    lhs-dilated form, crop = k' − 1 − pad:

        'valid'  left = k'−1, right = k'−1 + p, p = output_padding or max(k', s) − k'
        'same'   L = s + k' − 2 (no output_padding) or k' + (k' mod 2) − 2 + p;
                 left = min(⌈L/2⌉, k'−1), right = L − left

    Returns:
        (o, crop_before, crop_after) with o = (n−1)s + k' − crop_before − crop_after.

    Example:
        >>> conv_transpose_padding_tf(8, 2, 3, 1, "same", 2)      # Keras' test: 8 -> 23
        (23, 0, 0)
        >>> conv_transpose_padding_tf(4, 3, 2, 1, "same")         # o = n·s
        (8, 0, 1)
    """
    n, k, s, d = (check_positive(v, op=op, arg=arg) for v, arg in
                  ((n, "input_size"), (kernel_size, "kernel_size"), (stride, "stride"), (dilation, "dilation")))
    ke = d * (k - 1) + 1
    if padding == "valid":
        p = max(ke, s) - ke if output_padding is None else output_padding
        left, right = ke - 1, ke - 1 + p
    else:
        total = s + ke - 2 if output_padding is None else ke + ke % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, ke - 1)
        right = total - left
    before, after = ke - 1 - left, ke - 1 - right
    o = (n - 1) * s + ke - before - after
    if o < 1:
        raise ValueError(f"{op}: Computed output size would be zero or negative: input size {n}, kernel_size={k}, "
                         f"strides={s}, dilation_rate={d}, padding={padding}, output_padding={output_padding} "
                         f"give {o}")
    return o, before, after


def adaptive_bins(n, out, *, op="adaptive_pool"):
    """The windows of PyTorch's adaptive pooling: a list of ``out`` (start, end) pairs.

    start_i = floor(i n / o), end_i = ceil((i+1) n / o), for i = 0 .. o-1.
    Windows may overlap, and when o > n some input cells repeat.

    Example:
        >>> adaptive_bins(5, 3)
        [(0, 2), (1, 4), (3, 5)]
    """
    n = positive_int(n, op=op, arg="input_size")
    o = positive_int(out, op=op, arg="output_size")
    return [(i * n // o, -(-(i + 1) * n // o)) for i in range(o)]


# --------------------------------------------------------- receptive fields

RFInfo = namedtuple("RFInfo", ["size", "jump", "start"])
RFInfo.__doc__ = """Receptive field after one layer, in input pixels: its size r, the jump j
(distance in the input between neighbouring outputs) and the start (center of
the first output's receptive field, input pixel i covering [i, i+1))."""


def _layer(layer, i, *, op):
    """(k, s, p[, d]) -> validated (k, s, p_before, d); p may be a (before, after) pair."""
    if not isinstance(layer, (tuple, list)) or len(layer) not in (3, 4):
        raise TypeError(f"{op}: layer {i} must be (kernel_size, stride, padding[, dilation]), "
                        f"got {layer!r}")
    k, s, p, d = (*layer, 1) if len(layer) == 3 else layer
    k = positive_int(k, op=op, arg=f"layer {i} kernel_size")
    s = positive_int(s, op=op, arg=f"layer {i} stride")
    before, _ = padding_pair(p, op=op, arg=f"layer {i} padding")
    d = positive_int(d, op=op, arg=f"layer {i} dilation")
    return k, s, before, d


def receptive_field(layers, *, op="receptive_field"):
    """Receptive field of each layer of a stack along one axis -> list of ``RFInfo``.

    ``layers`` is an iterable of (k, s, p, d) (d may be left out; p may be a
    (before, after) pair, of which only `before` matters). The recurrences of
    Dang Ha The Hien, "A guide to receptive field arithmetic for CNNs" (2017),
    with the dilated kernel d(k-1)+1 in place of k, starting from the input
    (r_0 = 1, j_0 = 1, start_0 = 0.5, the center of pixel 0):
        r_l = r_{l-1} + d(k-1) j_{l-1}
        j_l = j_{l-1} s
        start_l = start_{l-1} + (d(k-1)/2 - p) j_{l-1}
    (computed by `field_after`: start = r/2 - P, the center of output 0's region).

    Example:
        >>> receptive_field([(3, 1, 1, 1), (2, 2, 0, 1)])
        [RFInfo(size=3, jump=1, start=0.5), RFInfo(size=4, jump=2, start=1.0)]
    """
    field, out = Field(1, 1, 0), []
    for i, layer in enumerate(layers):
        field = field_after(field, *_layer(layer, i, op=op), op=op)
        out.append(RFInfo(field.size, field.stride, field.size / 2 - field.padding))
    return out


def effective_stride_and_padding(layers, *, op="effective_stride_and_padding"):
    """Effective stride S and padding P of a whole stack along one axis.

    The stack acts on the input like one conv with kernel r (its receptive
    field), stride S and padding P:
        S = s_1 s_2 ... s_L,   P_l = P_{l-1} + p_l j_{l-1}  (P_0 = 0, j_0 = 1)

    Example:
        >>> effective_stride_and_padding([(3, 1, 1, 1), (2, 2, 0, 1), (3, 1, 1, 1)])
        (2, 3)
    """
    field = Field(1, 1, 0)
    for i, layer in enumerate(layers):
        field = field_after(field, *_layer(layer, i, op=op), op=op)
    return field.stride, field.padding


Field = namedtuple("Field", ["size", "stride", "padding"])
Field.__doc__ = """What a unit of a feature map sees of the input along one axis, in input pixels (Araujo,
Norris and Sim, "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019): its
receptive field size r, the effective stride S (the jump j between neighbouring units) and the
effective padding P. Unit x sees input pixels x·S − P .. x·S − P + r − 1 (`field_region`). The
input itself is Field(1, 1, 0). After a transposed conv the values may be Fractions."""


def _exact(value):
    """A Fraction with denominator 1 as an int; everything else as it is."""
    return int(value) if isinstance(value, Fraction) and value.denominator == 1 else value


def field_after(field, kernel_size, stride=1, padding=0, dilation=1, transposed=False, *, op="field_after"):
    """The `Field` of a layer's output, from the Field of its input and the layer's window along one axis.

    The article's recurrences (one layer l of kernel k, stride s, left padding p, dilation d, so
    that output x reads the inputs x·s − p .. x·s − p + d(k−1)):
        r_l = r_{l-1} + d(k-1) S_{l-1}
        P_l = P_{l-1} + p S_{l-1}
        S_l = S_{l-1} s
    ``padding`` may be p or a (before, after) pair: only p_before moves the window, so TensorFlow's
    uneven 'same' split and PyTorch's ceil-mode pooling (which adds a last window that runs past the
    input: it changes the number of outputs, not where a window starts) follow the same rule; the
    part of a region past the input is cut off by clipping (`cnnlab.receptive_field`).

    A transposed conv (``transposed=True``) is a conv of stride 1 on its input with s − 1 zeros
    inserted between neighbours and d(k−1) − p zeros of padding, i.e. output y reads the input
    positions (y + p − d(k−1))/s .. (y + p)/s: stride 1/s, padding (d(k−1) − p)/s and a window of
    d(k−1)/s input steps, in Fractions (the region of a unit is then a bound: the real inputs are the
    whole positions inside it).

    Example:
        >>> field_after(Field(1, 1, 0), 3, 2, 1)               # conv k3 s2 p1
        Field(size=3, stride=2, padding=1)
        >>> field_after(Field(3, 2, 1), 4, 2, 1, transposed=True)   # and a k4 s2 p1 transposed conv back
        Field(size=6, stride=1, padding=3)
    """
    k = positive_int(kernel_size, op=op, arg="kernel_size")
    s = positive_int(stride, op=op, arg="stride")
    d = positive_int(dilation, op=op, arg="dilation")
    p = padding_pair(padding, op=op)[0]
    r, S, P = field
    span = d * (k - 1)
    if transposed:
        span, p, s = Fraction(span, s), Fraction(span - p, s), Fraction(1, s)
    return Field(_exact(r + span * S), _exact(S * s), _exact(P + p * S))


def merge_fields(fields):
    """Where branches meet (an add, a concatenation): the `Field` that covers every branch, and
    whether the branches are aligned -> (Field or None, aligned).

    The article's rule for graphs: each path from the input gives unit x the region
    x·S_i − P_i .. x·S_i − P_i + r_i − 1. With one stride S for all paths the union is
        P = max_i P_i,   r = P + max_i (r_i − P_i),
    and the paths are aligned when their regions share a center, (r_i − 1)/2 − P_i. Paths with
    different strides have no common field (None, not aligned).

    Example:
        >>> merge_fields([Field(5, 2, 2), Field(1, 2, 0)])     # 3×3/2 twice beside a 1×1/2 shortcut
        (Field(size=5, stride=2, padding=2), True)
        >>> merge_fields([Field(3, 1, 0), Field(1, 1, 0)])
        (Field(size=3, stride=1, padding=0), False)
    """
    fields = list(fields)
    if len({f.stride for f in fields}) != 1:
        return None, False
    P = max(f.padding for f in fields)
    r = P + max(f.size - f.padding for f in fields)
    aligned = len({Fraction(f.size - 1, 2) - f.padding for f in fields}) == 1
    return Field(_exact(r), fields[0].stride, _exact(P)), aligned


def field_region(field, x):
    """(first, last) input pixel that unit ``x`` of a map with this `Field` sees: x·S − P and x·S − P + r − 1.

    Example:
        >>> field_region(Field(212, 32, 90), 0), field_region(Field(212, 32, 90), 6)   # VGG-16's pool5
        ((-90, 121), (102, 313))
    """
    start = x * field.stride - field.padding
    return _exact(start), _exact(start + field.size - 1)
