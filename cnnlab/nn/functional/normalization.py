"""Normalization ops: batch norm, group norm, layer norm and local response norm.

Notation: x (N, C, *) the input, m the number of values each statistic is taken
over, μ the mean, σ² the biased variance Σ(x − μ)²/m, x̂ = (x − μ)/√(σ² + ε),
γ (weight) and β (bias) per channel.

One primitive, `BatchNorm`, normalises each channel of an (N, C, *) array with
statistics it is given, and knows whether they came from the batch:

    y = γ·x̂ + β                     gβ = Σ g      gγ = Σ g·x̂        (sums over N and *)
    batch statistics (training):    gx = (1/m)·γ/√(σ²+ε)·(m·g − Σ g − x̂·Σ g·x̂)
    running statistics (eval):      gx = g·γ/√(σ²+ε)                  (μ, σ² are constants)

group_norm and layer_norm are the same primitive on a reshaped view (1, rows, m),
followed by their affine map composed from mul and add; local_response_norm is
composed from mul, cat, slices, add, div and pow.
"""
from __future__ import annotations

import math

import numpy as np

from cnnlab import arguments
from cnnlab.autograd import Function, Tensor, no_grad
from cnnlab.kernels import jit
from cnnlab.runtime import batch_parts, parallel_map
from cnnlab.nn.functional._util import check_tensor
from cnnlab.nn.functional.elementwise import add, mul
from cnnlab.nn.functional.shape import cat, reshape
from cnnlab.messages import counted


class BatchNorm(Function):
    """y = γ·(x − μ)/√(σ² + ε) + β for each channel of x (N, C, *), with μ, σ² (C,) given.

    `batch_stats=True` means μ and σ² are the statistics of this very x (training):
    the backward then includes their dependence on x. With False they are constants
    (evaluation with running statistics). weight and bias may be None.

    Both directions are memory-bound passes over (N, C, L) arrays. Where compiled loops run
    (`kernels.jit`; float32 and float64) they are `kernels.loops.norm`: the forward one pass, the
    backward one pass for both sums and, in the same channel's turn, one for gx. With the statistics
    (`_batch_stats`) a training step measured 0.73× torch's time for forward and backward, where
    this NumPy reference measured 1.8× (64 channels of 32×32, batch 64, float32; CPU time of one
    thread, Intel Xeon with AVX-512). The reference runs its passes on parts of the batch in
    parallel (`runtime.parallel_map`), which measured ~1.7× faster on 2 cores.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, mean=None, var=None, eps=1e-5, batch_stats=True, centered=None):
        # `centered`, if given, is a scratch (N, C, L) array holding x − μ (from computing the statistics);
        # the output is written into it, which saves one pass and one allocation
        N, C = x.shape[:2]
        inv_std = 1 / np.sqrt(var + eps)                                 # (C,)
        ctx.x, ctx.weight, ctx.mean, ctx.inv_std, ctx.batch_stats = x, weight, mean, inv_std, batch_stats
        loops = _compiled(x) if centered is None else None
        if loops is not None:
            x3, y = _channels(x), np.empty(x.shape, dtype=x.dtype)
            shift = np.zeros(C, dtype=x.dtype) if bias is None else bias
            loops.affine(x3, _vector(mean, x), _vector(_gamma(weight, x) * inv_std, x), _vector(shift, x),
                         _channels(y))
            return y
        x3 = x.reshape(N, C, -1)                                         # (N, C, L), L = ∏ spatial
        y = np.empty(x3.shape, dtype=x.dtype) if centered is None else centered
        scale = (inv_std if weight is None else weight * inv_std)[:, None]

        def part(p):
            if centered is None:
                np.subtract(x3[p], mean[:, None], out=y[p])
            y[p] *= scale                                                # γ·x̂, one pass
            if bias is not None:
                y[p] += bias[:, None]

        parallel_map(part, batch_parts(N, x3[0].size))
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        x, weight, inv_std = ctx.x, ctx.weight, ctx.inv_std
        N, C = x.shape[:2]
        need_x, need_w, need_b = ctx.needs_input_grad
        loops = _compiled(x)
        if loops is not None:
            return _compiled_backward(loops, ctx, g, need_x, need_w, need_b)
        g3, x3 = g.reshape(N, C, -1), x.reshape(N, C, -1)                # (N, C, L)
        m = g3.shape[0] * g3.shape[2]
        parts = batch_parts(N, g3[0].size)
        need_d = need_w or (need_x and ctx.batch_stats)

        def sums(p):  # Σ g and Σ g·(x − μ) over this part of the batch, and its x − μ (recomputed, not stored)
            d = x3[p] - ctx.mean[:, None] if need_d else None
            return g3[p].sum(axis=2).sum(axis=0), (channel_dot(g3[p], d) if need_d else None), d

        partial = parallel_map(sums, parts)
        sum_g = sum(s for s, _, _ in partial)                            # (C,)  Σ g
        sum_g_xhat = sum(s for _, s, _ in partial) * inv_std if need_d else None   # (C,)  Σ g·x̂
        gx = None
        if need_x:
            gamma_inv_std = inv_std if weight is None else weight * inv_std   # (C,)
            gx = np.empty(g3.shape, dtype=g.dtype)
            # gx = γ/σ·g − γ/σ·(Σg + x̂·Σ(g·x̂))/m
            a = gamma_inv_std[:, None]
            if ctx.batch_stats:
                b = (gamma_inv_std * inv_std * sum_g_xhat / m)[:, None]
                c = (gamma_inv_std * sum_g / m)[:, None]

            def part(i):
                p, d = parts[i], partial[i][2]
                np.multiply(g3[p], a, out=gx[p])
                if ctx.batch_stats:
                    d *= b
                    gx[p] -= d
                    gx[p] -= c

            parallel_map(part, range(len(parts)))
            gx = gx.reshape(x.shape)
        return gx, (sum_g_xhat if need_w else None), (sum_g if need_b else None)


# ---------------------------------------------------------------- the compiled loops' side
def _compiled(x: np.ndarray):
    """batch norm's compiled loops (`kernels.loops.norm`) for x, or None (the NumPy reference runs)."""
    return jit.load("norm") if x.dtype in (np.float32, np.float64) else None


