"""ONNX's layer ops as cnnlab layers: convolutions, pooling, Gemm/MatMul, normalization, activations.

Each converter takes a `cnnlab.onnx.load.Node` and returns the module that computes the node from its
non-constant inputs. A standard layer is used where one computes exactly what ONNX defines (so that
its parameters and shapes are seen as usual); padding that a layer cannot express (asymmetric
pads, auto_pad) is an explicit pad first, as PyTorch does (`Padded`).

ONNX's padding, per spatial axis (n input size, k kernel, s stride, d dilation, k' = d(k−1)+1):
    pads      [x1_begin, x2_begin, ..., x1_end, x2_end, ...] (NOTSET, the default; all 0 when absent)
    VALID     no padding
    SAME_*    o = ⌈n/s⌉, total = max((o−1)s + k' − n, 0) (`shapes.same_padding_tf`), the odd pixel
              at the end (SAME_UPPER) or at the beginning (SAME_LOWER)
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import nn, shapes
from cnnlab.autograd import Tensor
from cnnlab.nn import functional as F
from cnnlab.onnx.graph import Call, Padded, pad_tuple

__all__ = ["LAYERS", "onnx_pads", "auto_pads"]

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
MAX_POOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVG_POOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
BATCH_NORM = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}


# ---------------------------------------------------------------- padding
def auto_pads(mode, spatial, kernel, stride, dilation):
    """ONNX's auto_pad as (before, after) per axis: 'VALID' none, 'SAME_UPPER'/'SAME_LOWER' the total
    of `shapes.same_padding_tf` with the odd pixel at the end or at the beginning.

    Example:
        >>> auto_pads("SAME_LOWER", (6,), (4,), (1,), (1,))
        ((2, 1),)
    """
    if mode == "VALID":
        return ((0, 0),) * len(kernel)
    pads = [shapes.same_padding_tf(n, k, s, d)[1:] for n, k, s, d in zip(spatial, kernel, stride, dilation)]
    return tuple((b, a) if mode == "SAME_UPPER" else (a, b) for b, a in pads)


def onnx_pads(node, D, kernel, stride, dilation):
    """The node's padding: a tuple of (before, after) per axis, or a function of the spatial sizes
    (auto_pad SAME_*)."""
    mode = node.attr("auto_pad", "NOTSET")
    if mode not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        node.fail(f"auto_pad must be NOTSET, VALID, SAME_UPPER or SAME_LOWER, got {mode!r}")
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        return lambda spatial: auto_pads(mode, spatial, kernel, stride, dilation)
    if mode == "VALID":
        return ((0, 0),) * D
    pads = node.ints("pads", 2 * D, (0,) * 2 * D)
    if min(pads) < 0:
        node.fail(f"pads must be non-negative, got {list(pads)}")
    return tuple(zip(pads[:D], pads[D:]))


def _symmetric(pads):
    """The padding p per axis when `pads` is a tuple of equal (p, p) pairs, else None."""
    if callable(pads) or any(b != a for b, a in pads):
        return None
    return tuple(b for b, _ in pads)


def _padded(layer, pads, value=0.0):
    return Padded(layer, pads if callable(pads) else (lambda spatial: pads), value)


def _window(node, D, kernel=None):
    """kernel (kernel_shape, else `kernel`), strides, dilations and pads of a conv or pooling node."""
    if kernel is None and "kernel_shape" not in node.attrs:
        node.fail("attribute kernel_shape is required")
    kernel = node.ints("kernel_shape", D, kernel)
    stride = node.ints("strides", D, (1,) * D)
    dilation = node.ints("dilations", D, (1,) * D)
    return kernel, stride, dilation, onnx_pads(node, D, kernel, stride, dilation)


# ---------------------------------------------------------------- convolutions
def conv(node):
    """Conv: `nn.ConvNd` holding W and B; kernel_shape inferred from W when absent."""
    W, B = node.param(1, "W"), node.param(2, "B", required=False)
    D = W.ndim - 2
    if D not in CONV:
        node.fail(f"W must be 3-d, 4-d or 5-d (1-3 spatial dims), got shape {W.shape}")
    kernel, stride, dilation, pads = _window(node, D, W.shape[2:])
    if kernel != W.shape[2:]:
        node.fail(f"kernel_shape {list(kernel)} does not match W of shape {W.shape}")
    groups = int(node.attr("group", 1))
    p = _symmetric(pads)
    layer = CONV[D](W.shape[1] * groups, W.shape[0], kernel, stride, p or 0, dilation, groups, bias=B is not None)
    layer.weight, layer.bias = W, B
    return layer if p is not None else _padded(layer, pads)


def _conv_transpose(x, W, B=None, *, stride, dilation, groups, pads, output_padding, output_shape):
    """ConvTranspose as ONNX defines it: the full transposed conv (padding 0), cropped by the pads.

    pads: (before, after) per axis, or 'SAME_UPPER'/'SAME_LOWER': ONNX's split of the total padding
    (full + output_padding − o) that gives o = output_shape, or o = n·s when output_shape is None.
    Output positions past the full output (output_padding) hold the bias only, as in PyTorch.
    """
    spatial, kernel, D = x.shape[2:], W.shape[2:], x.ndim - 2
    full = [(n - 1) * s + d * (k - 1) + 1 for n, k, s, d in zip(spatial, kernel, stride, dilation)]
    if isinstance(pads, str):
        want = output_shape[-D:] if output_shape is not None else [n * s for n, s in zip(spatial, stride)]
        totals = [f + op - o for f, op, o in zip(full, output_padding, want)]
        pads = [(t // 2, t - t // 2) if pads == "SAME_UPPER" else (t - t // 2, t // 2) for t in totals]
    y = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[D - 1](x, W, None, stride, 0, 0, groups, dilation)
    y = F.pad(y, pad_tuple((-b, op - a) for (b, a), op in zip(pads, output_padding)))   # (N, C_out, *o)
    return y if B is None else y + B.reshape((1, -1) + (1,) * D)


def conv_transpose(node):
    """ConvTranspose: `nn.ConvTransposeNd` when pads are symmetric (and output_padding is one PyTorch
    takes), else the transposed conv cropped as ONNX defines it (asymmetric pads, auto_pad, output_shape)."""
    W, B = node.param(1, "W"), node.param(2, "B", required=False)
    D = W.ndim - 2
    if D not in CONV_T:
        node.fail(f"W must be 3-d, 4-d or 5-d (1-3 spatial dims), got shape {W.shape}")
    kernel = node.ints("kernel_shape", D, W.shape[2:])
    if kernel != W.shape[2:]:
        node.fail(f"kernel_shape {list(kernel)} does not match W of shape {W.shape}")
    stride, dilation = node.ints("strides", D, (1,) * D), node.ints("dilations", D, (1,) * D)
    groups = int(node.attr("group", 1))
    output_padding = node.ints("output_padding", D, (0,) * D)
    mode, output_shape = node.attr("auto_pad", "NOTSET"), node.attr("output_shape")
    if output_shape is not None or mode in ("SAME_UPPER", "SAME_LOWER"):
        pads = "SAME_UPPER" if mode == "SAME_UPPER" else "SAME_LOWER"
    else:
        pads = onnx_pads(node, D, kernel, stride, dilation)
        p = _symmetric(pads)
        if p is not None and all(o < s or o < d for o, s, d in zip(output_padding, stride, dilation)):
            layer = CONV_T[D](W.shape[0], W.shape[1] * groups, kernel, stride, p, output_padding, groups,
                              bias=B is not None, dilation=dilation)
            layer.weight, layer.bias = W, B
            return layer
    return _WithParams(Call(_conv_transpose, stride=stride, dilation=dilation, groups=groups, pads=pads,
                            output_padding=output_padding, output_shape=output_shape), W, B)


class _WithParams(nn.Module):
    """A Call whose trailing inputs are Parameters it holds (weight, bias)."""

    def __init__(self, call, weight, bias=None):
        super().__init__()
        self.call, self.weight, self.bias = call, weight, bias

    def forward(self, *inputs):
        return self.call(*inputs, self.weight, *([self.bias] if self.bias is not None else []))


def _deform_conv(x, offset, mask, weight, bias=None, *, stride, padding, dilation):
    return F.deform_conv2d(x, offset, weight, bias, stride, padding, dilation, mask)


def deform_conv(node):
    """DeformConv (2-d): `F.deform_conv2d` with W and B held as Parameters; X, offset and mask at run time."""
    W, B = node.param(1, "W"), node.param(3, "B", required=False)
    if W.ndim != 4:
        node.fail(f"only 2-d DeformConv is supported (W of rank 4), got W of shape {W.shape}")
    kernel, stride, dilation, pads = _window(node, 2, W.shape[2:])
    module = _WithParams(Call(_deform_conv, stride=stride, padding=0, dilation=dilation), W, B)
    p = _symmetric(pads)
    if p is not None:
        module.call.kwargs["padding"] = p
        return _DeformInputs(module, node.has(4))
    return _padded(_DeformInputs(module, node.has(4)), pads)


class _DeformInputs(nn.Module):
    """DeformConv's inputs (X, offset[, mask]) in the order `_deform_conv` takes them."""

    def __init__(self, inner, masked):
        super().__init__()
        self.inner, self.masked = inner, masked

    def forward(self, x, offset, mask=None):
        return self.inner(x, offset, mask if self.masked else None)


