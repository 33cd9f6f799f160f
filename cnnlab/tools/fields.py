"""What `cnnlab.summary` knows of each kind of layer: its window (kernel, stride, padding per side,
dilation, groups) and the receptive field of its output (`field_out`), and the `Tracer` that follows
receptive fields through the autograd graph of a forward pass where a model is not a plain stack.

The rules (Araujo, Norris and Sim, Distill 2019; the arithmetic is `shapes.field_after` and
`shapes.merge_fields`): a conv, transposed conv or pooling layer moves the field by its window; a pad
layer by its padding before; adaptive pooling with bins of one size (n divisible by o) is a window of
n/o; layers that keep their input's shape (activations, normalization, dropout) are pointwise; after
a flatten, a linear layer or global pooling there is no field. Outside the layers, in a traced
forward: a strided slice ``x[..., a::s]`` is a window of 1 with stride s and padding −a; an op that
keeps the spatial size is pointwise; where paths meet (an add) their fields merge.
"""
from __future__ import annotations

from dataclasses import dataclass

from cnnlab import nn, shapes
from cnnlab.autograd import Tensor
from cnnlab.keras import layers as K
from cnnlab.keras.layers.base import tf_padding
from cnnlab.nn.functional.shape import GetItem
from cnnlab.nn.modules.module import same_shape

__all__ = ["Window", "window", "field_out", "Tracer", "CONSTANT", "channels_last", "spatial_sizes", "CONVS",
           "CONV_TRANSPOSES", "KERAS_CONVS", "KERAS_TRANSPOSES", "KERAS_POOLS", "WEIGHTED"]

CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
CONV_TRANSPOSES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
KERAS_CONVS = (K.Conv1D, K.Conv2D, K.Conv3D, K.DepthwiseConv1D, K.DepthwiseConv2D, K.SeparableConv1D,
               K.SeparableConv2D)
KERAS_TRANSPOSES = (K.Conv1DTranspose, K.Conv2DTranspose, K.Conv3DTranspose)
KERAS_POOLS = (K.MaxPooling1D, K.MaxPooling2D, K.MaxPooling3D, K.AveragePooling1D, K.AveragePooling2D,
               K.AveragePooling3D)
ADAPTIVE_POOLS = tuple(getattr(nn, f"Adaptive{kind}Pool{d}d") for kind in ("Avg", "Max") for d in (1, 2, 3))
PADS = tuple(getattr(nn, f"{kind}Pad{d}d") for kind in ("Constant", "Zero", "Reflection", "Replication", "Circular")
             for d in (1, 2, 3))
#: the layers whose weights make MACs
WEIGHTED = CONVS + CONV_TRANSPOSES + KERAS_CONVS + KERAS_TRANSPOSES + (nn.Linear, nn.DeformConv2d, K.Dense)


# ---------------------------------------------------------------- a layer's window
@dataclass
class Window:
    """The window of a conv or pooling layer: D-tuples, pads as (before, after) per axis."""
    kernel_size: tuple
    stride: tuple
    padding: object          # as the layer holds it: ints, 'same', 'valid'
    pads: tuple
    dilation: tuple
    groups: int | None
    transposed: bool = False


def channels_last(module) -> bool:
    return getattr(module, "data_format", "channels_first") == "channels_last"


def spatial_sizes(module, shape) -> tuple:
    """The spatial sizes of a (N, C, *spatial) shape, or (N, *spatial, C) for a channels_last Keras layer."""
    return tuple(shape[1:-1]) if channels_last(module) else tuple(shape[2:])


def window(module, spatial) -> Window | None:
    """The window of `module` on an input of these spatial sizes, or None for a layer without one."""
    if isinstance(module, CONVS + (nn.DeformConv2d,)):
        pads = shapes.conv_pads(module.padding, module.kernel_size, module.dilation)
        return Window(module.kernel_size, module.stride, module.padding, pads, module.dilation, module.groups)
    if isinstance(module, CONV_TRANSPOSES):
        return Window(module.kernel_size, module.stride, module.padding, tuple((p, p) for p in module.padding),
                       module.dilation, module.groups, transposed=True)
    if isinstance(module, nn.Module) and callable(getattr(module, "window", None)):   # windowed pooling
        k, s, p, d = module.window()
        return Window(k, s, getattr(module, "padding", 0), tuple((q, q) for q in p), d, None)
    if isinstance(module, KERAS_CONVS + KERAS_POOLS):
        k = getattr(module, "kernel_size", None) or module.pool_size
        d = getattr(module, "dilation_rate", (1,) * len(k))
        pads = tuple(tf_padding(spatial, k, module.strides, d, module.padding, op=type(module).__name__))
        return Window(tuple(k), tuple(module.strides), module.padding, pads, tuple(d), getattr(module, "groups", None))
    return None


# ---------------------------------------------------------------- receptive fields
CONSTANT = object()   # a tensor that does not depend on the input (a weight, a buffer)


