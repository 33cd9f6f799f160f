"""The measure of super-resolution: PSNR on the luminance, as SRCNN's evaluation code computes it.

    PSNR = 10·log10(255² / MSE),   MSE = mean over the pixels of (Y_out − Y_ref)²

with, as SRCNN's demo_SR.m (``shave(uint8(im * 255), [s, s])``, then ``compute_psnr``):

- Y the luminance (see `cnnlab.data.superres`), the images held as Y / 255 in [0, 1];
- both images rounded to 8 bits first, as MATLAB's uint8() does (half away from zero, saturating
  at 0 and 255), so the MSE is of integers;
- a border of ``s`` pixels (the scale) cut off each side before the mean;
- one PSNR per image; a set's PSNR is the mean of its images' (not the PSNR of the pooled MSE).

`psnr` computes it; the super-resolution task's meter (`cnnlab.train.tasks.PSNRMeter`) adds it up
over batches, beside the PSNR of Pillow's bicubic enlargement of the same images, the baseline.
"""
from __future__ import annotations

import numpy as np

__all__ = ["psnr"]


def _to_8bit(x) -> np.ndarray:
    return np.clip(np.floor(np.asarray(x, dtype=np.float64) * 255.0 + 0.5), 0, 255)


def psnr(output, reference, border: int = 0) -> np.ndarray:
    """PSNR in dB of each image (..., H, W) of ``output`` against ``reference``, both Y / 255 in [0, 1].

    Args:
        output, reference: arrays of the same shape (..., H, W); one PSNR for each leading index.
        border: pixels cut off each side first (the scale, in the papers). Default: 0.

    Returns:
        float64 array of shape (...) (a 0-d array for one image); inf where the 8-bit images are equal.

    Example:
        >>> float(psnr(np.full((4, 4), 100 / 255), np.full((4, 4), 110 / 255)))   # MSE 100
        28.130803608679106
    """
    out, ref = np.asarray(output), np.asarray(reference)
    if out.shape != ref.shape or out.ndim < 2:
        raise ValueError(f"psnr: output and reference must be images (..., H, W) of the same shape, got "
                         f"{out.shape} and {ref.shape}")
    if isinstance(border, bool) or not isinstance(border, (int, np.integer)) or border < 0 \
            or 2 * border >= min(out.shape[-2:]):
        raise ValueError(f"psnr: border must be an int >= 0 that leaves pixels of the {out.shape[-2]}×"
                         f"{out.shape[-1]} images, got {border!r}")
    inner = (..., slice(border, out.shape[-2] - border), slice(border, out.shape[-1] - border))
    mse = np.mean((_to_8bit(out[inner]) - _to_8bit(ref[inner])) ** 2, axis=(-2, -1))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(255.0 ** 2 / mse)