def _channels(a: np.ndarray) -> np.ndarray:
    """a (N, C, *) as a contiguous (N, C, L), L = ∏* (1 for (N, C)): a view where a is contiguous."""
    return np.ascontiguousarray(a).reshape(a.shape[0], a.shape[1], math.prod(a.shape[2:]))


def _vector(v, like: np.ndarray) -> np.ndarray:
    """A per-channel (C,) array in like's dtype, contiguous (what the loops take)."""
    return np.ascontiguousarray(v, dtype=like.dtype)


def _gamma(weight, x: np.ndarray):
    """γ, or 1 per channel where weight is None."""
    return np.ones(x.shape[1], dtype=x.dtype) if weight is None else weight


def _compiled_backward(loops, ctx, g, need_x, need_w, need_b):
    """`BatchNorm.backward` by the loops: (gx, gγ, gβ) as the reference's."""
    x, inv_std, gamma = ctx.x, _vector(ctx.inv_std, ctx.x), _vector(_gamma(ctx.weight, ctx.x), ctx.x)
    C = x.shape[1]
    x3, g3 = _channels(x), _channels(g.astype(x.dtype, copy=False))
    fused = need_x and ctx.batch_stats            # gx needs the sums: both in one call
    gx = np.empty(x.shape, dtype=x.dtype) if need_x else None
    sum_g = sum_gd = None                         # Σ g and Σ g·(x − μ)
    if fused or need_w or need_b:
        sum_g, sum_gd = np.empty(C, dtype=x.dtype), np.empty(C, dtype=x.dtype)
        loops.backward(x3, g3, _vector(ctx.mean, x), inv_std, gamma, sum_g, sum_gd,
                       _channels(gx) if fused else np.empty((0, 0, 0), dtype=x.dtype))
    if need_x and not fused:                      # running statistics: gx = γ·σ⁻¹·g
        zeros = np.zeros(C, dtype=x.dtype)
        loops.affine(g3, zeros, gamma * inv_std, zeros, _channels(gx))
    return gx, (sum_gd * inv_std if need_w else None), (sum_g if need_b else None)


