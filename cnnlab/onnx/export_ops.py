"""What `cnnlab.onnx.export` writes for the ops between layers (`OPS`), and the writers layers share.

Between layers, a model's forward runs ops of `cnnlab.nn.functional`: ResNet's residual add,
``x.flatten(1)``, ``F.relu``, ``F.pad``, ``x[:, :, ::2]``, ... `export` finds them in the autograd
graph: each is a `cnnlab.autograd.Function` whose record (the output's ``grad_fn``, traced under
`cnnlab.autograd.keep_inputs`) holds its inputs and what its backward needs, from which the ONNX
node is written. An op writer is
``write(g, ctx, ins, out)``: `g` the `GraphBuilder`, `ctx` the op's record, `ins` the names of its
inputs (a number or an array stands for itself and becomes a constant), `out` the op's output tensor;
it returns the name of its result.

- A reshape that is a flatten keeps the dims in front (ONNX Flatten(axis=1), or a Reshape whose 0s
  copy a dim), so the batch stays free; another reshape that keeps dim 0 copies it; any other is
  written with its traced sizes.
- Basic indexing (ints, slices, None, Ellipsis) is Slice, Gather and Unsqueeze; array indexing is refused.
- F.pad's constant mode is a Pad (its fill value read off the traced output: the record keeps none);
  its other modes are one Gather per axis with the index cnnlab gathers with.
- F.conv*d and F.conv_transpose*d are Conv and ConvTranspose (their records keep stride, pads,
  dilation and groups); F.batch_norm in eval mode is Sub, Mul (and Mul, Add for γ, β); sum and mean
  are ReduceSum and ReduceMean; F.interpolate is a Gather (nearest) or a MatMul with the axis's
  matrix of taps (linear, cubic) per resampled axis, cnnlab's own taps, so PyTorch's index rules come
  along. So layers without a writer of their own export through their ops: nn.Upsample,
  nn.PixelShuffle (a reshape, a permute, a reshape), and cnnlab.keras's Conv2D, Dense,
  GlobalAveragePooling2D, ...
- Pooling ops called directly (F.max_pool2d, ...) run primitives with no ONNX form of their own;
  their layers (nn.MaxPool2d, ...) have writers.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab.nn.functional import conv as C
from cnnlab.nn.functional import elementwise as E
from cnnlab.nn.functional import interpolation as I
from cnnlab.nn.functional import normalization as N
from cnnlab.nn.functional import padding as P
from cnnlab.nn.functional import reduction as R
from cnnlab.nn.functional import shape as S
from cnnlab.nn.functional.linear import MatMul

__all__ = ["OPS", "ExportError", "BIG", "onnx_pads", "write_pad", "slice_axes", "reshape_kept", "along_axis"]


class ExportError(ValueError):
    """A layer or op that ONNX cannot express (the message names it and says why)."""


#: an end past any axis (ONNX's Slice clamps it), for x[a:] and x[::-1]
BIG = 2**62


def onnx_pads(pairs) -> list:
    """((b1, a1), (b2, a2), ...) -> ONNX's [b1, b2, ..., a1, a2, ...]."""
    pairs = list(pairs)
    return [b for b, _ in pairs] + [a for _, a in pairs]


# ---------------------------------------------------------------- padding
def write_pad(g, x: str, shape, pads: dict, mode: str, value=0.0, name="pad", out=None) -> str:
    """Pad value `x` (of `shape`) by pads {axis: (before, after)} in cnnlab's `mode`.

    constant, reflect and replicate (and circular from opset 19) are one Pad node; circular before
    opset 19, and the non-constant modes with a negative (cropping) pad, are one Gather per axis with
    the index that cnnlab's `pad` gathers with (`nn.functional.padding.pad_index`).
    """
    cropping = any(min(p) < 0 for p in pads.values())
    if mode != "constant" and ((mode == "circular" and g.opset < 19) or cropping):
        axes = sorted(pads)
        for i, axis in enumerate(axes):
            index = P.pad_index(mode, shape[axis], *pads[axis])
            x = g.node("Gather", [x, g.ints(f"{name}.index", index)], out if i == len(axes) - 1 else None,
                       name=name, axis=axis)
        return x
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    flat = onnx_pads([pads.get(axis, (0, 0)) for axis in range(len(shape))])
    inputs = [x, g.ints(f"{name}.pads", flat)]
    if mode == "constant" and value != 0:
        inputs.append(g.constant(f"{name}.value", np.array(value)))
    return g.node("Pad", inputs, out, name=name, mode=onnx_mode)


