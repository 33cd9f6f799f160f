"""Keras' convolution layers: Conv1D/2D/3D, Conv1DTranspose/2D/3D, DepthwiseConv1D/2D, SeparableConv1D/2D.

Names, defaults, weight shapes and output sizes are Keras 3's; the arithmetic is
cnnlab's PyTorch-style functional conv. Each call is four steps:

    x (N, *n, C)  --permute-->  (N, C, *n)  --pad (TF 'same')-->  conv (padding 0)  --permute-->  (N, *o, F)

and the kernel is permuted from Keras' layout to PyTorch's at call time:

    Conv          (*k, C/groups, F)   -> (F, C/groups, *k)           permute(D+1, D, 0..D-1)
    ConvTranspose (*k, F, C)          -> (C, F, *k)                  the same permutation; conv_transposeNd's weight
    Depthwise     (*k, C, M)          -> (C·M, 1, *k)                output channel c·M + m, groups = C
    Separable     depthwise as above, then pointwise (1.., C·M, F) -> (F, C·M, 1..)

Output size per axis (n input, k kernel, s stride, d dilation, k' = d(k−1)+1):

    'valid'  o = ⌊(n − k')/s⌋ + 1            'same'  o = ⌈n/s⌉, zeros max((o−1)s + k' − n, 0),
                                                    ⌊total/2⌋ before, the odd one after
    transposed (Keras' rule): 'valid' o = (n−1)s + max(k', s)    'same' o = n·s
                 with output_padding p: 'valid' o = (n−1)s + k' + p,  'same' o = (n−1)s + (k' mod 2) + p
"""
from __future__ import annotations

from cnnlab.shapes import conv_transpose_padding_tf
from cnnlab.nn import functional as F
from cnnlab.keras.layers.base import (
    InputSpec, Layer, activation_name, check_bool, check_positive_int, get_activation, pad_spatial,
    standardize_data_format, standardize_padding, standardize_tuple, tf_output_size, tf_padding,
)

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
           "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
           "conv_transpose_padding_tf"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _to_torch_kernel(kernel, D):
    """(*k, a, b) -> (b, a, *k): Keras' conv (and transposed conv) kernel in PyTorch's layout."""
    return F.permute(kernel, (D + 1, D) + tuple(range(D)))


