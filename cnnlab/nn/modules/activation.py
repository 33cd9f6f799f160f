"""Activation layers, as ``torch.nn``: `ReLU`, `ReLU6`, `LeakyReLU`, `ELU`, `GELU`, `SiLU`, `Hardswish`,
`Sigmoid`, `Tanh`, `Softmax`, `LogSoftmax`. No parameters; each validates its arguments and calls its
op in `nn.functional`. Their reprs are PyTorch's, character for character.

The ``inplace`` arguments are accepted for compatibility with PyTorch code, and shown in the repr
where PyTorch shows them, but ignored: cnnlab always returns a new tensor (an in-place op would
invalidate values the graph saved for backward).
"""
from __future__ import annotations

import math
import warnings

from cnnlab import arguments
from cnnlab.autograd import Tensor
from cnnlab.nn import functional as F
from cnnlab.nn.functional import activation as A
from cnnlab.nn.modules.module import Module, same_shape

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Hardswish", "Sigmoid", "Tanh",
           "Softmax", "LogSoftmax"]


def _real(value, name: str, layer: str):
    """A finite real number (kept as given, so that the repr shows it as PyTorch does), or TypeError/ValueError."""
    arguments.number(value, op=layer, arg=name)
    if not math.isfinite(value):
        raise ValueError(f"{layer}: {name} must be finite, got {value}")
    return value


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

    output_shape = same_shape

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = arguments.boolean(inplace, op="ReLU", arg="inplace")

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

    output_shape = same_shape

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

    output_shape = same_shape

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class ReLU6(Module):
    """Apply ReLU6(x) = min(max(0, x), 6) elementwise, as ``torch.nn.ReLU6``.

    Its gradient is 1 for 0 < x < 6 and 0 elsewhere, at both kinks included (PyTorch's rule).

    Args:
        inplace (bool): accepted and shown in the repr, but ignored (see the module docstring). Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the same shape, values in [0, 6].

    Example:
        >>> nn.ReLU6()(cnnlab.tensor([-1.0, 3.0, 7.0]))
        tensor([0., 3., 6.])
    """

    output_shape = same_shape

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = arguments.boolean(inplace, op="ReLU6", arg="inplace")

    def forward(self, input: Tensor) -> Tensor:
        return A.relu6(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """Apply LeakyReLU(x) = x if x > 0 else negative_slope·x elementwise, as ``torch.nn.LeakyReLU``.

    Args:
        negative_slope (float): the slope for x <= 0 (also the gradient at x = 0, as PyTorch). Default: 0.01.
        inplace (bool): accepted and shown in the repr, but ignored. Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the same shape.

    Example:
        >>> nn.LeakyReLU(0.1)(cnnlab.tensor([-2.0, 3.0]))
        tensor([-0.2,  3. ])
    """

    output_shape = same_shape

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = _real(negative_slope, "negative_slope", "LeakyReLU")
        self.inplace = arguments.boolean(inplace, op="LeakyReLU", arg="inplace")

    def forward(self, input: Tensor) -> Tensor:
        return A.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """Apply ELU(x) = x if x > 0 else alpha·(eˣ − 1) elementwise, as ``torch.nn.ELU``.

    Args:
        alpha (float): −alpha is the limit for x → −∞ (and alpha the gradient at x = 0, as PyTorch).
            Default: 1.0.
        inplace (bool): accepted and shown in the repr, but ignored. Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the same shape.

    Example:
        >>> nn.ELU()(cnnlab.tensor([-1.0, 2.0]))
        tensor([-0.6321,  2.    ])
    """

    output_shape = same_shape

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = _real(alpha, "alpha", "ELU")
        self.inplace = arguments.boolean(inplace, op="ELU", arg="inplace")

    def forward(self, input: Tensor) -> Tensor:
        return A.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """Apply GELU(x) = x·Φ(x) elementwise (Φ the standard normal CDF), as ``torch.nn.GELU``.

    Args:
        approximate (str): ``'none'`` for the exact Φ(x) = ½(1 + erf(x/√2)), or ``'tanh'`` for
            Φ(x) ≈ ½(1 + tanh(√(2/π)(x + 0.044715x³))). Default: ``'none'``.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the same shape.

    Example:
        >>> nn.GELU()(cnnlab.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.1587,  0.    ,  0.8413])
    """

    output_shape = same_shape

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return A.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """Apply SiLU(x) = x·σ(x) (swish) elementwise, as ``torch.nn.SiLU``.

    Args:
        inplace (bool): accepted and shown in the repr, but ignored. Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the same shape.

    Example:
        >>> nn.SiLU()(cnnlab.tensor([0.0, 1.0]))
        tensor([0.    , 0.7311])
    """

    output_shape = same_shape

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = arguments.boolean(inplace, op="SiLU", arg="inplace")

    def forward(self, input: Tensor) -> Tensor:
        return A.silu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Hardswish(Module):
    """Apply Hardswish(x) = x·ReLU6(x + 3)/6 elementwise, as ``torch.nn.Hardswish`` (MobileNetV3).

    Args:
        inplace (bool): accepted but ignored; PyTorch's repr does not show it either. Default: False.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the same shape.

    Example:
        >>> nn.Hardswish()(cnnlab.tensor([-4.0, 1.0, 4.0]))
        tensor([-0.    ,  0.6667,  4.    ])
    """

    output_shape = same_shape

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = arguments.boolean(inplace, op="Hardswish", arg="inplace")

    def forward(self, input: Tensor) -> Tensor:
        return A.hardswish(input)


def _implicit_softmax_dim(name: str, ndim: int) -> int:
    """PyTorch's legacy choice when dim is None: 0 for 0-, 1- and 3-d input, else 1 (with its warning)."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  "Change the call to include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """Apply softmax along `dim`: exp(xᵢ) / Σⱼ exp(xⱼ), as ``torch.nn.Softmax``; each slice then sums to 1.

    Args:
        dim (int or None): the dim the probabilities sum over. None mirrors PyTorch's deprecated
            implicit choice, warning as PyTorch does: dim 0 for 0-, 1- and 3-d input, dim 1
            otherwise (so (N, C) and (N, C, H, W) use the class dim, but an unbatched (C, H, W)
            image uses dim 0). Default: None; pass it explicitly.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the same shape, values in [0, 1].

    Example:
        >>> nn.Softmax(dim=1)(cnnlab.tensor([[0.0, 0.0]]))
        tensor([[0.5, 0.5]])
    """

    output_shape = same_shape

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = None if dim is None else arguments.integer(dim, op=type(self).__name__, arg="dim")

    def forward(self, input: Tensor) -> Tensor:
        dim = self.dim if self.dim is not None else _implicit_softmax_dim("softmax", input.ndim)
        return F.softmax(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Apply log(softmax(x)) along `dim`, computed as xᵢ − log Σⱼ exp(xⱼ), as ``torch.nn.LogSoftmax``.

    Pair it with `NLLLoss`; `CrossEntropyLoss` is the two in one.

    Args:
        dim (int or None): the dim the softmax runs over; None chooses as `Softmax` does, with
            PyTorch's deprecation warning. Default: None.

    Shape:
        - Input: (*), any shape.
        - Output: (*), the same shape, values in (−∞, 0].

    Example:
        >>> nn.LogSoftmax(dim=1)(cnnlab.tensor([[0.0, 0.0]]))
        tensor([[-0.6931, -0.6931]])
    """

    output_shape = same_shape

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = None if dim is None else arguments.integer(dim, op=type(self).__name__, arg="dim")

    def forward(self, input: Tensor) -> Tensor:
        dim = self.dim if self.dim is not None else _implicit_softmax_dim("log_softmax", input.ndim)
        return F.log_softmax(input, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
