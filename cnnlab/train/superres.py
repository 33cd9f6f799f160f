"""The measure of super-resolution: PSNR on the luminance, as SRCNN's evaluation code computes it.

    PSNR = 10·log10(255² / MSE),   MSE = mean over the pixels of (Y_out − Y_ref)²

with, as SRCNN's demo_SR.m (``shave(uint8(im * 255), [s, s])``, then ``compute_psnr``):

- Y the luminance (see `cnnlab.data.superres`), the images held as Y / 255 in [0, 1];
- both images rounded to 8 bits first, as MATLAB's uint8() does (half away from zero, saturating
  at 0 and 255), so the MSE is of integers;
- a border of ``s`` pixels (the scale) cut off each side before the mean;
- one PSNR per image; a set's PSNR is the mean of its images' (not the PSNR of the pooled MSE).

`psnr` computes it; `PSNRMeter` adds it up over batches, beside the PSNR of Pillow's bicubic
enlargement of the same images, the baseline.
"""
from __future__ import annotations

import numpy as np

from cnnlab.data.superres import bicubic_baseline, downscale

__all__ = ["psnr", "PSNRMeter"]


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


class PSNRMeter:
    """The mean PSNR of a model's images, and of Pillow's bicubic enlargement of the same images.

    The baseline is computed from the reference alone: its shrinking by s (`downscale`, as the data
    made the model's input) enlarged again by s (`bicubic_baseline`), so the two PSNRs are of the
    same images with the same border.

    Args:
        scale: s, also the border cut off.

    Methods follow `cnnlab.train.tasks.Meter`: ``update(output, target)`` with (N, 1, H, W) arrays,
    ``totals()`` = [Σ PSNR, Σ bicubic PSNR, images] (additive over batches and processes) and
    ``result(totals=None)`` = {'psnr': ..., 'psnr_bicubic': ...}.
    """

    def __init__(self, scale: int):
        self.scale = int(scale)
        self._totals = np.zeros(3, np.float64)

    def update(self, output, target) -> None:
        out, ref = np.asarray(output), np.asarray(target)
        if out.ndim != 4 or out.shape[1] != 1 or out.shape != ref.shape:
            raise ValueError(f"PSNRMeter.update: output and target must be (N, 1, H, W) of the same shape, got "
                             f"{out.shape} and {ref.shape}")
        ref = ref[:, 0]
        bicubic = bicubic_baseline(downscale(ref, self.scale), self.scale)     # (N, H, W)
        self._totals += [psnr(out[:, 0], ref, self.scale).sum(), psnr(bicubic, ref, self.scale).sum(), len(ref)]

    def totals(self) -> np.ndarray:
        return self._totals.copy()

    def result(self, totals=None) -> dict[str, float]:
        t = self._totals if totals is None else np.asarray(totals, dtype=np.float64)
        if t[2] == 0:
            return {"psnr": float("nan"), "psnr_bicubic": float("nan")}
        return {"psnr": float(t[0] / t[2]), "psnr_bicubic": float(t[1] / t[2])}