# ---------------------------------------------------------------- shapes
def reshape_kept(g, x: str, shape, s: int, e: int, outs=None, name=None):
    """x.flatten(s, e): ONNX Flatten when it is (N, rest), else a Reshape that copies the dims before s."""
    if s == 1 and e == len(shape) - 1:
        return g.node("Flatten", [x], outs, name=name or "Flatten", axis=1)
    name = name or "Reshape"
    target = [0] * s + [-1] + list(shape[e + 1:])
    return g.node("Reshape", [x, g.ints(f"{name}.shape", target)], outs, name=name)


def slice_axes(g, x, starts, ends, steps, name, axes):
    """x sliced as x[starts:ends:steps] along `axes` (lists, one entry per axis)."""
    inputs = [x, g.ints(f"{name}.starts", starts), g.ints(f"{name}.ends", ends), g.ints(f"{name}.axes", axes),
              g.ints(f"{name}.steps", steps)]
    return g.node("Slice", inputs, name=name)


def along_axis(g, y, rank, axis, apply, name):
    """apply(y) with `axis` moved last (and back)."""
    if axis == rank - 1:
        return apply(y)
    perm = [a for a in range(rank) if a != axis] + [axis]
    moved = apply(g.node("Transpose", [y], name=name, perm=perm))
    return g.node("Transpose", [moved], name=name, perm=[int(a) for a in np.argsort(perm)])


# ---------------------------------------------------------------- the ops between layers
def _operand(g, value, out, name):
    """A name for an op's operand: a traced value's name, or a constant (a number or an array)."""
    if isinstance(value, str):
        return value
    return g.constant(f"{name}.constant", np.asarray(value, dtype=out.dtype))


def _elementwise(op_type):
    def write(g, ctx, ins, out):
        return g.node(op_type, [_operand(g, v, out, op_type) for v in ins], name=op_type)
    return write


def _reshape(g, ctx, ins, out):
    before, after = ctx.shape, out.shape
    for s in range(len(before)):   # a flatten(s, e) keeps the dims before s (the batch) and after e
        for e in range(s, len(before)):
            if after == before[:s] + (math.prod(before[s:e + 1]),) + before[e + 1:]:
                return reshape_kept(g, ins[0], before, s, e)
    target = [0] + list(after[1:]) if before and after and before[0] == after[0] else list(after)
    return g.node("Reshape", [ins[0], g.ints("Reshape.shape", target)], name="Reshape")


def _permute(g, ctx, ins, out):
    return g.node("Transpose", [ins[0]], name="Transpose", perm=[int(a) for a in np.argsort(ctx.inverse)])


