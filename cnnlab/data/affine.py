"""`RandomAffine` and the vectorised warp under it, as torchvision's tensor ``affine``."""
from __future__ import annotations

import numbers

import numpy as np

from cnnlab.data._image import (
    Transform, all_numbers, check_batch, check_fill, current_generator, fill_array, from_nhwc, is_float,
    spatial_axes, to_nhwc,
)

__all__ = ["RandomAffine", "affine", "inverse_affine_matrix"]


def _range(value, name: str, arg: str, lengths=(2,)) -> list:
    """A number d -> [-d, d] (d >= 0), or a sequence of ``lengths`` numbers -> list of floats."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{name}: if {arg} is a single number, it must be non-negative, got {value}")
        return [-float(value), float(value)]
    if not (isinstance(value, (tuple, list)) and len(value) in lengths and all_numbers(list(value))):
        raise ValueError(f"{name}: {arg} must be a number or a sequence of {' or '.join(map(str, lengths))} "
                         f"numbers, got {value!r}")
    return [float(v) for v in value]


class RandomAffine(Transform):
    """Random rotation, translation, scale and shear about the image centre, as ``torchvision RandomAffine``.

    Each output pixel is inverse-mapped into the input and sampled there
    (nearest or bilinear); pixels that map outside get ``fill``. The
    parameters are drawn as torchvision draws them: angle ~ U(degrees),
    tx = round(U(-a W, a W)), ty = round(U(-b H, b H)) for translate=(a, b),
    scale ~ U(scale), shear_x ~ U(shear[0:2]), shear_y ~ U(shear[2:4]).
    Positive angles turn the image clockwise (torchvision's ``affine``; its ``rotate``
    is the other way). The sampling grid is
    torchvision's tensor grid (pixel centres about ((W-1)/2, (H-1)/2), the
    ``grid_sample`` rule with ``align_corners=False``), and bilinear output is
    torchvision's ``sample * mask + (1 - mask) * fill``, with mask the sampled
    in-image weight; integer images are rounded back (half to even).

    Args:
        degrees: range (min, max) of the angle in degrees, or d for (-d, d).
        translate: (a, b) maximal horizontal and vertical shift as fractions
            of the width and height, each in [0, 1]. Default: None.
        scale: (min, max) of the scale factor, both > 0. Default: None (1).
        shear: d for an x-shear in (-d, d) degrees, (min, max), or
            (xmin, xmax, ymin, ymax). Default: None.
        interpolation: ``'nearest'`` or ``'bilinear'``. Default: ``'nearest'``.
        fill: value of pixels from outside the image, a number or one per channel. Default: 0.
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation: str = "nearest", fill=0):
        name = "RandomAffine"
        self.degrees = _range(degrees, name, "degrees")
        if translate is not None:
            if not (isinstance(translate, (tuple, list)) and len(translate) == 2 and all_numbers(list(translate))):
                raise ValueError(f"{name}: translate should be a sequence of length 2, got {translate!r}")
            if not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"{name}: translation values should be between 0 and 1, got {translate!r}")
        if scale is not None:
            if not (isinstance(scale, (tuple, list)) and len(scale) == 2 and all_numbers(list(scale))):
                raise ValueError(f"{name}: scale should be a sequence of length 2, got {scale!r}")
            if not all(s > 0 for s in scale):
                raise ValueError(f"{name}: scale values should be positive, got {scale!r}")
        self.shear = None if shear is None else _range(shear, name, "shear", lengths=(2, 4))
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"{name}: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.translate, self.scale, self.interpolation = translate, scale, interpolation
        self.fill = check_fill(fill, name)

    def get_params(self, rng, n: int, height: int, width: int) -> dict:
        """Draw n sets of parameters: arrays angle, tx, ty, scale, shear_x, shear_y (degrees, pixels)."""
        p = {"angle": rng.uniform(self.degrees[0], self.degrees[1], size=n)}
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * width, self.translate[1] * height
            p["tx"] = np.round(rng.uniform(-max_dx, max_dx, size=n))
            p["ty"] = np.round(rng.uniform(-max_dy, max_dy, size=n))
        else:
            p["tx"] = p["ty"] = np.zeros(n)
        p["scale"] = rng.uniform(self.scale[0], self.scale[1], size=n) if self.scale is not None else np.ones(n)
        zeros = np.zeros(n)
        p["shear_x"] = rng.uniform(self.shear[0], self.shear[1], size=n) if self.shear is not None else zeros
        p["shear_y"] = (rng.uniform(self.shear[2], self.shear[3], size=n)
                        if self.shear is not None and len(self.shear) == 4 else zeros)
        return p

    def apply_batch(self, images):
        images = check_batch(images, "RandomAffine")
        hax, wax = spatial_axes(images)
        p = self.get_params(current_generator(), len(images), images.shape[hax], images.shape[wax])
        return affine(images, inverse_affine_matrix(**p), self.interpolation, self.fill)

    def extra_repr(self) -> str:
        s = f"degrees={self.degrees}"
        for arg in ("translate", "scale", "shear"):
            if getattr(self, arg) is not None:
                s += f", {arg}={getattr(self, arg)}"
        if self.interpolation != "nearest":
            s += f", interpolation={self.interpolation}"
        return s + (f", fill={self.fill}" if self.fill != 0 else "")