class _BaseConv(Layer):
    """What every conv layer shares: kernel_size, strides, padding, data_format, dilation_rate, activation, bias."""

    rank = 0
    allow_causal = False

    def __init__(self, kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                 bias_initializer, name, dtype):
        super().__init__(name=name, dtype=dtype)
        op, D = type(self).__name__, self.rank
        self.kernel_size = standardize_tuple(kernel_size, D, "kernel_size", op)
        self.strides = standardize_tuple(strides, D, "strides", op)
        self.dilation_rate = standardize_tuple(dilation_rate, D, "dilation_rate", op)
        self.padding = standardize_padding(padding, op, allow_causal=self.allow_causal)
        self.data_format = standardize_data_format(data_format, op)
        self.activation = get_activation(activation, op=op)
        self.use_bias = check_bool(use_bias, "use_bias", op)
        self.bias_initializer = bias_initializer
        self.input_spec = InputSpec(ndim=D + 2)

    def _check_strides_and_dilation(self):
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{type(self).__name__}: `strides > 1` not supported in conjunction with "
                             f"`dilation_rate > 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")

    def _set_channels(self, input_shape):
        channels = self.split_shape(input_shape)[2]
        axis = 1 if self.data_format == "channels_first" else -1
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={axis: channels})
        return channels

    def _output_shape(self, input_shape, out_channels):
        """The TF conv output shape for `input_shape` (checked against input_spec first)."""
        op = type(self).__name__
        input_shape = tuple(input_shape)
        InputSpec(ndim=self.rank + 2).check(input_shape, self)
        batch, spatial, _ = self.split_shape(input_shape)
        out = tuple(tf_output_size(n, k, s, d, self.padding, op=op, input_shape=input_shape)
                    for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate))
        return self.join_shape(batch, out, out_channels)

    def _pad(self, x):
        """Explicit TF padding of a channels_first input, so that the conv runs with padding 0."""
        pads = tf_padding(x.shape[2:], self.kernel_size, self.strides, self.dilation_rate, self.padding,
                          op=type(self).__name__)
        return pad_spatial(x, pads)

    def _finish(self, y):
        """(N, C, *o) -> the layer's data format, then the activation (in that format, as Keras)."""
        return self.activation(self.to_data_format(y))

    def get_config(self):
        config = {"kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
                  "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                  "activation": activation_name(self.activation), "use_bias": self.use_bias}
        return {"name": self.name, **config}


class _Conv(_BaseConv):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, dtype=None):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, name, dtype)
        op = type(self).__name__
        self.filters = check_positive_int(filters, "filters", op)
        self.groups = check_positive_int(
            groups, "groups", op,
            f"{op}: The number of groups must be a positive integer. Received: groups={groups}.")
        if self.filters % self.groups:
            raise ValueError(f"{op}: The number of filters must be evenly divisible by the number of groups. "
                             f"Received: groups={self.groups}, filters={self.filters}.")
        self._check_strides_and_dilation()
        self.kernel_initializer = kernel_initializer

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # validates the shape (the rank; the kernel must fit a 'valid' input)
        channels = self.split_shape(input_shape)[2]
        if channels % self.groups:
            raise ValueError(f"{type(self).__name__}: The number of input channels must be evenly divisible by "
                             f"the number of groups. Received groups={self.groups}, but the input has {channels} "
                             f"channels (full input shape is {tuple(input_shape)}).")
        self._set_channels(input_shape)
        self.add_weight("kernel", self.kernel_size + (channels // self.groups, self.filters), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)
        else:
            self.register_parameter("bias", None)
        super().build(input_shape)

    def call(self, inputs):
        x = self._pad(self.to_channels_first(inputs))                        # (N, C, *n_padded)
        w = _to_torch_kernel(self.kernel, self.rank)                         # (F, C/groups, *k)
        y = _CONV[self.rank](x, w, self.bias, self.strides, 0, self.dilation_rate, self.groups)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape, self.filters)

    def get_config(self):
        return {"name": self.name, "filters": self.filters, **super().get_config(), "groups": self.groups}


_CONV_DOC = """{D}-d convolution layer, as ``keras.layers.Conv{D}D``.

    Cross-correlates the input with `filters` kernels, adds a bias, applies `activation`:
        out[n, *i, f] = activation(bias[f] + Σ_c Σ_t  x_pad[n, *(i·s + t·d), g·C/groups + c] · kernel[*t, c, f])

    Args:
        filters (int): number of output channels.
        kernel_size (int or tuple of {D}): size of each kernel.
        strides (int or tuple): step between windows. Default: 1.
        padding (str): 'valid' (none) or 'same' (TensorFlow's: o = ⌈n/s⌉, the odd pixel after){causal}.
            Default: 'valid'.
        data_format (str): 'channels_last' (N, *spatial, C) or 'channels_first' (N, C, *spatial).
            Default: None, which is 'channels_last'.
        dilation_rate (int or tuple): spacing between kernel taps. `strides > 1` together with
            `dilation_rate > 1` is rejected, as in Keras. Default: 1.
        groups (int): channel groups; input channels and filters must be divisible by it. Default: 1.
        activation: a Keras name ('relu', 'sigmoid', 'softmax', ...: ``base.ACTIVATIONS``), None or a callable.
            Default: None.
        use_bias (bool): Default: True.
        kernel_initializer, bias_initializer: initializer names (``cnnlab.keras.initializers``) or
            callables. Default: 'glorot_uniform' and 'zeros'.
        name (str), dtype: see `Layer`.

    Shape:
        - Input: (N, *n, C) or (N, C, *n) with {D} spatial dims.
        - Output: (N, *o, filters) or (N, filters, *o); per axis 'valid' o = ⌊(n − d(k−1) − 1)/s⌋ + 1,
          'same' (and 'causal') o = ⌈n/s⌉.

    Attributes:
        kernel (Parameter): (*kernel_size, C/groups, filters), Keras' layout.
        bias (Parameter or None): (filters,).
    """


class Conv1D(_Conv):
    __doc__ = _CONV_DOC.format(D=1, causal=(",\n            or 'causal' (d·(k−1) zeros before, none after: "
                                            "output i sees inputs ≤ i·s)"))
    rank = 1
    allow_causal = True


class Conv2D(_Conv):
    __doc__ = _CONV_DOC.format(D=2, causal="") + """
    Example:
        >>> layer = Conv2D(8, 7, strides=2, padding="same")
        >>> layer(cnnlab.randn(1, 96, 96, 3)).shape            # 'same': ⌈96/2⌉ = 48
        (1, 48, 48, 8)
        >>> [w.shape for w in layer.get_weights()]
        [(7, 7, 3, 8), (8,)]
    """
    rank = 2


class Conv3D(_Conv):
    __doc__ = _CONV_DOC.format(D=3, causal="")
    rank = 3


# ------------------------------------------------------------------ transposed
class _ConvTranspose(_BaseConv):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, dtype=None):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, name, dtype)
        op = type(self).__name__
        self.filters = check_positive_int(filters, "filters", op)
        self.output_padding = None if output_padding is None else standardize_tuple(
            output_padding, self.rank, "output_padding", op, allow_zero=True)
        if self.output_padding is not None:
            for i, (p, s) in enumerate(zip(self.output_padding, self.strides)):
                if p >= s:
                    raise ValueError(f"{op}: `output_padding` must be strictly less than `strides` for all "
                                     f"dimensions. At dimension {i}, `output_padding` is {p} but `strides` is {s}. "
                                     f"Received: output_padding={self.output_padding}, strides={self.strides}")
        self._check_strides_and_dilation()
        self.kernel_initializer = kernel_initializer

    def _geometry(self, spatial):
        """Per axis (o, crop_before, crop_after), see `conv_transpose_padding_tf`."""
        op = type(self).__name__
        ops = self.output_padding or (None,) * self.rank
        return [None if n is None else conv_transpose_padding_tf(n, k, s, d, self.padding, p, op=op)
                for n, k, s, d, p in zip(spatial, self.kernel_size, self.strides, self.dilation_rate, ops)]

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        channels = self._set_channels(input_shape)
        self.add_weight("kernel", self.kernel_size + (self.filters, channels), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)
        else:
            self.register_parameter("bias", None)
        super().build(input_shape)

    def call(self, inputs):
        x = self.to_channels_first(inputs)                                   # (N, C, *n)
        w = _to_torch_kernel(self.kernel, self.rank)                         # (C, F, *k)
        y = _CONV_T[self.rank](x, w, None, self.strides, 0, 0, 1, self.dilation_rate)  # (N, F, *full)
        y = pad_spatial(y, [(-b, -a) for _, b, a in self._geometry(x.shape[2:])])  # crop (or extend with zeros)
        if self.bias is not None:
            y = y + F.reshape(self.bias, (1, -1) + (1,) * self.rank)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        InputSpec(ndim=self.rank + 2).check(input_shape, self)
        batch, spatial, _ = self.split_shape(input_shape)
        out = [None if g is None else g[0] for g in self._geometry(spatial)]
        return self.join_shape(batch, out, self.filters)

    def get_config(self):
        return {"name": self.name, "filters": self.filters, **super().get_config(),
                "output_padding": self.output_padding}


