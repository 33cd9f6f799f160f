"""Activation layers: `ReLU`, `Sigmoid`, `Tanh` (no parameters; each calls its op in `nn.functional`)."""
from __future__ import annotations

from cnnlab.autograd import Tensor
from cnnlab.nn import functional as F
from cnnlab.nn.modules._utils import boolean
from cnnlab.nn.modules.module import Module

__all__ = ["ReLU", "Sigmoid", "Tanh"]


class ReLU(Module):
    """Apply ReLU(x) = max(0, x) elementwise, as ``torch.nn.ReLU``.

    Args:
        inplace (bool): accepted for compatibility with PyTorch code, and shown in
            the repr, but ignored: cnnlab always returns a new tensor (an in-place
            op would invalidate values the graph saved for backward). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the same shape.

    Example:
        >>> nn.ReLU()(cnnlab.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = boolean(inplace, "inplace", "ReLU")

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    """Apply σ(x) = 1 / (1 + e⁻ˣ) elementwise, as ``torch.nn.Sigmoid``.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the same shape, values in (0, 1).

    Example:
        >>> nn.Sigmoid()(cnnlab.tensor([0.0]))
        tensor([0.5000])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """Apply tanh(x) = (eˣ - e⁻ˣ) / (eˣ + e⁻ˣ) elementwise, as ``torch.nn.Tanh``.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the same shape, values in (-1, 1).

    Example:
        >>> nn.Tanh()(cnnlab.tensor([0.0]))
        tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)
