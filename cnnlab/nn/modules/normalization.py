"""Normalization layers that keep no running statistics: `GroupNorm`, `LayerNorm`, `LocalResponseNorm`.

(Batch normalization, which tracks running statistics, lives in `batchnorm.py`.)
"""
from __future__ import annotations

import numpy as np

from cnnlab import arguments
from cnnlab.autograd import Tensor
from cnnlab.nn import init
from cnnlab.nn.functional.normalization import group_norm, layer_norm, local_response_norm
from cnnlab.nn.modules._utils import float_dtype
from cnnlab.nn.modules.module import Module, same_shape
from cnnlab.nn.parameter import Parameter
from cnnlab.messages import counted

__all__ = ["GroupNorm", "LayerNorm", "LocalResponseNorm"]


def _number(value, name, layer, minimum=None):
    arguments.number(value, op=layer, arg=name)
    if minimum is not None and value < minimum:
        raise ValueError(f"{layer}: {name} must be at least {minimum}, got {value}")
    return value


def _affine_params(module, shape, affine, bias, dtype, layer):
    """Register weight (ones) and bias (zeros) of `shape`, or None for each one that is off."""
    dt = float_dtype(dtype, layer)
    if affine:
        module.weight = Parameter(np.ones(shape, dtype=dt))
        if arguments.boolean(bias, op=layer, arg="bias"):
            module.bias = Parameter(np.zeros(shape, dtype=dt))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


class _AffineNorm(Module):
    """A normalization whose optional affine parameters (see `_affine_params`) start at γ = 1, β = 0."""

    output_shape = same_shape

    def reset_parameters(self) -> None:
        """γ ← 1, β ← 0."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)


class GroupNorm(_AffineNorm):
    """Group normalization, as ``torch.nn.GroupNorm``.

    The C channels are split into num_groups groups of C/G consecutive channels;
    each sample's group is normalised with its own mean and biased variance, then
    y = γ_c·x̂ + β_c per channel. Works the same in training and eval mode.

    Args:
        num_groups (int): G; num_channels must be divisible by it.
        num_channels (int): C, the channels expected in the input.
        eps (float): ε added to the variance. Default: 1e-5.
        affine (bool): learn per-channel γ (init 1) and β (init 0). Default: True.
        dtype: dtype of the parameters. Default: None (float32).
        bias (bool, keyword-only): learn β (with affine=True). Default: True.

    Shape:
        - Input: (N, C, *).
        - Output: (N, C, *), the same shape.

    Example:
        >>> m = nn.GroupNorm(3, 6)
        >>> m(cnnlab.randn(20, 6, 10, 10)).shape
        (20, 6, 10, 10)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        self.num_groups = arguments.positive_int(num_groups, op="GroupNorm", arg="num_groups")
        self.num_channels = arguments.positive_int(num_channels, op="GroupNorm", arg="num_channels")
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.eps = _number(eps, "eps", "GroupNorm", minimum=0)
        self.affine = arguments.boolean(affine, op="GroupNorm", arg="affine")
        _affine_params(self, (self.num_channels,), self.affine, bias, dtype, "GroupNorm")

    def forward(self, input: Tensor) -> Tensor:
        if isinstance(input, Tensor) and input.ndim >= 2 and input.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input with {counted(self.num_channels, 'channel')}, got input of shape "
                             f"{input.shape}")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LayerNorm(_AffineNorm):
    """Layer normalization over the last dims, as ``torch.nn.LayerNorm``.

    Each slice over the trailing `normalized_shape` dims is normalised with its
    own mean and biased variance, then y = γ·x̂ + β elementwise (γ, β of shape
    normalized_shape). Works the same in training and eval mode.

    Args:
        normalized_shape (int or tuple): the trailing shape of the input to normalise over.
        eps (float): ε added to the variance. Default: 1e-5.
        elementwise_affine (bool): learn γ (init 1) and β (init 0). Default: True.
        bias (bool): learn β (with elementwise_affine=True). Default: True.
        dtype: dtype of the parameters. Default: None (float32).

    Shape:
        - Input: (*, *normalized_shape).
        - Output: the same shape.

    Example:
        >>> m = nn.LayerNorm((5, 5))
        >>> m(cnnlab.randn(20, 3, 5, 5)).shape
        (20, 3, 5, 5)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=None):
        super().__init__()
        self.normalized_shape = arguments.normalized_shape(normalized_shape, op="LayerNorm")
        self.eps = _number(eps, "eps", "LayerNorm", minimum=0)
        self.elementwise_affine = arguments.boolean(elementwise_affine, op="LayerNorm", arg="elementwise_affine")
        _affine_params(self, self.normalized_shape, self.elementwise_affine, bias, dtype, "LayerNorm")

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """Local response normalization across channels (AlexNet), as ``torch.nn.LocalResponseNorm``.

        b_c = a_c / (k + α/n · Σ_{c' = c−⌊n/2⌋}^{c+⌊(n−1)/2⌋} a_{c'}²)^β

    where channels outside [0, C) count as zeros.

    Args:
        size (int): n, the number of neighbouring channels in the window.
        alpha (float): α. Default: 1e-4.
        beta (float): β. Default: 0.75.
        k (float): the additive constant. Default: 1.0.

    Shape:
        - Input: (N, C, *), at least 3-d.
        - Output: the same shape.

    Example:
        >>> lrn = nn.LocalResponseNorm(2)
        >>> lrn(cnnlab.randn(32, 5, 24, 24)).shape
        (32, 5, 24, 24)
    """

    output_shape = same_shape

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = arguments.positive_int(size, op="LocalResponseNorm", arg="size")
        self.alpha = _number(alpha, "alpha", "LocalResponseNorm")
        self.beta = _number(beta, "beta", "LocalResponseNorm")
        self.k = _number(k, "k", "LocalResponseNorm")

    def forward(self, input: Tensor) -> Tensor:
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