# ---------------------------------------------------------------- checks and statistics
def _check_input(op, input, min_dims):
    check_tensor(op, input)
    if input.ndim < min_dims:
        raise ValueError(f"{op}: expected an input with at least {min_dims} dims (N, C, *), "
                         f"got shape {input.shape}")


def _check_same_dtype(op, input, **tensors):
    for name, t in tensors.items():
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor or None, got {type(t).__name__}")
        if t.dtype != input.dtype:
            raise TypeError(f"{op}: {name} has dtype {t.dtype}, but input has dtype {input.dtype} "
                            "(they must match; convert the layer with .to(input.dtype))")


def _check_eps(op, eps, positive):
    arguments.number(eps, op=op, arg="eps")
    if eps < 0 or (positive and eps == 0):
        rule = "positive during training" if positive else "non-negative"
        raise ValueError(f"{op}: eps must be {rule}, but got {eps}")


def _batch_stats(x3: np.ndarray):
    """Mean, Σ(x − μ)² and x − μ of each channel of x3 (N, C, L), two-pass, in x3's dtype
    (each pass on parts of the batch in parallel); by the compiled loops where they run, which
    answer None for x − μ (their forward does not need it)."""
    loops = _compiled(x3)
    if loops is not None:          # one call: a channel's two passes, the second from cache; no x − μ kept
        mean, var_sum = np.empty(x3.shape[1], dtype=x3.dtype), np.empty(x3.shape[1], dtype=x3.dtype)
        loops.stats(_channels(x3), mean, var_sum)
        return mean, var_sum, None
    N, m = x3.shape[0], x3.shape[0] * x3.shape[2]
    parts = batch_parts(N, x3[0].size)
    mean = sum(parallel_map(lambda p: x3[p].sum(axis=2).sum(axis=0), parts)) / m   # (C,)
    d = np.empty(x3.shape, dtype=x3.dtype)                               # (N, C, L)

    def centre(p):
        np.subtract(x3[p], mean[:, None], out=d[p])
        return channel_dot(d[p], d[p])

    return mean, sum(parallel_map(centre, parts)), d                     # (C,), (C,), (N, C, L)


