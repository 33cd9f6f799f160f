"""Padding layers, as ``torch.nn``: constant/zero, reflection, replication and circular padding of 1-3 dims.

Each layer holds `padding` as a tuple of 2·D ints, last dim first: (left, right) for 1d,
(left, right, top, bottom) for 2d, (left, right, top, bottom, front, back) for 3d; an int
pads every side by that much. `forward` calls `cnnlab.nn.functional.padding.pad`, which
checks the input and the pads (negative pads crop, within each mode's limits).

Shape, for each padded dim: o = n + p_before + p_after.
"""
from __future__ import annotations

from cnnlab import arguments
from cnnlab.autograd import Tensor
from cnnlab.nn.functional.padding import pad
from cnnlab.nn.modules.module import Module
from cnnlab.nn.modules._utils import spatial_input

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
           "CircularPad1d", "CircularPad2d", "CircularPad3d"]


class _PadNd(Module):
    """The shared body: `dims` padded dims, a `mode`, `padding` as 2·dims ints; the repr is ``Name(padding)``."""

    mode = "constant"
    dims = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = arguments.ntuple(padding, 2 * self.dims, op=type(self).__name__, arg="padding")

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, self.mode)

    def output_shape(self, input_shape) -> tuple:
        """Each padded dim grows by its two pads (``padding`` lists the last dim's first)."""
        head, spatial = spatial_input(input_shape, self.dims, type(self).__name__)
        pairs = list(zip(self.padding[::2], self.padding[1::2]))[::-1]  # first padded dim first
        return head + tuple(n + before + after for n, (before, after) in zip(spatial, pairs))

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    """Constant padding: pads the last `dims` dims of a tensor of any rank >= dims, as ``F.pad``."""

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = arguments.number(value, op=type(self).__name__, arg="value")

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ReflectionPadNd(_PadNd):
    mode = "reflect"


class _ReplicationPadNd(_PadNd):
    mode = "replicate"


