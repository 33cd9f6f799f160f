"""Keras' zero-padding layers: ZeroPadding1D/2D/3D.

Each pads the spatial axes with zeros, (before, after) per axis, in the layer's data
format; the output size per axis is o = n + before + after. The `padding` argument
takes Keras' forms:

    ZeroPadding1D   p  or  (before, after)                                     default 1
    ZeroPadding2D   p  or  (ph, pw)  or  ((top, bottom), (left, right))        default (1, 1)
    ZeroPadding3D   p  or  (p1, p2, p3)  or  ((b1, a1), (b2, a2), (b3, a3))    default ((1, 1), (1, 1), (1, 1))

(in the 2-d and 3-d forms each entry may itself be an int or a pair). Computed with
``F.pad`` on the input as it is (no layout change); the gradient is the slice of the
upstream gradient over the input.
"""
from __future__ import annotations

from cnnlab.keras.layers.base import InputSpec, Layer, standardize_data_format, standardize_tuple
from cnnlab.nn import functional as F

__all__ = ["ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"]

_ORDINALS = ("1st", "2nd", "3rd")


class _ZeroPadding(Layer):
    rank = 0

    def __init__(self, padding, data_format=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        op = type(self).__name__
        self.data_format = standardize_data_format(data_format, op)
        self.padding = self._standardize(padding, op)
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _standardize(self, padding, op):
        D = self.rank
        if D == 1:
            return (standardize_tuple(padding, 2, "padding", op, allow_zero=True),)
        if isinstance(padding, int) and not isinstance(padding, bool):
            return (standardize_tuple(padding, 2, "padding", op, allow_zero=True),) * D
        if not isinstance(padding, (tuple, list)):
            raise ValueError(f"{op}: `padding` should be either an int, a tuple of {D} ints, or a tuple of {D} "
                             f"tuples of 2 ints ((before, after) per spatial axis). Received: padding={padding!r}.")
        if len(padding) != D:
            raise ValueError(f"{op}: `padding` should have {D} elements. Received: padding={padding!r}.")
        return tuple(standardize_tuple(p, 2, f"{_ORDINALS[i]} entry of padding", op, allow_zero=True)
                     for i, p in enumerate(padding))

    def call(self, inputs):
        pairs = list(self.padding) + ([(0, 0)] if self.data_format == "channels_last" else [])
        return F.pad(inputs, tuple(v for pair in reversed(pairs) for v in pair))  # F.pad: last axis first

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        InputSpec(ndim=self.rank + 2).check(input_shape, self)
        batch, spatial, channels = self.split_shape(input_shape)
        out = tuple(None if n is None else n + a + b for n, (a, b) in zip(spatial, self.padding))
        return self.join_shape(batch, out, channels)

    def get_config(self):
        return {"name": self.name, "padding": self.padding, "data_format": self.data_format}


_DOC = """Zero-padding of the {D} spatial ax{es} of (N, {shape}, C) input (or channels_first), as ``keras.{name}``.

    Args:
        padding: {forms} Default: {default}.
        data_format (str): 'channels_last' or 'channels_first'. Default: None ('channels_last').
        name (str): see `Layer`.

    Shape:
        per padded axis o = n + before + after; batch and channels unchanged.
    """


class ZeroPadding1D(_ZeroPadding):
    __doc__ = _DOC.format(D=1, es="is", shape="n", name="layers.ZeroPadding1D", default="1",
                          forms="an int (both sides) or a (before, after) pair.")
    rank = 1

    def __init__(self, padding=1, data_format=None, name=None, dtype=None):
        super().__init__(padding, data_format, name, dtype)


class ZeroPadding2D(_ZeroPadding):
    __doc__ = _DOC.format(D=2, es="es", shape="H, W", name="layers.ZeroPadding2D", default="(1, 1)",
                          forms="an int, (ph, pw), or ((top, bottom), (left, right)).") + """
    Example:
        >>> ZeroPadding2D(((1, 2), (0, 3)))(cnnlab.zeros(1, 4, 4, 2)).shape
        (1, 7, 7, 2)
    """
    rank = 2

    def __init__(self, padding=(1, 1), data_format=None, name=None, dtype=None):
        super().__init__(padding, data_format, name, dtype)


class ZeroPadding3D(_ZeroPadding):
    __doc__ = _DOC.format(D=3, es="es", shape="D1, D2, D3", name="layers.ZeroPadding3D",
                          default="((1, 1), (1, 1), (1, 1))",
                          forms="an int, (p1, p2, p3), or ((b1, a1), (b2, a2), (b3, a3)).")
    rank = 3

    def __init__(self, padding=((1, 1), (1, 1), (1, 1)), data_format=None, name=None, dtype=None):
        super().__init__(padding, data_format, name, dtype)
