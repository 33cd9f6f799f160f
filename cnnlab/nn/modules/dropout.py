"""Dropout layers: `Dropout`, `Dropout1d`, `Dropout2d`, `Dropout3d`, `AlphaDropout`.

In training mode each call draws a new mask from cnnlab's seeded generator; in
eval mode (``model.eval()``) they return the input itself.
"""
from __future__ import annotations


from cnnlab import arguments
from cnnlab.autograd import Tensor
from cnnlab.nn.functional.dropout import alpha_dropout, dropout, dropout1d, dropout2d, dropout3d
from cnnlab.nn.modules.module import Module, same_shape

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout"]


class _DropoutNd(Module):
    """Holds p and inplace, checked; subclasses call their functional op with ``training=self.training``."""

    output_shape = same_shape

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        name = type(self).__name__
        arguments.number(p, op=name, arg="p")
        if not 0 <= p <= 1:
            raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = arguments.boolean(inplace, op=name, arg="inplace")

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


_ARGS = """Args:
        p (float): probability of {unit} to be zeroed. Default: 0.5.
        inplace (bool): accepted for compatibility with PyTorch code, and shown in the
            repr, but ignored: cnnlab always returns a new tensor. Default: False."""


class Dropout(_DropoutNd):
    __doc__ = f"""Zero each element with probability p while training, as ``torch.nn.Dropout``.

    The other elements are scaled by 1/(1 − p), which keeps the expected value of
    every element, so nothing changes in eval mode, where the layer returns its input.

    {_ARGS.format(unit="an element")}

    Shape:
        - Input: (*). Output: (*), the same shape.

    Example:
        >>> m = nn.Dropout(p=0.2)
        >>> m(cnnlab.randn(20, 16)).shape
        (20, 16)
    """

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    __doc__ = f"""Zero whole channels with probability p while training, as ``torch.nn.Dropout1d``.

    Each channel input[n, c, :] is zeroed entirely or scaled by 1/(1 − p).

    {_ARGS.format(unit="a channel")}

    Shape:
        - Input: (N, C, L) or (C, L). Output: the same shape.

    Example:
        >>> m = nn.Dropout1d(p=0.2)
        >>> m(cnnlab.randn(20, 16, 32)).shape
        (20, 16, 32)
    """

    def forward(self, input: Tensor) -> Tensor:
        return dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    __doc__ = f"""Zero whole channels (feature maps) with probability p while training, as ``torch.nn.Dropout2d``.

    Each feature map input[n, c, :, :] is zeroed entirely or scaled by 1/(1 − p).
    As in PyTorch, a 3-d input is taken as (N, C, L) (with a warning), not as an
    unbatched (C, H, W).

    {_ARGS.format(unit="a channel")}

    Shape:
        - Input: (N, C, H, W). Output: the same shape.

    Example:
        >>> m = nn.Dropout2d(p=0.2)
        >>> m(cnnlab.randn(20, 16, 32, 32)).shape
        (20, 16, 32, 32)
    """

    def forward(self, input: Tensor) -> Tensor:
        return dropout2d(input, self.p, self.training)


class Dropout3d(_DropoutNd):
    __doc__ = f"""Zero whole 3-d channels with probability p while training, as ``torch.nn.Dropout3d``.

    Each channel input[n, c, :, :, :] is zeroed entirely or scaled by 1/(1 − p).

    {_ARGS.format(unit="a channel")}

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W). Output: the same shape.

    Example:
        >>> m = nn.Dropout3d(p=0.2)
        >>> m(cnnlab.randn(20, 16, 4, 32, 32)).shape
        (20, 16, 4, 32, 32)
    """

    def forward(self, input: Tensor) -> Tensor:
        return dropout3d(input, self.p, self.training)


class AlphaDropout(_DropoutNd):
    __doc__ = f"""Alpha dropout for SELU networks, as ``torch.nn.AlphaDropout``.

    Dropped units are set to SELU's negative saturation and the result is scaled
    and shifted so that inputs of mean 0 and variance 1 keep them (see
    `cnnlab.nn.functional.dropout.alpha_dropout`).

    {_ARGS.format(unit="an element")}

    Shape:
        - Input: (*). Output: (*), the same shape.
    """

    def forward(self, input: Tensor) -> Tensor:
        return alpha_dropout(input, self.p, self.training)