_CONV_T_DOC = """{D}-d transposed convolution ("deconvolution"), as ``keras.layers.Conv{D}DTranspose``.

    Every input pixel scatters kernel·value into the output (the adjoint of a strided conv),
    then the bias is added and `activation` applied. Computed as PyTorch's conv_transpose{D}d
    with padding 0, whose full output is cropped (or extended with zeros) to Keras' size.

    Args:
        filters (int): output channels.
        kernel_size, strides, dilation_rate: an int or a tuple of {D}; strides > 1 with
            dilation_rate > 1 is rejected, as in Keras. Defaults: strides 1, dilation_rate 1.
        padding (str): 'valid' or 'same'. Default: 'valid'.
        output_padding (int, tuple or None): extra size at the end of each axis, each < strides.
            Default: None (Keras' inferred size below).
        data_format, activation, use_bias, kernel_initializer, bias_initializer, name, dtype: as Conv{D}D.

    Shape:
        per axis, with k' = d(k−1)+1 and p = output_padding:
        'valid' o = (n−1)s + max(k', s) (p None) or (n−1)s + k' + p;
        'same'  o = n·s (p None) or (n−1)s + (k' mod 2) + p.

    Attributes:
        kernel (Parameter): (*kernel_size, filters, C_in) — note: filters before input channels, as Keras.
        bias (Parameter or None): (filters,).
    """


