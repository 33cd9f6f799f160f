"""Deformable convolution (DCNv1 and, with a mask, DCNv2), as ``torchvision.ops.deform_conv2d``.

The definition, for output channel o of weight group g, at output position (i, j):

    S[b, o, i, j] = bias[o] + Σ_c Σ_(m,n)  K[o, c, m, n] · M[b, q, t, i, j] · I~[b, g·C_g + c, y, x]
    y = i·s_h − p_h + m·d_h + Δy[b, q, t, i, j]
    x = j·s_w − p_w + n·d_w + Δx[b, q, t, i, j]

t = m·kW + n is the kernel tap, q the offset group of the input channel
(channels are split into offset_groups contiguous blocks), M the mask (1 when
absent) and I~ the input read at the fractional point (y, x) by bilinear
interpolation, where a neighbour outside [0, H) × [0, W) counts as zero. With
Δ = 0 and M = 1 this is exactly conv2d (the zero padding is the zero neighbours).

Notation: N batch, C input channels, O output channels, G weight groups,
Q offset groups, T = kH·kW taps, L = oH·oW output positions.

The offset tensor (N, 2·Q·T, oH, oW) holds a (Δy, Δx) pair per tap, tap-major:
channel 2·(q·T + t) is Δy of tap t of offset group q and the next one its Δx,
i.e. it reshapes to (N, Q, T, 2, oH, oW). This is torchvision's layout
(``deformable_im2col_kernel``: ``offset_idx = 2 * (i * weight_w + j)``) and
ONNX's ``DeformConv`` layout (reshaped to (N, offset_group, kH, kW, 2, oH, oW)).
The mask (N, Q·T, oH, oW) reshapes to (N, Q, T, oH, oW).

How it is computed (as Chainer's deformable_convolution_2d): one primitive,
`BilinearSample`, reads the input at the sampling points into columns
(N, C, T, L) — the deformable im2col; its backward scatters the gradient back
to the four neighbours (input gradient) and differentiates the interpolation
weights (gradient of the points, hence of the offsets). The mask multiply and
the grouped GEMM with the weights are ordinary `mul`/`reshape`/`matmul`, so
their gradients (mask, weight, bias) come from those ops.
"""
from __future__ import annotations

import numpy as np

from cnnlab import arguments, shapes
from cnnlab.autograd import Function, Tensor
from cnnlab.nn.functional.linear import matmul
from cnnlab.messages import counted

__all__ = ["deform_conv2d"]

OP = "deform_conv2d"