class _CircularPadNd(_PadNd):
    mode = "circular"

    def forward(self, input: Tensor) -> Tensor:
        d = self.dims
        if isinstance(input, Tensor) and input.ndim not in (d + 1, d + 2):  # the layer's own check, as PyTorch's
            raise ValueError(f"{type(self).__name__}: expected {d + 1}D or {d + 2}D input "
                             f"(got {input.ndim}D input of shape {input.shape})")
        return super().forward(input)


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with a constant value, as ``torch.nn.ConstantPad1d``.

    Args:
        padding (int or tuple): an int pads every side by that much; a 2-tuple is
            (left, right), as in ``F.pad``. Negative pads crop.
        value (float): the fill value (required, as in PyTorch).

    Shape:
        - Input: (N, C, W_in) or (C, W_in).
        - Output: (N, C, W_out) or (C, W_out), where (o = n + p_before + p_after):
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ConstantPad1d((3, 1), 3.5)(cnnlab.tensor([[1.0, 2.0]]))
        tensor([[3.5, 3.5, 3.5, 1. , 2. , 3.5]])
    """

    dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last 2 dims with a constant value, as ``torch.nn.ConstantPad2d``.

    Args:
        padding (int or tuple): an int pads every side by that much; a 4-tuple is
            (left, right, top, bottom), as in ``F.pad``. Negative pads crop.
        value (float): the fill value (required, as in PyTorch).

    Shape:
        - Input: (N, C, H_in, W_in) or (C, H_in, W_in).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), where (o = n + p_before + p_after):
          H_out = H_in + p_top + p_bottom
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ConstantPad2d((3, 0, 2, 1), 3.5)(cnnlab.randn(1, 2, 2)).shape
        (1, 5, 5)
    """

    dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last 3 dims with a constant value, as ``torch.nn.ConstantPad3d``.

    Args:
        padding (int or tuple): an int pads every side by that much; a 6-tuple is
            (left, right, top, bottom, front, back), as in ``F.pad``. Negative pads crop.
        value (float): the fill value (required, as in PyTorch).

    Shape:
        - Input: (N, C, D_in, H_in, W_in) or (C, D_in, H_in, W_in).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), where (o = n + p_before + p_after):
          D_out = D_in + p_front + p_back
          H_out = H_in + p_top + p_bottom
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ConstantPad3d((3, 3, 6, 6, 0, 1), 3.5)(cnnlab.randn(16, 3, 10, 20, 30)).shape
        (16, 3, 11, 32, 36)
    """

    dims = 3


class ZeroPad1d(_ZeroPadNd):
    """Pad the last dim with zeros, as ``torch.nn.ZeroPad1d``.

    Args:
        padding (int or tuple): an int pads every side by that much; a 2-tuple is
            (left, right), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, W_in) or (C, W_in).
        - Output: (N, C, W_out) or (C, W_out), where (o = n + p_before + p_after):
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ZeroPad1d((3, 1))(cnnlab.tensor([[1.0, 2.0]]))
        tensor([[0., 0., 0., 1., 2., 0.]])
    """

    dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pad the last 2 dims with zeros, as ``torch.nn.ZeroPad2d``.

    Args:
        padding (int or tuple): an int pads every side by that much; a 4-tuple is
            (left, right, top, bottom), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, H_in, W_in) or (C, H_in, W_in).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), where (o = n + p_before + p_after):
          H_out = H_in + p_top + p_bottom
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ZeroPad2d((1, 1, 2, 0))(cnnlab.randn(1, 1, 3, 3)).shape
        (1, 1, 5, 5)
    """

    dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pad the last 3 dims with zeros, as ``torch.nn.ZeroPad3d``.

    Args:
        padding (int or tuple): an int pads every side by that much; a 6-tuple is
            (left, right, top, bottom, front, back), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, D_in, H_in, W_in) or (C, D_in, H_in, W_in).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), where (o = n + p_before + p_after):
          D_out = D_in + p_front + p_back
          H_out = H_in + p_top + p_bottom
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ZeroPad3d((3, 3, 6, 6, 0, 1))(cnnlab.randn(16, 3, 10, 20, 30)).shape
        (16, 3, 11, 32, 36)
    """

    dims = 3


class ReflectionPad1d(_ReflectionPadNd):
    """Pad the last dim with the reflection of the input at its border, as ``torch.nn.ReflectionPad1d``.

    [a b c d] padded by (2, 1) is [c b | a b c d | c]: the border is not repeated, so each
    pad must be smaller than the size of its dim.

    Args:
        padding (int or tuple): an int pads every side by that much; a 2-tuple is
            (left, right), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, W_in) or (C, W_in).
        - Output: (N, C, W_out) or (C, W_out), where (o = n + p_before + p_after):
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ReflectionPad1d((3, 1))(cnnlab.tensor([[0.0, 1.0, 2.0, 3.0]]))
        tensor([[3., 2., 1., 0., 1., 2., 3., 2.]])
    """

    dims = 1


class ReflectionPad2d(_ReflectionPadNd):
    """Pad the last 2 dims with the reflection of the input at its border, as ``torch.nn.ReflectionPad2d``.

    [a b c d] padded by (2, 1) is [c b | a b c d | c]: the border is not repeated, so each
    pad must be smaller than the size of its dim.

    Args:
        padding (int or tuple): an int pads every side by that much; a 4-tuple is
            (left, right, top, bottom), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, H_in, W_in) or (C, H_in, W_in).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), where (o = n + p_before + p_after):
          H_out = H_in + p_top + p_bottom
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ReflectionPad2d((1, 1, 2, 0))(cnnlab.randn(1, 1, 3, 3)).shape
        (1, 1, 5, 5)
    """

    dims = 2


class ReflectionPad3d(_ReflectionPadNd):
    """Pad the last 3 dims with the reflection of the input at its border, as ``torch.nn.ReflectionPad3d``.

    [a b c d] padded by (2, 1) is [c b | a b c d | c]: the border is not repeated, so each
    pad must be smaller than the size of its dim.

    Args:
        padding (int or tuple): an int pads every side by that much; a 6-tuple is
            (left, right, top, bottom, front, back), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, D_in, H_in, W_in) or (C, D_in, H_in, W_in).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), where (o = n + p_before + p_after):
          D_out = D_in + p_front + p_back
          H_out = H_in + p_top + p_bottom
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ReflectionPad3d(1)(cnnlab.randn(1, 1, 2, 2, 2)).shape
        (1, 1, 4, 4, 4)
    """

    dims = 3


class ReplicationPad1d(_ReplicationPadNd):
    """Pad the last dim by repeating the border elements, as ``torch.nn.ReplicationPad1d``.

    [a b c d] padded by (2, 1) is [a a | a b c d | d].

    Args:
        padding (int or tuple): an int pads every side by that much; a 2-tuple is
            (left, right), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, W_in) or (C, W_in).
        - Output: (N, C, W_out) or (C, W_out), where (o = n + p_before + p_after):
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ReplicationPad1d((3, 1))(cnnlab.tensor([[0.0, 1.0, 2.0, 3.0]]))
        tensor([[0., 0., 0., 0., 1., 2., 3., 3.]])
    """

    dims = 1


class ReplicationPad2d(_ReplicationPadNd):
    """Pad the last 2 dims by repeating the border elements, as ``torch.nn.ReplicationPad2d``.

    [a b c d] padded by (2, 1) is [a a | a b c d | d].

    Args:
        padding (int or tuple): an int pads every side by that much; a 4-tuple is
            (left, right, top, bottom), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, H_in, W_in) or (C, H_in, W_in).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), where (o = n + p_before + p_after):
          H_out = H_in + p_top + p_bottom
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ReplicationPad2d((1, 1, 2, 0))(cnnlab.randn(1, 1, 3, 3)).shape
        (1, 1, 5, 5)
    """

    dims = 2


class ReplicationPad3d(_ReplicationPadNd):
    """Pad the last 3 dims by repeating the border elements, as ``torch.nn.ReplicationPad3d``.

    [a b c d] padded by (2, 1) is [a a | a b c d | d].

    Args:
        padding (int or tuple): an int pads every side by that much; a 6-tuple is
            (left, right, top, bottom, front, back), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, D_in, H_in, W_in) or (C, D_in, H_in, W_in).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), where (o = n + p_before + p_after):
          D_out = D_in + p_front + p_back
          H_out = H_in + p_top + p_bottom
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.ReplicationPad3d((3, 3, 6, 6, 1, 1))(cnnlab.randn(2, 3, 8, 32, 48)).shape
        (2, 3, 10, 44, 54)
    """

    dims = 3


class CircularPad1d(_CircularPadNd):
    """Pad the last dim by wrapping around (periodic boundary), as ``torch.nn.CircularPad1d``.

    [a b c d] padded by (2, 1) is [c d | a b c d | a]: the end pads the beginning and the
    beginning the end, so each pad must be at most the size of its dim.

    Args:
        padding (int or tuple): an int pads every side by that much; a 2-tuple is
            (left, right), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, W_in) or (C, W_in).
        - Output: (N, C, W_out) or (C, W_out), where (o = n + p_before + p_after):
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.CircularPad1d((3, 1))(cnnlab.tensor([[0.0, 1.0, 2.0, 3.0]]))
        tensor([[1., 2., 3., 0., 1., 2., 3., 0.]])
    """

    dims = 1


class CircularPad2d(_CircularPadNd):
    """Pad the last 2 dims by wrapping around (periodic boundary), as ``torch.nn.CircularPad2d``.

    [a b c d] padded by (2, 1) is [c d | a b c d | a]: the end pads the beginning and the
    beginning the end, so each pad must be at most the size of its dim.

    Args:
        padding (int or tuple): an int pads every side by that much; a 4-tuple is
            (left, right, top, bottom), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, H_in, W_in) or (C, H_in, W_in).
        - Output: (N, C, H_out, W_out) or (C, H_out, W_out), where (o = n + p_before + p_after):
          H_out = H_in + p_top + p_bottom
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.CircularPad2d((1, 1, 2, 0))(cnnlab.randn(1, 1, 3, 3)).shape
        (1, 1, 5, 5)
    """

    dims = 2


class CircularPad3d(_CircularPadNd):
    """Pad the last 3 dims by wrapping around (periodic boundary), as ``torch.nn.CircularPad3d``.

    [a b c d] padded by (2, 1) is [c d | a b c d | a]: the end pads the beginning and the
    beginning the end, so each pad must be at most the size of its dim.

    Args:
        padding (int or tuple): an int pads every side by that much; a 6-tuple is
            (left, right, top, bottom, front, back), as in ``F.pad``. Negative pads crop.

    Shape:
        - Input: (N, C, D_in, H_in, W_in) or (C, D_in, H_in, W_in).
        - Output: (N, C, D_out, H_out, W_out) or (C, D_out, H_out, W_out), where (o = n + p_before + p_after):
          D_out = D_in + p_front + p_back
          H_out = H_in + p_top + p_bottom
          W_out = W_in + p_left + p_right

    Example:
        >>> nn.CircularPad3d((3, 3, 6, 6, 1, 1))(cnnlab.randn(2, 3, 8, 32, 48)).shape
        (2, 3, 10, 44, 54)
    """

    dims = 3
