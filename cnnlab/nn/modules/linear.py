"""Fully connected and shape layers: `Identity`, `Linear`, `Flatten`."""
from __future__ import annotations


import math

import numpy as np

from cnnlab import arguments
from cnnlab.autograd import Tensor
from cnnlab.nn import functional as F
from cnnlab.nn import init
from cnnlab.nn.modules._utils import float_dtype
from cnnlab.nn.modules.module import Module, same_shape
from cnnlab.nn.parameter import Parameter

__all__ = ["Identity", "Linear", "Flatten"]


class Identity(Module):
    """Return the input unchanged, as ``torch.nn.Identity``: a placeholder that accepts and ignores any arguments.

    Args:
        *args, **kwargs: ignored (so that it can stand in for any layer's constructor).

    Shape:
        - Input: (*), any shape.
        - Output: (*), the input itself.

    Example:
        >>> m = nn.Identity(54, unused=0.1)
        >>> m(cnnlab.randn(128, 20)).shape
        (128, 20)
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input

    output_shape = same_shape


class Linear(Module):
    """Apply an affine map to the last dim: y = x·Wᵀ + b, as ``torch.nn.Linear``.

    Args:
        in_features (int): size of each input sample (the last dim of the input).
        out_features (int): size of each output sample.
        bias (bool): learn an additive bias. Default: True.
        dtype: dtype of the parameters. Default: None (the default dtype, float32).

    Shape:
        - Input: (*, H_in) with H_in = in_features; * is any number of dims, including none.
        - Output: (*, H_out) with H_out = out_features.

    Attributes:
        weight (Parameter): shape (out_features, in_features), initialised as PyTorch's:
            ``kaiming_uniform_(weight, a=√5)``, which is U(-√k, √k) with k = 1/in_features.
        bias (Parameter or None): shape (out_features,), initialised from U(-√k, √k), k = 1/in_features.

    Example:
        >>> m = nn.Linear(20, 30)
        >>> m(cnnlab.randn(128, 20)).shape
        (128, 30)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        self.in_features = arguments.positive_int(in_features, op="Linear", arg="in_features")
        self.out_features = arguments.positive_int(out_features, op="Linear", arg="out_features")
        dt = float_dtype(dtype, "Linear")
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dt))
        if arguments.boolean(bias, op="Linear", arg="bias"):
            self.bias = Parameter(np.empty(self.out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw new weights with PyTorch's default init (see Attributes)."""
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def output_shape(self, input_shape) -> tuple:
        """(*, out_features) for an input of (*, in_features)."""
        shape = tuple(input_shape)
        if not shape or shape[-1] != self.in_features:
            raise ValueError(f"Linear: input shape {shape} does not end in in_features={self.in_features}")
        return shape[:-1] + (self.out_features,)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Merge dims start_dim..end_dim into one, as ``torch.nn.Flatten``.

    The default (start_dim=1) keeps the batch dim: (N, C, H, W) -> (N, C·H·W),
    which is what sits between the last conv/pool and the first Linear.

    Args:
        start_dim (int): first dim to flatten. Default: 1.
        end_dim (int): last dim to flatten (inclusive). Default: -1.

    Shape:
        - Input: (*, S_start, ..., S_end, *).
        - Output: (*, ∏ S_start..S_end, *).

    Example:
        >>> nn.Flatten()(cnnlab.randn(32, 1, 5, 5)).shape
        (32, 25)
        >>> nn.Flatten(0, 2)(cnnlab.randn(32, 1, 5, 5)).shape
        (160, 5)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = arguments.integer(start_dim, op="Flatten", arg="start_dim")
        self.end_dim = arguments.integer(end_dim, op="Flatten", arg="end_dim")

    def forward(self, input: Tensor) -> Tensor:
        return F.flatten(input, self.start_dim, self.end_dim)

    def output_shape(self, input_shape) -> tuple:
        """The input shape with dims start_dim..end_dim replaced by their product."""
        shape = tuple(input_shape)
        start, end = (d + len(shape) if d < 0 else d for d in (self.start_dim, self.end_dim))
        if not 0 <= start <= end < len(shape):
            raise ValueError(f"Flatten: start_dim={self.start_dim} and end_dim={self.end_dim} do not name dims "
                             f"in that order of an input shape {shape}")
        return shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
