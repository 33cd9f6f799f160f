"""A depthwise conv (groups = in_channels = out_channels), its input and weight gradients, as loops.

Every array has three spatial axes, (N, C, n₀, n₁, n₂): a 1-d or 2-d conv is viewed with leading axes
of size 1 (kernel 1, stride 1, dilation 1 there). For channel c, output position (i, j, l) and tap t:

    y[n, c, i, j, l] = b[c] + Σ_t x_pad[n, c, i·s₀ + t₀·d₀, j·s₁ + t₁·d₁, l·s₂ + t₂·d₂] · w[c, t₀, t₁, t₂]

The innermost loops (`_add_scaled`, `_dot`) run along the last output axis over the part of an input
row that one tap reads for a row of outputs, as a slice: indexing the row with a computed offset
instead keeps the compiler from vectorising the loop, as it must allow for a negative index (measured
2.4× slower), and so does a slice whose step is not known to be 1.
One (sample, channel) plane is a unit of work for the threads, or one channel for the weight
gradient, which sums over the batch. Output rows are summed in a row of their own (`acc`), which
the compiler can keep apart from the inputs.
"""
import numba
import numpy as np

_jit = dict(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})


@numba.njit(inline="always", **_jit)
def _add_scaled(acc, seg, v):
    """acc += seg · v, elementwise."""
    for l in range(acc.shape[0]):
        acc[l] += seg[l] * v


@numba.njit(inline="always", **_jit)
def _dot(a, b):
    s = a.dtype.type(0)
    for l in range(a.shape[0]):
        s += a[l] * b[l]
    return s


@numba.njit(parallel=True, **_jit)
def forward(x, w, b, s0, s1, s2, d0, d1, d2, y):
    """y (N, C, o₀, o₁, o₂) = the depthwise conv of x (N, C, n₀, n₁, n₂) with w (C, k₀, k₁, k₂), plus b (C,)."""
    N, C, o0, o1, o2 = y.shape
    k0, k1, k2 = w.shape[1], w.shape[2], w.shape[3]
    for p in numba.prange(N * C):
        n, c = p // C, p % C
        acc = np.empty(o2, dtype=y.dtype)
        for i in range(o0):
            for j in range(o1):
                acc[:] = b[c]
                for t0 in range(k0):
                    for t1 in range(k1):
                        src = x[n, c, i * s0 + t0 * d0, j * s1 + t1 * d1]
                        for t2 in range(k2):
                            a = t2 * d2
                            if s2 == 1:
                                _add_scaled(acc, src[a:a + o2], w[c, t0, t1, t2])
                            else:
                                _add_scaled(acc, src[a:a + s2 * (o2 - 1) + 1:s2], w[c, t0, t1, t2])
                y[n, c, i, j] = acc


@numba.njit(parallel=True, **_jit)
def input_grad(g, w, s0, s1, s2, d0, d1, d2, gx):
    """gx (N, C, n₀, n₁, n₂), zeros on entry, += the adjoint of `forward` applied to g (N, C, o₀, o₁, o₂)."""
    N, C, o0, o1, o2 = g.shape
    k0, k1, k2 = w.shape[1], w.shape[2], w.shape[3]
    for p in numba.prange(N * C):
        n, c = p // C, p % C
        for i in range(o0):
            for j in range(o1):
                row = g[n, c, i, j]
                for t0 in range(k0):
                    for t1 in range(k1):
                        dst = gx[n, c, i * s0 + t0 * d0, j * s1 + t1 * d1]
                        for t2 in range(k2):
                            a = t2 * d2
                            if s2 == 1:
                                _add_scaled(dst[a:a + o2], row, w[c, t0, t1, t2])
                            else:
                                _add_scaled(dst[a:a + s2 * (o2 - 1) + 1:s2], row, w[c, t0, t1, t2])


@numba.njit(parallel=True, **_jit)
def weight_grad(x, g, s0, s1, s2, d0, d1, d2, gw, gb):
    """gw (C, k₀, k₁, k₂) = Σ over batch and positions of g ⊗ the windows of x; gb (C,) = Σ g (gb may be
    empty: then it is not computed)."""
    N, C, o0, o1, o2 = g.shape
    k0, k1, k2 = gw.shape[1], gw.shape[2], gw.shape[3]
    bias = gb.shape[0] > 0
    for c in numba.prange(C):
        acc = np.zeros((k0, k1, k2), dtype=gw.dtype)
        total = gw.dtype.type(0)
        for n in range(N):
            for i in range(o0):
                for j in range(o1):
                    row = g[n, c, i, j]
                    if bias:
                        for l in range(o2):
                            total += row[l]
                    for t0 in range(k0):
                        for t1 in range(k1):
                            src = x[n, c, i * s0 + t0 * d0, j * s1 + t1 * d1]
                            for t2 in range(k2):
                                a = t2 * d2
                                if s2 == 1:
                                    acc[t0, t1, t2] += _dot(row, src[a:a + o2])
                                else:
                                    acc[t0, t1, t2] += _dot(row, src[a:a + s2 * (o2 - 1) + 1:s2])
        gw[c] = acc
        if bias:
            gb[c] = total


@numba.njit(parallel=True, **_jit)
def pad(x, a0, a1, a2, out):
    """out (N, C, n₀ + ..., n₁ + ..., n₂ + ...) = x (N, C, n₀, n₁, n₂) with zeros around it, x starting at
    (a₀, a₁, a₂): the zero padding of the input, a plane per thread at a time."""
    N, C, n0, n1, n2 = x.shape
    for p in numba.prange(N * C):
        n, c = p // C, p % C
        plane = out[n, c]
        plane[:] = 0
        for i in range(n0):
            for j in range(n1):
                plane[a0 + i, a1 + j, a2:a2 + n2] = x[n, c, i, j]