class Conv1DTranspose(_ConvTranspose):
    __doc__ = _CONV_T_DOC.format(D=1)
    rank = 1


class Conv2DTranspose(_ConvTranspose):
    __doc__ = _CONV_T_DOC.format(D=2) + """
    Example:
        >>> Conv2DTranspose(6, 2, strides=3, padding="same", output_padding=2)(cnnlab.randn(2, 8, 8, 4)).shape
        (2, 23, 23, 6)
    """
    rank = 2


class Conv3DTranspose(_ConvTranspose):
    __doc__ = _CONV_T_DOC.format(D=3)
    rank = 3


# ------------------------------------------------------------------ depthwise and separable
def _depthwise_to_torch(kernel, D):
    """(*k, C, M) -> (C·M, 1, *k): output channel c·M + m convolves input channel c (groups = C)."""
    C, M = kernel.shape[D:]
    w = F.reshape(kernel, tuple(kernel.shape[:D]) + (C * M,))                # (*k, C·M)
    w = F.permute(w, (D,) + tuple(range(D)))                                 # (C·M, *k)
    return F.unsqueeze(w, 1)                                                 # (C·M, 1, *k)


class _DepthwiseBase(_BaseConv):
    """Depthwise conv (and the first half of separable conv): each input channel has its own M kernels.

    Keras (TensorFlow backend) computes strides > 1 with dilation_rate > 1 for these layers (as a
    dilated conv followed by subsampling, padded for the strided output), so it is allowed here.
    """

    def __init__(self, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                 use_bias, depthwise_initializer, bias_initializer, name, dtype):
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias,
                         bias_initializer, name, dtype)
        self.depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier", type(self).__name__)
        self.depthwise_initializer = depthwise_initializer

    def _depthwise(self, x, kernel):
        """(N, C, *n) -> (N, C·M, *o), padded as TF, no bias."""
        C = x.shape[1]
        return _CONV[self.rank](self._pad(x), _depthwise_to_torch(kernel, self.rank), None, self.strides, 0,
                                self.dilation_rate, C)

    def get_config(self):
        config = super().get_config()
        config.update(depth_multiplier=self.depth_multiplier)
        return config


class _DepthwiseConv(_DepthwiseBase):
    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", name=None, dtype=None):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, name, dtype)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        channels = self._set_channels(input_shape)
        self.add_weight("kernel", self.kernel_size + (channels, self.depth_multiplier), self.depthwise_initializer)
        if self.use_bias:
            self.add_weight("bias", (channels * self.depth_multiplier,), self.bias_initializer)
        else:
            self.register_parameter("bias", None)
        super().build(input_shape)

    def call(self, inputs):
        y = self._depthwise(self.to_channels_first(inputs), self.kernel)    # (N, C·M, *o)
        if self.bias is not None:
            y = y + F.reshape(self.bias, (1, -1) + (1,) * self.rank)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        InputSpec(ndim=self.rank + 2).check(tuple(input_shape), self)
        return self._output_shape(input_shape, self.split_shape(input_shape)[2] * self.depth_multiplier)


