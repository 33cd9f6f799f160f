"""Super-resolution end to end: enlarge a photograph with a trained SRCNN or ESPCN, measure it, show it.

As the papers do it: the model enlarges the luminance Y only; the chroma Cb and Cr are enlarged
with Pillow's bicubic filter; the three go back to RGB (BT.601, `cnnlab.data.superres`). A gray
image is its own Y (R = G = B) and stays gray.

- `upscale(model, image)`: uint8 RGB (H, W, 3) or gray (H, W) -> the image s times larger
  (`upscale_y`: the model on one float Y image).
- `shrink(image, scale)`: the small image that training makes of a photograph (each of Y, Cb, Cr
  shrunk with Pillow's bicubic filter), to compare an enlargement with the original.
- `evaluate(model, images)`: PSNR on Y per image for Pillow's bicubic and for the model.
- `comparison(model, image, scale, box)`: crops of the original, bicubic and the model side by side.
- `read_image`, `save_png`: files, through Pillow (PNG written atomically).

The model runs on horizontal bands of the image, each with a margin wider than the model's reach
(its convolutions' half-kernels plus bicubic's two pixels), so any size fits in memory and the
result is that of one pass over the whole image.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from cnnlab import nn
from cnnlab.autograd import Tensor, no_grad
from cnnlab.data.superres import (bicubic_baseline, bicubic_resize, downscale, luminance, modcrop, rgb_to_ycbcr,
                                  ycbcr_to_rgb)
from cnnlab.io import atomic_write_bytes
from cnnlab.messages import MissingExtraError, SettingError
from cnnlab.train.psnr import psnr

__all__ = ["MIN_SIDE", "upscale", "upscale_y", "shrink", "evaluate", "comparison", "read_image", "save_png"]

#: the smallest side of an image to enlarge: below it the convs' zero padding reaches every pixel
#: (SRCNN's first kernel is 9×9 in the enlarged image), so nothing would be super-resolved
MIN_SIDE = 8
_BAND_PIXELS = 1 << 16      # LR pixels per band: SRCNN ×3 needs about 6 kB a pixel, so about 0.4 GB a band


def _pillow(op: str):
    try:
        from PIL import Image
    except ImportError:
        raise MissingExtraError(f"{op}: needs Pillow: pip install 'cnnlab[apps]'") from None
    return Image


def _reach(model) -> int:
    """Input pixels that an output pixel of the model depends on, each way, at most: the convs' half-kernels
    (those in the enlarged image counted as input pixels, an upper bound) and 2 for a bicubic enlargement."""
    reach = 0
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            reach += max(k // 2 * d for k, d in zip(m.kernel_size, m.dilation))
        elif isinstance(m, nn.Upsample):
            reach += 2
    return reach


def _scale_of(op: str, model) -> int:
    s = getattr(model, "scale", None)
    if isinstance(s, bool) or not isinstance(s, int):
        raise TypeError(f"{op}: model must be a super-resolution model with an int scale (SRCNN, ESPCN), "
                        f"got {type(model).__name__}")
    return s


def _check_image(op: str, image) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"{op}: image must be uint8 (H, W) gray or (H, W, 3) RGB, got {a.dtype} {a.shape}")
    if min(a.shape[:2]) < MIN_SIDE:
        raise SettingError(op, f"the {{image}} is {a.shape[0]}×{a.shape[1]} pixels, too small to enlarge: "
                           f"it needs at least {MIN_SIDE}×{MIN_SIDE}", "image")
    return a


def _ycbcr(image) -> np.ndarray:
    """uint8 RGB or gray -> float64 (3, H, W): Y rounded as training's (`luminance`), Cb and Cr not."""
    ycbcr = rgb_to_ycbcr(image).transpose(2, 0, 1).copy()          # (3, H, W)
    ycbcr[0] = luminance(image)
    return ycbcr


def _picture(ycbcr, gray: bool) -> np.ndarray:
    """float (3, H, W) Y, Cb, Cr -> uint8 RGB (H, W, 3), or the gray (H, W) of Y = 16 + 219·g / 255."""
    if gray:
        return np.clip(np.floor((np.asarray(ycbcr[0], np.float64) - 16.0) * (255.0 / 219.0) + 0.5), 0,
                       255).astype(np.uint8)
    return ycbcr_to_rgb(np.stack(list(ycbcr), axis=-1))