# ---------------------------------------------------------------- the primitive
def _corners(points, H, W):
    """The four bilinear neighbours of every sampling point, torchvision's rule.

    points (N, Q, T, 2, L) holds (y, x). For each corner (dy, dx) in {0, 1}² of
    the cell whose top-left corner is (⌊y⌋, ⌊x⌋), yields
    (flat index y·W + x (0 where invalid), valid (bool), wy, wx, dy, dx), all (N, Q, T, L),
    with wy = 1 − (y − ⌊y⌋) for dy = 0 and y − ⌊y⌋ for dy = 1 (likewise wx). A corner
    outside [0, H) × [0, W) is invalid and contributes zero; so a point with y ≤ −1,
    y ≥ H, x ≤ −1 or x ≥ W reads 0, as torchvision's ``bilinear_interpolate``.
    """
    y, x = points[:, :, :, 0], points[:, :, :, 1]                       # (N, Q, T, L) each
    y0, x0 = np.floor(y), np.floor(x)
    ly, lx = y - y0, x - x0                                             # fractional parts
    # clip before the int cast (far-away points must not overflow); any clipped cell is fully outside
    y0 = np.clip(y0, -2, H).astype(np.intp)
    x0 = np.clip(x0, -2, W).astype(np.intp)
    for dy in (0, 1):
        for dx in (0, 1):
            yi, xi = y0 + dy, x0 + dx
            valid = (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
            index = np.where(valid, yi * W + xi, 0)
            yield index, valid, (ly if dy else 1 - ly), (lx if dx else 1 - lx), dy, dx


def _gather(x, index, valid):
    """x (N, Q, C_q, H·W) read at index (N, Q, T, L) -> (N, Q, C_q, T·L), zero where not valid."""
    N, Q, T, L = index.shape
    v = np.take_along_axis(x, index.reshape(N, Q, 1, T * L), axis=3)  # (N, Q, C_q, T·L)
    return v * valid.reshape(N, Q, 1, T * L)


class BilinearSample(Function):
    """Read x (N, C, H, W) at fractional points -> columns (N, C, T, L) (the deformable im2col).

    points (N, Q, T, 2, L): the (y, x) point of tap t at output position l for
    offset group q; input channel c uses group q = c // (C/Q). Gradients: for x,
    each column value goes back to its four neighbours with the interpolation
    weights; for the points, ∂v/∂y = Σ_corners ±wx·I[corner] (+ for the lower row),
    ∂v/∂x = Σ_corners ±wy·I[corner], both from ⌊y⌋, ⌊x⌋ — so at integer
    coordinates it is the derivative from above, as torchvision's
    ``get_coordinate_weight``.
    """

    @staticmethod
    def forward(ctx, x, points):
        N, C, H, W = x.shape
        _, Q, T, _, L = points.shape
        xq = x.reshape(N, Q, C // Q, H * W)                             # (N, Q, C_q, H·W)
        cols = np.zeros((N, Q, C // Q, T * L), dtype=x.dtype)
        for index, valid, wy, wx, _, _ in _corners(points, H, W):
            cols += _gather(xq, index, valid) * (wy * wx).reshape(N, Q, 1, T * L)
        ctx.save = (xq, points, x.shape)
        return cols.reshape(N, C, T, L)                                 # (N, C, T, L)

    @staticmethod
    def backward(ctx, g):
        xq, points, x_shape = ctx.save
        N, C, H, W = x_shape
        _, Q, T, _, L = points.shape
        Cq = C // Q
        gq = g.reshape(N, Q, Cq, T * L)                                 # (N, Q, C_q, T·L)
        gx = gp = None
        if ctx.needs_input_grad[0]:
            gx = np.zeros(N * C * H * W, dtype=g.dtype)
            # flat index of (n, q, c, 0, 0) in x, plus the corner's y·W + x
            base = (np.arange(N * Q * Cq) * (H * W)).reshape(N, Q, Cq, 1)  # (N, Q, C_q, 1)
        if ctx.needs_input_grad[1]:
            gp = np.zeros(points.shape, dtype=g.dtype)                  # (N, Q, T, 2, L)
        for index, valid, wy, wx, dy, dx in _corners(points, H, W):
            if gx is not None:
                w = (wy * wx * valid).reshape(N, Q, 1, T * L)
                np.add.at(gx, (base + index.reshape(N, Q, 1, T * L)).ravel(), (gq * w).ravel())
            if gp is not None:
                gv = np.einsum("nqcl,nqcl->nql", gq, _gather(xq, index, valid)).reshape(N, Q, T, L)
                sy, sx = (1 if dy else -1), (1 if dx else -1)           # ∂wy/∂y, ∂wx/∂x
                gp[:, :, :, 0] += sy * gv * wx
                gp[:, :, :, 1] += sx * gv * wy
        return (None if gx is None else gx.reshape(x_shape)), gp


def _sampling_grid(kernel, stride, padding, dilation, out, dtype):
    """The undeformed points (T, 2, L): y = i·s_h − p_h + m·d_h, x = j·s_w − p_w + n·d_w."""
    (kH, kW), (sH, sW), (pH, pW), (dH, dW), (oH, oW) = kernel, stride, padding, dilation, out
    m, n = np.arange(kH).reshape(kH, 1, 1, 1), np.arange(kW).reshape(1, kW, 1, 1)
    i, j = np.arange(oH).reshape(1, 1, oH, 1), np.arange(oW).reshape(1, 1, 1, oW)
    y = np.broadcast_to(i * sH - pH + m * dH, (kH, kW, oH, oW))
    x = np.broadcast_to(j * sW - pW + n * dW, (kH, kW, oH, oW))
    return np.stack([y, x], axis=2).reshape(kH * kW, 2, oH * oW).astype(dtype)  # (T, 2, L)


# ---------------------------------------------------------------- argument checks
def _check(input, offset, weight, bias, mask, stride, padding, dilation):
    """Validate everything; return (stride, padding, dilation, groups, offset_groups, (oH, oW))."""
    named = (("input", input), ("offset", offset), ("weight", weight), ("bias", bias), ("mask", mask))
    for name, t in named:
        if t is None and name in ("bias", "mask"):
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{OP}: {name} must be a Tensor, got {type(t).__name__}")
        if t.dtype.kind != "f":
            raise TypeError(f"{OP}: {name} must be a floating point tensor, got dtype {t.dtype}")
    given = [(name, t) for name, t in named if t is not None]
    if len({t.dtype for _, t in given}) > 1:
        raise TypeError(f"{OP}: all tensors must have the same dtype, got "
                        + ", ".join(f"{name} {t.dtype}" for name, t in given))
    for name, t, rank, layout in (("input", input, 4, "(N, C_in, H, W)"),
                                  ("offset", offset, 4, "(N, 2·offset_groups·kH·kW, oH, oW)"),
                                  ("weight", weight, 4, "(C_out, C_in/groups, kH, kW)"),
                                  ("mask", mask, 4, "(N, offset_groups·kH·kW, oH, oW)"),
                                  ("bias", bias, 1, "(C_out,)")):
        if t is not None and t.ndim != rank:
            raise ValueError(f"{OP}: {name} must be {rank}-d {layout}, got shape {t.shape}")
    stride = arguments.positive_ints(stride, 2, op=OP, arg="stride")
    padding = arguments.nonnegative_ints(padding, 2, op=OP, arg="padding")
    dilation = arguments.positive_ints(dilation, 2, op=OP, arg="dilation")

    N, C, H, W = input.shape
    O, Cg, kH, kW = weight.shape
    if Cg == 0 or C % Cg:
        raise ValueError(f"{OP}: input has {counted(C, 'channel')}, which is not a multiple of weight.shape[1]={Cg} "
                         f"(in_channels/groups; weight shape {weight.shape})")
    groups = C // Cg
    if O % groups:
        raise ValueError(f"{OP}: out_channels={O} (weight.shape[0]) must be divisible by groups={groups} "
                         f"(= input channels {C} / weight.shape[1] {Cg})")
    if bias is not None and bias.shape != (O,):
        raise ValueError(f"{OP}: bias must have shape ({O},) (out_channels), got {bias.shape}")
    out = tuple(shapes.conv_output_size(n, k, s, p, d, op=OP)
                for n, k, s, p, d in zip((H, W), (kH, kW), stride, padding, dilation))
    T = kH * kW
    if offset.shape[1] == 0 or offset.shape[1] % (2 * T):
        raise ValueError(f"{OP}: offset has {counted(offset.shape[1], 'channel')}, but it must be 2·offset_groups·kH·kW "
                         f"= a multiple of {2 * T} (kH={kH}, kW={kW}, offset_groups ≥ 1)")
    offset_groups = offset.shape[1] // (2 * T)
    if offset.shape[0] != N:
        raise ValueError(f"{OP}: offset has batch size {offset.shape[0]}, but input has {N}")
    if offset.shape[2:] != out:
        raise ValueError(f"{OP}: offset has spatial size {offset.shape[2:]}, but it must equal the output size "
                         f"{out} (input {(H, W)}, kernel {(kH, kW)}, stride {stride}, padding {padding}, "
                         f"dilation {dilation})")
    if C % offset_groups:
        raise ValueError(f"{OP}: input has {counted(C, 'channel')}, which is not divisible by offset_groups={offset_groups} "
                         f"(from offset's {counted(offset.shape[1], 'channel')} = 2·offset_groups·{kH}·{kW})")
    if mask is not None and mask.shape != (N, offset_groups * T) + out:
        raise ValueError(f"{OP}: mask must have shape {(N, offset_groups * T) + out} "
                         f"(N, offset_groups·kH·kW, oH, oW), got {mask.shape}")
    return stride, padding, dilation, groups, offset_groups, out


# ---------------------------------------------------------------- the op
def deform_conv2d(input, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None) -> Tensor:
    """Deformable convolution, as ``torchvision.ops.deform_conv2d`` (DCNv2 when a mask is given).

    Each kernel tap reads the input not at its grid point but shifted by a learned
    offset, at a fractional position read by bilinear interpolation (neighbours
    outside the image count as zero); with a mask, each read value is also scaled:

        S[b, o, i, j] = bias[o] + Σ_c Σ_(m,n) K[o, c, m, n] · mask · I[c](y, x)
        y = i·s_h − p_h + m·d_h + Δy,   x = j·s_w − p_w + n·d_w + Δx

    Args:
        input: (N, C_in, H, W).
        offset: (N, 2·offset_groups·kH·kW, oH, oW), a (Δy, Δx) pair per kernel tap, tap-major:
            channel 2·(q·kH·kW + t) is Δy of tap t = m·kW + n of offset group q, the next one its Δx
            (torchvision's and ONNX DeformConv's layout). offset_groups = offset.shape[1] / (2·kH·kW);
            the input channels are split into offset_groups contiguous blocks, each with its own offsets.
        weight: (C_out, C_in/groups, kH, kW); groups = C_in / weight.shape[1].
        bias: (C_out,) or None. Default: None.
        stride, padding, dilation: an int or an (h, w) pair. Defaults: 1, 0, 1.
        mask: (N, offset_groups·kH·kW, oH, oW) or None (DCNv1). Default: None.

    Shape:
        output (N, C_out, oH, oW), per axis o = ⌊(n + 2p − d·(k − 1) − 1)/s⌋ + 1, as conv2d.

    Example:
        >>> x, w = cnnlab.randn(1, 3, 8, 8), cnnlab.randn(4, 3, 3, 3)
        >>> offset = cnnlab.zeros(1, 2 * 3 * 3, 8, 8)          # zero offsets: a plain conv2d
        >>> deform_conv2d(x, offset, w, padding=1).shape
        (1, 4, 8, 8)
    """
    stride, padding, dilation, G, Q, out = _check(input, offset, weight, bias, mask, stride, padding, dilation)
    N, C, _, _ = input.shape
    O, Cg, kH, kW = weight.shape
    T, L = kH * kW, out[0] * out[1]
    grid = Tensor(_sampling_grid((kH, kW), stride, padding, dilation, out, input.dtype))  # (T, 2, L)
    points = offset.reshape(N, Q, T, 2, L) + grid                       # (N, Q, T, 2, L) as (y, x)
    cols = BilinearSample.apply(input, points)                          # (N, C, T, L)
    if mask is not None:
        cols = cols.reshape(N, Q, C // Q, T, L) * mask.reshape(N, Q, 1, T, L)  # (N, Q, C_q, T, L)
    cols = cols.reshape(N, G, Cg * T, L)                                # (N, G, C_g·T, L)
    y = matmul(weight.reshape(G, O // G, Cg * T), cols)                 # (N, G, O_g, L)
    y = y.reshape(N, O, out[0], out[1])                                 # (N, O, oH, oW)
    return y if bias is None else y + bias.reshape(1, O, 1, 1)
