"""Classify image files with a trained model: `load_image` and `predict`.

Preprocessing (`load_image`), the same as the model saw in training, nothing more:

1. read the file with Pillow and convert it to grayscale ('L') for a 1-channel model
   (MNIST, Fashion-MNIST) or to RGB for a 3-channel one (CIFAR-10);
2. resize it to the model's input size (28×28 or 32×32) with bilinear filtering,
   ignoring the aspect ratio (crop your image square first if it matters);
3. scale to [0, 1] and normalise with the training set's mean and std.

MNIST's digits are white strokes on a black background, so a dark digit on white
paper must be inverted (``invert=True``). `light_border` tells such an image: ``cnnlab
predict`` inverts it by default for a model trained on light-on-dark images, and says
so (``--invert`` always inverts, ``--no-invert`` never).

Images that arrive as bytes (an upload to ``cnnlab serve``) are read by `decode_image`, which refuses
anything that is not an image and any image of more than `MAX_PIXELS` before decoding it (a
decompression bomb); `convert_pixels` and `resize_pixels` are steps 1 and 2 on such an array, and
`center_digit` is MNIST's own normalisation of a digit (its bounding box scaled into 20×20, its centre
of mass put at the centre), for digits drawn by hand on a larger canvas.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from cnnlab.autograd import Tensor, no_grad
from cnnlab.data import transforms as T
from cnnlab.messages import MissingExtraError
from cnnlab.nn.functional import softmax

__all__ = ["MAX_PIXELS", "MissingExtraError", "center_digit", "convert_pixels", "decode_image", "light_border",
           "load_image", "predict", "preprocess", "read_image", "resize_pixels"]

#: the most pixels (width × height) that `decode_image` decodes: 4096 × 4096
MAX_PIXELS = 4096 * 4096


def _pillow(op):
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise MissingExtraError(f"{op}: reading images needs Pillow: pip install 'cnnlab[train]'") from None
    return Image, UnidentifiedImageError


def _mode(in_channels: int) -> str:
    return "L" if in_channels == 1 else "RGB"


def read_image(path, in_channels: int, size: int | None) -> np.ndarray:
    """Steps 1 and 2 above: one image file -> uint8 (size, size) for 1 channel, (size, size, 3) for 3;
    with size None, the image at its own size (H, W) or (H, W, 3) (what a segmentation model takes).

    Raises:
        FileNotFoundError: there is no such file.
        IsADirectoryError: ``path`` is a directory.
        ValueError: Pillow can't read the file as an image.
        MissingExtraError: Pillow is not installed.
    """
    Image, UnidentifiedImageError = _pillow("predict")
    path = Path(os.fspath(path))
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not an image file (give the image files themselves, "
                                f"e.g. {path}/*.png)")
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    try:
        with Image.open(path) as img:
            img = img.convert(_mode(in_channels))
            if size is not None:
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(img, dtype=np.uint8)  # (size, size) or (size, size, 3)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"can't read {path} as an image: {e}") from None


def decode_image(data: bytes, in_channels: int, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Step 1 above on the bytes of an image file (PNG, JPEG, ... anything Pillow reads), at its own size:
    uint8 (H, W) for 1 channel, (H, W, 3) for 3.

    The image's size is read from its header first: one of more than ``max_pixels`` pixels is refused
    before it is decoded (a small file can hold a huge image: a decompression bomb).

    Raises:
        ValueError: the bytes are not an image Pillow can read, or the image has more than ``max_pixels``.
        MissingExtraError: Pillow is not installed.
    """
    Image, UnidentifiedImageError = _pillow("decode_image")
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"decode_image: data must be bytes, got {type(data).__name__}")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise ValueError(f"decode_image: the image is {width}×{height} pixels, more than the "
                                 f"{max_pixels:,} allowed")
            return np.asarray(img.convert(_mode(in_channels)), dtype=np.uint8)  # (H, W) or (H, W, 3)
    except UnidentifiedImageError:
        raise ValueError("decode_image: the bytes are not an image file that Pillow reads (PNG, JPEG, GIF, BMP, "
                         "...)") from None
    except (OSError, Image.DecompressionBombError) as e:   # a damaged or truncated file
        raise ValueError(f"decode_image: the image can't be decoded ({' '.join(str(e).split())})") from None


def _check_pixels(pixels, op) -> np.ndarray:
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)) \
            or 0 in pixels.shape:
        raise ValueError(f"{op}: pixels must be a uint8 image (H, W) or (H, W, 3), got shape {pixels.shape} and "
                         f"dtype {pixels.dtype}")
    return pixels


