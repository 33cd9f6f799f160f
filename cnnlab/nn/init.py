"""Weight initialisation, as ``torch.nn.init``.

Every function fills ``tensor`` in place (outside the graph, as under
``no_grad``), keeps its dtype, draws from ``cnnlab.backend.generator()`` (seeded
by ``cnnlab.manual_seed``) unless a NumPy ``generator`` is given, and returns
the tensor. The formulas, with fan_in = C_in·kH·kW and fan_out = C_out·kH·kW
for a weight of shape (C_out, C_in, kH, kW):

    xavier_uniform_   U(-a, a),      a   = gain · √(6 / (fan_in + fan_out))
    xavier_normal_    N(0, std²),    std = gain · √(2 / (fan_in + fan_out))
    kaiming_uniform_  U(-b, b),      b   = gain · √(3 / fan)
    kaiming_normal_   N(0, std²),    std = gain / √fan
    with fan = fan_in or fan_out (mode) and gain = calculate_gain(nonlinearity, a).

PyTorch's default for Linear and Conv weights is ``kaiming_uniform_(w, a=√5)``,
which works out to U(-1/√fan_in, 1/√fan_in).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from cnnlab import backend
from cnnlab.autograd import Tensor, no_grad

__all__ = [
    "default_layer_init_",
    "calculate_gain", "calculate_fan_in_and_fan_out", "uniform_", "normal_", "trunc_normal_", "constant_",
    "ones_", "zeros_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity: str, param=None):
    """The recommended gain for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    ============================  ==============================
    nonlinearity                  gain
    ============================  ==============================
    linear, conv*d, sigmoid       1
    tanh                          5/3
    relu                          √2
    leaky_relu                    √(2 / (1 + negative_slope²)), negative_slope = param or 0.01
    selu                          3/4
    ============================  ==============================
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (C_out, C_in, *k): (C_in·∏k, C_out·∏k), as PyTorch's private helper."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
                         f"(got shape {shape})")
    receptive_field_size = math.prod(shape[2:])
    return shape[1] * receptive_field_size, shape[0] * receptive_field_size


_calculate_fan_in_and_fan_out = calculate_fan_in_and_fan_out  # PyTorch's name, for ported code


def _calculate_correct_fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _check(tensor, op: str, floating: bool = True) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a cnnlab Tensor (or Parameter), got {type(tensor).__name__}")
    if floating and tensor.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got dtype {tensor.dtype}")


def _write(tensor: Tensor, values: np.ndarray) -> Tensor:
    """Copy `values` into the tensor's memory in its dtype, outside the graph."""
    with no_grad():
        tensor.copy_(values.astype(tensor.dtype, copy=False))
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of U(a, b)."""
    _check(tensor, "uniform_")
    if a > b:
        raise ValueError(f"uniform_: expects a <= b (the range [a, b)), but got a={a} > b={b}")
    gen = generator or backend.generator()
    return _write(tensor, gen.uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    _check(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: expects std >= 0.0, but got std={std}")
    gen = generator or backend.generator()
    return _write(tensor, gen.normal(mean, std, size=tensor.shape))


def _ndtri(p: np.ndarray) -> np.ndarray:
    """Inverse of the standard normal CDF (P. J. Acklam's rational approximation, relative error < 1.2e-9)."""
    a = (-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
         1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00)
    b = (-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
         6.680131188771972e+01, -1.328068155288572e+01, 1.0)
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
         -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00)
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = np.minimum(p, 1 - p)                                 # the nearer tail's probability
        q = np.sqrt(-2 * np.log(tail))
        x_tail = np.polyval(c, q) / np.polyval(d, q)               # < 0 for the lower tail
        r = (p - 0.5) ** 2
        x_mid = (p - 0.5) * np.polyval(a, r) / np.polyval(b, r)
    x = np.where(tail < 0.02425, np.where(p < 0.5, x_tail, -x_tail), x_mid)
    return x


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None) -> Tensor:
    """Fill with samples of N(mean, std²) truncated to [a, b] (a and b are absolute values, not in std).

    Samples u ~ U(Φ(α), Φ(β)) with α = (a - mean)/std, β = (b - mean)/std and
    returns mean + std·Φ⁻¹(u), clamped to [a, b]. An interval lying wholly
    above the mean is sampled mirrored, in the lower tail, where Φ keeps its precision.
    """
    _check(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: expects a < b, got a={a}, b={b}")
    if std <= 0:
        raise ValueError(f"trunc_normal_: expects std > 0, got std={std}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    alpha, beta = (a - mean) / std, (b - mean) / std
    flip = alpha > 0
    if flip:
        alpha, beta = -beta, -alpha
    cdf = lambda z: 0.5 * math.erfc(-z / math.sqrt(2))  # noqa: E731  (accurate in the lower tail)
    gen = generator or backend.generator()
    u = gen.uniform(cdf(alpha), cdf(beta), size=tensor.shape)
    z = _ndtri(u)
    z = -z if flip else z
    return _write(tensor, np.clip(mean + std * z, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value `val`."""
    _check(tensor, "constant_", floating=False)
    with no_grad():
        tensor.fill_(val)
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return constant_(tensor, 1)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    return constant_(tensor, 0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a) with a = gain · √(6 / (fan_in + fan_out))."""
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot & Bengio (2010): N(0, std²) with std = gain · √(2 / (fan_in + fan_out))."""
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor, a, mode, nonlinearity, op):
    _check(tensor, op)
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None) -> Tensor:
    """He et al. (2015): U(-b, b) with b = gain · √(3 / fan).

    Args:
        tensor: the weight, at least 2-d: (C_out, C_in, *k).
        a: the negative slope of the leaky ReLU that follows (used when nonlinearity='leaky_relu'). Default: 0.
        mode: 'fan_in' (default) keeps the variance of the forward pass; 'fan_out' that of the backward pass.
        nonlinearity: a name for `calculate_gain`. Default: 'leaky_relu'.
        generator: a ``numpy.random.Generator`` to draw from instead of cnnlab's.
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> Tensor:
    """He et al. (2015): N(0, std²) with std = gain / √fan (arguments as `kaiming_uniform_`)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


def default_layer_init_(weight: Tensor, bias: Tensor | None = None) -> None:
    """PyTorch's default init of Linear and Conv layers, in one place.

    weight: ``kaiming_uniform_(a=√5)``, i.e. U(−1/√fan_in, 1/√fan_in);
    bias: U(−1/√fan_in, 1/√fan_in) with the weight's fan_in (0 when fan_in is 0).
    """
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)