# ---------------------------------------------------------------- pooling
def _pool_general(x, *, kind, kernel, stride, dilation, pads, ceil_mode, count_include_pad, p):
    """Any ONNX pooling: pad explicitly to exactly the reach of the windows, then pool with padding 0.

    The output size is `shapes.pool_output_size` with the (before, after) pads and ceil_mode (ONNX's
    rule: a last window that would start in the end padding is dropped). Max pooling pads with −∞;
    average pooling divides by the average of a mask that is 1 on the input (and on the pads when
    count_include_pad), 0 elsewhere; LpPool is (Σ|x|^p)^(1/p) over the zero-padded windows.
    """
    spatial, D = x.shape[2:], len(kernel)
    pads = pads(spatial) if callable(pads) else pads
    out = [shapes.pool_output_size(n, k, s, pp, d, ceil_mode, op="onnx pool")
           for n, k, s, pp, d in zip(spatial, kernel, stride, pads, dilation)]
    reach = [(b, (o - 1) * s + d * (k - 1) + 1 - n - b)
             for n, k, s, d, (b, _), o in zip(spatial, kernel, stride, dilation, pads, out)]
    if kind == "max":
        fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[D - 1]
        return fn(F.pad(x, pad_tuple(reach), value=-math.inf), kernel, stride, 0, dilation)
    avg = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[D - 1]
    if kind == "lp":
        lp = (F.lp_pool1d, F.lp_pool2d, F.lp_pool3d)[D - 1]
        return lp(F.pad(x.abs(), pad_tuple(reach)), p, kernel, stride)
    mask = np.ones((), dtype=x.dtype)
    for n, (b, e), (_, e2) in zip(spatial, pads, reach):     # 1 where a window element counts
        m = np.zeros(n + b + max(e, e2), dtype=x.dtype)
        m[0 if count_include_pad else b: n + b + (e if count_include_pad else 0)] = 1
        mask = np.multiply.outer(mask, m[:n + b + e2])
    share = avg(Tensor(mask[None, None]), kernel, stride)                # (1, 1, *out): counted / window size
    return avg(F.pad(x, pad_tuple(reach)), kernel, stride) / share