def convert_pixels(pixels, in_channels: int) -> np.ndarray:
    """Step 1 above on a uint8 image (H, W) or (H, W, 3): gray ('L') for 1 channel, RGB for 3, as Pillow converts."""
    Image, _ = _pillow("convert_pixels")
    pixels = _check_pixels(pixels, "convert_pixels")
    return np.asarray(Image.fromarray(pixels).convert(_mode(in_channels)), dtype=np.uint8)


def resize_pixels(pixels, size: int) -> np.ndarray:
    """Step 2 above on a uint8 image (H, W) or (H, W, 3): resized to (size, size) bilinearly, as `read_image`."""
    Image, _ = _pillow("resize_pixels")
    pixels = _check_pixels(pixels, "resize_pixels")
    img = Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def center_digit(pixels, size: int = 28, box: int = 20) -> np.ndarray:
    """A light-on-dark digit (uint8 (H, W), any size) placed as MNIST's digits are: the bounding box of its
    non-zero pixels scaled (bilinearly, aspect ratio kept) so that its longer side is ``box``, then put in a
    (size, size) image with its centre of mass at the centre (LeCun et al., the MNIST database's page).

    An image without a non-zero pixel is resized as it is. Use it on a digit drawn on a large canvas (the
    drawing pad of ``cnnlab serve``); MNIST's own images are already so.

    Example:
        >>> digit = np.zeros((200, 100), np.uint8); digit[20:180, 40:60] = 255     # a thick "1" off-centre
        >>> out = center_digit(digit)
        >>> out.shape, int((out > 0).sum(axis=0).nonzero()[0].mean()), int((out > 0).sum(axis=1).nonzero()[0].mean())
        ((28, 28), 13, 13)
    """
    Image, _ = _pillow("center_digit")
    pixels = _check_pixels(pixels, "center_digit")
    if pixels.ndim != 2:
        raise ValueError(f"center_digit: pixels must be one gray digit (H, W), got shape {pixels.shape}")
    if not 1 <= box <= size:
        raise ValueError(f"center_digit: box must be in [1, size={size}], got {box}")
    rows, cols = np.nonzero(pixels)
    if rows.size == 0:
        return resize_pixels(pixels, size)
    crop = pixels[rows.min():rows.max() + 1, cols.min():cols.max() + 1]          # (h, w), the bounding box
    scale = box / max(crop.shape)
    h, w = (max(1, round(n * scale)) for n in crop.shape)
    small = np.asarray(Image.fromarray(crop).resize((w, h), Image.Resampling.BILINEAR), dtype=np.float64)
    mass = small.sum()
    cy, cx = ((small.sum(axis=a) * np.arange(n)).sum() / mass for a, n in ((1, h), (0, w)))
    top = min(max(round((size - 1) / 2 - cy), 0), size - h)
    left = min(max(round((size - 1) / 2 - cx), 0), size - w)
    out = np.zeros((size, size), np.uint8)
    out[top:top + h, left:left + w] = np.rint(small).astype(np.uint8)
    return out


def light_border(pixels: np.ndarray) -> bool:
    """Whether the outermost rows and columns of a uint8 image are mostly light (mean above mid-gray).

    A digit written dark on white paper has a light border; MNIST's digits (light on black) have a black one.
    """
    edge = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])  # (border pixels, *C)
    return bool(edge.mean() > 127.5)


def preprocess(pixels: np.ndarray, mean, std, invert: bool = False) -> np.ndarray:
    """Step 3 above (after inverting, if asked): uint8 (H, W) or (H, W, 3) -> normalised float32 (C, H, W)."""
    if invert:
        pixels = 255 - pixels
    return T.Normalize(mean, std).apply_batch(T.ToTensor().apply_batch(pixels[None]))[0]  # (C, H, W)


def load_image(path, in_channels: int, size: int, mean, std, invert: bool = False) -> np.ndarray:
    """One image file -> float32 (C, size, size), preprocessed as the module docstring says.

    Raises: as `read_image`.
    """
    return preprocess(read_image(path, in_channels, size), mean, std, invert)


def predict(model, images, top_k: int = 3) -> list[list[tuple[int, float]]]:
    """The ``top_k`` most probable classes of each image, as (class index, probability), most probable first.

    Args:
        model: a classifier (put in eval mode here).
        images: float32 (N, C, H, W), preprocessed like the training images (see `load_image`).
        top_k: how many classes per image; at most the number of classes. Default: 3.
    """
    model.eval()
    with no_grad():
        probs = softmax(model(Tensor(np.asarray(images))), dim=1).data  # (N, classes)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= probs.shape[1]:
        raise ValueError(f"predict: top_k must be an int in [1, {probs.shape[1]}] (the number of classes), "
                         f"got {top_k!r}")
    order = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]  # (N, k)
    return [[(int(j), float(p[j])) for j in row] for p, row in zip(probs, order)]
