"""Keras' pooling layers: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and the global poolings.

Names, defaults and output sizes are Keras 3's (``keras/src/layers/pooling``); the arithmetic
is cnnlab's PyTorch-style functional pooling. Per spatial axis (n input, k pool size, s stride):

    'valid'  o = ⌊(n − k)/s⌋ + 1                     (the window must fit: n ≥ k)
    'same'   o = ⌈n/s⌉, total padding max((o−1)s + k − n, 0), ⌊total/2⌋ before, the odd one after
             (TensorFlow's rule, ``shapes.same_padding_tf``); total ≤ k − 1, so every window
             holds at least one input element

A window pooling call is

    x (N, *n, C) --permute--> (N, C, *n) --pad (TF 'same')--> pool (padding 0) --permute--> (N, *o, C)

    max      the padding is −∞, so it never wins: y = max over the input elements of the window
    average  the padding is 0 and the window sum is divided by the number of INPUT elements in
             the window (TensorFlow's and Keras' rule, count_include_pad=False in PyTorch's words):
                 y = avg_pool(x_pad) / avg_pool(ones_pad)
             the second factor, the fraction of each window that lies inside the input, is a
             constant computed once per call on a (1, 1, *n) plane of ones

Both are the differentiable functional ops, so the gradient is the pooling's own: max sends g to
the first maximum of each window (row-major order), average spreads g/count over the input
elements of the window.

The global poolings reduce every spatial axis in the layer's data format (no layout change):

    GlobalAveragePooling   y[n, c] = mean over positions      (F.mean)
    GlobalMaxPooling       y[n, c] = max over positions       (F.amax: ties share the gradient
                                                                evenly, as TF's and JAX's reduce_max)
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab.autograd import Tensor, no_grad
from cnnlab.keras.layers.base import (
    InputSpec, Layer, check_bool, pad_spatial, standardize_data_format, standardize_padding, standardize_tuple,
    tf_output_size, tf_padding,
)
from cnnlab.nn import functional as F
from cnnlab.nn.functional._util import check_float

__all__ = ["MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
           "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
           "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
           "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
           "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D", "GlobalMaxPool1D", "GlobalMaxPool2D",
           "GlobalMaxPool3D"]

_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


# ------------------------------------------------------------------ window pooling
class _Pooling(Layer):
    """What MaxPooling and AveragePooling share: pool_size, strides, padding, data_format, the sizes."""

    rank = 0
    mode = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        op, D = type(self).__name__, self.rank
        self.pool_size = standardize_tuple(pool_size, D, "pool_size", op)
        self.strides = self.pool_size if strides is None else standardize_tuple(strides, D, "strides", op)
        self.padding = standardize_padding(padding, op)
        self.data_format = standardize_data_format(data_format, op)
        self.input_spec = InputSpec(ndim=D + 2)
        self.built = True                                       # no weights: built at init, as Keras

    def compute_output_shape(self, input_shape):
        op = type(self).__name__
        input_shape = tuple(input_shape)
        InputSpec(ndim=self.rank + 2).check(input_shape, self)
        batch, spatial, channels = self.split_shape(input_shape)
        try:
            out = tuple(tf_output_size(n, k, s, 1, self.padding, op=op)
                        for n, k, s in zip(spatial, self.pool_size, self.strides))
        except ValueError:
            rule = ("with 'valid' padding every window of pool_size must fit in the input: n ≥ k on each "
                    "spatial axis" if self.padding == "valid" else "every spatial size must be at least 1")
            raise ValueError(f"{op}: Computed output size would be zero or negative. Received: "
                             f"inputs.shape={input_shape}, pool_size={self.pool_size}, strides={self.strides}, "
                             f"padding={self.padding} ({rule})") from None
        return self.join_shape(batch, out, channels)

    def _window_fraction(self, spatial, pads, dtype) -> Tensor:
        """(1, 1, *o): the fraction of each zero-padded window that lies inside the input (a constant)."""
        with no_grad():
            ones = Tensor(np.ones((1, 1) + tuple(spatial), dtype=dtype))
            return _AVG_POOL[self.rank](pad_spatial(ones, pads), self.pool_size, self.strides)

    def call(self, inputs):
        check_float(inputs.data, type(self).__name__)           # every check before any work
        self.compute_output_shape(inputs.shape)
        x = self.to_channels_first(inputs)                      # (N, C, *n)
        pads = tf_padding(x.shape[2:], self.pool_size, self.strides, (1,) * self.rank, self.padding,
                          op=type(self).__name__)
        if self.mode == "max":
            y = _MAX_POOL[self.rank](pad_spatial(x, pads, value=-math.inf), self.pool_size, self.strides)
        else:
            y = _AVG_POOL[self.rank](pad_spatial(x, pads), self.pool_size, self.strides)  # Σ window / Πk
            if any(a or b for a, b in pads):
                y = y / self._window_fraction(x.shape[2:], pads, x.dtype)                 # Σ window / count
        return self.to_data_format(y)                           # (N, *o, C) or (N, C, *o)

    def get_config(self):
        return {"name": self.name, "pool_size": self.pool_size, "padding": self.padding, "strides": self.strides,
                "data_format": self.data_format}


_POOL_DOC = """{D}-d {what} pooling, as ``keras.layers.{cls}{D}D`` (alias ``{alias}{D}D``).

    {definition}

    Args:
        pool_size (int or tuple of {D}): the window, k.{default}
        strides (int, tuple or None): the step between windows, s. Default: None (= pool_size).
        padding (str): 'valid' (none) or 'same' (TensorFlow's: o = ⌈n/s⌉, ⌊total/2⌋ before and
            the odd pixel after; {padded}), case-insensitive. Default: 'valid'.
        data_format (str): 'channels_last' (N, *spatial, C) or 'channels_first' (N, C, *spatial).
            Default: None, which is 'channels_last'.
        name (str), dtype: see `Layer` (a pooling layer has no weights).

    Shape:
        - Input: (N, *n, C) or (N, C, *n) with {D} spatial dims.
        - Output: (N, *o, C) or (N, C, *o); per axis 'valid' o = ⌊(n − k)/s⌋ + 1 (n ≥ k),
          'same' o = ⌈n/s⌉.
    """


class _MaxPooling(_Pooling):
    mode = "max"


class _AveragePooling(_Pooling):
    mode = "average"


_MAX_DEF = ("y[*i] = max over the window of x[*(i·s + t)], t < k per axis; 'same' padding counts as −∞.\n"
            "    The gradient goes to the first maximum of each window (row-major).")
_AVG_DEF = ("y[*i] = (Σ over the window of x[*(i·s + t)]) / (number of input elements in the window);\n"
            "    'same' padding is left out of both the sum and the count, as TensorFlow/Keras\n"
            "    (PyTorch's count_include_pad=False).")


class MaxPooling1D(_MaxPooling):
    __doc__ = _POOL_DOC.format(D=1, what="max", cls="MaxPooling", alias="MaxPool", definition=_MAX_DEF,
                               default=" Default: 2.", padded="the padding never wins")

    rank = 1

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, name=None, dtype=None):
        super().__init__(pool_size, strides, padding, data_format, name, dtype)


class MaxPooling2D(_MaxPooling):
    __doc__ = _POOL_DOC.format(D=2, what="max", cls="MaxPooling", alias="MaxPool", definition=_MAX_DEF,
                               default=" Default: (2, 2).", padded="the padding never wins") + """
    Example:
        >>> MaxPooling2D()(cnnlab.randn(8, 32, 32, 3)).shape
        (8, 16, 16, 3)
        >>> MaxPooling2D(3, strides=2, padding="same").compute_output_shape((None, 5, 5, 16))
        (None, 3, 3, 16)
    """

    rank = 2

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, name=None, dtype=None):
        super().__init__(pool_size, strides, padding, data_format, name, dtype)


class MaxPooling3D(_MaxPooling):
    __doc__ = _POOL_DOC.format(D=3, what="max", cls="MaxPooling", alias="MaxPool", definition=_MAX_DEF,
                               default=" Default: (2, 2, 2).", padded="the padding never wins")

    rank = 3

    def __init__(self, pool_size=(2, 2, 2), strides=None, padding="valid", data_format=None, name=None,
                 dtype=None):
        super().__init__(pool_size, strides, padding, data_format, name, dtype)


_AVG_NOTE = " Required, as in Keras 3 (only the max poolings have a default)."


class AveragePooling1D(_AveragePooling):
    __doc__ = _POOL_DOC.format(D=1, what="average", cls="AveragePooling", alias="AvgPool", definition=_AVG_DEF,
                               default=_AVG_NOTE, padded="the padding is not counted") + """
    Example:
        >>> AveragePooling1D(3, strides=2, padding="same")(cnnlab.tensor([[[10.0], [20.0]]]))  # (10+20)/2
        tensor([[[15.]]])
    """
    rank = 1


class AveragePooling2D(_AveragePooling):
    __doc__ = _POOL_DOC.format(D=2, what="average", cls="AveragePooling", alias="AvgPool", definition=_AVG_DEF,
                               default=_AVG_NOTE, padded="the padding is not counted")
    rank = 2


class AveragePooling3D(_AveragePooling):
    __doc__ = _POOL_DOC.format(D=3, what="average", cls="AveragePooling", alias="AvgPool", definition=_AVG_DEF,
                               default=_AVG_NOTE, padded="the padding is not counted")
    rank = 3


# ------------------------------------------------------------------ global pooling
class _GlobalPooling(Layer):
    rank = 0

    def __init__(self, data_format=None, keepdims=False, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        op = type(self).__name__
        self.data_format = standardize_data_format(data_format, op)
        self.keepdims = check_bool(keepdims, "keepdims", op)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.built = True

    def _spatial_axes(self):
        first = 2 if self.data_format == "channels_first" else 1
        return tuple(range(first, first + self.rank))

    def _reduce(self, x, axes):  # pragma: no cover - abstract
        raise NotImplementedError

    def call(self, inputs):
        return self._reduce(inputs, self._spatial_axes())      # (N, C) or keepdims (N, 1.., C) / (N, C, 1..)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        InputSpec(ndim=self.rank + 2).check(input_shape, self)
        batch, _, channels = self.split_shape(input_shape)
        if not self.keepdims:
            return (batch, channels)
        return self.join_shape(batch, (1,) * self.rank, channels)

    def get_config(self):
        return {"name": self.name, "data_format": self.data_format, "keepdims": self.keepdims}


_GLOBAL_DOC = """Global {what} pooling over the {D} spatial ax{es}, as ``keras.layers.Global{cls}{D}D``
    (alias ``Global{alias}{D}D``).

    y[n, c] = {formula} of x[n, c] over all positions (in the layer's data format).

    Args:
        data_format (str): 'channels_last' (N, *spatial, C) or 'channels_first' (N, C, *spatial).
            Default: None, which is 'channels_last'.
        keepdims (bool): keep the spatial axes, with size 1. Default: False.
        name (str), dtype: see `Layer`.

    Shape:
        - Input: (N, *n, C) or (N, C, *n) with {D} spatial dims.
        - Output: (N, C); with keepdims (N, 1, …, 1, C) or (N, C, 1, …, 1).
    """


class _GlobalAveragePooling(_GlobalPooling):
    def _reduce(self, x, axes):
        return F.mean(x, dim=axes, keepdim=self.keepdims)


class _GlobalMaxPooling(_GlobalPooling):
    def _reduce(self, x, axes):
        return F.amax(x, dim=axes, keepdim=self.keepdims)     # ties share the gradient, as tf.reduce_max


def _global_doc(D, kind):
    if kind == "avg":
        return _GLOBAL_DOC.format(D=D, es="is" if D == 1 else "es", what="average", cls="AveragePooling",
                                  alias="AvgPool", formula="the mean")
    return _GLOBAL_DOC.format(D=D, es="is" if D == 1 else "es", what="max", cls="MaxPooling", alias="MaxPool",
                              formula="the maximum (ties share the gradient evenly, as TensorFlow)")


class GlobalAveragePooling1D(_GlobalAveragePooling):
    __doc__ = _global_doc(1, "avg")
    rank = 1


class GlobalAveragePooling2D(_GlobalAveragePooling):
    __doc__ = _global_doc(2, "avg") + """
    Example:
        >>> GlobalAveragePooling2D()(cnnlab.randn(8, 7, 7, 512)).shape       # the GAP of a CAM net
        (8, 512)
    """
    rank = 2


class GlobalAveragePooling3D(_GlobalAveragePooling):
    __doc__ = _global_doc(3, "avg")
    rank = 3


class GlobalMaxPooling1D(_GlobalMaxPooling):
    __doc__ = _global_doc(1, "max")
    rank = 1


class GlobalMaxPooling2D(_GlobalMaxPooling):
    __doc__ = _global_doc(2, "max")
    rank = 2


class GlobalMaxPooling3D(_GlobalMaxPooling):
    __doc__ = _global_doc(3, "max")
    rank = 3


# Keras' aliases (the same classes, so names and reprs are the long ones, as in Keras)
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D, GlobalAvgPool3D = GlobalAveragePooling1D, GlobalAveragePooling2D, \
    GlobalAveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