def channel_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ over n and l of a[n, c, l]·b[n, c, l], per channel c: one BLAS dot per (n, c) row, no temporary
    (measured 3× faster than (a * b).sum(...), and as accurate)."""
    return np.matmul(a[:, :, None, :], b[:, :, :, None]).sum(axis=0).reshape(a.shape[1])


def _normalize_rows(input: Tensor, rows: int, eps: float) -> Tensor:
    """(x − μ)/√(σ² + ε) over each of `rows` equal slices of the flattened input (same shape out)."""
    x3 = reshape(input, (1, rows, -1))                                   # (1, rows, m)
    mean, var_sum, centered = _batch_stats(x3.data)
    var = var_sum / x3.shape[2]
    return reshape(BatchNorm.apply(x3, None, None, mean=mean, var=var, eps=eps, batch_stats=True,
                                   centered=centered), input.shape)


# ---------------------------------------------------------------- batch norm
def _check_batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps) -> None:
    """Every check of `batch_norm`, before any work (so a bad batch leaves the running statistics as they were)."""
    op = "batch_norm"
    _check_input(op, input, 2)
    _check_same_dtype(op, input, running_mean=running_mean, running_var=running_var, weight=weight, bias=bias)
    arguments.boolean(training, op=op, arg="training")
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.floating, np.integer)):
        raise TypeError(f"{op}: momentum must be a number, got {type(momentum).__name__} "
                        "(the BatchNorm layers turn momentum=None into a cumulative average)")
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (C,):
            raise ValueError(f"{op}: expected {t.data.size} features (channels), got {C} in input of shape "
                             f"{input.shape} ({name} has shape {t.shape})")
    if training:
        values = math.prod(input.shape) // C
        if values == 1:
            raise ValueError(f"{op}: expected more than 1 value per channel when training, got input size "
                             f"{input.shape}")
    _check_eps(op, eps, positive=bool(training))
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: running_mean and running_var must be given together or both be None")
    if not training and running_mean is None:
        raise ValueError(f"{op}: running_mean and running_var must be given when training=False "
                         "(evaluation normalises with the running statistics)")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalization over each channel, as ``torch.nn.functional.batch_norm``.

    y = γ·(x − μ)/√(σ² + ε) + β per channel c, where (training) μ and σ² are the
    mean and the biased variance of channel c over the batch and all positions,
    or (evaluation) the running statistics. In training, the running statistics
    are updated in place when given:

        running_mean ← (1 − momentum)·running_mean + momentum·μ
        running_var  ← (1 − momentum)·running_var  + momentum·σ²·m/(m − 1)   (unbiased)

    Args:
        input: (N, C, *).
        running_mean, running_var: (C,) Tensors, or None (then nothing is tracked;
            evaluation needs them).
        weight, bias: γ and β, (C,) Tensors or None (1 and 0).
        training: use the batch statistics (and update the running ones). Default: False.
        momentum: weight of the new batch in the running statistics (a number; the
            layers turn ``momentum=None`` into 1/num_batches_tracked). Default: 0.1.
        eps: ε added to the variance. Default: 1e-5.

    Shape:
        - Input: (N, C, *); m = N·∏* values per channel.
        - Output: (N, C, *), the same shape.

    Example:
        >>> x = cnnlab.randn(8, 3, 5, 5)
        >>> rm, rv = cnnlab.zeros(3), cnnlab.ones(3)
        >>> F.batch_norm(x, rm, rv, training=True).shape   # rm, rv now moved towards the batch's stats
        (8, 3, 5, 5)
    """
    _check_batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    eps = float(eps)  # a NumPy float64 scalar would promote float32 arrays to float64
    if not training:
        return BatchNorm.apply(input, weight, bias, mean=running_mean.data.copy(), var=running_var.data.copy(),
                               eps=eps, batch_stats=False)
    N, C = input.shape[:2]
    x3 = input.data.reshape(N, C, -1)                                    # (N, C, L)
    m = N * x3.shape[2]
    mean, var_sum, centered = _batch_stats(x3)
    if running_mean is not None:
        mom = np.asarray(momentum, dtype=running_mean.dtype)             # keep float32 arithmetic float32
        with no_grad():
            running_mean.mul_(1 - mom).add_(mom * mean)
            running_var.mul_(1 - mom).add_(mom * (var_sum / (m - 1)))
    return BatchNorm.apply(input, weight, bias, mean=mean, var=var_sum / m, eps=eps, batch_stats=True,
                           centered=centered)


