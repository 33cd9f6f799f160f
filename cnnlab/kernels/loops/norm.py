"""Batch norm's passes as loops: a channel's statistics, the per-channel affine map, and the gradients.

Every array is a contiguous (N, C, L) view (L = the product of the spatial sizes, 1 for (N, C)), and
the per-channel arrays are (C,), all of one dtype. For channel c, with m = N·L values, μ its mean,
σ⁻¹ = 1/√(σ² + ε) and x̂ = (x − μ)·σ⁻¹:

    stats:     μ = Σx/m, then Σ(x − μ)²                                 (two passes: no cancellation
                                                                         as in Σx² − m·μ², see `stats`)
    affine:    y = (x − μ)·a + b                                        (a = γ·σ⁻¹, b = β in the forward)
    backward:  Σg and Σg·(x − μ) in one pass, then in the same channel's turn
               gx = γ·σ⁻¹·(g − (Σg + x̂·Σg·x̂)/m)

`stats` and `backward` give one channel to a thread at a time: its second pass then reads what the
first left in the core's cache (a channel of the benchmark's 64 × 32×32 float32 batch is 256 KiB, its
g and x together 512 KiB; L2 is 2 MiB a core on the Intel Xeon measured). There, one thread, `stats`
took 0.9 ms (NumPy's sum of the batch: 0.8 ms), `affine` 1.2 ms (as long as NumPy's copy of it) and
`backward` 2.7 ms, of which its sums alone 1.2 ms (NumPy's x + g into a third array: 1.8 ms). Fewer channels than threads leave
threads idle in those two. `affine` gives a thread one (sample, channel) plane at a time, which
balances the threads whatever C is. Rows are read as slices, and the sums kept in scalars of the
arrays' dtype (each row's sum a vector of partial sums: the compiler's, under `fastmath`).
"""
import numba

_jit = dict(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})


@numba.njit(inline="always", **_jit)
def _sum(a):
    s = a.dtype.type(0)
    for l in range(a.shape[0]):
        s += a[l]
    return s


@numba.njit(inline="always", **_jit)
def _deviations(a, mu):
    """(Σ (a − mu), Σ (a − mu)²), one pass."""
    s = a.dtype.type(0)
    q = a.dtype.type(0)
    for l in range(a.shape[0]):
        d = a[l] - mu
        s += d
        q += d * d
    return s, q


@numba.njit(inline="always", **_jit)
def _sum_and_dot(g, x, mu):
    """(Σ g, Σ g·(x − mu)), one pass over both rows."""
    s = g.dtype.type(0)
    t = g.dtype.type(0)
    for l in range(g.shape[0]):
        s += g[l]
        t += g[l] * (x[l] - mu)
    return s, t


@numba.njit(parallel=True, **_jit)
def stats(x, mean, var_sum):
    """mean (C,) = the mean of each channel of x (N, C, L); var_sum (C,) = Σ (x − mean)² of each.

    The second pass also sums the deviations from the first pass's mean μ₀, which corrects it (the
    corrected two-pass algorithm: μ = μ₀ + δ, Σ(x − μ)² = Σ(x − μ₀)² − m·δ², δ = Σ(x − μ₀)/m): the
    rounding of a long sum of large values, which μ₀ carries where |μ| ≫ σ, is removed by a sum of
    small ones."""
    N, C, L = x.shape
    dt = x.dtype.type
    m = max(N * L, 1)
    inv_m = dt(1.0 / m)
    for c in numba.prange(C):
        s = dt(0)
        for n in range(N):
            s += _sum(x[n, c])
        mu = s * inv_m
        e = dt(0)
        q = dt(0)
        for n in range(N):
            row_e, row_q = _deviations(x[n, c], mu)
            e += row_e
            q += row_q
        delta = e * inv_m
        mean[c] = mu + delta
        var_sum[c] = max(q - dt(m) * delta * delta, dt(0))


@numba.njit(parallel=True, **_jit)
def affine(x, mean, scale, shift, y):
    """y (N, C, L) = (x − mean[c])·scale[c] + shift[c] for each channel c of x (N, C, L)."""
    N, C, L = x.shape
    for p in numba.prange(N * C):
        n, c = p // C, p % C
        mu, a, b = mean[c], scale[c], shift[c]
        src, dst = x[n, c], y[n, c]
        for l in range(L):
            dst[l] = (src[l] - mu) * a + b


@numba.njit(parallel=True, **_jit)
def backward(x, g, mean, inv_std, gamma, sum_g, sum_gd, gx):
    """sum_g (C,) = Σ g and sum_gd (C,) = Σ g·(x − mean) per channel of g, x (N, C, L); and, unless gx is
    empty, gx (N, C, L) = the input gradient with the batch's own statistics (mean, inv_std):
    γ·σ⁻¹·g − γ·σ⁻³·(x − μ)·Σg·(x − μ)/m − γ·σ⁻¹·Σg/m."""
    N, C, L = g.shape
    dt = g.dtype.type
    inv_m = dt(1.0 / max(N * L, 1))
    want_gx = gx.shape[0] > 0
    for c in numba.prange(C):
        mu = mean[c]
        s = dt(0)
        t = dt(0)
        for n in range(N):
            row_s, row_t = _sum_and_dot(g[n, c], x[n, c], mu)
            s += row_s
            t += row_t
        sum_g[c] = s
        sum_gd[c] = t
        if want_gx:
            a = gamma[c] * inv_std[c]
            b = a * inv_std[c] * inv_std[c] * t * inv_m
            k = a * s * inv_m
            for n in range(N):
                gr, xr, dst = g[n, c], x[n, c], gx[n, c]
                for l in range(L):
                    dst[l] = a * gr[l] - b * (xr[l] - mu) - k
