"""Max pooling (the maxima and their flat plane indices, in one pass), its gradient's scatter, and ReLU,
as loops.

Pooling reads flat (sample, channel) planes, (P, n₀·n₁·n₂), with three spatial axes: 1-d and 2-d
pooling give leading axes of size 1 (kernel 1, stride 1, padding 0, dilation 1 there). Output (i, j, l)
reads the
input at (i·s₀ − p₀ + t₀·d₀, j·s₁ − p₁ + t₁·d₁, l·s₂ − p₂ + t₂·d₂) for the taps t, in row-major
tap order, and keeps PyTorch's CPU rule exactly: the maximum starts at −∞ and the index at the window's
first element inside the input, and a tap replaces both where `v > max or v is NaN`. So ties keep the
first tap, the last NaN wins, and the padding (never read: only taps inside the input are visited)
acts as −∞. No fastmath: it would let the compiler assume there are no NaNs.

The innermost loop (`_take_max`) runs along the last output axis for one tap, over the outputs l
whose input falls inside the row, and keeps an output row's maxima and indices in local rows (`best`,
`arg`). Its input is contiguous: for a stride s₂ > 1 the plane's rows are first split by phase
(`_split_phases`: element r + m·s₂ of a row to phase r, place m), as a strided input measured 4-5×
slower. It reads its arrays at unsigned offsets from their start, not through slices: numba checks a
signed index for wraparound (which keeps the compiler from vectorising, see `depthwise`), and the
slices of every tap and row cost their reference counts. Those slices and the integer divisions of
the tap ranges (now in `_last_axis_taps`, once a call) were most of a row's time: (64, 64, 32, 32)
k2 s2 measured 10.3 ms a forward with them, 6.0 ms without (1 thread; torch 22 ms). One (sample, channel) plane is a unit of work for the threads, for the gradient too,
so its scatter-add (repeated indices add up, in output order, as np.add.at) has no races.

On channels-last memory (the conv kernels' outputs, through ReLU) `max_forward_last` and
`scatter_add_last` keep that layout, a sample a unit of work, the channels innermost: the planes' loops
would need a transposing copy each way: (64, 64, 32, 32) float32, the VGG-style net's, measured 5.6 ms
to NCHW on an AMD EPYC (2 cores), where the whole VGG-style step lost 55 ms to them and ReLU's copy.

ReLU runs over chunks of the flattened array (RELU_CHUNK elements a unit of work).
"""
import numba
import numpy as np

_jit = dict(cache=True, nogil=True)
_u = np.uint64      # offsets into arrays: unsigned, so that numba does not check them for wraparound


@numba.njit(inline="always", **_jit)
def _take_max(best, arg, at, src, first, count, start, step):
    """For m < count, where src[first + m] > best[at + m] or is NaN: best[at + m] = that value and
    arg[at + m] = start + m·step (all offsets unsigned: see the module docstring)."""
    for m in range(count):
        v, b = src[first + m], best[at + m]
        take = (v > b) | (v != v)                   # selects, no branch (random data would mispredict)
        best[at + m] = v if take else b
        arg[at + m] = start + m * step if take else arg[at + m]


@numba.njit(inline="always", **_jit)
def _first_inside(i, s, p, d):
    """The first input position at or past 0 of the window starting at i·s − p (where PyTorch's index
    starts, also for a window with no input element)."""
    st = i * s - p
    return st if st >= 0 else st + (-st + d - 1) // d * d


@numba.njit(inline="always", **_jit)
def _split_phases(src, rows, n2, s2, w, de):
    """de[(row·s₂ + r)·w + m] = src[row·n₂ + r + m·s₂] for the rows of a flat plane: its rows split by
    phase, so that the inputs of one tap for a row of outputs are contiguous."""
    for r in range(_u(min(s2, n2))):
        count = (_u(n2) - r + _u(s2) - _u(1)) // _u(s2)
        for row in range(_u(rows)):
            a, b = row * _u(n2) + r, (row * _u(s2) + r) * _u(w)
            for m in range(count):
                de[b + m] = src[a + m * _u(s2)]