# ---------------------------------------------------------------- group norm and layer norm
def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Group normalization, as ``torch.nn.functional.group_norm``.

    The C channels are split into num_groups groups of C/G consecutive channels;
    each sample's group is normalised with its own mean and biased variance (over
    its C/G channels and all positions), then y = γ_c·x̂ + β_c per channel.
    G = 1 is layer norm over (C, *); G = C is instance norm.

    Args:
        input: (N, C, *) with C divisible by num_groups.
        num_groups: G, the number of groups.
        weight, bias: γ and β, (C,) Tensors or None.
        eps: ε added to the variance. Default: 1e-5.

    Shape:
        - Input: (N, C, *); m = (C/G)·∏* values per group.
        - Output: (N, C, *), the same shape.
    """
    op = "group_norm"
    _check_input(op, input, 2)
    _check_same_dtype(op, input, weight=weight, bias=bias)
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer)) or num_groups < 1:
        raise ValueError(f"{op}: num_groups must be a positive int, got {num_groups!r}")
    N, C, spatial = input.shape[0], input.shape[1], input.shape[2:]
    if C % num_groups:
        raise ValueError(f"{op}: expected number of channels in input to be divisible by num_groups, "
                         f"but got input of shape {input.shape} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (C,):
            raise ValueError(f"{op}: expected {name} to be a vector of size equal to the number of channels in "
                             f"input, but got {name} of shape {t.shape} and input of shape {input.shape}")
    size = [N * C // num_groups, num_groups, *spatial]  # PyTorch's own (odd) check, kept as it is
    if math.prod(size[:1] + size[2:]) == 1:
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got input size {size}")
    _check_eps(op, eps, positive=False)
    if input.data.size == 0:
        return input
    y = _normalize_rows(input, N * num_groups, float(eps))              # (N, C, *)
    affine_shape = (C,) + (1,) * len(spatial)                            # broadcasts over (N, C, *)
    if weight is not None:
        y = mul(y, reshape(weight, affine_shape))
    if bias is not None:
        y = add(y, reshape(bias, affine_shape))
    return y


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Layer normalization over the last dims, as ``torch.nn.functional.layer_norm``.

    Each slice input[i, ...] over the trailing `normalized_shape` dims is normalised
    with its own mean and biased variance, then y = γ·x̂ + β elementwise, where γ
    and β have shape normalized_shape.

    Args:
        input: (*, *normalized_shape).
        normalized_shape: an int or a tuple of ints, the trailing shape of input.
        weight, bias: γ and β of shape normalized_shape, or None.
        eps: ε added to the variance. Default: 1e-5.

    Shape:
        - Input: (*, *normalized_shape); m = ∏ normalized_shape values per slice.
        - Output: the same shape.
    """
    op = "layer_norm"
    _check_input(op, input, 0)
    _check_same_dtype(op, input, weight=weight, bias=bias)
    shape = arguments.normalized_shape(normalized_shape, op=op)
    k = len(shape)
    if input.shape[input.ndim - k:] != shape or input.ndim < k:
        raise ValueError(f"{op}: given normalized_shape={shape}, expected input with shape (*, "
                         f"{', '.join(map(str, shape))}), but got input of size {input.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"{op}: expected {name} to be of same shape as normalized_shape, but got {name} "
                             f"of shape {t.shape} and normalized_shape = {shape}")
    _check_eps(op, eps, positive=False)
    if input.data.size == 0:
        return input
    y = _normalize_rows(input, math.prod(input.shape[:input.ndim - k]), float(eps))
    if weight is not None:
        y = mul(y, weight)
    if bias is not None:
        y = add(y, bias)
    return y


# ---------------------------------------------------------------- local response norm
def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Local response normalization across channels (AlexNet), as ``torch.nn.functional.local_response_norm``.

        b_c = a_c / (k + α/n · Σ_{c'} a_{c'}²)^β

    where the sum runs over the window of n = `size` channels c − ⌊n/2⌋ .. c + ⌊(n−1)/2⌋,
    channels outside [0, C) counting as zeros (PyTorch pads ⌊n/2⌋ in front and
    ⌊(n−1)/2⌋ behind, average-pools with kernel n, stride 1, and multiplies by α).
    Composed from existing ops, so its gradient is right by construction.

    Args:
        input: (N, C, *) with at least one spatial dim (3-d or more).
        size: n, the number of neighbouring channels in the window.
        alpha: α, the multiplicative factor. Default: 1e-4.
        beta: β, the exponent. Default: 0.75.
        k: the additive constant. Default: 1.0.

    Shape:
        - Input: (N, C, *).
        - Output: (N, C, *), the same shape.
    """
    op = "local_response_norm"
    check_tensor(op, input)
    if input.ndim < 3:
        raise ValueError(f"{op}: expected 3D or higher dimensionality input (N, C, *), got {counted(input.ndim, 'dimension')}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"{op}: size must be a positive int, got {size!r}")
    for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
        arguments.number(value, op=op, arg=name)
    alpha, beta, k = float(alpha), float(beta), float(k)  # Python floats: float32 stays float32
    if input.data.size == 0:
        return input
    N, C, rest = input.shape[0], input.shape[1], input.shape[2:]
    front, back = size // 2, (size - 1) // 2
    square = input * input                                               # (N, C, *)
    zeros = [Tensor(np.zeros((N, n) + rest, dtype=input.dtype)) for n in (front, back)]
    padded = cat([t for t in (zeros[0], square, zeros[1]) if t.shape[1]], dim=1)   # (N, C + n − 1, *)
    window_sum = padded[:, 0:C]
    for t in range(1, size):                                             # one slice per window tap
        window_sum = window_sum + padded[:, t:t + C]                     # (N, C, *)
    return input / ((window_sum / size * alpha + k) ** beta)
