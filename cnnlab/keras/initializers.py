"""Keras' weight initializers, by name: ``get('glorot_uniform')(shape, dtype) -> ndarray``.

Keras computes the fans from its own weight layout, where the last two axes are
(inputs, outputs) and the axes before them the kernel's spatial size:

    fan_in  = Πk · shape[-2]      fan_out = Πk · shape[-1]      (a (in, units) Dense kernel: Πk = 1)

so a Conv2D kernel (kh, kw, C_in/groups, filters) has fan_in = kh·kw·C_in/groups and
fan_out = kh·kw·filters; a Conv2DTranspose kernel (kh, kw, filters, C_in) has them the
other way round, exactly as in Keras. Then, with n = fan_in, fan_out or (fan_in + fan_out)/2
(the mode) and scale as below ("variance scaling"):

    uniform            U(-limit, limit), limit = √(3·scale/n)
    truncated_normal   N(0, σ²) cut at ±2σ, σ = √(scale/n) / 0.87962566103423978
                       (the constant is the std of a standard normal cut at ±2, so that the
                       samples have std √(scale/n))

    name              scale  mode      distribution
    glorot_uniform    1      fan_avg   uniform            (Keras' default kernel initializer)
    glorot_normal     1      fan_avg   truncated_normal
    he_uniform        2      fan_in    uniform
    he_normal         2      fan_in    truncated_normal
    lecun_uniform     1      fan_in    uniform
    lecun_normal      1      fan_in    truncated_normal
    zeros, ones       constants                           (zeros: Keras' default bias initializer)

Random draws come from ``cnnlab.backend.generator()`` (seeded by ``cnnlab.manual_seed``),
so the numbers are cnnlab's, not TensorFlow's; the distributions are Keras'.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import backend
from cnnlab.autograd import Tensor
from cnnlab.nn import init

__all__ = ["compute_fans", "variance_scaling", "get", "VARIANCE_SCALING", "CONSTANTS"]

#: The variance-scaling initializers: name -> (scale, mode, distribution), as Keras 3 defines them.
VARIANCE_SCALING = {
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
}
#: The constant initializers: name -> value.
CONSTANTS = {"zeros": 0.0, "ones": 1.0}

#: std of N(0, 1) truncated to [-2, 2]: Keras divides by it so that the truncated samples keep the target std.
_TRUNCATED_STD = 0.87962566103423978

# Keras also accepts the class names: "GlorotUniform", "HeNormal", "Zeros", ...
_CLASS_NAMES = {"".join(part.capitalize() for part in name.split("_")): name
                for name in (*VARIANCE_SCALING, *CONSTANTS)}


def compute_fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight in Keras' layout, as ``keras.initializers.compute_fans``.

    Shapes of rank 0 give (1, 1), rank 1 (n, n), rank 2 (shape[0], shape[1]), and a kernel
    (*k, in, out) gives (Πk·in, Πk·out).

    Example:
        >>> compute_fans((3, 3, 16, 32))      # a Conv2D kernel, HWIO
        (144, 288)
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def variance_scaling(shape, dtype, scale=1.0, mode="fan_in", distribution="truncated_normal",
                     generator=None) -> np.ndarray:
    """Samples of Keras' ``VarianceScaling`` initializer (see the module docstring) as an array of `dtype`.

    Args:
        shape: the weight's shape, in Keras' layout.
        dtype: a floating dtype.
        scale: the variance scale (2 for He, 1 for Glorot and LeCun).
        mode: 'fan_in', 'fan_out' or 'fan_avg'.
        distribution: 'uniform', 'truncated_normal' or 'untruncated_normal'.
        generator: a ``numpy.random.Generator``; default cnnlab's.
    """
    fan_in, fan_out = compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    scale = scale / max(1.0, n)
    gen = generator or backend.generator()
    if distribution == "uniform":
        limit = math.sqrt(3.0 * scale)
        return gen.uniform(-limit, limit, size=shape).astype(dtype)
    if distribution == "truncated_normal":
        std = math.sqrt(scale) / _TRUNCATED_STD
        t = Tensor(np.empty(shape, dtype=dtype))
        return init.trunc_normal_(t, 0.0, std, -2.0 * std, 2.0 * std, generator=gen).data
    return gen.normal(0.0, math.sqrt(scale), size=shape).astype(dtype)


def _named(name):
    if name in CONSTANTS:
        value = CONSTANTS[name]
        return lambda shape, dtype=None: np.full(shape, value, dtype=dtype or backend.get_default_dtype())
    scale, mode, distribution = VARIANCE_SCALING[name]
    return lambda shape, dtype=None: variance_scaling(shape, dtype or backend.get_default_dtype(),
                                                      scale, mode, distribution)


def get(identifier, *, op="initializers.get"):
    """An initializer ``fn(shape, dtype=None) -> ndarray`` from a name or a callable, as ``keras.initializers.get``.

    Args:
        identifier: a name from the module docstring ('glorot_uniform', or the class name
            'GlorotUniform'), or a callable ``fn(shape, dtype=None)`` returning an array or
            Tensor of that shape (returned as it is).
        op: the name used in error messages (the layer).

    Raises:
        ValueError: an unknown name or a value that is neither a name nor callable.

    Example:
        >>> get("he_uniform")((3, 3, 1, 8), np.float32).shape
        (3, 3, 1, 8)
    """
    if isinstance(identifier, str):
        name = _CLASS_NAMES.get(identifier, identifier)
        if name in VARIANCE_SCALING or name in CONSTANTS:
            return _named(name)
    elif callable(identifier):
        return identifier
    known = ", ".join(sorted((*VARIANCE_SCALING, *CONSTANTS)))
    raise ValueError(f"{op}: Could not interpret initializer identifier: {identifier!r} "
                     f"(known names: {known}, or a callable fn(shape, dtype))")