def _getitem(g, ctx, ins, out):
    """Basic indexing: slices are one Slice, ints a Gather each (dropping the axis), None an Unsqueeze."""
    index = ctx.index if isinstance(ctx.index, tuple) else (ctx.index,)
    if any(isinstance(i, np.ndarray) for i in index):
        raise ExportError("export: indexing with an array (x[idx], idx an int or bool array) has no ONNX form "
                          "here; index with slices, ints and None")
    if Ellipsis in index:
        at = index.index(Ellipsis)
        fill = len(ctx.shape) - sum(i is not None for i in index if i is not Ellipsis)
        index = index[:at] + (slice(None),) * fill + index[at + 1:]
    starts, ends, steps, axes, picks, news, axis, position = [], [], [], [], [], [], 0, 0
    for i in index:
        if i is None:                  # a new axis of size 1 at this output position
            news.append(position)
            position += 1
            continue
        if isinstance(i, slice):
            step = 1 if i.step is None else i.step
            if (i.start, i.stop, step) != (None, None, 1):
                starts.append(i.start if i.start is not None else (0 if step > 0 else BIG))
                ends.append(i.stop if i.stop is not None else (BIG if step > 0 else -BIG))
                steps.append(step)
                axes.append(axis)
            position += 1
        else:
            picks.append((axis, int(i)))
        axis += 1
    y = slice_axes(g, ins[0], starts, ends, steps, "Slice", axes) if axes else ins[0]
    for a, i in reversed(picks):       # from the last, so that the earlier axes keep their numbers
        y = g.node("Gather", [y, g.ints("Gather.index", np.array(i))], name="Gather", axis=a)
    if news:
        y = g.node("Unsqueeze", [y, g.ints("Unsqueeze.axes", news)], name="Unsqueeze")
    return y if y != ins[0] else g.node("Identity", [y], name="Identity")


def _cat(g, ctx, ins, out):
    return g.node("Concat", ins, name="Concat", axis=int(ctx.dim))


def _constant_pad(g, ctx, ins, out):
    pads, value = {}, 0.0
    for axis, (src, dst) in enumerate(zip(ctx.src, ctx.dst)):
        n, o = ctx.shape[axis], out.shape[axis]
        s0, s1, _ = src.indices(n)
        d0, d1, _ = dst.indices(o)
        before, after = d0 - s0, (o - d1) - (n - s1)
        if before or after:
            pads[axis] = (before, after)
            if before > 0 and out.data.size:   # the fill value, read off the output (ConstantPad keeps no copy)
                value = float(out.data[(slice(None),) * axis + (0,)].flat[0])
            elif after > 0 and out.data.size:
                value = float(out.data[(slice(None),) * axis + (-1,)].flat[0])
    return write_pad(g, ins[0], ctx.shape, pads, "constant", value, name="Pad")


def _index_pad(g, ctx, ins, out):
    y = ins[0]
    for axis, index in ctx.indices:
        y = g.node("Gather", [y, g.ints("Pad.index", index)], name="Pad", axis=int(axis))
    return y


def _conv(g, ctx, ins, out):
    """F.conv1d/2d/3d called in a forward: its record keeps stride, pads, dilation and groups."""
    _, w, stride, pads, dilation, groups = ctx.save
    return g.node("Conv", [v for v in ins if v is not None], name="Conv", kernel_shape=list(w.shape[2:]),
                  strides=list(stride), pads=onnx_pads(pads), dilations=list(dilation), group=groups)


def _conv_transpose(g, ctx, ins, out):
    """F.conv_transpose1d/2d/3d in a forward; output_padding is read off the traced output."""
    x, w, _, stride, padding, dilation, groups = ctx.save
    k = w.shape[2:]
    low = [(n - 1) * s - 2 * p + d * (kk - 1) + 1 for n, kk, s, p, d in zip(x.shape[2:], k, stride, padding, dilation)]
    return g.node("ConvTranspose", [v for v in ins if v is not None], name="ConvTranspose", kernel_shape=list(k),
                  strides=list(stride), pads=onnx_pads((p, p) for p in padding), dilations=list(dilation),
                  group=groups, output_padding=[o - lo for o, lo in zip(out.shape[2:], low)])


