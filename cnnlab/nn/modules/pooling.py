"""Pooling layers, as ``torch.nn``: max, average, power-average, adaptive average and adaptive max
pooling, and max unpooling, each in 1, 2 and 3 dimensions.

No parameters: each layer checks its arguments when it is made, with the same parsers of `shapes`
as its op (so a bad argument fails early, with the op's message under the layer's name), keeps them
as given (so that its repr is PyTorch's, character for character) and calls its op in `nn.functional.pooling` /
`nn.functional.adaptive_pooling`, where the definitions, formulas and gradients are documented.

Output size of the windowed layers, per spatial axis (n input, k kernel, s stride, p padding,
d dilation): o = ⌊(n + 2p − d(k−1) − 1 [+ s − 1 in ceil mode]) / s⌋ + 1; adaptive layers take o as
given; unpooling restores o = (n − 1)s − 2p + k by default.
"""
from __future__ import annotations

from cnnlab import arguments, shapes
from cnnlab.autograd import Tensor
from cnnlab.nn.functional import adaptive_pooling as AP
from cnnlab.nn.functional import pooling as P
from cnnlab.nn.functional import unpooling as U
from cnnlab.nn.modules._utils import spatial_input
from cnnlab.nn.modules.module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "LPPool1d", "LPPool2d", "LPPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "MaxUnpool1d", "MaxUnpool2d",
           "MaxUnpool3d"]


def _pool_shape(layer, input_shape) -> tuple:
    """(N, C, *o) of a windowed pooling layer, o by `shapes.pool_output_size` on its `window()`."""
    name = type(layer).__name__
    head, spatial = spatial_input(input_shape, layer._D, name)
    return head + tuple(shapes.pool_output_size(n, k, s, p, d, layer.ceil_mode, op=name)
                        for n, k, s, p, d in zip(spatial, *layer.window()))