@numba.njit(**_jit)
def _last_axis_taps(n2, k2, s2, p2, d2, o2, w):
    """(k₂, 4) int64, for each tap t₂ of the last axis: the first output l it reads inside the row, how
    many it reads, and the offsets of the first one's input in a row of phases (`_split_phases`) and
    in the input row. All integer divisions are here, once a call, none in the loops of a row (see the
    module docstring)."""
    taps = np.zeros((k2, 4), dtype=np.int64)
    for t2 in range(k2):
        off = t2 * d2 - p2                              # output l reads l·s₂ + off
        lo = 0 if off >= 0 else (-off + s2 - 1) // s2
        hi = min(o2, (n2 - 1 - off) // s2 + 1) if n2 - 1 - off >= 0 else 0
        if lo < hi:
            u = off // s2                               # off = r + s₂·u, 0 ≤ r < s₂
            taps[t2, 0], taps[t2, 1] = lo, hi - lo
            taps[t2, 2], taps[t2, 3] = (off - u * s2) * w + lo + u, lo * s2 + off
    return taps


@numba.njit(parallel=True, **_jit)
def max_forward(x, n0, n1, n2, k0, k1, k2, s0, s1, s2, p0, p1, p2, d0, d1, d2, o0, o1, o2, y, index):
    """y (P, o₀·o₁·o₂) = the window maxima of the P flat planes x (P, n₀·n₁·n₂); index (int64, same shape)
    = the flat plane index of the tap that gave each."""
    P = x.shape[0]
    w = (n2 + s2 - 1) // s2
    first2 = np.empty(o2, dtype=np.int64)
    for l in range(o2):
        first2[l] = _first_inside(l, s2, p2, d2)
    taps = _last_axis_taps(n2, k2, s2, p2, d2, o2, w)
    neg_inf = y.dtype.type(-np.inf)
    for p in numba.prange(P):
        best = np.empty(o2, dtype=y.dtype)
        arg = np.empty(o2, dtype=np.int64)
        src, out, at = x[p], y[p], index[p]
        if s2 == 1:
            de = src                                    # (its rows are their only phase)
        else:
            de = np.empty(n0 * n1 * s2 * w, dtype=x.dtype)
            _split_phases(src, n0 * n1, n2, s2, w, de)
        for i in range(o0):
            for j in range(o1):
                start = (_first_inside(i, s0, p0, d0) * n1 + _first_inside(j, s1, p1, d1)) * n2
                for l in range(o2):
                    best[l], arg[l] = neg_inf, start + first2[l]
                for t0 in range(k0):
                    r0 = i * s0 - p0 + t0 * d0
                    if r0 < 0 or r0 >= n0:
                        continue
                    for t1 in range(k1):
                        r1 = j * s1 - p1 + t1 * d1
                        if r1 < 0 or r1 >= n1:
                            continue
                        row = r0 * n1 + r1
                        for t2 in range(k2):
                            if taps[t2, 1]:
                                _take_max(best, arg, _u(taps[t2, 0]), de, _u(row * s2 * w + taps[t2, 2]),
                                          _u(taps[t2, 1]), _u(row * n2 + taps[t2, 3]), _u(s2))
                o = (i * o1 + j) * o2
                for l in range(o2):
                    out[o + l], at[o + l] = best[l], arg[l]


@numba.njit(parallel=True, **_jit)
def scatter_add(g, index, gx):
    """gx (P, M) = zeros, then gx[p, index[p, j]] += g[p, j] for every output j of each plane p (P, O)."""
    P, O = g.shape
    for p in numba.prange(P):
        plane = gx[p]
        plane[:] = 0
        src, at = g[p], index[p]
        for j in range(O):
            plane[at[j]] += src[j]


@numba.njit(parallel=True, **_jit)
def max_forward_last(x, n0, n1, n2, k0, k1, k2, s0, s1, s2, p0, p1, p2, d0, d1, d2, o0, o1, o2, C, y, index):
    """As `max_forward`, on channels-last memory: x (N, n₀·n₁·n₂·C) -> y (N, o₀·o₁·o₂·C) and index (int64,
    y's shape), each position's C channels consecutive. The rule per (sample, channel) plane is
    max_forward's; the innermost loop runs along the channels (contiguous, vectorised), and a sample is a
    unit of work."""
    N = x.shape[0]
    uC = _u(C)
    neg_inf = y.dtype.type(-np.inf)
    for n in numba.prange(N):
        src, out, at = x[n], y[n], index[n]
        for i in range(o0):
            for j in range(o1):
                row_start = (_first_inside(i, s0, p0, d0) * n1 + _first_inside(j, s1, p1, d1)) * n2
                for l in range(o2):
                    o = _u((i * o1 + j) * o2 + l) * uC
                    start = row_start + _first_inside(l, s2, p2, d2)
                    for c in range(uC):
                        out[o + c], at[o + c] = neg_inf, start
                    for t0 in range(k0):
                        r0 = i * s0 - p0 + t0 * d0
                        if r0 < 0 or r0 >= n0:
                            continue
                        for t1 in range(k1):
                            r1 = j * s1 - p1 + t1 * d1
                            if r1 < 0 or r1 >= n1:
                                continue
                            for t2 in range(k2):
                                r2 = l * s2 - p2 + t2 * d2
                                if r2 < 0 or r2 >= n2:
                                    continue
                                pos = (r0 * n1 + r1) * n2 + r2
                                first = _u(pos) * uC
                                # `_take_max`'s rule, written out: calling it (index pos + c·0) measured 2.5-3× slower
                                for c in range(uC):
                                    v, b = src[first + c], out[o + c]
                                    take = (v > b) | (v != v)
                                    out[o + c] = v if take else b
                                    at[o + c] = pos if take else at[o + c]


@numba.njit(parallel=True, **_jit)
def scatter_add_last(g, index, gx, C):
    """As `scatter_add`, on channels-last memory: gx (N, M·C) = zeros, then gx[n, index[n, j]·C + c] +=
    g[n, j] for the outputs j = o·C + c of each sample n (g, index: (N, O·C)), in output order per
    (sample, channel), as np.add.at; a sample is a unit of work."""
    N, OC = g.shape
    uC = _u(C)
    for n in numba.prange(N):
        plane = gx[n]
        plane[:] = 0
        src, at = g[n], index[n]
        for o in range(_u(OC) // uC):
            for c in range(uC):
                j = o * uC + c
                plane[_u(at[j]) * uC + c] += src[j]


@numba.njit(parallel=True, **_jit)
def relu_forward(x, y, chunk):
    """y = max(x, 0) over flat arrays (NaN stays NaN, as torch.relu), `chunk` elements per unit of work."""
    zero = x.dtype.type(0)
    for c in numba.prange((x.shape[0] + chunk - 1) // chunk):
        a = x[c * chunk:(c + 1) * chunk]
        b = y[c * chunk:(c + 1) * chunk]
        for m in range(a.shape[0]):
            v = a[m]
            b[m] = zero if v <= zero else v             # (NaN <= 0 is false: NaN stays; one select)


@numba.njit(parallel=True, **_jit)
def relu_backward(x, g, gx, chunk):
    """gx = g where x > 0, else exactly 0 (also where g is inf or NaN), over flat arrays (x the input, or
    the output relu(x), which is > 0 at the same places)."""
    zero = g.dtype.type(0)
    for c in numba.prange((x.shape[0] + chunk - 1) // chunk):
        a = x[c * chunk:(c + 1) * chunk]
        b = g[c * chunk:(c + 1) * chunk]
        out = gx[c * chunk:(c + 1) * chunk]
        for m in range(a.shape[0]):
            out[m] = b[m] if a[m] > 0 else zero