def field_out(module, fields, in_shape, out_shape, notes, name):
    """The Fields (one per spatial axis) of a layer's output, from its input's; None where not defined."""
    if fields is None or len(in_shape) != len(out_shape):
        return None   # no field before, or the spatial axes are gone (flatten, linear, global pooling)
    n_in, n_out = spatial_sizes(module, in_shape), spatial_sizes(module, out_shape)
    where = f"'{name}' ({type(module).__name__})"
    if isinstance(module, nn.DeformConv2d) or isinstance(module, KERAS_TRANSPOSES):
        notes.append(f"{where}: the receptive field is not followed through this layer")
        return None
    w = window(module, n_in)
    if w is not None:
        return tuple(shapes.field_after(f, k, s, pair, d, w.transposed, op="summary")
                     for f, k, s, pair, d in zip(fields, w.kernel_size, w.stride, w.pads,
                                                 w.dilation))
    if isinstance(module, ADAPTIVE_POOLS):
        if any(n % o for n, o in zip(n_in, n_out)):
            notes.append(f"{where}: adaptive pooling of {n_in} to {n_out} has windows of different sizes, "
                         "so no one receptive field")
            return None
        return tuple(shapes.field_after(f, n // o, n // o, op="summary") for f, n, o in zip(fields, n_in, n_out))
    if isinstance(module, PADS):
        befores = module.padding[::2][::-1]   # the pad layers list the last axis first
        return tuple(shapes.field_after(f, 1, 1, p, op="summary") for f, p in zip(fields, befores))
    if type(module).output_shape is same_shape or (isinstance(module, K.Layer) and n_in == n_out):
        return fields   # pointwise along the spatial axes
    notes.append(f"{where}: the receptive field is not followed through this layer")
    return None


class Tracer:
    """The Fields of every tensor of one forward pass (recorded under `cnnlab.autograd.keep_inputs`): layers
    by `field_out` (set by the hooks), other ops through the autograd graph — a strided slice crops, a shape-keeping op is pointwise, and where paths meet
    their fields merge (`shapes.merge_fields`)."""

    def __init__(self, x: Tensor):
        self.x, self.notes, self.layer = x, [], "the output"
        self.known = {id(x): (x, tuple(shapes.Field(1, 1, 0) for _ in x.shape[2:]))}

    def set(self, t: Tensor, fields) -> None:
        self.known[id(t)] = (t, fields)   # the tensor is kept, so that its id is not reused

    def fields(self, t: Tensor):
        hit = self.known.get(id(t))
        if hit is not None:
            return hit[1]
        ctx = t.grad_fn
        if ctx is None:
            return CONSTANT
        if not hasattr(ctx, "inputs"):
            raise RuntimeError("Tracer: the graph keeps no input tensors; run the forward under "
                               "cnnlab.autograd.keep_inputs()")
        pairs = [(p, self.fields(p)) for p in ctx.inputs if isinstance(p, Tensor)]
        pairs = [(p, f) for p, f in pairs if f is not CONSTANT]
        op = type(ctx).__name__
        if not pairs:
            result = CONSTANT
        elif any(f is None for _, f in pairs) or t.ndim != self.x.ndim:
            result = None
        elif isinstance(ctx, GetItem):
            result = self._crop(ctx, pairs[0][1])
        elif any(p.shape[2:] != t.shape[2:] for p, _ in pairs):
            self.notes.append(f"{op} before {self.layer} changes the spatial size: the receptive field is not "
                              "followed through it")
            result = None
        elif len(pairs) == 1:
            result = pairs[0][1]
        else:
            merged = [shapes.merge_fields(axis) for axis in zip(*(f for _, f in pairs))]
            if any(f is None for f, _ in merged):
                self.notes.append(f"paths of different effective strides meet in {op} before {self.layer}: no "
                                  "receptive field after it")
                result = None
            else:
                if not all(aligned for _, aligned in merged):
                    self.notes.append(f"misaligned paths meet in {op} before {self.layer}: their receptive fields "
                                      "have different centers (the field shown covers them all)")
                result = tuple(f for f, _ in merged)
        self.set(t, result)
        return result

    def _crop(self, ctx, fields):
        """``x[..., a::s]`` along a spatial axis: a window of 1 with stride s and padding −a."""
        index = ctx.index if isinstance(ctx.index, tuple) else (ctx.index,)
        index += (slice(None),) * (len(ctx.shape) - len(index))
        if len(index) != len(ctx.shape) or not all(isinstance(part, slice) for part in index):
            self.notes.append(f"an index before {self.layer} is not a slice: the receptive field is not followed")
            return None
        out = []
        for f, part, n in zip(fields, index[2:], ctx.shape[2:]):
            start, _, step = part.indices(n)
            g = shapes.field_after(f, 1, step, op="summary") if step > 0 else None
            if g is None:
                return None
            out.append(shapes.Field(g.size, g.stride, g.padding - start * f.stride))
        return tuple(out)