def _batch_norm(g, ctx, ins, out):
    """F.batch_norm in eval mode in a forward: ((x − μ)·1/√(σ² + ε))·γ + β per channel, μ and 1/√(σ² + ε)
    as traced (the record keeps them, not ε)."""
    if ctx.batch_stats:
        raise ExportError("export: batch_norm with the batch's own statistics (training=True) has no ONNX form "
                          "here; export normalises with fixed statistics (eval mode)")
    per_channel = (-1,) + (1,) * (ctx.x.ndim - 2)   # (C, 1, ..., 1): broadcasts over (N, C, *)
    y = g.node("Sub", [ins[0], g.constant("BatchNorm.mean", ctx.mean.reshape(per_channel))], name="BatchNorm")
    y = g.node("Mul", [y, g.constant("BatchNorm.inv_std", ctx.inv_std.reshape(per_channel))], name="BatchNorm")
    for op_type, v in (("Mul", ins[1]), ("Add", ins[2])):   # γ and β, when given
        if v is not None:
            v = g.node("Reshape", [v, g.ints("BatchNorm.shape", per_channel)], name="BatchNorm")
            y = g.node(op_type, [y, v], name="BatchNorm")
    return y


def _reduce(op_type):
    def write(g, ctx, ins, out):
        axes = [] if ctx.dims is None else [int(d) for d in np.atleast_1d(ctx.dims)]
        attributes = dict(keepdims=int(bool(ctx.keepdim)))
        inputs = [ins[0]]
        if axes and (op_type == "ReduceSum" or g.opset >= 18):   # axes became an input (ReduceSum at 13)
            inputs.append(g.ints(f"{op_type}.axes", axes))
        elif axes:
            attributes["axes"] = axes
        return g.node(op_type, inputs, name=op_type, **attributes)
    return write


def _resample(g, ctx, ins, out):
    """F.interpolate (and nn.Upsample): each resampled axis, last first as cnnlab applies them, is a Gather
    (one tap of weight 1: the nearest modes) or a MatMul with the axis's m × n matrix of taps (the linear
    and cubic modes). The taps are cnnlab's own, so PyTorch's index rules come along exactly."""
    y, rank = ins[0], len(ctx.sizes) + 2
    for k in reversed(range(len(ctx.taps))):
        if ctx.taps[k] is None:                    # a kept size
            continue
        index, weight = ctx.taps[k]
        if index.shape[1] == 1:
            y = g.node("Gather", [y, g.ints("Resample.index", index[:, 0])], name="Resample", axis=2 + k)
            continue
        A = I.tap_matrix(index, weight, ctx.sizes[k])                   # (m, n)
        y = along_axis(g, y, rank, 2 + k, lambda v: g.node("MatMul", [v, g.constant("Resample.taps", A.T)],
                                                           name="Resample"), "Resample")
    return y if y != ins[0] else g.node("Identity", [y], name="Resample")


def _softmax_op(op_type):
    def write(g, ctx, ins, out):
        return g.node(op_type, [ins[0]], name=op_type, axis=int(ctx.dim))
    return write


OPS = {
    E.Add: _elementwise("Add"), E.Sub: _elementwise("Sub"), E.Mul: _elementwise("Mul"), E.Div: _elementwise("Div"),
    E.Pow: _elementwise("Pow"), E.Maximum: _elementwise("Max"), E.Minimum: _elementwise("Min"),
    E.Neg: _elementwise("Neg"), E.Exp: _elementwise("Exp"), E.Log: _elementwise("Log"), E.Sqrt: _elementwise("Sqrt"),
    E.Abs: _elementwise("Abs"), E.Tanh: _elementwise("Tanh"), E.Sigmoid: _elementwise("Sigmoid"),
    E.ReLU: _elementwise("Relu"), E.Clone: _elementwise("Identity"), MatMul: _elementwise("MatMul"),
    S.Reshape: _reshape, S.Permute: _permute, S.GetItem: _getitem, S.Cat: _cat,
    C.ConvNd: _conv, C.ConvTransposeNd: _conv_transpose, N.BatchNorm: _batch_norm,
    I.Resample: _resample, R.Sum: _reduce("ReduceSum"), R.Mean: _reduce("ReduceMean"), P.ConstantPad: _constant_pad, P.IndexPad: _index_pad,
    R.Softmax: _softmax_op("Softmax"), R.LogSoftmax: _softmax_op("LogSoftmax"),
}
