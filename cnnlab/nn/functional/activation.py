"""Activation functions beyond relu/sigmoid/tanh, as ``torch.nn.functional``: relu6, leaky_relu, elu,
gelu, silu, hardswish. Each is a primitive with a hand-written backward (one pass, no graph of
temporaries), and each gradient follows PyTorch's choice at the kinks:

    op           forward                                   d/dx (at the kinks, as PyTorch)
    relu6        min(max(x, 0), 6)                         1 if 0 < x < 6 else 0      (0 at x = 0 and x = 6)
    leaky_relu   x if x > 0 else a·x                       1 if x > 0 else a          (a at x = 0)
    elu          x if x > 0 else α·(eˣ − 1)                1 if x > 0 else α·eˣ       (α at x = 0)
    gelu         x·Φ(x), Φ(x) = ½(1 + erf(x/√2))           Φ(x) + x·φ(x)
    gelu tanh    ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³)  ½(1 + tanh u) + ½x(1 − tanh²u)·u'
    silu         x·σ(x)                                    σ(x)(1 + x(1 − σ(x)))
    hardswish    x·min(max(x + 3, 0), 6)/6                 0 if x <= −3, x/3 + ½ if −3 < x < 3, 1 if x >= 3

(relu, sigmoid, tanh live in `elementwise`; softmax and log_softmax in `reduction`.)

NumPy has no erf, so `_erf` below is W. J. Cody's rational approximation (CALERF, 1969/1985),
accurate to about one unit in the last place of float64, and evaluated in float32 for float32
inputs so that nothing is upcast.

The ``inplace`` arguments are accepted for compatibility with PyTorch code and ignored: cnnlab
always returns a new tensor (an in-place op would invalidate values the graph saved for backward).
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import arguments
from cnnlab.autograd import Function, Tensor
from cnnlab.nn.functional._util import check_tensor
from cnnlab.nn.functional.elementwise import stable_sigmoid

# ---------------------------------------------------------------- erf (W. J. Cody, netlib specfun/erf)
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
      1.85777706184603153e-1)
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
      8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
      2.15311535474403846e-8)
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
      3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
      6.58749161529837803e-4, 1.63153871373020978e-2)
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
      2.33520497626869185e-3)
_SQRPI = 5.6418958354775628695e-1  # 1/√π


def _exp_neg_square(y):
    """e^(−y²), with y² split as ysq² + (y − ysq)(y + ysq), ysq = y rounded down to 1/16 (Cody's trick:
    the rounding error of y·y would otherwise be amplified by the exponential)."""
    ysq = np.trunc(y * 16) / 16
    return np.exp(-ysq * ysq) * np.exp(-((y - ysq) * (y + ysq)))


def _rational(t, lead, ps, qs):
    """Cody's nested ratio (((lead·t + p₀)t + p₁)t + … + pₙ) / (((t + q₀)t + q₁)t + … + qₙ), in place
    (in-place updates: three times faster than a new array per step)."""
    num, den = lead * t, t.copy()
    for p, q in zip(ps[:-1], qs[:-1]):
        num += p
        num *= t
        den += q
        den *= t
    num += ps[-1]
    den += qs[-1]
    num /= den
    return num


def _erf(x: np.ndarray) -> np.ndarray:
    """erf(x) = 2/√π ∫₀ˣ e^(−t²) dt elementwise, in x's float dtype (float64: within ~2 ulp of ``math.erf``).

    Three rational approximations on |x| <= 0.46875, 0.46875 < |x| <= 4 and |x| > 4 (where
    erfc(|x|) = e^(−x²)/|x|·(1/√π − R(1/x²)/x²)); erf(±inf) = ±1, erf(nan) = nan. Each piece is
    computed on its own elements only, gathered by index (`take`/`put` are much faster than
    boolean-mask indexing on scattered masks).
    """
    flat = x.reshape(-1)
    y = np.abs(flat)
    out = np.full_like(flat, np.nan)                  # nan is in none of the three pieces and stays nan
    small = np.flatnonzero(y <= 0.46875)
    mid = np.flatnonzero((y > 0.46875) & (y <= 4.0))
    large = np.flatnonzero(y > 4.0)

    xs = flat.take(small)
    out.put(small, xs * _rational(xs * xs, _A[4], _A[:4], _B))

    ym = y.take(mid)
    erfc = _exp_neg_square(ym) * _rational(ym, _C[8], _C[:8], _D)
    out.put(mid, np.copysign((0.5 - erfc) + 0.5, flat.take(mid)))

    yl = np.minimum(y.take(large), 30.0)              # erfc(30) underflows to 0: erf = ±1 from there on, inf too
    z = 1 / (yl * yl)
    erfc = _exp_neg_square(yl) * ((_SQRPI - z * _rational(z, _P[5], _P[:5], _Q)) / yl)
    out.put(large, np.copysign((0.5 - erfc) + 0.5, flat.take(large)))
    return out.reshape(x.shape)


# ---------------------------------------------------------------- primitives
class ReLU6(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.pass_through = ~((x <= 0) | (x >= 6))     # PyTorch's hardtanh rule: 0 at both kinks
        return np.minimum(np.maximum(x, 0), 6)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.pass_through


# np.where on a scattered mask is slow (a branch per element), so the two pieces below are combined
# arithmetically instead: max(x, 0) + a·min(x, 0) is exactly x or a·x, and so is the slope
# "mask + a·(not mask)", which holds exactly 1 or a.
def _slopes(positive, negative_side, dtype):
    """1 where `positive`, else the value of `negative_side` there, in `dtype`."""
    return positive + (~positive).astype(dtype) * negative_side


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        ctx.slope = _slopes(x > 0, negative_slope, x.dtype)
        return np.maximum(x, 0) + negative_slope * np.minimum(x, 0)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.slope


class ELU(Function):
    @staticmethod
    def forward(ctx, x, alpha=1.0):
        negative = np.minimum(x, 0)                   # the min keeps e^1000 from overflowing
        ctx.slope = _slopes(x > 0, alpha * np.exp(negative), x.dtype)
        return np.maximum(x, 0) + alpha * np.expm1(negative)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.slope


_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_KAPPA = 0.044715


class GELU(Function):
    @staticmethod
    def forward(ctx, x, approximate="none"):
        ctx.x, ctx.approximate = x, approximate
        if approximate == "tanh":
            ctx.t = np.tanh(_SQRT_2_OVER_PI * (x + _KAPPA * (x * x * x)))
            return 0.5 * x * (1 + ctx.t)
        ctx.cdf = 0.5 * (1 + _erf(x * _SQRT_HALF))    # Φ(x)
        return x * ctx.cdf

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        if ctx.approximate == "tanh":
            t = ctx.t
            du = _SQRT_2_OVER_PI * (1 + (3 * _KAPPA) * (x * x))
            return g * (0.5 * (1 + t) + (0.5 * x) * (1 - t * t) * du)
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * (x * x))  # φ(x)
        return g * (ctx.cdf + x * pdf)


class SiLU(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x, ctx.s = x, stable_sigmoid(x)
        return x * ctx.s

    @staticmethod
    def backward(ctx, g):
        s = ctx.s
        return g * (s * (1 + ctx.x * (1 - s)))


class Hardswish(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x * np.minimum(np.maximum(x + 3, 0), 6) / 6

    @staticmethod
    def backward(ctx, g):
        x = ctx.x
        zero = np.zeros((), dtype=g.dtype)
        # the same tests, in the same order, as PyTorch's kernel (so nan gets the last branch, as there)
        return np.where(x <= -3, zero, np.where(x < 3, g * (x / 3 + 0.5), g))


# ---------------------------------------------------------------- public functions
def _number(op: str, name: str, value) -> float:
    """A Python float (a NumPy float64 scalar would upcast float32 arrays), or TypeError."""
    arguments.number(value, op=op, arg=name)
    if not math.isfinite(value):
        raise ValueError(f"{op}: {name} must be finite, got {value}")
    return float(value)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """ReLU6(x) = min(max(0, x), 6) elementwise, as ``torch.nn.functional.relu6``.

    The gradient is 1 for 0 < x < 6 and 0 elsewhere, including at x = 0 and x = 6 (PyTorch's rule).

    Args:
        input: a float tensor of any shape.
        inplace: accepted for PyTorch compatibility and ignored (see the module docstring). Default: False.

    Shape:
        Input (*), output (*): the same shape.
    """
    check_tensor("relu6", input)
    arguments.boolean(inplace, op="relu6", arg="inplace")
    return ReLU6.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """LeakyReLU(x) = x if x > 0 else negative_slope·x, as ``torch.nn.functional.leaky_relu``.

    The gradient at x = 0 is negative_slope (PyTorch's rule).

    Args:
        input: a float tensor of any shape.
        negative_slope: the slope for x <= 0. Default: 0.01.
        inplace: accepted for PyTorch compatibility and ignored. Default: False.

    Shape:
        Input (*), output (*): the same shape.
    """
    check_tensor("leaky_relu", input)
    arguments.boolean(inplace, op="leaky_relu", arg="inplace")
    return LeakyReLU.apply(input, negative_slope=_number("leaky_relu", "negative_slope", negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """ELU(x) = x if x > 0 else alpha·(eˣ − 1), as ``torch.nn.functional.elu``.

    The gradient at x = 0 is alpha (the left branch's, as PyTorch), so it is continuous only for alpha = 1.

    Args:
        input: a float tensor of any shape.
        alpha: the value ELU tends to for x → −∞ is −alpha. Default: 1.0.
        inplace: accepted for PyTorch compatibility and ignored. Default: False.

    Shape:
        Input (*), output (*): the same shape.
    """
    check_tensor("elu", input)
    arguments.boolean(inplace, op="elu", arg="inplace")
    return ELU.apply(input, alpha=_number("elu", "alpha", alpha))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """GELU(x) = x·Φ(x), Φ the standard normal CDF, as ``torch.nn.functional.gelu``.

    Args:
        input: a float tensor of any shape.
        approximate: ``'none'`` for the exact Φ(x) = ½(1 + erf(x/√2)), or ``'tanh'`` for
            ½x(1 + tanh(√(2/π)(x + 0.044715x³))). Default: ``'none'``.

    Shape:
        Input (*), output (*): the same shape.
    """
    check_tensor("gelu", input)
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """SiLU(x) = x·σ(x) (also called swish), as ``torch.nn.functional.silu``.

    Args:
        input: a float tensor of any shape.
        inplace: accepted for PyTorch compatibility and ignored. Default: False.

    Shape:
        Input (*), output (*): the same shape.
    """
    check_tensor("silu", input)
    arguments.boolean(inplace, op="silu", arg="inplace")
    return SiLU.apply(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """Hardswish(x) = x·ReLU6(x + 3)/6, as ``torch.nn.functional.hardswish`` (MobileNetV3).

    That is 0 for x <= −3, x for x >= 3 and x(x + 3)/6 between. The gradient is 0 for x <= −3,
    x/3 + ½ for −3 < x < 3 and 1 for x >= 3 (PyTorch's rule at both kinks).

    Args:
        input: a float tensor of any shape.
        inplace: accepted for PyTorch compatibility and ignored. Default: False.

    Shape:
        Input (*), output (*): the same shape.
    """
    check_tensor("hardswish", input)
    arguments.boolean(inplace, op="hardswish", arg="inplace")
    return Hardswish.apply(input)
