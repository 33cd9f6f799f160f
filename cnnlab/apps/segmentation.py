"""Semantic segmentation end to end: a class for every pixel of an image, and the mask drawn over it.

    segment    the image at its own size, padded on the right and bottom with background (0) up to the
               model's size multiple (its downsampling: 8 for the default U-Net, 16 for FCN), normalised
               with the training set's mean and std; the class of each pixel is the argmax of the model's
               scores, cropped back to the image
    colorize   each class its colour (`PALETTE`: black for the background, a colour per digit)
    overlay    the colours blended over the image (alpha), the background left as the image is
    save_mask  a PNG of the overlay, enlarged to at least 256 pixels a side, beside a legend of the classes
"""
from __future__ import annotations

import io

import numpy as np

from cnnlab.autograd import Tensor, no_grad
from cnnlab.data import transforms as T
from cnnlab.messages import MissingExtraError

__all__ = ["PALETTE", "segment", "colorize", "overlay", "save_mask"]

#: RGB per class of MNISTSegmentation: background, then digits 0-9 (matplotlib's tab10, gold for 7)
PALETTE = np.array([(0, 0, 0), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                    (140, 86, 75), (227, 119, 194), (255, 215, 0), (188, 189, 34), (23, 190, 207)], np.uint8)


def segment(model, image: np.ndarray, mean, std) -> np.ndarray:
    """int64 (H, W): the class of each pixel of a uint8 (H, W) image (see the module docstring).

    Args:
        model: a segmentation model, (N, C, h, w) -> (N, classes, h, w) (put in eval mode here); its
            ``size_multiple`` attribute, when it has one, is what h and w must be multiples of.
        image: uint8 (H, W) gray levels, as the model was trained on (MNIST: light digits on black).
        mean, std: the training set's normalisation, one value per channel.

    Raises:
        ValueError: the image is not a 2-d uint8 array, or smaller than ``size_multiple`` on a side.
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"segment: image must be uint8 (H, W) gray levels, got {image.dtype} {image.shape}")
    m = int(getattr(model, "size_multiple", 1))
    h, w = image.shape
    if h < m or w < m:
        raise ValueError(f"segment: the image is {w}×{h} pixels, smaller than the {m}×{m} that the model takes "
                         f"(its downsampling); give a larger image")
    padded = np.pad(image, ((0, -h % m), (0, -w % m)))                               # (H', W'), multiples of m
    x = T.Normalize(mean, std).apply_batch(T.ToTensor().apply_batch(padded[None]))    # (1, 1, H', W')
    model.eval()
    with no_grad():
        scores = model(Tensor(x)).data                                                # (1, classes, H', W')
    return scores[0].argmax(axis=0)[:h, :w].astype(np.int64)


def colorize(labels: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3): `PALETTE`'s colour of each label of an (H, W) array of classes 0-10."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu" or (labels.size and (labels.min() < 0 or labels.max() >= len(PALETTE))):
        raise ValueError(f"colorize: labels must be class indices in [0, {len(PALETTE)}), got {labels.dtype} "
                         f"values" + (f" in [{labels.min()}, {labels.max()}]" if labels.size else ""))
    return PALETTE[labels]


def overlay(image: np.ndarray, labels: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """uint8 (H, W, 3): the gray image with each non-background pixel's colour blended in,
    (1 − alpha)·image + alpha·colour; background pixels keep the image's gray."""
    image, labels = np.asarray(image), np.asarray(labels)
    if image.shape != labels.shape or image.ndim != 2:
        raise ValueError(f"overlay: image and labels must both be (H, W), got {image.shape} and {labels.shape}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"overlay: alpha must be in [0, 1], got {alpha}")
    gray = np.repeat(image[..., None].astype(np.float32), 3, axis=2)                 # (H, W, 3)
    blended = (1 - alpha) * gray + alpha * colorize(labels).astype(np.float32)
    return np.where(labels[..., None] > 0, blended, gray).round().astype(np.uint8)


def save_mask(path, image: np.ndarray, labels: np.ndarray, classes, alpha: float = 0.6, min_side: int = 256):
    """Write a PNG (atomically): `overlay` enlarged (nearest) to at least ``min_side`` pixels a side, and to
    its right a legend, a colour swatch and the name of each of ``classes`` (the background first).

    Raises:
        MissingExtraError: Pillow is not installed.
    """
    from cnnlab.io import atomic_write_bytes

    try:
        from PIL import Image, ImageDraw
    except ImportError:
        raise MissingExtraError("segmentation: drawing the mask needs Pillow: pip install 'cnnlab[viz]'") from None
    picture = overlay(image, labels, alpha)
    scale = max(1, -(-min_side // min(picture.shape[:2])))
    picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)                   # (sH, sW, 3)
    row = 16
    height = max(picture.shape[0], row * len(classes) + 8)
    canvas = Image.new("RGB", (picture.shape[1] + 120, height), (255, 255, 255))
    canvas.paste(Image.fromarray(picture), (0, 0))
    draw = ImageDraw.Draw(canvas)
    for i, name in enumerate(classes):
        x, y = picture.shape[1] + 8, 4 + i * row
        draw.rectangle([x, y, x + 11, y + 11], fill=tuple(int(v) for v in PALETTE[i]), outline=(0, 0, 0))
        draw.text((x + 16, y), str(name), fill=(0, 0, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