class _MaxPoolIndices(nn.Module):
    """MaxPool's two outputs: the values, and the argmax as ONNX's flat indices over the whole input."""

    def __init__(self, pool):
        super().__init__()
        self.pool = pool

    def forward(self, x):
        y, index = self.pool(x)
        N, C = x.shape[:2]
        plane = math.prod(x.shape[2:])
        base = (np.arange(N * C, dtype=np.int64) * plane).reshape((N, C) + (1,) * (x.ndim - 2))
        return y, Tensor(index.data + base)


def _pool(node, kind):
    D = len(node.attr("kernel_shape") or node.fail("attribute kernel_shape is required"))
    kernel, stride, dilation, pads = _window(node, D)
    ceil_mode = bool(node.attr("ceil_mode", 0))
    count_include_pad = bool(node.attr("count_include_pad", 0))
    p = _symmetric(pads)
    fits = p is not None and all(pp <= k // 2 for pp, k in zip(p, kernel))
    indices = len(node.outputs) > 1 and node.outputs[1] != ""
    if kind == "max" and fits:
        if int(node.attr("storage_order", 0)) != 0 and indices:
            node.fail("storage_order=1 (column-major indices) is not supported")
        pool = MAX_POOL[D](kernel, stride, p, dilation, return_indices=indices, ceil_mode=ceil_mode)
        return _MaxPoolIndices(pool) if indices else pool
    if indices:
        node.fail("the Indices output is supported only with symmetric pads of at most half the kernel")
    if kind == "avg" and dilation != (1,) * D:
        node.fail(f"AveragePool with dilations {list(dilation)} is not supported")
    if kind == "avg" and fits:
        return AVG_POOL[D](kernel, stride, p, ceil_mode, count_include_pad)
    if kind == "lp" and dilation != (1,) * D:
        node.fail(f"LpPool with dilations {list(dilation)} is not supported")
    return Call(_pool_general, kind=kind, kernel=kernel, stride=stride, dilation=dilation, pads=pads,
                ceil_mode=ceil_mode, count_include_pad=count_include_pad, p=float(node.attr("p", 2)))


def _global_pool(x, *, kind):
    return (F.global_avg_pool if kind == "avg" else F.global_max_pool)(x, keepdim=True)


# ---------------------------------------------------------------- Gemm, MatMul
def _gemm(a, b, c=None, *, alpha, beta, trans_a, trans_b):
    y = F.matmul(a.transpose(0, 1) if trans_a else a, b.transpose(0, 1) if trans_b else b)
    y = y * alpha if alpha != 1 else y
    return y if c is None else y + (c * beta if beta != 1 else c)


def _constant_input(node, i):
    """The value of input i when it is a constant of floats (not absorbing it), else None."""
    value = node.peek(i)
    return value if value is not None and value.dtype.kind == "f" else None


def gemm(node):
    """Gemm: `nn.Linear` for A·Bᵀ + C (B and C initializers, alpha = beta = 1, A not transposed; B is
    held transposed when transB = 0), else the op itself."""
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    trans_a, trans_b = int(node.attr("transA", 0)), int(node.attr("transB", 0))
    B, C = _constant_input(node, 1), _constant_input(node, 2)
    out = None if B is None or B.ndim != 2 else B.shape[0] if trans_b else B.shape[1]
    if (not trans_a and alpha == 1 and beta == 1 and out is not None
            and (not node.has(2) or (C is not None and C.size == out and C.shape[-1:] == (out,)))):
        layer = nn.Linear(B.shape[1] if trans_b else B.shape[0], out, bias=node.has(2), dtype=B.dtype)
        layer.weight = node.param(1, "B") if trans_b else nn.Parameter(node.const(1, "B").T.copy())
        if node.has(2):
            layer.bias = node.param(2, "C") if C.ndim == 1 else nn.Parameter(node.const(2, "C").reshape(out).copy())
        return layer
    return Call(_gemm, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b)


def matmul(node):
    """MatMul: `nn.Linear` (no bias, B held transposed) when B is a 2-d initializer, else `F.matmul`."""
    B = _constant_input(node, 1)
    if B is not None and B.ndim == 2:
        layer = nn.Linear(B.shape[0], B.shape[1], bias=False, dtype=B.dtype)
        layer.weight = nn.Parameter(node.const(1, "B").T.copy())
        return layer
    return Call(F.matmul)


# ---------------------------------------------------------------- normalization
def batch_norm(node):
    """BatchNormalization: `nn.BatchNorm1d/2d/3d` (by the input's rank, 2d when unknown) holding scale,
    B and the running statistics (buffers); ONNX's momentum m is PyTorch's 1 − m."""
    scale, bias = node.param(1, "scale"), node.param(2, "B")
    mean, var = node.const(3, "input_mean"), node.const(4, "input_var")
    if len([o for o in node.outputs if o]) > 1:
        node.fail("the running-statistics outputs (training mode) are not supported")
    if node.opset < 9 and int(node.attr("spatial", 1)) != 1:
        node.fail("spatial=0 (statistics per activation, not per channel) is not supported")
    layer = BATCH_NORM.get(node.rank(0) or 4, nn.BatchNorm2d)(
        scale.shape[0], eps=float(node.attr("epsilon", 1e-5)), momentum=1 - float(node.attr("momentum", 0.9)),
        dtype=scale.dtype)
    layer.weight, layer.bias = scale, bias
    layer.running_mean, layer.running_var = Tensor(mean.copy()), Tensor(var.copy())
    return layer


def instance_norm(node):
    """InstanceNormalization: `nn.GroupNorm(C, C)` (one group per channel) holding scale and B."""
    scale, bias = node.param(1, "scale"), node.param(2, "B")
    layer = nn.GroupNorm(scale.shape[0], scale.shape[0], eps=float(node.attr("epsilon", 1e-5)), dtype=scale.dtype)
    layer.weight, layer.bias = scale, bias
    return layer


def group_norm(node):
    """GroupNormalization (opset 21: scale and bias per channel): `nn.GroupNorm`. (Opset 18's per-group
    form is refused by onnx.checker as deprecated, before this is reached.)"""
    G = int(node.attr("num_groups") or node.fail("attribute num_groups is required"))
    scale, bias = node.param(1, "scale"), node.param(2, "bias")
    layer = nn.GroupNorm(G, scale.shape[0], eps=float(node.attr("epsilon", 1e-5)), dtype=scale.dtype)
    layer.weight, layer.bias = scale, bias
    return layer


def lrn(node):
    """LRN: `nn.LocalResponseNorm`; ONNX's window c − ⌊(n−1)/2⌋ .. c + ⌈(n−1)/2⌉ is PyTorch's for odd n,
    and PyTorch's on the channels reversed for even n."""
    size = int(node.attr("size") or node.fail("attribute size is required"))
    layer = nn.LocalResponseNorm(size, float(node.attr("alpha", 1e-4)), float(node.attr("beta", 0.75)),
                                 float(node.attr("bias", 1.0)))
    return layer if size % 2 else nn.Sequential(_FlipChannels(), layer, _FlipChannels())


class _FlipChannels(nn.Module):
    """x[:, ::-1]"""

    def forward(self, x):
        return x[:, ::-1]


# ---------------------------------------------------------------- activations
def _hard_sigmoid(x, *, alpha, beta):
    return F.clamp(x * alpha + beta, 0.0, 1.0)


def _prelu(x, slope):
    return F.where(x.data >= 0, x, x * slope)


def _selu(x, *, alpha, gamma):
    return F.elu(x, alpha) * gamma


def clip(node):
    """Clip: `nn.ReLU6` for [0, 6], else `F.clamp` (bounds from attributes before opset 11, inputs after)."""
    if node.opset < 11:
        lo, hi = node.attr("min"), node.attr("max")
    else:
        lo, hi = (None if (v := node.const(i, w, required=False)) is None else float(v)
                  for i, w in ((1, "min"), (2, "max")))
    if lo == 0 and hi == 6:
        return nn.ReLU6()
    return Call(F.clamp, min=lo, max=hi)


LAYERS = {
    "Conv": conv,
    "ConvTranspose": conv_transpose,
    "DeformConv": deform_conv,
    "MaxPool": lambda node: _pool(node, "max"),
    "AveragePool": lambda node: _pool(node, "avg"),
    "LpPool": lambda node: _pool(node, "lp"),
    "GlobalAveragePool": lambda node: Call(_global_pool, kind="avg"),
    "GlobalMaxPool": lambda node: Call(_global_pool, kind="max"),
    "Gemm": gemm,
    "MatMul": matmul,
    "BatchNormalization": batch_norm,
    "InstanceNormalization": instance_norm,
    "GroupNormalization": group_norm,
    "LRN": lrn,
    "Relu": lambda node: nn.ReLU(),
    "LeakyRelu": lambda node: nn.LeakyReLU(float(node.attr("alpha", 0.01))),
    "Elu": lambda node: nn.ELU(float(node.attr("alpha", 1.0))),
    "Selu": lambda node: Call(_selu, alpha=float(node.attr("alpha", 1.67326319217681884765625)),
                              gamma=float(node.attr("gamma", 1.05070102214813232421875))),
    "Sigmoid": lambda node: nn.Sigmoid(),
    "Tanh": lambda node: nn.Tanh(),
    "HardSwish": lambda node: nn.Hardswish(),
    "HardSigmoid": lambda node: Call(_hard_sigmoid, alpha=float(node.attr("alpha", 0.2)),
                                     beta=float(node.attr("beta", 0.5))),
    "Gelu": lambda node: nn.GELU(node.attr("approximate", "none")),
    "PRelu": lambda node: Call(_prelu),
    "Clip": clip,
}