_DEPTHWISE_DOC = """{D}-d depthwise convolution, as ``keras.layers.DepthwiseConv{D}D``.

    Each input channel c is convolved with its own `depth_multiplier` kernels (no sum over
    channels): output channel c·M + m = x[..., c] ⋆ kernel[..., c, m] (+ bias).

    Args:
        kernel_size, strides, dilation_rate: an int or a tuple of {D}. Defaults: strides 1, dilation_rate 1.
        padding (str): 'valid' or 'same' (TensorFlow's). Default: 'valid'.
        depth_multiplier (int): kernels per input channel, M. Default: 1.
        data_format, activation, use_bias, bias_initializer, name, dtype: as Conv{D}D.
        depthwise_initializer: Default: 'glorot_uniform' (fans of the (*k, C, M) kernel).

    Shape:
        (N, *n, C) -> (N, *o, C·M) (channels_last); o as Conv{D}D.

    Attributes:
        kernel (Parameter): (*kernel_size, C, depth_multiplier).
        bias (Parameter or None): (C·depth_multiplier,).
    """


class DepthwiseConv1D(_DepthwiseConv):
    __doc__ = _DEPTHWISE_DOC.format(D=1)
    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    __doc__ = _DEPTHWISE_DOC.format(D=2)
    rank = 2


class _SeparableConv(_DepthwiseBase):
    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", name=None, dtype=None):
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer, name, dtype)
        self.filters = check_positive_int(filters, "filters", type(self).__name__)
        self.pointwise_initializer = pointwise_initializer

    def build(self, input_shape):
        self.compute_output_shape(input_shape)
        channels = self._set_channels(input_shape)
        M = self.depth_multiplier
        self.add_weight("depthwise_kernel", self.kernel_size + (channels, M), self.depthwise_initializer)
        self.add_weight("pointwise_kernel", (1,) * self.rank + (channels * M, self.filters),
                        self.pointwise_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)
        else:
            self.register_parameter("bias", None)
        super().build(input_shape)

    def call(self, inputs):
        y = self._depthwise(self.to_channels_first(inputs), self.depthwise_kernel)   # (N, C·M, *o)
        pw = _to_torch_kernel(self.pointwise_kernel, self.rank)                       # (F, C·M, 1..)
        y = _CONV[self.rank](y, pw, self.bias)                                        # (N, F, *o)
        return self._finish(y)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape, self.filters)

    def get_config(self):
        return {"name": self.name, "filters": self.filters, **super().get_config()}


_SEPARABLE_DOC = """{D}-d depthwise-separable convolution, as ``keras.layers.SeparableConv{D}D``.

    A depthwise conv (each channel with its own M kernels, strides and padding applied here)
    followed by a pointwise 1×1 conv mixing the C·M channels into `filters`, then bias and
    activation. Parameters: Πk·C·M + C·M·filters (+ filters) instead of Πk·C·filters.

    Args:
        filters (int): output channels.
        kernel_size, strides, padding, data_format, dilation_rate: as DepthwiseConv{D}D.
        depth_multiplier (int): M. Default: 1.
        activation, use_bias, bias_initializer, name, dtype: as Conv{D}D.
        depthwise_initializer, pointwise_initializer: Default: 'glorot_uniform'.

    Shape:
        (N, *n, C) -> (N, *o, filters); o as Conv{D}D.

    Attributes:
        depthwise_kernel (Parameter): (*kernel_size, C, depth_multiplier).
        pointwise_kernel (Parameter): (1, ..., C·depth_multiplier, filters).
        bias (Parameter or None): (filters,).
    """


class SeparableConv1D(_SeparableConv):
    __doc__ = _SEPARABLE_DOC.format(D=1)
    rank = 1


class SeparableConv2D(_SeparableConv):
    __doc__ = _SEPARABLE_DOC.format(D=2)
    rank = 2