def inverse_affine_matrix(angle, tx, ty, scale, shear_x, shear_y) -> np.ndarray:
    """(N, 2, 3) float64 maps from output to input pixel offsets about the image centre (torchvision's).

    The forward map is T(tx, ty) * R(angle) * S(scale) * ShearY * ShearX about the
    centre; its inverse sends an output offset (x, y, 1) to the input offset.
    """
    rot, sx, sy = np.radians(angle), np.radians(shear_x), np.radians(shear_y)
    a = np.cos(rot - sy) / np.cos(sy)
    b = -(a * np.tan(sx) + np.sin(rot))
    c = np.sin(rot - sy) / np.cos(sy)
    d = np.cos(rot) - c * np.tan(sx)
    m0, m1, m3, m4 = d / scale, -b / scale, -c / scale, a / scale
    m2, m5 = -(m0 * tx + m1 * ty), -(m3 * tx + m4 * ty)
    return np.stack([np.stack([m0, m1, m2], -1), np.stack([m3, m4, m5], -1)], 1)  # (N, 2, 3)


def affine(images: np.ndarray, matrices: np.ndarray, interpolation: str = "nearest", fill=0) -> np.ndarray:
    """Warp each image of a batch by its own inverse matrix (N, 2, 3), vectorised over the batch.

    Output pixel (i, j) has centre offset x = j - (W-1)/2, y = i - (H-1)/2; it reads the
    input at offset M @ (x, y, 1), sampled nearest (round half to even) or bilinear.
    """
    images = check_batch(images, "affine")
    if interpolation not in ("nearest", "bilinear"):
        raise ValueError(f"affine: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    if np.shape(matrices) != (len(images), 2, 3):
        raise ValueError(f"affine: matrices must be (N, 2, 3) with N = {len(images)} images, "
                         f"got shape {np.shape(matrices)}")
    dt = images.dtype if is_float(images) else np.dtype(np.float32)
    v = to_nhwc(images)  # (N, H, W, C)
    n, h, w, _ = v.shape
    values = fill_array(fill, images, "RandomAffine").astype(dt)  # (C,) or (1,)
    # torchvision's grid: offsets -> normalised coords -> grid_sample's pixel coords (align_corners=False)
    r = (np.asarray(matrices).astype(dt) / np.array([w / 2, h / 2], dt)[:, None])  # (N, 2, 3)
    x = (np.arange(w, dtype=dt) - dt.type((w - 1) / 2))[None, None, :]  # (1, 1, W)
    y = (np.arange(h, dtype=dt) - dt.type((h - 1) / 2))[None, :, None]  # (1, H, 1)
    gx = x * r[:, 0, 0, None, None] + y * r[:, 0, 1, None, None] + r[:, 0, 2, None, None]  # (N, H, W)
    gy = x * r[:, 1, 0, None, None] + y * r[:, 1, 1, None, None] + r[:, 1, 2, None, None]
    ix = ((gx + 1) * w - 1) / 2
    iy = ((gy + 1) * h - 1) / 2
    batch = np.arange(n)[:, None, None]  # (N, 1, 1)
    if interpolation == "nearest":
        jx, jy = np.rint(ix).astype(np.intp), np.rint(iy).astype(np.intp)
        inside = (jx >= 0) & (jx < w) & (jy >= 0) & (jy < h)  # (N, H, W)
        sample = v[batch, np.clip(jy, 0, h - 1), np.clip(jx, 0, w - 1)]  # (N, H, W, C)
        out = np.where(inside[..., None], sample, values.astype(images.dtype))
        return from_nhwc(out, images)
    x0, y0 = np.floor(ix), np.floor(iy)
    fx, fy = ix - x0, iy - y0
    x0, y0 = x0.astype(np.intp), y0.astype(np.intp)
    sample = np.zeros(v.shape, dt)  # (N, H, W, C)
    mask = np.zeros((n, h, w), dt)
    for dy, dx, wgt in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        cx, cy = x0 + dx, y0 + dy
        wgt = wgt * ((cx >= 0) & (cx < w) & (cy >= 0) & (cy < h))  # zero weight outside the image
        sample += wgt[..., None] * v[batch, np.clip(cy, 0, h - 1), np.clip(cx, 0, w - 1)]
        mask += wgt
    out = sample * mask[..., None] + (1 - mask[..., None]) * values
    if not is_float(images):
        info = np.iinfo(images.dtype)
        out = np.clip(np.rint(out), info.min, info.max).astype(images.dtype)
    return from_nhwc(out, images)