# ---------------------------------------------------------------- max pooling
class _MaxPoolNd(Module):
    _D = 0
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        name = type(self).__name__
        arguments.window_args(self._D, kernel_size, stride, padding, dilation, op=name)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = arguments.boolean(return_indices, op=name, arg="return_indices")
        self.ceil_mode = arguments.boolean(ceil_mode, op=name, arg="ceil_mode")

    def forward(self, input: Tensor):
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.dilation,
                              ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def window(self) -> tuple:
        """(kernel_size, stride, padding, dilation), each a D-tuple (`arguments.window_args`)."""
        return arguments.window_args(self._D, self.kernel_size, self.stride, self.padding, self.dilation,
                                     op=type(self).__name__)

    output_shape = _pool_shape

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """1-d max pooling, as ``torch.nn.MaxPool1d``: y[n, c, i] = max_{t<k} x[n, c, i·s − p + t·d].

    Args:
        kernel_size: k. stride: s. Default: None (= kernel_size).
        padding: p ≤ k // 2, acting as −∞. Default: 0.
        dilation: d, the spacing between taps. Default: 1.
        return_indices: also return the argmax (for `MaxUnpool1d`). Default: False.
        ceil_mode: round the output size up. Default: False.

    Shape:
        - Input: (N, C, n) or (C, n).
        - Output: (N, C, o) or (C, o), o = ⌊(n + 2p − d(k−1) − 1 [+ s − 1 if ceil_mode]) / s⌋ + 1.

    Example:
        >>> nn.MaxPool1d(3, stride=2)(cnnlab.randn(20, 16, 50)).shape
        (20, 16, 24)
    """

    _D, _fn = 1, staticmethod(P.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """2-d max pooling, as ``torch.nn.MaxPool2d``: the maximum of each (k_H × k_W) window.

    Args as `MaxPool1d`, each an int or an (h, w) pair.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, oH, oW), per axis o = ⌊(n + 2p − d(k−1) − 1 [+ s − 1 if ceil_mode]) / s⌋ + 1.

    Example:
        >>> nn.MaxPool2d(2)(cnnlab.randn(8, 6, 28, 28)).shape
        (8, 6, 14, 14)
    """

    _D, _fn = 2, staticmethod(P.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """3-d max pooling, as ``torch.nn.MaxPool3d``. Args as `MaxPool1d`, each an int or a 3-tuple.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, oD, oH, oW), per axis o = ⌊(n + 2p − d(k−1) − 1 [+ s − 1 if ceil_mode]) / s⌋ + 1.
    """

    _D, _fn = 3, staticmethod(P.max_pool3d)


# ---------------------------------------------------------------- average pooling
class AvgPool1d(Module):
    """1-d average pooling, as ``torch.nn.AvgPool1d``: y[i] = Σ_{t<k} x_pad[i·s − p + t] / divisor.

    Args:
        kernel_size: k. stride: s. Default: None (= kernel_size). padding: p ≤ k // 2 (zeros). Default: 0.
        ceil_mode: round the output size up. Default: False.
        count_include_pad: the divisor counts the padding (never the ceil-mode overhang); if False,
            only the input elements. Default: True.

    Shape:
        - Input: (N, C, n) or (C, n).
        - Output: (N, C, o), o = ⌊(n + 2p − k [+ s − 1 if ceil_mode]) / s⌋ + 1.

    Example:
        >>> nn.AvgPool1d(3, stride=2)(cnnlab.tensor([[[1., 2, 3, 4, 5, 6, 7]]]))
        tensor([[[2., 4., 6.]]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__()
        k, s, p, _ = arguments.window_args(1, kernel_size, stride, padding, op="AvgPool1d")
        self.kernel_size, self.stride, self.padding = k, s, p   # 1-tuples, as PyTorch stores them
        self.ceil_mode = arguments.boolean(ceil_mode, op="AvgPool1d", arg="ceil_mode")
        self.count_include_pad = arguments.boolean(count_include_pad, op="AvgPool1d", arg="count_include_pad")

    def forward(self, input: Tensor) -> Tensor:
        return P.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    _D = 1

    def window(self) -> tuple:
        """(kernel_size, stride, padding, dilation), each a 1-tuple (no dilation: (1,))."""
        return self.kernel_size, self.stride, self.padding, (1,)

    output_shape = _pool_shape

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(Module):
    _D = 0
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None):
        super().__init__()
        name = type(self).__name__
        arguments.window_args(self._D, kernel_size, stride, padding, op=name)
        arguments.divisor_override(divisor_override, op=name)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = arguments.boolean(ceil_mode, op=name, arg="ceil_mode")
        self.count_include_pad = arguments.boolean(count_include_pad, op=name, arg="count_include_pad")
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                              self.count_include_pad, self.divisor_override)

    def window(self) -> tuple:
        """(kernel_size, stride, padding, dilation), each a D-tuple (no dilation: all 1)."""
        return arguments.window_args(self._D, self.kernel_size, self.stride, self.padding, op=type(self).__name__)

    output_shape = _pool_shape

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """2-d average pooling, as ``torch.nn.AvgPool2d``.

    Args as `AvgPool1d` (each an int or an (h, w) pair), and divisor_override: divide every window
    sum by this instead. Default: None.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, oH, oW), per axis o = ⌊(n + 2p − k [+ s − 1 if ceil_mode]) / s⌋ + 1.

    Example:
        >>> nn.AvgPool2d(2)(cnnlab.randn(8, 6, 28, 28)).shape
        (8, 6, 14, 14)
    """

    _D, _fn = 2, staticmethod(P.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """3-d average pooling, as ``torch.nn.AvgPool3d``. Args as `AvgPool2d`, each an int or a 3-tuple.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, oD, oH, oW), per axis o = ⌊(n + 2p − k [+ s − 1 if ceil_mode]) / s⌋ + 1.
    """

    _D, _fn = 3, staticmethod(P.avg_pool3d)


# ---------------------------------------------------------------- power-average pooling
class _LPPoolNd(Module):
    _D = 0
    _fn = None

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        name = type(self).__name__
        arguments.number(norm_type, op=name, arg="norm_type")
        arguments.window_args(self._D, kernel_size, stride, 0, op=name)
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = arguments.boolean(ceil_mode, op=name, arg="ceil_mode")

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def window(self) -> tuple:
        """(kernel_size, stride, padding, dilation), each a D-tuple (no padding, no dilation)."""
        return arguments.window_args(self._D, self.kernel_size, self.stride, 0, op=type(self).__name__)

    output_shape = _pool_shape

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """1-d power-average pooling, as ``torch.nn.LPPool1d``: y = (Σ_window x^p)^(1/p).

    p = 1 is sum pooling, p = ∞ max pooling (of |x|). Computed exactly as PyTorch (see `lp_pool1d`).

    Args:
        norm_type: p. kernel_size: k. stride: s. Default: None (= kernel_size).
        ceil_mode: round the output size up. Default: False.

    Shape:
        - Input: (N, C, n) or (C, n).
        - Output: (N, C, o), o = ⌊(n − k [+ s − 1 if ceil_mode]) / s⌋ + 1.
    """

    _D, _fn = 1, staticmethod(P.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """2-d power-average pooling, as ``torch.nn.LPPool2d``. Args as `LPPool1d`, each an int or a pair.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, oH, oW), per axis o = ⌊(n − k [+ s − 1 if ceil_mode]) / s⌋ + 1.
    """

    _D, _fn = 2, staticmethod(P.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """3-d power-average pooling, as ``torch.nn.LPPool3d``. Args as `LPPool1d`, each an int or a 3-tuple.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, oD, oH, oW), per axis o = ⌊(n − k [+ s − 1 if ceil_mode]) / s⌋ + 1.
    """

    _D, _fn = 3, staticmethod(P.lp_pool3d)


# ---------------------------------------------------------------- adaptive pooling
def _adaptive_shape(layer, input_shape) -> tuple:
    name = type(layer).__name__
    head, spatial = spatial_input(input_shape, layer._D, name)
    return head + arguments.adaptive_output_size(layer.output_size, layer._D, spatial, op=name)


class _AdaptiveAvgPoolNd(Module):
    _D = 0
    _fn = None

    def __init__(self, output_size):
        super().__init__()
        arguments.adaptive_output_size(output_size, self._D, op=type(self).__name__)
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.output_size)

    def output_shape(self, input_shape) -> tuple:
        """(N, C, *output_size); None in output_size keeps that input size."""
        return _adaptive_shape(self, input_shape)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """1-d adaptive average pooling to a fixed output size, as ``torch.nn.AdaptiveAvgPool1d``.

    Output i averages the bin [⌊i·n/o⌋, ⌈(i+1)·n/o⌉).

    Args:
        output_size: o.

    Shape:
        - Input: (N, C, n) or (C, n).
        - Output: (N, C, o) or (C, o).

    Example:
        >>> nn.AdaptiveAvgPool1d(3)(cnnlab.tensor([[[0., 1, 2, 3, 4]]]))
        tensor([[[0.5, 2. , 3.5]]])
    """

    _D, _fn = 1, staticmethod(AP.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """2-d adaptive average pooling, as ``torch.nn.AdaptiveAvgPool2d``; (1, 1) is global average pooling.

    Args:
        output_size: an int or (oH, oW); None keeps that input size.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, oH, oW); bins per axis [⌊i·n/o⌋, ⌈(i+1)·n/o⌉).
    """

    _D, _fn = 2, staticmethod(AP.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """3-d adaptive average pooling, as ``torch.nn.AdaptiveAvgPool3d``.

    Args:
        output_size: an int or (oD, oH, oW); None keeps that input size.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, oD, oH, oW).
    """

    _D, _fn = 3, staticmethod(AP.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(Module):
    _D = 0
    _fn = None

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        name = type(self).__name__
        arguments.adaptive_output_size(output_size, self._D, op=name)
        self.output_size = output_size
        self.return_indices = arguments.boolean(return_indices, op=name, arg="return_indices")

    def forward(self, input: Tensor):
        return type(self)._fn(input, self.output_size, self.return_indices)

    def output_shape(self, input_shape) -> tuple:
        """(N, C, *output_size); None in output_size keeps that input size."""
        return _adaptive_shape(self, input_shape)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """1-d adaptive max pooling, as ``torch.nn.AdaptiveMaxPool1d``; the gradient goes to the first maximum.

    Args:
        output_size: o. return_indices: also return the argmax. Default: False.

    Shape:
        - Input: (N, C, n) or (C, n).
        - Output: (N, C, o) or (C, o); bins [⌊i·n/o⌋, ⌈(i+1)·n/o⌉).
    """

    _D, _fn = 1, staticmethod(AP.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """2-d adaptive max pooling, as ``torch.nn.AdaptiveMaxPool2d``.

    Args:
        output_size: an int or (oH, oW); None keeps that input size.
        return_indices: also return the argmax. Default: False.

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: (N, C, oH, oW).
    """

    _D, _fn = 2, staticmethod(AP.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """3-d adaptive max pooling, as ``torch.nn.AdaptiveMaxPool3d``.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: (N, C, oD, oH, oW).
    """

    _D, _fn = 3, staticmethod(AP.adaptive_max_pool3d)


# ---------------------------------------------------------------- max unpooling
class _MaxUnpoolNd(Module):
    _D = 0
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        k, s, p, _ = arguments.window_args(self._D, kernel_size, stride, padding, op=type(self).__name__)
        self.kernel_size, self.stride, self.padding = k, s, p   # tuples, as PyTorch stores them

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return type(self)._fn(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def output_shape(self, input_shape) -> tuple:
        """(N, C, *o), per axis o = (n − 1)s − 2p + k (`shapes.unpool_output_size`), the default size."""
        name = type(self).__name__
        head, spatial = spatial_input(input_shape, self._D, name)
        return head + tuple(shapes.unpool_output_size(n, k, s, p, op=name)
                            for n, k, s, p in zip(spatial, self.kernel_size, self.stride, self.padding))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of `MaxPool1d`, as ``torch.nn.MaxUnpool1d``: the maxima go back to the positions
    of their indices, zeros elsewhere.

    Args:
        kernel_size, stride (Default: None = kernel_size), padding (Default: 0): those of the pool.

    Shape:
        - Input: (N, C, n) or (C, n), and indices of the same shape.
        - Output: (N, C, o), o = (n − 1)s − 2p + k, or ``output_size`` given to forward.

    Example:
        >>> pool, unpool = nn.MaxPool1d(2, return_indices=True), nn.MaxUnpool1d(2)
        >>> y, i = pool(cnnlab.tensor([[[1., 2, 3, 4, 5, 6, 7, 8]]]))
        >>> unpool(y, i)
        tensor([[[0., 2., 0., 4., 0., 6., 0., 8.]]])
    """

    _D, _fn = 1, staticmethod(U.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of `MaxPool2d`, as ``torch.nn.MaxUnpool2d``.

    Shape:
        - Input: (N, C, H, W) or (C, H, W), and indices of the same shape.
        - Output: (N, C, oH, oW), per axis o = (n − 1)s − 2p + k, or ``output_size``.
    """

    _D, _fn = 2, staticmethod(U.max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of `MaxPool3d`, as ``torch.nn.MaxUnpool3d``.

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W), and indices of the same shape.
        - Output: (N, C, oD, oH, oW), per axis o = (n − 1)s − 2p + k, or ``output_size``.
    """

    _D, _fn = 3, staticmethod(U.max_unpool3d)
