"""What `cnnlab.onnx.export` writes for each layer: the table `LAYERS`, layer class -> writer.

A layer writer is ``write(g, call, ins, outs)``: `g` the `GraphBuilder`, `call` the recorded `Call`
(its module, name, argument tensors and output tensors), `ins` the value names of the arguments,
`outs` the names its results must get. It reads the layer's public attributes (kernel_size, stride,
padding, ...) and the shapes of the traced tensors, and refuses, with `ExportError` naming the layer
and why, what ONNX cannot express. (The ops between layers are in `cnnlab.onnx.export_ops`.)

Choices that keep ONNX's numbers equal to PyTorch's:

- ceil_mode is written as extra padding at the end of each axis, so that ONNX's shape inference
  and every runtime agree on PyTorch's output size (its last window starts inside the input);
  AveragePool with count_include_pad=True then pads explicitly with zeros and averages over the
  padded tensor (count_include_pad=0), which counts the padding but never the ceil-mode overhang.
- Linear is Gemm(transB=1) on the weight as it is stored (one initializer per state-dict key).
- adaptive average pooling is AveragePool where the bins are uniform (n divisible by o), else one
  MatMul per axis with the bins' averaging matrix (exact for any sizes); adaptive max pooling is
  MaxPool where the bins are uniform, else one ReduceMax per bin.
- 'circular' padding is Pad(mode='wrap') from opset 19, else one Gather per axis (as cnnlab pads);
  so is a non-constant pad that crops (a negative pad).
- max pooling's indices are ONNX's flat indices taken modulo the plane (PyTorch's per-plane
  indices); MaxUnpool takes ONNX's own indices from the MaxPool that made them.
- Dropout in eval mode returns its input, so nothing is written for it (nor for Identity).
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import arguments, shapes
from cnnlab import nn
from cnnlab.onnx.export_ops import BIG, ExportError, along_axis, onnx_pads, reshape_kept, slice_axes, write_pad

__all__ = ["LAYERS"]


def _refuse(call, why: str):
    return ExportError(f"export: {call.label} cannot be exported to ONNX: {why}")


# ---------------------------------------------------------------- convolution and linear
def _conv(g, call, ins, outs):
    m, x = call.module, ins[0]
    pairs = shapes.conv_pads(m.padding, m.kernel_size, m.dilation)
    if m.padding_mode != "zeros":
        pads = {2 + i: p for i, p in enumerate(pairs)}
        x = write_pad(g, x, call.args[0].shape, pads, m.padding_mode, name=f"{call.name}.pad")
        pairs = ((0, 0),) * m.D
    inputs = [x, g.param(m.weight)] + ([g.param(m.bias)] if m.bias is not None else [])
    g.node("Conv", inputs, outs, name=call.name, kernel_shape=list(m.kernel_size), strides=list(m.stride),
           pads=onnx_pads(pairs), dilations=list(m.dilation), group=m.groups)


def _conv_transpose(g, call, ins, outs):
    m = call.module
    n, o = call.args[0].shape[2:], call.outputs[0].shape[2:]
    low = [shapes.conv_transpose_output_size(a, k, s, p, 0, d)
           for a, k, s, p, d in zip(n, m.kernel_size, m.stride, m.padding, m.dilation)]
    inputs = [ins[0], g.param(m.weight)] + ([g.param(m.bias)] if m.bias is not None else [])
    g.node("ConvTranspose", inputs, outs, name=call.name, kernel_shape=list(m.kernel_size), strides=list(m.stride),
           pads=onnx_pads((p, p) for p in m.padding), dilations=list(m.dilation), group=m.groups,
           output_padding=[b - a for a, b in zip(low, o)])   # forward(output_size=...) included


def _deform_conv(g, call, ins, outs):
    m = call.module
    if g.opset < 19:
        raise _refuse(call, f"ONNX's DeformConv needs opset 19 or later, got opset={g.opset}")
    c = m.conv_offset
    offsets = g.node("Conv", [ins[0], g.param(c.weight), g.param(c.bias)], name=f"{call.name}.conv_offset",
                     kernel_shape=list(c.kernel_size), strides=list(c.stride),
                     pads=onnx_pads((p, p) for p in c.padding), dilations=list(c.dilation))
    inputs = [ins[0], g.param(m.weight), offsets, g.param(m.bias) if m.bias is not None else ""]
    if m.modulated:
        n = 2 * m.offset_groups * m.kernel_size[0] * m.kernel_size[1]
        inputs[2] = slice_axes(g, offsets, [0], [n], [1], f"{call.name}.offset", axes=[1])
        inputs.append(g.node("Sigmoid", [slice_axes(g, offsets, [n], [BIG], [1], f"{call.name}.mask", axes=[1])],
                             name=f"{call.name}.mask"))
    g.node("DeformConv", inputs, outs, name=call.name, kernel_shape=list(m.kernel_size), strides=list(m.stride),
           pads=onnx_pads((p, p) for p in m.padding), dilations=list(m.dilation), group=m.groups,
           offset_group=m.offset_groups)


def _linear(g, call, ins, outs):
    m = call.module
    if call.args[0].ndim == 2:
        inputs = [ins[0], g.param(m.weight)] + ([g.param(m.bias)] if m.bias is not None else [])
        g.node("Gemm", inputs, outs, name=call.name, transB=1)
        return
    wt = g.node("Transpose", [g.param(m.weight)], name=f"{call.name}.weight_t", perm=[1, 0])
    if m.bias is None:
        g.node("MatMul", [ins[0], wt], outs, name=call.name)
        return
    y = g.node("MatMul", [ins[0], wt], name=f"{call.name}.matmul")
    g.node("Add", [y, g.param(m.bias)], outs, name=call.name)


def _flatten(g, call, ins, outs):
    x = call.args[0]
    s, e = call.module.start_dim % x.ndim, call.module.end_dim % x.ndim
    reshape_kept(g, ins[0], x.shape, s, e, outs, call.name)


# ---------------------------------------------------------------- activations
def _simple(op_type, **attributes):
    def write(g, call, ins, outs):
        g.node(op_type, [ins[0]], outs, name=call.name, **attributes)
    return write


def _relu6(g, call, ins, outs):
    low, high = g.constant(f"{call.name}.min", np.array(0.0)), g.constant(f"{call.name}.max", np.array(6.0))
    g.node("Clip", [ins[0], low, high], outs, name=call.name)


def _leaky_relu(g, call, ins, outs):
    g.node("LeakyRelu", [ins[0]], outs, name=call.name, alpha=float(call.module.negative_slope))


def _elu(g, call, ins, outs):
    g.node("Elu", [ins[0]], outs, name=call.name, alpha=float(call.module.alpha))


def _gelu(g, call, ins, outs):
    x, name = ins[0], call.name
    if call.module.approximate == "none":   # x·Φ(x) = x · (1 + erf(x/√2)) / 2
        inner = g.node("Erf", [g.node("Mul", [x, g.constant(f"{name}.c", np.array(math.sqrt(0.5)))], name=name)],
                       name=name)
    else:                                   # x · (1 + tanh(√(2/π)·(x + 0.044715·x³))) / 2
        cube = g.node("Mul", [g.node("Mul", [x, x], name=name), x], name=name)
        poly = g.node("Add", [x, g.node("Mul", [cube, g.constant(f"{name}.k", np.array(0.044715))], name=name)],
                      name=name)
        inner = g.node("Tanh", [g.node("Mul", [poly, g.constant(f"{name}.c", np.array(math.sqrt(2 / math.pi)))],
                                       name=name)], name=name)
    one_plus = g.node("Add", [inner, g.constant(f"{name}.one", np.array(1.0))], name=name)
    half_x = g.node("Mul", [x, g.constant(f"{name}.half", np.array(0.5))], name=name)
    g.node("Mul", [half_x, one_plus], outs, name=name)


def _silu(g, call, ins, outs):
    g.node("Mul", [ins[0], g.node("Sigmoid", [ins[0]], name=call.name)], outs, name=call.name)


def _softmax(op_type):
    def write(g, call, ins, outs):
        dim = call.module.dim
        if dim is None:   # PyTorch's implicit choice, as the layer makes it
            dim = 0 if call.args[0].ndim in (0, 1, 3) else 1
        g.node(op_type, [ins[0]], outs, name=call.name, axis=dim)
    return write


# ---------------------------------------------------------------- normalization
def _batch_norm(g, call, ins, outs):
    m = call.module
    if m.running_mean is None:
        raise _refuse(call, "with track_running_stats=False it normalises with the batch's own statistics in eval "
                            "mode too, and ONNX's BatchNormalization uses fixed statistics")
    C = m.num_features
    scale = g.param(m.weight) if m.weight is not None else g.constant(f"{call.name}.ones", np.ones(C))
    bias = g.param(m.bias) if m.bias is not None else g.constant(f"{call.name}.zeros", np.zeros(C))
    g.node("BatchNormalization", [ins[0], scale, bias, g.param(m.running_mean), g.param(m.running_var)], outs,
           name=call.name, epsilon=float(m.eps))


def _local_response_norm(g, call, ins, outs):
    m = call.module
    if m.size % 2 == 0:
        raise _refuse(call, f"an even size (size={m.size}) puts PyTorch's window at c-{m.size // 2}..c+"
                            f"{(m.size - 1) // 2} but ONNX's LRN at c-{(m.size - 1) // 2}..c+{m.size // 2}")
    g.node("LRN", [ins[0]], outs, name=call.name, size=m.size, alpha=float(m.alpha), beta=float(m.beta),
           bias=float(m.k))


def _layer_norm(g, call, ins, outs):
    m, D = call.module, len(call.module.normalized_shape)
    shape = tuple(m.normalized_shape)
    scale = g.param(m.weight) if m.weight is not None else g.constant(f"{call.name}.ones", np.ones(shape))
    bias = g.param(m.bias) if getattr(m, "bias", None) is not None else g.constant(f"{call.name}.zeros",
                                                                                  np.zeros(shape))
    g.node("LayerNormalization", [ins[0], scale, bias], outs, name=call.name, axis=-D, epsilon=float(m.eps))


# ---------------------------------------------------------------- pooling
def _window(call, D, kernel_size, stride, padding, dilation=1):
    return arguments.window_args(D, kernel_size, stride, padding, dilation, op=type(call.module).__name__)


def _end_pads(n, o, k, s, p, d):
    """Pads (before, after) per axis that give the output sizes o in floor mode (ceil mode's overhang)."""
    return [(pi, max(pi, (oi - 1) * si + di * (ki - 1) + 1 - ni - pi))
            for ni, oi, ki, si, pi, di in zip(n, o, k, s, p, d)]


def _max_pool(g, call, ins, outs):
    m, x = call.module, call.args[0]
    D = x.ndim - 2
    k, s, p, d = _window(call, D, m.kernel_size, m.stride, m.padding, m.dilation)
    pairs = _end_pads(x.shape[2:], call.outputs[0].shape[2:], k, s, p, d)
    attributes = dict(kernel_shape=list(k), strides=list(s), pads=onnx_pads(pairs), dilations=list(d))
    if len(outs) == 1:
        g.node("MaxPool", [ins[0]], outs, name=call.name, **attributes)
        return
    flat = g.fresh(f"{outs[1]}.flat")
    g.node("MaxPool", [ins[0]], [outs[0], flat], name=call.name, **attributes)
    plane = math.prod(x.shape[2:])
    g.node("Mod", [flat, g.ints(f"{call.name}.plane", plane)], [outs[1]], name=f"{call.name}.indices")
    g.extra[outs[1]] = (flat, plane)   # for a MaxUnpool: ONNX's flat indices, and the plane they index


def _avg_pool(g, call, ins, outs):
    m, x = call.module, call.args[0]
    if getattr(m, "divisor_override", None) is not None:
        raise _refuse(call, "ONNX's AveragePool has no divisor_override")
    D = x.ndim - 2
    k, s, p, _ = _window(call, D, m.kernel_size, m.stride, m.padding)
    pairs = _end_pads(x.shape[2:], call.outputs[0].shape[2:], k, s, p, (1,) * D)
    counted_pad = m.count_include_pad and any(p)
    overhang = any(a > b for b, a in pairs)
    source = ins[0]
    if counted_pad and overhang:   # the zeros count, the overhang does not
        source = write_pad(g, source, x.shape, {2 + i: (b, b) for i, (b, _) in enumerate(pairs)}, "constant",
                           name=f"{call.name}.pad")
        pairs = [(0, a - b) for b, a in pairs]
    g.node("AveragePool", [source], outs, name=call.name, kernel_shape=list(k), strides=list(s),
           pads=onnx_pads(pairs), count_include_pad=int(counted_pad and not overhang))


def _lp_pool(g, call, ins, outs):
    m, x, name = call.module, call.args[0], call.name
    D, p = x.ndim - 2, m.norm_type
    k, s, _, _ = _window(call, D, m.kernel_size, m.stride, 0)
    o = call.outputs[0].shape[2:]
    pairs = _end_pads(x.shape[2:], o, k, s, (0,) * D, (1,) * D)
    window = dict(kernel_shape=list(k), strides=list(s), pads=onnx_pads(pairs))
    if math.isinf(p):
        absolute = g.node("Abs", [ins[0]], name=name)
        if p > 0:
            return g.node("MaxPool", [absolute], outs, name=name, **window)
        neg = g.node("MaxPool", [g.node("Neg", [absolute], name=name)], name=name, **window)
        return g.node("Neg", [neg], outs, name=name)
    if float(p).is_integer() and int(p) % 2 == 0 and p > 0 and not any(a for _, a in pairs):
        return g.node("LpPool", [ins[0]], outs, name=name, p=int(p), **window)   # Σ|x|^p = Σx^p
    # PyTorch's composition (as cnnlab's lp_pool): avg_pool(x^p)·Πk, then ^(1/p)
    powered = g.node("Pow", [ins[0], g.constant(f"{name}.p", np.array(float(p)))], name=name)
    mean = g.node("AveragePool", [powered], name=name, count_include_pad=0, **window)
    total = g.node("Mul", [mean, g.constant(f"{name}.k", np.array(float(math.prod(k))))], name=name)
    g.node("Pow", [total, g.constant(f"{name}.inverse_p", np.array(1.0 / p))], outs, name=name)


def _adaptive_avg_pool(g, call, ins, outs):
    x, name = call.args[0], call.name
    n, o = x.shape[2:], call.outputs[0].shape[2:]
    if all(oi == 1 for oi in o):
        return g.node("GlobalAveragePool", [ins[0]], outs, name=name)
    if all(ni % oi == 0 for ni, oi in zip(n, o)):
        k = [ni // oi for ni, oi in zip(n, o)]
        return g.node("AveragePool", [ins[0]], outs, name=name, kernel_shape=k, strides=k)
    y = ins[0]
    for i, (ni, oi) in enumerate(zip(n, o)):   # bins of unequal length: y = y ×_axis A, A[i] the bin's mean
        if ni == oi:
            continue
        bins = np.zeros((ni, oi))
        for j, (a, b) in enumerate(shapes.adaptive_bins(ni, oi)):
            bins[a:b, j] = 1.0 / (b - a)
        y = along_axis(g, y, x.ndim, 2 + i, lambda v: g.node("MatMul", [v, g.constant(f"{name}.bins", bins)],
                                                              name=name), name)
    g.node("Identity", [y], outs, name=name)


def _adaptive_max_pool(g, call, ins, outs):
    x, name = call.args[0], call.name
    if len(outs) > 1:
        raise _refuse(call, "return_indices=True has no ONNX form for adaptive bins")
    n, o = x.shape[2:], call.outputs[0].shape[2:]
    if all(oi == 1 for oi in o):
        return g.node("GlobalMaxPool", [ins[0]], outs, name=name)
    if all(ni % oi == 0 for ni, oi in zip(n, o)):
        k = [ni // oi for ni, oi in zip(n, o)]
        return g.node("MaxPool", [ins[0]], outs, name=name, kernel_shape=k, strides=k)
    y = ins[0]
    for i, (ni, oi) in enumerate(zip(n, o)):   # one ReduceMax per bin, concatenated (max is separable)
        if ni == oi:
            continue
        axis = 2 + i
        parts = [_reduce_max(g, slice_axes(g, y, [a], [b], [1], name, axes=[axis]), axis, name)
                 for a, b in shapes.adaptive_bins(ni, oi)]
        y = g.node("Concat", parts, name=name, axis=axis)
    g.node("Identity", [y], outs, name=name)


def _reduce_max(g, x, axis, name):
    if g.opset >= 18:
        return g.node("ReduceMax", [x, g.ints(f"{name}.axes", [axis])], name=name, keepdims=1)
    return g.node("ReduceMax", [x], name=name, axes=[axis], keepdims=1)


def _max_unpool(g, call, ins, outs):
    m, x = call.module, call.args[0]
    if len(ins) < 2 or not isinstance(ins[1], str) or ins[1] not in g.extra:
        raise _refuse(call, "its indices must come from a MaxPool of the same model (ONNX's MaxUnpool takes "
                            "ONNX's own flat indices)")
    flat, plane_in = g.extra[ins[1]]
    D = x.ndim - 2
    k, s, p, _ = _window(call, D, m.kernel_size, m.stride, m.padding)
    o = call.outputs[0].shape[2:]
    plane_out = math.prod(o)
    index = flat
    if plane_out != plane_in:   # (n·C + c)·plane_out + position in the plane
        rows = g.node("Div", [flat, g.ints(f"{call.name}.plane_in", plane_in)], name=call.name)
        index = g.node("Add", [g.node("Mul", [rows, g.ints(f"{call.name}.plane_out", plane_out)], name=call.name),
                               ins[1]], name=call.name)
    inputs = [ins[0], index]
    default = [shapes.unpool_output_size(a, ki, si, pi) for a, ki, si, pi in zip(x.shape[2:], k, s, p)]
    if list(o) != default:
        lead = g.node("Shape", [ins[0]], name=call.name, start=0, end=2)
        inputs.append(g.node("Concat", [lead, g.ints(f"{call.name}.size", list(o))], name=call.name, axis=0))
    g.node("MaxUnpool", inputs, outs, name=call.name, kernel_shape=list(k), strides=list(s),
           pads=onnx_pads((pi, pi) for pi in p))


def _pad_layer(g, call, ins, outs):
    m, x = call.module, call.args[0]
    pads = {x.ndim - 1 - i: (m.padding[2 * i], m.padding[2 * i + 1]) for i in range(m.dims)}
    write_pad(g, ins[0], x.shape, pads, m.mode, getattr(m, "value", 0.0), name=call.name, out=outs[0])


# ---------------------------------------------------------------- the layers
LAYERS = {
    nn.Conv1d: _conv, nn.Conv2d: _conv, nn.Conv3d: _conv,
    nn.ConvTranspose1d: _conv_transpose, nn.ConvTranspose2d: _conv_transpose, nn.ConvTranspose3d: _conv_transpose,
    nn.DeformConv2d: _deform_conv,
    nn.Linear: _linear, nn.Flatten: _flatten,
    nn.ReLU: _simple("Relu"), nn.Sigmoid: _simple("Sigmoid"), nn.Tanh: _simple("Tanh"), nn.ReLU6: _relu6,
    nn.LeakyReLU: _leaky_relu, nn.ELU: _elu, nn.GELU: _gelu, nn.SiLU: _silu, nn.Hardswish: _simple("HardSwish"),
    nn.Softmax: _softmax("Softmax"), nn.LogSoftmax: _softmax("LogSoftmax"),
    nn.BatchNorm1d: _batch_norm, nn.BatchNorm2d: _batch_norm, nn.BatchNorm3d: _batch_norm,
    nn.LocalResponseNorm: _local_response_norm, nn.LayerNorm: _layer_norm,
    nn.MaxPool1d: _max_pool, nn.MaxPool2d: _max_pool, nn.MaxPool3d: _max_pool,
    nn.AvgPool1d: _avg_pool, nn.AvgPool2d: _avg_pool, nn.AvgPool3d: _avg_pool,
    nn.LPPool1d: _lp_pool, nn.LPPool2d: _lp_pool, nn.LPPool3d: _lp_pool,
    nn.AdaptiveAvgPool1d: _adaptive_avg_pool, nn.AdaptiveAvgPool2d: _adaptive_avg_pool,
    nn.AdaptiveAvgPool3d: _adaptive_avg_pool,
    nn.AdaptiveMaxPool1d: _adaptive_max_pool, nn.AdaptiveMaxPool2d: _adaptive_max_pool,
    nn.AdaptiveMaxPool3d: _adaptive_max_pool,
    nn.MaxUnpool1d: _max_unpool, nn.MaxUnpool2d: _max_unpool, nn.MaxUnpool3d: _max_unpool,
    **{layer: _pad_layer for layer in (
        nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d, nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d,
        nn.ReflectionPad1d, nn.ReflectionPad2d, nn.ReflectionPad3d, nn.ReplicationPad1d, nn.ReplicationPad2d,
        nn.ReplicationPad3d, nn.CircularPad1d, nn.CircularPad2d, nn.CircularPad3d)},
}


