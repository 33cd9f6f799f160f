"""ONNX's tensor ops as cnnlab modules: arithmetic, shapes and constants (Shape, Gather, Slice,
Unsqueeze, Squeeze, Concat, Transpose, Reshape, Flatten, Cast, Constant, ConstantOfShape), Softmax,
Pad, Dropout, MaxUnpool, DepthToSpace/SpaceToDepth.

Each converter takes a `cnnlab.onnx.load.Node` and returns the module that computes the node from its
non-constant inputs (see `cnnlab.onnx.convert_layers`). Integer tensors (the shape arithmetic that
exporters emit: Shape, Gather, Unsqueeze, Concat, ...) are computed with NumPy, as constants with no
gradient; float tensors go through `cnnlab.nn.functional`, with gradients.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import nn
from cnnlab.autograd import Tensor
from cnnlab.nn import functional as F
from cnnlab.onnx.graph import Call

__all__ = ["TENSORS", "onnx_reshape", "onnx_slices"]


def _ints(x) -> bool:
    return x.dtype.kind in "iub"


# ---------------------------------------------------------------- arithmetic
def _binary(fn, exact):
    """An elementwise op: `exact` (NumPy, ONNX's integer semantics) on integer tensors, else `fn`."""
    def op(a, b):
        return Tensor(exact(a.data, b.data)) if _ints(a) and _ints(b) else fn(a, b)
    op.__name__ = fn.__name__
    return op


def _int_div(a, b):
    return (np.sign(a) * np.sign(b) * (np.abs(a) // np.abs(b))).astype(np.result_type(a, b))  # truncates


ADD, SUB, MUL = _binary(F.add, np.add), _binary(F.sub, np.subtract), _binary(F.mul, np.multiply)
DIV = _binary(F.div, _int_div)


def _sum(*xs):
    total = xs[0]
    for x in xs[1:]:
        total = ADD(total, x)
    return total


# ---------------------------------------------------------------- shapes
def onnx_reshape(shape, target, allowzero=False):
    """ONNX Reshape's target as a concrete shape: 0 copies the input's size at that position (unless
    allowzero), -1 is inferred by `F.reshape`.

    Example:
        >>> onnx_reshape((2, 3, 4), [0, -1])
        (2, -1)
    """
    target = [int(t) for t in np.asarray(target).ravel()]
    return tuple(shape[i] if t == 0 and not allowzero else t for i, t in enumerate(target))


def _reshape(x, shape=None, *, target=None, allowzero=False):
    shape = onnx_reshape(x.shape, target if shape is None else shape.data, allowzero)
    return Tensor(x.data.reshape(shape)) if _ints(x) else F.reshape(x, shape)


def _flatten(x, *, axis):
    a = axis % x.ndim if x.ndim else 0
    return _reshape(x, target=[math.prod(x.shape[:a]), -1] if x.ndim else [1, 1], allowzero=True)


def _shape(x, *, start, end):
    return Tensor(np.array(x.shape[start:end], dtype=np.int64))


def _gather(x, indices, *, axis):
    index, n = indices.data.astype(np.int64), x.shape[axis]
    if index.size and (index.min() < -n or index.max() >= n):
        raise ValueError(f"Gather: indices must be in [{-n}, {n}) (the size of axis {axis} of the data, shape "
                         f"{x.shape}), got indices from {index.min()} to {index.max()}")
    if _ints(x):
        return Tensor(np.take(x.data, index, axis=axis))
    return F.getitem(x, (slice(None),) * (axis % x.ndim) + (index,))


def _unsqueeze(x, axes=None, *, fixed=None):
    axes = [int(a) for a in (np.asarray(fixed) if axes is None else axes.data).ravel()]
    rank = x.ndim + len(axes)
    shape = list(x.shape)
    for a in sorted(a % rank for a in axes):
        shape.insert(a, 1)
    return _reshape(x, target=shape, allowzero=True)


def _squeeze(x, axes=None, *, fixed=None):
    axes = fixed if axes is None else [int(a) for a in axes.data.ravel()]
    axes = [i for i, n in enumerate(x.shape) if n == 1] if axes is None else [a % x.ndim for a in axes]
    return _reshape(x, target=[n for i, n in enumerate(x.shape) if i not in axes] or [], allowzero=True)


def onnx_slices(shape, starts, ends, axes=None, steps=None):
    """ONNX Slice's starts, ends, axes and steps as a tuple of Python slices over `shape`: negative
    starts and ends count from the end, then are clamped to [0, n] ([0, n−1] and [−1, n−1] for a
    negative step, where −1 means before the first element).

    Example:
        >>> onnx_slices((5, 6), [1], [-1], [1])
        (slice(None, None, None), slice(1, 5, 1))
    """
    index = [slice(None)] * len(shape)
    axes = range(len(starts)) if axes is None else axes
    for a, start, end, step in zip(axes, starts, ends, [1] * len(starts) if steps is None else steps):
        n, a = shape[a], a % len(shape)
        start, end = start + n if start < 0 else start, end + n if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), n), min(max(end, 0), n)
        else:
            start, end = min(max(start, 0), n - 1), min(max(end, -1), n - 1)
        index[a] = slice(start, None if end == -1 else end, step)
    return tuple(index)


def _slice(x, *computed, fixed):
    """Slice by `fixed` (starts, ends, axes, steps: each a list of ints, None when absent, or "input":
    the next of the `computed` tensors)."""
    computed = iter(computed)
    index = onnx_slices(x.shape, *[[int(v) for v in next(computed).data.ravel()] if f == "input" else f
                                   for f in fixed])
    return Tensor(x.data[index]) if _ints(x) else F.getitem(x, index)


def slice_(node):
    """Slice: starts, ends and axes from the attributes before opset 10; from inputs after (and steps),
    constants or computed."""
    if node.opset < 10:
        return Call(_slice, fixed=[node.attr("starts"), node.attr("ends"), node.attr("axes"), None])
    fixed = []
    for i, what in enumerate(("starts", "ends", "axes", "steps"), 1):
        if node.has(i) and node.peek(i) is None:
            fixed.append("input")
        else:
            value = node.const(i, what, required=i < 3)
            fixed.append(None if value is None else [int(v) for v in value.ravel()])
    return Call(_slice, fixed=fixed)


def _concat(*xs, axis):
    if all(_ints(x) for x in xs):
        return Tensor(np.concatenate([x.data for x in xs], axis=axis))
    return F.cat(list(xs), dim=axis)


def _transpose(x, *, perm):
    perm = tuple(reversed(range(x.ndim))) if perm is None else perm
    return Tensor(x.data.transpose(perm)) if _ints(x) else F.permute(x, perm)


def _constant(*, value):
    return Tensor(value.copy())


def _constant_of_shape(shape, *, value):
    return Tensor(np.full(tuple(int(n) for n in shape.data.ravel()), value.ravel()[0], dtype=value.dtype))


def _cast(x, *, dtype):
    return F.cast(x, dtype) if x.dtype.kind == "f" and np.dtype(dtype).kind == "f" else Tensor(x.data.astype(dtype))


def _attribute_array(value):
    from onnx import numpy_helper

    return numpy_helper.to_array(value)


def constant(node):
    """Constant: its value (a tensor, or value_float(s)/value_int(s)), folded at load time."""
    for key, make in (("value", _attribute_array), ("value_float", lambda v: np.array(v, np.float32)),
                      ("value_floats", lambda v: np.array(v, np.float32)), ("value_int", lambda v: np.array(v, np.int64)),
                      ("value_ints", lambda v: np.array(v, np.int64))):
        if key in node.attrs:
            return Call(_constant, value=make(node.attrs[key]))
    return node.fail(f"only value, value_float(s) and value_int(s) are supported, got {sorted(node.attrs)}")


def constant_of_shape(node):
    """ConstantOfShape: a tensor of the given shape filled with `value` (float32 0 by default)."""
    value = _attribute_array(node.attrs["value"]) if "value" in node.attrs else np.zeros(1, np.float32)
    return Call(_constant_of_shape, value=value)


def _axes(node, i):
    """Unsqueeze/Squeeze's axes: an attribute before opset 13, an input (a constant, or computed) after."""
    if node.opset < 13:
        return {"fixed": node.attr("axes")}
    if node.has(i) and node.peek(i) is not None:
        return {"fixed": [int(a) for a in node.const(i, "axes").ravel()]}
    return {}


def unsqueeze(node):
    """Unsqueeze: size-1 dims inserted at the axes (of the output)."""
    kwargs = _axes(node, 1)
    if node.opset < 13 and kwargs["fixed"] is None:
        node.fail("attribute axes is required")
    return Call(_unsqueeze, **kwargs)


def reshape(node):
    """Reshape: to a constant shape (a Flatten for [0, -1], folded in load) or to a computed one."""
    allowzero = bool(node.attr("allowzero", 0))
    if node.peek(1) is not None:
        return Call(_reshape, target=node.const(1, "shape").astype(np.int64), allowzero=allowzero)
    return Call(_reshape, allowzero=allowzero)


def flatten(node):
    """Flatten: `nn.Flatten()` for axis 1, else a reshape to (Π dims before axis, Π dims from axis)."""
    axis = int(node.attr("axis", 1))
    return nn.Flatten() if axis == 1 else Call(_flatten, axis=axis)


def cast(node):
    """Cast to the ONNX type `to`."""
    from onnx import helper

    return Call(_cast, dtype=np.dtype(helper.tensor_dtype_to_np_dtype(int(node.attr("to")))))


# ---------------------------------------------------------------- softmax, dropout
def _softmax_2d(x, *, axis, log):
    """Softmax before opset 13: over the dims from `axis` on, flattened (the input as a 2-d matrix)."""
    a = axis % x.ndim
    flat = x.reshape(math.prod(x.shape[:a]), -1)
    return (F.log_softmax if log else F.softmax)(flat, dim=1).reshape(x.shape)


def softmax(node, log=False):
    """Softmax/LogSoftmax: `nn.Softmax(dim=axis)` from opset 13 (axis -1 by default), before it over the
    flattened dims from axis on (axis 1 by default)."""
    if node.opset >= 13:
        axis = int(node.attr("axis", -1))
        return nn.LogSoftmax(dim=axis) if log else nn.Softmax(dim=axis)
    return Call(_softmax_2d, axis=int(node.attr("axis", 1)), log=log)


def dropout(node):
    """Dropout: `nn.Dropout(ratio)`, the identity in eval mode (as ONNX's inference)."""
    if len(node.outputs) > 1 and node.outputs[1]:
        node.fail("the mask output is not supported")
    ratio = node.attr("ratio", 0.5) if node.opset < 12 else node.const(1, "ratio", required=False)
    if node.opset >= 12:
        node.const(2, "training_mode", required=False)
    return nn.Dropout(0.5 if ratio is None else float(ratio))


# ---------------------------------------------------------------- pad
PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def _pad(x, *, pads, axes, mode, value):
    """ONNX Pad: pads [x1_begin, x2_begin, ..., x1_end, x2_end, ...] over `axes` (all by default)."""
    axes = list(range(x.ndim)) if axes is None else [a % x.ndim for a in axes]
    pairs = dict(zip(axes, zip(pads[:len(axes)], pads[len(axes):])))
    first = min([a for a in axes if pairs[a] != (0, 0)] or [x.ndim])
    flat = tuple(v for a in reversed(range(first, x.ndim)) for v in pairs.get(a, (0, 0)))
    return F.pad(x, flat, mode=PAD_MODES[mode], value=value if mode == "constant" else None) if flat else x


def pad(node):
    """Pad with its modes (constant, reflect, edge, wrap): pads and value from the attributes before
    opset 11, from constant inputs after (axes from opset 18)."""
    mode = node.attr("mode", "constant")
    if mode not in PAD_MODES:
        node.fail(f"mode must be one of {', '.join(PAD_MODES)}, got {mode!r}")
    if node.opset < 11:
        pads, value, axes = node.attr("pads"), float(node.attr("value", 0.0)), None
    else:
        pads = node.const(1, "pads")
        value = node.const(2, "constant_value", required=False)
        value = 0.0 if value is None else float(value.ravel()[0]) if value.size else 0.0
        axes = node.const(3, "axes", required=False)
    pads = [int(p) for p in np.asarray(pads).ravel()]
    axes = None if axes is None else [int(a) for a in np.asarray(axes).ravel()]
    if len(pads) % 2 or (axes is not None and len(pads) != 2 * len(axes)):
        node.fail(f"pads must hold a begin and an end per axis, got {pads}")
    return Call(_pad, pads=pads, axes=axes, mode=mode, value=value)


# ---------------------------------------------------------------- MaxUnpool, DepthToSpace, SpaceToDepth
def _max_unpool(x, indices, output_shape=None, *, kernel, stride, pads):
    D = len(kernel)
    if output_shape is not None:
        size = tuple(int(n) for n in output_shape.data.ravel()[-D:])
    else:
        size = tuple((n - 1) * s + k - b - e for n, k, s, (b, e) in zip(x.shape[2:], kernel, stride, pads))
    N, C = x.shape[:2]
    base = (np.arange(N * C, dtype=np.int64) * math.prod(size)).reshape((N, C) + (1,) * D)
    unpool = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[D - 1]
    padding = tuple((b + e) // 2 for b, e in pads)
    return unpool(x, Tensor(indices.data - base), kernel, stride, padding, output_size=size)


def max_unpool(node):
    """MaxUnpool: `F.max_unpoolNd`, with ONNX's indices (flat over the whole tensor) made per plane."""
    kernel = node.attr("kernel_shape") or node.fail("attribute kernel_shape is required")
    D = len(kernel)
    pads = node.ints("pads", 2 * D, (0,) * 2 * D)
    return Call(_max_unpool, kernel=tuple(kernel), stride=node.ints("strides", D, (1,) * D),
                pads=tuple(zip(pads[:D], pads[D:])))


def _depth_to_space(x, *, b, mode):
    N, C, H, W = x.shape
    if mode == "DCR":
        y = x.reshape(N, b, b, C // (b * b), H, W).permute(0, 3, 4, 1, 5, 2)   # (N, C/b², H, b, W, b)
    else:
        y = x.reshape(N, C // (b * b), b, b, H, W).permute(0, 1, 4, 2, 5, 3)   # (N, C/b², H, b, W, b)
    return y.reshape(N, C // (b * b), H * b, W * b)


def _space_to_depth(x, *, b):
    N, C, H, W = x.shape
    y = x.reshape(N, C, H // b, b, W // b, b).permute(0, 3, 5, 1, 2, 4)        # (N, b, b, C, H/b, W/b)
    return y.reshape(N, C * b * b, H // b, W // b)


def depth_to_space(node):
    """DepthToSpace (mode DCR, the default, or CRD): channels to b×b blocks of pixels."""
    mode = node.attr("mode", "DCR")
    if mode not in ("DCR", "CRD"):
        node.fail(f"mode must be DCR or CRD, got {mode!r}")
    return Call(_depth_to_space, b=int(node.attr("blocksize")), mode=mode)


# ---------------------------------------------------------------- Resize, Upsample
#: (ONNX mode, coordinate_transformation_mode, nearest_mode) -> (F.interpolate's mode family, align_corners):
#: the ONNX resizes that PyTorch's interpolate computes exactly.
_RESIZES = {
    ("nearest", "asymmetric", "floor"): ("nearest", None),               # x = o / s, then ⌊x⌋
    ("nearest", "half_pixel", "round_prefer_ceil"): ("nearest-exact", None),   # ⌊(o + ½) / s⌋
    ("linear", "half_pixel", None): ("linear", False), ("linear", "pytorch_half_pixel", None): ("linear", False),
    ("linear", "align_corners", None): ("linear", True),
    ("cubic", "half_pixel", None): ("bicubic", False), ("cubic", "pytorch_half_pixel", None): ("bicubic", False),
    ("cubic", "align_corners", None): ("bicubic", True),
}
_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _resize_to(x, sizes, *, mode, align_corners):
    """Resize to `sizes` (N, C, *spatial) computed by the graph: the spatial ones are used."""
    return F.interpolate(x, size=tuple(int(v) for v in sizes.data.ravel()[2:]), mode=mode, align_corners=align_corners)


def _resize(x, *, size, scale_factor, mode, align_corners):
    return F.interpolate(x, size=size, scale_factor=scale_factor, mode=mode, align_corners=align_corners)


def resize(node):
    """Resize (opset 10 on) and Upsample (opsets 7-9) as F.interpolate, for the cases it computes exactly
    (`_RESIZES`; Upsample and Resize before opset 11 are nearest/asymmetric/floor or linear/asymmetric): the
    spatial axes only, scales or sizes as constants, cubic with a = −0.75 and exclude_outside 0, no
    antialias. Anything else is refused, naming what."""
    mode = node.attr("mode", "nearest")
    old = node.op == "Upsample" or node.opset < 11
    if old:
        scales = node.attr("scales") if node.op == "Upsample" and node.opset < 9 else node.const(1, "scales")
        sizes, computed, coordinates, rounding = None, False, "asymmetric", "floor"
    else:
        if node.const(1, "roi", required=False) is not None and node.attr("coordinate_transformation_mode") == \
                "tf_crop_and_resize":
            node.fail("coordinate_transformation_mode tf_crop_and_resize is not supported")
        scales = node.const(2, "scales", required=False)
        computed = node.has(3) and node.peek(3) is None      # sizes from the graph (an exporter's Shape + Concat)
        sizes = None if computed else node.const(3, "sizes", required=False)
        coordinates = node.attr("coordinate_transformation_mode", "half_pixel")
        rounding = node.attr("nearest_mode", "round_prefer_floor")
        if node.attr("axes") is not None or node.attr("antialias", 0) or node.attr("exclude_outside", 0) or \
                node.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
            node.fail("axes, antialias, exclude_outside and keep_aspect_ratio_policy are not supported")
        if mode == "cubic" and float(node.attr("cubic_coeff_a", -0.75)) != -0.75:
            node.fail(f"cubic_coeff_a must be -0.75 (PyTorch's bicubic), got {node.attr('cubic_coeff_a')}")
    key = (mode, coordinates, rounding if mode == "nearest" else None)
    if key not in _RESIZES:
        node.fail(f"mode {mode!r} with coordinate_transformation_mode {coordinates!r}"
                  + (f" and nearest_mode {rounding!r}" if mode == "nearest" else "")
                  + " is not supported (supported: " + "; ".join(" ".join(k for k in ks if k) for ks in _RESIZES) + ")")
    family, align = _RESIZES[key]
    given = [float(v) for v in np.asarray(scales).ravel()] if scales is not None and np.asarray(scales).size else None
    wanted = [int(v) for v in np.asarray(sizes).ravel()] if sizes is not None and np.asarray(sizes).size else None
    if computed:
        if given is not None:
            node.fail("give exactly one of scales and sizes")
        family, align = _RESIZES[key]
        rank = node.rank(0)
        if rank not in (3, 4, 5) or (family == "bicubic" and rank != 4):
            node.fail(f"resizes (N, C, 1-3 spatial) inputs (cubic: 2-d images), got rank {rank}")
        name = _LINEAR[rank - 2] if family == "linear" else family
        return Call(_resize_to, mode=name, align_corners=align)
    if (given is None) == (wanted is None):
        node.fail("give exactly one of scales and sizes, as constants")
    D = len(given or wanted) - 2
    if D not in (1, 2, 3) or (given is not None and given[:2] != [1.0, 1.0]):
        node.fail(f"only the spatial axes of an (N, C, 1-3 spatial) input may be resized, got scales {given} "
                  f"and sizes {wanted}")
    if family == "bicubic" and D != 2:
        node.fail("cubic resizes 2-d images only")
    name = _LINEAR[D] if family == "linear" else family
    return Call(_resize, size=None if wanted is None else tuple(wanted[2:]),
                scale_factor=None if given is None else tuple(given[2:]), mode=name, align_corners=align)


TENSORS = {
    "Add": lambda node: Call(ADD),
    "Sub": lambda node: Call(SUB),
    "Mul": lambda node: Call(MUL),
    "Div": lambda node: Call(DIV),
    "Sum": lambda node: Call(_sum),
    "Neg": lambda node: Call(F.neg),
    "Abs": lambda node: Call(F.abs),
    "Exp": lambda node: Call(F.exp),
    "Log": lambda node: Call(F.log),
    "Sqrt": lambda node: Call(F.sqrt),
    "Identity": lambda node: nn.Identity(),
    "Constant": constant,
    "ConstantOfShape": constant_of_shape,
    "Cast": cast,
    "Shape": lambda node: Call(_shape, start=int(node.attr("start", 0)), end=node.attr("end")),
    "Gather": lambda node: Call(_gather, axis=int(node.attr("axis", 0))),
    "Unsqueeze": unsqueeze,
    "Squeeze": lambda node: Call(_squeeze, **_axes(node, 1)),
    "Slice": slice_,
    "Concat": lambda node: Call(_concat, axis=int(node.attr("axis"))),
    "Transpose": lambda node: Call(_transpose, perm=None if node.attr("perm") is None else tuple(node.attr("perm"))),
    "Reshape": reshape,
    "Flatten": flatten,
    "Softmax": softmax,
    "LogSoftmax": lambda node: softmax(node, log=True),
    "Dropout": dropout,
    "Pad": pad,
    "MaxUnpool": max_unpool,
    "DepthToSpace": depth_to_space,
    "SpaceToDepth": lambda node: Call(_space_to_depth, b=int(node.attr("blocksize"))),
    "Resize": resize,
    "Upsample": resize,
}