def upscale_y(model, y) -> np.ndarray:
    """The model's enlargement of a 2-d float image Y / 255 (h, w) -> float32 (s·h, s·w), band by band."""
    s = _scale_of("upscale", model)
    h, w = y.shape
    reach, rows = _reach(model), max(1, _BAND_PIXELS // w)
    out = np.empty((h * s, w * s), np.float32)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            for top in range(0, h, rows):
                a, b = max(0, top - reach), min(h, top + rows + reach)
                band = model(Tensor(np.ascontiguousarray(y[None, None, a:b], dtype=np.float32))).numpy()[0, 0]
                out[top * s:(top + rows) * s] = band[(top - a) * s:(min(h, top + rows) - a) * s]
    finally:
        model.train(was_training)
    return out


def _enlarge(model, ycbcr) -> np.ndarray:
    """float (3, h, w) -> (3, s·h, s·w): Y by the model, Cb and Cr by Pillow's bicubic."""
    y = upscale_y(model, (ycbcr[0] / 255.0).astype(np.float32)) * 255.0
    return np.concatenate([y[None], bicubic_resize(ycbcr[1:], y.shape)])


def upscale(model, image, scale: int | None = None) -> np.ndarray:
    """Enlarge a uint8 RGB (H, W, 3) or gray (H, W) image ``model.scale`` times: Y by the model, Cb and Cr by
    Pillow's bicubic filter.

    Args:
        model: a super-resolution model with a ``scale`` (SRCNN, ESPCN) trained on Y (one channel).
        image: uint8 (H, W, 3) or (H, W), at least `MIN_SIDE` pixels a side.
        scale: when given, it must be the model's (a check, as ``cnnlab upscale --scale``).

    Returns:
        uint8 (s·H, s·W, 3) or (s·H, s·W).
    """
    s = _scale_of("upscale", model)
    if scale is not None and scale != s:
        raise SettingError("upscale", f"{{scale}} {scale} is not the model's: it was trained to enlarge ×{s}",
                           "scale")
    a = _check_image("upscale", image)
    return _picture(_enlarge(model, _ycbcr(a)), gray=a.ndim == 2)


def shrink(image, scale: int) -> np.ndarray:
    """The small image of a photograph as training makes it: modcropped, then Y (rounded, as `luminance`),
    Cb and Cr each shrunk ``scale`` times with Pillow's bicubic filter, back to uint8 RGB (or gray)."""
    a = modcrop(np.asarray(image), scale)
    return _picture(downscale(_ycbcr(a), scale), gray=a.ndim == 2)


def evaluate(model, dataset) -> list[dict]:
    """PSNR on Y (border = scale, as `cnnlab.train.psnr.psnr`) of every image of ``dataset`` (an `SRImages`,
    or a `Subset` of one) for Pillow's bicubic and for the model: [{'name', 'bicubic', 'model'}] in its order."""
    s = _scale_of("evaluate", model)
    images, indices = getattr(dataset, "dataset", dataset), getattr(dataset, "indices", range(len(dataset)))
    if images.scale != s:
        raise SettingError("evaluate", f"the images are shrunk ×{images.scale}, but the model enlarges ×{s}: "
                           "give {scale} the model's", "scale")
    return [{"name": images.names[i], "bicubic": float(psnr(bicubic_baseline(images.lr[i], s), images.hr[i], s)),
             "model": float(psnr(upscale_y(model, images.lr[i]), images.hr[i], s))} for i in indices]


def comparison(model, image, box, zoom: int = 2, label: str | None = None) -> np.ndarray:
    """A picture: the same crop of the original, of Pillow's bicubic enlargement of its `shrink` and of the
    model's, side by side, each enlarged ``zoom`` times (nearest), the last two captioned with their PSNR on Y
    over the whole image.

    Args:
        model: the super-resolution model (its ``scale`` shrinks the image first).
        image: the original photograph, uint8 RGB or gray.
        box: (top, left, height, width) of the crop in the (modcropped) original.
        zoom: each crop's pixel becomes a zoom × zoom block. Default: 2.
        label: the model's caption. Default: its class name.

    Returns:
        uint8 RGB (H', W', 3).
    """
    Image = _pillow("comparison")
    from PIL import ImageDraw

    s = _scale_of("comparison", model)
    original = modcrop(_check_image("comparison", image), s)
    top, left, h, w = box
    if top < 0 or left < 0 or h < 1 or w < 1 or top + h > original.shape[0] or left + w > original.shape[1]:
        raise ValueError(f"comparison: box {tuple(box)} is not inside the {original.shape[0]}×"
                         f"{original.shape[1]} image")
    hr = _ycbcr(original)
    small = downscale(hr, s)                                            # (3, h, w)
    bicubic = bicubic_resize(small, hr.shape[1:])                       # (3, H, W)
    ours = _enlarge(model, small)
    reference, gray = hr[0] / 255.0, original.ndim == 2
    tiles = []
    for caption, ycbcr in (("original", hr), ("bicubic", bicubic), (label or type(model).__name__, ours)):
        if ycbcr is not hr:
            caption += f" {float(psnr(ycbcr[0] / 255.0, reference, s)):.2f} dB"
        crop = original[top:top + h, left:left + w] if ycbcr is hr else _picture(ycbcr[:, top:top + h, left:left + w],
                                                                                 gray)
        crop = np.repeat(np.repeat(crop, zoom, axis=0), zoom, axis=1)
        tile = np.full((crop.shape[0] + 18, crop.shape[1], 3), 255, np.uint8)
        tile[18:] = crop if crop.ndim == 3 else crop[..., None]
        canvas = Image.fromarray(tile)
        ImageDraw.Draw(canvas).text((2, 3), caption, fill=(0, 0, 0))
        tiles.append(np.asarray(canvas))
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    return np.concatenate([tiles[0], gap, tiles[1], gap, tiles[2]], axis=1)


def read_image(path) -> np.ndarray:
    """An image file as uint8 RGB (H, W, 3), or gray (H, W) when the file is gray (Pillow's modes L, I, 1, ...);
    transparency is dropped.

    Raises:
        FileNotFoundError, IsADirectoryError: no such file, or a folder.
        ValueError: Pillow can't read it.
    """
    Image = _pillow("read_image")
    from PIL import UnidentifiedImageError

    path = Path(os.fspath(path))
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not an image file")
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    try:
        with Image.open(path) as img:
            gray = img.mode in ("1", "L", "LA", "I", "I;16", "F")
            return np.asarray(img.convert("L" if gray else "RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"can't read {path} as an image: {e}") from None


def save_png(image, path) -> None:
    """Write a uint8 RGB or gray image as a PNG file, atomically."""
    Image = _pillow("save_png")
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
